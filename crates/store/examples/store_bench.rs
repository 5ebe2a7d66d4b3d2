//! Measures the store: appends N entries in blocks of 1,000 (each block one fsynced
//! transaction), reopens, then times inclusion proofs, printing rates and the process RSS.
//!
//! Run: `cargo run --release -p proverka-store --example store_bench [entries] [proofs]`
//! (defaults 1,000,000 entries, 200,000 proofs). Set `BENCH_DIR` to choose the disk.

use proverka_log::{leaf_entry, leaf_hash, verify_inclusion};
use proverka_store::{BlockAppend, Store};
use std::time::Instant;

const BLOCK: usize = 1_000;
const STATEMENT_BYTES: usize = 256;

fn rss_mib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn statement(i: u64) -> Vec<u8> {
    let mut s = format!("bench statement {i} ").into_bytes();
    s.resize(STATEMENT_BYTES, b'.');
    s
}

/// xorshift64*: a deterministic index sequence without a rand dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let entries: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let proofs: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base)?;

    let store = Store::open(dir.path())?;
    let started = Instant::now();
    let mut height = 0u64;
    let mut i = 0u64;
    while i < entries {
        let stmts: Vec<Vec<u8>> = (i..(i + BLOCK as u64).min(entries))
            .map(statement)
            .collect();
        let refs: Vec<&[u8]> = stmts.iter().map(Vec::as_slice).collect();
        height += 1;
        store.append_block(BlockAppend {
            height,
            digest: leaf_entry(&height.to_be_bytes()),
            statements: &refs,
            state_writes: &[],
            state_root: [0; 32],
            checkpoint: None,
        })?;
        i += stmts.len() as u64;
    }
    let append_s = started.elapsed().as_secs_f64();
    println!(
        "append: {entries} entries in {height} blocks of {BLOCK} ({STATEMENT_BYTES}-byte statements): \
         {append_s:.1} s, {:.0} entries/s, {:.1} blocks/s (fsync per block)",
        entries as f64 / append_s,
        height as f64 / append_s
    );
    println!("RSS after append: {}", rss_mib());
    drop(store);

    let started = Instant::now();
    let store = Store::open(dir.path())?;
    println!(
        "reopen (load {} stored hashes and {entries} ids, check root): {:.2} s; RSS {}",
        2 * entries,
        started.elapsed().as_secs_f64(),
        rss_mib()
    );
    let file = std::fs::metadata(dir.path().join(proverka_store::FILE_NAME))?.len();
    println!("file size: {:.0} MiB", file as f64 / (1 << 20) as f64);

    let size = store.tree_size();
    let root = store.root();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let started = Instant::now();
    let mut total_len = 0usize;
    for _ in 0..proofs {
        let index = next(&mut seed) % size;
        total_len += store.inclusion_proof(index, size)?.len();
    }
    let one = started.elapsed().as_secs_f64();
    println!(
        "inclusion proofs, 1 thread: {proofs} in {one:.2} s = {:.0} proofs/s (avg {:.1} hashes)",
        proofs as f64 / one,
        total_len as f64 / proofs as f64
    );

    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let store = &store;
            s.spawn(move || {
                let mut seed = 0x1234_5678 + t as u64;
                for _ in 0..proofs / threads as u64 {
                    let index = next(&mut seed) % size;
                    let _ = store.inclusion_proof(index, size);
                }
            });
        }
    });
    let many = started.elapsed().as_secs_f64();
    println!(
        "inclusion proofs, {threads} threads: {proofs} in {many:.2} s = {:.0} proofs/s",
        proofs as f64 / many
    );

    // Entry id look-ups (every submission, receipt and proof request makes one), ids
    // computed beforehand so that only the look-up is timed.
    let ids: Vec<_> = (0..proofs)
        .map(|_| leaf_entry(&statement(next(&mut seed) % size)))
        .collect();
    let started = Instant::now();
    let mut found = 0u64;
    for id in &ids {
        found += u64::from(store.index_of(id)?.is_some());
    }
    let look = started.elapsed().as_secs_f64();
    println!(
        "index_of, 1 thread: {proofs} random logged ids in {look:.2} s = {:.0} look-ups/s \
         (found {found}); id map ~{:.1} MiB",
        proofs as f64 / look,
        store.id_index_bytes() as f64 / (1 << 20) as f64
    );

    // Spot-check correctness of what was timed.
    for k in 0..100 {
        let index = (k * 9_973) % size;
        let path = store.inclusion_proof(index, size)?;
        let leaf = leaf_hash(&leaf_entry(&statement(index)));
        verify_inclusion(&leaf, index, size, &path, &root)?;
    }
    println!("RSS at end: {}", rss_mib());
    Ok(())
}
