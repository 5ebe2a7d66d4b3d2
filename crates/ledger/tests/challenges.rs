//! Challenge nonces as a specification: a device's current owner registers a random nonce for
//! some of its devices; each may put it in its evidence once, within the window, instead of an
//! anchored log root. Every refusal names its reason, and the index stays bounded.

use proverka_ledger::challenges::{
    self, challenge_id, device_key, owner_key, queue_key, record_key, ChallengeQueue,
    ChallengeRecord, PRUNE_PER_REGISTRATION,
};
use proverka_ledger::kinds::{
    ACCEPT, BIRTH, CHALLENGE, DECOMMISSION, EVIDENCE, EVIDENCE_BATCH, MODEL, TRANSFER,
};
use proverka_ledger::payload::{encode_map, PayloadError};
use proverka_ledger::records::{device_hash, keys, DeviceRecord, Role};
use proverka_ledger::{
    make, BlockContext, ChallengeRefusal, Decision, LogAnchor, Rejection, Rules,
    DEFAULT_CHALLENGE_WINDOW_MS, MAX_CHALLENGE_DEVICES, MAX_CHALLENGE_WINDOW_MS,
    MAX_OPEN_CHALLENGES, MIN_CHALLENGE_WINDOW_MS, NONCE_ROOT_WINDOW_MS,
};
use proverka_statement::statement_id;

mod support;
use support::city::{city_genesis, party, verdict, Party, T0};
use support::MemState;

const FW: [u8; 32] = [0x11; 32];

/// A maker (acme) and two operators (water, grid). Every block anchors a new log root, unless a
/// test plays an idle ledger.
struct City {
    rules: Rules,
    state: MemState,
    height: u64,
    now: u64,
    acme: Party,
    water: Party,
    grid: Party,
}

fn city() -> City {
    let (acme, water, grid) = (party("acme"), party("water"), party("grid"));
    let issuers = vec![
        acme.issuer(Role::Manufacturer),
        water.issuer(Role::Operator),
        grid.issuer(Role::Operator),
    ];
    let genesis = city_genesis(issuers, &acme);
    let mut c = City {
        rules: Rules::new(&genesis).unwrap(),
        state: MemState::default(),
        height: 0,
        now: T0,
        acme,
        water,
        grid,
    };
    let model = c.acme.sign_at(MODEL, &make::model("meter", &[]), c.now);
    c.submit(model).unwrap();
    c
}

/// The stand-in log root after `height`.
fn root_of(height: u64) -> [u8; 32] {
    statement_id(format!("log root after {height}").as_bytes())
}

impl City {
    /// Applies one block anchoring `anchor` at the current time and commits its writes.
    fn block_anchoring(
        &mut self,
        statements: Vec<Vec<u8>>,
        anchor: Option<LogAnchor>,
    ) -> Vec<Decision> {
        self.height += 1;
        let ctx = BlockContext {
            height: self.height,
            time_ms: self.now,
            anchor,
        };
        self.state.apply_block(&self.rules, ctx, &statements)
    }

    /// A block of a busy ledger: it anchors the root after the previous height.
    fn block(&mut self, statements: Vec<Vec<u8>>) -> Vec<Decision> {
        let anchor = LogAnchor {
            log_size: self.height,
            log_root: root_of(self.height),
        };
        self.block_anchoring(statements, Some(anchor))
    }

    fn submit(&mut self, statement: Vec<u8>) -> Result<(), Rejection> {
        verdict(self.block(vec![statement]).remove(0))
    }

    fn party(&self, iss: &str) -> &Party {
        [&self.acme, &self.water, &self.grid]
            .into_iter()
            .find(|p| p.iss == iss)
            .unwrap()
    }

    /// `iss` registers a challenge now.
    fn challenge(
        &mut self,
        iss: &str,
        nonce: &[u8],
        devices: &[&str],
        window_ms: Option<u64>,
    ) -> Result<(), Rejection> {
        let ids: Vec<&[u8]> = devices.iter().map(|d| d.as_bytes()).collect();
        let s = self.party(iss).sign_at(
            CHALLENGE,
            &make::challenge(nonce, &ids, window_ms),
            self.now,
        );
        self.submit(s)
    }

