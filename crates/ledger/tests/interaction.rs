//! Interaction records, as a specification: the recipient's owner records a command a gateway
//! judged; the ledger opens the command with the sender's current key, keeps the gateway's
//! verdict next to its own view of the sender, and lists it for both devices. Every refusal
//! names its reason and changes nothing.

use proverka_command::{
    sign_command, Action, Command, DeviceId, Malformed, ParamValue, Params, Reason, SigningKey,
    TrustStatus, UnixSeconds,
};
use proverka_ledger::interaction::GatewayVerdict;
use proverka_ledger::kinds::{ACCEPT, BIRTH, CEDAR_POLICY, INTERACTION, MODEL, REKEY, TRANSFER};
use proverka_ledger::payload::{encode_map, PayloadError};
use proverka_ledger::query::{self, InteractionCursor, InteractionRole};
use proverka_ledger::records::{ParamRecord, PolicyRef, Role};
use proverka_ledger::{make, BlockContext, Rejection, Rules};
use proverka_statement::{statement_id, KeyType, PrivateKey};

mod support;
use support::city::{city_genesis, party, verdict, Party, T0};
use support::MemState;

const CTL_SEED: [u8; 32] = [0xc1; 32];

/// acme makes a controller `ctl-1` (key from `CTL_SEED`, kept by acme) and a valve `valve-1`
/// (sold to the water utility); grid is another operator.
struct City {
    rules: Rules,
    state: MemState,
    height: u64,
    now: u64,
    acme: Party,
    water: Party,
    grid: Party,
    ctl: Party,
}

impl City {
    fn new() -> City {
        let (acme, water, grid) = (party("acme"), party("water"), party("grid"));
        let issuers = vec![
            acme.issuer(Role::Manufacturer),
            water.issuer(Role::Operator),
            grid.issuer(Role::Operator),
        ];
        let genesis = city_genesis(issuers, &acme);
        let ctl = Party::with_key(
            &hex::encode("ctl-1"),
            PrivateKey::from_ed25519_seed(CTL_SEED),
        );
        let mut c = City {
            rules: Rules::new(&genesis).unwrap(),
            state: MemState::default(),
            height: 0,
            now: T0,
            acme,
            water,
            grid,
            ctl,
        };
        c.submit(c.acme.sign_at(MODEL, &make::model("v", &[]), c.now))
            .unwrap();
        let ctl_key = c.ctl.key.public_key();
        c.birth("ctl-1", &ctl_key);
        let valve_key = PrivateKey::generate(KeyType::Ed25519).unwrap().public_key();
        c.birth("valve-1", &valve_key);
        let offer = c
            .acme
            .sign_at(TRANSFER, &make::transfer(b"valve-1", "water"), c.now);
        let pending = statement_id(&offer);
        c.submit(offer).unwrap();
        c.submit(c.water.sign_at(ACCEPT, &make::accept(&pending), c.now))
            .unwrap();
        c
    }

    fn birth(&mut self, id: &str, key: &proverka_statement::PublicKey) {
        let b = make::birth(&make::Birth {
            device_id: id.as_bytes(),
            key,
            model: "v",
            serial: "SN",
            hw_version: "1",
            factory_fw: [0x11; 32],
            x5chain: &[],
        });
        self.submit(self.acme.sign_at(BIRTH, &b, self.now)).unwrap();
    }

    /// One statement in its own block; `Ok` if registered, the refusal otherwise.
    fn submit(&mut self, statement: Vec<u8>) -> Result<(), Rejection> {
        self.height += 1;
        self.now += 1000;
        let ctx = BlockContext {
            height: self.height,
            time_ms: self.now,
            anchor: None,
        };
        verdict(
            self.state
                .apply_block(&self.rules, ctx, &[statement])
                .remove(0),
        )
    }

    /// Submits a statement that must be refused with `reason` and leave the state as it was.
    fn refused(&mut self, statement: Vec<u8>, reason: Rejection) {
        let before = self.state.kv.clone();
        assert_eq!(self.submit(statement), Err(reason));
        assert_eq!(self.state.kv, before, "a refused statement changes nothing");
    }

