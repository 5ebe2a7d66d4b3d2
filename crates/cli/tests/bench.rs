//! The benchmark commands run end to end on a small load: every figure of BENCHMARKS.md is
//! printed by one `proverka bench` run, `proverka bench-net` finalizes on a 4-validator
//! network, and a load the node could not take is refused before anything starts.

use std::process::{Command, Output};

fn proverka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proverka"))
        .args(args)
        .output()
        .expect("run proverka")
}

/// The standard output of a run that must have succeeded (its output shown otherwise).
fn succeeded(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The figure printed before `unit` on the line that contains `line`.
fn figure(stdout: &str, line: &str, unit: &str) -> f64 {
    let text = stdout
        .lines()
        .find(|l| l.contains(line) && l.contains(unit))
        .unwrap_or_else(|| panic!("no line with {line:?} and {unit:?} in:\n{stdout}"));
    let before = &text[..text.find(unit).expect("unit")];
    before
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure before {unit:?} in {text:?}"))
}

#[test]
fn one_bench_run_prints_every_figure() {
    let out = proverka(&[
        "bench",
        "--statements",
        "300",
        "--seconds",
        "0.2",
        "--clients",
        "8",
        "--bulk",
        "16",
        "--bulk-requests",
        "2",
        "--proof-clients",
        "2",
    ]);
    let stdout = succeeded(&out);
    for (line, unit) in [
        ("Ed25519 single", "verifications/s"),
        ("Ed25519 batch", "verifications/s"),
        ("P-256 (ES256)", "verifications/s"),
        ("Ed25519", "statements/s"),
        ("P-256", "statements/s"),
        ("", "proofs/s"),
        ("RSS", "MiB"),
    ] {
        assert!(figure(&stdout, line, unit) > 0.0, "{line} {unit}");
    }
    // 300 per algorithm one by one, 300 more in bulk, the genesis and two issuers.
    assert!(stdout.contains("at 1202 entries"), "{stdout}");
    assert!(stdout.contains("summary: b/a Ed25519"), "{stdout}");
    assert!(stdout.contains("P-256 bulk"), "{stdout}");
}

#[test]
fn a_bulk_load_past_the_node_signature_queue_is_refused_before_it_starts() {
    let out = proverka(&["bench", "--bulk", "256", "--bulk-requests", "33"]);
    assert_eq!(out.status.code(), Some(2), "an input error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("signature queue of 8192"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("(a)"),
        "nothing measured"
    );
}

#[test]
fn bench_net_finalizes_on_four_validators() {
    let out = proverka(&[
        "bench-net",
        "--validators",
        "4",
        "--statements",
        "300",
        "--clients",
        "8",
        "--alg",
        "ed25519",
        "--bulk",
        "16",
    ]);
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("Ed25519: 300 statements finalized and answered with a certified receipt"),
        "{stdout}"
    );
    assert!(stdout.contains("| 4 | 3 | 636 bytes |"), "{stdout}");
}