    /// acme makes a device (it owns it until it sells it).
    fn born(&mut self, id: &str) -> Party {
        let s = self.birth(id);
        self.submit(s.0).unwrap();
        s.1
    }

    fn birth(&self, id: &str) -> (Vec<u8>, Party) {
        let device = party(&hex::encode(id));
        let b = make::birth(&make::Birth {
            device_id: id.as_bytes(),
            key: &device.key.public_key(),
            model: "meter",
            serial: "SN-1",
            hw_version: "rev-a",
            factory_fw: FW,
            x5chain: &[],
        });
        (self.acme.sign_at(BIRTH, &b, self.now), device)
    }

    /// The current owner offers `id` to `to`, which accepts.
    fn transfer(&mut self, id: &str, to: &str) {
        let owner = self.device(id).owner;
        let offer =
            self.party(&owner)
                .sign_at(TRANSFER, &make::transfer(id.as_bytes(), to), self.now);
        let pending = statement_id(&offer);
        self.submit(offer).unwrap();
        let accept = self
            .party(to)
            .sign_at(ACCEPT, &make::accept(&pending), self.now);
        self.submit(accept).unwrap();
    }

    fn device(&self, id: &str) -> DeviceRecord {
        let bytes = &self.state.kv[&keys::device(&device_hash(id.as_bytes()))];
        proverka_ledger::records::decode(bytes).unwrap()
    }

    /// Evidence of `id` naming `nonce`, signed at the current time (+ `later_ms`).
    fn evidence(&self, device: &Party, id: &str, nonce: &[u8], later_ms: u64) -> Vec<u8> {
        let e = make::evidence(&make::Evidence {
            device_id: id.as_bytes(),
            nonce,
            fw: FW,
            svn: 1,
            debug: 3,
        });
        device.sign_at(EVIDENCE, &e, self.now + later_ms)
    }

    fn record(&self, nonce: &[u8]) -> Option<ChallengeRecord> {
        challenges::lookup(&self.state, nonce).unwrap()
    }

    fn has(&self, key: &[u8]) -> bool {
        self.state.kv.contains_key(key)
    }
}

fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

fn invalid(label: u64, reason: &'static str) -> Rejection {
    Rejection::BadPayload {
        kind: "challenge",
        error: PayloadError::Invalid { label, reason },
    }
}

const NONCE: &[u8] = b"0123456789abcdef-water-1";

#[test]
fn the_owner_challenges_its_devices_and_each_attests_once_with_the_nonce() {
    let mut c = city();
    let d1 = c.born("dev-1");
    let d2 = c.born("dev-2");
    c.transfer("dev-1", "water");
    c.transfer("dev-2", "water");
    c.challenge("water", NONCE, &["dev-1", "dev-2"], None)
        .unwrap();
    let record = c.record(NONCE).expect("registered");
    assert_eq!(record.owner, "water");
    assert_eq!(
        record.valid_until_ms,
        record.registered_ms + DEFAULT_CHALLENGE_WINDOW_MS,
        "the default window is 1 h"
    );

    c.now += 60_000;
    let first = c.evidence(&d1, "dev-1", NONCE, 0);
    c.submit(first.clone()).unwrap();
    let ev = c.device("dev-1").evidence.expect("registered evidence");
    assert_eq!(ev.nonce, NONCE);
    assert_eq!(
        c.state.kv[&device_key(&challenge_id(NONCE), &device_hash(b"dev-1"))],
        statement_id(&first).to_vec(),
        "the (challenge, device) key names the evidence that used it"
    );

    // Newer evidence of the same device with the same nonce: refused, naming the first use.
    c.now += 1000;
    let again = c.evidence(&d1, "dev-1", NONCE, 0);
    assert_eq!(
        c.submit(again),
        Err(Rejection::Challenge(ChallengeRefusal::AlreadyUsed {
            nonce: hx(NONCE),
            device: hx(b"dev-1"),
            entry: hx(&statement_id(&first)),
        }))
    );
    assert_eq!(c.device("dev-1").evidence.unwrap().entry, ev.entry);
    // The other device still has its own use.
    assert!(challenges::unused_for(&c.state, NONCE, b"dev-2").unwrap());
    c.submit(c.evidence(&d2, "dev-2", NONCE, 0)).unwrap();
    assert!(!challenges::unused_for(&c.state, NONCE, b"dev-2").unwrap());
}

