//! Operators' Cedar policies as ledger data, as a specification: who may register a policy
//! set, what admission refuses (one test per refusal), and how versions follow each other.

use proverka_ledger::kinds::CEDAR_POLICY;
use proverka_ledger::payload::PayloadError;
use proverka_ledger::records::{keys, CedarPolicyRecord, Role};
use proverka_ledger::{make, query, BlockContext, Decision, Rejection, Rules};
use proverka_policy::{AdmissionError, MAX_NESTING, MAX_POLICIES, MAX_POLICY_BYTES};
use proverka_statement::statement_id;

mod support;
use support::city::{city_genesis, party, verdict, Party, T0};
use support::{MemState, NoCache};

/// A ledger with two operators (water, grid), a maker (acme) and a governance member.
struct City {
    rules: Rules,
    state: MemState,
    height: u64,
    now: u64,
    water: Party,
    grid: Party,
    acme: Party,
}

fn city() -> City {
    let (water, grid, acme, gov) = (party("water"), party("grid"), party("acme"), party("gov"));
    let issuers = vec![
        water.issuer(Role::Operator),
        grid.issuer(Role::Operator),
        acme.issuer(Role::Manufacturer),
        gov.issuer(Role::Governance),
    ];
    let genesis = city_genesis(issuers, &acme);
    City {
        rules: Rules::new(&genesis).unwrap(),
        state: MemState::default(),
        height: 0,
        now: T0,
        water,
        grid,
        acme,
    }
}

impl City {
    fn sign(&self, p: &Party, payload: &[u8]) -> Vec<u8> {
        p.sign_at(CEDAR_POLICY, payload, self.now)
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

    fn policy(
        &self,
        signer: &Party,
        owner: &str,
        set: &[(&str, &str)],
        sup: Option<u64>,
    ) -> Vec<u8> {
        self.sign(signer, &make::cedar_policy(owner, set, sup))
    }
}

const PERMIT_ZONE: &str = r#"permit(principal, action == Proverka::Action::"actuate", resource in Proverka::Zone::"north");"#;
const FORBID_UNTRUSTED: &str =
    r#"forbid(principal, action, resource) unless { context.sender_status == "affirming" };"#;

fn refused(category: AdmissionError) -> Rejection {
    Rejection::BadPayload {
        kind: "cedar-policy",
        error: PayloadError::CedarPolicy(category),
    }
}

#[test]
fn an_operator_registers_versions_of_its_policy_set_and_old_versions_stay_readable() {
    let mut c = city();
    let first = c.policy(&c.water, "water", &[("zone", PERMIT_ZONE)], None);
    let first_id = statement_id(&first);
    c.submit(first).unwrap();
    let v1 = query::cedar_policy(&c.state, "water").unwrap().unwrap();
    assert_eq!(
        v1,
        CedarPolicyRecord {
            owner: "water".into(),
            version: 1,
            entry: first_id,
            height: 1,
            time_ms: T0 + 1000,
            policies: vec![("zone".into(), PERMIT_ZONE.into())],
        }
    );
    c.submit(c.policy(
        &c.water,
        "water",
        &[("zone", PERMIT_ZONE), ("untrusted", FORBID_UNTRUSTED)],
        Some(1),
    ))
    .unwrap();
    let v2 = query::cedar_policy(&c.state, "water").unwrap().unwrap();
    assert_eq!((v2.version, v2.height, v2.policies.len()), (2, 2, 2));
    // A verdict that named version 1 can re-fetch exactly what judged it.
    assert_eq!(
        query::cedar_policy_version(&c.state, "water", 1).unwrap(),
        Some(v1)
    );
    assert_eq!(
        query::cedar_policy_version(&c.state, "water", 2).unwrap(),
        Some(v2.clone())
    );
    assert_eq!(
        query::cedar_policy_version(&c.state, "water", 3).unwrap(),
        None
    );
    // The stored texts load into the evaluator as they were admitted.
    let loaded = proverka_policy::OwnerPolicies::new("water", v2.version, &v2.policies).unwrap();
    assert_eq!(loaded.ids(), ["zone", "untrusted"]);
    // An empty set is a valid version: nothing is permitted any more.
    c.submit(c.policy(&c.water, "water", &[], Some(2))).unwrap();
    assert!(c.state.kv.contains_key(&keys::cedar_version("water", 3)));
    // Owners are independent: grid's first set is its version 1.
    assert_eq!(query::cedar_policy(&c.state, "grid").unwrap(), None);
    c.submit(c.policy(&c.grid, "grid", &[("zone", PERMIT_ZONE)], None))
        .unwrap();
    assert_eq!(
        query::cedar_policy(&c.state, "grid")
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

#[test]
fn only_an_operator_registers_cedar_policies() {
    let mut c = city();
    let by_maker = c.policy(&c.acme, "acme", &[("zone", PERMIT_ZONE)], None);
    assert_eq!(
        c.submit(by_maker),
        Err(Rejection::MissingRole {
            iss: "acme".into(),
            role: "operator"
        })
    );
}

#[test]
fn an_operator_writes_policies_only_for_the_devices_it_owns() {
    let mut c = city();
    let for_grid = c.policy(&c.water, "grid", &[("zone", PERMIT_ZONE)], None);
    assert!(matches!(
        c.submit(for_grid),
        Err(Rejection::NotPermitted(m)) if m.contains("only for its own devices")
    ));
    assert_eq!(query::cedar_policy(&c.state, "grid").unwrap(), None);
}

#[test]
fn an_unparsable_policy_is_refused_naming_it() {
    let mut c = city();
    let s = c.policy(
        &c.water,
        "water",
        &[
            ("zone", PERMIT_ZONE),
            ("broken", "permit(principal, action"),
        ],
        None,
    );
    assert_eq!(
        c.submit(s),
        Err(refused(AdmissionError::Unparsable {
            id: "broken".into()
        }))
    );
}

#[test]
fn a_policy_failing_schema_validation_is_refused_naming_it() {
    let mut c = city();
    let s = c.policy(
        &c.water,
        "water",
        &[(
            "colour",
            r#"permit(principal, action, resource) when { resource.colour == "red" };"#,
        )],
        None,
    );
    let err = c.submit(s).unwrap_err();
    assert_eq!(
        err,
        refused(AdmissionError::Invalid {
            id: "colour".into()
        })
    );
    // Only the id and a fixed category reach the refusal, never Cedar's message.
    assert_eq!(
        err.to_string(),
        "invalid cedar-policy payload: field 2: policy \"colour\" fails strict validation against the Proverka schema"
    );
}

#[test]
fn too_many_policies_are_refused() {
    let mut c = city();
    let ids: Vec<String> = (0..=MAX_POLICIES).map(|i| format!("p{i}")).collect();
    let set: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), PERMIT_ZONE)).collect();
    let s = c.policy(&c.water, "water", &set, None);
    assert_eq!(
        c.submit(s),
        Err(refused(AdmissionError::TooMany {
            count: MAX_POLICIES + 1
        }))
    );
}