    /// A command from `from` to `to` signed with `key`, issued now.
    fn command(&self, from: &str, to: &str, seq: u64, key: &SigningKey) -> Vec<u8> {
        let now = UnixSeconds(self.now / 1000);
        sign_command(
            &Command {
                sender: DeviceId::new(from.as_bytes().to_vec()).unwrap(),
                recipient: DeviceId::new(to.as_bytes().to_vec()).unwrap(),
                action: Action::new("open").unwrap(),
                params: Params::new()
                    .with("level", ParamValue::Int(3))
                    .unwrap()
                    .with("why", ParamValue::Text("flush".into()))
                    .unwrap(),
                seq,
                iat: now,
                exp: now.plus(60),
            },
            key,
        )
    }

    fn ctl_command(&self, seq: u64) -> Vec<u8> {
        self.command(
            "ctl-1",
            "valve-1",
            seq,
            &SigningKey::from_ed25519_seed(CTL_SEED),
        )
    }

    /// The gateway's allow record of `command`, judged against the latest block.
    fn allowed(&self, command: &[u8]) -> Vec<u8> {
        make::interaction(&make::Interaction {
            command,
            verdict: GatewayVerdict::Allow,
            reasons: &[],
            observed: self.now / 1000,
            snapshot_height: self.height,
            snapshot_certified_ms: self.now,
            sender_status: TrustStatus::Affirming,
            policy: None,
        })
    }

    fn by(&self, p: &Party, payload: &[u8]) -> Vec<u8> {
        p.sign_at(INTERACTION, payload, self.now)
    }
}

fn bad(label: u64) -> impl Fn(&Rejection) -> bool {
    move |r| matches!(r, Rejection::BadPayload { kind: "interaction", error: PayloadError::Invalid { label: l, .. } } if *l == label)
}

#[test]
fn the_recipients_owner_records_a_command_and_both_devices_list_it() {
    let mut c = City::new();
    let command = c.ctl_command(7);
    let statement = c.by(&c.water, &c.allowed(&command));
    let entry = statement_id(&statement);
    let snapshot_height = c.height;
    c.submit(statement).unwrap();
    let block_ms = c.now;

    let as_sender = query::interactions(&c.state, b"ctl-1", None, 100).unwrap();
    let as_recipient = query::interactions(&c.state, b"valve-1", None, 100).unwrap();
    assert_eq!((as_sender.len(), as_recipient.len()), (1, 1));
    assert_eq!(as_sender[0].cursor.role, InteractionRole::Sender);
    assert_eq!(as_recipient[0].cursor.role, InteractionRole::Recipient);
    assert_eq!(as_sender[0].record, as_recipient[0].record);
    let r = &as_sender[0].record;
    assert_eq!(r.entry, entry);
    assert_eq!((r.height, r.registered_ms), (c.height, block_ms));
    assert_eq!(r.recorded_by, "water");
    assert_eq!(
        (r.sender.as_slice(), r.recipient.as_slice()),
        (&b"ctl-1"[..], &b"valve-1"[..])
    );
    assert_eq!((r.action.as_str(), r.seq, r.exp - r.iat), ("open", 7, 60));
    assert_eq!(
        r.params,
        vec![
            ("why".to_owned(), ParamRecord::Text("flush".into())),
            ("level".to_owned(), ParamRecord::Int(3)),
        ]
    );
    assert!(r.allowed && r.reasons.is_empty() && r.policy.is_none());
    assert_eq!(
        (r.snapshot_height, r.gateway_status.as_str()),
        (snapshot_height, "affirming")
    );
    // The ledger's own view at registration: this controller never attested, so whatever the
    // gateway said, the ledger recorded the status its appraisal gives at block time.
    let (_, appraisal) = query::device_status(&c.state, b"ctl-1", block_ms)
        .unwrap()
        .unwrap();
    assert_eq!(r.ledger_status, appraisal.status.as_str());
    assert_ne!(r.ledger_status, "affirming");
    assert!(r.ledger_reasons.iter().any(|code| code == "no-evidence"));

    // An uninvolved device lists nothing.
    let valve2 = PrivateKey::generate(KeyType::Ed25519).unwrap().public_key();
    c.birth("valve-2", &valve2);
    assert!(query::interactions(&c.state, b"valve-2", None, 100)
        .unwrap()
        .is_empty());
}

