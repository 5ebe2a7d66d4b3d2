//! `proverka bench`: the figures of BENCHMARKS.md, measured in one run on this machine.
//!
//! (a) raw signature verification with the same libraries the ledger uses, on every core;
//! (b) end-to-end registration over HTTP against a real node process (statements durably
//!     acknowledged per second, many concurrent clients), per algorithm, and the ratio b/a;
//! (c) inclusion proofs served per second over HTTP;
//! (d) the node process's resident memory, after the run and after filling it to N entries.
//!
//! The node runs as a child process (`proverka node --dev`) so its memory is its own; the load
//! generator shares the machine's cores with it, as any client on the same host would.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proverka_ledger::{IssuerRecord, ISSUER_REGISTRATION_CONTENT_TYPE};
use proverka_statement::{
    sign_statement, verify_batch, Algorithm, ContentType, KeyType, Limits, PrivateKey,
    SignedStatement, StatementParams,
};

use crate::loadgen::Conn;
use crate::Failure;

/// Options of `proverka bench`.
pub struct BenchOptions {
    pub clients: usize,
    pub statements: usize,
    pub seconds: f64,
    pub fill: u64,
    /// Statements per bulk request (0: no bulk run).
    pub bulk: usize,
    /// Bulk requests in flight (bulk run and fill).
    pub bulk_requests: usize,
    /// Concurrent clients asking for inclusion proofs.
    pub proof_clients: usize,
}

