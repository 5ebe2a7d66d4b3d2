//! Interaction records over HTTP: a command recorded by the recipient's owner is listed for
//! both devices with the gateway's verdict and the ledger's own view of the sender, and each
//! item's entry id fetches the receipt of the interaction statement.

use proverka_command::{
    sign_command, Action, Command, DeviceId, ParamValue, Params, SigningKey, TrustStatus,
    UnixSeconds,
};
use proverka_ledger::interaction::GatewayVerdict;
use proverka_ledger::kinds;
use proverka_ledger::make::{self, Birth};
use proverka_statement::{
    sign_statement, statement_id, ContentType, KeyType, PrivateKey, StatementParams,
};
use serde_json::Value;

mod support;
use support::{post_entry, Harness};

impl Harness {
    /// Registers a statement signed by the dev admin (every role; owner of what it births);
    /// returns its entry id.
    async fn register(&self, kind: &str, payload: &[u8]) -> [u8; 32] {
        let body = sign_statement(
            &self.admin,
            &StatementParams {
                iss: "dev-admin",
                sub: "interactions-test",
                iat: 1_764_000_000,
                content_type: ContentType::Text(kind.into()),
                payload,
            },
        );
        let id = statement_id(&body);
        let resp = post_entry(&self.http, &self.url(""), body).await;
        assert_eq!(
            resp.status().as_u16(),
            201,
            "{}",
            resp.text().await.unwrap()
        );
        id
    }

    async fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let resp = self.http.get(self.url(path)).send().await.unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    async fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, body) = self.get(path).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn birth(&self, id: &[u8], key: &proverka_statement::PublicKey) {
        let b = make::birth(&Birth {
            device_id: id,
            key,
            model: "valve-x",
            serial: "SN",
            hw_version: "1",
            factory_fw: [7; 32],
            x5chain: &[],
        });
        self.register(kinds::BIRTH, &b).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_command_is_listed_for_both_devices_with_its_receipt() {
    let h = Harness::start().await;
    let seed = [0x5e; 32];
    h.register(kinds::MODEL, &make::model("valve-x", &[])).await;
    h.birth(b"ctl-1", &PrivateKey::from_ed25519_seed(seed).public_key())
        .await;
    h.birth(
        b"valve-1",
        &PrivateKey::generate(KeyType::Ed25519).unwrap().public_key(),
    )
    .await;

    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let command = sign_command(
        &Command {
            sender: DeviceId::new(b"ctl-1".to_vec()).unwrap(),
            recipient: DeviceId::new(b"valve-1".to_vec()).unwrap(),
            action: Action::new("open").unwrap(),
            params: Params::new().with("level", ParamValue::Int(3)).unwrap(),
            seq: 9,
            iat: UnixSeconds(now_s),
            exp: UnixSeconds(now_s + 60),
        },
        &SigningKey::from_ed25519_seed(seed),
    );
    let payload = make::interaction(&make::Interaction {
        command: &command,
        verdict: GatewayVerdict::Deny,
        reasons: &["sender status none does not meet affirming"],
        observed: now_s,
        snapshot_height: 1,
        snapshot_certified_ms: (now_s - 5) * 1000,
        sender_status: TrustStatus::None,
        policy: None,
    });
    let entry = h.register(kinds::INTERACTION, &payload).await;

    let (status, sent) = h
        .get_json(&format!("/devices/{}/interactions", hex::encode("ctl-1")))
        .await;
    assert_eq!(status, 200, "{sent}");
    let items = sent["interactions"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["entry"], hex::encode(entry));
    assert_eq!(item["role"], "sender");
    assert_eq!(item["sender"], hex::encode("ctl-1"));
    assert_eq!(item["recipient"], hex::encode("valve-1"));
    assert_eq!(item["action"], "open");
    assert_eq!(item["params"]["level"], 3);
    assert_eq!(
        (item["seq"].as_u64(), item["exp"].as_u64()),
        (Some(9), Some(now_s + 60))
    );
    assert_eq!(item["recorded_by"], "dev-admin");
    assert_eq!(item["gateway"]["verdict"], "deny");
    assert_eq!(
        item["gateway"]["reasons"][0],
        "sender status none does not meet affirming"
    );
    assert_eq!(item["gateway"]["snapshot"]["height"], 1);
    assert_eq!(item["gateway"]["policy"], Value::Null);
    // The ledger's view: the controller never attested.
    assert_eq!(item["ledger"]["sender_status"], "none");
    assert!(sent["next"].is_null());

    let (_, received) = h
        .get_json(&format!("/devices/{}/interactions", hex::encode("valve-1")))
        .await;
    assert_eq!(received["interactions"][0]["role"], "recipient");
    assert_eq!(received["interactions"][0]["entry"], hex::encode(entry));

    // The receipt of the interaction statement.
    let (status, receipt) = h.get(&format!("/entries/{}", hex::encode(entry))).await;
    assert_eq!(status, 200);
    assert!(!receipt.is_empty());

    // Paging: a full page of one names where the next starts; after it there is nothing.
    let (_, page) = h
        .get_json(&format!(
            "/devices/{}/interactions?limit=1",
            hex::encode("ctl-1")
        ))
        .await;
    let next = page["next"].as_str().unwrap().to_owned();
    assert!(next.ends_with(".sender"), "{next}");
    let (_, after) = h
        .get_json(&format!(
            "/devices/{}/interactions?after={next}",
            hex::encode("ctl-1")
        ))
        .await;
    assert_eq!(after["interactions"].as_array().unwrap().len(), 0);

    // Bad input is a problem, and unknown devices are not found.
    for bad in ["?limit=101", "?limit=0", "?after=1.2", "?after=1.2.owner"] {
        let (status, _) = h
            .get(&format!(
                "/devices/{}/interactions{bad}",
                hex::encode("ctl-1")
            ))
            .await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = h
        .get(&format!("/devices/{}/interactions", hex::encode("nobody")))
        .await;
    assert_eq!(status, 404);
    h.node.shutdown().await;
}
