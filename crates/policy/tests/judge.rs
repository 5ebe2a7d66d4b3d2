//! Operators' Cedar policies as a specification: what is admitted, what each policy allows or
//! forbids, what a verdict names, and how the command verifier's hook uses it.

use std::collections::{BTreeMap, BTreeSet};

use proverka_command::{
    Action as CmdAction, Command, DeviceId, ParamValue, Params, PolicyDecision, PolicyHook,
    PolicyRequest, TrustStatus, UnixSeconds,
};
use proverka_policy::{
    check_policy_set, judge, nesting, Action, AdmissionError, CedarHook, Decision, DeviceFacts,
    FactSource, JudgeError, OwnerPolicies, Request, TrustVector, Verdict, MAX_NESTING,
    MAX_POLICIES, MAX_POLICY_BYTES, SCHEMA,
};

fn device(id: &str, owner: &str, zone: Option<&str>, tags: &[&str]) -> DeviceFacts {
    DeviceFacts {
        id: hex(id),
        owner: owner.into(),
        maker: "acme".into(),
        model: "ab".repeat(32),
        model_name: "lamp".into(),
        zone: zone.map(Into::into),
        tags: tags
            .iter()
            .map(|t| (*t).to_owned())
            .collect::<BTreeSet<_>>(),
        firmware: "11".repeat(32),
        svn: 3,
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn set(policies: &[(&str, &str)]) -> Vec<(String, String)> {
    policies
        .iter()
        .map(|(i, t)| ((*i).to_owned(), (*t).to_owned()))
        .collect()
}

/// water's set: switches in a zone may actuate lamps in the same zone; nothing is allowed from
/// a sender that is not affirming; nothing from a sender whose executables are contraindicated.
const ZONE_PERMIT: &str = r#"permit(principal, action == Proverka::Action::"actuate", resource)
when { principal has zone && resource has zone && principal.zone == resource.zone
       && principal.tags.contains("switch") };"#;
const NOT_AFFIRMING: &str =
    r#"forbid(principal, action, resource) unless { context.sender_status == "affirming" };"#;
const TV_FORBID: &str =
    r#"forbid(principal, action, resource) when { context.sender_tv.executables >= 96 };"#;

fn water(version: u64) -> OwnerPolicies {
    OwnerPolicies::new(
        "water",
        version,
        &set(&[
            ("zone-switches", ZONE_PERMIT),
            ("not-affirming", NOT_AFFIRMING),
            ("bad-executables", TV_FORBID),
        ]),
    )
    .unwrap()
}

fn ask(
    p: &OwnerPolicies,
    sender: &DeviceFacts,
    recipient: &DeviceFacts,
    action: Action,
    status: TrustStatus,
    tv: TrustVector,
) -> Verdict {
    let params = Params::new();
    judge(
        p,
        &Request {
            sender,
            recipient,
            action,
            now: 1_780_000_000,
            sender_status: status,
            sender_tv: tv,
            params: &params,
        },
    )
    .unwrap()
}

fn ok_tv() -> TrustVector {
    TrustVector {
        instance_identity: 2,
        executables: 2,
        configuration: 2,
        hardware: 2,
        ..Default::default()
    }
}

// ---------------------------------------------------------------- the schema

#[test]
fn the_published_schema_is_the_one_policies_are_validated_against() {
    let doc = include_str!("../../../docs/policy.cedarschema");
    assert_eq!(doc, SCHEMA);
    assert!(proverka_policy::schema().is_some());
}

// ---------------------------------------------------------------- decisions

#[test]
fn a_zone_permit_allows_a_switch_to_actuate_a_lamp_in_its_zone_only() {
    let p = water(1);
    let switch = device("switch-1", "grid", Some("north"), &["switch"]);
    let lamp = device("lamp-1", "water", Some("north"), &[]);
    let far = device("lamp-2", "water", Some("south"), &[]);
    let v = ask(
        &p,
        &switch,
        &lamp,
        Action::Actuate,
        TrustStatus::Affirming,
        ok_tv(),
    );
    assert_eq!(v.decision, Decision::Allow);
    assert_eq!(v.satisfied, vec!["zone-switches".to_owned()]);
    let v = ask(
        &p,
        &switch,
        &far,
        Action::Actuate,
        TrustStatus::Affirming,
        ok_tv(),
    );
    assert_eq!(v.decision, Decision::Deny, "another zone");
    let v = ask(
        &p,
        &switch,
        &lamp,
        Action::Reboot,
        TrustStatus::Affirming,
        ok_tv(),
    );
    assert_eq!(v.decision, Decision::Deny, "only actuate is permitted");
}

#[test]
fn a_sender_that_is_not_affirming_is_forbidden_even_where_a_permit_matches() {
    let p = water(1);
    let switch = device("switch-1", "grid", Some("north"), &["switch"]);
    let lamp = device("lamp-1", "water", Some("north"), &[]);
    for status in [
        TrustStatus::Warning,
        TrustStatus::None,
        TrustStatus::Contraindicated,
    ] {
        let v = ask(&p, &switch, &lamp, Action::Actuate, status, ok_tv());
        assert_eq!(v.decision, Decision::Deny);
        assert_eq!(v.satisfied, vec!["not-affirming".to_owned()], "{status}");
        assert_eq!(
            v.explain(),
            "cedar water v1: forbidden by not-affirming",
            "the forbid is named"
        );
    }
}

#[test]
fn a_contraindicated_trust_vector_claim_forbids_the_command() {
    let p = water(1);
    let switch = device("switch-1", "grid", Some("north"), &["switch"]);
    let lamp = device("lamp-1", "water", Some("north"), &[]);
    let tv = TrustVector {
        executables: 96,
        ..ok_tv()
    };
    let v = ask(
        &p,
        &switch,
        &lamp,
        Action::Actuate,
        TrustStatus::Affirming,
        tv,
    );
    assert_eq!(v.decision, Decision::Deny);
    assert_eq!(v.satisfied, vec!["bad-executables".to_owned()]);
}

#[test]
fn nothing_is_allowed_unless_a_policy_permits_it() {
    let switch = device("switch-1", "grid", None, &["switch"]);
    let lamp = device("lamp-1", "water", None, &[]);
    let empty = OwnerPolicies::new("water", 1, &[]).unwrap();
    let v = ask(
        &empty,
        &switch,
        &lamp,
        Action::Read,
        TrustStatus::Affirming,
        ok_tv(),
    );
    assert_eq!(v.decision, Decision::Deny);
    assert!(v.satisfied.is_empty());
    assert_eq!(v.explain(), "cedar water v1: no policy permits");
    // Devices in no zone: the zone permit does not match (and does not error).
    let v = ask(
        &water(1),
        &switch,
        &lamp,
        Action::Actuate,
        TrustStatus::Affirming,
        ok_tv(),
    );
    assert_eq!((v.decision, v.errors), (Decision::Deny, 0));
}

#[test]
fn the_verdict_names_the_version_and_lists_satisfied_ids_sorted() {
    let p = OwnerPolicies::new(
        "water",
        7,
        &set(&[
            ("z-last", "permit(principal, action, resource);"),
            (
                "a-first",
                r#"permit(principal, action, resource in Proverka::Org::"water");"#,
            ),
            (
                "m-mid",
                "permit(principal, action == Proverka::Action::\"read\", resource);",
            ),
        ]),
    )
    .unwrap();
    let a = device("a", "grid", None, &[]);
    let b = device("b", "water", None, &[]);
    let v = ask(
        &p,
        &a,
        &b,
        Action::Read,
        TrustStatus::Warning,
        TrustVector::default(),
    );
    assert_eq!(
        v,
        Verdict {
            decision: Decision::Allow,
            owner: "water".into(),
            policy_version: 7,
            satisfied: vec!["a-first".into(), "m-mid".into(), "z-last".into()],
            errors: 0,
            critical: false,
        }
    );
    // Sliced by action: `m-mid` is not even evaluated for other actions.
    assert_eq!(p.slice_len(Action::Read), 3);
    assert_eq!(p.slice_len(Action::Reboot), 2);
}

/// `@critical` marks the policies whose decisions the gateway records on the ledger: a command
/// is critical when a policy that decided it (a satisfied permit when allowed, a satisfied
/// forbid when denied) carries the annotation.
#[test]
fn a_command_decided_by_a_critical_policy_is_critical() {
    let p = OwnerPolicies::new(
        "water",
        2,
        &set(&[
            (
                "open-valves",
                r#"@critical("valve actuation is recorded")
permit(principal, action == Proverka::Action::"actuate", resource);"#,
            ),
            (
                "read-anything",
                r#"permit(principal, action == Proverka::Action::"read", resource);"#,
            ),
            (
                "no-reboot-when-warning",
                r#"@critical("")
forbid(principal, action == Proverka::Action::"reboot", resource)
  unless { context.sender_status == "affirming" };"#,
            ),
        ]),
    )
    .unwrap();
    assert!(p.is_critical("open-valves") && !p.is_critical("read-anything"));
    let ctl = device("ctl", "grid", None, &[]);
    let valve = device("valve", "water", None, &[]);
    let ask = |action, status| ask(&p, &ctl, &valve, action, status, ok_tv());
    let actuate = ask(Action::Actuate, TrustStatus::Affirming);
    assert_eq!(actuate.decision, Decision::Allow);
    assert!(actuate.critical);
    let read = ask(Action::Read, TrustStatus::Affirming);
    assert_eq!(read.decision, Decision::Allow);
    assert!(!read.critical);
    // A critical forbid makes the denial critical; a denial nothing decided is not.
    let reboot = ask(Action::Reboot, TrustStatus::Warning);
    assert_eq!((reboot.decision, reboot.critical), (Decision::Deny, true));
    let other = ask(Action::Configure, TrustStatus::Affirming);
    assert_eq!((other.decision, other.critical), (Decision::Deny, false));
}

#[test]
fn the_same_inputs_give_the_same_verdict_every_time() {
    let ids: Vec<(String, String)> = (0..10)
        .map(|i| {
            (
                format!("p{i:02}"),
                "permit(principal, action, resource);".to_owned(),
            )
        })
        .collect();
    let p = OwnerPolicies::new("water", 2, &ids).unwrap();
    let a = device("a", "grid", None, &[]);
    let b = device("b", "water", None, &[]);
    let first = ask(&p, &a, &b, Action::Read, TrustStatus::Affirming, ok_tv());
    for _ in 0..20 {
        // A fresh load too: the set is rebuilt from the same texts.
        let again = OwnerPolicies::new("water", 2, &ids).unwrap();
        assert_eq!(
            ask(
                &again,
                &a,
                &b,
                Action::Read,
                TrustStatus::Affirming,
                ok_tv()
            ),
            first
        );
    }
    assert_eq!(first.satisfied.len(), 10);
    assert!(first.satisfied.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn policies_read_model_maker_owner_firmware_svn_and_params() {
    let p = OwnerPolicies::new(
        "water",
        1,
        &set(&[(
            "dimming",
            r#"permit(principal in Proverka::Org::"grid", action == Proverka::Action::"actuate",
                      resource in Proverka::Zone::"north")
               when { resource.model.name == "lamp" && resource.model in Proverka::Maker::"acme"
                      && resource.svn >= 3 && resource.firmware like "1111*"
                      && principal.owner == Proverka::Org::"grid"
                      && context.params has level && context.params.level <= 3 };"#,
        )]),
    )
    .unwrap();
    let switch = device("s", "grid", None, &[]);
    let lamp = device("l", "water", Some("north"), &[]);
    let run = |params: &Params| {
        judge(
            &p,
            &Request {
                sender: &switch,
                recipient: &lamp,
                action: Action::Actuate,
                now: 0,
                sender_status: TrustStatus::Affirming,
                sender_tv: ok_tv(),
                params,
            },
        )
    };
    let low = Params::new().with("level", ParamValue::Int(3)).unwrap();
    let high = Params::new().with("level", ParamValue::Int(4)).unwrap();
    let odd = Params::new()
        .with("colour", ParamValue::Text("red".into()))
        .unwrap()
        .with("level", ParamValue::Int(1))
        .unwrap();
    let wrong = Params::new()
        .with("level", ParamValue::Text("high".into()))
        .unwrap();
    assert_eq!(run(&low).unwrap().decision, Decision::Allow);
    assert_eq!(run(&high).unwrap().decision, Decision::Deny);
    assert_eq!(run(&Params::new()).unwrap().decision, Decision::Deny);
    assert_eq!(
        run(&odd).unwrap().decision,
        Decision::Allow,
        "undeclared params are invisible"
    );
    assert_eq!(run(&wrong), Err(JudgeError::ParamType("level")));
}

#[test]
fn only_the_recipients_owner_policies_judge_a_command() {
    let p = water(1);
    let a = device("a", "water", None, &[]);
    let grid_lamp = device("b", "grid", None, &[]);
    let params = Params::new();
    let r = judge(
        &p,
        &Request {
            sender: &a,
            recipient: &grid_lamp,
            action: Action::Read,
            now: 0,
            sender_status: TrustStatus::Affirming,
            sender_tv: ok_tv(),
            params: &params,
        },
    );
    assert_eq!(r, Err(JudgeError::NotRecipientsOwner));
}

#[test]
fn a_policy_that_fails_at_run_time_denies() {
    // Validates (Long arithmetic), but overflows for any svn: an error, so deny.
    let p = OwnerPolicies::new(
        "water",
        4,
        &set(&[
            ("all", "permit(principal, action, resource);"),
            (
                "overflow",
                "forbid(principal, action, resource) when { resource.svn * 9223372036854775807 > 0 };",
            ),
        ]),
    )
    .unwrap();
    let a = device("a", "grid", None, &[]);
    let b = device("b", "water", None, &[]);
    let v = ask(&p, &a, &b, Action::Read, TrustStatus::Affirming, ok_tv());
    assert_eq!((v.decision, v.errors), (Decision::Deny, 1));
    assert_eq!(
        v.explain(),
        "cedar water v4: 1 policies failed to evaluate (fail closed)"
    );
}

// ---------------------------------------------------------------- admission

#[test]
fn admission_refuses_each_bad_policy_naming_it_and_a_fixed_category() {
    let good = "permit(principal, action, resource);";
    let cases: Vec<(Vec<(String, String)>, AdmissionError)> = vec![
        (
            set(&[("p", good), ("q", "permit(principal, action, resource")]),
            AdmissionError::Unparsable { id: "q".into() },
        ),
        (
            set(&[("t", "permit(principal == ?principal, action, resource);")]),
            AdmissionError::Unparsable { id: "t".into() },
        ),
        (
            set(&[("two", "permit(principal, action, resource); permit(principal, action, resource);")]),
            AdmissionError::Unparsable { id: "two".into() },
        ),
        (
            set(&[("v", "permit(principal, action, resource) when { resource.colour == \"red\" };")]),
            AdmissionError::Invalid { id: "v".into() },
        ),
        (
            set(&[("w", "permit(principal, action == Proverka::Action::\"explode\", resource);")]),
            AdmissionError::Invalid { id: "w".into() },
        ),
        (
            set(&[("u", "permit(principal, action, resource) when { resource.zone == Proverka::Zone::\"n\" };")]),
            AdmissionError::Invalid { id: "u".into() },
        ),
        (
            set(&[("p", good), ("p", good)]),
            AdmissionError::DuplicateId { id: "p".into() },
        ),
        (
            set(&[("p", good), ("bad id", good)]),
            AdmissionError::BadId { index: 1 },
        ),
        (
            set(&[("c", "permit(principal, action, resource);\u{0}")]),
            AdmissionError::ControlCharacter { id: "c".into() },
        ),
    ];
    for (policies, want) in cases {
        assert_eq!(check_policy_set(&policies), Err(want.clone()));
        // The message is the fixed category, never Cedar's text.
        assert!(!want.to_string().contains("unexpected token"));
    }
}

#[test]
fn admission_bounds_count_size_and_nesting() {
    let good = "permit(principal, action, resource);";
    let many: Vec<(String, String)> = (0..=MAX_POLICIES)
        .map(|i| (format!("p{i}"), good.to_owned()))
        .collect();
    assert_eq!(
        check_policy_set(&many),
        Err(AdmissionError::TooMany {
            count: MAX_POLICIES + 1
        })
    );
    assert!(check_policy_set(&many[..MAX_POLICIES]).is_ok());
    let big = format!("{good}//{}", "x".repeat(MAX_POLICY_BYTES));
    assert_eq!(
        check_policy_set(&set(&[("big", &big)])),
        Err(AdmissionError::TooLarge {
            id: "big".into(),
            bytes: big.len()
        })
    );
    let chain = format!(
        "permit(principal, action, resource) when {{ {} }};",
        vec!["true"; 100].join(" && ")
    );
    assert!(matches!(
        check_policy_set(&set(&[("deep", &chain)])),
        Err(AdmissionError::TooDeep { id, nesting }) if id == "deep" && nesting > MAX_NESTING
    ));
    let parens = format!(
        "permit(principal, action, resource) when {{ {}true{} }};",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(matches!(
        check_policy_set(&set(&[("parens", &parens)])),
        Err(AdmissionError::TooDeep { .. })
    ));
    assert_eq!(
        check_policy_set(&set(&[(
            "open",
            "permit(principal, action, resource) when { (true };"
        )])),
        Err(AdmissionError::Unparsable { id: "open".into() })
    );
}

#[test]
fn the_nesting_estimate_skips_strings_and_comments() {
    assert_eq!(nesting("permit(principal, action, resource);"), Some(2));
    assert_eq!(
        nesting(r#"permit(principal,action,resource) when { "((((&&" }; // ((("#),
        Some(3)
    );
    assert_eq!(nesting("permit("), None);
    assert_eq!(
        nesting("permit(principal, action, resource) when { \"open }; "),
        None
    );
}

#[test]
fn a_policy_at_the_nesting_bound_evaluates_on_a_small_stack() {
    // The deepest admissible expression, evaluated on a 1 MiB thread: no recursion-limit error.
    let n = MAX_NESTING - 8;
    let body = format!("{}true{}", "!(".repeat(n / 2), ")".repeat(n / 2));
    let text = format!("forbid(principal, action, resource) when {{ {body} }};");
    assert!(
        nesting(&text).unwrap() <= MAX_NESTING,
        "{:?}",
        nesting(&text)
    );
    let policies = set(&[
        ("all", "permit(principal, action, resource);"),
        ("deep", &text),
    ]);
    let v = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let p = OwnerPolicies::new("water", 1, &policies).unwrap();
            let a = device("a", "grid", None, &[]);
            let b = device("b", "water", None, &[]);
            ask(&p, &a, &b, Action::Read, TrustStatus::Affirming, ok_tv())
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(v.errors, 0);
}

// ---------------------------------------------------------------- the verifier's hook

struct Snapshot {
    devices: BTreeMap<Vec<u8>, DeviceFacts>,
    tv: TrustVector,
    policies: BTreeMap<String, OwnerPolicies>,
}

impl FactSource for Snapshot {
    fn device(&self, id: &DeviceId) -> Option<&DeviceFacts> {
        self.devices.get(id.as_bytes())
    }
    fn trust_vector(&self, _: &DeviceId) -> TrustVector {
        self.tv
    }
    fn policies(&self, owner: &str) -> Option<&OwnerPolicies> {
        self.policies.get(owner)
    }
}

fn command(action: &str) -> Command {
    Command {
        sender: DeviceId::new(*b"switch-1").unwrap(),
        recipient: DeviceId::new(*b"lamp-1").unwrap(),
        action: CmdAction::new(action).unwrap(),
        params: Params::new(),
        seq: 1,
        iat: UnixSeconds(1_000),
        exp: UnixSeconds(1_060),
    }
}

#[test]
fn the_verifier_hook_allows_by_policy_and_denies_naming_the_version() {
    let hook = CedarHook(Snapshot {
        devices: BTreeMap::from([
            (
                b"switch-1".to_vec(),
                device("switch-1", "grid", Some("north"), &["switch"]),
            ),
            (
                b"lamp-1".to_vec(),
                device("lamp-1", "water", Some("north"), &[]),
            ),
        ]),
        tv: ok_tv(),
        policies: BTreeMap::from([("water".to_owned(), water(3))]),
    });
    let decide = |cmd: &Command, status| {
        hook.decide(&PolicyRequest {
            command: cmd,
            sender_status: status,
            now: UnixSeconds(1_001),
        })
    };
    assert_eq!(
        decide(&command("actuate"), TrustStatus::Affirming),
        PolicyDecision::Allow
    );
    assert_eq!(
        decide(&command("actuate"), TrustStatus::Warning),
        PolicyDecision::Deny("cedar water v3: forbidden by not-affirming".into())
    );
    assert_eq!(
        decide(&command("read"), TrustStatus::Affirming),
        PolicyDecision::Deny("cedar water v3: no policy permits".into())
    );
    assert_eq!(
        decide(&command("self-destruct"), TrustStatus::Affirming),
        PolicyDecision::Deny("cedar water v3: action not in the policy vocabulary".into())
    );
}

#[test]
fn the_verifier_hook_denies_when_the_owner_has_no_policy_or_a_device_is_unknown() {
    let mut snapshot = Snapshot {
        devices: BTreeMap::from([(b"lamp-1".to_vec(), device("lamp-1", "water", None, &[]))]),
        tv: ok_tv(),
        policies: BTreeMap::new(),
    };
    let req = command("actuate");
    let ask = |s: &Snapshot| {
        CedarHook(s).decide(&PolicyRequest {
            command: &req,
            sender_status: TrustStatus::Affirming,
            now: UnixSeconds(1_001),
        })
    };
    assert_eq!(
        ask(&snapshot),
        PolicyDecision::Deny("cedar water: no policy set".into())
    );
    snapshot.policies.insert("water".into(), water(1));
    assert_eq!(
        ask(&snapshot),
        PolicyDecision::Deny("cedar water v1: sender unknown to the ledger".into())
    );
}
