//! Specification tests on commonware's deterministic runtime with the simulated network: the
//! same engine wiring as production (`engine::start`), virtual time, reproducible by seed.

use crate::{
    block::{Anchor, Block},
    engine::{self, channel_quota, Channels, EngineConfig, Query, Timing},
    testkit::*,
    verify_finalization,
};
use commonware_cryptography::{ed25519, Signer as _};
use commonware_p2p::simulated;
use commonware_runtime::{deterministic, Clock, Runner as _, Supervisor as _};
use commonware_utils::ordered::Set;
use futures::channel::oneshot;
use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
    time::Duration,
};

/// A validator running the production wiring (`engine::start`) on the simulated network.
struct Validator {
    engine: engine::Engine,
    committee: Vec<String>,
}

async fn start_validator(
    context: &deterministic::Context,
    oracle: &simulated::Oracle<ed25519::PublicKey, deterministic::Context>,
    signer: ed25519::PrivateKey,
    committee: &[ed25519::PublicKey],
    app: TestApp,
) -> Validator {
    start_with_epochs(context, oracle, signer, committee, app, ONE_EPOCH).await
}

/// [`start_validator`] with epochs of `epoch_blocks` heights; `committee` runs epoch 0.
async fn start_with_epochs(
    context: &deterministic::Context,
    oracle: &simulated::Oracle<ed25519::PublicKey, deterministic::Context>,
    signer: ed25519::PrivateKey,
    committee: &[ed25519::PublicKey],
    app: TestApp,
    epoch_blocks: std::num::NonZeroU64,
) -> Validator {
    start_from(context, oracle, signer, committee, app, epoch_blocks, None).await
}

/// [`start_with_epochs`] for a validator whose application starts at a certified `floor`.
async fn start_from(
    context: &deterministic::Context,
    oracle: &simulated::Oracle<ed25519::PublicKey, deterministic::Context>,
    signer: ed25519::PrivateKey,
    committee: &[ed25519::PublicKey],
    app: TestApp,
    epoch_blocks: std::num::NonZeroU64,
    floor: Option<engine::FloorStart>,
) -> Validator {
    let me = signer.public_key();
    let control = oracle.control(me.clone());
    let register = |channel| {
        let control = control.clone();
        async move {
            control
                .register(channel, channel_quota(channel))
                .await
                .unwrap()
        }
    };
    let channels = Channels {
        votes: register(engine::CHANNEL_VOTES).await,
        certificates: register(engine::CHANNEL_CERTIFICATES).await,
        consensus_resolver: register(engine::CHANNEL_CONSENSUS_RESOLVER).await,
        blocks: register(engine::CHANNEL_BLOCKS).await,
        backfill: register(engine::CHANNEL_BACKFILL).await,
        gossip: None,
        statements: Some(register(engine::CHANNEL_STATEMENTS).await),
    };
    let engine = engine::start(
        context.child("validator").with_attribute("key", &me),
        EngineConfig {
            signer,
            committee: Set::from_iter_dedup(committee.iter().cloned()),
            namespace: NAMESPACE.to_vec(),
            genesis: Block::genesis(NAMESPACE, 0),
            partition_prefix: format!("validator-{me}"),
            timing: Timing::for_max_idle(MAX_IDLE),
            epoch_blocks,
            floor,
        },
        app,
        channels,
        oracle.manager(),
        control,
    )
    .await;
    Validator {
        engine,
        committee: committee.iter().map(|k| hex::encode(k.as_ref())).collect(),
    }
}

/// A committee of one: the validator is the only peer of its network.
async fn start_single(context: &deterministic::Context, app: TestApp) -> Validator {
    let signer = signer(7);
    let me = [signer.public_key()];
    let oracle = network(context, &me).await;
    start_validator(context, &oracle, signer, &me, app).await
}

impl Validator {
    async fn finalization(&self, height: u64) -> Option<Vec<u8>> {
        let (reply, answer) = oneshot::channel();
        self.engine
            .queries
            .unbounded_send(Query::Finalization(height, reply))
            .unwrap();
        answer.await.unwrap()
    }
}

