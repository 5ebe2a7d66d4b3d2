//! `proverka demo`: a small city played on the embedded single node, end to end over HTTP.
//!
//! Two makers, two operators, a security authority and an auditor join by governance vote;
//! devices are born, sold to operators and attest through their owners' gateways; a critical
//! advisory drops trust for exactly the affected devices, a fix is released and rolled out,
//! and trust recovers. Every step is a signed statement submitted to `POST /entries`; every
//! figure printed is read back from the node's query API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use proverka_ledger::records::Role;
use proverka_ledger::{kinds, make};
use proverka_node::datadir::{DataDir, DEV_ADMIN_ISS};
use proverka_node::{NodeConfig, RunningNode};
use proverka_statement::{
    sign_statement, statement_id, ContentType, KeyType, PrivateKey, StatementParams,
};
use serde_json::Value;

use crate::Failure;

mod command_story;

/// Options of `proverka demo`.
pub struct DemoOptions {
    pub data_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    pub devices: usize,
    pub keep_running: bool,
}

/// Most devices a demo plays (each costs four statements).
pub const MAX_DEMO_DEVICES: usize = 100_000;
/// Concurrent submissions of the demo (the benchmark takes `--clients`).
const CLIENTS: usize = 64;
/// Devices per gateway evidence batch.
const BATCH: usize = 100;

const METER_V1: [u8; 32] = [0xa1; 32];
const METER_V2: [u8; 32] = [0xa2; 32];
const VALVE_V1: [u8; 32] = [0xb1; 32];

struct Signer {
    iss: String,
    key: PrivateKey,
}

impl Signer {
    fn new(iss: &str, kt: KeyType) -> Result<Self, Failure> {
        Ok(Signer {
            iss: iss.to_owned(),
            key: PrivateKey::generate(kt).map_err(Failure::input)?,
        })
    }

    fn sign(&self, kind: &str, payload: &[u8]) -> Vec<u8> {
        let iat = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        sign_statement(
            &self.key,
            &StatementParams {
                iss: &self.iss,
                sub: "proverka-demo",
                iat,
                content_type: ContentType::Text(kind.to_owned()),
                payload,
            },
        )
    }
}

/// How attestations reach the ledger: one statement per device, or gateway batches.
#[derive(Clone, Copy)]
enum Mode {
    Direct,
    Gateway,
}

struct Device {
    id: Vec<u8>,
    signer: Signer,
    maker: usize,
}

struct City {
    clients: usize,
    http: reqwest::Client,
    url: String,
    admin: Signer,
    orgs: Vec<Signer>,
    /// The genesis file: all a light client needs to check state proofs.
    genesis: Vec<u8>,
}

// Organisation indexes in `City::orgs`.
const ACME: usize = 0; // makes water meters
const BOLT: usize = 1; // makes valves
const WATER: usize = 2; // the water utility
const GRID: usize = 3; // the district heating grid
const CERT: usize = 4; // the city CERT
const AUDIT: usize = 5; // the city auditor

/// Runs the demo; with `keep_running`, leaves the node serving queries until Ctrl-C.
pub async fn run(opts: DemoOptions) -> Result<(), Failure> {
    if opts.devices == 0 || opts.devices > MAX_DEMO_DEVICES {
        return Err(Failure::input(format!(
            "--devices must be 1..={MAX_DEMO_DEVICES}"
        )));
    }
    let temp = tempfile::tempdir().map_err(Failure::input)?;
    let data_dir = opts
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    let node = proverka_node::start(NodeConfig {
        data_dir: data_dir.clone(),
        listen: opts.listen,
        dev: true,
        genesis: None,
        p2p: Default::default(),
        join: Vec::new(),
    })
    .await
    .map_err(|e| Failure::input(format!("starting the node: {e}")))?;
    let url = format!("http://{}", node.addr);
    println!("Proverka demo: a small city on the embedded node at {url}");
    println!("  data directory {}\n", data_dir.display());
    let result = play(&opts, &data_dir, &url).await;
    if result.is_ok() && opts.keep_running {
        println!("\nThe node keeps running for queries; try:");
        println!("  curl -s '{url}/fleet?owner=water&status=contraindicated&limit=5'");
        println!("  curl -s '{url}/advisories/cert/CERT-2026-0042?limit=3'");
        println!("Ctrl-C stops it.");
        let _ = tokio::signal::ctrl_c().await;
    }
    stop(node).await;
    result
}

