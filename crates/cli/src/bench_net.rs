//! `proverka bench-net`: a network of validators on this machine (`proverka net up`'s processes)
//! under load — finalized statements per second and submit-to-receipt latency, every receipt
//! certified by a quorum — and the sizes of receipts and cosigned checkpoints for 4, 16 and 100
//! validators. Figures go to `BENCHMARKS.md`.

use std::path::Path;
use std::time::Instant;

use proverka_log::{cosign_checkpoint, sign_checkpoint, sign_tree_head, Hash, NoteKey};
use proverka_statement::{KeyType, PrivateKey};

use crate::bench::{
    check_bulk, check_in_flight, presign, raw_rate, register_issuer, submit_all, submit_bulk,
};
use crate::net;
use crate::ports::free_base_port;
use crate::Failure;

/// What to run.
pub struct BenchNetOptions {
    pub validators: usize,
    pub statements: usize,
    pub clients: usize,
    /// `p256`, `ed25519` or `both`.
    pub alg: String,
    /// Statements per `POST /entries/bulk` request; 0 submits each with `POST /entries`.
    pub bulk: usize,
}

pub async fn run(opts: BenchNetOptions) -> Result<(), Failure> {
    let (p256_on, ed_on) = match opts.alg.as_str() {
        "p256" => (true, false),
        "ed25519" => (false, true),
        "both" => (true, true),
        other => {
            return Err(Failure::input(format!(
                "--alg takes p256, ed25519 or both, not {other:?}"
            )))
        }
    };
    check_bulk(opts.bulk)?;
    check_in_flight(opts.clients, opts.bulk, opts.validators)?;
    let dir = tempfile::tempdir().map_err(Failure::input)?;
    let base = free_base_port(opts.validators)
        .map_err(Failure::input)?
        .ok_or_else(|| Failure::input("no free port range found"))?;
    let members = net::prepare(dir.path(), opts.validators, base)?;
    let exe = std::env::current_exe().map_err(Failure::input)?;
    let mut running = net::start(&exe, dir.path(), &members)?;
    if !net::wait_ready(&members, std::time::Duration::from_secs(60)).await {
        return Err(Failure::network("the validators did not start within 60 s"));
    }
    let admin = load_admin(dir.path())?;
    let how = match opts.bulk {
        0 => "one statement per request".to_owned(),
        n => format!("{n} statements per POST /entries/bulk request"),
    };
    println!(
        "{} validators as separate processes on loopback, {} clients spread over them, {how}",
        members.len(),
        opts.clients
    );
    let urls: Vec<String> = members.iter().map(|m| m.api.clone()).collect();
    let ed = PrivateKey::generate(KeyType::Ed25519).map_err(Failure::input)?;
    let net_admin = (&admin, net::NET_ADMIN_ISS);
    register_issuer(&urls[0], net_admin, &ed, "bench-ed25519").await?;
    let p256 = PrivateKey::generate(KeyType::P256).map_err(Failure::input)?;
    register_issuer(&urls[0], net_admin, &p256, "bench-p256").await?;
    println!(
        "raw verification on 2 threads: P-256 {:.0}/s, Ed25519 {:.0}/s, Ed25519 batch {:.0}/s",
        raw_rate(&p256, 2, 2.0, false),
        raw_rate(&ed, 2, 2.0, false),
        raw_rate(&ed, 2, 2.0, true)
    );
    let runs = [
        (p256_on, "P-256", &p256, "bench-p256"),
        (ed_on, "Ed25519", &ed, "bench-ed25519"),
    ];
    for (_, name, key, iss) in runs.into_iter().filter(|r| r.0) {
        let stmts = presign(key, iss, opts.statements, name);
        let started = Instant::now();
        let (rate, p50, p99) = match opts.bulk {
            0 => submit_all(&urls, stmts, opts.clients).await?,
            n => submit_bulk(&urls, stmts, opts.clients, n).await?,
        };
        println!(
            "{name}: {} statements finalized and answered with a certified receipt: \
             {rate:.0}/s (p50 {p50:.0} ms, p99 {p99:.0} ms) in {:.1} s",
            opts.statements,
            started.elapsed().as_secs_f64()
        );
    }
    running.stop();
    drop(dir);
    sizes()
}

/// Sizes of a quorum checkpoint and of a receipt carrying it, for a tree of 2^20 entries, made
/// with the same code as the node's.
fn sizes() -> Result<(), Failure> {
    const SIZE: u64 = 1 << 20;
    let root: Hash = [0xab; 32];
    let path = vec![[0x5a; 32]; 20];
    let receipt_key = PrivateKey::generate(KeyType::P256).map_err(Failure::input)?;
    println!("| validators | quorum | cosigned checkpoint | certified receipt (2^20 entries) |");
    for n in [4usize, 16, 100] {
        let quorum = n - (n - 1) / 3;
        let origin = "proverka.local/net-bench";
        let log = NoteKey::generate(origin).map_err(Failure::input)?;
        let mut note = sign_checkpoint(&log, origin, SIZE, &root).map_err(Failure::input)?;
        for i in 0..quorum {
            let name = format!("proverka-validator-{i:016x}");
            let cosigner = NoteKey::generate(&name).map_err(Failure::input)?;
            note = cosign_checkpoint(&note, &cosigner, 1_764_000_000).map_err(Failure::input)?;
        }
        let receipt = sign_tree_head(&receipt_key, origin, 1_764_000_000, SIZE, &root)
            .and_then(|head| head.receipt_with(12_345, &path, Some(&note)))
            .map_err(Failure::input)?;
        println!(
            "| {n} | {quorum} | {} bytes | {} bytes |",
            note.len(),
            receipt.len()
        );
    }
    Ok(())
}

fn load_admin(dir: &Path) -> Result<PrivateKey, Failure> {
    let pem = std::fs::read_to_string(dir.join("admin.key.pem")).map_err(Failure::input)?;
    PrivateKey::from_pkcs8_pem(&pem).map_err(Failure::input)
}