/// Checks the delivery contract over one run's deliveries: heights strictly increase by one
/// from the first, and each block extends the previous one.
fn assert_delivered_in_order(deliveries: &[Block]) {
    for pair in deliveries.windows(2) {
        assert_eq!(
            pair[1].height,
            pair[0].height + 1,
            "heights must increase by one"
        );
        assert_eq!(
            pair[1].parent,
            pair[0].digest(),
            "each block extends the previous"
        );
        assert!(
            pair[1].timestamp_ms >= pair[0].timestamp_ms,
            "timestamps never go backwards"
        );
    }
}

fn assert_exactly_once(chain: &BTreeMap<u64, Block>, submitted: &[Vec<u8>]) {
    let included = all_statements(chain);
    let unique: HashSet<_> = included.iter().collect();
    assert_eq!(
        unique.len(),
        included.len(),
        "no statement is finalized twice"
    );
    let submitted: HashSet<_> = submitted.iter().collect();
    assert_eq!(unique, submitted, "every submitted statement is finalized");
}

#[test]
fn single_validator_finalizes_submitted_statements_in_order() {
    runner(1).start(|context| async move {
        let app = TestApp::default();
        let validator = start_single(&context, app.clone()).await;

        // Genesis is delivered first.
        wait_until(&context, || app.height().is_some()).await;
        let genesis = app.deliveries()[0].clone();
        assert_eq!(genesis, Block::genesis(NAMESPACE, 0));

        // Statements arrive in bursts while the chain runs.
        let mut submitted = Vec::new();
        for burst in 0..10 {
            let statements: Vec<_> = (burst * 30..(burst + 1) * 30).map(statement).collect();
            submitted.extend(statements.clone());
            app.submit(statements);
            context.sleep(Duration::from_millis(35)).await;
        }
        wait_until(&context, || {
            all_statements(&app.chain()).len() == submitted.len()
        })
        .await;

        let deliveries = app.deliveries();
        assert_eq!(deliveries[0].height, 0);
        assert_delivered_in_order(&deliveries);
        let chain = app.chain();
        assert_eq!(
            chain.len(),
            deliveries.len(),
            "no block delivered twice in one run"
        );
        assert_exactly_once(&chain, &submitted);
        assert_eq!(
            *app.verify_calls.lock().unwrap(),
            0,
            "a validator does not re-verify its own proposals"
        );
        assert_eq!(
            validator.engine.shared.applied_height(),
            app.height(),
            "the handle's height is the application's"
        );

        // The last block's finalization certificate verifies with the committee's keys alone.
        let last = chain.values().next_back().unwrap().clone();
        let certificate = validator.finalization(last.height).await.expect("stored");
        let proven = verify_finalization(NAMESPACE, &validator.committee, &certificate).unwrap();
        assert_eq!(proven.digest, last.digest());
        assert_eq!(proven.view, last.context.view);
        assert!(verify_finalization(b"another-chain", &validator.committee, &certificate).is_err());
    });
}

#[test]
fn idle_leader_proposes_empty_blocks_at_most_every_max_idle() {
    runner(2).start(|context| async move {
        let app = TestApp::default();
        let _validator = start_single(&context, app.clone()).await;
        context.sleep(Duration::from_secs(2)).await;

        let deliveries = app.deliveries();
        assert_delivered_in_order(&deliveries);
        let empty: Vec<_> = deliveries.iter().skip(1).collect();
        assert!(empty.iter().all(|b| b.statements.is_empty()));
        // 2 s of idleness at one block per 100 ms: about 20 blocks, never faster.
        assert!(
            (15..=21).contains(&empty.len()),
            "{} empty blocks in 2 s",
            empty.len()
        );
        for pair in empty.windows(2) {
            assert!(
                pair[1].timestamp_ms - pair[0].timestamp_ms >= MAX_IDLE.as_millis() as u64,
                "empty blocks are at least max_idle apart"
            );
        }
    });
}

