//! The registration rules: which statements a block registers, and what they change.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use proverka_statement::{statement_id, Limits, PublicKey, SignedStatement, StatementError};

use crate::ctx::{BlockContext, Ctx, Fail, Overlay, RuleResult};
use crate::genesis::{Genesis, GenesisError};
use crate::idevid::Idevid;
use crate::issuers::{state_key, IssuerRecord};
use crate::preverify::{self, Parsed};
use crate::records::{keys, ConstitutionRecord, Kid, OrgRecord, Role};
use crate::{cedar, challenges, devices, firmware, interaction, kinds, labels, orgs};

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

    /// The statement of entry id `id` as this node already parsed it (with the rules' own
    /// [`Limits`]), so that the block's apply need not parse it again. Used only when its
    /// bytes are the block's bytes, so a wrong answer costs a parse, never a decision.
    fn parsed(&self, _id: &[u8; 32]) -> Option<Arc<SignedStatement>> {
        None
    }
}

/// How a rule treats the signature of the statement it judges (the outer COSE_Sign1; nested
/// signatures such as evidence batch items follow `Ctx::prechecked`).
#[derive(Clone, Copy)]
pub(crate) enum SignatureCheck<'a> {
    /// Verify it now with the key the rules chose.
    Verify,
    /// Already verified (see [`SignatureCache`]).
    Verified,
    /// Record the key the rules chose and go on as if it verified; the caller verifies later
    /// ([`Rules::check_statement_deferred`]).
    Defer(&'a RefCell<Option<PublicKey>>),
}

impl SignatureCheck<'_> {
    pub(crate) fn from_verified(verified: bool) -> Self {
        if verified {
            SignatureCheck::Verified
        } else {
            SignatureCheck::Verify
        }
    }

    /// Checks (or defers checking) `stmt`'s signature with `key`. This is the rules' only
    /// signature check of the judged statement, and nothing else in a rule depends on it.
    pub(crate) fn check(self, stmt: &SignedStatement, key: &PublicKey) -> Result<(), Rejection> {
        match self {
            SignatureCheck::Verify => stmt.verify(key).map_err(Rejection::from_signature),
            SignatureCheck::Verified => Ok(()),
            SignatureCheck::Defer(slot) => {
                let mut slot = slot.borrow_mut();
                if slot.is_some() {
                    // A second key for one statement: never happens today; stay exact anyway.
                    return stmt.verify(key).map_err(Rejection::from_signature);
                }
                *slot = Some(key.clone());
                Ok(())
            }
        }
    }
}

/// A submission judged with its signature check left to the caller
/// ([`Rules::check_statement_deferred`]).
#[derive(Debug)]
pub struct Deferred {
    /// The verdict if the signature verifies with [`Deferred::key`].
    pub verdict: Verdict,
    /// The key the rules would have verified the signature with, if they got that far; `None`
    /// means `verdict` is final (a refusal that comes before the signature check).
    pub key: Option<PublicKey>,
}

