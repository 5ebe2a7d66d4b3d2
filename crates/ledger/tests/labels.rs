//! Device labels (zone and tags) as a specification: only the device's current owner sets them,
//! each statement replaces them whole, every size and count is bounded, a transfer clears them,
//! and operators' Cedar policies see them through `query::cedar_facts`.

use proverka_ledger::kinds::{ACCEPT, BIRTH, CEDAR_POLICY, DECOMMISSION, LABELS, MODEL, TRANSFER};
use proverka_ledger::labels::{LabelsRecord, MAX_LABEL_BYTES, MAX_TAGS};
use proverka_ledger::payload::PayloadError;
use proverka_ledger::records::{device_hash, keys, Role};
use proverka_ledger::{make, query, BlockContext, Rejection, Rules};
use proverka_policy::{judge, Action, Decision as CedarDecision, OwnerPolicies, Params, Request};
use proverka_statement::{statement_id, KeyType, PrivateKey};

mod support;
use support::city::{city_genesis, party, verdict, Party, T0};
use support::MemState;

/// A maker (acme) and two operators (water, grid); acme has made "pump-1" and "ctl-1" and
/// sold both to water.
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
    let acme = c.party("acme");
    c.ok(&acme, MODEL, &make::model("pump", &[]));
    for id in ["pump-1", "ctl-1"] {
        let key = PrivateKey::generate(KeyType::Ed25519).unwrap().public_key();
        let birth = make::birth(&make::Birth {
            device_id: id.as_bytes(),
            key: &key,
            model: "pump",
            serial: "SN-1",
            hw_version: "rev-a",
            factory_fw: [0x11; 32],
            x5chain: &[],
        });
        c.ok(&acme, BIRTH, &birth);
        c.transfer(id, "water");
    }
    c
}

impl City {
    fn sign(&self, p: &Party, kind: &str, payload: &[u8]) -> Vec<u8> {
        p.sign_at(kind, payload, self.now)
    }