#[test]
fn restart_resumes_the_chain_and_loses_nothing_finalized() {
    // First run: finalize some statements; then the application starts failing to apply blocks
    // (think: disk full) while consensus keeps finalizing; then the process crashes.
    let first = TestApp::default();
    let first_submitted: Vec<_> = (0..120).map(statement).collect();
    let ((applied_before_crash, tip_before_crash, tip_certificate), checkpoint) = runner(3)
        .start_and_recover({
            let app = first.clone();
            let submitted = first_submitted.clone();
            |context| async move {
                let validator = start_single(&context, app.clone()).await;
                app.submit(submitted.clone());
                wait_until(&context, || {
                    all_statements(&app.chain()).len() == submitted.len()
                })
                .await;
                *app.failing.lock().unwrap() = true;
                context.sleep(Duration::from_millis(500)).await;
                let shared = &validator.engine.shared;
                let tip = shared.tip_height().unwrap();
                let certificate = validator.finalization(tip).await.expect("tip certificate");
                (shared.applied_height().unwrap(), tip, certificate)
            }
        });
    let first_chain = first.chain();
    assert_eq!(
        *first_chain.keys().next_back().unwrap(),
        applied_before_crash
    );
    assert!(
        tip_before_crash > applied_before_crash,
        "consensus finalized blocks the application never applied"
    );
    let refused = first.refused.lock().unwrap().clone();
    assert_eq!(refused[0].height, applied_before_crash + 1);

    // Second run on the recovered storage, with a working application that remembers the first
    // run's chain (as a ledger with durable state would).
    let second = TestApp::default();
    *second.chain.lock().unwrap() = first_chain;
    let second_submitted: Vec<_> = (120..200).map(statement).collect();
    deterministic::Runner::from(checkpoint).start({
        let app = second.clone();
        let submitted = second_submitted.clone();
        |context| async move {
            let validator = start_single(&context, app.clone()).await;
            *app.recovered.lock().unwrap() = validator.engine.shared.applied_height();
            app.submit(submitted.clone());
            wait_until(&context, || {
                all_statements(&app.chain()).len() == 120 + submitted.len()
                    && app.height() > Some(tip_before_crash)
            })
            .await;
        }
    });

    // Consensus remembered exactly what was applied, redelivered from there the blocks that
    // were finalized but refused (identical: `finalized` asserts it per height), and the chain
    // continued on top of them: nothing finalized was lost, nothing repeated.
    let recovered = second.recovered.lock().unwrap().unwrap();
    assert_eq!(
        recovered, applied_before_crash,
        "the applied height survives the crash"
    );
    let redelivered = second.deliveries();
    assert_eq!(
        redelivered[0], refused[0],
        "the first refused block comes back first"
    );
    assert_delivered_in_order(&redelivered);
    let chain = second.chain();
    for (height, block) in chain.iter().skip(1) {
        assert_eq!(
            block.parent,
            chain[&(height - 1)].digest(),
            "height {height}"
        );
    }
    for block in &refused {
        assert_eq!(
            &chain[&block.height], block,
            "a block finalized before the crash changed"
        );
    }
    let committee = [hex::encode(signer(7).public_key().as_ref())];
    let proven = verify_finalization(NAMESPACE, &committee, &tip_certificate).unwrap();
    assert_eq!(
        chain[&tip_before_crash].digest(),
        proven.digest,
        "the block certified final before the crash is the one applied after it"
    );
    let all_submitted: Vec<_> = first_submitted
        .into_iter()
        .chain(second_submitted)
        .collect();
    assert_exactly_once(&chain, &all_submitted);
}

