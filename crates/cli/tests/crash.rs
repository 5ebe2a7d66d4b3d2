//! Crash safety: SIGKILL during sustained submission loses nothing that was acknowledged, and
//! the log after restart is consistent with every checkpoint published before the kill.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::NodeProcess;
use proverka_statement::{sign_statement, statement_id, ContentType, PrivateKey, StatementParams};

/// Acknowledged statements: id → statement bytes.
type Acked = Arc<Mutex<BTreeMap<[u8; 32], Vec<u8>>>>;

const CLIENTS: usize = 16;
const KILL_CYCLES: usize = 3;

fn make_statement(admin: &PrivateKey, n: u64) -> Vec<u8> {
    let payload = format!("{{\"reading\": {n}}}");
    sign_statement(
        admin,
        &StatementParams {
            iss: "dev-admin",
            sub: &format!("sensor-{}", n % 97),
            iat: 1_764_000_000 + n as i64,
            content_type: ContentType::Text("application/json".into()),
            payload: payload.as_bytes(),
        },
    )
}

/// Submits statements from many clients until `stop`; records every 201/200 answer.
async fn load(
    url: String,
    admin: Arc<PrivateKey>,
    acked: Acked,
    stop: Arc<AtomicBool>,
    next: Arc<AtomicU64>,
) {
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (http, url, admin, acked, stop, next) = (
            http.clone(),
            url.clone(),
            admin.clone(),
            acked.clone(),
            stop.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let stmt = make_statement(&admin, next.fetch_add(1, Ordering::Relaxed));
                let resp = http
                    .post(format!("{url}/entries"))
                    .header("content-type", "application/cose")
                    .body(stmt.clone())
                    .timeout(Duration::from_secs(15))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().as_u16() == 201 || r.status().as_u16() == 200 => {
                        acked.lock().unwrap().insert(statement_id(&stmt), stmt);
                    }
                    Ok(_) => {}
                    Err(_) => return, // the node was killed
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

fn checkpoint(url: &str) -> Vec<u8> {
    let (status, body) = common::http_get(&format!("{url}/checkpoint")).expect("checkpoint");
    assert_eq!(status, 200);
    body
}

#[test]
fn sigkill_during_sustained_submission_loses_no_acknowledged_statement() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let acked: Acked = Arc::default();
    let next = Arc::new(AtomicU64::new(0));
    let mut checkpoints: Vec<Vec<u8>> = Vec::new();

    for cycle in 0..KILL_CYCLES {
        let node = NodeProcess::start_dev(dir.path());
        let admin = Arc::new(node.admin_key());
        let stop = Arc::new(AtomicBool::new(false));
        let handle = rt.spawn(load(
            node.url.clone(),
            admin,
            acked.clone(),
            stop.clone(),
            next.clone(),
        ));
        // Sustained load, sampling checkpoints as a monitor would.
        for _ in 0..6 {
            std::thread::sleep(Duration::from_millis(250));
            checkpoints.push(checkpoint(&node.url));
        }
        let before = acked.lock().unwrap().len();
        node.kill(); // SIGKILL mid-load
        stop.store(true, Ordering::Relaxed);
        let _ = rt.block_on(handle);
        assert!(
            before > 0,
            "cycle {cycle}: no statement was acknowledged before the kill"
        );
    }

    let node = NodeProcess::start_dev(dir.path());
    let genesis = node.genesis();
    let receipt_key = genesis.receipt_public_key().unwrap();
    let acked = acked.lock().unwrap().clone();
    for (id, stmt) in &acked {
        let (status, receipt) =
            common::http_get(&format!("{}/entries/{}", node.url, hex::encode(id))).unwrap();
        assert_eq!(
            status,
            200,
            "acknowledged statement {} lost",
            hex::encode(id)
        );
        proverka_log::verify_receipt(&receipt, stmt, &receipt_key)
            .unwrap_or_else(|e| panic!("receipt of {} invalid: {e}", hex::encode(id)));
    }

    let latest = checkpoint(&node.url);
    let new = proverka_log::verify_checkpoint(&latest, &genesis.origin, &genesis.checkpoint_vkey)
        .unwrap();
    for old in &checkpoints {
        let old = proverka_log::verify_checkpoint(old, &genesis.origin, &genesis.checkpoint_vkey)
            .unwrap();
        assert!(old.size <= new.size, "the log shrank after a crash");
        if old.size == 0 {
            continue;
        }
        let url = format!(
            "{}/proofs/consistency?old={}&new={}",
            node.url, old.size, new.size
        );
        let (status, body) = common::http_get(&url).unwrap();
        assert_eq!(status, 200);
        let proof: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let path: Vec<[u8; 32]> = proof["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                hex::decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        proverka_log::verify_consistency(old.size, new.size, &old.root, &new.root, &path)
            .unwrap_or_else(|e| {
                panic!(
                    "checkpoint {} inconsistent with {}: {e}",
                    old.size, new.size
                )
            });
    }
    eprintln!(
        "crash test: {} acknowledged statements survived {KILL_CYCLES} SIGKILLs; {} checkpoints consistent with size {}",
        acked.len(),
        checkpoints.len(),
        new.size
    );
}
