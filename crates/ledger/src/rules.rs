//! The registration rules: which statements a block registers, and what they change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;

use proverka_statement::{statement_id, ContentType, Limits, SignedStatement, StatementError};

use crate::genesis::{Genesis, GenesisError};
use crate::issuers::{state_key, IssuerRecord, ISSUER_REGISTRATION_CONTENT_TYPE};

/// Read access to the ledger state as of the parent block. Untrusted nothing: the store behind
/// it is local; a read error aborts the whole block (never read as "absent").
pub trait StateView {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Whether a statement with this entry id is already in the log.
    fn has_entry(&self, id: &[u8; 32]) -> Result<bool, StateError>;
}

/// Statements whose signature this node already verified. Signature validity is a pure function
/// of the statement bytes (the `kid` fixes the key), so skipping a re-verification cannot change
/// a decision — it only saves CPU.
pub trait SignatureCache {
    /// True if `id`'s signature was verified with the key its `kid` names.
    fn is_verified(&self, id: &[u8; 32]) -> bool;
}

/// A state read failed; the block cannot be decided.
#[derive(Debug, thiserror::Error)]
#[error("ledger state read failed: {0}")]
pub struct StateError(pub String);

/// Why a statement is not registered. Every refusal says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed statement: {0}")]
    Malformed(String),
    #[error("unknown issuer: no registered key has thumbprint (kid) {0}")]
    UnknownIssuer(String),
    #[error(
        "issuer mismatch: key is registered to {registered:?}, statement claims iss {claimed:?}"
    )]
    IssuerMismatch { registered: String, claimed: String },
    #[error("signature rejected: {0}")]
    Signature(String),
    #[error("{0}")]
    AlgorithmKeyMismatch(String),
    #[error("only an admin issuer may register issuers")]
    NotAdmin,
    #[error("invalid issuer registration: {0}")]
    BadRegistration(String),
    #[error("issuer key already registered (kid {0})")]
    IssuerAlreadyRegistered(String),
}

/// State writes of a registered statement (key, value), in order.
pub type Writes = Vec<(Vec<u8>, Vec<u8>)>;
/// A statement's verdict: its state writes, or why it is refused.
pub type Verdict = Result<Writes, Rejection>;

/// The fate of one statement of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Appended to the log; `writes` are its state changes.
    Register {
        id: [u8; 32],
        writes: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// Already in the log (or earlier in this block): no second leaf.
    Duplicate { id: [u8; 32] },
    /// Refused, with the reason.
    Reject { id: [u8; 32], reason: Rejection },
}

/// Everything a block changes, in block order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockDecision {
    /// One decision per statement of the block, in order.
    pub decisions: Vec<Decision>,
}

impl BlockDecision {
    /// Indexes (into the block's statements) of the statements to append, in order.
    pub fn registered(&self) -> impl Iterator<Item = usize> + '_ {
        self.decisions
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d, Decision::Register { .. }))
            .map(|(i, _)| i)
    }

    /// All state writes of the block, in order.
    pub fn state_writes(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.decisions
            .iter()
            .flat_map(|d| match d {
                Decision::Register { writes, .. } => writes.clone(),
                _ => Vec::new(),
            })
            .map(|(k, v)| (k, Some(v)))
            .collect()
    }
}

/// The registration rules of one ledger: genesis issuers plus the rules in `docs/registration.md`.
pub struct Rules {
    genesis_issuers: HashMap<[u8; 32], IssuerRecord>,
    /// Issuer records already read from state and decoded. Sound because an issuer record is
    /// written once and never changed (a second registration of a key is refused), so caching
    /// cannot change a decision; it saves a state read and a key validation per statement.
    known: RwLock<HashMap<[u8; 32], IssuerRecord>>,
    limits: Limits,
}

impl Rules {
    /// Builds the rules from a validated genesis.
    pub fn new(genesis: &Genesis) -> Result<Self, GenesisError> {
        let genesis_issuers = genesis
            .issuer_records()?
            .into_iter()
            .map(|r| (r.key.thumbprint(), r))
            .collect();
        Ok(Rules {
            genesis_issuers,
            known: RwLock::default(),
            limits: Limits::default(),
        })
    }

    /// The statement size and shape limits every node applies.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Looks up the issuer whose key thumbprint is `kid`: genesis first, then registered state,
    /// then registrations earlier in the same block (`overlay`).
    pub fn issuer(
        &self,
        view: &dyn StateView,
        overlay: &BTreeMap<Vec<u8>, Vec<u8>>,
        kid: &[u8; 32],
    ) -> Result<Option<IssuerRecord>, StateError> {
        if let Some(record) = self.genesis_issuers.get(kid) {
            return Ok(Some(record.clone()));
        }
        if let Some(record) = self.known.read().ok().and_then(|k| k.get(kid).cloned()) {
            return Ok(Some(record));
        }
        let key = state_key(kid);
        if let Some(bytes) = overlay.get(&key) {
            return decode_record(bytes).map(Some);
        }
        let Some(bytes) = view.get(&key)? else {
            return Ok(None);
        };
        let record = decode_record(&bytes)?;
        if let Ok(mut known) = self.known.write() {
            known.insert(*kid, record.clone());
        }
        Ok(Some(record))
    }