#[test]
fn four_validators_agree_on_one_chain() {
    runner(4).start(|context| async move {
        let signers: Vec<_> = (0..4).map(signer).collect();
        let keys: Vec<_> = signers.iter().map(|s| s.public_key()).collect();
        let oracle = network(&context, &keys).await;
        connect_all(&oracle, &keys, Duration::from_millis(50)).await;
        let apps: Vec<_> = (0..4).map(|_| TestApp::default()).collect();
        let mut validators = Vec::new();
        for (signer, app) in signers.into_iter().zip(&apps) {
            validators.push(start_validator(&context, &oracle, signer, &keys, app.clone()).await);
        }

        // Each validator's pool gets its own statements; each leads every fourth view.
        let mut submitted = Vec::new();
        for (i, app) in apps.iter().enumerate() {
            let statements: Vec<_> = (i * 50..(i + 1) * 50).map(statement).collect();
            submitted.extend(statements.clone());
            app.submit(statements);
        }
        wait_until(&context, || {
            apps.iter()
                .all(|app| all_statements(&app.chain()).len() == submitted.len())
        })
        .await;

        let chains: Vec<_> = apps.iter().map(TestApp::chain).collect();
        let common = chains
            .iter()
            .map(|c| *c.keys().next_back().unwrap())
            .min()
            .unwrap();
        for height in 0..=common {
            let block = &chains[0][&height];
            assert!(
                chains.iter().all(|c| &c[&height] == block),
                "validators disagree at height {height}"
            );
        }
        let mut leaders = HashSet::new();
        let anchored: Vec<_> = chains[0]
            .values()
            .filter(|b| b.anchor.height > 0 && b.height <= common)
            .collect();
        assert!(
            !anchored.is_empty(),
            "finalized blocks certify applied heights"
        );
        for (app, chain) in apps.iter().zip(&chains) {
            assert!(app.contradicted.lock().unwrap().is_empty());
            let anchors = app.anchors.lock().unwrap().clone();
            for block in &anchored {
                assert_eq!(
                    anchors[&block.anchor.height], block.anchor,
                    "a finalized block certifies the outcome every validator computed"
                );
            }
            assert_delivered_in_order(&app.deliveries());
            assert_exactly_once(chain, &submitted);
            assert!(
                *app.verify_calls.lock().unwrap() > 0,
                "blocks from other validators are verified by the application"
            );
            leaders.extend(chain.values().skip(1).map(|b| b.context.leader));
        }
        assert_eq!(leaders.len(), 4, "every validator led some finalized block");

        let last = &chains[0][&common];
        let certificate = validators[0].finalization(common).await.expect("stored");
        let proven =
            verify_finalization(NAMESPACE, &validators[0].committee, &certificate).unwrap();
        assert_eq!(proven.digest, last.digest());
    });
}

#[test]
fn statements_one_validator_shares_are_proposed_by_the_others() {
    runner(4).start(|context| async move {
        let signers: Vec<_> = (0..4).map(signer).collect();
        let keys: Vec<_> = signers.iter().map(|s| s.public_key()).collect();
        let oracle = network(&context, &keys).await;
        connect_all(&oracle, &keys, Duration::from_millis(20)).await;
        let apps: Vec<_> = (0..4).map(|_| TestApp::default()).collect();
        let mut validators = Vec::new();
        for (signer, app) in signers.into_iter().zip(&apps) {
            validators.push(start_validator(&context, &oracle, signer, &keys, app.clone()).await);
        }
        // Give the p2p connections time to form, then validator 0 shares statements it never
        // puts in its own pool: only the other three can propose them.
        context.sleep(Duration::from_secs(2)).await;
        let shared: Vec<_> = (0..30).map(statement).collect();
        assert!(validators[0].engine.share.is_some());
        assert!(crate::Share(validators[0].engine.share.clone()).send(&shared));
        wait_until(&context, || {
            apps.iter()
                .all(|app| all_statements(&app.chain()).len() >= shared.len())
        })
        .await;
        let chain = apps[0].chain();
        let carrying: Vec<&Block> = chain
            .values()
            .filter(|b| b.statements.iter().any(|s| shared.contains(s)))
            .collect();
        let first: [u8; 32] = keys[0].as_ref().try_into().unwrap();
        assert!(!carrying.is_empty());
        assert!(
            carrying.iter().all(|b| b.context.leader != first),
            "the sharer never had them in its pool"
        );
        let included: HashSet<_> = all_statements(&chain).into_iter().collect();
        assert!(shared.iter().all(|s| included.contains(s)), "none is lost");
    });
}

