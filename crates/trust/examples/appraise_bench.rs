//! Measures appraisals per second for a realistic device: 5 releases, 3 advisories.
//!
//! Run: `cargo run --release -p proverka-trust --example appraise_bench`

use std::hint::black_box;
use std::time::{Duration, Instant};

use proverka_trust::{
    appraise, Advisory, DebugState, DeviceFacts, Evidence, Policy, Release, Severity,
};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
const NOW: u64 = 1_800_000_000_000;

fn main() {
    let releases: Vec<Release> = (1..=5u8)
        .map(|n| Release {
            digest: [n; 32],
            version: format!("2.{n}.0"),
            svn: u64::from(n),
            supersedes: n.checked_sub(1).filter(|p| *p > 0).map(|p| [p; 32]),
            security: (n % 2 == 0).then_some(Severity::High),
            published_ms: NOW - u64::from(6 - n) * 40 * DAY,
            revoked: false,
        })
        .collect();
    // Three advisories, one of which affects the running release [3; 32].
    let advisories: Vec<Advisory> = [
        (10u8, Severity::Medium, 3u8),
        (11, Severity::High, 1),
        (12, Severity::Low, 2),
    ]
    .into_iter()
    .map(|(id, severity, fw)| Advisory {
        id: [id; 32],
        severity,
        exploited: false,
        affected: vec![[fw; 32], [fw.saturating_sub(1); 32]],
        fixed_in: Some([fw + 1; 32]),
        published_ms: NOW - 30 * DAY,
        withdrawn: false,
    })
    .collect();
    let evidence = Evidence {
        iat_ms: NOW - HOUR,
        registered_ms: NOW - HOUR,
        fw_digest: [3; 32],
        svn: 3,
        debug: DebugState::DisabledPermanently,
    };
    let facts = DeviceFacts {
        identity_revoked: false,
        decommissioned: false,
        rollback: None,
        evidence: Some(&evidence),
        releases: &releases,
        advisories: &advisories,
    };
    let policy = Policy::default();

    let sample = appraise(&facts, &policy, NOW);
    println!("appraisal: {:?}", sample.status);
    for r in &sample.reasons {
        println!("  reason [{}]: {r}", r.code());
    }

    let start = Instant::now();
    let mut count: u64 = 0;
    while start.elapsed() < Duration::from_secs(1) {
        // Check the clock every 1024 appraisals so timing does not dominate.
        for i in 0..1024 {
            black_box(appraise(black_box(&facts), &policy, black_box(NOW + i)));
        }
        count += 1024;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{count} appraisals in {secs:.3} s: {:.0} appraisals/s ({:.0} ns each)",
        count as f64 / secs,
        secs * 1e9 / count as f64
    );
}
