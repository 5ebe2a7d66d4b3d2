//! `proverka net up`: an N-validator network on loopback, one `proverka node` process per
//! validator, for trying the network on one machine (`docs/network.md`).
//!
//! Layout of `--dir`: `genesis.json` (every validator's keys, the admin issuer), `admin.key.pem`
//! and `admin.json` (the administrator issuer, like `--dev`'s), `net.json` (each validator's
//! consensus key, API URL and p2p address), and `v0/`, `v1/`, … (one node data directory each,
//! with `node.log`). Running it again on the same directory resumes the same network.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use proverka_ledger::records::Role;
use proverka_ledger::{Genesis, GenesisIssuer, GENESIS_FORMAT};
use proverka_node::datadir::{self, DataDir, DevAdmin, NodePublic};
use proverka_statement::{KeyType, PrivateKey};
use serde::{Deserialize, Serialize};

use crate::Failure;

/// Most validators `net up` starts on one machine.
pub const MAX_LOCAL_VALIDATORS: usize = 16;
/// The administrator issuer of a local network.
pub const NET_ADMIN_ISS: &str = "net-admin";

/// One validator of a local network, as written to `net.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Member {
    pub validator: String,
    pub api: String,
    pub p2p: SocketAddr,
    pub data_dir: PathBuf,
}

/// What `net.json` must hold (a user may have edited it): 1..=`MAX_LOCAL_VALIDATORS` members,
/// each named by its 32-byte consensus key in hex, with a loopback API URL.
fn check_members(members: &[Member]) -> Result<(), String> {
    if !(1..=MAX_LOCAL_VALIDATORS).contains(&members.len()) {
        return Err(format!(
            "{} validators listed; a local network has 1..={MAX_LOCAL_VALIDATORS}",
            members.len()
        ));
    }
    for m in members {
        if m.validator.len() != 64 || hex::decode(&m.validator).is_err() {
            return Err(format!(
                "validator {:?} is not a consensus key (64 hex characters)",
                m.validator
            ));
        }
        api_port(m)?;
    }
    Ok(())
}

/// The port of a member's `http://127.0.0.1:PORT` API URL.
fn api_port(m: &Member) -> Result<u16, String> {
    m.api
        .strip_prefix("http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("api {:?} is not http://127.0.0.1:PORT", m.api))
}

/// Refuses to start when a port of the network is taken (most often: the same network, or
/// another one with the same `--base-port`, is already running).
fn check_ports_free(members: &[Member]) -> Result<(), Failure> {
    for m in members {
        let api = SocketAddr::from(([127, 0, 0, 1], api_port(m).map_err(Failure::input)?));
        for addr in [api, m.p2p] {
            std::net::TcpListener::bind(addr).map_err(|e| {
                Failure::input(format!(
                    "port {} is not free ({e}): is this network, or another on the same \
                     --base-port, already running?",
                    addr.port()
                ))
            })?;
        }
    }
    Ok(())
}

/// A running local network: the node processes, stopped when this is dropped.
pub struct LocalNet {
    pub children: Vec<Option<Child>>,
}

/// Creates (or reuses) the network files in `dir`. Ports: API `base_port + i`, p2p
/// `base_port + 100 + i`.
pub fn prepare(dir: &Path, validators: usize, base_port: u16) -> Result<Vec<Member>, Failure> {
    let members_path = dir.join("net.json");
    if members_path.exists() {
        let bytes = std::fs::read(&members_path).map_err(Failure::input)?;
        let members: Vec<Member> = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::input(format!("{}: {e}", members_path.display())))?;
        return check_members(&members)
            .map(|()| members)
            .map_err(|e| Failure::input(format!("{}: {e}", members_path.display())));
    }
    if !(1..=MAX_LOCAL_VALIDATORS).contains(&validators) {
        return Err(Failure::input(format!(
            "--validators must be within 1..={MAX_LOCAL_VALIDATORS}"
        )));
    }
    let top = base_port as usize + 100 + validators;
    if base_port < 1024 || top > u16::MAX as usize {
        return Err(Failure::input(
            "--base-port must leave room for 100 + N ports",
        ));
    }
    std::fs::create_dir_all(dir).map_err(Failure::input)?;
    let admin = PrivateKey::generate(KeyType::P256).map_err(Failure::input)?;
    // A random origin, so that two local networks never share a log identity.
    let origin = format!(
        "proverka.local/net-{}",
        &hex::encode(admin.public_key().thumbprint())[..8]
    );
    let mut publics: Vec<NodePublic> = Vec::with_capacity(validators);
    let mut members = Vec::with_capacity(validators);
    for i in 0..validators {
        let data_dir = dir.join(format!("v{i}"));
        let public = DataDir::new(&data_dir)
            .init_keys(&origin)
            .map_err(Failure::input)?;
        members.push(Member {
            validator: public.validator.clone(),
            api: format!("http://127.0.0.1:{}", base_port as usize + i),
            p2p: SocketAddr::from(([127, 0, 0, 1], (base_port as usize + 100 + i) as u16)),
            data_dir,
        });
        publics.push(public);
    }
    datadir::write_secret(&dir.join("admin.key.pem"), admin.to_pkcs8_pem().as_bytes())
        .map_err(Failure::input)?;
    let info = DevAdmin {
        iss: NET_ADMIN_ISS.to_owned(),
        kid: hex::encode(admin.public_key().thumbprint()),
    };
    write_json(&dir.join("admin.json"), &info)?;
    let first = publics
        .first()
        .cloned()
        .ok_or_else(|| Failure::input("no validators"))?;
    let genesis = Genesis {
        format: GENESIS_FORMAT.to_owned(),
        origin,
        created_ms: now_ms(),
        validators: publics.iter().map(|p| p.validator.clone()).collect(),
        receipt_key: first.receipt_key,
        checkpoint_vkey: first.checkpoint_vkey,
        issuers: vec![
            GenesisIssuer::new(NET_ADMIN_ISS, &admin.public_key(), true).with_roles(&Role::ALL)
        ],
        governance_threshold: None,
        validator_keys: datadir::validator_keys_of(&publics).map_err(Failure::input)?,
    };
    let bytes = genesis.to_bytes();
    Genesis::from_bytes(&bytes).map_err(Failure::input)?;
    std::fs::write(dir.join("genesis.json"), &bytes).map_err(Failure::input)?;
    write_json(&members_path, &members)?;
    Ok(members)
}