/// Governance changes the committee between epochs (8 heights each): epoch 1 adds a fifth
/// validator, which followed epoch 0 as an observer; epoch 2 removes the first. Once epoch 2
/// runs, the first two validators are cut off: the chain goes on only if the newcomer votes, and
/// only if the engines really switched committees (the genesis committee would be two of four).
/// `n` stand-in ledgers that share one governance (the committee of each epoch that has one).
fn apps_with(committees: &Arc<BTreeMap<u64, Vec<[u8; 32]>>>, n: usize) -> Vec<TestApp> {
    (0..n)
        .map(|_| TestApp {
            committees: committees.clone(),
            ..TestApp::default()
        })
        .collect()
}

#[test]
fn committees_change_at_epoch_boundaries_without_stopping() {
    runner(11).start(|context| async move {
        const EPOCH: u64 = 8;
        let signers: Vec<_> = (0..5).map(|i| signer(100 + i)).collect();
        let keys: Vec<_> = signers.iter().map(|s| s.public_key()).collect();
        let raw = |k: &ed25519::PublicKey| -> [u8; 32] { k.as_ref().try_into().unwrap() };
        let genesis = &keys[..4];
        let removed_first: Vec<_> = keys[1..].to_vec();
        let committees = Arc::new(BTreeMap::from([
            (1, keys.iter().map(raw).collect::<Vec<_>>()),
            (2, removed_first.iter().map(raw).collect()),
        ]));
        let oracle = network(&context, &keys).await;
        connect_all(&oracle, &keys, Duration::from_millis(50)).await;
        let apps = apps_with(&committees, 5);
        let mut validators = Vec::new();
        for (signer, app) in signers.into_iter().zip(&apps) {
            validators.push(
                start_with_epochs(
                    &context,
                    &oracle,
                    signer,
                    genesis,
                    app.clone(),
                    std::num::NonZeroU64::new(EPOCH).unwrap(),
                )
                .await,
            );
        }
        for (i, app) in apps.iter().enumerate() {
            app.submit((i * 20..(i + 1) * 20).map(statement));
        }

        // Into epoch 2, then the first two validators vanish.
        wait_until(&context, || {
            apps.iter().all(|a| a.height() >= Some(2 * EPOCH + 1))
        })
        .await;
        for gone in &keys[..2] {
            for other in &keys {
                if gone != other {
                    let _ = oracle.remove_link(gone.clone(), other.clone()).await;
                    let _ = oracle.remove_link(other.clone(), gone.clone()).await;
                }
            }
        }
        let target = 5 * EPOCH;
        wait_until(&context, || {
            apps[2..].iter().all(|a| a.height() >= Some(target))
        })
        .await;

        // One chain, applied alike by the remaining validators and the newcomer.
        let chains: Vec<_> = apps[2..].iter().map(TestApp::chain).collect();
        for height in 0..=target {
            let block = &chains[0][&height];
            assert!(
                chains.iter().all(|c| &c[&height] == block),
                "disagreement at {height}"
            );
            if height > 0 {
                assert_eq!(
                    block.context.epoch,
                    height / EPOCH,
                    "height {height} is in its epoch"
                );
            }
        }
        let leader_of = |h: u64| chains[0][&h].context.leader;
        let (first, newcomer) = (raw(&keys[0]), raw(&keys[4]));
        assert!(
            (1..EPOCH).all(|h| leader_of(h) != newcomer),
            "an observer never leads"
        );
        assert!(
            (EPOCH..target).any(|h| leader_of(h) == newcomer),
            "the added validator leads once it is a member"
        );
        assert!(
            (2 * EPOCH..=target).all(|h| leader_of(h) != first),
            "the removed validator never leads again"
        );

        // Past epochs' journals are removed: each remaining validator, in epoch 5, keeps the
        // journals of epochs 4 and 5 only.
        {
            use commonware_runtime::Storage as _;
            for key in &keys[2..] {
                let prefix = format!("validator-{key}");
                for epoch in 0..=3 {
                    let scan = context
                        .scan(&engine::journal_partition(&prefix, epoch))
                        .await;
                    assert!(
                        matches!(scan, Err(commonware_runtime::Error::PartitionMissing(_))),
                        "the journal of epoch {epoch} is still there: {scan:?}"
                    );
                }
                for epoch in 4..=5 {
                    let scan = context
                        .scan(&engine::journal_partition(&prefix, epoch))
                        .await;
                    assert!(
                        scan.is_ok_and(|blobs| !blobs.is_empty()),
                        "epoch {epoch} kept"
                    );
                }
            }
        }

        // A late certificate verifies with the committee of its epoch.
        let certificate = validators[2].finalization(target).await.expect("stored");
        let members: Vec<String> = removed_first
            .iter()
            .map(|k| hex::encode(k.as_ref()))
            .collect();
        let proven = verify_finalization(NAMESPACE, &members, &certificate).unwrap();
        assert_eq!(proven.digest, chains[0][&target].digest());
        assert_eq!(proven.epoch, target / EPOCH);
    });
}

