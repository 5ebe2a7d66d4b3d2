//! What the node's integration tests share.

use std::path::Path;

use proverka_node::{start, NodeConfig, RunningNode};
use proverka_statement::PrivateKey;

/// A dev node (it writes its genesis and its admin key into `dir`) listening on a free local
/// port.
pub async fn dev_node(dir: &Path) -> RunningNode {
    start(NodeConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        dev: true,
        genesis: None,
        p2p: Default::default(),
        join: Vec::new(),
    })
    .await
    .expect("start dev node")
}

/// `POST {base}/entries` with `body` as a signed statement, asking for JSON problem details.
#[allow(dead_code)] // not every test binary submits
pub async fn post_entry(http: &reqwest::Client, base: &str, body: Vec<u8>) -> reqwest::Response {
    http.post(format!("{base}/entries"))
        .header("content-type", "application/cose")
        .header("accept", "application/problem+json")
        .body(body)
        .send()
        .await
        .expect("POST /entries")
}

/// A dev node with its admin key and an HTTP client, for tests that submit over HTTP. Each test
/// file adds the methods it needs in its own `impl Harness`.
#[allow(dead_code)] // not every test binary uses it
pub struct Harness {
    pub node: RunningNode,
    pub admin: PrivateKey,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl Harness {
    /// Starts a dev node in a new temporary directory and loads the admin key it wrote.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let node = dev_node(dir.path()).await;
        let pem = std::fs::read_to_string(dir.path().join("dev-admin.key.pem")).unwrap();
        Harness {
            node,
            admin: PrivateKey::from_pkcs8_pem(&pem).unwrap(),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// `http://{node}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.node.addr, path)
    }
}
