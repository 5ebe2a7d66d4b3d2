#!/bin/sh
# Code size per crate of a footprint-size binary built with symbols kept
# (CARGO_PROFILE_FOOTPRINT_STRIP=false): sums the sizes of its text symbols (nm -S -C) by the
# crate their name starts with (for `<T as Trait>::f`, the crate of T). Approximate: with fat
# LTO and opt-level "z" much code is inlined into its callers, and is counted there; `main`
# holds what was inlined into it. Usage: sh crates.sh BINARY
nm -S -C -t d --defined-only "$1" | awk '
$3 ~ /^[tTwW]$/ {
    size = $2 + 0
    name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
    n = name
    sub(/^<+/, "", n); sub(/^&(mut )?/, "", n); sub(/^(dyn |\[)/, "", n)
    split(n, part, "::")
    c = part[1]
    # `<u64 as core::...>`, `<T as alloc::...>`: a primitive or generic type; take the trait.
    if (c ~ / as /) sub(/.* as /, "", c)
    if (name == "main") c = "main (inlined code)"
    else if (c ~ /^(core|alloc|str|char|u8|\[u8\]|compiler_builtins)/ || c ~ /^(u|i)(8|16|32|64|128|size)$/) c = "core+alloc"
    else if (c ~ /^(ciborium|ciborium_ll|ciborium_io|half)/) c = "ciborium"
    else if (c ~ /^serde/) c = "serde"
    else if (c ~ /^(p256|primeorder|elliptic_curve|ecdsa|crypto_bigint|ff|group|sec1|der)/) c = "p256 + elliptic-curve + primeorder + ecdsa"
    else if (c ~ /^(curve25519_dalek|ed25519_dalek|ed25519)/) c = "ed25519-dalek + curve25519-dalek"
    else if (c ~ /^(sha2|digest|block_buffer)/) c = "sha2"
    else if (c == "proverka_command_footprint_size" || c ~ /^(_start|__rustc|_Unwind_Resume|rust_eh_personality)$/) c = "the program itself"
    else if (c !~ /^(proverka_command|coset)$/) c = "other: " c
    total[c] += size; all += size
}
END {
    for (c in total) printf "%8d  %s\n", total[c], c
    printf "%8d  all text symbols\n", all
}' | sort -rn