#[test]
fn evidence_naming_a_challenge_is_refused_unless_registered_for_it_and_in_its_window() {
    let mut c = city();
    let d1 = c.born("dev-1");
    let d3 = c.born("dev-3");
    c.challenge("acme", NONCE, &["dev-1"], Some(MIN_CHALLENGE_WINDOW_MS))
        .unwrap();
    let valid_until = c.record(NONCE).unwrap().valid_until_ms;

    // Never registered (any length the evidence format allows).
    for unknown in [
        b"not-a-registered-challenge".as_slice(),
        &[0x42; 32],
        b"12345678",
    ] {
        let refused = c.submit(c.evidence(&d1, "dev-1", unknown, 0));
        assert_eq!(
            refused,
            Err(Rejection::Challenge(ChallengeRefusal::Unknown {
                nonce: hx(unknown)
            }))
        );
        let text = refused.unwrap_err().to_string();
        assert!(
            text.contains("unknown challenge") && text.contains("last 4096"),
            "{text}"
        );
    }
    // Registered, but not for this device.
    assert_eq!(
        c.submit(c.evidence(&d3, "dev-3", NONCE, 0)),
        Err(Rejection::Challenge(ChallengeRefusal::NotForDevice {
            nonce: hx(NONCE),
            device: hx(b"dev-3"),
        }))
    );
    // Past its window (block time; the device's iat does not matter).
    c.now = valid_until + 1;
    assert_eq!(
        c.submit(c.evidence(&d1, "dev-1", NONCE, 0)),
        Err(Rejection::Challenge(ChallengeRefusal::Expired {
            nonce: hx(NONCE),
            valid_until_ms: valid_until,
            block_ms: valid_until + 1,
        }))
    );
    assert!(c.device("dev-1").evidence.is_none(), "nothing registered");
    assert!(challenges::unused_for(&c.state, NONCE, b"dev-1").unwrap());
    // At exactly the end of its window it is still accepted.
    c.now = valid_until;
    c.submit(c.evidence(&d1, "dev-1", NONCE, 0)).unwrap();
}

