//! `proverka demo` tells the city story end to end over HTTP, and its figures are the ledger's:
//! the advisory exposes exactly the meters, the roll-out clears them, the audit verifies.

use std::process::Command;

#[test]
fn the_demo_story_drops_trust_for_exactly_the_affected_devices_and_restores_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_proverka"))
        .args(["demo", "--devices", "200"])
        .output()
        .expect("run proverka demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 100 meters (even ids) go to water, 100 valves to grid; the advisory names meter 1.0.
    // (JSON object key order is not part of the answer.)
    let exposed = stdout
        .lines()
        .find(|l| l.contains("devices exposed:"))
        .unwrap_or_default();
    let by_owner: serde_json::Value = serde_json::from_str(
        exposed
            .split_once("devices exposed: ")
            .map(|(_, json)| json)
            .unwrap_or("null"),
    )
    .unwrap_or_default();
    assert!(
        exposed.trim_start().starts_with("100 devices exposed"),
        "{stdout}"
    );
    assert_eq!(
        by_owner,
        serde_json::json!([{"devices": 100, "owner": "water"}]),
        "{stdout}"
    );
    let census_of = |owner: &str| -> Vec<String> {
        stdout
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with(&format!("{owner} ")))
            .filter(|l| {
                l.split_whitespace()
                    .skip(1)
                    .all(|t| t.parse::<u32>().is_ok())
            })
            .map(str::to_owned)
            .collect()
    };
    let census = census_of("water");
    assert_eq!(census.len(), 3, "{stdout}");
    let cols = |l: &str| {
        l.split_whitespace()
            .skip(1)
            .map(|n| n.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        cols(&census[0]),
        vec![100, 0, 0, 0],
        "all affirming after attesting"
    );
    assert_eq!(
        cols(&census[1]),
        vec![0, 0, 0, 100],
        "contraindicated by the advisory alone"
    );
    assert_eq!(
        cols(&census[2]),
        vec![100, 0, 0, 0],
        "recovered after the roll-out"
    );
    let grid = census_of("grid");
    assert_eq!(grid.len(), 3, "{stdout}");
    assert!(
        grid.iter().all(|l| cols(l) == vec![100, 0, 0, 0]),
        "valves are never affected"
    );
    assert!(
        stdout.contains("devices still exposed to CERT-2026-0042: 0"),
        "{stdout}"
    );
    assert!(stdout.contains("every receipt verified"), "{stdout}");
    assert!(
        stdout.contains("status recomputed from the proof: affirming (node: affirming)"),
        "a light client recomputes the audited device's status from a state proof: {stdout}"
    );
    // Step 9: the controller's order to the valve, through grid's gateway, follows its trust.
    let orders: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("DELIVERED") || l.contains("REFUSED"))
        .collect();
    assert_eq!(orders.len(), 3, "{stdout}");
    assert!(
        orders[0]
            .contains("says \"open\": DELIVERED (cedar grid v1: permitted by controllers-actuate)"),
        "{stdout}"
    );
    assert!(
        orders[1].contains("REFUSED: sender status contraindicated does not meet warning")
            && orders[1].contains("cedar grid v1: no policy permits"),
        "{stdout}"
    );
    assert!(
        orders[2].contains("re-attested, the order again: DELIVERED"),
        "{stdout}"
    );
}
