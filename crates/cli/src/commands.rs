//! The subcommands.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use proverka_ledger::records::Role;
use proverka_ledger::{
    Genesis, GenesisIssuer, IssuerRecord, GENESIS_FORMAT, ISSUER_REGISTRATION_CONTENT_TYPE,
};
use proverka_node::datadir::{DataDir, NodePublic};
use proverka_statement::{
    sign_statement, statement_id, ContentType, KeyType, Limits, PrivateKey, PublicKey,
    SignedStatement, StatementParams,
};

use crate::client::{Client, Submitted};
use crate::Failure;

const DEFAULT_URL: &str = "http://127.0.0.1:7380";

#[derive(Parser)]
#[command(
    name = "proverka",
    version,
    about = "Proverka: a verifiable ledger for city-scale IoT"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
pub enum NetCommand {
    /// Create (first time) and start N validators as separate processes on loopback; Ctrl-C
    /// stops them. Running it again on the same --dir resumes the same network.
    Up {
        /// How many validators (1..=16).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Directory of the network: genesis, admin key, one data directory per validator.
        #[arg(long)]
        dir: PathBuf,
        /// Validator i serves its API on BASE_PORT + i and its p2p on BASE_PORT + 100 + i.
        #[arg(long, default_value_t = 7400)]
        base_port: u16,
    },
}

#[derive(Subcommand)]
pub enum DeviceQuery {
    /// The device record with its current status.
    Show {
        /// Device id (hex of its id bytes).
        id: String,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
    },
    /// Status, reasons, trust vector, expiry and the EAR signed by the ledger.
    Status {
        id: String,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
    },
    /// Every statement about the device, each with its receipt.
    History {
        id: String,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
    },
}