async fn stop(node: RunningNode) {
    node.shutdown().await;
}

async fn play(opts: &DemoOptions, data_dir: &std::path::Path, url: &str) -> Result<(), Failure> {
    let city = City::open(data_dir, url, CLIENTS)?;
    let started = Instant::now();
    city.govern().await?;
    city.catalogue().await?;
    let devices = city.births(opts.devices).await?;
    city.sell(&devices).await?;
    println!(
        "\n5. Every device signed evidence of what it runs; its owner's gateway submitted it."
    );
    let all: Vec<&Device> = devices.iter().collect();
    city.attest(
        &all,
        |d| if d.maker == ACME { METER_V1 } else { VALVE_V1 },
        1,
        Mode::Gateway,
    )
    .await?;
    city.census("Everyone has attested").await?;
    city.advisory().await?;
    city.census("No device sent anything new").await?;
    city.fix(&devices).await?;
    city.census("After the roll-out").await?;
    city.audit(&devices[0]).await?;
    // Valves are the odd devices (bolt's, sold to grid).
    if let Some(valve) = devices.get(1) {
        city.command_story(valve).await?;
    }
    println!(
        "\nThe story took {:.1} s on this machine.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

impl City {
    /// The city's parties, with the dev node's administrator as founding governance member.
    fn open(data_dir: &std::path::Path, url: &str, clients: usize) -> Result<Self, Failure> {
        let pem = std::fs::read_to_string(DataDir::new(data_dir).dev_admin_key())
            .map_err(|e| Failure::input(format!("reading the dev admin key: {e}")))?;
        let genesis = std::fs::read(DataDir::new(data_dir).genesis())
            .map_err(|e| Failure::input(format!("reading the genesis: {e}")))?;
        let admin = Signer {
            iss: DEV_ADMIN_ISS.to_owned(),
            key: PrivateKey::from_pkcs8_pem(&pem).map_err(Failure::input)?,
        };
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()
            .map_err(Failure::network)?;
        let orgs = vec![
            Signer::new("acme", KeyType::P256)?,
            Signer::new("bolt", KeyType::Ed25519)?,
            Signer::new("water", KeyType::P256)?,
            Signer::new("grid", KeyType::P256)?,
            Signer::new("cert", KeyType::P256)?,
            Signer::new("audit", KeyType::P256)?,
        ];
        Ok(City {
            clients,
            http,
            url: url.to_owned(),
            admin,
            orgs,
            genesis,
        })
    }

    /// Submits statements concurrently; every one must be durably registered (201 or 200).
    async fn submit(&self, stmts: Vec<Vec<u8>>) -> Result<f64, Failure> {
        let total = stmts.len();
        let started = Instant::now();
        let queue = Arc::new(std::sync::Mutex::new(stmts));
        let mut tasks = Vec::new();
        for _ in 0..self.clients.min(total) {
            let (http, url, queue) = (self.http.clone(), self.url.clone(), queue.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                    let Some(stmt) = next else { break };
                    post(&http, &url, stmt).await?;
                }
                Ok::<_, Failure>(())
            }));
        }
        for t in tasks {
            t.await.map_err(Failure::network)??;
        }
        Ok(total as f64 / started.elapsed().as_secs_f64().max(1e-9))
    }

    async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, Failure> {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .map_err(|e| Failure::network(format!("GET {path}: {e}")))?;
        if !resp.status().is_success() {
            return Err(Failure::refused(format!("GET {path}: {}", resp.status())));
        }
        let body = resp.bytes().await.map_err(Failure::network)?;
        Ok(body.to_vec())
    }

    /// The latest log root the ledger anchored: devices sign it into their evidence nonce
    /// (`GET /evidence-root`), which proves their evidence is fresh.
    async fn evidence_root(&self) -> Result<[u8; 32], Failure> {
        let v = self.get("/evidence-root").await?;
        v["root"]
            .as_str()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| Failure::network("GET /evidence-root: no 32-byte root"))
    }

    async fn get(&self, path: &str) -> Result<Value, Failure> {
        let body = self.get_bytes(path).await?;
        serde_json::from_slice(&body).map_err(|e| Failure::network(format!("GET {path}: {e}")))
    }

    async fn govern(&self) -> Result<(), Failure> {
        let roles: [(&str, &[Role]); 6] = [
            ("Acme Meters", &[Role::Manufacturer]),
            ("Bolt Valves", &[Role::Manufacturer]),
            ("City Water", &[Role::Operator]),
            ("District Heat", &[Role::Operator]),
            ("City CERT", &[Role::SecurityAuthority]),
            ("City Audit Office", &[Role::Auditor]),
        ];
        let joins: Vec<Vec<u8>> = self
            .orgs
            .iter()
            .zip(roles)
            .map(|(o, (name, roles))| {
                o.sign(
                    kinds::JOIN,
                    &make::join(&o.iss, name, roles, &o.key.public_key()),
                )
            })
            .collect();
        let votes = joins
            .iter()
            .map(|j| {
                self.admin
                    .sign(kinds::VOTE, &make::vote(&statement_id(j), true))
            })
            .collect();
        self.submit(joins).await?;
        self.submit(votes).await?;
        println!("1. Governance: 6 organisations asked to join (one signed proposal each) and");
        println!("   the founding governance member approved each with one signed vote.");
        for o in &self.orgs {
            let org = self.get(&format!("/orgs/{}", o.iss)).await?;
            println!(
                "   {:<6} {:<18} roles {}",
                o.iss,
                org["name"].as_str().unwrap_or(""),
                org["roles"]
            );
        }
        Ok(())
    }

    async fn catalogue(&self) -> Result<(), Failure> {
        let acme = &self.orgs[ACME];
        let bolt = &self.orgs[BOLT];
        self.submit(vec![
            acme.sign(kinds::MODEL, &make::model("meter", &[])),
            bolt.sign(kinds::MODEL, &make::model("valve", &[])),
        ])
        .await?;
        let rel = |model, version, digest| make::Release {
            model,
            version,
            digest,
            svn: 1,
            supersedes: None,
            security: None,
            revoked: false,
        };
        self.submit(vec![
            acme.sign(
                kinds::RELEASE,
                &make::release(&rel("meter", "1.0", METER_V1)),
            ),
            bolt.sign(
                kinds::RELEASE,
                &make::release(&rel("valve", "2.0", VALVE_V1)),
            ),
        ])
        .await?;
        println!(
            "\n2. Makers registered their models and firmware: acme meter 1.0, bolt valve 2.0."
        );
        Ok(())
    }

    async fn births(&self, n: usize) -> Result<Vec<Device>, Failure> {
        let mut devices = Vec::with_capacity(n);
        let mut stmts = Vec::with_capacity(n);
        for i in 0..n {
            let (maker, model, fw, kt) = if i % 2 == 0 {
                (ACME, "meter", METER_V1, KeyType::P256)
            } else {
                (BOLT, "valve", VALVE_V1, KeyType::Ed25519)
            };
            let id = format!("{model}-{i:06}").into_bytes();
            let signer = Signer::new(&hex::encode(&id), kt)?;
            let serial = format!("SN{i:08}");
            stmts.push(self.orgs[maker].sign(
                kinds::BIRTH,
                &make::birth(&make::Birth {
                    device_id: &id,
                    key: &signer.key.public_key(),
                    model,
                    serial: &serial,
                    hw_version: "rev-a",
                    factory_fw: fw,
                    x5chain: &[],
                }),
            ));
            devices.push(Device { id, signer, maker });
        }
        let rate = self.submit(stmts).await?;
        println!(
            "\n3. {n} devices got birth certificates from their makers ({rate:.0} statements/s):"
        );
        println!("   even numbers are acme meters (P-256 keys), odd ones bolt valves (Ed25519).");
        Ok(devices)
    }

    async fn sell(&self, devices: &[Device]) -> Result<(), Failure> {
        let mut offers = Vec::new();
        let mut accepts = Vec::new();
        for d in devices {
            let (seller, buyer) = if d.maker == ACME {
                (ACME, WATER)
            } else {
                (BOLT, GRID)
            };
            let offer = self.orgs[seller].sign(
                kinds::TRANSFER,
                &make::transfer(&d.id, &self.orgs[buyer].iss),
            );
            accepts
                .push(self.orgs[buyer].sign(kinds::ACCEPT, &make::accept(&statement_id(&offer))));
            offers.push(offer);
        }
        let rate_offers = self.submit(offers).await?;
        let rate_accepts = self.submit(accepts).await?;
        println!(
            "\n4. Ownership: acme sold its meters to water, bolt its valves to grid; each sale is"
        );
        println!("   an offer signed by the owner and an acceptance signed by the buyer");
        println!("   ({rate_offers:.0} offers/s, {rate_accepts:.0} acceptances/s).");
        Ok(())
    }

    /// Every device signs evidence; its owner's gateway submits it in batches.
    async fn attest(
        &self,
        devices: &[&Device],
        fw: impl Fn(&Device) -> [u8; 32],
        meter_svn: u64,
        mode: Mode,
    ) -> Result<f64, Failure> {
        let mut per_gateway: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        let root = self.evidence_root().await?;
        for d in devices.iter() {
            let svn = if d.maker == ACME { meter_svn } else { 1 };
            let evidence = d.signer.sign(
                kinds::EVIDENCE,
                &make::evidence(&make::Evidence {
                    device_id: &d.id,
                    nonce: &root,
                    fw: fw(d),
                    svn,
                    debug: 3,
                }),
            );
            let gateway = if d.maker == ACME { WATER } else { GRID };
            per_gateway.entry(gateway).or_default().push(evidence);
        }
        if let Mode::Direct = mode {
            let all: Vec<Vec<u8>> = per_gateway.into_values().flatten().collect();
            let rate = self.submit(all).await?;
            println!(
                "   {} attestations submitted one by one ({rate:.0} attestations/s).",
                devices.len()
            );
            return Ok(rate);
        }
        let mut batches = Vec::new();
        for (gateway, items) in per_gateway {
            for chunk in items.chunks(BATCH) {
                batches.push(
                    self.orgs[gateway].sign(kinds::EVIDENCE_BATCH, &make::evidence_batch(chunk)),
                );
            }
        }
        let n_batches = batches.len();
        let started = Instant::now();
        self.submit(batches).await?;
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let rate = devices.len() as f64 / secs;
        println!(
            "   {} attestations arrived through the owners' gateways in {n_batches} batches \
             ({:.0} attestations/s).",
            devices.len(),
            rate
        );
        Ok(rate)
    }

    /// Counts statuses per owner from `/fleet`, a page at a time.
    async fn census(&self, title: &str) -> Result<(), Failure> {
        println!("\n   {title} — trust by owner (computed at the latest block's time):");
        println!(
            "   {:<7} {:>10} {:>8} {:>6} {:>16}",
            "owner", "affirming", "warning", "none", "contraindicated"
        );
        for owner in ["water", "grid"] {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            let mut after: Option<String> = None;
            loop {
                let mut path = format!("/fleet?owner={owner}&limit=1000");
                if let Some(a) = &after {
                    path.push_str(&format!("&after={a}"));
                }
                let page = self.get(&path).await?;
                for d in page["devices"].as_array().into_iter().flatten() {
                    let status = d["status"].as_str().unwrap_or("?").to_owned();
                    *counts.entry(status).or_default() += 1;
                }
                match page["next"].as_str() {
                    Some(n) => after = Some(n.to_owned()),
                    None => break,
                }
            }
            let c = |s: &str| counts.get(s).copied().unwrap_or(0);
            println!(
                "   {owner:<7} {:>10} {:>8} {:>6} {:>16}",
                c("affirming"),
                c("warning"),
                c("none"),
                c("contraindicated")
            );
        }
        Ok(())
    }

    async fn advisory(&self) -> Result<(), Failure> {
        let adv = make::advisory(&make::Advisory {
            id: "CERT-2026-0042",
            maker: "acme",
            model: "meter",
            versions: &["1.0"],
            cvss: Some(98),
            exploited: true,
            refs: &["CVE-2026-31337"],
            ..Default::default()
        });
        self.submit(vec![self.orgs[CERT].sign(kinds::ADVISORY, &adv)])
            .await?;
        let started = Instant::now();
        let exposure = self.get("/advisories/cert/CERT-2026-0042?limit=1").await?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        println!(
            "\n6. The city CERT published CERT-2026-0042 (CVE-2026-31337, CVSS 9.8, exploited)"
        );
        println!("   against acme meter firmware 1.0. Exposure, listed from the firmware index in {ms:.1} ms:");
        println!(
            "   {} devices exposed: {}",
            exposure["exposed_devices"], exposure["exposed_by_owner"]
        );
        Ok(())
    }

    async fn fix(&self, devices: &[Device]) -> Result<(), Failure> {
        let fix = make::release(&make::Release {
            model: "meter",
            version: "1.1",
            digest: METER_V2,
            svn: 2,
            supersedes: Some(METER_V1),
            security: Some(3),
            revoked: false,
        });
        self.submit(vec![self.orgs[ACME].sign(kinds::RELEASE, &fix)])
            .await?;
        println!("\n7. acme released meter 1.1 (security fix, SVN 2); water rolled it out and its");
        println!("   meters re-attested:");
        // Device clocks have 1 s resolution: make sure the new evidence is strictly later.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let meters: Vec<&Device> = devices.iter().filter(|d| d.maker == ACME).collect();
        self.attest(&meters, |_| METER_V2, 2, Mode::Gateway).await?;
        let exposure = self.get("/advisories/cert/CERT-2026-0042?limit=1").await?;
        println!(
            "   devices still exposed to CERT-2026-0042: {}",
            exposure["exposed_devices"]
        );
        Ok(())
    }

    async fn audit(&self, device: &Device) -> Result<(), Failure> {
        let keys = self.get_bytes("/.well-known/scitt-keys").await?;
        let log_keys =
            proverka_statement::PublicKey::from_cose_key_set(&keys).map_err(Failure::verify)?;
        let id = hex::encode(&device.id);
        let history = self
            .get(&format!("/devices/{id}/history?limit=1000"))
            .await?;
        let mut checked = 0;
        for e in history["entries"].as_array().into_iter().flatten() {
            let entry = e["entry"].as_str().unwrap_or_default();
            let statement = self
                .get_bytes(&format!("/entries/{entry}/statement"))
                .await?;
            let receipt = base64_decode(e["receipt"].as_str().unwrap_or_default())?;
            let ok = log_keys
                .iter()
                .any(|k| proverka_log::verify_receipt(&receipt, &statement, k).is_ok());
            if !ok {
                return Err(Failure::verify(format!(
                    "receipt of {entry} does not verify"
                )));
            }
            checked += 1;
        }
        let status = self.get(&format!("/devices/{id}/status")).await?;
        println!(
            "\n8. The auditor ({}) checked {id}'s full history offline: {checked} statements",
            self.orgs[AUDIT].iss
        );
        println!(
            "   (birth, sale offer, acceptance, attestations), every receipt verified against the"
        );
        println!(
            "   log's published key. Its status now: {} (EAR signed by the ledger, {} bytes).",
            status["status"],
            base64_decode(status["ear"].as_str().unwrap_or_default())?.len()
        );
        self.prove(&id, &status).await
    }

    /// A light client's check: the device's record and status inputs, proved against a state
    /// root a finalized block certifies, verified with the genesis alone; status recomputed.
    async fn prove(&self, id: &str, node_status: &Value) -> Result<(), Failure> {
        use proverka_node::state_proof::{verify, ProvedView, StateProofBundle};
        let genesis =
            proverka_ledger::Genesis::from_bytes(&self.genesis).map_err(Failure::input)?;
        let bytes = self.get_bytes(&format!("/devices/{id}/proof")).await?;
        let bundle = StateProofBundle::decode(&bytes).map_err(Failure::verify)?;
        let verified = verify(
            &proverka_ledger::Genesis::id(&self.genesis),
            &genesis.validators,
            &bundle,
        )
        .map_err(Failure::verify)?;
        let device_id = hex::decode(id).map_err(Failure::input)?;
        let (_, appraisal) = proverka_ledger::query::device_status(
            &ProvedView::new(&verified),
            &device_id,
            verified.certified_by.timestamp_ms,
        )
        .map_err(Failure::verify)?
        .ok_or_else(|| Failure::verify("the state proof does not hold the device"))?;
        println!(
            "   A gateway offline: {} records proved ({} bytes) against state root {}…",
            verified.entries.len(),
            bytes.len(),
            &hex::encode(verified.root)[..16]
        );
        println!(
            "   of block {}, certified by finalized block {}; status recomputed from the proof: {} (node: {}).",
            verified.height,
            verified.certified_by.height,
            appraisal.status.as_str(),
            node_status["status"].as_str().unwrap_or("?")
        );
        Ok(())
    }
}

