//! Specification of joining by state sync (`proverka_state::StateDb::sync_from`), on commonware's
//! deterministic runtime: a joiner copies a recent height from an untrusted peer and keeps it only
//! if it is the state whose root it trusts.

use commonware_runtime::{deterministic, Runner as _, Supervisor as _};
use futures::lock::Mutex;
use proverka_state::{
    verify, Sequential, StateConfig, StateDb, StateError, StateRoot, SyncFetch, SyncPart,
    SyncTarget, MAX_SYNC_OPS, SYNC_TARGETS_KEPT,
};
use std::{
    collections::BTreeMap,
    num::NonZeroU64,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

type Db = StateDb<deterministic::Context, Sequential>;
type Writes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn key(i: u32) -> Vec<u8> {
    format!("device/{i:08}").into_bytes()
}

fn value(i: u32, height: u64) -> Vec<u8> {
    format!("record {i} written at {height}").into_bytes()
}

/// Block `h`: ten puts spread over 300 keys, and every third block one delete.
fn block(h: u64) -> Writes {
    let mut writes: Writes = (0..10u64)
        .map(|j| {
            let i = ((h * 7 + j * 31) % 300) as u32;
            (key(i), Some(value(i, h)))
        })
        .collect();
    if h.is_multiple_of(3) {
        writes.push((key(((h * 13) % 300) as u32), None));
    }
    writes
}

/// Small blobs and frequent pruning, so that syncs start above operation 0.
fn config(prefix: &str) -> StateConfig {
    let mut cfg = StateConfig::new(prefix);
    cfg.sync_interval = 16;
    cfg.items_per_blob = NonZeroU64::new(16).unwrap();
    cfg
}

/// Applies `from..=to`, returning each height's root; `model` follows the writes.
async fn apply(
    db: &mut Db,
    from: u64,
    to: u64,
    model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
) -> Vec<StateRoot> {
    let mut roots = Vec::new();
    for h in from..=to {
        let writes = block(h);
        for (k, v) in &writes {
            match v {
                Some(v) => model.insert(k.clone(), v.clone()),
                None => model.remove(k),
            };
        }
        roots.push(db.apply(h, &writes).await.unwrap());
    }
    roots
}

/// A serving peer reached in-process: each part answered by a database (the same one for an
/// honest peer), optionally with every response's byte `flip` inverted.
struct Peer {
    auth: Arc<Mutex<Db>>,
    values: Arc<Mutex<Db>>,
    flip: Option<usize>,
    requests: AtomicUsize,
}

impl Peer {
    fn honest(db: &Arc<Mutex<Db>>) -> Arc<Self> {
        Arc::new(Self {
            auth: db.clone(),
            values: db.clone(),
            flip: None,
            requests: AtomicUsize::new(0),
        })
    }
}

impl SyncFetch for Peer {
    async fn fetch(&self, part: SyncPart, request: Vec<u8>) -> Result<Vec<u8>, String> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let db = match part {
            SyncPart::Auth => &self.auth,
            SyncPart::Values => &self.values,
        };
        let mut bytes = db
            .lock()
            .await
            .serve_sync(part, &request)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(at) = self.flip {
            let at = at % bytes.len();
            bytes[at] ^= 0xff;
        }
        Ok(bytes)
    }
}

fn run<F, Fut>(f: F)
where
    F: FnOnce(deterministic::Context) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    deterministic::Runner::default().start(f);
}