/// Starts one node process per member, each logging to `DIR/vI/node.log`.
pub fn start(exe: &Path, dir: &Path, members: &[Member]) -> Result<LocalNet, Failure> {
    let mut net = LocalNet {
        children: Vec::new(),
    };
    for i in 0..members.len() {
        net.children.push(Some(spawn(exe, dir, members, i)?));
    }
    Ok(net)
}

/// Starts the node process of member `i`.
pub fn spawn(exe: &Path, dir: &Path, members: &[Member], i: usize) -> Result<Child, Failure> {
    let me = &members[i];
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(me.data_dir.join("node.log"))
        .map_err(Failure::input)?;
    let listen = me.api.trim_start_matches("http://").to_owned();
    let mut cmd = Command::new(exe);
    cmd.arg("node")
        .arg("--data-dir")
        .arg(&me.data_dir)
        .arg("--genesis")
        .arg(dir.join("genesis.json"))
        .args(["--listen", &listen])
        .args(["--p2p-listen", &me.p2p.to_string()]);
    for (j, peer) in members.iter().enumerate() {
        if j != i {
            cmd.arg("--peer")
                .arg(format!("{}@{}", peer.validator, peer.p2p));
        }
    }
    let err = log.try_clone().map_err(Failure::input)?;
    let child = cmd
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|e| Failure::input(format!("starting validator {i}: {e}")))?;
    // For operators (and the crash test) who need to signal one validator.
    std::fs::write(me.data_dir.join("node.pid"), format!("{}\n", child.id()))
        .map_err(Failure::input)?;
    Ok(child)
}

impl LocalNet {
    /// Asks every node to stop (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in self.children.iter_mut().flatten() {
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for LocalNet {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `proverka net up`.
pub async fn up(dir: &Path, validators: usize, base_port: u16) -> Result<(), Failure> {
    let members = prepare(dir, validators, base_port)?;
    let exe = std::env::current_exe().map_err(Failure::input)?;
    check_ports_free(&members)?;
    let mut net = start(&exe, dir, &members)?;
    println!(
        "proverka network of {} validators in {}",
        members.len(),
        dir.display()
    );
    for (i, m) in members.iter().enumerate() {
        println!(
            "  validator {i}  {}  p2p {}  key {}",
            m.api,
            m.p2p,
            m.validator.get(..16).unwrap_or(&m.validator)
        );
    }
    println!("  genesis       {}", dir.join("genesis.json").display());
    println!(
        "  admin key     {} (iss \"{NET_ADMIN_ISS}\")",
        dir.join("admin.key.pem").display()
    );
    let ready = wait_ready(&members, Duration::from_secs(60)).await;
    println!(
        "{}",
        if ready {
            "network up: submit to any validator; stop with Ctrl-C"
        } else {
            "not every validator answers yet: see DIR/vI/node.log"
        }
    );
    crate::commands::wait_for_signal().await;
    println!("stopping the network");
    net.stop();
    Ok(())
}

/// Waits until every member answers `/health`.
pub async fn wait_ready(members: &[Member], limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let http = reqwest::Client::new();
    for m in members {
        loop {
            let ok = http
                .get(format!("{}/health", m.api))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    true
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Failure> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(Failure::input)?;
    bytes.push(b'\n');
    std::fs::write(path, bytes).map_err(|e| Failure::input(format!("{}: {e}", path.display())))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(validator: &str, api: &str) -> Member {
        Member {
            validator: validator.into(),
            api: api.into(),
            p2p: SocketAddr::from(([127, 0, 0, 1], 1)),
            data_dir: PathBuf::from("v0"),
        }
    }

    #[test]
    fn an_edited_net_json_is_refused_with_the_reason_not_a_panic() {
        let key = "ab".repeat(32);
        assert_eq!(
            check_members(&[member(&key, "http://127.0.0.1:7400")]),
            Ok(())
        );
        let short = check_members(&[member("abcd", "http://127.0.0.1:7400")]).unwrap_err();
        assert!(short.contains("not a consensus key"), "{short}");
        let elsewhere = check_members(&[member(&key, "http://10.0.0.1:7400")]).unwrap_err();
        assert!(
            elsewhere.contains("not http://127.0.0.1:PORT"),
            "{elsewhere}"
        );
        let none = check_members(&[]).unwrap_err();
        assert!(none.contains("0 validators"), "{none}");
    }

    #[test]
    fn a_taken_port_stops_net_up_before_any_node_starts() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let mut m = member(&"ab".repeat(32), &format!("http://127.0.0.1:{port}"));
        m.p2p = SocketAddr::from(([127, 0, 0, 1], 0));
        let refused = check_ports_free(&[m]).unwrap_err();
        assert!(
            format!("{refused:?}").contains(&format!("port {port} is not free")),
            "{refused:?}"
        );
    }
}
