//! Measurements on the production runtime, not assertions: run with
//! `cargo test -p proverka-consensus --release --test measure -- --ignored --nocapture`.

use proverka_consensus::{start, Application, Block, Config, ValidatorKey};
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

#[derive(Clone, Default)]
struct Counter {
    pool: Arc<Mutex<VecDeque<Vec<u8>>>>,
    applied: Arc<Mutex<(u64, usize, Option<Instant>)>>,
}

impl Application for Counter {
    fn take_batch(&self, max_statements: usize, max_bytes: usize) -> Vec<Vec<u8>> {
        let mut pool = self.pool.lock().unwrap();
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(s) = pool.front() {
            if out.len() == max_statements || bytes + s.len() > max_bytes {
                break;
            }
            bytes += s.len();
            out.push(pool.pop_front().unwrap());
        }
        out
    }
    fn anchor(&self) -> proverka_consensus::Anchor {
        proverka_consensus::Anchor::default()
    }

    fn verify(&self, _: &Block) -> bool {
        true
    }
    fn finalized(&self, block: &Block) -> Result<(), String> {
        let mut applied = self.applied.lock().unwrap();
        applied.0 = block.height;
        applied.1 += block.statements.len();
        if !block.statements.is_empty() {
            applied.2 = Some(Instant::now());
        }
        Ok(())
    }
}

impl Counter {
    fn height(&self) -> u64 {
        self.applied.lock().unwrap().0
    }
    fn statements(&self) -> usize {
        self.applied.lock().unwrap().1
    }
}

fn wait(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
#[ignore = "measurement; run explicitly"]
fn measure_single_validator() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::single(dir.path(), ValidatorKey::generate(), b"measure");

    // Empty blocks as fast as consensus goes (max_idle 1 ms).
    config.max_idle_ms = 1;
    let app = Counter::default();
    let handle = start(config.clone(), app.clone()).unwrap();
    wait(|| app.height() >= 5);
    let (h0, t0) = (app.height(), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let blocks = app.height() - h0;
    println!(
        "empty blocks finalized: {blocks} in {:?} = {:.0}/s",
        t0.elapsed(),
        blocks as f64 / t0.elapsed().as_secs_f64()
    );
    handle.stop().unwrap();

    // Latency of one statement submitted to an idle leader (max_idle 1 s).
    let dir = tempfile::tempdir().unwrap();
    config.data_dir = dir.path().to_path_buf();
    config.max_idle_ms = 1_000;
    let app = Counter::default();
    let handle = start(config.clone(), app.clone()).unwrap();
    let mut latencies = Vec::new();
    for i in 0..20 {
        std::thread::sleep(Duration::from_millis(37));
        let before = app.statements();
        let t = Instant::now();
        app.pool
            .lock()
            .unwrap()
            .push_back(format!("s{i}").into_bytes());
        wait(|| app.statements() > before);
        latencies.push(t.elapsed());
    }
    latencies.sort();
    println!(
        "submit -> applied latency, 20 single statements: median {:?}, max {:?}",
        latencies[10], latencies[19]
    );

    // Throughput: 50 000 statements of 200 bytes, all in the pool at once.
    let n = 50_000;
    let before = app.statements();
    let h0 = app.height();
    let t = Instant::now();
    app.pool
        .lock()
        .unwrap()
        .extend((0..n).map(|i| format!("{i:0200}").into_bytes()));
    wait(|| app.statements() >= before + n);
    let elapsed = t.elapsed();
    println!(
        "{n} statements of 200 B finalized in {elapsed:?} ({:.0}/s) over {} blocks",
        n as f64 / elapsed.as_secs_f64(),
        app.height() - h0
    );
    handle.stop().unwrap();
}