/// A validator that joined by state sync, its application holding only the outcome of block
/// `floor` (epochs of 8 heights; it is a member of the committee from epoch 1), starts consensus
/// there: it is never handed a block below the floor, applies exactly the others' chain from it
/// on across epoch boundaries, computes the same outcomes, and votes and leads as a member.
fn a_joiner_starts_at_its_floor(seed: u64, floor: u64) {
    runner(seed).start(|context| async move {
        const EPOCH: u64 = 8;
        let signers: Vec<_> = (0..5).map(|i| signer(200 + i)).collect();
        let keys: Vec<_> = signers.iter().map(|s| s.public_key()).collect();
        let raw = |k: &ed25519::PublicKey| -> [u8; 32] { k.as_ref().try_into().unwrap() };
        let genesis = &keys[..4];
        let committees = Arc::new(BTreeMap::from([(
            1,
            keys.iter().map(raw).collect::<Vec<_>>(),
        )]));
        let oracle = network(&context, &keys).await;
        connect_all(&oracle, &keys, Duration::from_millis(50)).await;
        let apps = apps_with(&committees, 5);
        let epochs = std::num::NonZeroU64::new(EPOCH).unwrap();
        let mut signers = signers.into_iter();
        let mut validators = Vec::new();
        for (i, app) in apps[..4].iter().enumerate() {
            let signer = signers.next().unwrap();
            validators.push(
                start_with_epochs(&context, &oracle, signer, genesis, app.clone(), epochs).await,
            );
            app.submit((i * 20..(i + 1) * 20).map(statement));
        }
        // The four run past the floor without the fifth (four of five members are a quorum).
        wait_until(&context, || {
            apps[..4].iter().all(|a| a.height() > Some(floor))
        })
        .await;

        // What state sync gives the joiner: the floor block's outcome, and its certificate.
        let joiner = &apps[4];
        let theirs = apps[0].anchors.lock().unwrap()[&floor];
        joiner.anchors.lock().unwrap().insert(floor, theirs);
        joiner
            .chain
            .lock()
            .unwrap()
            .insert(floor, apps[0].chain()[&floor].clone());
        let finalization = validators[0].finalization(floor).await.expect("stored");
        let start = crate::start_floor(&crate::StartFloor {
            height: floor,
            finalization,
        })
        .unwrap();
        let signer = signers.next().unwrap();
        validators.push(
            start_from(
                &context,
                &oracle,
                signer,
                genesis,
                joiner.clone(),
                epochs,
                Some(start),
            )
            .await,
        );
        let late: Vec<_> = (100..120).map(statement).collect();
        joiner.submit(late.clone());
        let target = 4 * EPOCH;
        wait_until(&context, || apps.iter().all(|a| a.height() >= Some(target))).await;

        let deliveries = joiner.deliveries();
        assert!(
            deliveries.iter().all(|b| b.height >= floor),
            "nothing below the floor is replayed"
        );
        assert!(
            deliveries[0].height <= floor + 1,
            "delivery resumes at the floor"
        );
        assert_delivered_in_order(&deliveries);
        let (chain, ours) = (apps[0].chain(), joiner.chain());
        let (anchors, computed) = (
            apps[0].anchors.lock().unwrap().clone(),
            joiner.anchors.lock().unwrap().clone(),
        );
        for height in floor..=target {
            assert_eq!(ours[&height], chain[&height], "the same block at {height}");
            assert_eq!(
                computed[&height], anchors[&height],
                "the same outcome at {height}"
            );
        }
        assert!(joiner.contradicted.lock().unwrap().is_empty());
        assert!(
            (floor + 1..=target).any(|h| chain[&h].context.leader == raw(&keys[4])),
            "the joiner leads once it runs"
        );
        let finalized: HashSet<_> = all_statements(&chain).into_iter().collect();
        assert!(
            late.iter().all(|s| finalized.contains(s)),
            "its statements are finalized"
        );
    });
}

