//! The node's data directory: its layout, its keys, and the dev-mode bootstrap.
//!
//! Layout (specified in `docs/storage.md`):
//! ```text
//! DIR/genesis.json          the exact genesis bytes this ledger was started from
//! DIR/keys/consensus.key    validator signing key (hex ed25519 seed), mode 0600
//! DIR/keys/receipt.key.pem  receipt signing key (PKCS#8 P-256), mode 0600
//! DIR/keys/checkpoint.key   checkpoint note signing key (C2SP private key string), mode 0600
//! DIR/keys/public.json      the public halves, for writing a genesis
//! DIR/ledger.redb           the log and ledger state (proverka-store)
//! DIR/consensus/            consensus journals and block archives (proverka-consensus)
//! DIR/state/                the authenticated state (QMDB journals, proverka-state)
//! DIR/dev-admin.key.pem     --dev only: the administrator issuer's private key
//! DIR/dev-admin.json        --dev only: {"iss": ..., "kid": hex}
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use proverka_consensus::ValidatorKey;
use proverka_ledger::records::Role;
use proverka_ledger::{Genesis, GenesisIssuer, ValidatorKeys, GENESIS_FORMAT};
use proverka_log::NoteKey;
use proverka_statement::{KeyType, PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};

/// The `iss` of the administrator issuer created by `--dev`.
pub const DEV_ADMIN_ISS: &str = "dev-admin";
/// Key names of validators' cosigner keys: this prefix and 16 hex of the consensus key.
pub const COSIGNER_NAME_PREFIX: &str = "proverka-validator-";

/// Why the data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{0}")]
    Genesis(#[from] proverka_ledger::GenesisError),
    #[error(
        "{dir} holds a ledger started from a different genesis (chain id {existing}, given {given})"
    )]
    GenesisMismatch {
        dir: PathBuf,
        existing: String,
        given: String,
    },
    #[error("{0} has no genesis.json: start it with --genesis FILE (or --dev for a throwaway dev ledger)")]
    NoGenesis(PathBuf),
    #[error("{0} has no node keys: run `proverka init --data-dir {0}` first")]
    NoKeys(PathBuf),
}

/// The node's own secret keys.
pub struct NodeKeys {
    pub consensus: ValidatorKey,
    pub receipt: PrivateKey,
    pub checkpoint: NoteKey,
    /// Its C2SP tlog-cosignature/v1 key (`keys/cosigner.key`), with which it cosigns the
    /// checkpoints it agrees with. Absent in data directories made before cosigning existed.
    pub cosigner: Option<NoteKey>,
}

/// The public halves of [`NodeKeys`], as written to `keys/public.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodePublic {
    pub validator: String,
    pub receipt_key: String,
    pub checkpoint_vkey: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosigner_vkey: Option<String>,
}

/// The administrator identity written by `--dev`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevAdmin {
    pub iss: String,
    pub kid: String,
}