#[test]
fn only_the_devices_current_owner_registers_a_challenge_and_a_transfer_voids_it() {
    let mut c = city();
    let d1 = c.born("dev-1");
    c.born("dev-2");
    c.born("dev-3");
    c.transfer("dev-1", "water");
    c.transfer("dev-2", "water");
    let not_owner = |owner: &str, device: &str| Rejection::NotOwner {
        device: hx(device.as_bytes()),
        owner: owner.into(),
    };
    // The maker once it sold the device, another operator, or a list with one stranger's device.
    assert_eq!(
        c.challenge("acme", NONCE, &["dev-1"], None),
        Err(not_owner("water", "dev-1"))
    );
    assert_eq!(
        c.challenge("grid", NONCE, &["dev-1"], None),
        Err(not_owner("water", "dev-1"))
    );
    assert_eq!(
        c.challenge("water", NONCE, &["dev-1", "dev-3"], None),
        Err(not_owner("acme", "dev-3"))
    );
    assert!(matches!(
        c.challenge("water", NONCE, &["dev-1", "nope"], None),
        Err(Rejection::NotFound(_))
    ));
    assert!(c.record(NONCE).is_none(), "refusals register nothing");
    // The maker while it owns the device.
    c.challenge("acme", b"acme-challenge-0001", &["dev-3"], None)
        .unwrap();

    c.challenge("water", NONCE, &["dev-1", "dev-2"], None)
        .unwrap();
    // water sells dev-1 to grid: water's challenge no longer speaks for it.
    c.transfer("dev-1", "grid");
    assert_eq!(
        c.submit(c.evidence(&d1, "dev-1", NONCE, 0)),
        Err(Rejection::Challenge(ChallengeRefusal::NotOwner {
            nonce: hx(NONCE),
            device: hx(b"dev-1"),
            registered_by: "water".into(),
            owner: "grid".into(),
        }))
    );
    // grid's own challenge does.
    c.challenge("grid", b"grid-challenge-0001", &["dev-1"], None)
        .unwrap();
    c.submit(c.evidence(&d1, "dev-1", b"grid-challenge-0001", 0))
        .unwrap();
    // A decommissioned device is refused, naming it.
    let water = c.party("water");
    let s = water.sign_at(DECOMMISSION, &make::decommission(b"dev-2"), c.now);
    c.submit(s).unwrap();
    assert_eq!(
        c.challenge("water", b"water-challenge-0002", &["dev-2"], None),
        Err(Rejection::Decommissioned(hx(b"dev-2")))
    );
}

#[test]
fn challenge_payloads_are_bounded_and_a_nonce_is_registered_once() {
    let mut c = city();
    c.born("dev-1");
    let ok = |n: &[u8]| make::challenge(n, &[b"dev-1"], None);
    let devices_reason = "must be an array of 1..=1024 device ids";
    let window_reason = "window is 60000..=86400000 ms (1 min to 24 h)";
    let mut cases: Vec<(Vec<u8>, Rejection)> = vec![
        (
            ok(&[7; 15]),
            invalid(1, "byte string of the wrong type or length"),
        ),
        (
            ok(&[7; 65]),
            invalid(1, "byte string of the wrong type or length"),
        ),
        (
            make::challenge(NONCE, &[], None),
            invalid(2, devices_reason),
        ),
        (
            make::challenge(NONCE, &[b"dev-1", b"dev-1"], None),
            invalid(2, "device ids must be distinct"),
        ),
        (
            make::challenge(NONCE, &[&[0u8; 65]], None),
            invalid(2, "each device id is a byte string of 1..=64 bytes"),
        ),
        (
            make::challenge(NONCE, &[b"dev-1"], Some(MIN_CHALLENGE_WINDOW_MS - 1)),
            invalid(3, window_reason),
        ),
        (
            make::challenge(NONCE, &[b"dev-1"], Some(MAX_CHALLENGE_WINDOW_MS + 1)),
            invalid(3, window_reason),
        ),
        (
            encode_map(vec![
                (1, ciborium::value::Value::Bytes(NONCE.to_vec())),
                (2, ciborium::value::Value::Bytes(b"dev-1".to_vec())),
            ]),
            invalid(2, devices_reason),
        ),
        (
            encode_map(vec![
                (1, ciborium::value::Value::Bytes(NONCE.to_vec())),
                (
                    2,
                    ciborium::value::Value::Array(vec![ciborium::value::Value::Bytes(
                        b"dev-1".to_vec(),
                    )]),
                ),
                (4, ciborium::value::Value::Bool(true)),
            ]),
            Rejection::BadPayload {
                kind: "challenge",
                error: PayloadError::Unknown(4),
            },
        ),
    ];
    let too_many: Vec<Vec<u8>> = (0..=MAX_CHALLENGE_DEVICES)
        .map(|i| format!("d{i}").into_bytes())
        .collect();
    let too_many: Vec<&[u8]> = too_many.iter().map(Vec::as_slice).collect();
    cases.push((
        make::challenge(NONCE, &too_many, None),
        invalid(2, devices_reason),
    ));
    for (payload, want) in cases {
        let s = c.acme.sign_at(CHALLENGE, &payload, c.now);
        assert_eq!(c.submit(s), Err(want));
    }
    assert!(
        !c.state.kv.keys().any(|k| k.starts_with(b"challenge")),
        "refusals write nothing"
    );

    // A log root the ledger anchored cannot be a challenge: evidence naming it is a root.
    let root = proverka_ledger::anchors::latest(&c.state)
        .unwrap()
        .unwrap()
        .0;
    assert!(matches!(
        c.challenge("acme", &root, &["dev-1"], None),
        Err(Rejection::Conflict(m)) if m.contains("log root")
    ));
    // The bounds themselves are accepted, and a nonce is registered once.
    c.challenge("acme", &[7; 16], &["dev-1"], Some(MIN_CHALLENGE_WINDOW_MS))
        .unwrap();
    c.challenge("acme", &[7; 64], &["dev-1"], Some(MAX_CHALLENGE_WINDOW_MS))
        .unwrap();
    assert!(matches!(
        c.challenge("acme", &[7; 64], &["dev-1"], None),
        Err(Rejection::Conflict(m)) if m.contains("already registered")
    ));
}