#[test]
fn a_start_floor_that_is_not_a_finalization_is_refused_before_anything_starts() {
    let refused = |height: u64, finalization: Vec<u8>| {
        matches!(
            crate::start_floor(&crate::StartFloor {
                height,
                finalization
            }),
            Err(crate::ConsensusError::Config(_))
        )
    };
    assert!(refused(5, Vec::new()));
    assert!(refused(5, b"not a certificate".to_vec()));
    assert!(refused(5, vec![0; crate::MAX_FINALIZATION_BYTES + 1]));
    let keys: Vec<_> = (1..=4u8)
        .map(|i| crate::ValidatorKey::from_seed([i; 32]))
        .collect();
    let committee: Vec<String> = keys
        .iter()
        .map(crate::ValidatorKey::public_key_hex)
        .collect();
    let proposal = crate::FinalizedProposal {
        epoch: 0,
        view: 9,
        parent_view: 8,
        digest: [3; 32],
    };
    let good = crate::sign_finalization(NAMESPACE, &committee, &keys[..3], &proposal).unwrap();
    assert!(!refused(5, good.clone()));
    assert!(refused(0, good.clone()), "height 0 is genesis");
    let mut trailing = good;
    trailing.push(0);
    assert!(refused(5, trailing));
}

#[test]
fn a_joiner_starts_inside_an_epoch_at_its_certified_floor() {
    a_joiner_starts_at_its_floor(21, 11);
}

#[test]
fn a_joiner_starts_at_an_epoch_boundary_at_its_certified_floor() {
    a_joiner_starts_at_its_floor(22, 15);
}

mod verify_rules {
    use super::*;
    use crate::{
        app::{LedgerApp, Shared},
        block::{block_context, ChainBlock},
    };
    use commonware_consensus::{
        marshal::ancestry,
        simplex::types::Context,
        types::{Epoch, Round, View},
        Application as _,
    };
    use commonware_cryptography::{sha256, Digested};
    use commonware_macros::select;

    fn digested(block: &Block) -> Digested<ChainBlock> {
        Digested::precomputed(
            ChainBlock::new(block.clone()).unwrap(),
            sha256::Digest(block.digest()),
        )
    }

    struct Case {
        parent: Block,
        context: Context<sha256::Digest, ed25519::PublicKey>,
        block: Block,
    }