impl Deferred {
    /// The final verdict given `signature`, the result of `stmt.verify(key)` (unused when
    /// [`Deferred::key`] is `None`). Equals what [`Rules::check_statement`] with
    /// `verified = false` returns: a bad signature is refused as it is there, before any rule
    /// that comes after the check.
    pub fn resolve(self, signature: Result<(), StatementError>) -> Verdict {
        match (self.key, signature) {
            (Some(_), Err(e)) => Err(Rejection::from_signature(e)),
            _ => self.verdict,
        }
    }
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
    #[error("key {0} is revoked")]
    RevokedKey(String),
    #[error("invalid {kind} payload: {error}")]
    BadPayload {
        kind: &'static str,
        error: crate::payload::PayloadError,
    },
    #[error("{iss} lacks the {role} role")]
    MissingRole { iss: String, role: &'static str },
    #[error("not the owner: device {device} is owned by {owner}")]
    NotOwner { device: String, owner: String },
    #[error("not permitted: {0}")]
    NotPermitted(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("expired: {0}")]
    Expired(String),
    #[error("device {0} is decommissioned")]
    Decommissioned(String),
    #[error("evidence refused: {0}")]
    Evidence(String),
    /// Evidence whose nonce is no kept anchored root and no usable challenge (`challenges`).
    #[error("evidence refused: {0}")]
    Challenge(crate::challenges::ChallengeRefusal),
    #[error("IDevID certificate chain refused: {0}")]
    Idevid(String),
    #[error("batch item {index}: {reason}")]
    BatchItem {
        index: usize,
        reason: Box<Rejection>,
    },
    /// A recorded command's envelope does not open with the sender's current key (or does not
    /// parse): the command verifier's own reason.
    #[error("command refused: {0}")]
    Command(proverka_command::Reason),
    #[error("the block's state-write budget ({MAX_BLOCK_STATE_WRITES}) is spent; resubmit")]
    BlockFull,
}

/// Most state writes one block may make (the store refuses larger blocks). A statement whose
/// writes would exceed it is refused with [`Rejection::BlockFull`], so a block of large
/// evidence batches can never be unstorable.
pub const MAX_BLOCK_STATE_WRITES: usize = 100_000;

impl Rejection {
    pub(crate) fn payload(kind: &'static str, error: crate::payload::PayloadError) -> Self {
        Rejection::BadPayload { kind, error }
    }

    pub(crate) fn from_signature(e: StatementError) -> Self {
        match e {
            e @ StatementError::AlgorithmKeyMismatch { .. } => {
                Rejection::AlgorithmKeyMismatch(e.to_string())
            }
            e => Rejection::Signature(e.to_string()),
        }
    }
}

/// State writes of a registered statement (key, value or `None` to delete), in order.
pub type Writes = Vec<(Vec<u8>, Option<Vec<u8>>)>;
/// A statement's verdict: its state writes, or why it is refused.
pub type Verdict = Result<Writes, Rejection>;

/// The fate of one statement of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Appended to the log; `writes` are its state changes.
    Register { id: [u8; 32], writes: Writes },
    /// Already in the log (or earlier in this block): no second leaf.
    Duplicate { id: [u8; 32] },
    /// Refused, with the reason.
    Reject { id: [u8; 32], reason: Rejection },
}

/// Everything a block changes, in block order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockDecision {
    /// Writes the block makes before its statements: recording its anchored log root
    /// (`anchors::record`, at most 4) and, at the last block of an epoch, handing the
    /// validator set over (`validators::hand_over`, at most 2).
    pub prelude: Writes,
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

    /// All state writes of the block, in order (`None` deletes).
    pub fn state_writes(&self) -> Writes {
        let statements = self.decisions.iter().flat_map(|d| match d {
            Decision::Register { writes, .. } => writes.clone(),
            _ => Vec::new(),
        });
        self.prelude.iter().cloned().chain(statements).collect()
    }
}

/// Who signed a statement judged by an organisation rule.
pub struct Signer {
    pub issuer: IssuerRecord,
    /// The signer's organisation, if its `iss` is one (issuers registered by an admin before
    /// organisations existed may have none: they can sign plain statements only).
    pub org: Option<OrgRecord>,
}

impl Signer {
    /// The signer's organisation, or a refusal.
    pub fn org(&self) -> Result<&OrgRecord, Rejection> {
        self.org.as_ref().ok_or_else(|| {
            Rejection::NotPermitted(format!("{} is not an organisation", self.issuer.iss))
        })
    }

    /// The signer's organisation if it holds `role`, or a refusal naming the role.
    pub fn require_role(&self, role: Role) -> Result<&OrgRecord, Rejection> {
        let org = self.org()?;
        if !org.has(role) {
            return Err(Rejection::MissingRole {
                iss: org.iss.clone(),
                role: role.name(),
            });
        }
        Ok(org)
    }
}