    /// Judges one parsed statement against the state; `Ok(Err(_))` is a refusal, `Err(_)` a
    /// failed state read. `verified` says the signature was already checked (see
    /// [`SignatureCache`]).
    pub fn check_statement(
        &self,
        view: &dyn StateView,
        overlay: &BTreeMap<Vec<u8>, Vec<u8>>,
        stmt: &SignedStatement,
        verified: bool,
    ) -> Result<Verdict, StateError> {
        let Some(issuer) = self.issuer(view, overlay, stmt.kid())? else {
            return Ok(Err(Rejection::UnknownIssuer(hex::encode(stmt.kid()))));
        };
        if issuer.iss != stmt.issuer() {
            return Ok(Err(Rejection::IssuerMismatch {
                registered: issuer.iss,
                claimed: stmt.issuer().to_owned(),
            }));
        }
        if !verified {
            match stmt.verify(&issuer.key) {
                Ok(()) => {}
                Err(e @ StatementError::AlgorithmKeyMismatch { .. }) => {
                    return Ok(Err(Rejection::AlgorithmKeyMismatch(e.to_string())))
                }
                Err(e) => return Ok(Err(Rejection::Signature(e.to_string()))),
            }
        }
        if is_issuer_registration(stmt) {
            return self.check_registration(view, overlay, &issuer, stmt);
        }
        Ok(Ok(Vec::new()))
    }

    fn check_registration(
        &self,
        view: &dyn StateView,
        overlay: &BTreeMap<Vec<u8>, Vec<u8>>,
        signer: &IssuerRecord,
        stmt: &SignedStatement,
    ) -> Result<Verdict, StateError> {
        if !signer.admin {
            return Ok(Err(Rejection::NotAdmin));
        }
        let record = match IssuerRecord::decode(stmt.payload()) {
            Ok(r) => r,
            Err(e) => return Ok(Err(Rejection::BadRegistration(e.to_string()))),
        };
        if record.key.is_weak() {
            let reason = "small-order Ed25519 key: it would accept forged signatures";
            return Ok(Err(Rejection::BadRegistration(reason.into())));
        }
        let kid = record.key.thumbprint();
        if self.issuer(view, overlay, &kid)?.is_some() {
            return Ok(Err(Rejection::IssuerAlreadyRegistered(hex::encode(kid))));
        }
        Ok(Ok(vec![(record.state_key(), record.encode())]))
    }

    /// Decides a whole block: each statement in order sees the registrations before it.
    pub fn apply_block(
        &self,
        view: &dyn StateView,
        statements: &[Vec<u8>],
        cache: &dyn SignatureCache,
    ) -> Result<BlockDecision, StateError> {
        let mut overlay = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut decisions = Vec::with_capacity(statements.len());
        for bytes in statements {
            let id = statement_id(bytes);
            let decision = if !seen.insert(id) || view.has_entry(&id)? {
                Decision::Duplicate { id }
            } else {
                self.decide(view, &overlay, bytes, id, cache)?
            };
            if let Decision::Register { writes, .. } = &decision {
                overlay.extend(writes.iter().cloned());
            }
            decisions.push(decision);
        }
        Ok(BlockDecision { decisions })
    }

    fn decide(
        &self,
        view: &dyn StateView,
        overlay: &BTreeMap<Vec<u8>, Vec<u8>>,
        bytes: &[u8],
        id: [u8; 32],
        cache: &dyn SignatureCache,
    ) -> Result<Decision, StateError> {
        let stmt = match SignedStatement::parse(bytes, &self.limits) {
            Ok(s) => s,
            Err(e) => {
                let reason = Rejection::Malformed(e.to_string());
                return Ok(Decision::Reject { id, reason });
            }
        };
        Ok(
            match self.check_statement(view, overlay, &stmt, cache.is_verified(&id))? {
                Ok(writes) => Decision::Register { id, writes },
                Err(reason) => Decision::Reject { id, reason },
            },
        )
    }
}

fn decode_record(bytes: &[u8]) -> Result<IssuerRecord, StateError> {
    IssuerRecord::decode(bytes).map_err(|e| StateError(format!("corrupt issuer record: {e}")))
}

fn is_issuer_registration(stmt: &SignedStatement) -> bool {
    matches!(stmt.content_type(), ContentType::Text(t) if t == ISSUER_REGISTRATION_CONTENT_TYPE)
}
