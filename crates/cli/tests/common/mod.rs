//! Shared helpers for end-to-end tests: a real `proverka` node process on loopback.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proverka_ledger::Genesis;
use proverka_statement::PrivateKey;

/// A node process started with `proverka node --dev`.
pub struct NodeProcess {
    pub child: Child,
    pub url: String,
    pub dir: PathBuf,
    pub printed: Arc<Mutex<Vec<String>>>,
}

pub fn proverka_bin() -> &'static str {
    env!("CARGO_BIN_EXE_proverka")
}

impl NodeProcess {
    /// Starts (or resumes) a dev node on an OS-chosen loopback port and waits until it serves.
    pub fn start_dev(dir: &Path) -> NodeProcess {
        let dir_arg = dir.to_str().expect("utf-8 path");
        Self::start(
            dir,
            &["--dev", "--listen", "127.0.0.1:0", "--data-dir", dir_arg],
        )
    }

    /// Runs `proverka node ARGS` (whose data directory is `dir`) and waits until it serves.
    /// What it prints after its "listening" line is kept in [`NodeProcess::printed`].
    pub fn start(dir: &Path, args: &[&str]) -> NodeProcess {
        let mut child = Command::new(proverka_bin())
            .arg("node")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn proverka node");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("node exited before listening")
                .expect("read node stdout");
            if let Some(rest) = line.strip_prefix("proverka node listening on ") {
                break rest.trim().to_owned();
            }
        };
        // Keep draining stdout so the node never blocks on a full pipe.
        let printed = Arc::new(Mutex::new(Vec::new()));
        let kept = printed.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        let node = NodeProcess {
            child,
            url,
            dir: dir.to_path_buf(),
            printed,
        };
        node.wait_healthy();
        node
    }

    /// The lines printed after "listening", waiting up to 10 s for one starting with `prefix`.
    pub fn printed_line(&self, prefix: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self
                .printed
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.trim_start().starts_with(prefix))
            {
                return Some(line.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http_get(&format!("{}/health", self.url)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node at {} not healthy within 30 s", self.url);
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a graceful exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait().expect("wait node")
    }

    pub fn admin_key(&self) -> PrivateKey {
        let pem = std::fs::read_to_string(self.dir.join("dev-admin.key.pem")).expect("admin key");
        PrivateKey::from_pkcs8_pem(&pem).expect("parse admin key")
    }

    pub fn genesis(&self) -> Genesis {
        Genesis::from_bytes(&std::fs::read(self.dir.join("genesis.json")).expect("genesis"))
            .expect("parse genesis")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET returning status and body (test helper; the node is on loopback).
pub fn http_get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let resp = reqwest::get(url).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| e.to_string())?.to_vec();
        Ok((status, body))
    })
}

/// Runs the proverka CLI and returns (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(proverka_bin())
        .args(args)
        .output()
        .expect("run proverka");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