/// A data directory path with typed accessors.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: &Path) -> Self {
        DataDir {
            root: root.to_path_buf(),
        }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn genesis(&self) -> PathBuf {
        self.root.join("genesis.json")
    }
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }
    pub fn consensus(&self) -> PathBuf {
        self.root.join("consensus")
    }
    /// Committee hand-over notes, one file per epoch (`docs/network.md`).
    pub fn handovers(&self) -> PathBuf {
        self.root.join("handovers")
    }
    pub fn state(&self) -> PathBuf {
        self.root.join("state")
    }
    pub fn dev_admin_key(&self) -> PathBuf {
        self.root.join("dev-admin.key.pem")
    }
    pub fn dev_admin_json(&self) -> PathBuf {
        self.root.join("dev-admin.json")
    }

    /// Creates the node keys (refusing to overwrite) and returns their public halves.
    pub fn init_keys(&self, origin: &str) -> Result<NodePublic, DataDirError> {
        let dir = self.keys();
        if dir.join("consensus.key").exists() {
            return Err(invalid(
                &dir,
                "node keys already exist; refusing to overwrite",
            ));
        }
        create_dir(&dir)?;
        let keys = NodeKeys {
            consensus: ValidatorKey::generate(),
            receipt: PrivateKey::generate(KeyType::P256)
                .map_err(|e| invalid(&dir, &e.to_string()))?,
            checkpoint: NoteKey::generate(origin).map_err(|e| invalid(&dir, &e.to_string()))?,
            cosigner: None,
        };
        // Cosigner key names must differ between validators: derive it from the consensus key.
        let name = format!(
            "{COSIGNER_NAME_PREFIX}{}",
            &keys.consensus.public_key_hex()[..16]
        );
        let keys = NodeKeys {
            cosigner: Some(NoteKey::generate(&name).map_err(|e| invalid(&dir, &e.to_string()))?),
            ..keys
        };
        write_secret(
            &dir.join("consensus.key"),
            keys.consensus.to_seed_hex().as_bytes(),
        )?;
        write_secret(
            &dir.join("receipt.key.pem"),
            keys.receipt.to_pkcs8_pem().as_bytes(),
        )?;
        write_secret(
            &dir.join("checkpoint.key"),
            keys.checkpoint.to_private_key_string().as_bytes(),
        )?;
        if let Some(cosigner) = &keys.cosigner {
            write_secret(
                &dir.join("cosigner.key"),
                cosigner.to_private_key_string().as_bytes(),
            )?;
        }
        let public = public_of(&keys);
        let json = serde_json::to_vec_pretty(&public).unwrap_or_default();
        write_file(&dir.join("public.json"), &json)?;
        Ok(public)
    }

    /// Loads the node keys.
    pub fn load_keys(&self) -> Result<NodeKeys, DataDirError> {
        let dir = self.keys();
        if !dir.join("consensus.key").exists() {
            return Err(DataDirError::NoKeys(self.root.clone()));
        }
        let consensus_path = dir.join("consensus.key");
        let consensus = ValidatorKey::from_seed_hex(read_string(&consensus_path)?.trim())
            .map_err(|e| invalid(&consensus_path, &e.to_string()))?;
        let receipt_path = dir.join("receipt.key.pem");
        let receipt = PrivateKey::from_pkcs8_pem(&read_string(&receipt_path)?)
            .map_err(|e| invalid(&receipt_path, &e.to_string()))?;
        let checkpoint_path = dir.join("checkpoint.key");
        let checkpoint = NoteKey::from_private_key_string(read_string(&checkpoint_path)?.trim())
            .map_err(|e| invalid(&checkpoint_path, &e.to_string()))?;
        let cosigner_path = dir.join("cosigner.key");
        let cosigner = if cosigner_path.exists() {
            Some(
                NoteKey::from_private_key_string(read_string(&cosigner_path)?.trim())
                    .map_err(|e| invalid(&cosigner_path, &e.to_string()))?,
            )
        } else {
            None
        };
        Ok(NodeKeys {
            consensus,
            receipt,
            checkpoint,
            cosigner,
        })
    }

    /// Resolves the genesis: `given` is copied in on first start and must match on later
    /// starts; without it the stored copy is used.
    pub fn genesis_bytes(&self, given: Option<&Path>) -> Result<Vec<u8>, DataDirError> {
        let stored = self.genesis();
        match given {
            None if stored.exists() => read(&stored),
            None => Err(DataDirError::NoGenesis(self.root.clone())),
            Some(path) => {
                let bytes = read(path)?;
                Genesis::from_bytes(&bytes)?;
                if stored.exists() {
                    let existing = read(&stored)?;
                    if existing != bytes {
                        return Err(DataDirError::GenesisMismatch {
                            dir: self.root.clone(),
                            existing: hex::encode(Genesis::id(&existing)),
                            given: hex::encode(Genesis::id(&bytes)),
                        });
                    }
                } else {
                    write_file(&stored, &bytes)?;
                }
                Ok(bytes)
            }
        }
    }

    /// `--dev`: on first start create node keys, an administrator issuer and a one-validator
    /// genesis; later starts reuse them. Returns the genesis bytes.
    pub fn dev_bootstrap(&self) -> Result<Vec<u8>, DataDirError> {
        if self.genesis().exists() {
            return read(&self.genesis());
        }
        create_dir(&self.root)?;
        // A bootstrap interrupted before genesis.json was written may have left keys: reuse them.
        let (public, origin) = if self.keys().join("consensus.key").exists() {
            let keys = self.load_keys()?;
            (public_of(&keys), keys.checkpoint.name().to_owned())
        } else {
            let suffix = &ValidatorKey::generate().public_key_hex()[..8];
            let origin = format!("proverka.local/dev-{suffix}");
            (self.init_keys(&origin)?, origin)
        };
        let admin = self.dev_admin()?;
        let info = DevAdmin {
            iss: DEV_ADMIN_ISS.to_owned(),
            kid: hex::encode(admin.public_key().thumbprint()),
        };
        let info_json = serde_json::to_vec_pretty(&info).unwrap_or_default();
        write_file(&self.dev_admin_json(), &info_json)?;
        let genesis = Genesis {
            format: GENESIS_FORMAT.to_owned(),
            origin,
            created_ms: now_ms(),
            validators: vec![public.validator.clone()],
            receipt_key: public.receipt_key.clone(),
            checkpoint_vkey: public.checkpoint_vkey.clone(),
            validator_keys: validator_keys_of(&[public])
                .map_err(|reason| invalid(&self.keys(), &reason))?,
            // The dev administrator holds every role, so a new user can try every statement.
            issuers: vec![
                GenesisIssuer::new(DEV_ADMIN_ISS, &admin.public_key(), true).with_roles(&Role::ALL)
            ],
            governance_threshold: None,
        };
        let bytes = genesis.to_bytes();
        write_file(&self.genesis(), &bytes)?;
        Ok(bytes)
    }

    fn dev_admin(&self) -> Result<PrivateKey, DataDirError> {
        let path = self.dev_admin_key();
        if path.exists() {
            return PrivateKey::from_pkcs8_pem(&read_string(&path)?)
                .map_err(|e| invalid(&path, &e.to_string()));
        }
        let admin =
            PrivateKey::generate(KeyType::P256).map_err(|e| invalid(&path, &e.to_string()))?;
        write_secret(&path, admin.to_pkcs8_pem().as_bytes())?;
        Ok(admin)
    }
}