#[test]
fn a_challenge_covers_up_to_1024_devices_each_under_its_own_key() {
    let mut c = city();
    let ids: Vec<String> = (0..MAX_CHALLENGE_DEVICES)
        .map(|i| format!("d{i}"))
        .collect();
    let births: Vec<(Vec<u8>, Party)> = ids.iter().map(|id| c.birth(id)).collect();
    let (statements, devices): (Vec<Vec<u8>>, Vec<Party>) = births.into_iter().unzip();
    for d in c.block(statements) {
        verdict(d).unwrap();
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    c.challenge("acme", NONCE, &refs, None).unwrap();
    let id = challenge_id(NONCE);
    assert_eq!(
        c.record(NONCE).unwrap().devices.len(),
        MAX_CHALLENGE_DEVICES
    );
    assert!(ids
        .iter()
        .all(|d| c.has(&device_key(&id, &device_hash(d.as_bytes())))));
    let last = MAX_CHALLENGE_DEVICES - 1;
    c.submit(c.evidence(&devices[last], &ids[last], NONCE, 0))
        .unwrap();
}

#[test]
fn a_gateway_batch_uses_a_challenge_once_per_device() {
    let mut c = city();
    let d1 = c.born("dev-1");
    let d2 = c.born("dev-2");
    c.transfer("dev-1", "water");
    c.transfer("dev-2", "water");
    c.challenge("water", NONCE, &["dev-1", "dev-2"], None)
        .unwrap();
    let twice = make::evidence_batch(&[
        c.evidence(&d1, "dev-1", NONCE, 0),
        c.evidence(&d1, "dev-1", NONCE, 1000),
    ]);
    let refused = c.submit(c.water.sign_at(EVIDENCE_BATCH, &twice, c.now));
    match refused {
        Err(Rejection::BatchItem { index: 1, reason }) => assert!(
            matches!(
                *reason,
                Rejection::Challenge(ChallengeRefusal::AlreadyUsed { .. })
            ),
            "{reason:?}"
        ),
        other => panic!("expected item 1 to be refused as already used, got {other:?}"),
    }
    assert!(
        challenges::unused_for(&c.state, NONCE, b"dev-1").unwrap(),
        "a refused batch uses nothing"
    );
    let both = make::evidence_batch(&[
        c.evidence(&d1, "dev-1", NONCE, 0),
        c.evidence(&d2, "dev-2", NONCE, 0),
    ]);
    c.submit(c.water.sign_at(EVIDENCE_BATCH, &both, c.now))
        .unwrap();
    assert!(c.device("dev-1").evidence.is_some() && c.device("dev-2").evidence.is_some());
}

#[test]
fn an_owner_keeps_at_most_256_challenges_and_expired_ones_are_pruned_oldest_first() {
    let mut c = city();
    let d1 = c.born("dev-1");
    let nonce = |i: u64| format!("acme-challenge-{i:08}").into_bytes();
    for i in 0..MAX_OPEN_CHALLENGES {
        c.challenge("acme", &nonce(i), &["dev-1"], Some(MIN_CHALLENGE_WINDOW_MS))
            .unwrap();
    }
    // All still valid: the next one is refused, saying why.
    let refused = c.challenge("acme", &nonce(MAX_OPEN_CHALLENGES), &["dev-1"], None);
    assert!(
        matches!(&refused, Err(Rejection::Conflict(m)) if m.contains("256 challenges open")),
        "{refused:?}"
    );
    // Once the oldest expired, a registration prunes the two oldest (with their keys) and adds one.
    let first = c.record(&nonce(0)).unwrap();
    c.now = first.valid_until_ms + 1;
    c.challenge("acme", &nonce(MAX_OPEN_CHALLENGES), &["dev-1"], None)
        .unwrap();
    for i in 0..PRUNE_PER_REGISTRATION as u64 {
        let id = challenge_id(&nonce(i));
        assert!(c.record(&nonce(i)).is_none(), "challenge {i} pruned");
        assert!(!c.has(&device_key(&id, &device_hash(b"dev-1"))));
        assert!(!c.has(&queue_key("acme", i)));
    }
    let queue: ChallengeQueue =
        proverka_ledger::records::decode(&c.state.kv[&owner_key("acme")]).unwrap();
    assert_eq!(
        queue,
        ChallengeQueue {
            head: PRUNE_PER_REGISTRATION as u64,
            next: MAX_OPEN_CHALLENGES + 1
        }
    );
    let kept = c
        .state
        .kv
        .keys()
        .filter(|k| k.starts_with(b"challenge/"))
        .count() as u64;
    assert_eq!(kept, queue.next - queue.head);
    assert!(c.has(&record_key(&challenge_id(&nonce(2)))));
    // A pruned challenge is unknown.
    assert_eq!(
        c.submit(c.evidence(&d1, "dev-1", &nonce(0), 0)),
        Err(Rejection::Challenge(ChallengeRefusal::Unknown {
            nonce: hx(&nonce(0))
        }))
    );
}

/// An idle ledger re-anchors the same root: after 24 h no root is fresh, and re-anchoring does
/// not make it fresh again. A challenge from the owner lets the device attest anyway.
#[test]
fn on_an_idle_ledger_a_challenge_lets_a_device_attest_when_no_root_is_fresh() {
    let mut c = city();
    let d1 = c.born("dev-1");
    let (root, anchored) = proverka_ledger::anchors::latest(&c.state).unwrap().unwrap();
    let idle = Some(LogAnchor {
        log_size: anchored.log_size,
        log_root: root,
    });
    c.now += NONCE_ROOT_WINDOW_MS + 1;
    assert!(c.block_anchoring(Vec::new(), idle).is_empty());
    let (latest, again) = proverka_ledger::anchors::latest(&c.state).unwrap().unwrap();
    assert_eq!(
        (latest, again.anchored_ms),
        (root, anchored.anchored_ms),
        "the first anchoring time stands"
    );
    let stale = c.evidence(&d1, "dev-1", &root, 0);
    let refused = verdict(c.block_anchoring(vec![stale], idle).remove(0));
    assert!(
        matches!(&refused, Err(Rejection::Evidence(m)) if m.contains("challenge")),
        "{refused:?}"
    );
    // The owner registers a challenge (still no new root), and the device attests with it.
    let s = c
        .acme
        .sign_at(CHALLENGE, &make::challenge(NONCE, &[b"dev-1"], None), c.now);
    verdict(c.block_anchoring(vec![s], idle).remove(0)).unwrap();
    c.now += 30_000;
    let fresh = c.evidence(&d1, "dev-1", NONCE, 0);
    verdict(c.block_anchoring(vec![fresh], idle).remove(0)).unwrap();
    assert_eq!(c.device("dev-1").evidence.unwrap().nonce, NONCE);
}
