//! Decisions per second with 1, 3 and 10 policies per owner, prebuilt entities, and the cost
//! of building a request's entities. Run:
//! `cargo run --release -p proverka-policy --example policy_bench`

use std::hint::black_box;
use std::time::Instant;

use proverka_policy::{
    judge, judge_with, Action, DeviceFacts, OwnerPolicies, ParamValue, Params, Request,
    RequestEntities, TrustStatus, TrustVector,
};

const POLICIES: [(&str, &str); 10] = [
    (
        "untrusted",
        r#"forbid(principal, action, resource) unless { context.sender_status == "affirming" };"#,
    ),
    (
        "zone-actuate",
        r#"permit(principal, action == Proverka::Action::"actuate", resource)
        when { principal has zone && resource has zone && principal.zone == resource.zone && principal.tags.contains("switch") };"#,
    ),
    (
        "tv",
        r#"forbid(principal, action, resource) when { context.sender_tv.executables >= 96 || context.sender_tv.configuration >= 96 || context.sender_tv.hardware >= 96 };"#,
    ),
    (
        "grid-dim",
        r#"permit(principal in Proverka::Org::"grid", action == Proverka::Action::"actuate", resource in Proverka::Zone::"z1")
        when { context.params has level && context.params.level <= 3 && resource.model.name == "lamp" };"#,
    ),
    (
        "own-config",
        r#"permit(principal in Proverka::Org::"water", action in [Proverka::Action::"configure", Proverka::Action::"reboot"], resource)
        when { context.sender_tv.configuration <= 31 && context.sender_tv.executables <= 31 };"#,
    ),
    (
        "fw-window",
        r#"forbid(principal, action == Proverka::Action::"firmware_update", resource) when { context.now > 1780003600 };"#,
    ),
    (
        "read-all",
        r#"permit(principal in Proverka::Org::"water", action == Proverka::Action::"read", resource);"#,
    ),
    (
        "old-fw",
        r#"forbid(principal, action, resource) when { principal.svn < 2 };"#,
    ),
    (
        "maker",
        r#"permit(principal, action == Proverka::Action::"read", resource) when { principal.maker == Proverka::Maker::"acme" && resource.tags.contains("public") };"#,
    ),
    (
        "emergency",
        r#"permit(principal, action, resource in Proverka::Zone::"z2") when { principal.tags.contains("safety") && context.now > 0 };"#,
    ),
];

fn device(i: usize, owner: &str) -> DeviceFacts {
    DeviceFacts {
        id: format!("{i:016x}"),
        owner: owner.into(),
        maker: "acme".into(),
        model: format!("{:064x}", i % 3),
        model_name: if i.is_multiple_of(3) {
            "lamp"
        } else {
            "switch"
        }
        .into(),
        zone: Some(format!("z{}", i % 4)),
        tags: ["switch", "public", "safety"]
            .iter()
            .take(i % 4)
            .map(|t| (*t).to_owned())
            .collect(),
        firmware: "11".repeat(32),
        svn: 3,
    }
}

fn main() {
    let n = 64;
    let senders: Vec<DeviceFacts> = (0..n).map(|i| device(i, "grid")).collect();
    let recipients: Vec<DeviceFacts> = (0..n).map(|i| device(1000 + i, "water")).collect();
    let params = Params::new()
        .with("level", ParamValue::Int(2))
        .unwrap_or_default();
    let tv = TrustVector {
        instance_identity: 2,
        configuration: 2,
        executables: 2,
        hardware: 2,
        ..Default::default()
    };
    let request = |i: usize| Request {
        sender: &senders[i % n],
        recipient: &recipients[(i * 7) % n],
        action: Action::ALL[i % 2],
        now: 1_780_000_000,
        sender_status: TrustStatus::Affirming,
        sender_tv: tv,
        params: &params,
    };
    let prebuilt: Vec<RequestEntities> = (0..n)
        .map(|i| {
            let r = request(i);
            RequestEntities::new(r.sender, r.recipient).expect("facts build")
        })
        .collect();
    let rounds = 40_000;
    println!("cedar-policy 4.14.1, one thread, {rounds} decisions per figure");
    for k in [1usize, 3, 10] {
        let set: Vec<(String, String)> = POLICIES[..k]
            .iter()
            .map(|(i, t)| ((*i).to_owned(), (*t).to_owned()))
            .collect();
        let p = OwnerPolicies::new("water", 1, &set).expect("admitted");
        let slice = (p.slice_len(Action::Actuate) + p.slice_len(Action::Read)) as f64 / 2.0;
        let mut allowed = 0;
        let start = Instant::now();
        for i in 0..rounds {
            let v = judge_with(&p, &request(i), &prebuilt[i % n]).expect("judged");
            allowed += usize::from(v.decision == proverka_policy::Decision::Allow);
        }
        let t = start.elapsed().as_secs_f64();
        println!(
            "{k:>2} policies ({slice:.1} evaluated per decision): {:>8.0} decisions/s ({:.2} us each, prebuilt entities), {allowed} allowed",
            rounds as f64 / t,
            t * 1e6 / rounds as f64
        );
        if k == 10 {
            let start = Instant::now();
            for i in 0..rounds {
                black_box(judge(&p, &request(i)).expect("judged"));
            }
            let t = start.elapsed().as_secs_f64();
            println!(
                "10 policies, entities built per request:           {:>8.0} decisions/s ({:.2} us each)",
                rounds as f64 / t,
                t * 1e6 / rounds as f64
            );
        }
    }
    let start = Instant::now();
    for i in 0..rounds {
        let r = request(i);
        black_box(RequestEntities::new(r.sender, r.recipient).expect("facts build"));
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "building one request's entities (2 devices + models): {:.2} us",
        t * 1e6 / rounds as f64
    );
    let start = Instant::now();
    let set: Vec<(String, String)> = POLICIES
        .iter()
        .map(|(i, t)| ((*i).to_owned(), (*t).to_owned()))
        .collect();
    let loads = 50;
    for _ in 0..loads {
        black_box(OwnerPolicies::new("water", 1, &set).expect("admitted"));
    }
    println!(
        "admitting 10 policies (parse + strict validation + slicing): {:.2} ms",
        start.elapsed().as_secs_f64() * 1e3 / loads as f64
    );
}