#[test]
fn a_policy_text_over_the_size_limit_is_refused() {
    let mut c = city();
    let big = format!("{PERMIT_ZONE}\n//{}", "x".repeat(MAX_POLICY_BYTES));
    let s = c.policy(&c.water, "water", &[("big", &big)], None);
    assert_eq!(
        c.submit(s),
        Err(refused(AdmissionError::TooLarge {
            id: "big".into(),
            bytes: big.len()
        }))
    );
}

#[test]
fn a_policy_nested_too_deeply_is_refused_before_cedar_parses_it() {
    let mut c = city();
    let deep = format!(
        "permit(principal, action, resource) when {{ {}true{} }};",
        "(".repeat(2_000),
        ")".repeat(2_000)
    );
    let s = c.policy(&c.water, "water", &[("deep", &deep)], None);
    assert!(matches!(
        c.submit(s),
        Err(Rejection::BadPayload {
            error: PayloadError::CedarPolicy(AdmissionError::TooDeep { id, nesting }),
            ..
        }) if id == "deep" && nesting > MAX_NESTING
    ));
}

#[test]
fn a_stale_or_missing_supersedes_version_is_a_conflict() {
    let mut c = city();
    let claims_v1 = c.policy(&c.water, "water", &[("zone", PERMIT_ZONE)], Some(1));
    assert!(matches!(
        c.submit(claims_v1),
        Err(Rejection::Conflict(m)) if m.contains("no version is in force")
    ));
    c.submit(c.policy(&c.water, "water", &[("zone", PERMIT_ZONE)], None))
        .unwrap();
    c.submit(c.policy(&c.water, "water", &[("zone", PERMIT_ZONE)], Some(1)))
        .unwrap();
    // A writer that read version 1 and did not see version 2 is refused.
    let stale = c.policy(
        &c.water,
        "water",
        &[("untrusted", FORBID_UNTRUSTED)],
        Some(1),
    );
    assert!(matches!(
        c.submit(stale),
        Err(Rejection::Conflict(m)) if m.contains("supersedes 1, but version 2 is in force")
    ));
    let blind = c.policy(&c.water, "water", &[("untrusted", FORBID_UNTRUSTED)], None);
    assert!(matches!(c.submit(blind), Err(Rejection::Conflict(_))));
    assert_eq!(
        query::cedar_policy(&c.state, "water")
            .unwrap()
            .unwrap()
            .version,
        2
    );
}

#[test]
fn two_versions_in_one_block_follow_each_other() {
    let c = city();
    let a = c.policy(&c.water, "water", &[("zone", PERMIT_ZONE)], None);
    let b = c.policy(
        &c.water,
        "water",
        &[("untrusted", FORBID_UNTRUSTED)],
        Some(1),
    );
    let d = c
        .rules
        .apply_block(
            &c.state,
            BlockContext {
                height: 1,
                time_ms: T0,
                anchor: None,
            },
            &[a, b],
            &NoCache,
        )
        .unwrap();
    assert!(d
        .decisions
        .iter()
        .all(|d| matches!(d, Decision::Register { .. })));
}

#[test]
fn a_payload_of_the_wrong_shape_is_refused_naming_the_field() {
    let mut c = city();
    use ciborium::value::Value;
    let bad = proverka_ledger::payload::encode_map(vec![
        (1, Value::Text("water".into())),
        (2, Value::Array(vec![Value::Text("zone".into())])),
    ]);
    let s = c.sign(&c.water, &bad);
    assert!(matches!(
        c.submit(s),
        Err(Rejection::BadPayload {
            error: PayloadError::Invalid { label: 2, .. },
            ..
        })
    ));
}