/// The registration rules of one ledger: genesis issuers plus the rules in `docs/registration.md`.
pub struct Rules {
    genesis_issuers: HashMap<[u8; 32], IssuerRecord>,
    genesis_orgs: HashMap<String, OrgRecord>,
    governance_threshold: usize,
    /// Issuer records already read from state and decoded. Sound because an issuer record is
    /// written once and never changed (a second registration of a key is refused; revocation
    /// is a separate `revoked/` key read every time), so caching cannot change a decision.
    known: RwLock<HashMap<[u8; 32], IssuerRecord>>,
    limits: Limits,
    idevid: Idevid,
    /// The genesis committee and origin, for validator-set changes (`validators.rs`).
    genesis: Genesis,
}

impl Rules {
    /// Builds the rules from a validated genesis.
    pub fn new(genesis: &Genesis) -> Result<Self, GenesisError> {
        let records = genesis.issuer_records()?;
        let mut genesis_orgs: HashMap<String, OrgRecord> = HashMap::new();
        for (record, issuer) in records.iter().zip(&genesis.issuers) {
            let org = genesis_orgs
                .entry(record.iss.clone())
                .or_insert_with(|| OrgRecord {
                    iss: record.iss.clone(),
                    name: record.iss.clone(),
                    roles: Vec::new(),
                    keys: Vec::new(),
                    joined_ms: genesis.created_ms,
                });
            org.keys.push(Kid(record.key.thumbprint()));
            for role in issuer.roles()? {
                if !org.roles.contains(&role) {
                    org.roles.push(role);
                }
            }
            org.roles.sort();
        }
        let governance_threshold = genesis.governance_threshold()?;
        Ok(Rules {
            genesis_issuers: records
                .into_iter()
                .map(|r| (r.key.thumbprint(), r))
                .collect(),
            genesis_orgs,
            governance_threshold,
            known: RwLock::default(),
            limits: Limits::default(),
            idevid: Idevid,
            genesis: genesis.clone(),
        })
    }

    /// The genesis these rules were built from.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The statement size and shape limits every node applies.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Approvals (or rejections) that decide a proposal under the genesis constitution; the
    /// one in force is [`Rules::constitution`].
    pub fn governance_threshold(&self) -> usize {
        self.governance_threshold
    }

    /// The constitution in force: its state record once governance changed it, else the
    /// genesis's (threshold, and the organisations with the governance role).
    pub fn constitution(&self, ctx: &Ctx) -> Result<ConstitutionRecord, StateError> {
        if let Some(c) = ctx.record::<ConstitutionRecord>(keys::CONSTITUTION)? {
            return Ok(c);
        }
        let mut members: Vec<String> = self
            .genesis_orgs
            .values()
            .filter(|o| o.has(Role::Governance))
            .map(|o| o.iss.clone())
            .collect();
        members.sort();
        Ok(ConstitutionRecord {
            threshold: self.governance_threshold as u64,
            members,
        })
    }

    pub(crate) fn idevid(&self) -> &Idevid {
        &self.idevid
    }

    /// Looks up the issuer whose key thumbprint is `kid`: genesis first, then registered state
    /// (including registrations earlier in the same block).
    pub fn issuer(&self, ctx: &Ctx, kid: &[u8; 32]) -> Result<Option<IssuerRecord>, StateError> {
        if let Some(record) = self.genesis_issuers.get(kid) {
            return Ok(Some(record.clone()));
        }
        if let Some(record) = self.known.read().ok().and_then(|k| k.get(kid).cloned()) {
            return Ok(Some(record));
        }
        let key = state_key(kid);
        // Only committed records may be cached: this block's writes may never be applied.
        if let Some(pending) = ctx.uncommitted(&key) {
            return pending.map(|bytes| decode_record(&bytes)).transpose();
        }
        let Some(bytes) = ctx.committed(&key)? else {
            return Ok(None);
        };
        let record = decode_record(&bytes)?;
        if let Ok(mut known) = self.known.write() {
            known.insert(*kid, record.clone());
        }
        Ok(Some(record))
    }