    /// A valid child of a genesis block stamped `parent_ms`, proposed at `now_ms`.
    fn case(parent_ms: u64, now_ms: u64) -> Case {
        let parent = Block::genesis(NAMESPACE, parent_ms);
        let context = Context {
            round: Round::new(Epoch::zero(), View::new(3)),
            leader: signer(1).public_key(),
            parent: (View::zero(), sha256::Digest(parent.digest())),
        };
        let block = Block {
            parent: parent.digest(),
            height: 1,
            timestamp_ms: now_ms,
            statements: vec![b"statement".to_vec()],
            context: block_context(&context),
            anchor: Anchor::default(),
        };
        Case {
            parent,
            context,
            block,
        }
    }

    async fn verify(
        context: &deterministic::Context,
        ledger: &mut LedgerApp<TestApp>,
        case: &Case,
    ) -> bool {
        let chain = ancestry::from_iter([digested(&case.block), digested(&case.parent)]);
        ledger
            .verify((context.child("verify"), case.context.clone()), chain)
            .await
    }

    fn now_ms(context: &deterministic::Context) -> u64 {
        u64::try_from(
            context
                .current()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap()
    }

    #[test]
    fn a_valid_block_is_accepted_after_the_application_agrees() {
        runner(5).start(|context| async move {
            let app = TestApp::default();
            let mut ledger = LedgerApp::new(app.clone(), Arc::new(Shared::new(None)), MAX_IDLE);
            let now = now_ms(&context);
            assert!(verify(&context, &mut ledger, &case(now, now)).await);
            assert_eq!(*app.verify_calls.lock().unwrap(), 1);

            *app.reject.lock().unwrap() = true;
            assert!(!verify(&context, &mut ledger, &case(now, now)).await);
        });
    }

    #[test]
    fn structural_violations_are_rejected_without_asking_the_application() {
        runner(6).start(|context| async move {
            let app = TestApp::default();
            let mut ledger = LedgerApp::new(app.clone(), Arc::new(Shared::new(None)), MAX_IDLE);
            let now = now_ms(&context) + 1_000;

            let backwards = case(now, now - 1);
            assert!(
                !verify(&context, &mut ledger, &backwards).await,
                "timestamp before the parent's"
            );

            let mut wrong_view = case(now, now);
            wrong_view.block.context.view += 1;
            assert!(
                !verify(&context, &mut ledger, &wrong_view).await,
                "context of another view"
            );

            let mut wrong_leader = case(now, now);
            wrong_leader.block.context.leader = signer(2).public_key().as_ref().try_into().unwrap();
            assert!(
                !verify(&context, &mut ledger, &wrong_leader).await,
                "someone else's proposal"
            );

            let mut anchor_ahead = case(now, now);
            anchor_ahead.block.anchor.height = 1;
            assert!(
                !verify(&context, &mut ledger, &anchor_ahead).await,
                "a block cannot certify its own outcome"
            );

            let mut anchor_backwards = case(now, now);
            anchor_backwards.block.anchor.log_size = 7;
            assert!(
                !verify(&context, &mut ledger, &anchor_backwards).await,
                "same anchor height as the parent with different roots"
            );

            assert_eq!(*app.verify_calls.lock().unwrap(), 0);
        });
    }

    #[test]
    fn a_block_from_the_future_waits_for_the_clock_instead_of_being_rejected() {
        runner(7).start(|context| async move {
            let app = TestApp::default();
            let mut ledger = LedgerApp::new(app.clone(), Arc::new(Shared::new(None)), MAX_IDLE);
            let now = now_ms(&context);
            let ahead = 10_000;
            let future = case(now, now + ahead);

            // Still undecided while the block is more than MAX_TIMESTAMP_AHEAD_MS ahead...
            select! {
                _ = context.sleep(Duration::from_millis(ahead - crate::MAX_TIMESTAMP_AHEAD_MS - 100)) => {},
                _ = verify(&context, &mut ledger, &future) => panic!("decided too early"),
            }
            // ...and accepted once the clock is within the window.
            assert!(verify(&context, &mut ledger, &future).await);
            assert!(now_ms(&context) >= now + ahead - crate::MAX_TIMESTAMP_AHEAD_MS);
        });
    }
}