    /// One statement in its own block; `Ok` if registered, the refusal otherwise.
    fn submit(&mut self, p: &Party, kind: &str, payload: &[u8]) -> Result<(), Rejection> {
        let statement = self.sign(p, kind, payload);
        self.height += 1;
        self.now += 1000;
        // Labels do not read the anchored roots (only evidence does).
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

    /// Submits a statement that must register.
    fn ok(&mut self, p: &Party, kind: &str, payload: &[u8]) {
        self.submit(p, kind, payload).unwrap();
    }

    fn party(&self, iss: &str) -> Party {
        [&self.acme, &self.water, &self.grid]
            .into_iter()
            .find(|p| p.iss == iss)
            .unwrap()
            .clone()
    }

    /// The current owner offers `id` to `to`, which accepts.
    fn transfer(&mut self, id: &str, to: &str) {
        let owner = query::device(&self.state, id.as_bytes())
            .unwrap()
            .unwrap()
            .owner;
        let (from, to) = (self.party(&owner), self.party(to));
        let offer = make::transfer(id.as_bytes(), &to.iss);
        // Signed at the same time as `ok` signs it (Ed25519 is deterministic): the same entry id.
        let pending = statement_id(&self.sign(&from, TRANSFER, &offer));
        self.ok(&from, TRANSFER, &offer);
        self.ok(&to, ACCEPT, &make::accept(&pending));
    }

    fn labels(&self, id: &str) -> LabelsRecord {
        query::labels(&self.state, id.as_bytes()).unwrap()
    }
}

fn labelled(zone: Option<&str>, tags: &[&str]) -> LabelsRecord {
    let mut tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    tags.sort();
    LabelsRecord {
        zone: zone.map(str::to_owned),
        tags,
    }
}

fn invalid(label: u64, reason: &'static str) -> Rejection {
    Rejection::BadPayload {
        kind: "labels",
        error: PayloadError::Invalid { label, reason },
    }
}

#[test]
fn the_owner_places_its_device_in_a_zone_with_tags_and_each_statement_replaces_them() {
    let mut c = city();
    assert_eq!(
        c.labels("pump-1"),
        LabelsRecord::default(),
        "no labels at first"
    );
    let water = c.party("water");
    c.submit(
        &water,
        LABELS,
        &make::labels(b"pump-1", Some("north"), &["valve", "pump"]),
    )
    .unwrap();
    assert_eq!(
        c.labels("pump-1"),
        labelled(Some("north"), &["pump", "valve"])
    );
    // The whole set is replaced: the zone goes, the tags become one.
    c.submit(&water, LABELS, &make::labels(b"pump-1", None, &["spare"]))
        .unwrap();
    assert_eq!(c.labels("pump-1"), labelled(None, &["spare"]));
    // Nothing at all clears them, and leaves no record behind.
    c.submit(&water, LABELS, &make::labels(b"pump-1", None, &[]))
        .unwrap();
    assert!(!c
        .state
        .kv
        .contains_key(&keys::labels(&device_hash(b"pump-1"))));
    assert_eq!(
        c.labels("ctl-1"),
        LabelsRecord::default(),
        "one device's labels only"
    );
}

#[test]
fn only_the_current_owner_labels_a_device() {
    let mut c = city();
    let (acme, grid, water) = (c.party("acme"), c.party("grid"), c.party("water"));
    let payload = make::labels(b"pump-1", Some("north"), &["pump"]);
    for stranger in [&acme, &grid] {
        assert_eq!(
            c.submit(stranger, LABELS, &payload),
            Err(Rejection::NotOwner {
                device: hex::encode("pump-1"),
                owner: "water".into()
            }),
            "{} (its maker, or another operator) does not own it",
            stranger.iss
        );
    }
    assert_eq!(c.labels("pump-1"), LabelsRecord::default());
    assert!(matches!(
        c.submit(&water, LABELS, &make::labels(b"nope", Some("north"), &[])),
        Err(Rejection::NotFound(_))
    ));
    c.submit(&water, DECOMMISSION, &make::decommission(b"pump-1"))
        .unwrap();
    assert_eq!(
        c.submit(&water, LABELS, &payload),
        Err(Rejection::Decommissioned(hex::encode("pump-1")))
    );
}

#[test]
fn zones_and_tags_are_bounded_and_tags_are_distinct() {
    let mut c = city();
    let water = c.party("water");
    let longest = "z".repeat(MAX_LABEL_BYTES);
    let too_long = "z".repeat(MAX_LABEL_BYTES + 1);
    let many: Vec<String> = (0..MAX_TAGS).map(|i| format!("t{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    // At the limits: registered.
    c.submit(
        &water,
        LABELS,
        &make::labels(b"pump-1", Some(&longest), &many),
    )
    .unwrap();
    assert_eq!(c.labels("pump-1").tags.len(), MAX_TAGS);
    let zone_reason = "zone is 1..=64 bytes of text without control characters";
    let tag_reason = "each tag is 1..=64 bytes of text without control characters";
    let count_reason = "must be an array of 1..=32 tags";
    let over = [&many[..], &["one-more"]].concat();
    let cases: Vec<(Vec<u8>, Rejection)> = vec![
        (
            make::labels(b"pump-1", Some(&too_long), &[]),
            invalid(2, zone_reason),
        ),
        (
            make::labels(b"pump-1", Some(""), &[]),
            invalid(2, zone_reason),
        ),
        (
            make::labels(b"pump-1", Some("north\n"), &[]),
            invalid(2, zone_reason),
        ),
        (
            make::labels(b"pump-1", None, &over),
            invalid(3, count_reason),
        ),
        (
            make::labels(b"pump-1", None, &[&too_long]),
            invalid(3, tag_reason),
        ),
        (make::labels(b"pump-1", None, &[""]), invalid(3, tag_reason)),
        (
            make::labels(b"pump-1", None, &["pump", "pump"]),
            invalid(3, "tags must be distinct"),
        ),
        (
            // An empty array is not "no tags" (that is an absent field): one set, one payload.
            proverka_ledger::payload::encode_map(vec![
                (1, ciborium::value::Value::Bytes(b"pump-1".to_vec())),
                (3, ciborium::value::Value::Array(vec![])),
            ]),
            invalid(3, count_reason),
        ),
        (
            proverka_ledger::payload::encode_map(vec![
                (1, ciborium::value::Value::Bytes(b"pump-1".to_vec())),
                (4, ciborium::value::Value::Bool(true)),
            ]),
            Rejection::BadPayload {
                kind: "labels",
                error: PayloadError::Unknown(4),
            },
        ),
    ];
    for (payload, want) in cases {
        assert_eq!(c.submit(&water, LABELS, &payload), Err(want));
    }
    assert_eq!(
        c.labels("pump-1").zone.as_deref(),
        Some(longest.as_str()),
        "a refused statement changes nothing"
    );
}

#[test]
fn a_transfer_clears_the_labels_and_the_new_owner_starts_clean() {
    let mut c = city();
    let water = c.party("water");
    c.submit(
        &water,
        LABELS,
        &make::labels(b"pump-1", Some("north"), &["pump"]),
    )
    .unwrap();
    // An offer alone keeps them: water still owns the device.
    c.ok(&water, TRANSFER, &make::transfer(b"pump-1", "grid"));
    assert_eq!(c.labels("pump-1"), labelled(Some("north"), &["pump"]));
    c.submit(&water, LABELS, &make::labels(b"pump-1", None, &[]))
        .unwrap();
    c.submit(
        &water,
        LABELS,
        &make::labels(b"pump-1", Some("north"), &["pump"]),
    )
    .unwrap();
    c.transfer("pump-1", "grid");
    assert_eq!(c.labels("pump-1"), LabelsRecord::default());
    assert!(!c
        .state
        .kv
        .contains_key(&keys::labels(&device_hash(b"pump-1"))));
    // The former owner can no longer label it; the new one can.
    let payload = make::labels(b"pump-1", Some("south"), &[]);
    assert!(matches!(
        c.submit(&water, LABELS, &payload),
        Err(Rejection::NotOwner { .. })
    ));
    let grid = c.party("grid");
    c.submit(&grid, LABELS, &payload).unwrap();
    assert_eq!(c.labels("pump-1"), labelled(Some("south"), &[]));
    // A transfer of a device without labels writes no labels key (nothing to clear).
    c.transfer("ctl-1", "grid");
    assert_eq!(c.labels("ctl-1"), LabelsRecord::default());
}

/// water lets its controllers actuate pumps in zone north, tagged "pump"; zone and tags come from
/// the ledger (`query::cedar_facts`), so relabelling a device changes the verdict.
#[test]
fn a_cedar_policy_on_zone_and_tags_judges_commands_from_ledger_labels() {
    let mut c = city();
    let water = c.party("water");
    let policy = r#"permit(principal, action == Proverka::Action::"actuate", resource in Proverka::Zone::"north")
        when { resource.tags.contains("pump") && principal.tags.contains("controller") };"#;
    c.ok(
        &water,
        CEDAR_POLICY,
        &make::cedar_policy("water", &[("north-pumps", policy)], None),
    );
    c.ok(
        &water,
        LABELS,
        &make::labels(b"ctl-1", None, &["controller"]),
    );
    let record = query::cedar_policy(&c.state, "water").unwrap().unwrap();
    let policies = OwnerPolicies::new("water", record.version, &record.policies).unwrap();
    let params = Params::new();
    let verdict = |c: &City| {
        let facts = |id: &str| {
            query::cedar_facts(&c.state, id.as_bytes(), c.now)
                .unwrap()
                .unwrap()
        };
        let (sender, recipient) = (facts("ctl-1"), facts("pump-1"));
        judge(
            &policies,
            &Request {
                sender: &sender.device,
                recipient: &recipient.device,
                action: Action::Actuate,
                now: c.now / 1000,
                sender_status: sender.status,
                sender_tv: sender.vector,
                params: &params,
            },
        )
        .unwrap()
    };
    assert_eq!(
        verdict(&c).decision,
        CedarDecision::Deny,
        "pump-1 has no labels yet"
    );
    c.ok(
        &water,
        LABELS,
        &make::labels(b"pump-1", Some("north"), &["pump"]),
    );
    let allowed = verdict(&c);
    assert_eq!(allowed.decision, CedarDecision::Allow);
    assert_eq!(allowed.satisfied, ["north-pumps"]);
    c.ok(
        &water,
        LABELS,
        &make::labels(b"pump-1", Some("south"), &["pump"]),
    );
    assert_eq!(
        verdict(&c).decision,
        CedarDecision::Deny,
        "moved out of zone north"
    );
    c.ok(
        &water,
        LABELS,
        &make::labels(b"pump-1", Some("north"), &["valve"]),
    );
    assert_eq!(
        verdict(&c).decision,
        CedarDecision::Deny,
        "no longer tagged pump"
    );
    c.ok(
        &water,
        LABELS,
        &make::labels(b"pump-1", Some("north"), &["pump"]),
    );
    assert_eq!(verdict(&c).decision, CedarDecision::Allow);
    c.ok(&water, LABELS, &make::labels(b"ctl-1", None, &[]));
    assert_eq!(
        verdict(&c).decision,
        CedarDecision::Deny,
        "the sender lost its tag"
    );
}