pub async fn run(opts: BenchOptions) -> Result<(), Failure> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "proverka bench: {cores} cores, {} clients, {} statements per algorithm",
        opts.clients, opts.statements
    );
    check_bulk(opts.bulk)?;
    check_in_flight(opts.clients, 1, 1)?;
    let bulk_requests = bulk_in_flight(opts.bulk, opts.bulk_requests)?;
    let ed = PrivateKey::generate(KeyType::Ed25519).map_err(Failure::input)?;
    let p256 = PrivateKey::generate(KeyType::P256).map_err(Failure::input)?;

    println!(
        "\n(a) raw verification, {cores} threads, {:.1} s each",
        opts.seconds
    );
    let raw_ed = raw_rate(&ed, cores, opts.seconds, false);
    let raw_ed_batch = raw_rate(&ed, cores, opts.seconds, true);
    let raw_p256 = raw_rate(&p256, cores, opts.seconds, false);
    println!("    Ed25519 single   {raw_ed:>10.0} verifications/s");
    println!("    Ed25519 batch    {raw_ed_batch:>10.0} verifications/s (batches of 256)");
    println!("    P-256 (ES256)    {raw_p256:>10.0} verifications/s");

    let dir = tempfile::tempdir().map_err(Failure::input)?;
    let mut node = NodeChild::start(dir.path())?;
    let admin = load_admin(dir.path())?;
    // Only for the few reads around the measurements (metrics, tree size, entry bundles); the
    // load itself goes through `loadgen`'s connections.
    let http = reqwest::Client::builder()
        .build()
        .map_err(Failure::network)?;
    let dev_admin = (&admin, proverka_node::datadir::DEV_ADMIN_ISS);
    register_issuer(&node.url, dev_admin, &ed, "bench-ed25519").await?;
    register_issuer(&node.url, dev_admin, &p256, "bench-p256").await?;

    println!("\n(b) end-to-end registration over HTTP (201 = durably in the log)");
    let mut ratios = Vec::new();
    for (name, key, iss, raw) in [
        ("Ed25519", &ed, "bench-ed25519", raw_ed),
        ("P-256", &p256, "bench-p256", raw_p256),
    ] {
        let stmts = presign(key, iss, opts.statements, name);
        let (rate, p50, p99) = submit_all(&[node.url.clone()], stmts, opts.clients).await?;
        println!("    {name:<8} {rate:>10.0} statements/s   p50 {p50:>6.1} ms   p99 {p99:>6.1} ms   b/a = {:.2}", rate / raw);
        ratios.push((name.to_owned(), rate / raw));
    }

    if let Some(requests) = bulk_requests {
        println!(
            "\n(b') the same through POST /entries/bulk: {requests} clients, {} statements per request",
            opts.bulk
        );
        for (name, key, iss, raw) in [
            ("Ed25519", &ed, "bench-ed25519", raw_ed),
            ("P-256", &p256, "bench-p256", raw_p256),
        ] {
            let stmts = presign(key, iss, opts.statements, &format!("{name} bulk"));
            let (rate, p50, p99) =
                submit_bulk(&[node.url.clone()], stmts, requests, opts.bulk).await?;
            println!("    {name:<8} {rate:>10.0} statements/s   p50 {p50:>6.1} ms   p99 {p99:>6.1} ms   b'/a = {:.2}", rate / raw);
            ratios.push((format!("{name} bulk"), rate / raw));
        }
    }

    print_block_stats(&http, &node.url).await;

    println!(
        "\n(c) inclusion proofs over HTTP ({} clients, {:.1} s)",
        opts.proof_clients, opts.seconds
    );
    let ids = sample_ids(&node.url, &http).await?;
    let proofs = proof_rate(&node.url, &ids, opts.proof_clients, opts.seconds).await?;
    println!("    {proofs:>10.0} proofs/s");

    println!("\n(d) node memory");
    let size = tree_size(&http, &node.url).await?;
    println!("    RSS {:>7.1} MiB at {size} entries", node.rss_mib());
    if opts.fill > size {
        fill(
            &node.url,
            &ed,
            "bench-ed25519",
            opts.fill - size,
            opts.clients,
            bulk_requests.map(|requests| (requests, opts.bulk)),
        )
        .await?;
        let size = tree_size(&http, &node.url).await?;
        println!(
            "    RSS {:>7.1} MiB at {size} entries (after filling)",
            node.rss_mib()
        );
        node.restart(dir.path())?;
        println!(
            "    RSS {:>7.1} MiB at {size} entries (after a restart)",
            node.rss_mib()
        );
    }
    println!(
        "\nsummary: b/a {}",
        ratios
            .iter()
            .map(|(n, r)| format!("{n} {r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// The bulk requests in flight, `None` when `bulk` is 0 (no bulk run). Refused when their
/// statements would overflow the node's signature queue: the node would answer 503 Busy and the
/// measurement would stop half-way.
fn bulk_in_flight(bulk: usize, requests: usize) -> Result<Option<usize>, Failure> {
    let queue = proverka_node::verifier::MAX_VERIFY_QUEUE;
    match (bulk, requests) {
        (0, _) => Ok(None),
        (_, 0) => Err(Failure::input("--bulk-requests must be at least 1")),
        (b, r) if b.saturating_mul(r) > queue => Err(Failure::input(format!(
            "--bulk {b} × --bulk-requests {r} statements in flight exceed the node's \
             signature queue of {queue}"
        ))),
        (_, r) => Ok(Some(r)),
    }
}

/// Refuses `clients` connections spread over `nodes`, each with `per_request` statements in
/// flight, when one node could not hold them at once: the run would stop half-way with 503
/// Busy from its signature queue. The queue is the smaller bound: a node accepts more
/// connections than that (checked below at compile time).
pub(crate) fn check_in_flight(
    clients: usize,
    per_request: usize,
    nodes: usize,
) -> Result<(), Failure> {
    if clients == 0 {
        return Err(Failure::input("--clients must be at least 1"));
    }
    let statements = clients
        .div_ceil(nodes.max(1))
        .saturating_mul(per_request.max(1));
    let queue = proverka_node::verifier::MAX_VERIFY_QUEUE;
    if statements > queue {
        return Err(Failure::input(format!(
            "{statements} statements in flight to one node exceed its signature queue of {queue}"
        )));
    }
    Ok(())
}

const _: () = assert!(
    proverka_node::verifier::MAX_VERIFY_QUEUE <= proverka_node::connections::MAX_HTTP_CONNECTIONS
);

/// A `--bulk` value: 0 (no bulk run) to the node's per-request limit.
pub(crate) fn check_bulk(bulk: usize) -> Result<(), Failure> {
    let max = proverka_node::api::MAX_BULK_STATEMENTS;
    if bulk > max {
        return Err(Failure::input(format!(
            "--bulk {bulk}: a bulk request holds at most {max} statements"
        )));
    }
    Ok(())
}

/// Verifications per second on `threads` threads for `seconds`, over 512 distinct statements.
pub(crate) fn raw_rate(key: &PrivateKey, threads: usize, seconds: f64, batch: bool) -> f64 {
    let stmts: Vec<SignedStatement> = (0..512)
        .map(|i| {
            let bytes = statement(key, "raw", i, 200);
            SignedStatement::parse(&bytes, &Limits::default()).unwrap_or_else(|_| unreachable!())
        })
        .collect();
    let public = key.public_key();
    let alg: Algorithm = key.algorithm();
    let total = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    if batch {
                        let items: Vec<_> = stmts[..256].iter().map(|st| (st, &public)).collect();
                        let ok = verify_batch(&items).iter().all(|r| r.is_ok());
                        assert!(ok, "batch verification failed on valid signatures");
                        n += 256;
                    } else {
                        for st in &stmts[..64] {
                            let ok = public
                                .verify(alg, &st.to_be_signed(), st.signature())
                                .is_ok();
                            assert!(ok, "verification failed on a valid signature");
                        }
                        n += 64;
                    }
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    total.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn statement(key: &PrivateKey, iss: &str, n: usize, payload_len: usize) -> Vec<u8> {
    let mut payload = format!("{{\"reading\":{n},\"pad\":\"").into_bytes();
    payload.resize(payload_len.saturating_sub(2).max(payload.len()), b'x');
    payload.extend_from_slice(b"\"}");
    sign_statement(
        key,
        &StatementParams {
            iss,
            sub: &format!("sensor-{}", n % 1000),
            iat: 1_764_000_000 + n as i64,
            content_type: ContentType::Text("application/json".into()),
            payload: &payload,
        },
    )
}

pub(crate) fn presign(key: &PrivateKey, iss: &str, count: usize, salt: &str) -> Vec<Vec<u8>> {
    let base = salt.len() * 10_000_000;
    (0..count)
        .map(|i| statement(key, iss, base + i, 200))
        .collect()
}

/// Submits every statement with `clients` concurrent connections, client `i` to `urls[i % n]`;
/// returns (rate, p50 ms, p99 ms).
pub(crate) async fn submit_all(
    urls: &[String],
    stmts: Vec<Vec<u8>>,
    clients: usize,
) -> Result<(f64, f64, f64), Failure> {
    let total = stmts.len();
    drive(
        stmts.into_iter().map(Job::One).collect(),
        total,
        clients,
        urls,
    )
    .await
}

/// Submits every statement in bulk requests of `per_request`, `clients` at a time; returns
/// (statements per second, p50 ms, p99 ms of a request).
/// Client `i` sends to `urls[i % n]`.
pub(crate) async fn submit_bulk(
    urls: &[String],
    stmts: Vec<Vec<u8>>,
    clients: usize,
    per_request: usize,
) -> Result<(f64, f64, f64), Failure> {
    let total = stmts.len();
    let chunks = stmts
        .chunks(per_request.max(1))
        .map(|c| Job::Bulk(c.to_vec()))
        .collect();
    drive(chunks, total, clients, urls).await
}

/// What one client sends in one request.
enum Job {
    /// A statement, by `POST /entries`.
    One(Vec<u8>),
    /// Statements, by `POST /entries/bulk`.
    Bulk(Vec<Vec<u8>>),
}

/// Runs `jobs` from `clients` concurrent clients, each on its own connection to
/// `urls[client % n]`, until none is left; returns (statements per second, p50 ms, p99 ms of a
/// request).
async fn drive(
    jobs: Vec<Job>,
    statements: usize,
    clients: usize,
    urls: &[String],
) -> Result<(f64, f64, f64), Failure> {
    if urls.is_empty() {
        return Err(Failure::input("no URL to submit to"));
    }
    let queue = Arc::new(std::sync::Mutex::new(jobs));
    let mut conns = Vec::with_capacity(clients);
    for client in 0..clients {
        conns.push(Conn::open(&urls[client % urls.len()]).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in conns {
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                let Some(job) = next else { break };
                let t = Instant::now();
                match job {
                    Job::One(stmt) => post_statement(&mut conn, stmt).await?,
                    Job::Bulk(chunk) => post_bulk(&mut conn, chunk).await?,
                }
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, Failure>(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(Failure::network)??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Ok((statements as f64 / elapsed, pct(0.5), pct(0.99)))
}

/// Submits statements in one bulk request and expects each one answered 201.
async fn post_bulk(conn: &mut Conn, chunk: Vec<Vec<u8>>) -> Result<(), Failure> {
    let items: Vec<serde_bytes::ByteBuf> = chunk.into_iter().map(Into::into).collect();
    let mut body = Vec::new();
    ciborium::into_writer(&items, &mut body).map_err(Failure::input)?;
    let (status, bytes) = conn.post("/entries/bulk", "application/cbor", body).await?;
    if status != 200 {
        return Err(Failure::refused(format!("bulk submit answered {status}")));
    }
    let results: Vec<(u16, serde_bytes::ByteBuf, ciborium::Value)> =
        ciborium::from_reader(bytes.as_ref()).map_err(Failure::input)?;
    match results.iter().find(|(status, _, _)| *status != 201) {
        None if results.len() == items.len() => Ok(()),
        None => Err(Failure::refused("bulk answer with a missing result")),
        Some((status, _, body)) => Err(Failure::refused(format!(
            "bulk item answered {status}: {body:?}"
        ))),
    }
}

/// Submits one statement and expects 201 (newly and durably registered).
async fn post_statement(conn: &mut Conn, stmt: Vec<u8>) -> Result<(), Failure> {
    match conn.post("/entries", "application/cose", stmt).await?.0 {
        201 => Ok(()),
        other => Err(Failure::refused(format!("submit answered {other}"))),
    }
}

/// Registers `key` as the (non-admin) issuer `iss`, signed by `admin` (issuer `admin_iss`).
pub(crate) async fn register_issuer(
    url: &str,
    (admin, admin_iss): (&PrivateKey, &str),
    key: &PrivateKey,
    iss: &str,
) -> Result<(), Failure> {
    let record = IssuerRecord {
        iss: iss.to_owned(),
        key: key.public_key(),
        admin: false,
    };
    let stmt = sign_statement(
        admin,
        &StatementParams {
            iss: admin_iss,
            sub: iss,
            iat: 1_764_000_000,
            content_type: ContentType::Text(ISSUER_REGISTRATION_CONTENT_TYPE.into()),
            payload: &record.encode(),
        },
    );
    post_statement(&mut Conn::open(url).await?, stmt).await
}

/// The C2SP path of the full entry bundle `n`.
fn full_bundle(n: u64) -> Result<String, Failure> {
    let tile = proverka_log::TileRef::entries(n, proverka_log::tiles::TILE_WIDTH)
        .map_err(Failure::input)?;
    Ok(tile.path())
}

/// Entry ids of up to 10,240 registered statements, read from up to 40 full entry bundles
/// spread evenly over the whole log (so proofs are asked for old and recent entries alike).
async fn sample_ids(url: &str, http: &reqwest::Client) -> Result<Vec<String>, Failure> {
    let size = tree_size(http, url).await?;
    let mut ids = Vec::new();
    let full = size / 256;
    let bundles = full.min(40);
    let step = full.checked_div(bundles).unwrap_or(1);
    for n in (0..bundles).map(|i| i * step) {
        let bytes = http
            .get(format!("{url}/{}", full_bundle(n)?))
            .send()
            .await
            .map_err(Failure::network)?
            .bytes()
            .await
            .map_err(Failure::network)?;
        // Each entry: 2-byte big-endian length (32) then the 32-byte entry id.
        for chunk in bytes.chunks(34) {
            if chunk.len() == 34 {
                ids.push(hex::encode(&chunk[2..]));
            }
        }
    }
    if ids.is_empty() {
        return Err(Failure::refused("no full entry bundle to sample ids from"));
    }
    Ok(ids)
}

async fn proof_rate(
    url: &str,
    ids: &[String],
    clients: usize,
    seconds: f64,
) -> Result<f64, Failure> {
    let ids = Arc::new(ids.to_vec());
    let count = Arc::new(AtomicU64::new(0));
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::open(url).await?);
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, mut conn) in conns.into_iter().enumerate() {
        let (ids, count) = (ids.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while Instant::now() < deadline {
                let id = &ids[i % ids.len()];
                i += clients;
                let (status, _) = conn.get(&format!("/entries/{id}/inclusion-proof")).await?;
                if status != 200 {
                    return Err(Failure::refused(format!("proof answered {status}")));
                }
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, Failure>(())
        }));
    }
    for t in tasks {
        t.await.map_err(Failure::network)??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Registers `n` more statements, signing in chunks so the load generator's memory stays small;
/// in bulk requests as in (b') when `bulk` is `Some((requests in flight, statements each))`,
/// else one per request from `clients` clients.
async fn fill(
    url: &str,
    key: &PrivateKey,
    iss: &str,
    n: u64,
    clients: usize,
    bulk: Option<(usize, usize)>,
) -> Result<(), Failure> {
    const CHUNK: u64 = 20_000;
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let take = CHUNK.min(n - done);
        let stmts: Vec<Vec<u8>> = (0..take)
            .map(|i| statement(key, iss, 50_000_000 + (done + i) as usize, 200))
            .collect();
        let urls = [url.to_owned()];
        match bulk {
            Some((requests, each)) => submit_bulk(&urls, stmts, requests, each).await?,
            None => submit_all(&urls, stmts, clients).await?,
        };
        done += take;
        eprint!(
            "\r    filled {done}/{n} ({:.0}/s incl. signing)",
            done as f64 / started.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    Ok(())
}

/// Blocks applied, statements per block and apply time, from the node's own metrics.
async fn print_block_stats(http: &reqwest::Client, url: &str) {
    let Ok(resp) = http.get(format!("{url}/metrics")).send().await else {
        return;
    };
    let text = resp.text().await.unwrap_or_default();
    let metric = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let blocks = metric("proverka_blocks_applied_total");
    let registered = metric("proverka_statements_registered_total");
    let apply = metric("proverka_block_apply_seconds_sum");
    println!(
        "    node: {blocks:.0} blocks applied, {:.0} statements per block, {:.1} ms mean apply (decide + fsync)",
        registered / blocks,
        apply / blocks * 1000.0
    );
}

async fn tree_size(http: &reqwest::Client, url: &str) -> Result<u64, Failure> {
    let note = http
        .get(format!("{url}/checkpoint"))
        .send()
        .await
        .map_err(Failure::network)?
        .text()
        .await
        .map_err(Failure::network)?;
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| Failure::refused("malformed checkpoint"))
}

fn load_admin(dir: &std::path::Path) -> Result<PrivateKey, Failure> {
    let pem = std::fs::read_to_string(dir.join("dev-admin.key.pem")).map_err(Failure::input)?;
    PrivateKey::from_pkcs8_pem(&pem).map_err(Failure::input)
}

/// The node under test, as a child process of the bench.
struct NodeChild {
    child: Child,
    url: String,
}

impl NodeChild {
    fn start(dir: &std::path::Path) -> Result<Self, Failure> {
        let exe = std::env::current_exe().map_err(Failure::input)?;
        let mut child = Command::new(exe)
            .args(["node", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(Failure::input)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Failure::input("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(u) = line.strip_prefix("proverka node listening on ") {
                        break u.trim().to_owned();
                    }
                }
                _ => return Err(Failure::input("node exited before listening")),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(NodeChild { child, url })
    }

    fn restart(&mut self, dir: &std::path::Path) -> Result<(), Failure> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        *self = NodeChild::start(dir)?;
        std::thread::sleep(Duration::from_secs(2));
        Ok(())
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }
}

impl Drop for NodeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_requests_in_flight_fit_the_node_signature_queue() {
        assert_eq!(bulk_in_flight(0, 64).ok(), Some(None), "no bulk run");
        assert_eq!(bulk_in_flight(64, 64).ok(), Some(Some(64)));
        assert_eq!(
            bulk_in_flight(256, 32).ok(),
            Some(Some(32)),
            "8,192 exactly"
        );
        assert!(bulk_in_flight(256, 33).is_err(), "8,448 > 8,192");
        assert!(bulk_in_flight(64, 0).is_err());
    }

    #[test]
    fn clients_fit_the_signature_queue_of_each_node() {
        assert!(check_in_flight(8_192, 1, 1).is_ok(), "8,192 exactly");
        assert!(check_in_flight(8_193, 1, 1).is_err(), "one over the queue");
        assert!(check_in_flight(32_768, 1, 4).is_ok(), "8,192 on each of 4");
        assert!(check_in_flight(32_769, 1, 4).is_err(), "8,193 on one of 4");
        assert!(check_in_flight(64, 64, 1).is_ok(), "4,096 statements");
        assert!(check_in_flight(129, 64, 1).is_err(), "8,256 statements");
        assert!(check_in_flight(0, 1, 1).is_err(), "no client");
    }
}
