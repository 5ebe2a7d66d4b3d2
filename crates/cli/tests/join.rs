//! A new node joins a running ledger by state sync as real processes (`proverka node --join
//! URL`, decision 003 step 5): it copies the log and state of a height a quorum certified,
//! starts consensus there without replaying the blocks below it, follows what is finalized
//! afterwards, and resumes from its floor after a SIGKILL. It is given a member that is down
//! first, and goes on to the next.

mod common;
#[path = "../src/ports.rs"]
mod ports;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{cli, http_get, NodeProcess};
use ports::free_base_port;
use proverka_node::datadir::{NodePublic, DEV_ADMIN_ISS};
use proverka_statement::{sign_statement, statement_id, ContentType, PrivateKey, StatementParams};

fn post_statement(base: &str, statement: &[u8]) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{base}/entries"))
            .header("content-type", "application/cose")
            .body(statement.to_vec())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

fn statement(admin: &PrivateKey, n: u32) -> Vec<u8> {
    sign_statement(
        admin,
        &StatementParams {
            iss: DEV_ADMIN_ISS,
            sub: &format!("joining-{n}"),
            iat: 1_764_000_000,
            content_type: ContentType::Text("text/plain".into()),
            payload: format!("reading {n}").as_bytes(),
        },
    )
}

/// Registers a statement at `node` and returns it with its id.
fn register(node: &NodeProcess, admin: &PrivateKey, n: u32) -> (Vec<u8>, [u8; 32]) {
    let s = statement(admin, n);
    assert_eq!(post_statement(&node.url, &s), 201, "statement {n}");
    let id = statement_id(&s);
    (s, id)
}

/// Waits until `node` serves the statement `id` (it applied the block that registered it).
fn wait_for_statement(node: &NodeProcess, id: &[u8; 32], statement: &[u8]) {
    let url = format!("{}/entries/{}/statement", node.url, hex::encode(id));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, body)) = http_get(&url) {
            assert_eq!(body, statement);
            return;
        }
        assert!(Instant::now() < deadline, "{} never got {url}", node.url);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The (size, root line) of a node's checkpoint note.
fn tree_head(node: &NodeProcess) -> (u64, String) {
    let (status, body) = http_get(&format!("{}/checkpoint", node.url)).unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let mut lines = text.lines().skip(1);
    let size = lines.next().unwrap().parse().unwrap();
    (size, lines.next().unwrap().to_owned())
}

fn public(dir: &Path) -> NodePublic {
    serde_json::from_slice(&std::fs::read(dir.join("keys/public.json")).unwrap()).unwrap()
}

fn floor_of(node: &NodeProcess) -> u64 {
    let line = node
        .printed_line("floor")
        .expect("a joined node prints its floor");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_new_node_joins_from_a_certified_floor_follows_and_resumes_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let base = free_base_port(2).unwrap().expect("free ports");
    let (a_p2p, b_p2p) = (
        format!("127.0.0.1:{}", base + 100),
        format!("127.0.0.1:{}", base + 101),
    );

    // A ledger of one validator, running for a while before the newcomer exists.
    let a = NodeProcess::start_dev(&a_dir);
    let admin = a.admin_key();
    let origin = a.genesis().origin;
    let early: Vec<_> = (0..5).map(|n| register(&a, &admin, n)).collect();
    assert_eq!(a.stop().code(), Some(0));

    // The newcomer's keys; the validator learns its address (the p2p allow-list).
    let (code, _, err) = cli(&["init", "--data-dir", &s(&b_dir), "--origin", &origin]);
    assert_eq!(code, 0, "{err}");
    let (a_key, b_key) = (public(&a_dir).validator, public(&b_dir).validator);
    let a = NodeProcess::start(
        &a_dir,
        &[
            "--dev",
            "--data-dir",
            &s(&a_dir),
            "--listen",
            "127.0.0.1:0",
            "--p2p-listen",
            &a_p2p,
            "--peer",
            &format!("{b_key}@{b_p2p}"),
        ],
    );
    let more: Vec<_> = (5..8).map(|n| register(&a, &admin, n)).collect();

    let genesis = s(&a_dir.join("genesis.json"));
    let b_args = |join: Option<&str>| {
        let mut args = vec![
            "--data-dir".to_owned(),
            s(&b_dir),
            "--genesis".to_owned(),
            genesis.clone(),
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--p2p-listen".to_owned(),
            b_p2p.clone(),
            "--peer".to_owned(),
            format!("{a_key}@{a_p2p}"),
        ];
        if let Some(url) = join {
            // A member that is down comes first: the joiner goes on to the next one.
            args.extend(["--join".to_owned(), "http://127.0.0.1:1".to_owned()]);
            args.extend(["--join".to_owned(), url.to_owned()]);
        }
        args
    };
    let args = b_args(Some(&a.url));
    let b = NodeProcess::start(&b_dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let floor = floor_of(&b);
    assert!(floor >= 1);

    // Everything registered before it joined is there, imported, not replayed: the
    // validator still serves block 1's certificate; the joiner holds nothing below its floor.
    for (st, id) in early.iter().chain(&more) {
        wait_for_statement(&b, id, st);
    }
    let below = |node: &NodeProcess| http_get(&format!("{}/sync/floor/1", node.url)).unwrap().0;
    assert_eq!(below(&a), 200);
    if floor > 1 {
        assert_eq!(below(&b), 404, "no block below the floor is kept");
    }

    // It follows what is finalized after it joined, to the same log.
    let (late, late_id) = register(&a, &admin, 100);
    wait_for_statement(&b, &late_id, &late);
    let deadline = Instant::now() + Duration::from_secs(30);
    while tree_head(&a) != tree_head(&b) {
        assert!(Instant::now() < deadline, "the joiner's log differs");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(tree_head(&b).0, 9);

    // SIGKILL, then a restart without --join: it resumes from its floor and follows again.
    b.kill();
    let (after, after_id) = register(&a, &admin, 101);
    let args = b_args(None);
    let b = NodeProcess::start(&b_dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(floor_of(&b), floor, "the floor is the one it joined at");
    wait_for_statement(&b, &after_id, &after);
    let (last, last_id) = register(&a, &admin, 102);
    wait_for_statement(&b, &last_id, &last);
}

#[test]
fn joining_is_refused_for_a_dev_node_and_for_an_unreachable_peer_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("b");
    let s = data.to_str().unwrap();
    let (code, _, err) = cli(&[
        "node",
        "--dev",
        "--data-dir",
        s,
        "--join",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--join") && err.contains("--dev"), "{err}");

    // A real genesis, but nobody at the URL: a clear error, and no ledger was created.
    let a = dir.path().join("a");
    let a_node = NodeProcess::start_dev(&a);
    let origin = a_node.genesis().origin;
    drop(a_node);
    let (code, _, err) = cli(&["init", "--data-dir", s, "--origin", &origin]);
    assert_eq!(code, 0, "{err}");
    let genesis = a.join("genesis.json");
    let (code, _, err) = cli(&[
        "node",
        "--data-dir",
        s,
        "--genesis",
        genesis.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--join",
        "http://127.0.0.1:1",
    ]);
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("joining") && err.contains("127.0.0.1:1"),
        "{err}"
    );
    assert!(
        !data.join("state").exists() && !data.join("consensus").exists(),
        "no state was synced and consensus never started"
    );
}
