//! Throughput and proof figures of `proverka-state` on the tokio runtime.
//!
//! `cargo run --release -p proverka-state --example state_bench -- [KEYS] [BATCH] [PROOFS]`
//! (defaults 200000 10000 2000). Phase 1 inserts KEYS new keys, phase 2 updates KEYS keys drawn
//! uniformly at random; one `apply` (one durable commit) per BATCH writes. Keys are
//! `device/` ++ 32 bytes, values 200 bytes. Then PROOFS membership and PROOFS exclusion proofs:
//! generation rate, encoded size, verification rate (one thread). Data lives in a temporary
//! directory that is removed at the end.

use commonware_runtime::{tokio as cw_tokio, Runner as _};
use proverka_state::{verify, DecodeLimits, Rayon, StateDb, StateProof};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn key(i: u64) -> Vec<u8> {
    let mut k = b"device/".to_vec();
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&i.to_be_bytes());
    id[8..16].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    k.extend_from_slice(&id);
    k
}

fn value(i: u64, version: u64) -> Vec<u8> {
    let mut v = vec![0xa5u8; 200];
    v[..8].copy_from_slice(&i.to_be_bytes());
    v[8..16].copy_from_slice(&version.to_be_bytes());
    v
}

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .map(|a| a.parse().expect("numeric argument"))
        .unwrap_or(default)
}

fn stats(sizes: &[usize]) -> String {
    let min = sizes.iter().min().copied().unwrap_or(0);
    let max = sizes.iter().max().copied().unwrap_or(0);
    let avg = sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64;
    format!("min {min} / avg {avg:.0} / max {max} bytes")
}

fn main() {
    let keys = arg(1, 200_000);
    let batch = arg(2, 10_000).max(1);
    let proofs = arg(3, 2_000);
    let dir = std::env::temp_dir().join(format!("proverka-state-bench-{}", std::process::id()));
    let config = cw_tokio::Config::new()
        .with_worker_threads(2)
        .with_storage_directory(dir.clone());
    println!("state_bench: {keys} keys, {batch}-write batches, {proofs} proofs; data in {dir:?}");
    cw_tokio::Runner::new(config).start(|context| async move {
        let mut db: StateDb<_, Rayon> = StateDb::open(context, "bench").await.unwrap();
        let mut height = 0u64;
        let mut rng = Rng(0x1234_5678_9abc_def1);

        for (phase, update) in [("insert", false), ("update", true)] {
            let mut done = 0u64;
            let mut worst = Duration::ZERO;
            let start = Instant::now();
            while done < keys {
                let n = batch.min(keys - done);
                let writes: Vec<_> = (0..n)
                    .map(|j| {
                        let i = if update { rng.next() % keys } else { done + j };
                        (key(i), Some(value(i, height + 1)))
                    })
                    .collect();
                height += 1;
                let t = Instant::now();
                db.apply(height, &writes).await.unwrap();
                worst = worst.max(t.elapsed());
                done += n;
            }
            let secs = start.elapsed().as_secs_f64();
            let batches = keys.div_ceil(batch);
            println!(
                "{phase}: {keys} writes in {secs:.2} s = {:.0} writes/s; batch mean {:.0} ms, worst {:.0} ms",
                keys as f64 / secs,
                secs * 1000.0 / batches as f64,
                worst.as_secs_f64() * 1000.0
            );
        }

        let root = db.root();
        for (kind, present) in [("membership", true), ("exclusion", false)] {
            let mut items = Vec::with_capacity(proofs as usize);
            let start = Instant::now();
            for _ in 0..proofs {
                let i = rng.next() % keys;
                let k = if present { key(i) } else { key(keys + i) };
                let (v, proof) = db.get_with_proof(&k).await.unwrap();
                assert_eq!(v.is_some(), present);
                items.push((k, v, proof.encode()));
            }
            let gen = start.elapsed().as_secs_f64();
            let sizes: Vec<usize> = items.iter().map(|(_, _, b)| b.len()).collect();
            let start = Instant::now();
            for (k, v, bytes) in &items {
                let proof = StateProof::decode(bytes, DecodeLimits::default()).unwrap();
                verify(&root, k, v.as_deref(), &proof).unwrap();
            }
            let ver = start.elapsed().as_secs_f64();
            println!(
                "{kind} proofs: generate {:.0}/s, decode+verify {:.0}/s (1 thread), size {} (value of {} bytes shipped beside)",
                proofs as f64 / gen,
                proofs as f64 / ver,
                stats(&sizes),
                if present { 200 } else { 0 },
            );
        }
        db.close().await.unwrap();
    });
    let disk: u64 = walk(&dir);
    println!("disk used: {:.1} MB", disk as f64 / 1e6);
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => walk(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
