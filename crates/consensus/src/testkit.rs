//! What the deterministic-runtime tests share: the stand-in ledger ([`TestApp`]), the simulated
//! network, keys and statements. Used by the specification tests (`tests.rs`) and the
//! whole-cluster simulation (`sim.rs`).

use crate::{
    app::Application,
    block::{Anchor, Block},
    engine::max_message_size,
};
use commonware_cryptography::{ed25519, Signer as _};
use commonware_p2p::simulated;
use commonware_runtime::{deterministic, Clock, Supervisor as _};
use commonware_utils::NZUsize;
use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

pub(crate) const NAMESPACE: &[u8] = b"proverka-test";
pub(crate) const MAX_IDLE: Duration = Duration::from_millis(100);
/// Epoch length of tests that keep one committee throughout.
pub(crate) const ONE_EPOCH: std::num::NonZeroU64 = commonware_utils::NZU64!(u64::MAX);

/// A ledger stand-in: a pool of statements, and the finalized blocks it was handed.
#[derive(Clone, Default)]
pub(crate) struct TestApp {
    pub(crate) pool: Arc<Mutex<VecDeque<Vec<u8>>>>,
    /// Every call to `finalized`, in order (repeats included).
    pub(crate) deliveries: Arc<Mutex<Vec<Block>>>,
    /// The applied chain: height -> block (idempotent application).
    pub(crate) chain: Arc<Mutex<BTreeMap<u64, Block>>>,
    pub(crate) verify_calls: Arc<Mutex<usize>>,
    /// Makes `verify` answer false.
    pub(crate) reject: Arc<Mutex<bool>>,
    /// Makes `finalized` fail (the block is recorded in `refused`).
    pub(crate) failing: Arc<Mutex<bool>>,
    pub(crate) refused: Arc<Mutex<Vec<Block>>>,
    /// Height consensus reported as already applied when it restarted.
    pub(crate) recovered: Arc<Mutex<Option<u64>>>,
    /// The outcome of each applied height: a hash chain standing in for the ledger's roots.
    pub(crate) anchors: Arc<Mutex<BTreeMap<u64, Anchor>>>,
    /// Anchors of other validators' blocks that contradicted ours (must stay empty).
    pub(crate) contradicted: Arc<Mutex<Vec<Anchor>>>,
    /// Stand-in for governance: the committee of each epoch that has one (others: genesis).
    pub(crate) committees: Arc<BTreeMap<u64, Vec<[u8; 32]>>>,
}

impl TestApp {
    pub(crate) fn submit(&self, statements: impl IntoIterator<Item = Vec<u8>>) {
        self.pool.lock().unwrap().extend(statements);
    }

    pub(crate) fn height(&self) -> Option<u64> {
        self.chain.lock().unwrap().keys().next_back().copied()
    }

    pub(crate) fn chain(&self) -> BTreeMap<u64, Block> {
        self.chain.lock().unwrap().clone()
    }

    pub(crate) fn deliveries(&self) -> Vec<Block> {
        self.deliveries.lock().unwrap().clone()
    }
}

impl Application for TestApp {
    fn take_batch(&self, max_statements: usize, max_bytes: usize) -> Vec<Vec<u8>> {
        let mut pool = self.pool.lock().unwrap();
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(next) = pool.front() {
            if batch.len() == max_statements || bytes + next.len() > max_bytes {
                break;
            }
            bytes += next.len();
            batch.push(pool.pop_front().unwrap());
        }
        batch
    }

    fn shared(&self, _from: [u8; 32], statements: Vec<Vec<u8>>) {
        self.submit(statements);
    }

    fn verify(&self, block: &Block) -> bool {
        *self.verify_calls.lock().unwrap() += 1;
        // A height we have not applied yet cannot be checked here; honest validators agree on
        // every applied height, which the tests assert through `contradicted`.
        if let Some(ours) = self.anchors.lock().unwrap().get(&block.anchor.height) {
            if *ours != block.anchor {
                self.contradicted.lock().unwrap().push(block.anchor);
                return false;
            }
        }
        !*self.reject.lock().unwrap()
    }

