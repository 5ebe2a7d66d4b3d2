//! Compares two in-memory entry id → index maps for the store (`src/id_index.rs`): keyed by the
//! full 32-byte id, or by its first 8 bytes with the leaf hash checked against the tree. Prints
//! the resident memory each takes and its look-up rate.
//!
//! Run: `cargo run --release -p proverka-store --example id_map_bench [ids]` (default 1,000,000).

use proverka_log::{leaf_entry, leaf_hash, Hash};
use std::collections::HashMap;
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.trim_start_matches("VmRSS:")
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

fn prefix(id: &Hash) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&id[..8]);
    u64::from_le_bytes(first)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let ids: Vec<Hash> = (0..n).map(|i| leaf_entry(&i.to_be_bytes())).collect();
    // What the tree holds at level 0, used to confirm a prefix hit.
    let leaves: Vec<Hash> = ids.iter().map(leaf_hash).collect();
    let probes: Vec<usize> = (0..n as usize).map(|i| (i * 7_919) % n as usize).collect();

    let before = rss_kib();
    let started = Instant::now();
    let mut full: HashMap<Hash, u64> = HashMap::with_capacity(n as usize);
    for (i, id) in (0..).zip(&ids) {
        full.insert(*id, i);
    }
    let build = started.elapsed().as_secs_f64();
    let mem = rss_kib().saturating_sub(before);
    let started = Instant::now();
    let mut found = 0u64;
    for &p in &probes {
        found += u64::from(full.get(&ids[p]) == Some(&(p as u64)));
    }
    let look = started.elapsed().as_secs_f64();
    println!(
        "full 32-byte key: {n} ids, {:.1} MiB resident, built in {build:.2} s, \
         {:.2} M look-ups/s (found {found})",
        mem as f64 / 1024.0,
        n as f64 / look / 1e6
    );
    drop(full);

    let before = rss_kib();
    let started = Instant::now();
    let mut short: HashMap<u64, u64> = HashMap::with_capacity(n as usize);
    for (i, id) in (0..).zip(&ids) {
        short
            .entry(prefix(id))
            .and_modify(|v| *v = u64::MAX)
            .or_insert(i);
    }
    let build = started.elapsed().as_secs_f64();
    let mem = rss_kib().saturating_sub(before);
    let started = Instant::now();
    let mut found = 0u64;
    for &p in &probes {
        let id = &ids[p];
        if let Some(&i) = short.get(&prefix(id)) {
            found += u64::from(leaves.get(i as usize) == Some(&leaf_hash(id)));
        }
    }
    let look = started.elapsed().as_secs_f64();
    println!(
        "8-byte prefix + leaf-hash check: {n} ids, {:.1} MiB resident, built in {build:.2} s, \
         {:.2} M look-ups/s (found {found})",
        mem as f64 / 1024.0,
        n as f64 / look / 1e6
    );
    Ok(())
}