#[test]
fn a_devices_interactions_page_oldest_first_and_a_denial_keeps_its_reasons_and_policy() {
    let mut c = City::new();
    let permit = r#"permit(principal, action == Proverka::Action::"actuate", resource);"#;
    c.submit(c.water.sign_at(
        CEDAR_POLICY,
        &make::cedar_policy("water", &[("ops", permit)], None),
        c.now,
    ))
    .unwrap();
    c.submit(c.by(&c.water, &c.allowed(&c.ctl_command(1))))
        .unwrap();
    let denied = make::interaction(&make::Interaction {
        command: &c.ctl_command(2),
        verdict: GatewayVerdict::Deny,
        reasons: &["denied by policy cedar water v1: no policy permits"],
        observed: c.now / 1000,
        snapshot_height: c.height,
        snapshot_certified_ms: c.now,
        sender_status: TrustStatus::Warning,
        policy: Some(make::InteractionPolicy {
            owner: "water",
            version: 1,
            satisfied: &[],
        }),
    });
    c.submit(c.by(&c.water, &denied)).unwrap();
    c.submit(c.by(&c.water, &c.allowed(&c.ctl_command(3))))
        .unwrap();

    let all = query::interactions(&c.state, b"valve-1", None, 100).unwrap();
    let seqs: Vec<u64> = all.iter().map(|r| r.record.seq).collect();
    assert_eq!(seqs, [1, 2, 3], "oldest first");
    let first = query::interactions(&c.state, b"valve-1", None, 2).unwrap();
    assert_eq!(first.len(), 2);
    let rest = query::interactions(&c.state, b"valve-1", Some(first[1].cursor), 2).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].record.seq, 3);
    let d = &all[1].record;
    assert!(!d.allowed);
    assert_eq!(
        d.reasons,
        ["denied by policy cedar water v1: no policy permits"]
    );
    assert_eq!(d.gateway_status, "warning");
    assert_eq!(
        d.policy,
        Some(PolicyRef {
            owner: "water".into(),
            version: 1,
            satisfied: vec![]
        })
    );
    // A satisfied policy id must be one of that version's policies.
    let unknown_id = make::interaction(&make::Interaction {
        command: &c.ctl_command(4),
        verdict: GatewayVerdict::Allow,
        reasons: &[],
        observed: c.now / 1000,
        snapshot_height: c.height,
        snapshot_certified_ms: c.now,
        sender_status: TrustStatus::Affirming,
        policy: Some(make::InteractionPolicy {
            owner: "water",
            version: 1,
            satisfied: &["missing"],
        }),
    });
    let s = c.by(&c.water, &unknown_id);
    c.refused(
        s,
        Rejection::NotFound(
            "version 1 of water's Cedar policy set has no policy \"missing\"".into(),
        ),
    );
    // A page is bounded whatever the caller asks.
    assert!(
        query::interactions(&c.state, b"valve-1", None, 10_000)
            .unwrap()
            .len()
            <= query::MAX_INTERACTION_PAGE
    );
    // Cursors order as the listing does.
    assert!(
        first[0].cursor
            < InteractionCursor {
                height: u64::MAX,
                pos: 0,
                role: InteractionRole::Sender
            }
    );
}

#[test]
fn only_the_recipients_current_owner_records_its_commands() {
    let mut c = City::new();
    let payload = c.allowed(&c.ctl_command(1));
    // grid owns nothing here; acme made the valve but sold it.
    let signed: Vec<Vec<u8>> = [&c.grid, &c.acme]
        .iter()
        .map(|stranger| c.by(stranger, &payload))
        .collect();
    for s in signed {
        c.refused(
            s,
            Rejection::NotOwner {
                device: hex::encode("valve-1"),
                owner: "water".into(),
            },
        );
    }
}

#[test]
fn a_forged_or_altered_command_is_refused_as_a_bad_signature() {
    let mut c = City::new();
    let mut forged = c.ctl_command(1);
    let last = forged.len() - 1;
    forged[last] ^= 0x01; // last byte of the Ed25519 signature
    let s = c.by(&c.water, &c.allowed(&forged));
    c.refused(s, Rejection::Command(Reason::BadSignature));
    // The sequence number changed after signing (byte before the iat/exp fields).
    let genuine = c.ctl_command(1);
    let seq_at = genuine
        .windows(2)
        .position(|w| w == [0x05, 0x01])
        .expect("seq 1 encoded as key 5, value 1");
    let mut altered = genuine.clone();
    altered[seq_at + 1] = 0x02;
    let s = c.by(&c.water, &c.allowed(&altered));
    c.refused(s, Rejection::Command(Reason::BadSignature));
}

