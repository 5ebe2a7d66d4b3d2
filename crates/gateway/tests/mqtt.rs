//! The gateway against a real MQTT broker nobody on the team wrote (Mosquitto, installed by
//! `scripts/test.sh`) and a dev ledger node: devices publish commands and evidence; the gateway
//! delivers what the sender's passport and the owner's Cedar policy allow, refuses the rest
//! with the reason, and announces status changes as retained messages.

// The node tests' dev node (the cli tests include `support/epochs.rs` the same way).
#[path = "../../node/tests/support/mod.rs"]
mod node_support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use proverka_command::{sign_command, Action, Command, DeviceId, Params, SigningKey, UnixSeconds};
use proverka_gateway::{mqtt, Config, Gateway, Recorder};
use proverka_ledger::kinds;
use proverka_ledger::make::{self, Birth};
use proverka_node::RunningNode;
use proverka_statement::{sign_statement, ContentType, PrivateKey, StatementParams};
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use serde_json::Value;
use tokio::sync::mpsc;

const ROOT: &str = "proverka/v1";
const CTL: &[u8] = b"grid-ctl-1";
const VALVE: &[u8] = b"valve-9";
const CTL_SEED: [u8; 32] = [42; 32];
const FW_1: [u8; 32] = [0xc1; 32];