#[test]
fn a_joiner_synced_to_a_past_height_has_its_state_and_follows_the_source_from_there() {
    run(|context| async move {
        let mut source = Db::open_with(context.child("source"), config("source"))
            .await
            .unwrap();
        let mut model = BTreeMap::new();
        let roots = apply(&mut source, 1, 100, &mut model).await;
        let at_100 = model.clone();
        let target = source.sync_target(100).unwrap();
        assert_eq!((target.height, target.root), (100, roots[99]));
        assert!(
            target.auth.start > 0,
            "the source has pruned: sync starts above 0"
        );
        // The source goes on; the joiner still syncs to height 100.
        let later = apply(&mut source, 101, 110, &mut model).await;
        let source = Arc::new(Mutex::new(source));

        let mut joiner = Db::sync_from(
            context.child("joiner"),
            config("joiner"),
            target,
            100,
            roots[99],
            Peer::honest(&source),
        )
        .await
        .unwrap();
        assert_eq!((joiner.height(), joiner.root()), (100, roots[99]));
        for i in 0..300 {
            let (got, proof) = joiner.get_with_proof(&key(i)).await.unwrap();
            assert_eq!(got.as_ref(), at_100.get(&key(i)), "key {i}");
            verify(&roots[99], &key(i), got.as_deref(), &proof).unwrap();
        }
        // Every (ledger key, value) pair can be listed, page by page, for the node's own tables.
        let mut listed = BTreeMap::new();
        let mut after = None;
        loop {
            let (page, last) = joiner.entries(after, 7).await.unwrap();
            listed.extend(page);
            if last.is_none() {
                break;
            }
            after = last;
        }
        assert_eq!(listed, at_100);
        // From the floor on, the joiner applies blocks like any validator: same roots.
        let mut joiner_model = at_100;
        assert_eq!(apply(&mut joiner, 101, 110, &mut joiner_model).await, later);
        drop(joiner);
        let reopened = Db::open_with(context.child("reopened"), config("joiner"))
            .await
            .unwrap();
        assert_eq!((reopened.height(), reopened.root()), (110, later[9]));
    });
}

/// The ways a self-consistent value database can differ from the certified state in its last
/// block (a difference overwritten later would be harmless: only active values must agree).
fn forge(variant: usize, writes: &mut Writes) {
    match variant {
        0 => writes[0].1 = Some(b"forged".to_vec()),
        1 => writes.push((key(999), Some(b"a record the state does not have".to_vec()))),
        _ => {
            writes.remove(0);
        }
    }
}

#[test]
fn a_peer_serving_other_values_is_caught_and_nothing_is_kept() {
    run(|context| async move {
        let mut honest = Db::open_with(context.child("honest"), config("honest"))
            .await
            .unwrap();
        let roots = apply(&mut honest, 1, 30, &mut BTreeMap::new()).await;
        let honest = Arc::new(Mutex::new(honest));
        for variant in 0..3 {
            let mut evil = Db::open_with(context.child("evil"), config(&format!("evil{variant}")))
                .await
                .unwrap();
            for h in 1..=30 {
                let mut writes = block(h);
                if h == 30 {
                    forge(variant, &mut writes);
                }
                evil.apply(h, &writes).await.unwrap();
            }
            let mut target = honest.lock().await.sync_target(30).unwrap();
            target.values = evil.sync_target(30).unwrap().values;
            let peer = Arc::new(Peer {
                auth: honest.clone(),
                values: Arc::new(Mutex::new(evil)),
                flip: None,
                requests: AtomicUsize::new(0),
            });
            let refused = Db::sync_from(
                context.child("joiner"),
                config("joiner"),
                target,
                30,
                roots[29],
                peer,
            )
            .await;
            assert!(
                matches!(refused, Err(StateError::SyncValuesMismatch(_))),
                "variant {variant}: {:?}",
                refused.err()
            );
        }

        // Nothing was left behind: the same partitions now sync from an honest peer.
        let target = honest.lock().await.sync_target(30).unwrap();
        let joiner = Db::sync_from(
            context.child("joiner2"),
            config("joiner"),
            target,
            30,
            roots[29],
            Peer::honest(&honest),
        )
        .await
        .unwrap();
        assert_eq!(joiner.root(), roots[29]);
    });
}