#[test]
fn a_command_signed_by_a_key_that_is_no_longer_the_senders_is_refused() {
    let mut c = City::new();
    let before_rotation = c.ctl_command(1);
    // The controller rotates its key (asks with the old one, its owner approves).
    let new_key = PrivateKey::from_ed25519_seed([0xc2; 32]).public_key();
    let req = c
        .ctl
        .sign_at(REKEY, &make::rekey(b"ctl-1", &new_key), c.now);
    let pending = statement_id(&req);
    c.submit(req).unwrap();
    c.submit(c.acme.sign_at(ACCEPT, &make::accept(&pending), c.now))
        .unwrap();
    let s = c.by(&c.water, &c.allowed(&before_rotation));
    c.refused(s, Rejection::Command(Reason::KidMismatch));
    // The same command signed with the new key is recorded.
    let rotated = c.command(
        "ctl-1",
        "valve-1",
        1,
        &SigningKey::from_ed25519_seed([0xc2; 32]),
    );
    c.submit(c.by(&c.water, &c.allowed(&rotated))).unwrap();
}

#[test]
fn commands_from_or_to_unknown_devices_are_refused() {
    let mut c = City::new();
    let ghost_key = SigningKey::from_ed25519_seed([9; 32]);
    let from_ghost = c.command("ghost-1", "valve-1", 1, &ghost_key);
    let s = c.by(&c.water, &c.allowed(&from_ghost));
    c.refused(
        s,
        Rejection::NotFound(format!("no sender device {}", hex::encode("ghost-1"))),
    );
    let to_nowhere = c.command(
        "ctl-1",
        "valve-404",
        1,
        &SigningKey::from_ed25519_seed(CTL_SEED),
    );
    let s = c.by(&c.water, &c.allowed(&to_nowhere));
    c.refused(
        s,
        Rejection::NotFound(format!("no recipient device {}", hex::encode("valve-404"))),
    );
}

#[test]
fn the_same_command_is_recorded_once() {
    let mut c = City::new();
    let command = c.ctl_command(5);
    let first = c.by(&c.water, &c.allowed(&command));
    let first_id = statement_id(&first);
    c.submit(first).unwrap();
    // Another statement (later observation) about the same (sender, recipient, seq).
    let again = c.by(&c.water, &c.allowed(&command));
    assert_ne!(statement_id(&again), first_id);
    let reason = Rejection::Conflict(format!(
        "command {} → {} seq 5 is already recorded by entry {}",
        hex::encode("ctl-1"),
        hex::encode("valve-1"),
        hex::encode(first_id)
    ));
    c.refused(again, reason);
    // Another seq is another command.
    c.submit(c.by(&c.water, &c.allowed(&c.ctl_command(6))))
        .unwrap();
}

#[test]
fn reasons_over_the_limits_are_refused() {
    let mut c = City::new();
    let command = c.ctl_command(1);
    let (now, height) = (c.now, c.height);
    let deny = |reasons: &[&str]| {
        make::interaction(&make::Interaction {
            command: &command,
            verdict: GatewayVerdict::Deny,
            reasons,
            observed: now / 1000,
            snapshot_height: height,
            snapshot_certified_ms: now,
            sender_status: TrustStatus::None,
            policy: None,
        })
    };
    let seventeen = ["expired"; 17];
    let long = "x".repeat(257);
    let at_limit = "x".repeat(256);
    let too_many = c.by(&c.water, &deny(&seventeen));
    let too_long = c.by(&c.water, &deny(&[&long]));
    let none = c.by(&c.water, &deny(&[]));
    let sixteen = c.by(&c.water, &deny(&[at_limit.as_str(); 16]));
    for s in [too_many, too_long, none] {
        let before = c.state.kv.clone();
        let err = c.submit(s).unwrap_err();
        assert!(bad(3)(&err), "{err}");
        assert_eq!(c.state.kv, before);
    }
    c.submit(sixteen).unwrap();
}

