//! The genesis file: the chain's identity and its constant base state.

use proverka_statement::PublicKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::issuers::IssuerRecord;
use crate::records::Role;

/// The only genesis format this build accepts.
pub const GENESIS_FORMAT: &str = "proverka-genesis/v1";
/// Upper bound on a genesis file, checked before parsing.
pub const MAX_GENESIS_BYTES: usize = 1 << 20;
/// Upper bound on genesis issuers and validators.
pub const MAX_GENESIS_ENTRIES: usize = 1_000;

/// A ledger's genesis: who validates, which keys sign its receipts and checkpoints, and which
/// issuers are trusted from the start. Specified in `docs/genesis.md`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Always [`GENESIS_FORMAT`].
    pub format: String,
    /// The log's origin: first line of every checkpoint and `iss` of every receipt.
    pub origin: String,
    /// Genesis time, milliseconds since the Unix epoch; block timestamps start here.
    pub created_ms: u64,
    /// Consensus public keys of the validators (hex, ed25519), in committee order.
    pub validators: Vec<String>,
    /// The receipt signing key as a hex COSE_Key (ES256, P-256).
    pub receipt_key: String,
    /// The checkpoint note verifier key (C2SP signed-note vkey string).
    pub checkpoint_vkey: String,
    /// Issuers trusted from genesis.
    pub issuers: Vec<GenesisIssuer>,
    /// The constitution: approvals (or rejections) by governance members that decide a join
    /// proposal. Absent: a majority of the genesis governance members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance_threshold: Option<u32>,
    /// Every validator's signing keys, in committee order. Required for a committee of more
    /// than one; absent, the single validator's keys are `receipt_key` and `checkpoint_vkey`
    /// and it has no cosigner key. Entry 0 repeats `receipt_key` and `checkpoint_vkey`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validator_keys: Vec<ValidatorKeys>,
}

/// One validator's public keys: what a verifier holding only the genesis needs to check its
/// receipts, its checkpoints and its cosignatures (`docs/genesis.md`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ValidatorKeys {
    /// Its consensus key (hex, ed25519), equal to the `validators` entry at the same index.
    pub validator: String,
    /// Its receipt signing key (hex COSE_Key).
    pub receipt_key: String,
    /// Its checkpoint note verifier key; the key name is the origin.
    pub checkpoint_vkey: String,
    /// Its C2SP tlog-cosignature/v1 verifier key; key names differ between validators.
    pub cosigner_vkey: String,
}

/// An issuer trusted from genesis.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GenesisIssuer {
    /// The `iss` claim its statements carry.
    pub iss: String,
    /// Its public key as a hex COSE_Key.
    pub key: String,
    /// Whether it may register other issuers.
    pub admin: bool,
    /// Roles of its organisation (`iss`): manufacturer, operator, security-authority, auditor,
    /// governance. The founding governance members are the genesis issuers with `governance`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// Why a genesis file was refused.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("genesis file is larger than {MAX_GENESIS_BYTES} bytes")]
    TooLarge,
    #[error("genesis file is not valid JSON for {GENESIS_FORMAT}: {0}")]
    Json(#[from] serde_json::Error),
    #[error("genesis format is {0:?}, expected {GENESIS_FORMAT:?}")]
    Format(String),
    #[error("genesis origin must be a non-empty single line without '+' or spaces")]
    Origin,
    #[error("genesis lists no validators or too many")]
    Validators,
    #[error("genesis field {field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("genesis issuer {iss:?} appears twice (same key)")]
    DuplicateIssuer { iss: String },
}