    fn anchor(&self) -> Anchor {
        self.anchors
            .lock()
            .unwrap()
            .values()
            .next_back()
            .copied()
            .unwrap_or_default()
    }

    fn committee(&self, epoch: u64) -> Option<Vec<[u8; 32]>> {
        // A committee stays until governance names the next one.
        self.committees
            .range(..=epoch)
            .next_back()
            .map(|(_, committee)| committee.clone())
    }

    fn finalized(&self, block: &Block) -> Result<(), String> {
        if *self.failing.lock().unwrap() {
            let mut refused = self.refused.lock().unwrap();
            if refused.last().is_none_or(|last| last.height < block.height) {
                refused.push(block.clone());
            }
            return Err("disk full".into());
        }
        self.deliveries.lock().unwrap().push(block.clone());
        let mut chain = self.chain.lock().unwrap();
        if let Some(previous) = chain.get(&block.height) {
            assert_eq!(
                previous, block,
                "a height was finalized twice with different blocks"
            );
        }
        chain.insert(block.height, block.clone());
        let mut anchors = self.anchors.lock().unwrap();
        if block.height > 0 && !anchors.contains_key(&block.height) {
            let previous = anchors.values().next_back().copied().unwrap_or_default();
            let root = <sha2::Sha256 as sha2::Digest>::digest(
                [previous.log_root, block.digest()].concat(),
            )
            .into();
            anchors.insert(
                block.height,
                Anchor {
                    height: block.height,
                    log_size: previous.log_size + block.statements.len() as u64,
                    log_root: root,
                    state_root: root,
                },
            );
        }
        Ok(())
    }
}

pub(crate) fn statement(i: usize) -> Vec<u8> {
    format!("statement-{i:05}").into_bytes()
}

/// A simulated network carrying the given validators (links are added separately).
pub(crate) async fn network(
    context: &deterministic::Context,
    participants: &[ed25519::PublicKey],
) -> simulated::Oracle<ed25519::PublicKey, deterministic::Context> {
    let (network, oracle) = simulated::Network::new_with_peers(
        context.child("network"),
        simulated::Config {
            max_size: max_message_size(u32::try_from(participants.len()).unwrap()),
            max_peers_per_set: NZUsize!(participants.len()),
            disconnect_on_block: true,
            tracked_peer_sets: NZUsize!(1),
        },
        participants.to_vec(),
    )
    .await;
    network.start();
    oracle
}

/// Links every pair of `keys` both ways with `latency` (±5 ms jitter) and no loss.
pub(crate) async fn connect_all(
    oracle: &simulated::Oracle<ed25519::PublicKey, deterministic::Context>,
    keys: &[ed25519::PublicKey],
    latency: Duration,
) {
    let link = simulated::Link {
        latency,
        jitter: Duration::from_millis(5),
        success_rate: commonware_utils::probability!(1.0),
    };
    for a in keys {
        for b in keys.iter().filter(|b| *b != a) {
            oracle
                .add_link(a.clone(), b.clone(), link.clone())
                .await
                .unwrap();
        }
    }
}

pub(crate) fn signer(seed: u64) -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(seed)
}

/// Sleeps in virtual time until `done` holds (the runner's timeout bounds the wait).
pub(crate) async fn wait_until(context: &deterministic::Context, mut done: impl FnMut() -> bool) {
    while !done() {
        context.sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) fn runner(seed: u64) -> deterministic::Runner {
    deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_timeout(Some(Duration::from_secs(600))),
    )
}

pub(crate) fn all_statements(chain: &BTreeMap<u64, Block>) -> Vec<Vec<u8>> {
    chain.values().flat_map(|b| b.statements.clone()).collect()
}