    /// The organisation `iss`: its state record (written once it changed or joined), else its
    /// genesis definition.
    pub fn org(&self, ctx: &Ctx, iss: &str) -> Result<Option<OrgRecord>, StateError> {
        if let Some(org) = ctx.record::<OrgRecord>(&keys::org(iss))? {
            return Ok(Some(org));
        }
        Ok(self.genesis_orgs.get(iss).cloned())
    }

    /// The organisations defined by genesis, by `iss`.
    pub fn genesis_orgs(&self) -> &HashMap<String, OrgRecord> {
        &self.genesis_orgs
    }

    /// Judges one parsed statement at submission time, against the state as it is and the
    /// latest block's context; `Ok(Err(_))` is a refusal, `Err(_)` a failed state read.
    /// `verified` says the signature was already checked (see [`SignatureCache`]).
    pub fn check_statement(
        &self,
        view: &dyn StateView,
        block: BlockContext,
        stmt: &SignedStatement,
        verified: bool,
    ) -> Result<Verdict, StateError> {
        let overlay = Overlay::new();
        let mut ctx = Ctx::new(view, &overlay, block, 0, stmt.id());
        let sig = SignatureCheck::from_verified(verified);
        verdict(self.judge(&mut ctx, stmt, sig), ctx)
    }

    /// [`Rules::check_statement`] without the statement's own signature check: the rules run
    /// as if it verified, and the key they would have verified it with is returned beside the
    /// verdict, so the caller can verify many submissions in one batch and then
    /// [`Deferred::resolve`] each — with exactly the verdict `check_statement(.., false)` gives.
    /// Signatures nested inside the statement (evidence batch items) are still verified here.
    pub fn check_statement_deferred(
        &self,
        view: &dyn StateView,
        block: BlockContext,
        stmt: &SignedStatement,
    ) -> Result<Deferred, StateError> {
        let overlay = Overlay::new();
        let mut ctx = Ctx::new(view, &overlay, block, 0, stmt.id());
        let slot = RefCell::new(None);
        let result = self.judge(&mut ctx, stmt, SignatureCheck::Defer(&slot));
        let verdict = verdict(result, ctx)?;
        Ok(Deferred {
            verdict,
            key: slot.into_inner(),
        })
    }

    fn judge(&self, ctx: &mut Ctx, stmt: &SignedStatement, verified: SignatureCheck) -> RuleResult {
        match kinds::of(stmt) {
            Some(kinds::JOIN) => orgs::join(self, ctx, stmt, verified),
            Some(kinds::EVIDENCE) => {
                let (dev, device) = devices::device_signer(ctx, stmt, verified)?;
                devices::evidence(ctx, dev, device, stmt)
            }
            Some(kinds::REKEY) => {
                let (dev, device) = devices::device_signer(ctx, stmt, verified)?;
                devices::rekey(self, ctx, dev, &device, stmt)
            }
            kind => {
                let signer = self.issuer_signer(ctx, stmt, verified)?;
                self.judge_issued(ctx, &signer, stmt, kind)
            }
        }
    }

