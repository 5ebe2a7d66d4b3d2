//! Joining by state sync over HTTP (`proverka_node::join`, decision 003 step 5, the state half):
//! a fresh state database built from a running node's API at a height a quorum certified, and
//! the serving routes' refusals.

mod support;

use std::time::Duration;

use proverka_ledger::records::keys;
use proverka_ledger::{kinds, make};
use proverka_node::join::{self, HttpPeer, JoinError};
use proverka_statement::{sign_statement, ContentType, PrivateKey, StatementParams};
use support::{dev_node, post_entry};

/// Waits until the node has applied at least `height` blocks.
async fn wait_for_height(node: &proverka_node::RunningNode, height: u64) {
    for _ in 0..200 {
        if node.shared.state.head().0 >= height {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the node did not reach height {height}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_copies_a_certified_height_of_a_running_node_and_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = dev_node(dir.path()).await;
    wait_for_height(&node, 3).await;
    let base = format!("http://{}", node.addr);
    let genesis = std::fs::read(dir.path().join("genesis.json")).unwrap();
    let admin: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("dev-admin.json")).unwrap()).unwrap();
    let admin_iss = admin["iss"].as_str().unwrap();
    // A model registered by the dev admin: records in the state beyond the genesis.
    let pem = std::fs::read_to_string(dir.path().join("dev-admin.key.pem")).unwrap();
    let model = sign_statement(
        &PrivateKey::from_pkcs8_pem(&pem).unwrap(),
        &StatementParams {
            iss: admin_iss,
            sub: "join-test",
            iat: 1_764_000_000,
            content_type: ContentType::Text(kinds::MODEL.into()),
            payload: &make::model("valve-x", &[]),
        },
    );
    let resp = post_entry(&reqwest::Client::new(), &base, model).await;
    assert_eq!(
        resp.status().as_u16(),
        201,
        "{}",
        resp.text().await.unwrap()
    );

    let joiner = tempfile::tempdir().unwrap();
    let state_dir = joiner.path().join("state");
    let (state, certified) = join::sync_state(&state_dir, HttpPeer::new(&base), &genesis)
        .await
        .unwrap();
    assert!(certified.height >= 1);
    assert_eq!(state.head(), (certified.height, certified.root));
    // The certifying block came later than the height it certifies.
    assert!(certified.certified_by.height > certified.height);

    // Every record the joiner holds is proved against the certified root, with its value.
    let mut records = Vec::new();
    let mut after = None;
    loop {
        let (page, last) = state.entries(after, 64).await.unwrap();
        records.extend(page);
        match last {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    assert!(!records.is_empty(), "the model's records are there");
    let keys: Vec<Vec<u8>> = records.iter().map(|(k, _)| k.clone()).collect();
    let proved = state.prove(keys).await.unwrap();
    assert_eq!(proved.root, certified.root);
    for ((key, value), p) in records.iter().zip(&proved.keys) {
        assert_eq!(p.value.as_ref(), Some(value));
        proverka_state::verify(&certified.root, key, Some(value), &p.proof).unwrap();
    }
    // The model is among them, as the source has it.
    let model_key = keys::model(&proverka_ledger::records::model_id(admin_iss, "valve-x"));
    let theirs = node
        .shared
        .state
        .prove(vec![model_key.clone()])
        .await
        .unwrap();
    let mine = records
        .iter()
        .find(|(k, _)| *k == model_key)
        .map(|(_, v)| v);
    assert!(mine.is_some());
    assert_eq!(mine, theirs.keys[0].value.as_ref());

    // The store at the same height: the floor block, the whole certified log, the state table.
    let store = proverka_store::Store::open(&joiner.path().join("store")).unwrap();
    let peer = HttpPeer::new(&base);
    let digest = join::sync_store(&peer, &certified, &state, &store)
        .await
        .unwrap();
    let anchor = certified.certified_by.anchor;
    assert_eq!(store.applied_height(), certified.height);
    assert_eq!(store.floor().unwrap(), Some(certified.height));
    assert_eq!(
        (store.tree_size(), store.root()),
        (anchor.log_size, anchor.log_root)
    );
    let source_block = node.shared.store.block(certified.height).unwrap().unwrap();
    assert_eq!(digest, source_block.digest);
    assert_eq!(
        store.block(certified.height).unwrap().unwrap(),
        source_block,
        "same digest, log size and state root"
    );
    assert_eq!(store.state_get(&model_key).unwrap().as_ref(), mine);
    for index in 0..store.tree_size() {
        assert_eq!(
            store.statement(index).unwrap(),
            node.shared.store.statement(index).unwrap()
        );
    }
    // The log came in pages of `GET /sync/log/{start}`: CBOR byte strings in log order.
    let page = reqwest::get(format!("{base}/sync/log/0"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let page: Vec<serde_bytes::ByteBuf> = ciborium::from_reader(page.as_ref()).unwrap();
    assert!(!page.is_empty());
    for (index, statement) in page.iter().enumerate() {
        assert_eq!(
            Some(statement.to_vec()),
            node.shared.store.statement(index as u64).unwrap()
        );
    }
    // Importing twice is refused: the store is no longer empty.
    assert!(matches!(
        join::sync_store(&peer, &certified, &state, &store).await,
        Err(JoinError::Store(
            proverka_store::StoreError::NotEmpty { .. }
        ))
    ));
    drop(state);

    // A joiner never overwrites a state database.
    let again = join::sync_state(&state_dir, HttpPeer::new(&base), &genesis).await;
    assert!(
        matches!(again, Err(JoinError::NotEmpty(_))),
        "{:?}",
        again.err()
    );

    // Another ledger's genesis cannot verify this network's certificates: nothing is synced.
    let other = tempfile::tempdir().unwrap();
    let other_node = dev_node(other.path()).await;
    let other_genesis = std::fs::read(other.path().join("genesis.json")).unwrap();
    let elsewhere = joiner.path().join("elsewhere");
    let refused = join::sync_state(&elsewhere, HttpPeer::new(&base), &other_genesis).await;
    assert!(
        matches!(
            refused,
            Err(JoinError::Certificate(_) | JoinError::Chain(_))
        ),
        "{:?}",
        refused.err()
    );
    assert!(
        !elsewhere.exists(),
        "nothing is created before the certificate verifies"
    );
    other_node.shutdown().await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_routes_refuse_bad_requests_with_problems() {
    let dir = tempfile::tempdir().unwrap();
    let node = dev_node(dir.path()).await;
    wait_for_height(&node, 1).await;
    let base = format!("http://{}", node.addr);
    let http = reqwest::Client::new();
    let status = |path: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("/sync/state/target/99999999").await, 404);
    assert_eq!(status("/sync/log/x").await, 400);
    assert_eq!(status("/sync/log/99999999").await, 404);
    assert_eq!(status("/sync/state/target/-1").await, 400);
    assert_eq!(status("/sync/state/target/1x").await, 400);

    let post = |part: &'static str, body: Vec<u8>| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.post(format!("{base}/sync/state/{part}"))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(post("auth", b"\xff garbage".to_vec()).await, 400);
    assert_eq!(post("values", vec![0u8; 65]).await, 413);
    assert_eq!(post("neither", vec![0u8; 4]).await, 404);

    // The current height's target is served and decodes.
    let height = node.shared.state.head().0;
    let bytes = http
        .get(format!("{base}/sync/state/target/{height}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let target = proverka_state::SyncTarget::decode(&bytes).unwrap();
    assert_eq!(target.height, height);
    node.shutdown().await;
}

/// A peer in front of `base` that answers everything as `base` does, except the log pages,
/// whose first statement it replaces by `swap`.
async fn tampering_peer(base: String, swap: Vec<u8>) -> String {
    use axum::{body::Bytes, extract::Request, http::StatusCode, response::IntoResponse};
    let forward = move |request: Request| {
        let (base, swap) = (base.clone(), swap.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let url = format!("{base}{}", parts.uri);
            let answer = reqwest::Client::new()
                .request(parts.method, &url)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let mut bytes: Bytes = answer.bytes().await.unwrap();
            if parts.uri.path().starts_with("/sync/log/") && status == StatusCode::OK {
                let mut page: Vec<serde_bytes::ByteBuf> =
                    ciborium::from_reader(bytes.as_ref()).unwrap();
                page[0] = serde_bytes::ByteBuf::from(swap);
                let mut out = Vec::new();
                ciborium::into_writer(&page, &mut out).unwrap();
                bytes = out.into();
            }
            (status, bytes).into_response()
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(forward))
            .await
            .unwrap()
    });
    url
}

/// A dev node to join from, whose admin registered the model `valve-y`, once it has applied
/// three blocks; with the admin key, to sign other models.
struct Source {
    base: String,
    genesis: Vec<u8>,
    key: PrivateKey,
    iss: String,
    _dir: tempfile::TempDir,
}

impl Source {
    async fn start() -> (Source, proverka_node::RunningNode) {
        let dir = tempfile::tempdir().unwrap();
        let node = dev_node(dir.path()).await;
        let admin: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("dev-admin.json")).unwrap())
                .unwrap();
        let pem = std::fs::read_to_string(dir.path().join("dev-admin.key.pem")).unwrap();
        let source = Source {
            base: format!("http://{}", node.addr),
            genesis: std::fs::read(dir.path().join("genesis.json")).unwrap(),
            key: PrivateKey::from_pkcs8_pem(&pem).unwrap(),
            iss: admin["iss"].as_str().unwrap().to_owned(),
            _dir: dir,
        };
        let resp = post_entry(
            &reqwest::Client::new(),
            &source.base,
            source.model("valve-y"),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 201);
        wait_for_height(&node, 3).await;
        (source, node)
    }

    /// The model `name`, signed by the admin.
    fn model(&self, name: &str) -> Vec<u8> {
        sign_statement(
            &self.key,
            &StatementParams {
                iss: &self.iss,
                sub: "join-test",
                iat: 1_764_000_000,
                content_type: ContentType::Text(kinds::MODEL.into()),
                payload: &make::model(name, &[]),
            },
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_serving_another_statement_in_a_log_page_is_refused_and_nothing_is_imported() {
    let (source, node) = Source::start().await;
    let (base, genesis) = (source.base.clone(), source.genesis.clone());
    let sign = |name: &str| source.model(name);

    // A genuine statement of the same issuer, but not the one the certified log holds.
    let peer = tampering_peer(base.clone(), sign("valve-z")).await;
    let joiner = tempfile::tempdir().unwrap();
    let (state, certified) =
        join::sync_state(&joiner.path().join("state"), HttpPeer::new(&peer), &genesis)
            .await
            .unwrap();
    assert!(certified.certified_by.anchor.log_size >= 1);
    let store = proverka_store::Store::open(&joiner.path().join("store")).unwrap();
    let refused = join::sync_store(&HttpPeer::new(&peer), &certified, &state, &store).await;
    assert!(
        matches!(&refused, Err(JoinError::Log(m)) if m.contains("another id")),
        "{:?}",
        refused.err()
    );
    assert_eq!((store.tree_size(), store.applied_height()), (0, 0));
    assert_eq!(store.floor().unwrap(), None);
    // The same join through the honest node succeeds: only the tampering was refused.
    join::sync_store(&HttpPeer::new(&base), &certified, &state, &store)
        .await
        .unwrap();
    assert_eq!(store.tree_size(), certified.certified_by.anchor.log_size);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_tries_its_peers_in_turn_until_one_serves_a_floor_that_verifies() {
    let (source, node) = Source::start().await;
    let (base, genesis) = (source.base.clone(), source.genesis.clone());
    let sign = |name: &str| source.model(name);
    let unreachable = "http://127.0.0.1:1".to_owned();
    let tampering = tampering_peer(base.clone(), sign("valve-z")).await;

    // Only peers that fail: refused, naming each, and nothing is left behind.
    let joiner = tempfile::tempdir().unwrap();
    let (state_dir, root) = (joiner.path().join("state"), joiner.path());
    let store = proverka_store::Store::open(&joiner.path().join("store")).unwrap();
    let failed = join::join(
        &[unreachable.clone(), tampering.clone()],
        root,
        &state_dir,
        &genesis,
        &store,
    )
    .await;
    match &failed {
        Err(JoinError::NoPeerServed(why)) => {
            assert!(
                why.contains(&unreachable) && why.contains(&tampering),
                "{why}"
            );
            assert!(why.contains("another id"), "the tampering is named: {why}");
        }
        other => panic!(
            "expected every peer to fail, got {:?}",
            other.as_ref().err()
        ),
    }
    assert!(join::is_fresh(&store).unwrap(), "nothing imported");
    assert!(!state_dir.exists(), "no state database left");

    // The same two first, then the honest node: the join completes from the third.
    let (state, certified) = join::join(
        &[unreachable.clone(), tampering, base.clone()],
        root,
        &state_dir,
        &genesis,
        &store,
    )
    .await
    .unwrap();
    assert_eq!(state.head(), (certified.height, certified.root));
    assert_eq!(store.applied_height(), certified.height);
    assert_eq!(store.tree_size(), certified.certified_by.anchor.log_size);
    assert_eq!(store.root(), certified.certified_by.anchor.log_root);
    drop(state);

    // No peer, or a store that already holds the ledger: refused before any request.
    assert!(matches!(
        join::join(&[], root, &state_dir, &genesis, &store).await,
        Err(JoinError::NoPeer)
    ));
    assert!(matches!(
        join::join(&[base], root, &state_dir, &genesis, &store).await,
        Err(JoinError::NotFresh(_))
    ));
    node.shutdown().await;
}