#[test]
fn a_target_that_is_not_the_trusted_height_and_root_is_refused_before_any_fetch() {
    run(|context| async move {
        let mut source = Db::open_with(context.child("source"), config("source"))
            .await
            .unwrap();
        let roots = apply(&mut source, 1, 20, &mut BTreeMap::new()).await;
        let target = source.sync_target(20).unwrap();
        let peer = Peer::honest(&Arc::new(Mutex::new(source)));
        for (height, root) in [(20, roots[18]), (19, roots[19])] {
            let refused = Db::sync_from(
                context.child("joiner"),
                config("joiner"),
                target,
                height,
                root,
                peer.clone(),
            )
            .await;
            assert!(matches!(
                refused,
                Err(StateError::SyncUntrustedTarget { height: 20, .. })
            ));
        }
        assert_eq!(peer.requests.load(Ordering::Relaxed), 0);
    });
}

#[test]
fn a_peer_that_lies_about_the_ops_root_or_corrupts_responses_is_refused() {
    run(|context| async move {
        let mut source = Db::open_with(context.child("source"), config("source"))
            .await
            .unwrap();
        let roots = apply(&mut source, 1, 40, &mut BTreeMap::new()).await;
        let target = source.sync_target(40).unwrap();
        let source = Arc::new(Mutex::new(source));

        let mut lying = target;
        lying.auth.ops_root[0] ^= 1;
        let refused = Db::sync_from(
            context.child("lie"),
            config("lie"),
            lying,
            40,
            roots[39],
            Peer::honest(&source),
        )
        .await;
        assert!(
            matches!(refused, Err(StateError::Sync(_))),
            "{:?}",
            refused.err()
        );

        for flip in [0, 7, 100, 1000] {
            let peer = Arc::new(Peer {
                auth: source.clone(),
                values: source.clone(),
                flip: Some(flip),
                requests: AtomicUsize::new(0),
            });
            let refused = Db::sync_from(
                context.child("flip"),
                config(&format!("flip{flip}")),
                target,
                40,
                roots[39],
                peer,
            )
            .await;
            assert!(refused.is_err(), "byte {flip} flipped was accepted");
        }
    });
}

#[test]
fn sync_targets_are_served_for_recent_unpruned_heights_only() {
    run(|context| async move {
        let mut cfg = StateConfig::new("window");
        cfg.sync_interval = 0;
        let mut db = Db::open_with(context.child("window"), cfg).await.unwrap();
        let last = SYNC_TARGETS_KEPT as u64 + 10;
        apply(&mut db, 1, last, &mut BTreeMap::new()).await;
        assert_eq!(db.sync_target(last).unwrap().height, last);
        assert_eq!(db.sync_target(11).unwrap().height, 11);
        for missing in [10, last + 1] {
            assert!(matches!(
                db.sync_target(missing),
                Err(StateError::SyncTargetUnavailable { oldest: 11, .. })
            ));
        }

        // Rewriting every key at every height moves the floor: once pruned past height 2's
        // boundary, height 2 can no longer be served.
        let mut cfg = config("pruned");
        cfg.sync_interval = 2;
        let mut db = Db::open_with(context.child("pruned"), cfg).await.unwrap();
        for h in 1..=40u64 {
            let writes: Writes = (0..30).map(|i| (key(i), Some(value(i, h)))).collect();
            db.apply(h, &writes).await.unwrap();
        }
        assert!(matches!(
            db.sync_target(2),
            Err(StateError::SyncTargetPruned { height: 2 })
        ));
        assert!(db.sync_target(40).is_ok());
    });
}

