//! What the `proverka` process sets up for itself before it serves.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod common;
use common::proverka_bin;

/// The soft and hard "Max open files" of process `pid`, from `/proc/PID/limits`.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let fields: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
    (fields[0].to_owned(), fields[1].to_owned())
}

// `sysinfo` (under commonware-runtime) raises the limit too when first used, so this also
// passes without `raise_open_file_limit`; it holds the behaviour, whichever code provides it.
#[test]
fn a_node_started_under_a_low_soft_open_file_limit_raises_it_to_the_hard_limit() {
    let hard = String::from_utf8(
        Command::new("sh")
            .args(["-c", "ulimit -Hn"])
            .output()
            .expect("sh")
            .stdout,
    )
    .expect("utf-8");
    let hard = hard.trim();
    assert!(
        hard == "unlimited" || hard.parse::<u64>().expect("a number") > 256,
        "this test needs a hard open-file limit above 256, not {hard}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // The shell lowers only the soft limit, then becomes the node.
    let mut child = Command::new("sh")
        .args([
            "-c",
            r#"ulimit -Sn 256 && exec "$0" node --dev --listen 127.0.0.1:0 --data-dir "$1""#,
            proverka_bin(),
            dir.path().to_str().expect("utf-8 path"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let listening = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("proverka node listening on "));
    let limits = open_file_limits(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "the node did not start");
    assert_eq!(limits, (hard.to_owned(), hard.to_owned()));
}