impl Genesis {
    /// Parses and validates a genesis file from its exact bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GenesisError> {
        if bytes.len() > MAX_GENESIS_BYTES {
            return Err(GenesisError::TooLarge);
        }
        let genesis: Genesis = serde_json::from_slice(bytes)?;
        genesis.validate()?;
        Ok(genesis)
    }

    /// Encodes the genesis as pretty JSON (what `proverka genesis` writes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The chain id: SHA-256 of the exact genesis file bytes. Nodes refuse to resume a data
    /// directory created from a different genesis.
    pub fn id(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    fn validate(&self) -> Result<(), GenesisError> {
        if self.format != GENESIS_FORMAT {
            return Err(GenesisError::Format(self.format.clone()));
        }
        let origin_ok = !self.origin.is_empty()
            && self.origin.len() <= 255
            && !self
                .origin
                .chars()
                .any(|c| c.is_whitespace() || c == '+' || c.is_control());
        if !origin_ok {
            return Err(GenesisError::Origin);
        }
        if self.validators.is_empty() || self.validators.len() > MAX_GENESIS_ENTRIES {
            return Err(GenesisError::Validators);
        }
        for v in &self.validators {
            let ok = hex::decode(v).map(|b| b.len() == 32).unwrap_or(false);
            if !ok {
                return Err(field("validators", "each must be 32 bytes of hex"));
            }
        }
        self.receipt_public_key()?;
        if self.issuers.len() > MAX_GENESIS_ENTRIES {
            return Err(field("issuers", "too many"));
        }
        self.governance_threshold()?;
        self.validate_validator_keys()?;
        let mut seen = std::collections::BTreeSet::new();
        for issuer in &self.issuers {
            let record = issuer.record()?;
            if record.key.is_weak() {
                return Err(field("issuers.key", "small-order Ed25519 key"));
            }
            if !seen.insert(record.key.thumbprint()) {
                return Err(GenesisError::DuplicateIssuer {
                    iss: issuer.iss.clone(),
                });
            }
        }
        Ok(())
    }

    fn validate_validator_keys(&self) -> Result<(), GenesisError> {
        let keys = &self.validator_keys;
        if keys.is_empty() {
            return if self.validators.len() == 1 {
                Ok(())
            } else {
                Err(field(
                    "validator_keys",
                    "required for a committee of more than one validator",
                ))
            };
        }
        if keys.len() != self.validators.len() {
            return Err(field("validator_keys", "one entry per validator, in order"));
        }
        let first = &keys[0];
        if first.receipt_key != self.receipt_key || first.checkpoint_vkey != self.checkpoint_vkey {
            return Err(field(
                "validator_keys",
                "entry 0 must repeat receipt_key and checkpoint_vkey",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (entry, validator) in keys.iter().zip(&self.validators) {
            if entry.validator != *validator {
                return Err(field(
                    "validator_keys.validator",
                    "must follow `validators`",
                ));
            }
            check_validator_keys(entry, &self.origin)?;
            if !names.insert(vkey_name(&entry.cosigner_vkey)) {
                return Err(field(
                    "validator_keys.cosigner_vkey",
                    "each needs a distinct key name",
                ));
            }
        }
        Ok(())
    }

    /// Every validator's keys in committee order (the single validator's from the top-level
    /// fields when `validator_keys` is absent; its `cosigner_vkey` is then empty).
    pub fn validator_entries(&self) -> Vec<ValidatorKeys> {
        if !self.validator_keys.is_empty() {
            return self.validator_keys.clone();
        }
        self.validators
            .iter()
            .map(|v| ValidatorKeys {
                validator: v.clone(),
                receipt_key: self.receipt_key.clone(),
                checkpoint_vkey: self.checkpoint_vkey.clone(),
                cosigner_vkey: String::new(),
            })
            .collect()
    }

    /// The receipt keys of every validator: a receipt signed by any of them is well formed; its
    /// quorum checkpoint is what certifies it.
    pub fn receipt_public_keys(&self) -> Result<Vec<PublicKey>, GenesisError> {
        self.validator_entries()
            .iter()
            .map(|e| decode_cose_key("validator_keys.receipt_key", &e.receipt_key))
            .collect()
    }

    /// Cosignatures a checkpoint needs to be certified by the committee: all but the `f`
    /// faults tolerated, `f = (n - 1) / 3` (commonware's quorum for simplex).
    pub fn quorum(&self) -> usize {
        let n = self.validators.len();
        n - (n.saturating_sub(1)) / 3
    }

    /// The receipt signing key's public half.
    pub fn receipt_public_key(&self) -> Result<PublicKey, GenesisError> {
        decode_cose_key("receipt_key", &self.receipt_key)
    }

    /// Governance members named by genesis (distinct `iss` with the governance role).
    pub fn governance_members(&self) -> Result<Vec<String>, GenesisError> {
        let mut members = Vec::new();
        for issuer in &self.issuers {
            if issuer.roles()?.contains(&Role::Governance) && !members.contains(&issuer.iss) {
                members.push(issuer.iss.clone());
            }
        }
        Ok(members)
    }

    /// The join threshold: the constitution's, else a majority of the founding members.
    pub fn governance_threshold(&self) -> Result<usize, GenesisError> {
        let members = self.governance_members()?.len();
        match self.governance_threshold {
            None => Ok(members / 2 + 1),
            Some(t) if t >= 1 && (t as usize) <= members.max(1) => Ok(t as usize),
            Some(_) => Err(field(
                "governance_threshold",
                "must be between 1 and the number of governance members",
            )),
        }
    }

    /// The genesis issuers as records, in file order.
    pub fn issuer_records(&self) -> Result<Vec<IssuerRecord>, GenesisError> {
        self.issuers.iter().map(GenesisIssuer::record).collect()
    }
}

impl GenesisIssuer {
    /// Builds a genesis issuer entry from a key.
    pub fn new(iss: &str, key: &PublicKey, admin: bool) -> Self {
        GenesisIssuer {
            iss: iss.to_owned(),
            key: hex::encode(key.to_cose_key()),
            admin,
            roles: Vec::new(),
        }
    }

    /// The same entry with these roles.
    pub fn with_roles(mut self, roles: &[Role]) -> Self {
        self.roles = roles.iter().map(|r| r.name().to_owned()).collect();
        self
    }

    /// Its roles, parsed.
    pub fn roles(&self) -> Result<Vec<Role>, GenesisError> {
        self.roles
            .iter()
            .map(|n| {
                Role::from_name(n)
                    .ok_or_else(|| field("issuers.roles", &format!("unknown role {n:?}")))
            })
            .collect()
    }

    fn record(&self) -> Result<IssuerRecord, GenesisError> {
        if self.iss.is_empty() || self.iss.len() > crate::issuers::MAX_ISS_BYTES {
            return Err(field("issuers.iss", "must be 1..=1024 bytes"));
        }
        Ok(IssuerRecord {
            iss: self.iss.clone(),
            key: decode_cose_key("issuers.key", &self.key)?,
            admin: self.admin,
        })
    }
}

/// One validator's keys are well formed: a 32-byte consensus key in hex, a receipt key that
/// decodes, a checkpoint key named by `origin`, a named cosigner key. (Genesis, and every
/// validator-set change by governance, `validators.rs`.)
pub(crate) fn check_validator_keys(keys: &ValidatorKeys, origin: &str) -> Result<(), GenesisError> {
    if !hex::decode(&keys.validator).is_ok_and(|b| b.len() == 32) {
        return Err(field("validator_keys.validator", "must be 32 bytes of hex"));
    }
    decode_cose_key("validator_keys.receipt_key", &keys.receipt_key)?;
    if vkey_name(&keys.checkpoint_vkey) != Some(origin) {
        return Err(field(
            "validator_keys.checkpoint_vkey",
            "its key name must be the origin",
        ));
    }
    if vkey_name(&keys.cosigner_vkey).is_none() {
        return Err(field(
            "validator_keys.cosigner_vkey",
            "must be a note verifier key <name>+<id>+<key>",
        ));
    }
    Ok(())
}

fn decode_cose_key(name: &'static str, hex_key: &str) -> Result<PublicKey, GenesisError> {
    let bytes = hex::decode(hex_key).map_err(|e| field(name, &e.to_string()))?;
    PublicKey::from_cose_key(&bytes).map_err(|e| field(name, &e.to_string()))
}

/// The key name of a C2SP note verifier key `<name>+<hex id>+<base64 key>`.
fn vkey_name(vkey: &str) -> Option<&str> {
    // The base64 key may itself contain '+': split off only the name and the id.
    let mut parts = vkey.splitn(3, '+');
    let name = parts.next().filter(|n| !n.is_empty())?;
    let id = parts.next()?;
    let key = parts.next()?;
    (id.len() == 8 && !key.is_empty()).then_some(name)
}

fn field(field: &'static str, reason: &str) -> GenesisError {
    GenesisError::Field {
        field,
        reason: reason.to_owned(),
    }
}