    fn judge_issued(
        &self,
        ctx: &mut Ctx,
        signer: &Signer,
        stmt: &SignedStatement,
        kind: Option<&'static str>,
    ) -> RuleResult {
        match kind {
            Some(kinds::ISSUER) => self.check_registration(ctx, &signer.issuer, stmt),
            Some(kinds::VOTE) => orgs::vote(self, ctx, signer, stmt),
            Some(kinds::PROPOSE) => orgs::propose(self, ctx, signer, stmt),
            Some(kinds::ORG_KEY) => orgs::org_key(self, ctx, signer, stmt),
            Some(kinds::MODEL) => devices::model(self, ctx, signer, stmt),
            Some(kinds::BIRTH) => devices::birth(self, ctx, signer, stmt),
            Some(kinds::TRANSFER) => devices::transfer(ctx, signer, stmt, self),
            Some(kinds::ACCEPT) => devices::accept(ctx, signer, stmt, self),
            Some(kinds::DECOMMISSION) => devices::decommission(ctx, signer, stmt),
            Some(kinds::RELEASE) => firmware::release(ctx, signer, stmt),
            Some(kinds::ADVISORY) => firmware::advisory(ctx, signer, stmt),
            Some(kinds::POLICY) => devices::policy(ctx, signer, stmt),
            Some(kinds::REVOKE_DEVICE) => devices::revoke_device(ctx, signer, stmt),
            Some(kinds::CEDAR_POLICY) => cedar::register(ctx, signer, stmt),
            Some(kinds::INTERACTION) => interaction::register(ctx, signer, stmt),
            Some(kinds::LABELS) => labels::register(ctx, signer, stmt),
            Some(kinds::CHALLENGE) => challenges::register(ctx, signer, stmt),
            Some(kinds::EVIDENCE_BATCH) => devices::evidence_batch(ctx, signer, stmt, &self.limits),
            _ => Ok(()),
        }
    }

    /// The registered issuer that signed `stmt`: known key, matching `iss`, not revoked, valid
    /// signature — in that order, so the cheapest refusal comes first.
    fn issuer_signer(
        &self,
        ctx: &Ctx,
        stmt: &SignedStatement,
        verified: SignatureCheck,
    ) -> RuleResult<Signer> {
        let Some(issuer) = self.issuer(ctx, stmt.kid())? else {
            let reason = if ctx.get(&keys::revoked(stmt.kid()))?.is_some() {
                Rejection::RevokedKey(hex::encode(stmt.kid()))
            } else {
                Rejection::UnknownIssuer(hex::encode(stmt.kid()))
            };
            return Err(reason.into());
        };
        if issuer.iss != stmt.issuer() {
            return Err(Rejection::IssuerMismatch {
                registered: issuer.iss,
                claimed: stmt.issuer().to_owned(),
            }
            .into());
        }
        if ctx.get(&keys::revoked(stmt.kid()))?.is_some() {
            return Err(Rejection::RevokedKey(hex::encode(stmt.kid())).into());
        }
        verified.check(stmt, &issuer.key)?;
        let org = self.org(ctx, &issuer.iss)?;
        Ok(Signer { issuer, org })
    }

    fn check_registration(
        &self,
        ctx: &mut Ctx,
        signer: &IssuerRecord,
        stmt: &SignedStatement,
    ) -> RuleResult {
        if !signer.admin {
            return Err(Rejection::NotAdmin.into());
        }
        let record = IssuerRecord::decode(stmt.payload())
            .map_err(|e| Rejection::BadRegistration(e.to_string()))?;
        if record.key.is_weak() {
            let reason = "small-order Ed25519 key: it would accept forged signatures";
            return Err(Rejection::BadRegistration(reason.into()).into());
        }
        // Any use of the key (issuer, device, revoked) is "already registered"; a failed state
        // read still aborts the block.
        match orgs::ensure_key_unused(self, ctx, &record.key) {
            Ok(()) => {}
            Err(Fail::Reject(_)) => {
                let kid = record.key.thumbprint();
                return Err(Rejection::IssuerAlreadyRegistered(hex::encode(kid)).into());
            }
            Err(e) => return Err(e),
        }
        ctx.put(record.state_key(), record.encode());
        Ok(())
    }