#[test]
fn malformed_payloads_are_refused_naming_the_field() {
    let mut c = City::new();
    let command = c.ctl_command(1);
    let good = c.allowed(&command);
    let v = ciborium::value::Value::Text;
    let mut cases: Vec<(Vec<u8>, Rejection)> = vec![(
        vec![0x82, 0x01, 0x02],
        Rejection::BadPayload {
            kind: "interaction",
            error: PayloadError::NotMap("not a map".into()),
        },
    )];
    // Each field wrong in turn, the others as in `good`.
    let fields = |replace: u64, with: Option<ciborium::value::Value>| {
        let ciborium::value::Value::Map(entries) =
            ciborium::from_reader::<ciborium::value::Value, _>(good.as_slice()).unwrap()
        else {
            unreachable!()
        };
        let mut out = Vec::new();
        for (k, val) in entries {
            let label = u64::try_from(k.as_integer().unwrap()).unwrap();
            if label != replace {
                out.push((label, val));
            } else if let Some(w) = &with {
                out.push((label, w.clone()));
            }
        }
        encode_map(out)
    };
    cases.push((
        fields(2, Some(v("maybe".into()))),
        Rejection::BadPayload {
            kind: "interaction",
            error: PayloadError::Invalid {
                label: 2,
                reason: "must be \"allow\" or \"deny\"",
            },
        },
    ));
    cases.push((
        fields(1, None),
        Rejection::BadPayload {
            kind: "interaction",
            error: PayloadError::Missing(1),
        },
    ));
    let mut extra = fields(0, None);
    extra = {
        let ciborium::value::Value::Map(mut e) =
            ciborium::from_reader::<ciborium::value::Value, _>(extra.as_slice()).unwrap()
        else {
            unreachable!()
        };
        e.push((8.into(), true.into()));
        let mut out = Vec::new();
        ciborium::into_writer(&ciborium::value::Value::Map(e), &mut out).unwrap();
        out
    };
    cases.push((
        extra,
        Rejection::BadPayload {
            kind: "interaction",
            error: PayloadError::Unknown(8),
        },
    ));
    for (payload, reason) in cases {
        let s = c.by(&c.water, &payload);
        c.refused(s, reason);
    }
    for (label, value) in [
        (5, v("yesterday".into())),
        (6, v("trusted".into())),
        (7, v("cedar".into())),
        (1, ciborium::value::Value::Bytes(vec![0; 4097])),
    ] {
        let s = c.by(&c.water, &fields(label, Some(value)));
        let before = c.state.kv.clone();
        let err = c.submit(s).unwrap_err();
        assert!(bad(label)(&err), "field {label}: {err}");
        assert_eq!(c.state.kv, before);
    }
    // A command envelope that does not parse is the command verifier's reason.
    let s = c.by(
        &c.water,
        &fields(1, Some(ciborium::value::Value::Bytes(vec![0xa0]))),
    );
    c.refused(
        s,
        Rejection::Command(Reason::Malformed(Malformed::NotTagged)),
    );
}

#[test]
fn what_the_gateway_judged_against_must_exist() {
    let mut c = City::new();
    let command = c.ctl_command(1);
    let certified = c.now;
    let with = |height: u64, observed: u64, policy: Option<make::InteractionPolicy>| {
        make::interaction(&make::Interaction {
            command: &command,
            verdict: GatewayVerdict::Allow,
            reasons: &[],
            observed,
            snapshot_height: height,
            snapshot_certified_ms: certified,
            sender_status: TrustStatus::Affirming,
            policy,
        })
    };
    let now_s = c.now / 1000;
    // A snapshot of the very block that registers it cannot have been certified yet.
    let future = c.by(&c.water, &with(c.height + 1, now_s, None));
    let err = c.submit(future).unwrap_err();
    assert!(bad(5)(&err), "{err}");
    let ahead = c.by(&c.water, &with(c.height, now_s + 3600, None));
    let err = c.submit(ahead).unwrap_err();
    assert!(bad(4)(&err), "{err}");
    let no_version = with(
        c.height,
        now_s,
        Some(make::InteractionPolicy {
            owner: "water",
            version: 1,
            satisfied: &[],
        }),
    );
    let s = c.by(&c.water, &no_version);
    c.refused(
        s,
        Rejection::NotFound("water has no Cedar policy set version 1".into()),
    );
    let others = with(
        c.height,
        now_s,
        Some(make::InteractionPolicy {
            owner: "grid",
            version: 1,
            satisfied: &[],
        }),
    );
    let s = c.by(&c.water, &others);
    assert!(matches!(c.submit(s), Err(Rejection::NotPermitted(_))));
}
