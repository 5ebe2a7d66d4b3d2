//! A network of four validators as real processes (`proverka net up --validators 4`): a
//! statement submitted to any validator comes back with a receipt certified by a quorum, and a
//! validator killed with SIGKILL during sustained load, then restarted, catches up without
//! losing any statement that was acknowledged; every validator serves device passports that
//! verify with the genesis alone.

mod common;
#[path = "../src/ports.rs"]
mod ports;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{http_get, proverka_bin};
use ports::free_base_port;
use proverka_ledger::Genesis;
use proverka_statement::{sign_statement, statement_id, ContentType, PrivateKey, StatementParams};
use serde::Deserialize;

const VALIDATORS: usize = 4;
const CLIENTS_PER_VALIDATOR: usize = 4;
const VICTIM: usize = 2;

#[derive(Clone, Debug, Deserialize)]
struct Member {
    validator: String,
    api: String,
    p2p: String,
    data_dir: PathBuf,
}

/// Acknowledged statements: id → (statement, receipt answered with it).
type Acked = Arc<Mutex<BTreeMap<[u8; 32], (Vec<u8>, Vec<u8>)>>>;

/// The `proverka net up` process; stopping it (SIGTERM) stops every validator it started.
struct Net {
    up: Child,
    dir: PathBuf,
    members: Vec<Member>,
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.up.id().to_string()])
            .status();
        let _ = self.up.wait();
    }
}