    /// Decides a whole block: each statement in order sees the writes of those before it.
    pub fn apply_block(
        &self,
        view: &dyn StateView,
        block: BlockContext,
        statements: &[Vec<u8>],
        cache: &dyn SignatureCache,
    ) -> Result<BlockDecision, StateError> {
        let mut prelude = crate::anchors::record(view, &block)?;
        prelude.extend(crate::validators::hand_over(view, &self.genesis, &block)?);
        let mut overlay: Overlay = prelude.iter().cloned().collect();
        let mut budget = MAX_BLOCK_STATE_WRITES.saturating_sub(prelude.len());
        let mut seen = BTreeSet::new();
        let mut decisions = Vec::with_capacity(statements.len());
        let parsed: Parsed = statements
            .iter()
            .map(|bytes| {
                let id = statement_id(bytes);
                (id, self.parse_once(bytes, &id, cache))
            })
            .collect();
        let batch = preverify::batch_verified(self, view, block, &parsed, cache)?;
        for (pos, (id, stmt)) in parsed.into_iter().enumerate() {
            let decision = if !seen.insert(id) || view.has_entry(&id)? {
                Decision::Duplicate { id }
            } else {
                let pos = u32::try_from(pos).unwrap_or(u32::MAX);
                let checked = Checked {
                    whole: cache.is_verified(&id),
                    signature: batch.contains(&id),
                };
                self.decide(view, &overlay, block, pos, stmt, id, checked)?
            };
            let decision = match decision {
                Decision::Register { id, writes } if budget < writes.len() => Decision::Reject {
                    id,
                    reason: Rejection::BlockFull,
                },
                d => d,
            };
            if let Decision::Register { writes, .. } = &decision {
                budget -= writes.len();
                overlay.extend(writes.iter().cloned());
            }
            decisions.push(decision);
        }
        Ok(BlockDecision { prelude, decisions })
    }

    /// `bytes` parsed: the cache's copy when it holds these very bytes, else a fresh parse.
    fn parse_once(
        &self,
        bytes: &[u8],
        id: &[u8; 32],
        cache: &dyn SignatureCache,
    ) -> Result<Arc<SignedStatement>, StatementError> {
        match cache.parsed(id) {
            Some(stmt) if stmt.bytes() == bytes => Ok(stmt),
            _ => SignedStatement::parse(bytes, &self.limits).map(Arc::new),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        view: &dyn StateView,
        overlay: &Overlay,
        block: BlockContext,
        pos: u32,
        stmt: Result<Arc<SignedStatement>, StatementError>,
        id: [u8; 32],
        checked: Checked,
    ) -> Result<Decision, StateError> {
        let stmt = match stmt {
            Ok(s) => s,
            Err(e) => {
                let reason = Rejection::Malformed(e.to_string());
                return Ok(Decision::Reject { id, reason });
            }
        };
        let mut ctx = Ctx::new(view, overlay, block, pos, id);
        ctx.prechecked = checked.whole;
        let verified = SignatureCheck::from_verified(checked.whole || checked.signature);
        let result = self.judge(&mut ctx, &stmt, verified);
        Ok(match verdict(result, ctx)? {
            Ok(writes) => Decision::Register { id, writes },
            Err(reason) => Decision::Reject { id, reason },
        })
    }
}

/// What was already verified of a statement before its rule runs.
#[derive(Clone, Copy)]
struct Checked {
    /// The node checked it whole at submission, nested signatures included ([`SignatureCache`]).
    whole: bool,
    /// Its own signature passed the block's batch check (`preverify.rs`).
    signature: bool,
}

/// A rule's outcome as a verdict: its writes if it passed, the refusal if not; a failed state
/// read aborts the block.
fn verdict(result: RuleResult, ctx: Ctx) -> Result<Verdict, StateError> {
    match result {
        Ok(()) => Ok(Ok(ctx.into_writes())),
        Err(Fail::Reject(r)) => Ok(Err(r)),
        Err(Fail::State(e)) => Err(e),
    }
}

fn decode_record(bytes: &[u8]) -> Result<IssuerRecord, StateError> {
    IssuerRecord::decode(bytes).map_err(|e| StateError(format!("corrupt issuer record: {e}")))
}
