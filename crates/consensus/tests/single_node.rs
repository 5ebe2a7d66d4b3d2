//! A committee of one on the production runtime (commonware tokio, authenticated p2p on
//! loopback), started and stopped through the public API only.

use futures::executor::block_on;
use proverka_consensus::{start, verify_finalization, Application, Block, Config, ValidatorKey};
use std::{
    collections::{BTreeMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

#[derive(Clone, Default)]
struct Ledger {
    pool: Arc<Mutex<VecDeque<Vec<u8>>>>,
    chain: Arc<Mutex<BTreeMap<u64, Block>>>,
    /// When each statement was handed to the pool and when its block was applied.
    submitted_at: Arc<Mutex<BTreeMap<Vec<u8>, Instant>>>,
    latencies: Arc<Mutex<Vec<Duration>>>,
}

impl Ledger {
    fn submit(&self, statements: impl IntoIterator<Item = Vec<u8>>) {
        let now = Instant::now();
        let mut pool = self.pool.lock().unwrap();
        let mut at = self.submitted_at.lock().unwrap();
        for s in statements {
            at.insert(s.clone(), now);
            pool.push_back(s);
        }
    }

    fn statements(&self) -> Vec<Vec<u8>> {
        let chain = self.chain.lock().unwrap();
        chain.values().flat_map(|b| b.statements.clone()).collect()
    }

    fn height(&self) -> u64 {
        self.chain
            .lock()
            .unwrap()
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
    }
}

impl Application for Ledger {
    fn take_batch(&self, max_statements: usize, _max_bytes: usize) -> Vec<Vec<u8>> {
        let mut pool = self.pool.lock().unwrap();
        let n = pool.len().min(max_statements);
        pool.drain(..n).collect()
    }

    fn anchor(&self) -> proverka_consensus::Anchor {
        proverka_consensus::Anchor::default()
    }

    fn verify(&self, _block: &Block) -> bool {
        true
    }

    fn finalized(&self, block: &Block) -> Result<(), String> {
        let now = Instant::now();
        let at = self.submitted_at.lock().unwrap();
        let mut latencies = self.latencies.lock().unwrap();
        for s in &block.statements {
            if let Some(t) = at.get(s) {
                latencies.push(now - *t);
            }
        }
        self.chain
            .lock()
            .unwrap()
            .insert(block.height, block.clone());
        Ok(())
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn statements_are_finalized_and_the_chain_survives_a_restart() {
    // RUST_LOG=debug shows what consensus does.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let key = ValidatorKey::generate();
    let namespace = b"proverka-single-node-test";
    let mut config = Config::single(dir.path(), key.clone(), namespace);
    config.max_idle_ms = 200;

    // First run: 500 statements in 5 bursts.
    let ledger = Ledger::default();
    let started = Instant::now();
    let handle = start(config.clone(), ledger.clone()).unwrap();
    eprintln!("started in {:?}", started.elapsed());
    let mut submitted = Vec::new();
    for burst in 0..5 {
        let statements: Vec<_> = (burst * 100..(burst + 1) * 100)
            .map(|i| format!("statement-{i}").into_bytes())
            .collect();
        submitted.extend(statements.clone());
        ledger.submit(statements);
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_for(
        "the statements to be finalized",
        Duration::from_secs(10),
        || ledger.statements().len() == submitted.len(),
    );
    let included: HashSet<_> = ledger.statements().into_iter().collect();
    assert_eq!(included, submitted.iter().cloned().collect::<HashSet<_>>());
    {
        let latencies = ledger.latencies.lock().unwrap();
        let max = latencies.iter().max().unwrap();
        eprintln!(
            "submission-to-applied latency: max {max:?} over {} statements",
            latencies.len()
        );
    }

    // Idle: empty blocks keep coming, no faster than max_idle.
    let idle_from = ledger.height();
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(1_000));
    let idle_blocks = ledger.height() - idle_from;
    eprintln!("{idle_blocks} idle blocks in {:?}", t.elapsed());
    assert!(
        (2..=6).contains(&idle_blocks),
        "{idle_blocks} idle blocks in 1 s at max_idle 200 ms"
    );

    // The handle agrees with the application, and certificates verify as a light client would.
    let height = handle.finalized_height();
    assert!(height >= ledger.height().saturating_sub(1) && height <= ledger.height());
    let certificate = block_on(handle.finalization(height)).expect("stored certificate");
    let proven = verify_finalization(namespace, &config.committee, &certificate).unwrap();
    let block = block_on(handle.block(height)).expect("stored block");
    assert_eq!(proven.digest, block.digest());
    assert_eq!(ledger.chain.lock().unwrap()[&height], block);
    handle.stop().unwrap();
    let stopped_at = ledger.height();

    // Second run on the same directory: the chain continues from where it was.
    let restarted = Ledger::default();
    *restarted.chain.lock().unwrap() = ledger.chain.lock().unwrap().clone();
    let handle = start(config, restarted.clone()).unwrap();
    assert!(handle.finalized_height() >= height);
    let more: Vec<_> = (0..50)
        .map(|i| format!("after-restart-{i}").into_bytes())
        .collect();
    restarted.submit(more.clone());
    wait_for(
        "statements after the restart",
        Duration::from_secs(10),
        || restarted.statements().len() == submitted.len() + more.len(),
    );
    assert!(restarted.height() > stopped_at);
    let chain = restarted.chain.lock().unwrap().clone();
    for (h, b) in chain.iter().skip(1) {
        assert_eq!(
            b.parent,
            chain[&(h - 1)].digest(),
            "height {h} extends {}",
            h - 1
        );
    }
    handle.stop().unwrap();
}

#[test]
fn a_data_dir_serves_one_validator_at_a_time_and_bad_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::single(dir.path(), ValidatorKey::generate(), b"exclusive");
    let handle = start(config.clone(), Ledger::default()).unwrap();
    assert!(handle.is_running());
    let second = start(config.clone(), Ledger::default());
    assert!(
        matches!(second, Err(proverka_consensus::ConsensusError::InUse(_))),
        "a second validator on the same data_dir must not start"
    );
    handle.stop().unwrap();

    let mut stranger = config.clone();
    stranger.committee = vec![ValidatorKey::generate().public_key_hex()];
    assert!(
        start(stranger, Ledger::default()).is_err(),
        "not a committee member"
    );

    let mut no_address = config.clone();
    no_address
        .committee
        .push(ValidatorKey::generate().public_key_hex());
    assert!(
        start(no_address, Ledger::default()).is_err(),
        "a member without an address"
    );

    let mut idle = config;
    idle.max_idle_ms = 0;
    assert!(start(idle, Ledger::default()).is_err());
}