/// Mosquitto on a free loopback port, killed on drop.
struct Broker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Broker {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("mosquitto is not installed: scripts/test.sh installs it (apt-get install mosquitto)");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .unwrap();
        // Owned by the Broker at once, so that Drop kills it whatever happens next.
        let broker = Broker {
            child: Process::new(bin)
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
            port,
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return broker;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mosquitto did not start on port {port}");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Ledger {
    node: RunningNode,
    admin: PrivateKey,
    admin_pem: String,
    genesis: Vec<u8>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Ledger {
    async fn start() -> Ledger {
        let dir = tempfile::tempdir().unwrap();
        let node = node_support::dev_node(dir.path()).await;
        let pem = std::fs::read_to_string(dir.path().join("dev-admin.key.pem")).unwrap();
        Ledger {
            node,
            admin: PrivateKey::from_pkcs8_pem(&pem).unwrap(),
            admin_pem: pem,
            genesis: std::fs::read(dir.path().join("genesis.json")).unwrap(),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.node.addr)
    }

    async fn post(&self, statement: Vec<u8>) {
        let resp = self
            .http
            .post(format!("{}/entries", self.url()))
            .header("content-type", "application/cose")
            .header("accept", "application/problem+json")
            .body(statement)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert_eq!(status, 201, "{}", resp.text().await.unwrap());
    }

    /// The latest log root the ledger anchored: a device's evidence nonce must name one.
    async fn evidence_root(&self) -> [u8; 32] {
        let body = self
            .http
            .get(format!("{}/evidence-root", self.url()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        hex::decode(v["root"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    async fn register(&self, kind: &str, payload: &[u8]) {
        self.post(sign_statement(
            &self.admin,
            &StatementParams {
                iss: "dev-admin",
                sub: "gateway-test",
                iat: now_s() as i64,
                content_type: ContentType::Text(kind.into()),
                payload,
            },
        ))
        .await;
    }

    /// The interactions recorded about a device, once `n` are there (within 20 s).
    async fn interactions(&self, device: &[u8], n: usize) -> Vec<Value> {
        let url = format!(
            "{}/devices/{}/interactions",
            self.url(),
            hex::encode(device)
        );
        for _ in 0..200 {
            let bytes = self
                .http
                .get(&url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            let items = body["interactions"].as_array().cloned().unwrap_or_default();
            if items.len() >= n {
                return items;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "fewer than {n} interactions recorded for {}",
            hex::encode(device)
        );
    }

    /// A controller (the sender) and a valve (the recipient), both owned by dev-admin, whose
    /// Cedar policy lets affirming devices actuate its devices and marks that critical.
    async fn city(&self) {
        self.register(kinds::MODEL, &make::model("ctl", &[])).await;
        self.register(kinds::MODEL, &make::model("valve", &[]))
            .await;
        for (model, fw) in [("ctl", FW_1), ("valve", [0xa1; 32])] {
            self.register(
                kinds::RELEASE,
                &make::release(&make::Release {
                    model,
                    version: "1.0",
                    digest: fw,
                    svn: 1,
                    supersedes: None,
                    security: None,
                    revoked: false,
                }),
            )
            .await;
        }
        let ctl_key = PrivateKey::from_ed25519_seed(CTL_SEED);
        let valve_key = PrivateKey::from_ed25519_seed([9; 32]);
        for (id, key, model, fw) in [
            (CTL, &ctl_key, "ctl", FW_1),
            (VALVE, &valve_key, "valve", [0xa1; 32]),
        ] {
            self.register(
                kinds::BIRTH,
                &make::birth(&Birth {
                    device_id: id,
                    key: &key.public_key(),
                    model,
                    serial: "S1",
                    hw_version: "1",
                    factory_fw: fw,
                    x5chain: &[],
                }),
            )
            .await;
        }
        self.register(
            kinds::CEDAR_POLICY,
            &make::cedar_policy(
                "dev-admin",
                &[(
                    "affirming-actuate",
                    r#"@critical("valve actuation is recorded")
permit(principal, action == Proverka::Action::"actuate", resource)
  when { context.sender_status == "affirming" };"#,
                )],
                None,
            ),
        )
        .await;
    }
}

/// The controller's evidence: signed by the device itself.
fn evidence(nonce: &[u8], fw: [u8; 32], svn: u64) -> Vec<u8> {
    sign_statement(
        &PrivateKey::from_ed25519_seed(CTL_SEED),
        &StatementParams {
            iss: &hex::encode(CTL),
            sub: "evidence",
            iat: now_s() as i64,
            content_type: ContentType::Text(kinds::EVIDENCE.into()),
            payload: &make::evidence(&make::Evidence {
                device_id: CTL,
                nonce,
                fw,
                svn,
                debug: 3,
            }),
        },
    )
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn command(to: &[u8], seq: u64) -> Vec<u8> {
    let now = now_s();
    sign_command(
        &Command {
            sender: DeviceId::new(CTL.to_vec()).unwrap(),
            recipient: DeviceId::new(to.to_vec()).unwrap(),
            action: Action::new("actuate").unwrap(),
            params: Params::new(),
            seq,
            iat: UnixSeconds(now),
            exp: UnixSeconds(now + 60),
        },
        &SigningKey::from_ed25519_seed(CTL_SEED),
    )
}

/// A device-side MQTT client collecting every message on the topics it subscribed to.
struct Device {
    client: AsyncClient,
    inbox: mpsc::UnboundedReceiver<(String, Bytes)>,
}

impl Device {
    async fn connect(port: u16, id: &str, topics: &[String]) -> Device {
        let options = MqttOptions::new(id, "127.0.0.1", port);
        let (client, events) = AsyncClient::new(options, 64);
        let (tx, inbox) = mpsc::unbounded_channel();
        tokio::spawn(pump(events, tx));
        for t in topics {
            client.subscribe(t.clone(), QoS::AtLeastOnce).await.unwrap();
        }
        Device { client, inbox }
    }

    async fn publish(&self, topic: String, payload: Vec<u8>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }

    /// The next message on a topic for which `want` holds, within 20 s.
    async fn expect(&mut self, what: &str, want: impl Fn(&str, &[u8]) -> bool) -> (String, Bytes) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(Some((topic, body))) if want(&topic, &body) => return (topic, body),
                Ok(Some(_)) => continue,
                _ => panic!("no message: {what}"),
            }
        }
    }
}

async fn pump(mut events: EventLoop, tx: mpsc::UnboundedSender<(String, Bytes)>) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let topic = String::from_utf8_lossy(&p.topic).into_owned();
                if tx.send((topic, p.payload)).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

fn reasons(body: &[u8]) -> String {
    json(body)["reasons"].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_on_mosquitto_delivers_trusted_commands_and_refuses_the_rest() {
    let broker = Broker::start();
    let ledger = Ledger::start().await;
    ledger.city().await;
    ledger
        .post(evidence(&ledger.evidence_root().await, FW_1, 1))
        .await;

    let valve = DeviceId::new(VALVE.to_vec()).unwrap();
    let mut config = Config::new(&ledger.url(), ledger.genesis.clone(), [valve].into());
    config.broker_port = broker.port;
    config.senders = [DeviceId::new(CTL.to_vec()).unwrap()].into();
    config.sync_every = Duration::from_secs(1);
    config.max_snapshot_age_secs = 4;
    // The valve's owner (dev-admin) records critical commands with its own key.
    config.recorder = Some(Recorder {
        iss: "dev-admin".into(),
        key: Arc::new(PrivateKey::from_pkcs8_pem(&ledger.admin_pem).unwrap()),
    });
    let gateway = Arc::new(Gateway::new(config).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(mqtt::run(gateway.clone(), async {
        let _ = stopped.await;
    }));

    let (valve_hex, ctl_hex) = (hex::encode(VALVE), hex::encode(CTL));
    let mut device = Device::connect(
        broker.port,
        "test-device",
        &[
            format!("{ROOT}/deliver/{valve_hex}"),
            format!("{ROOT}/refused/+"),
            format!("{ROOT}/status/{ctl_hex}"),
            format!("{ROOT}/passport/{ctl_hex}"),
            format!("{ROOT}/answers"),
        ],
    )
    .await;
    let status_is = |want: &'static str| {
        let topic = format!("{ROOT}/status/{ctl_hex}");
        move |t: &str, b: &[u8]| t == topic && json(b)["status"] == want
    };

    // The gateway announces the controller's status (retained) and its passport.
    device
        .expect("controller affirming", status_is("affirming"))
        .await;
    let (_, passport) = device
        .expect("controller passport", |t, _| t.contains("/passport/"))
        .await;
    assert!(proverka_node::passport::Passport::decode(&passport).is_ok());

    // A trusted command is delivered to the valve's topic, byte for byte.
    let cmd = command(VALVE, 1);
    let to_valve = format!("{ROOT}/command/{valve_hex}");
    device.publish(to_valve.clone(), cmd.clone()).await;
    let (_, delivered) = device
        .expect("delivery", |t, _| t.contains("/deliver/"))
        .await;
    assert_eq!(delivered.as_ref(), cmd.as_slice());

    // The policy marks actuation critical: the gateway recorded it on the ledger, where an
    // auditor finds who told the valve to open, the verdict, and the sender's status then.
    let interactions = ledger.interactions(VALVE, 1).await;
    let item = &interactions[0];
    assert_eq!(item["sender"], hex::encode(CTL));
    assert_eq!(item["recipient"], valve_hex);
    assert_eq!(item["action"], "actuate");
    assert_eq!(item["seq"], 1);
    assert_eq!(item["recorded_by"], "dev-admin");
    assert_eq!(item["gateway"]["verdict"], "allow");
    assert_eq!(item["gateway"]["sender_status"], "affirming");
    assert_eq!(
        item["gateway"]["policy"]["satisfied"][0],
        "affirming-actuate"
    );
    assert_eq!(item["ledger"]["sender_status"], "affirming");
    let entry = item["entry"].as_str().unwrap();
    let receipt = ledger
        .http
        .get(format!("{}/entries/{entry}", ledger.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(receipt.status().as_u16(), 200, "the record has a receipt");

    // The same bytes again: a replay, refused with the reason.
    device.publish(to_valve.clone(), cmd).await;
    let (_, refused) = device
        .expect("replay refusal", |t, _| t.contains("/refused/"))
        .await;
    assert!(
        reasons(&refused).contains("replay"),
        "{}",
        reasons(&refused)
    );

    // A forged signature.
    let mut forged = command(VALVE, 2);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    device.publish(to_valve.clone(), forged).await;
    let (_, refused) = device
        .expect("forgery refusal", |t, _| t.contains("/refused/"))
        .await;
    assert!(
        reasons(&refused).contains("signature"),
        "{}",
        reasons(&refused)
    );

    // A device this gateway does not serve.
    let other = hex::encode(b"pump-3");
    device
        .publish(format!("{ROOT}/command/{other}"), command(b"pump-3", 3))
        .await;
    let (topic, refused) = device
        .expect("unknown recipient refusal", |t, _| t.contains("/refused/"))
        .await;
    assert_eq!(topic, format!("{ROOT}/refused/{other}"));
    assert!(
        reasons(&refused).contains("unknown recipient"),
        "{}",
        reasons(&refused)
    );

    // Garbage is refused as malformed, and nothing is delivered for it.
    device.publish(to_valve.clone(), b"not cose".to_vec()).await;
    let (_, refused) = device
        .expect("malformed refusal", |t, _| t.contains("/refused/"))
        .await;
    assert!(
        reasons(&refused).contains("malformed"),
        "{}",
        reasons(&refused)
    );

    // Evidence over MQTT reaches the ledger; the answer comes on the response topic.
    let props = PublishProperties {
        response_topic: Some(format!("{ROOT}/answers")),
        correlation_data: Some(Bytes::from_static(b"ev-2")),
        ..Default::default()
    };
    device
        .client
        .publish_with_properties(
            format!("{ROOT}/evidence"),
            QoS::AtLeastOnce,
            false,
            evidence(&ledger.evidence_root().await, FW_1, 1),
            props,
        )
        .await
        .unwrap();
    let (_, answer) = device
        .expect("evidence answer", |t, _| t.ends_with("/answers"))
        .await;
    assert_eq!(json(&answer)["status"], "accepted", "{answer:?}");

    // A critical advisory names the controller's firmware: the gateway's next sync announces
    // the new status, and the same kind of command is refused with the reason.
    ledger
        .register(
            kinds::ADVISORY,
            &make::advisory(&make::Advisory {
                id: "CERT-CTL-1",
                maker: "dev-admin",
                model: "ctl",
                versions: &["1.0"],
                cvss: Some(98),
                ..Default::default()
            }),
        )
        .await;
    device
        .expect("controller contraindicated", status_is("contraindicated"))
        .await;
    device.publish(to_valve.clone(), command(VALVE, 4)).await;
    let (_, refused) = device
        .expect("status refusal", |t, _| t.contains("/refused/"))
        .await;
    let why = reasons(&refused);
    assert!(why.contains("contraindicated"), "{why}");

    // The ledger goes away: once the snapshot is older than its bound (4 s), every command
    // is refused as stale — the gateway fails closed.
    ledger.node.shutdown().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    device.publish(to_valve, command(VALVE, 5)).await;
    let (_, refused) = device
        .expect("stale refusal", |t, _| t.contains("/refused/"))
        .await;
    assert!(
        reasons(&refused).contains("stale snapshot"),
        "{}",
        reasons(&refused)
    );

    let _ = stop.send(());
    running.await.unwrap().unwrap();
    drop(broker);
}