/// The public halves of a node's keys.
pub fn public_of(keys: &NodeKeys) -> NodePublic {
    NodePublic {
        validator: keys.consensus.public_key_hex(),
        receipt_key: hex::encode(keys.receipt.public_key().to_cose_key()),
        checkpoint_vkey: keys.checkpoint.verifier_key(),
        cosigner_vkey: keys.cosigner.as_ref().map(NoteKey::cosigner_verifier_key),
    }
}

/// The genesis `validator_keys` for these validators, in this order: empty when none has a
/// cosigner key and there is only one (a genesis from before cosigning); an error when a
/// committee member lacks one.
pub fn validator_keys_of(validators: &[NodePublic]) -> Result<Vec<ValidatorKeys>, String> {
    if validators.len() == 1 && validators[0].cosigner_vkey.is_none() {
        return Ok(Vec::new());
    }
    validators
        .iter()
        .map(|v| {
            Ok(ValidatorKeys {
                validator: v.validator.clone(),
                receipt_key: v.receipt_key.clone(),
                checkpoint_vkey: v.checkpoint_vkey.clone(),
                cosigner_vkey: v.cosigner_vkey.clone().ok_or_else(|| {
                    format!(
                        "validator {} has no cosigner key (made by an older `proverka init`)",
                        v.validator
                    )
                })?,
            })
        })
        .collect()
}

/// Checks that the node keys are the ones genesis names (a node must not sign for another log).
///
/// A node whose consensus key genesis does not name is a *joining* validator: governance may
/// have added it (`org propose --add-validator`), or will. It follows the chain as an observer
/// until a committee includes it, so only its checkpoint key's origin is checked.
pub fn check_keys_match(keys: &NodeKeys, genesis: &Genesis) -> Result<(), String> {
    let public = public_of(keys);
    let Some(entry) = genesis
        .validator_entries()
        .into_iter()
        .find(|e| e.validator == public.validator)
    else {
        if keys.checkpoint.name() != genesis.origin {
            return Err("the checkpoint key's name differs from the genesis origin".into());
        }
        tracing::info!(
            validator = %public.validator,
            "this node's validator key is not in genesis: joining as an observer"
        );
        return Ok(());
    };
    let receipt = hex::decode(&entry.receipt_key)
        .ok()
        .and_then(|b| PublicKey::from_cose_key(&b).ok());
    if receipt != Some(keys.receipt.public_key()) {
        return Err("genesis receipt_key is not this node's receipt key".into());
    }
    if entry.checkpoint_vkey != public.checkpoint_vkey {
        return Err("genesis checkpoint_vkey is not this node's checkpoint key".into());
    }
    if !entry.cosigner_vkey.is_empty()
        && public.cosigner_vkey.as_deref() != Some(entry.cosigner_vkey.as_str())
    {
        return Err("genesis cosigner_vkey is not this node's cosigner key".into());
    }
    if keys.checkpoint.name() != genesis.origin {
        return Err("the checkpoint key's name differs from the genesis origin".into());
    }
    Ok(())
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn invalid(path: &Path, reason: &str) -> DataDirError {
    DataDirError::Invalid {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn create_dir(path: &Path) -> Result<(), DataDirError> {
    fs::create_dir_all(path).map_err(io(path))
}

fn read(path: &Path) -> Result<Vec<u8>, DataDirError> {
    fs::read(path).map_err(io(path))
}

fn read_string(path: &Path) -> Result<String, DataDirError> {
    fs::read_to_string(path).map_err(io(path))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    fs::write(path, bytes).map_err(io(path))
}

/// Writes a secret readable only by its owner, and syncs it: a key must never be half-written.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}
