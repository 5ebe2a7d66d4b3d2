//! Advisory exposure at city scale: registers N devices (default 1,000,000) through the real
//! rules and store (no HTTP, no consensus: blocks applied directly), then publishes advisories
//! and times how long listing every affected device takes, and measures memory and disk per
//! million devices.
//!
//! `cargo run --release -p proverka-node --example exposure_bench [-- DEVICES]`

use std::time::Instant;

use proverka_ledger::query;
use proverka_ledger::records::Role;
use proverka_ledger::{
    kinds, make, BlockContext, Genesis, GenesisIssuer, Rules, SignatureCache, GENESIS_FORMAT,
};
use proverka_node::app::StoreView;
use proverka_statement::{sign_statement, ContentType, KeyType, PrivateKey, StatementParams};
use proverka_store::{BlockAppend, Store};

const BLOCK: usize = 10_000;
const T0: u64 = 1_800_000_000_000;
const FW: [[u8; 32]; 4] = [[0xa1; 32], [0xa2; 32], [0xa3; 32], [0xa4; 32]];

struct Verified;
impl SignatureCache for Verified {
    // The statements below are signed correctly; the bench measures state, not signatures
    // (signature cost is measured by `proverka bench`).
    fn is_verified(&self, _: &[u8; 32]) -> bool {
        true
    }
}

fn sign(key: &PrivateKey, iss: &str, kind: &str, payload: &[u8]) -> Vec<u8> {
    sign_statement(
        key,
        &StatementParams {
            iss,
            sub: "bench",
            iat: (T0 / 1000) as i64,
            content_type: ContentType::Text(kind.into()),
            payload,
        },
    )
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let acme = PrivateKey::generate(KeyType::Ed25519).expect("key");
    let cert = PrivateKey::generate(KeyType::Ed25519).expect("key");
    let genesis = Genesis {
        format: GENESIS_FORMAT.into(),
        origin: "bench.example/log".into(),
        created_ms: T0,
        validators: vec![hex::encode([1u8; 32])],
        receipt_key: hex::encode(
            PrivateKey::generate(KeyType::P256)
                .expect("key")
                .public_key()
                .to_cose_key(),
        ),
        checkpoint_vkey: "bench.example/log+00000000+AQ".into(),
        issuers: vec![
            GenesisIssuer::new("acme", &acme.public_key(), false).with_roles(&[Role::Manufacturer]),
            GenesisIssuer::new("cert", &cert.public_key(), false)
                .with_roles(&[Role::SecurityAuthority]),
        ],
        governance_threshold: None,
        validator_keys: Vec::new(),
    };
    let rules = Rules::new(&genesis).expect("rules");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let rss0 = rss_mib();
    let mut height = 0;
    let mut apply = |stmts: Vec<Vec<u8>>| {
        height += 1;
        let view = StoreView(&store);
        let ctx = BlockContext {
            height,
            time_ms: T0 + height,
            anchor: None,
        };
        let d = rules
            .apply_block(&view, ctx, &stmts, &Verified)
            .expect("apply");
        let accepted: Vec<&[u8]> = d.registered().map(|i| stmts[i].as_slice()).collect();
        assert_eq!(accepted.len(), stmts.len(), "every statement registers");
        let writes = d.state_writes();
        store
            .append_block(BlockAppend {
                height,
                digest: [height as u8; 32],
                statements: &accepted,
                state_writes: &writes,
                state_root: [0; 32],
                checkpoint: None,
            })
            .expect("append");
    };
    apply(vec![sign(
        &acme,
        "acme",
        kinds::MODEL,
        &make::model("meter", &[]),
    )]);
    let releases = (0..4)
        .map(|i| {
            let r = make::release(&make::Release {
                model: "meter",
                version: &format!("1.{i}"),
                digest: FW[i],
                svn: i as u64 + 1,
                supersedes: None,
                security: None,
                revoked: false,
            });
            sign(&acme, "acme", kinds::RELEASE, &r)
        })
        .collect();
    apply(releases);

    // Births: device i runs factory firmware FW[i % 4]. Device keys are Ed25519 from a seed.
    let started = Instant::now();
    for chunk in 0..n.div_ceil(BLOCK) {
        let block = (chunk * BLOCK..((chunk + 1) * BLOCK).min(n))
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
                seed[8] = 1;
                let key = PrivateKey::from_ed25519_seed(seed).public_key();
                let id = format!("meter-{i:08}");
                let birth = make::birth(&make::Birth {
                    device_id: id.as_bytes(),
                    key: &key,
                    model: "meter",
                    serial: &id,
                    hw_version: "a",
                    factory_fw: FW[i % 4],
                    x5chain: &[],
                });
                sign(&acme, "acme", kinds::BIRTH, &birth)
            })
            .collect();
        apply(block);
    }
    let secs = started.elapsed().as_secs_f64();
    let rss1 = rss_mib();
    println!(
        "registered {n} devices in {secs:.1} s ({:.0} births/s, signatures pre-verified)",
        n as f64 / secs
    );

    for (id, versions, expect) in [
        ("ADV-ONE-RELEASE", vec!["1.0"], n.div_ceil(4)),
        ("ADV-ALL", vec!["1.0", "1.1", "1.2", "1.3"], n),
    ] {
        let adv = make::advisory(&make::Advisory {
            id,
            maker: "acme",
            model: "meter",
            versions: &versions,
            cvss: Some(98),
            ..Default::default()
        });
        apply(vec![sign(&cert, "cert", kinds::ADVISORY, &adv)]);
        let view = StoreView(&store);
        let t = Instant::now();
        let record = query::advisory(&view, "cert", id)
            .expect("read")
            .expect("advisory");
        let exposed = query::advisory_exposure(&view, &record).expect("exposure");
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(exposed.len(), expect);
        println!(
            "advisory {id}: {} affected devices listed in {ms:.0} ms (from the firmware index)",
            exposed.len()
        );
    }
    let disk: u64 = std::fs::read_dir(dir.path())
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let per_million = 1_000_000.0 / n as f64;
    println!(
        "memory: RSS {rss0:.0} MiB before, {rss1:.0} MiB after registering ({:.0} MiB per million devices, \
         redb page cache capped at {} MiB)",
        (rss1 - rss0) * per_million,
        proverka_store::CACHE_BYTES >> 20
    );
    println!(
        "disk: {:.0} MiB ({:.0} MiB per million devices, log entries included)",
        disk as f64 / (1 << 20) as f64,
        disk as f64 / (1 << 20) as f64 * per_million
    );
}