fn base64_decode(s: &str) -> Result<Vec<u8>, Failure> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| Failure::verify(format!("base64: {e}")))
}

async fn post(http: &reqwest::Client, url: &str, stmt: Vec<u8>) -> Result<(), Failure> {
    let resp = http
        .post(format!("{url}/entries"))
        .header("content-type", "application/cose")
        .header("accept", "application/cose, application/problem+json")
        .body(stmt)
        .send()
        .await
        .map_err(|e| Failure::network(format!("submit: {e}")))?;
    match resp.status().as_u16() {
        200 | 201 => Ok(()),
        other => {
            let body = resp.text().await.unwrap_or_default();
            Err(Failure::refused(format!(
                "submission refused ({other}): {body}"
            )))
        }
    }
}

/// `proverka bench-trust`: attestations registered per second end to end over HTTP (one by one,
/// and through gateway batches), against the raw signature verification rate measured in the
/// same run.
pub async fn bench(devices: usize, clients: usize, seconds: f64) -> Result<(), Failure> {
    if devices == 0 || devices > MAX_DEMO_DEVICES {
        return Err(Failure::input(format!(
            "--devices must be 1..={MAX_DEMO_DEVICES}"
        )));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let ed = PrivateKey::generate(KeyType::Ed25519).map_err(Failure::input)?;
    let p256 = PrivateKey::generate(KeyType::P256).map_err(Failure::input)?;
    let raw_ed = crate::bench::raw_rate(&ed, cores, seconds, false);
    let raw_p256 = crate::bench::raw_rate(&p256, cores, seconds, false);
    // Half the devices sign with P-256, half with Ed25519: the raw rate of that mix.
    let raw_mix = 1.0 / (0.5 / raw_p256 + 0.5 / raw_ed);
    println!(
        "proverka bench-trust: {cores} cores, {devices} devices (half P-256, half Ed25519), \
         {clients} clients"
    );
    println!(
        "(a) raw verification on {cores} threads: Ed25519 {raw_ed:.0}/s, P-256 {raw_p256:.0}/s, \
         50/50 mix {raw_mix:.0}/s\n"
    );
    let temp = tempfile::tempdir().map_err(Failure::input)?;
    let node = proverka_node::start(NodeConfig {
        data_dir: temp.path().to_owned(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        dev: true,
        genesis: None,
        p2p: Default::default(),
        join: Vec::new(),
    })
    .await
    .map_err(|e| Failure::input(format!("starting the node: {e}")))?;
    let url = format!("http://{}", node.addr);
    let result = async {
        let city = City::open(temp.path(), &url, clients)?;
        city.govern().await?;
        city.catalogue().await?;
        let devs = city.births(devices).await?;
        city.sell(&devs).await?;
        let all: Vec<&Device> = devs.iter().collect();
        let fw = |d: &Device| if d.maker == ACME { METER_V1 } else { VALVE_V1 };
        println!("\n(b) attestations verified, appraised and durably registered, over HTTP:");
        let direct = city.attest(&all, fw, 1, Mode::Direct).await?;
        // Evidence must not be older than the device's latest: let the clock tick.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let batched = city.attest(&all, fw, 1, Mode::Gateway).await?;
        println!(
            "\nb/a (against the 50/50 raw mix): one by one {:.2}, gateway batches {:.2}",
            direct / raw_mix,
            batched / raw_mix
        );
        Ok::<_, Failure>(())
    }
    .await;
    stop(node).await;
    result
}