#[derive(Subcommand)]
pub enum OrgAction {
    /// Sign a join proposal with the key the organisation will use, submit it, and print
    /// the proposal id governance members vote on.
    Join {
        /// The organisation id (its statements' `iss`).
        #[arg(long)]
        org: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// manufacturer, operator, security-authority, auditor or governance (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Private PEM key of the organisation (its public half is registered).
        #[arg(long)]
        key: PathBuf,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
    },
    /// Propose a governance change as a governance member (exactly one of the options), and
    /// print the proposal id members vote on with `org vote`.
    #[command(group(clap::ArgGroup::new("change").required(true).args(["remove_org", "remove_key", "threshold", "add_validator", "remove_validator", "rotate_validator"])))]
    Propose {
        /// Remove this organisation: every active key revoked, its roles gone.
        #[arg(long, value_name = "ISS")]
        remove_org: Option<String>,
        /// Revoke one active key of an organisation (thumbprint in hex).
        #[arg(long, value_name = "ISS=KID")]
        remove_key: Option<String>,
        /// Amend the vote threshold (1..=number of governance members).
        #[arg(long)]
        threshold: Option<u64>,
        /// Add a validator from the next epoch boundary: its public keys as `proverka init`
        /// wrote them (`DATA_DIR/keys/public.json`).
        #[arg(long, value_name = "NODE_PUBLIC_JSON")]
        add_validator: Option<PathBuf>,
        /// Remove the validator with this consensus key (64 hex) from the next epoch boundary.
        #[arg(long, value_name = "KEY")]
        remove_validator: Option<String>,
        /// Replace validator KEY's keys with those of another `keys/public.json`.
        #[arg(long, value_name = "KEY=NODE_PUBLIC_JSON")]
        rotate_validator: Option<String>,
        /// The member's private PEM key.
        #[arg(long)]
        key: PathBuf,
        /// The member's `iss`.
        #[arg(long)]
        iss: String,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
    },
    /// Approve (or reject) a proposal (a join or a governance change) as a governance member.
    Vote {
        /// The proposal id printed by `org join` or `org propose`.
        proposal: String,
        /// The member's private PEM key.
        #[arg(long)]
        key: PathBuf,
        /// The member's `iss`.
        #[arg(long)]
        iss: String,
        #[arg(long)]
        reject: bool,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Alg {
    P256,
    Ed25519,
}

#[derive(Subcommand)]
enum Command {
    /// Run a ledger node (with --dev: a single-node ledger that bootstraps itself).
    Node {
        #[arg(long)]
        data_dir: PathBuf,
        /// Create keys, an admin issuer and a one-validator genesis on first start.
        #[arg(long)]
        dev: bool,
        /// Genesis file (first start without --dev).
        #[arg(long)]
        genesis: Option<PathBuf>,
        #[arg(long, default_value = proverka_node::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Address the validator-to-validator network listens on (a committee of one needs
        /// none: the default is loopback with an ephemeral port).
        #[arg(long, default_value = "127.0.0.1:0")]
        p2p_listen: SocketAddr,
        /// Another committee member, as CONSENSUS_KEY_HEX@HOST:PORT; once per other validator.
        #[arg(long = "peer", value_parser = parse_peer)]
        peers: Vec<(String, SocketAddr)>,
        /// On first start, join the network whose node API is at URL by state sync from a
        /// height a quorum certified, instead of replaying every block since genesis (needs
        /// --genesis). Repeat it to name other members (at most 16): they are tried in order
        /// until one serves a floor that verifies. Ignored once the data directory holds a
        /// ledger.
        #[arg(long, value_name = "URL", conflicts_with = "dev")]
        join: Vec<String>,
    },
    /// Create a node's keys in DIR/keys (for an explicit genesis) and print their public halves.
    Init {
        #[arg(long)]
        data_dir: PathBuf,
        /// The log origin, e.g. "ledger.example.city/proverka".
        #[arg(long)]
        origin: String,
    },
    /// Write a genesis file for a node whose keys were made by `proverka init`.
    Genesis {
        /// A validator's keys/public.json; repeat it once per validator, in committee order.
        #[arg(long, required = true)]
        node_public: Vec<PathBuf>,
        /// Origin (must equal the one given to `proverka init`).
        #[arg(long)]
        origin: String,
        /// Public (or private) PEM key of the first administrator issuer.
        #[arg(long)]
        admin_key: PathBuf,
        #[arg(long)]
        admin_iss: String,
        /// Roles of the administrator's organisation (comma-separated).
        #[arg(long, default_value = "governance")]
        admin_roles: String,
        /// Another founding organisation: ISS=ROLE[,ROLE...]@PUBLIC_KEY.pem (repeatable).
        #[arg(long = "org")]
        orgs: Vec<String>,
        /// Approvals that admit a new organisation (default: a majority of governance members).
        #[arg(long)]
        governance_threshold: Option<u32>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure attestations registered per second end to end, against raw verification.
    BenchTrust {
        #[arg(long, default_value_t = 20_000)]
        devices: usize,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 256)]
        clients: usize,
        /// Seconds per raw verification measurement.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
    /// A device's record, trust status (with reasons and the signed EAR) or full history.
    Device {
        #[command(subcommand)]
        what: DeviceQuery,
    },
    /// One page of a fleet with trust status: by owner, maker, model or firmware.
    Fleet {
        #[arg(long, group = "by")]
        owner: Option<String>,
        #[arg(long, group = "by")]
        maker: Option<String>,
        /// MAKER/NAME
        #[arg(long, group = "by")]
        model: Option<String>,
        /// Firmware digest (hex).
        #[arg(long, group = "by")]
        firmware: Option<String>,
        /// none, affirming, warning or contraindicated.
        #[arg(long)]
        status: Option<String>,
        /// Continue after this device (the previous page's `next`).
        #[arg(long)]
        after: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
    },
    /// An advisory's exposure: which devices, whose, for how long.
    Advisory {
        issuer: String,
        id: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
    },
    /// Run a local network of validators on loopback (docs/network.md).
    Net {
        #[command(subcommand)]
        action: NetCommand,
    },
    /// Organisations: ask to join (one command for the applicant), propose a governance change
    /// (remove a key or an organisation, amend the threshold), vote (one per member).
    Org {
        #[command(subcommand)]
        action: OrgAction,
    },
    /// Play a small city on the embedded node: governance, births, sales, attestations, a
    /// critical advisory, a fix and its roll-out, an audit. Prints the story with figures.
    Demo {
        /// Keep the node's data here (default: a temporary directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Devices in the city (half meters, half valves).
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Leave the node running for queries after the story (until Ctrl-C).
        #[arg(long)]
        keep_running: bool,
    },
    /// Generate a signing key: NAME.key.pem (PKCS#8, private) and NAME.pub.pem.
    Keygen {
        /// Output name prefix.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "p256")]
        alg: Alg,
    },
    /// Sign a file as a SCITT signed statement (tagged COSE_Sign1).
    Sign {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        iss: String,
        #[arg(long)]
        sub: String,
        #[arg(long)]
        content_type: String,
        #[arg(long)]
        payload: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a statement registering a new issuer (signer must be an admin issuer).
    IssuerStatement {
        /// The signing admin's private key.
        #[arg(long)]
        admin_key: PathBuf,
        #[arg(long)]
        admin_iss: String,
        /// The new issuer's public (or private) PEM key.
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        iss: String,
        /// The new issuer may register issuers too.
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        out: PathBuf,
    },
    /// Submit a signed statement; writes its receipt once registered.
    Submit {
        statement: PathBuf,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
        /// Where to write the receipt.
        #[arg(long)]
        receipt: Option<PathBuf>,
    },
    /// Fetch the receipt of a registered statement.
    Receipt {
        /// The statement file (its entry id is computed) ...
        #[arg(long, conflicts_with = "id")]
        statement: Option<PathBuf>,
        /// ... or the entry id.
        #[arg(long)]
        id: Option<String>,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Fetch the ledger's public material for offline verification.
    Fetch {
        #[arg(value_enum)]
        what: FetchWhat,
        #[arg(long, env = "PROVERKA_URL", default_value = DEFAULT_URL)]
        url: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a statement and its receipt offline with the ledger's published key.
    Verify {
        #[arg(long)]
        statement: PathBuf,
        #[arg(long)]
        receipt: PathBuf,
        /// The ledger's keys: a COSE_KeySet from /.well-known/scitt-keys ...
        #[arg(long, conflicts_with = "genesis")]
        keys: Option<PathBuf>,
        /// ... or its genesis file.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// The committee hand-over chain, to verify what later committees certified: the
        /// `GET /validators/epochs` body saved to a file (`curl URL/validators/epochs > chain`).
        /// Verified link by link from the genesis. Without it, the genesis committee alone.
        #[arg(long)]
        chain: Option<PathBuf>,
    },
    /// Run an MQTT edge gateway: check device-to-device commands against a proved snapshot of
    /// the ledger and the owners' Cedar policies, deliver or refuse them, forward evidence, and
    /// publish status changes (docs/gateway.md).
    Gateway(crate::gateway::GatewayArgs),
    /// Fetch a state proof (CBOR bundle) for ledger keys or for a device's status inputs.
    StateProof {
        /// The ledger's URL.
        #[arg(long)]
        url: String,
        /// A device id (hex): its record and every key its status is computed from ...
        #[arg(long, conflicts_with = "key")]
        device: Option<String>,
        /// ... or ledger keys (hex), repeatable.
        #[arg(long)]
        key: Vec<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a state proof offline with only the genesis file (validators and namespace), and
    /// the hand-over chain for blocks of later committees; with --device, also recompute the
    /// device's status from the proved records.
    VerifyState {
        #[arg(long)]
        proof: PathBuf,
        #[arg(long)]
        genesis: PathBuf,
        /// The committee hand-over chain, to verify what later committees certified: the
        /// `GET /validators/epochs` body saved to a file (`curl URL/validators/epochs > chain`).
        /// Verified link by link from the genesis. Without it, the genesis committee alone.
        #[arg(long)]
        chain: Option<PathBuf>,
        /// Device id (hex) whose status to recompute from the proof.
        #[arg(long)]
        device: Option<String>,
    },
    /// Measure verification, end-to-end registration, proof serving and memory (BENCHMARKS.md).
    Bench {
        /// Concurrent HTTP clients in the one-statement-per-request run, each with its own
        /// connection. On two shared cores 2,048 register more per second than 512: more
        /// requests in flight make fuller blocks (BENCHMARKS.md). At most the node's
        /// signature queue, 8,192.
        #[arg(long, default_value_t = 2048)]
        clients: usize,
        /// Statements registered per algorithm in the throughput run.
        #[arg(long, default_value_t = 20_000)]
        statements: usize,
        /// Seconds per raw-verification and proof-serving measurement.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Afterwards, fill the log to this many entries and report the node's memory.
        #[arg(long, default_value_t = 0)]
        fill: u64,
        /// Statements per `POST /entries/bulk` request in the bulk registration run (1..=256;
        /// 0 skips that run).
        #[arg(long, default_value_t = 64)]
        bulk: usize,
        /// Bulk requests in flight in the bulk run and the fill. Their statements (`--bulk` ×
        /// this) may not exceed the node's signature queue (8,192), past which it answers
        /// 503 Busy.
        #[arg(long, default_value_t = 64)]
        bulk_requests: usize,
        /// Concurrent clients in the inclusion-proof run. Fewer connections than the
        /// registration runs: proofs answer at once, and on two shared cores 64 connections
        /// serve more proofs per second than 512 (BENCHMARKS.md).
        #[arg(long, default_value_t = 64)]
        proof_clients: usize,
    },
    /// Measure a network of validators on this machine: certified statements per second,
    /// submit-to-receipt latency, receipt and cosigned checkpoint sizes (BENCHMARKS.md).
    BenchNet {
        #[arg(long, default_value_t = 4)]
        validators: usize,
        #[arg(long, default_value_t = 20_000)]
        statements: usize,
        /// Concurrent clients spread over the validators; each validator's share times
        /// `--bulk` (1 without it) must fit its signature queue of 8,192 statements.
        #[arg(long, default_value_t = 256)]
        clients: usize,
        /// Which statements to submit: `p256`, `ed25519` or `both` (one after the other).
        #[arg(long, default_value = "both")]
        alg: String,
        /// Statements per `POST /entries/bulk` request (1..=256); 0, the default, submits each
        /// statement with its own `POST /entries`.
        #[arg(long, default_value_t = 0)]
        bulk: usize,
    },
    /// Verify that checkpoint NEW extends checkpoint OLD (append-only), offline with a proof
    /// file or by fetching the proof.
    VerifyConsistency {
        #[arg(long)]
        old: PathBuf,
        #[arg(long)]
        new: PathBuf,
        /// The ledger's genesis file (origin and checkpoint key).
        #[arg(long)]
        genesis: PathBuf,
        /// The committee hand-over chain (`GET /validators/epochs` saved to a file), so that
        /// checkpoints signed by members of later committees verify. With --url and no --chain,
        /// it is fetched from the ledger; with neither, the genesis validators alone.
        #[arg(long)]
        chain: Option<PathBuf>,
        /// A consistency proof saved from GET /proofs/consistency ...
        #[arg(long, conflicts_with = "url")]
        proof: Option<PathBuf>,
        /// ... or the ledger to fetch it from.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FetchWhat {
    /// /.well-known/scitt-keys (COSE_KeySet)
    Keys,
    /// /checkpoint (signed note)
    Checkpoint,
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::input)?;
    rt.block_on(dispatch(cli.command))
}

async fn dispatch(cmd: Command) -> Result<(), Failure> {
    match cmd {
        Command::Node {
            data_dir,
            dev,
            genesis,
            listen,
            p2p_listen,
            peers,
            join,
        } => {
            let p2p = proverka_node::P2pConfig {
                listen: p2p_listen,
                peers,
            };
            node(data_dir, dev, genesis, listen, p2p, join).await
        }
        Command::Init { data_dir, origin } => init(&data_dir, &origin),
        Command::Genesis {
            node_public,
            origin,
            admin_key,
            admin_iss,
            admin_roles,
            orgs,
            governance_threshold,
            out,
        } => genesis(GenesisArgs {
            node_public: &node_public,
            origin: &origin,
            admin_key: &admin_key,
            admin_iss: &admin_iss,
            admin_roles: &admin_roles,
            orgs: &orgs,
            governance_threshold,
            out: &out,
        }),
        Command::Gateway(args) => crate::gateway::run(args).await,
        Command::Keygen { out, alg } => keygen(&out, alg),
        Command::Sign {
            key,
            iss,
            sub,
            content_type,
            payload,
            out,
        } => {
            let key = read_private(&key)?;
            let payload = read(&payload)?;
            let stmt = sign(&key, &iss, &sub, &content_type, &payload);
            write(&out, &stmt)?;
            println!("{}", hex::encode(statement_id(&stmt)));
            Ok(())
        }
        Command::IssuerStatement {
            admin_key,
            admin_iss,
            key,
            iss,
            admin,
            out,
        } => {
            let signer = read_private(&admin_key)?;
            let record = IssuerRecord {
                iss: iss.clone(),
                key: read_public(&key)?,
                admin,
            };
            let stmt = sign(
                &signer,
                &admin_iss,
                &iss,
                ISSUER_REGISTRATION_CONTENT_TYPE,
                &record.encode(),
            );
            write(&out, &stmt)?;
            println!("{}", hex::encode(statement_id(&stmt)));
            Ok(())
        }
        Command::Submit {
            statement,
            url,
            receipt,
        } => submit(&statement, &url, receipt.as_deref()).await,
        Command::Receipt {
            statement,
            id,
            url,
            out,
        } => {
            let id = match (statement, id) {
                (Some(p), _) => hex::encode(statement_id(&read(&p)?)),
                (None, Some(id)) => id,
                (None, None) => return Err(Failure::input("give --statement FILE or --id ID")),
            };
            let client = Client::new(&url)?;
            match client.receipt(&id).await? {
                Some(r) => write(&out, &r),
                None => Err(Failure::refused(format!(
                    "{id} is accepted but not yet registered; retry"
                ))),
            }
        }
        Command::Fetch { what, url, out } => {
            let client = Client::new(&url)?;
            let bytes = match what {
                FetchWhat::Keys => {
                    client
                        .get_bytes("/.well-known/scitt-keys", "application/cose-key-set")
                        .await?
                }
                FetchWhat::Checkpoint => client.get_bytes("/checkpoint", "text/plain").await?,
            };
            write(&out, &bytes)
        }
        Command::Verify {
            statement,
            receipt,
            keys,
            genesis,
            chain,
        } => verify(
            &statement,
            &receipt,
            keys.as_deref(),
            genesis.as_deref(),
            chain.as_deref(),
        ),
        Command::Org { action } => org(action).await,
        Command::Net {
            action:
                NetCommand::Up {
                    validators,
                    dir,
                    base_port,
                },
        } => crate::net::up(&dir, validators, base_port).await,
        Command::Device { what } => {
            let (url, path) = match what {
                DeviceQuery::Show { id, url } => (url, format!("/devices/{id}")),
                DeviceQuery::Status { id, url } => (url, format!("/devices/{id}/status")),
                DeviceQuery::History { id, url } => {
                    (url, format!("/devices/{id}/history?limit=1000"))
                }
            };
            print_json(&url, &path).await
        }
        Command::Fleet {
            owner,
            maker,
            model,
            firmware,
            status,
            after,
            limit,
            url,
        } => {
            let by = [
                ("owner", owner),
                ("maker", maker),
                ("model", model),
                ("firmware", firmware),
            ]
            .into_iter()
            .find_map(|(k, v)| v.map(|v| (k, v)))
            .ok_or_else(|| Failure::input("give --owner, --maker, --model or --firmware"))?;
            let mut path = format!("/fleet?{}={}&limit={limit}", by.0, query_escape(&by.1));
            if let Some(s) = status {
                path.push_str(&format!("&status={}", query_escape(&s)));
            }
            if let Some(a) = after {
                path.push_str(&format!("&after={}", query_escape(&a)));
            }
            print_json(&url, &path).await
        }
        Command::Advisory {
            issuer,
            id,
            limit,
            url,
        } => {
            let path = format!(
                "/advisories/{}/{}?limit={limit}",
                query_escape(&issuer),
                query_escape(&id)
            );
            print_json(&url, &path).await
        }
        Command::BenchTrust {
            devices,
            clients,
            seconds,
        } => crate::demo::bench(devices, clients.clamp(1, 4096), seconds).await,
        Command::Demo {
            data_dir,
            listen,
            devices,
            keep_running,
        } => {
            crate::demo::run(crate::demo::DemoOptions {
                data_dir,
                listen,
                devices,
                keep_running,
            })
            .await
        }
        Command::BenchNet {
            validators,
            statements,
            clients,
            alg,
            bulk,
        } => {
            crate::bench_net::run(crate::bench_net::BenchNetOptions {
                validators,
                statements,
                clients,
                alg,
                bulk,
            })
            .await
        }
        Command::Bench {
            clients,
            statements,
            seconds,
            fill,
            bulk,
            bulk_requests,
            proof_clients,
        } => {
            let opts = crate::bench::BenchOptions {
                clients,
                statements,
                seconds,
                fill,
                bulk,
                bulk_requests,
                proof_clients: proof_clients.max(1),
            };
            crate::bench::run(opts).await
        }
        Command::StateProof {
            url,
            device,
            key,
            out,
        } => state_proof(&url, device.as_deref(), &key, &out).await,
        Command::VerifyState {
            proof,
            genesis,
            chain,
            device,
        } => verify_state(&proof, &genesis, chain.as_deref(), device.as_deref()),
        Command::VerifyConsistency {
            old,
            new,
            genesis,
            chain,
            proof,
            url,
        } => {
            let chain = ChainSource::of(chain.as_deref(), url.as_deref());
            verify_consistency(
                &old,
                &new,
                &genesis,
                chain,
                proof.as_deref(),
                url.as_deref(),
            )
            .await
        }
    }
}

async fn node(
    data_dir: PathBuf,
    dev: bool,
    genesis: Option<PathBuf>,
    listen: SocketAddr,
    p2p: proverka_node::P2pConfig,
    join: Vec<String>,
) -> Result<(), Failure> {
    let cfg = proverka_node::NodeConfig {
        data_dir: data_dir.clone(),
        listen,
        dev,
        genesis,
        p2p,
        join,
    };
    // Warnings and errors go to stderr (RUST_LOG overrides the level).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let node = proverka_node::start(cfg).await.map_err(Failure::input)?;
    let s = &node.shared;
    println!("proverka node listening on http://{}", node.addr);
    println!("  origin    {}", s.genesis.origin);
    println!("  chain id  {}", hex::encode(s.genesis_id));
    println!("  log size  {}", s.head().size);
    if let Ok(Some(floor)) = s.store.floor() {
        println!("  floor     {floor} (joined by state sync; no block below it is kept here)");
    }
    if dev {
        let dir = DataDir::new(&data_dir);
        println!(
            "  dev admin key {} (iss \"{}\")",
            dir.dev_admin_key().display(),
            proverka_node::datadir::DEV_ADMIN_ISS
        );
    }
    wait_for_signal().await;
    println!("proverka node stopping");
    node.shutdown().await;
    Ok(())
}

/// `KEY_HEX@HOST:PORT` → (key, address).
fn parse_peer(spec: &str) -> Result<(String, SocketAddr), String> {
    let (key, addr) = spec
        .split_once('@')
        .ok_or_else(|| format!("{spec:?}: expected CONSENSUS_KEY_HEX@HOST:PORT"))?;
    let addr = addr
        .parse()
        .map_err(|e| format!("{spec:?}: bad address: {e}"))?;
    Ok((key.to_owned(), addr))
}

pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn init(data_dir: &Path, origin: &str) -> Result<(), Failure> {
    let public = DataDir::new(data_dir)
        .init_keys(origin)
        .map_err(Failure::input)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&public).unwrap_or_default()
    );
    println!("wrote {}", data_dir.join("keys").display());
    Ok(())
}

struct GenesisArgs<'a> {
    node_public: &'a [PathBuf],
    origin: &'a str,
    admin_key: &'a Path,
    admin_iss: &'a str,
    admin_roles: &'a str,
    orgs: &'a [String],
    governance_threshold: Option<u32>,
    out: &'a Path,
}

fn parse_roles(list: &str) -> Result<Vec<Role>, Failure> {
    list.split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            Role::from_name(r.trim()).ok_or_else(|| Failure::input(format!("unknown role {r:?}")))
        })
        .collect()
}

/// `ISS=ROLE[,ROLE...]@KEY.pem` → a genesis issuer.
fn parse_org(spec: &str) -> Result<GenesisIssuer, Failure> {
    let usage = || {
        Failure::input(format!(
            "--org {spec:?}: expected ISS=ROLE[,ROLE...]@KEY.pem"
        ))
    };
    let (iss, rest) = spec.split_once('=').ok_or_else(usage)?;
    let (roles, key) = rest.split_once('@').ok_or_else(usage)?;
    let key = read_public(Path::new(key))?;
    Ok(GenesisIssuer::new(iss, &key, false).with_roles(&parse_roles(roles)?))
}

fn genesis(a: GenesisArgs) -> Result<(), Failure> {
    let GenesisArgs {
        node_public,
        origin,
        admin_key,
        admin_iss,
        out,
        ..
    } = a;
    let mut publics = Vec::with_capacity(node_public.len());
    for path in node_public {
        publics.push(read_node_public(path)?);
    }
    let validator_keys =
        proverka_node::datadir::validator_keys_of(&publics).map_err(Failure::input)?;
    let public = publics
        .first()
        .cloned()
        .ok_or_else(|| Failure::input("--node-public is required"))?;
    let admin = read_public(admin_key)?;
    let mut issuers =
        vec![GenesisIssuer::new(admin_iss, &admin, true).with_roles(&parse_roles(a.admin_roles)?)];
    for spec in a.orgs {
        issuers.push(parse_org(spec)?);
    }
    let created_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let genesis = Genesis {
        format: GENESIS_FORMAT.to_owned(),
        origin: origin.to_owned(),
        created_ms,
        validators: publics.iter().map(|p| p.validator.clone()).collect(),
        receipt_key: public.receipt_key,
        checkpoint_vkey: public.checkpoint_vkey,
        issuers,
        governance_threshold: a.governance_threshold,
        validator_keys,
    };
    let bytes = genesis.to_bytes();
    Genesis::from_bytes(&bytes).map_err(Failure::input)?;
    write(out, &bytes)?;
    println!("chain id {}", hex::encode(Genesis::id(&bytes)));
    Ok(())
}

fn keygen(out: &Path, alg: Alg) -> Result<(), Failure> {
    let kt = match alg {
        Alg::P256 => KeyType::P256,
        Alg::Ed25519 => KeyType::Ed25519,
    };
    let key = PrivateKey::generate(kt).map_err(Failure::input)?;
    let private = with_suffix(out, ".key.pem");
    let public = with_suffix(out, ".pub.pem");
    proverka_node::datadir::write_secret(&private, key.to_pkcs8_pem().as_bytes())
        .map_err(Failure::input)?;
    write(&public, key.public_key().to_spki_pem().as_bytes())?;
    println!("private key {}", private.display());
    println!("public key  {}", public.display());
    println!("kid         {}", hex::encode(key.public_key().thumbprint()));
    Ok(())
}

fn sign(key: &PrivateKey, iss: &str, sub: &str, content_type: &str, payload: &[u8]) -> Vec<u8> {
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let params = StatementParams {
        iss,
        sub,
        iat,
        content_type: ContentType::Text(content_type.to_owned()),
        payload,
    };
    sign_statement(key, &params)
}

/// Fetches a JSON answer and prints it indented.
async fn print_json(url: &str, path: &str) -> Result<(), Failure> {
    let bytes = Client::new(url)?
        .get_bytes(path, "application/json")
        .await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::network(format!("{path}: not JSON: {e}")))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
    Ok(())
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for paths and queries.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn org(action: OrgAction) -> Result<(), Failure> {
    match action {
        OrgAction::Join {
            org,
            name,
            roles,
            key,
            url,
        } => {
            let signer = read_private(&key)?;
            let roles = parse_roles(&roles.join(","))?;
            let payload = proverka_ledger::make::join(&org, &name, &roles, &signer.public_key());
            let stmt = sign(&signer, &org, &org, proverka_ledger::kinds::JOIN, &payload);
            submit_bytes(stmt.clone(), &url, None).await?;
            println!("proposal {}", hex::encode(statement_id(&stmt)));
            Ok(())
        }
        OrgAction::Propose {
            remove_org,
            remove_key,
            threshold,
            add_validator,
            remove_validator,
            rotate_validator,
            key,
            iss,
            url,
        } => {
            use proverka_ledger::make;
            // clap's group guarantees exactly one is given.
            let payload = if let Some(org) = remove_org {
                make::propose_remove_org(&org)
            } else if let Some(spec) = remove_key {
                let (org, kid) = spec.split_once('=').ok_or_else(|| {
                    Failure::input("--remove-key: expected ISS=KID (KID: 64 hex digits)")
                })?;
                make::propose_remove_key(org, &parse_hash(kid)?)
            } else if let Some(n) = threshold {
                make::propose_threshold(n)
            } else if let Some(file) = add_validator {
                with_new_validator(&read_node_public(&file)?, make::propose_add_validator)?
            } else if let Some(validator) = remove_validator {
                make::propose_remove_validator(&parse_hash(&validator)?)
            } else if let Some(spec) = rotate_validator {
                let (old, file) = spec.split_once('=').ok_or_else(|| {
                    Failure::input("--rotate-validator: expected KEY=NODE_PUBLIC_JSON")
                })?;
                let old = parse_hash(old)?;
                with_new_validator(&read_node_public(Path::new(file))?, |v| {
                    make::propose_rotate_validator(&old, v)
                })?
            } else {
                return Err(Failure::input("give exactly one change to propose"));
            };
            let signer = read_private(&key)?;
            let stmt = sign(
                &signer,
                &iss,
                "governance",
                proverka_ledger::kinds::PROPOSE,
                &payload,
            );
            submit_bytes(stmt.clone(), &url, None).await?;
            println!("proposal {}", hex::encode(statement_id(&stmt)));
            Ok(())
        }
        OrgAction::Vote {
            proposal,
            key,
            iss,
            reject,
            url,
        } => {
            let mut id = [0u8; 32];
            hex::decode_to_slice(&proposal, &mut id)
                .map_err(|_| Failure::input("a proposal id is 64 hex digits"))?;
            let signer = read_private(&key)?;
            let payload = proverka_ledger::make::vote(&id, !reject);
            let stmt = sign(
                &signer,
                &iss,
                &proposal,
                proverka_ledger::kinds::VOTE,
                &payload,
            );
            submit_bytes(stmt, &url, None).await
        }
    }
}

async fn submit(statement: &Path, url: &str, receipt_out: Option<&Path>) -> Result<(), Failure> {
    submit_bytes(read(statement)?, url, receipt_out).await
}

async fn submit_bytes(
    bytes: Vec<u8>,
    url: &str,
    receipt_out: Option<&Path>,
) -> Result<(), Failure> {
    let id = hex::encode(statement_id(&bytes));
    let client = Client::new(url)?;
    let receipt = match client.submit(bytes).await? {
        Submitted::Receipt(r) => r,
        Submitted::Pending => poll_receipt(&client, &id).await?,
    };
    println!("registered {id}");
    if let Some(out) = receipt_out {
        write(out, &receipt)?;
        println!("receipt written to {}", out.display());
    }
    Ok(())
}

async fn poll_receipt(client: &Client, id: &str) -> Result<Vec<u8>, Failure> {
    for _ in 0..60 {
        if let Some(r) = client.receipt(id).await? {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(Failure::network(format!(
        "{id} accepted but not registered within 60 s"
    )))
}

/// Where a verifying command gets the committee hand-over chain from.
#[derive(Clone, Copy)]
enum ChainSource<'a> {
    /// None: the genesis committee alone.
    GenesisOnly,
    /// A chain file (`GET /validators/epochs` saved).
    File(&'a Path),
    /// The ledger the command already talks to.
    Ledger(&'a str),
}

impl<'a> ChainSource<'a> {
    /// `--chain FILE` first; else the ledger at `url`, if the command talks to one.
    fn of(file: Option<&'a Path>, url: Option<&'a str>) -> Self {
        match (file, url) {
            (Some(f), _) => Self::File(f),
            (None, Some(u)) => Self::Ledger(u),
            (None, None) => Self::GenesisOnly,
        }
    }

    /// The chain file's bytes (empty: no hand-over).
    async fn bytes(self) -> Result<(Vec<u8>, String), Failure> {
        match self {
            Self::GenesisOnly => Ok((Vec::new(), "the genesis".into())),
            Self::File(path) => Ok((read(path)?, path.display().to_string())),
            Self::Ledger(url) => {
                let bytes = Client::new(url)?
                    .get_bytes("/validators/epochs", "text/plain")
                    .await?;
                Ok((bytes, format!("{url}/validators/epochs")))
            }
        }
    }
}

/// The committee chain from `genesis` through the hand-over notes of `file` (named `source` in
/// errors), verified link by link: `None` when the file holds no hand-over (the genesis
/// committee alone, verified as before chains existed). A chain that does not verify is a
/// verification failure: nothing is verified with committees it claims.
fn committee_chain(
    genesis: &Genesis,
    file: &[u8],
    source: &str,
) -> Result<Option<proverka_log::CommitteeChain>, Failure> {
    if file.is_empty() {
        return Ok(None);
    }
    if genesis.validator_keys.is_empty() {
        return Err(Failure::verify(format!(
            "{source}: the genesis names no cosigner keys (a single validator from before \
             cosigning), so no hand-over can follow it"
        )));
    }
    proverka_node::cosign::committee_chain(genesis, file)
        .map(Some)
        .map_err(|e| {
            Failure::verify(format!(
                "{source}: the committee hand-over chain does not verify from the genesis: {e}"
            ))
        })
}

/// [`committee_chain`] of an optional chain file.
fn chain_file(
    genesis: &Genesis,
    path: Option<&Path>,
) -> Result<Option<proverka_log::CommitteeChain>, Failure> {
    match path {
        None => Ok(None),
        Some(p) => committee_chain(genesis, &read(p)?, &p.display().to_string()),
    }
}

fn verify(
    statement: &Path,
    receipt: &Path,
    keys: Option<&Path>,
    genesis: Option<&Path>,
    chain: Option<&Path>,
) -> Result<(), Failure> {
    // Clap cannot say it: `--keys` conflicts with `--genesis`, and a conflict lifts `requires`.
    if chain.is_some() && genesis.is_none() {
        return Err(Failure::input(
            "--chain needs --genesis: a hand-over chain is verified from the genesis",
        ));
    }
    let stmt_bytes = read(statement)?;
    let receipt_bytes = read(receipt)?;
    let stmt = SignedStatement::parse(&stmt_bytes, &Limits::default()).map_err(Failure::verify)?;
    let ledger_keys = match (keys, genesis) {
        (Some(k), _) => PublicKey::from_cose_key_set(&read(k)?).map_err(Failure::input)?,
        (None, Some(g)) => {
            let genesis = Genesis::from_bytes(&read(g)?).map_err(Failure::input)?;
            let chain = chain_file(&genesis, chain)?;
            if !genesis.validator_keys.is_empty() {
                let certified = Certified {
                    genesis: &genesis,
                    chain: chain.as_ref(),
                };
                return certified.verify(&stmt, &stmt_bytes, &receipt_bytes);
            }
            vec![genesis.receipt_public_key().map_err(Failure::input)?]
        }
        (None, None) => return Err(Failure::input("give --keys FILE or --genesis FILE")),
    };
    let mut last_err = String::from("no ledger key");
    for key in &ledger_keys {
        match proverka_log::verify_receipt(&receipt_bytes, &stmt_bytes, key) {
            Ok(v) => {
                println!(
                    "OK: statement {} from {:?} (subject {:?})",
                    hex::encode(statement_id(&stmt_bytes)),
                    stmt.issuer(),
                    stmt.subject()
                );
                println!(
                    "    is leaf {} of the tree of size {} with root {}",
                    v.leaf_index,
                    v.tree_size,
                    hex::encode(v.root)
                );
                return Ok(());
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    Err(Failure::verify(last_err))
}

/// What a certified receipt is checked against: the genesis validator set, or the committee
/// of the receipt's epoch in a verified hand-over chain.
struct Certified<'a> {
    genesis: &'a Genesis,
    chain: Option<&'a proverka_log::CommitteeChain>,
}

impl Certified<'_> {
    /// The receipt must carry a checkpoint cosigned by a quorum of the committee of its epoch
    /// (the genesis committee without a chain).
    fn verify(
        &self,
        stmt: &SignedStatement,
        stmt_bytes: &[u8],
        receipt: &[u8],
    ) -> Result<(), Failure> {
        let certified = match self.chain {
            Some(chain) => {
                proverka_node::cosign::verify_certified_receipt_in_chain(chain, receipt, stmt_bytes)
            }
            None => {
                proverka_node::cosign::verify_certified_receipt(self.genesis, receipt, stmt_bytes)
            }
        }
        .map_err(Failure::verify)?;
        // Without a chain the genesis committee certified it, whatever epoch the note names.
        let (epoch, members, quorum) = match self.chain {
            Some(chain) => {
                let epoch = proverka_log::checkpoint_epoch(&certified.checkpoint.extensions)
                    .map_err(Failure::verify)?;
                let committee = chain.committee_at(epoch);
                (epoch, committee.members.len(), committee.quorum())
            }
            None => (0, self.genesis.validators.len(), self.genesis.quorum()),
        };
        print_certified(stmt, stmt_bytes, &certified, epoch, members, quorum);
        Ok(())
    }
}

fn print_certified(
    stmt: &SignedStatement,
    stmt_bytes: &[u8],
    certified: &proverka_log::CertifiedReceipt,
    epoch: u64,
    members: usize,
    quorum: usize,
) {
    let v = &certified.receipt;
    println!(
        "OK: statement {} from {:?} (subject {:?})",
        hex::encode(statement_id(stmt_bytes)),
        stmt.issuer(),
        stmt.subject()
    );
    println!(
        "    is leaf {} of the tree of size {} with root {}",
        v.leaf_index,
        v.tree_size,
        hex::encode(v.root)
    );
    println!(
        "    certified by {} of {} validators (quorum {}){}",
        certified.checkpoint.cosignatures.len(),
        members,
        quorum,
        if epoch == 0 {
            String::new()
        } else {
            format!(", the committee of epoch {epoch}")
        }
    );
}

async fn verify_consistency(
    old: &Path,
    new: &Path,
    genesis: &Path,
    chain: ChainSource<'_>,
    proof: Option<&Path>,
    url: Option<&str>,
) -> Result<(), Failure> {
    let genesis = Genesis::from_bytes(&read(genesis)?).map_err(Failure::input)?;
    let (file, source) = chain.bytes().await?;
    // Any validator's checkpoint key may have signed a checkpoint: the genesis validators',
    // and with a chain those of every committee it hands over to.
    let vkeys: Vec<String> = match committee_chain(&genesis, &file, &source)? {
        None => genesis
            .validator_entries()
            .into_iter()
            .map(|e| e.checkpoint_vkey)
            .collect(),
        Some(chain) => {
            let mut vkeys: Vec<String> = Vec::new();
            for m in chain.committees().iter().flat_map(|c| &c.members) {
                if !vkeys.contains(&m.checkpoint_vkey) {
                    vkeys.push(m.checkpoint_vkey.clone());
                }
            }
            vkeys
        }
    };
    let check = |path: &Path| -> Result<proverka_log::VerifiedCheckpoint, Failure> {
        let note = read(path)?;
        let mut last = String::new();
        for vkey in &vkeys {
            match proverka_log::verify_checkpoint(&note, &genesis.origin, vkey) {
                Ok(v) => return Ok(v),
                Err(e) => last = e.to_string(),
            }
        }
        Err(Failure::verify(format!("{}: {last}", path.display())))
    };
    let (a, b) = (check(old)?, check(new)?);
    if a.size > b.size {
        return Err(Failure::input("--old is larger than --new; swap them"));
    }
    let proof_json = match (proof, url) {
        (Some(p), _) => read(p)?,
        (None, Some(u)) => {
            Client::new(u)?
                .get_bytes(
                    &format!("/proofs/consistency?old={}&new={}", a.size, b.size),
                    "application/json",
                )
                .await?
        }
        (None, None) if a.size == b.size || a.size == 0 => b"{\"path\":[]}".to_vec(),
        (None, None) => return Err(Failure::input("give --proof FILE or --url URL")),
    };
    let value: serde_json::Value = serde_json::from_slice(&proof_json).map_err(Failure::input)?;
    let path = value["path"]
        .as_array()
        .ok_or_else(|| Failure::input("proof has no \"path\" array"))?
        .iter()
        .map(|h| parse_hash(h.as_str().unwrap_or("")))
        .collect::<Result<Vec<_>, _>>()?;
    if a.size > 0 {
        proverka_log::verify_consistency(a.size, b.size, &a.root, &b.root, &path)
            .map_err(Failure::verify)?;
    }
    println!(
        "OK: checkpoint of size {} is a prefix of checkpoint of size {} (origin {})",
        a.size, b.size, genesis.origin
    );
    Ok(())
}

async fn state_proof(
    url: &str,
    device: Option<&str>,
    keys: &[String],
    out: &Path,
) -> Result<(), Failure> {
    let path = match device {
        Some(id) => format!("/devices/{id}/proof"),
        None if keys.is_empty() => return Err(Failure::input("give --device ID or --key HEX")),
        None => format!(
            "/state/proof?{}",
            keys.iter()
                .map(|k| format!("key={k}"))
                .collect::<Vec<_>>()
                .join("&")
        ),
    };
    let bundle = Client::new(url)?
        .get_bytes(&path, "application/cbor")
        .await?;
    std::fs::write(out, &bundle).map_err(|e| Failure::input(format!("{}: {e}", out.display())))?;
    println!("wrote {} ({} bytes)", out.display(), bundle.len());
    Ok(())
}

fn verify_state(
    proof: &Path,
    genesis_path: &Path,
    chain: Option<&Path>,
    device: Option<&str>,
) -> Result<(), Failure> {
    use proverka_node::state_proof::{self, ProvedView, StateProofBundle};
    let genesis_bytes = read(genesis_path)?;
    let genesis = Genesis::from_bytes(&genesis_bytes).map_err(Failure::input)?;
    // Each committee's epoch and consensus keys: the genesis alone without a chain.
    let committees: Vec<(u64, Vec<String>)> = match chain_file(&genesis, chain)? {
        None => vec![(0, genesis.validators.clone())],
        Some(chain) => chain.consensus_keys(),
    };
    let bundle = StateProofBundle::decode(&read(proof)?).map_err(Failure::input)?;
    let verified = state_proof::verify_in_chain(&Genesis::id(&genesis_bytes), &committees, &bundle)
        .map_err(Failure::verify)?;
    // Which committees the certificate was checked against.
    let by = match committees.last() {
        Some((epoch, _)) if committees.len() > 1 => format!(
            "committees of a chain of {} hand-over(s) to epoch {epoch}",
            committees.len() - 1
        ),
        _ => format!("{} validator(s)", genesis.validators.len()),
    };
    println!(
        "OK: state root {} after block {} is certified by finalized block {} (ledger time {} ms, {by})",
        hex::encode(verified.root),
        verified.height,
        verified.certified_by.height,
        verified.certified_by.timestamp_ms,
    );
    for (key, value) in &verified.entries {
        match value {
            Some(v) => println!("  present {} ({} bytes)", printable_key(key), v.len()),
            None => println!("  absent  {}", printable_key(key)),
        }
    }
    if let Some(id) = device {
        let device_id = hex::decode(id).map_err(|_| Failure::input("--device is hex"))?;
        let (record, appraisal) = proverka_ledger::query::device_status(
            &ProvedView::new(&verified),
            &device_id,
            verified.certified_by.timestamp_ms,
        )
        .map_err(Failure::verify)?
        .ok_or_else(|| Failure::verify(format!("the proof does not contain device {id}")))?;
        println!(
            "device {id}: owner {}, status {} (recomputed offline from proved records)",
            record.owner,
            appraisal.status.as_str()
        );
        for reason in &appraisal.reasons {
            println!("  reason: {reason}");
        }
    }
    Ok(())
}

/// A ledger key for display: its text prefix (up to the first '/') and the rest in hex.
fn printable_key(key: &[u8]) -> String {
    match key.iter().position(|b| *b == b'/') {
        Some(i) => format!(
            "{}{}",
            String::from_utf8_lossy(&key[..=i]),
            hex::encode(&key[i + 1..])
        ),
        None => hex::encode(key),
    }
}

fn parse_hash(s: &str) -> Result<[u8; 32], Failure> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out)
        .map_err(|_| Failure::input(format!("not a 32-byte hex hash: {s:?}")))?;
    Ok(out)
}

/// A validator's public keys as `proverka init` writes them.
fn read_node_public(path: &Path) -> Result<NodePublic, Failure> {
    serde_json::from_slice(&read(path)?)
        .map_err(|e| Failure::input(format!("{}: {e}", path.display())))
}

/// Builds a validator-set change payload for the validator `public` describes.
fn with_new_validator(
    public: &NodePublic,
    payload: impl FnOnce(&proverka_ledger::make::NewValidator) -> Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    let bad = |what: &str| Failure::input(format!("node public keys: {what}"));
    let consensus = parse_hash(&public.validator)?;
    let receipt = hex::decode(&public.receipt_key)
        .ok()
        .and_then(|b| PublicKey::from_cose_key(&b).ok())
        .ok_or_else(|| bad("receipt_key is not a hex COSE_Key"))?;
    let cosigner = public
        .cosigner_vkey
        .as_deref()
        .ok_or_else(|| bad("no cosigner_vkey (made by an older `proverka init`)"))?;
    Ok(payload(&proverka_ledger::make::NewValidator {
        consensus,
        receipt_key: &receipt,
        checkpoint_vkey: &public.checkpoint_vkey,
        cosigner_vkey: cosigner,
    }))
}

fn read_private(path: &Path) -> Result<PrivateKey, Failure> {
    let pem = String::from_utf8(read(path)?)
        .map_err(|_| Failure::input(format!("{}: not PEM text", path.display())))?;
    PrivateKey::from_pkcs8_pem(&pem).map_err(|e| Failure::input(format!("{}: {e}", path.display())))
}

/// A public key from a SPKI PEM, or the public half of a PKCS#8 PEM.
fn read_public(path: &Path) -> Result<PublicKey, Failure> {
    let pem = String::from_utf8(read(path)?)
        .map_err(|_| Failure::input(format!("{}: not PEM text", path.display())))?;
    if pem.contains("PRIVATE KEY") {
        return Ok(read_private(path)?.public_key());
    }
    PublicKey::from_spki_pem(&pem).map_err(|e| Failure::input(format!("{}: {e}", path.display())))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    fs::read(path).map_err(|e| Failure::input(format!("{}: {e}", path.display())))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    fs::write(path, bytes).map_err(|e| Failure::input(format!("{}: {e}", path.display())))
}