fn net_up(dir: &Path) -> Net {
    let base = free_base_port(VALIDATORS)
        .unwrap()
        .expect("a free port range")
        .to_string();
    let up = Command::new(proverka_bin())
        .args([
            "net",
            "up",
            "--validators",
            "4",
            "--base-port",
            &base,
            "--dir",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn proverka net up");
    let members_path = dir.join("net.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !members_path.exists() {
        assert!(Instant::now() < deadline, "net.json not written");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200)); // let the write finish
    let members: Vec<Member> =
        serde_json::from_slice(&std::fs::read(&members_path).unwrap()).unwrap();
    assert_eq!(members.len(), VALIDATORS);
    Net {
        up,
        dir: dir.to_path_buf(),
        members,
    }
}

fn tree_size(url: &str) -> Option<u64> {
    let (status, body) = http_get(&format!("{url}/checkpoint")).ok()?;
    (status == 200).then_some(())?;
    String::from_utf8(body).ok()?.lines().nth(1)?.parse().ok()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn make_statement(admin: &PrivateKey, n: u64) -> Vec<u8> {
    sign_statement(
        admin,
        &StatementParams {
            iss: "net-admin",
            sub: &format!("meter-{}", n % 101),
            iat: 1_764_000_000 + n as i64,
            content_type: ContentType::Text("application/json".into()),
            payload: format!("{{\"kwh\": {n}}}").as_bytes(),
        },
    )
}

/// Submits statements to `url` from several clients until `stop`; records every 201/200.
async fn load(url: String, admin: Arc<PrivateKey>, acked: Acked, stop: Arc<AtomicBool>) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS_PER_VALIDATOR {
        let (http, url, admin, acked, stop) = (
            http.clone(),
            url.clone(),
            admin.clone(),
            acked.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let stmt = make_statement(&admin, NEXT.fetch_add(1, Ordering::Relaxed));
                let resp = http
                    .post(format!("{url}/entries"))
                    .header("content-type", "application/cose")
                    .body(stmt.clone())
                    .timeout(Duration::from_secs(20))
                    .send()
                    .await;
                match resp {
                    Ok(r) if matches!(r.status().as_u16(), 200 | 201) => {
                        let receipt = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                        acked
                            .lock()
                            .unwrap()
                            .insert(statement_id(&stmt), (stmt, receipt));
                    }
                    Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    Err(_) => return, // the validator was killed
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// A validator this test started itself; killed when dropped, so that a failing assertion
/// does not leave it running.
struct Restarted(Child);

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Restarts member `i` exactly as `net up` started it.
fn restart(net: &Net, i: usize) -> Restarted {
    let me = &net.members[i];
    let log = std::fs::OpenOptions::new()
        .append(true)
        .open(me.data_dir.join("node.log"))
        .unwrap();
    let mut cmd = Command::new(proverka_bin());
    cmd.arg("node")
        .arg("--data-dir")
        .arg(&me.data_dir)
        .arg("--genesis")
        .arg(net.dir.join("genesis.json"))
        .args(["--listen", me.api.trim_start_matches("http://")])
        .args(["--p2p-listen", &me.p2p]);
    for (j, peer) in net.members.iter().enumerate() {
        if j != i {
            cmd.args(["--peer", &format!("{}@{}", peer.validator, peer.p2p)]);
        }
    }
    let child = cmd
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("restart validator");
    Restarted(child)
}

#[test]
fn four_validators_certify_receipts_and_a_killed_validator_catches_up_losing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let net = net_up(dir.path());
    let genesis =
        Genesis::from_bytes(&std::fs::read(dir.path().join("genesis.json")).unwrap()).unwrap();
    assert_eq!(genesis.validators.len(), 4);
    assert_eq!(genesis.quorum(), 3);
    let pem = std::fs::read_to_string(dir.path().join("admin.key.pem")).unwrap();
    let admin = Arc::new(PrivateKey::from_pkcs8_pem(&pem).unwrap());
    for m in &net.members {
        wait_until("every validator serving", Duration::from_secs(60), || {
            tree_size(&m.api).is_some()
        });
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut loads: Vec<_> = net
        .members
        .iter()
        .map(|m| {
            rt.spawn(load(
                m.api.clone(),
                admin.clone(),
                acked.clone(),
                stop.clone(),
            ))
        })
        .collect();

    // Sustained load on all four, then SIGKILL one validator in the middle of it.
    wait_until("statements acknowledged", Duration::from_secs(60), || {
        acked.lock().unwrap().len() >= 200
    });
    let pid = std::fs::read_to_string(net.members[VICTIM].data_dir.join("node.pid")).unwrap();
    let killed = Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let at_kill = acked.lock().unwrap().len();
    wait_until(
        "the three others progress without it",
        Duration::from_secs(60),
        || acked.lock().unwrap().len() >= at_kill + 200,
    );

    // Restart it on the same data directory; load resumes on it too.
    let _restarted = restart(&net, VICTIM);
    let victim_url = net.members[VICTIM].api.clone();
    wait_until(
        "the restarted validator serving",
        Duration::from_secs(60),
        || tree_size(&victim_url).is_some(),
    );
    loads.push(rt.spawn(load(
        victim_url.clone(),
        admin.clone(),
        acked.clone(),
        stop.clone(),
    )));
    let before_stop = acked.lock().unwrap().len();
    wait_until("load after the restart", Duration::from_secs(60), || {
        acked.lock().unwrap().len() >= before_stop + 100
    });
    stop.store(true, Ordering::Relaxed);
    for l in loads {
        rt.block_on(l).unwrap();
    }

    // Everyone converges on one log.
    let sizes = || -> Vec<Option<u64>> { net.members.iter().map(|m| tree_size(&m.api)).collect() };
    wait_until(
        "all four at the same tree size",
        Duration::from_secs(90),
        || {
            let s = sizes();
            s.iter().all(|x| x.is_some()) && s.windows(2).all(|w| w[0] == w[1])
        },
    );
    let acked = acked.lock().unwrap();
    let final_size = sizes()[0].unwrap();
    assert!(
        final_size as usize >= acked.len(),
        "{final_size} < {}",
        acked.len()
    );

    // Every acknowledged statement: the receipt answered carries the quorum's checkpoint when
    // the quorum cosigned within `CERTIFY_WAIT` (2 s) — on a loaded machine it may not have,
    // and then it is the receiving validator's receipt alone (docs/network.md) — and every
    // validator (the restarted one included) serves a certified receipt for it afterwards.
    let mut certified_at_once = 0;
    for (id, (stmt, receipt)) in acked.iter() {
        match proverka_node::cosign::verify_certified_receipt(&genesis, receipt, stmt) {
            Ok(_) => certified_at_once += 1,
            Err(e) => {
                let keys = genesis.receipt_public_keys().unwrap();
                assert!(
                    keys.iter()
                        .any(|k| proverka_log::verify_receipt(receipt, stmt, k).is_ok()),
                    "receipt of {}: neither certified ({e}) nor a validator's",
                    hex::encode(id)
                );
            }
        }
    }
    assert!(
        certified_at_once > 0,
        "no receipt was certified when answered"
    );
    for m in &net.members {
        for (id, (stmt, _)) in acked.iter() {
            let (status, receipt) =
                http_get(&format!("{}/entries/{}", m.api, hex::encode(id))).unwrap();
            assert_eq!(status, 200, "{} lost {}", m.api, hex::encode(id));
            proverka_node::cosign::verify_certified_receipt(&genesis, &receipt, stmt)
                .unwrap_or_else(|e| panic!("{} serves {}: {e}", m.api, hex::encode(id)));
        }
    }

    // The checkpoints of all four agree, and the cosigned one verifies with the genesis alone.
    let notes: Vec<Vec<u8>> = net
        .members
        .iter()
        .map(|m| http_get(&format!("{}/checkpoint", m.api)).unwrap().1)
        .collect();
    let body = |n: &[u8]| {
        String::from_utf8_lossy(n)
            .split("\n\n")
            .next()
            .unwrap()
            .to_owned()
    };
    assert!(notes.iter().all(|n| body(n) == body(&notes[0])));
    let (status, cosigned) =
        http_get(&format!("{}/checkpoint/cosigned", net.members[VICTIM].api)).unwrap();
    assert_eq!(status, 200);
    let set = proverka_node::cosign::validator_set(&genesis).unwrap();
    assert_eq!(set.quorum, 3);
    let verified = proverka_log::verify_quorum_checkpoint(&cosigned, &set).unwrap();
    assert!(verified.cosignatures.len() >= 3);

    passports_from_every_validator_verify_with_the_genesis_alone(&net, &rt, &admin);
}

/// A device registered through one validator: every validator serves its trust passport, and
/// each verifies with the genesis file alone, whichever validator's receipt key signed its EAR.
fn passports_from_every_validator_verify_with_the_genesis_alone(
    net: &Net,
    rt: &tokio::runtime::Runtime,
    admin: &PrivateKey,
) {
    use proverka_ledger::{kinds, make};
    const DEVICE: &[u8] = b"valve-net-1";
    let device_key = PrivateKey::generate(proverka_statement::KeyType::Ed25519).unwrap();
    let birth = make::birth(&make::Birth {
        device_id: DEVICE,
        key: &device_key.public_key(),
        model: "valve-x",
        serial: "SN-1",
        hw_version: "1.0",
        factory_fw: [7; 32],
        x5chain: &[],
    });
    let http = reqwest::Client::new();
    for (kind, payload) in [
        (kinds::MODEL, make::model("valve-x", &[])),
        (kinds::BIRTH, birth),
    ] {
        let stmt = sign_statement(
            admin,
            &StatementParams {
                iss: "net-admin",
                sub: "valve-x",
                iat: 1_764_000_000,
                content_type: ContentType::Text(kind.into()),
                payload: &payload,
            },
        );
        let (status, text) = rt.block_on(async {
            let resp = http
                .post(format!("{}/entries", net.members[0].api))
                .header("content-type", "application/cose")
                .header("accept", "application/problem+json")
                .body(stmt)
                .timeout(Duration::from_secs(20))
                .send()
                .await
                .unwrap();
            (
                resp.status().as_u16(),
                resp.text().await.unwrap_or_default(),
            )
        });
        assert!(matches!(status, 200 | 201), "{kind}: {status} {text}");
    }
    let genesis = std::fs::read(net.dir.join("genesis.json")).unwrap();
    let mut signers = std::collections::BTreeSet::new();
    for m in &net.members {
        let url = format!("{}/devices/{}/passport", m.api, hex::encode(DEVICE));
        let mut answer = http_get(&url).unwrap();
        // The other validators apply the birth's block a moment later.
        wait_until(
            "the device known everywhere",
            Duration::from_secs(30),
            || {
                answer = http_get(&url).unwrap();
                answer.0 == 200
            },
        );
        let passport = proverka_node::passport::Passport::decode(&answer.1).unwrap();
        let ear = proverka_statement::SignedStatement::parse(&passport.1, &Default::default());
        signers.insert(*ear.unwrap().kid());
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        proverka_node::passport::verify(&genesis, &passport, DEVICE, now_ms)
            .unwrap_or_else(|e| panic!("the passport {} serves: {e}", m.api));
    }
    assert_eq!(
        signers.len(),
        VALIDATORS,
        "each validator signs its own EARs"
    );
}
