//! What the node's integration tests share.

use std::path::Path;

use proverka_node::{start, NodeConfig, RunningNode};

/// A dev node (it writes its genesis and its admin key into `dir`) listening on a free local
/// port.
pub async fn dev_node(dir: &Path) -> RunningNode {
    start(NodeConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        dev: true,
        genesis: None,
        p2p: Default::default(),
        join: None,
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