#[test]
fn sync_targets_round_trip_and_malformed_ones_are_refused() {
    run(|context| async move {
        let mut db = Db::open_with(context.child("db"), config("db"))
            .await
            .unwrap();
        apply(&mut db, 1, 20, &mut BTreeMap::new()).await;
        let target = db.sync_target(20).unwrap();
        let bytes = target.encode();
        assert_eq!(bytes.len(), SyncTarget::ENCODED_BYTES);
        assert_eq!(SyncTarget::decode(&bytes).unwrap(), target);

        for bad in [
            &bytes[..bytes.len() - 1],
            &[bytes.as_slice(), &[0]].concat()[..],
        ] {
            assert!(matches!(
                SyncTarget::decode(bad),
                Err(StateError::SyncTargetMalformed(_))
            ));
        }
        let mut empty_range = target;
        empty_range.auth.start = empty_range.auth.size;
        assert!(matches!(
            SyncTarget::decode(&empty_range.encode()),
            Err(StateError::SyncTargetMalformed(_))
        ));
    });
}

#[test]
fn garbage_or_oversized_sync_requests_are_refused() {
    use commonware_codec::Encode as _;
    use commonware_storage::{mmr::Location, qmdb::sync::Request};
    run(|context| async move {
        let mut db = Db::open_with(context.child("db"), config("db"))
            .await
            .unwrap();
        apply(&mut db, 1, 5, &mut BTreeMap::new()).await;
        let size = Location::new(db.sync_target(5).unwrap().auth.size);
        for part in [SyncPart::Auth, SyncPart::Values] {
            assert!(matches!(
                db.serve_sync(part, b"\xff garbage").await,
                Err(StateError::SyncRequest(_))
            ));
            let too_many = Request::Operations {
                size,
                start: Location::new(0),
                max_ops: NonZeroU64::new(MAX_SYNC_OPS + 1).unwrap(),
            };
            assert!(matches!(
                db.serve_sync(part, &too_many.encode()).await,
                Err(StateError::SyncRequest(_))
            ));
        }
        let beyond = Request::Operations {
            size: Location::new(*size + 100),
            start: Location::new(0),
            max_ops: NonZeroU64::new(4).unwrap(),
        };
        assert!(db
            .serve_sync(SyncPart::Auth, &beyond.encode())
            .await
            .is_err());
    });
}

#[test]
fn value_responses_stay_within_their_byte_bound_even_for_values_at_their_limit() {
    use commonware_codec::Encode as _;
    use commonware_storage::{mmr::Location, qmdb::sync::Request};
    run(|context| async move {
        let mut source = Db::open_with(context.child("source"), config("source"))
            .await
            .unwrap();
        // 100 values of 256 KiB: 25 MiB, more than one response may carry.
        let big = |i: u32| vec![i as u8; proverka_state::MAX_VALUE_BYTES];
        let writes: Writes = (0..100).map(|i| (key(i), Some(big(i)))).collect();
        let root = source.apply(1, &writes).await.unwrap();
        let target = source.sync_target(1).unwrap();
        let bound = SyncPart::Values.max_response_bytes();
        assert!(bound < 17 * 1024 * 1024, "{bound}");

        // Asked for as many operations as a request may name: served in part, within the bound.
        let request = Request::Operations {
            size: Location::new(target.values.size),
            start: Location::new(target.values.start),
            max_ops: NonZeroU64::new(MAX_SYNC_OPS).unwrap(),
        };
        let bytes = source
            .serve_sync(SyncPart::Values, &request.encode())
            .await
            .unwrap();
        assert!(bytes.len() <= bound, "{} > {bound}", bytes.len());

        // A joiner still gets every value, over several requests.
        let source = Arc::new(Mutex::new(source));
        let peer = Peer::honest(&source);
        let joiner = Db::sync_from(
            context.child("joiner"),
            config("joiner"),
            target,
            1,
            root,
            peer.clone(),
        )
        .await
        .unwrap();
        for i in 0..100 {
            assert_eq!(joiner.get(&key(i)).await.unwrap(), Some(big(i)), "key {i}");
        }
        // 103 value operations at most 64 a time, and one request for the authenticated part.
        assert_eq!(target.values.size, 103);
        assert!(peer.requests.load(Ordering::Relaxed) >= 3);
    });
}
