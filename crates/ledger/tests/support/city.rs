//! The block harness the specification tests share: parties that sign statements, the genesis
//! of a small test city, and blocks applied to [`MemState`] with their writes committed. What a
//! test file's city holds and does beyond that stays in the file.

use std::sync::Arc;

use proverka_ledger::records::Role;
use proverka_ledger::{
    BlockContext, Decision, Genesis, GenesisIssuer, Rejection, Rules, GENESIS_FORMAT,
};
use proverka_statement::{
    sign_statement, statement_id, ContentType, KeyType, PrivateKey, StatementParams,
};

use super::{MemState, NoCache};

/// The genesis time of every test city (ms).
pub const T0: u64 = 1_780_000_000_000;

/// A party that signs statements: an organisation key or a device key.
#[derive(Clone)]
pub struct Party {
    pub iss: String,
    pub key: Arc<PrivateKey>,
}

impl Party {
    /// `iss` with a new key of type `kt`.
    pub fn new(iss: &str, kt: KeyType) -> Self {
        Self::with_key(iss, PrivateKey::generate(kt).unwrap())
    }

    pub fn with_key(iss: &str, key: PrivateKey) -> Self {
        Party {
            iss: iss.into(),
            key: Arc::new(key),
        }
    }

    /// A statement of `kind` issued at `iat_ms` (see [`sign`]).
    pub fn sign_at(&self, kind: &str, payload: &[u8], iat_ms: u64) -> Vec<u8> {
        sign(&self.key, &self.iss, kind, payload, iat_ms)
    }

    /// This party as a founding issuer with `role`.
    pub fn issuer(&self, role: Role) -> GenesisIssuer {
        GenesisIssuer::new(&self.iss, &self.key.public_key(), false).with_roles(&[role])
    }
}

/// `iss` with a new Ed25519 key.
pub fn party(iss: &str) -> Party {
    Party::new(iss, KeyType::Ed25519)
}

/// A statement of `kind` (its content type) about subject `proverka-test`, issued at `iat_ms`
/// (the header keeps whole seconds).
pub fn sign(key: &PrivateKey, iss: &str, kind: &str, payload: &[u8], iat_ms: u64) -> Vec<u8> {
    sign_statement(
        key,
        &StatementParams {
            iss,
            sub: "proverka-test",
            iat: (iat_ms / 1000) as i64,
            content_type: ContentType::Text(kind.into()),
            payload,
        },
    )
}

/// The genesis of a test city created at [`T0`]: one validator (`[1; 32]`), `issuers` as its
/// founding organisations, and `receipts`' key as the receipt key.
pub fn city_genesis(issuers: Vec<GenesisIssuer>, receipts: &Party) -> Genesis {
    Genesis {
        format: GENESIS_FORMAT.into(),
        origin: "city.example/log".into(),
        created_ms: T0,
        validators: vec![hex::encode([1u8; 32])],
        receipt_key: hex::encode(receipts.key.public_key().to_cose_key()),
        checkpoint_vkey: "city.example/log+00000000+AQ".into(),
        issuers,
        governance_threshold: None,
        validator_keys: Vec::new(),
    }
}

impl MemState {
    /// Applies one block with `rules` and commits it: its state writes, and the entry ids of
    /// the statements it registered.
    pub fn apply_block(
        &mut self,
        rules: &Rules,
        ctx: BlockContext,
        statements: &[Vec<u8>],
    ) -> Vec<Decision> {
        let d = rules.apply_block(self, ctx, statements, &NoCache).unwrap();
        for (k, v) in d.state_writes() {
            match v {
                Some(v) => self.kv.insert(k, v),
                None => self.kv.remove(&k),
            };
        }
        for i in d.registered() {
            self.entries.insert(statement_id(&statements[i]));
        }
        d.decisions
    }
}

/// `Ok` if the statement registered, its refusal otherwise (a duplicate fails the test).
pub fn verdict(d: Decision) -> Result<(), Rejection> {
    match d {
        Decision::Register { .. } => Ok(()),
        Decision::Reject { reason, .. } => Err(reason),
        other => panic!("unexpected {other:?}"),
    }
}
