//! `proverka gateway`: the MQTT edge gateway (crate `proverka-gateway`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use proverka_command::{DeviceId, TrustStatus};
use proverka_gateway::{Config, Gateway, Recorder};
use proverka_statement::PrivateKey;

use crate::Failure;

/// Least sender status required for any command.
#[derive(Clone, Copy, ValueEnum)]
pub enum Required {
    Affirming,
    Warning,
}

#[derive(Args)]
pub struct GatewayArgs {
    /// The ledger node's URL.
    #[arg(long)]
    ledger: String,
    /// The ledger's genesis file: every passport and proof is verified with it.
    #[arg(long)]
    genesis: PathBuf,
    /// The MQTT broker, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:1883")]
    broker: String,
    /// A device this gateway delivers commands to (hex id), repeatable.
    #[arg(long = "device", required = true)]
    devices: Vec<String>,
    /// A sender to sync from the start (hex id), repeatable; others are learned on first use.
    #[arg(long = "sender")]
    senders: Vec<String>,
    /// Seconds between syncs.
    #[arg(long, default_value_t = proverka_gateway::DEFAULT_SYNC_EVERY.as_secs())]
    sync_secs: u64,
    /// Refuse every command once the snapshot is older than this (seconds, at most 600).
    #[arg(long, default_value_t = proverka_gateway::DEFAULT_MAX_SNAPSHOT_AGE_SECS)]
    max_snapshot_age: u64,
    /// Least sender status for any command (the owners' Cedar policies may demand more).
    #[arg(long, value_enum, default_value = "warning")]
    require: Required,
    /// MQTT topic root.
    #[arg(long, default_value = "proverka/v1")]
    topic_root: String,
    /// MQTT client id.
    #[arg(long, default_value = "proverka-gateway")]
    client_id: String,
    /// Record critical commands on the ledger, signed with this key (PKCS#8 PEM) of the
    /// organisation owning the served devices ...
    #[arg(long, requires = "record_iss")]
    record_key: Option<PathBuf>,
    /// ... registered under this issuer.
    #[arg(long, requires = "record_key")]
    record_iss: Option<String>,
}

fn device_ids(hexes: &[String]) -> Result<BTreeSet<DeviceId>, Failure> {
    hexes
        .iter()
        .map(|h| {
            hex::decode(h)
                .ok()
                .and_then(|raw| DeviceId::new(raw).ok())
                .ok_or_else(|| Failure::input(format!("{h:?} is not a device id in hex")))
        })
        .collect()
}

pub async fn run(args: GatewayArgs) -> Result<(), Failure> {
    let genesis = std::fs::read(&args.genesis)
        .map_err(|e| Failure::input(format!("{}: {e}", args.genesis.display())))?;
    let (host, port) = args
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| Failure::input("--broker must be HOST:PORT"))?;
    let mut config = Config::new(&args.ledger, genesis, device_ids(&args.devices)?);
    config.senders = device_ids(&args.senders)?;
    config.broker_host = host;
    config.broker_port = port;
    config.sync_every = Duration::from_secs(args.sync_secs);
    config.max_snapshot_age_secs = args.max_snapshot_age;
    config.required = match args.require {
        Required::Affirming => TrustStatus::Affirming,
        Required::Warning => TrustStatus::Warning,
    };
    if let (Some(path), Some(iss)) = (&args.record_key, &args.record_iss) {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
        let key = PrivateKey::from_pkcs8_pem(&pem).map_err(Failure::input)?;
        config.recorder = Some(Recorder {
            iss: iss.clone(),
            key: Arc::new(key),
        });
    }
    config.topic_root = args.topic_root;
    config.client_id = args.client_id;
    // The gateway logs every refusal and sync failure (RUST_LOG overrides the level).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("proverka_gateway=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let gateway = Arc::new(Gateway::new(config).map_err(Failure::input)?);
    eprintln!(
        "proverka gateway: serving {} device(s), broker {}, ledger {}",
        args.devices.len(),
        args.broker,
        args.ledger
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    proverka_gateway::mqtt::run(gateway, shutdown)
        .await
        .map_err(Failure::network)
}
