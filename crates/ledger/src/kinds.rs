//! Content types of the statements the rules act on. Any other content type is registered
//! as is (no state change) if its issuer is registered.

use proverka_statement::{ContentType, SignedStatement};

use crate::issuers::ISSUER_REGISTRATION_CONTENT_TYPE;

pub const ISSUER: &str = ISSUER_REGISTRATION_CONTENT_TYPE;
pub const JOIN: &str = "application/vnd.proverka.join+cbor";
pub const VOTE: &str = "application/vnd.proverka.vote+cbor";
pub const PROPOSE: &str = "application/vnd.proverka.propose+cbor";
pub const ORG_KEY: &str = "application/vnd.proverka.org-key+cbor";
pub const MODEL: &str = "application/vnd.proverka.model+cbor";
pub const BIRTH: &str = "application/vnd.proverka.birth+cbor";
pub const TRANSFER: &str = "application/vnd.proverka.transfer+cbor";
pub const ACCEPT: &str = "application/vnd.proverka.accept+cbor";
pub const DECOMMISSION: &str = "application/vnd.proverka.decommission+cbor";
pub const REKEY: &str = "application/vnd.proverka.rekey+cbor";
pub const RELEASE: &str = "application/vnd.proverka.release+cbor";
pub const ADVISORY: &str = "application/vnd.proverka.advisory+cbor";
pub const EVIDENCE: &str = "application/vnd.proverka.evidence+cbor";
pub const EVIDENCE_BATCH: &str = "application/vnd.proverka.evidence-batch+cbor";
pub const POLICY: &str = "application/vnd.proverka.policy+cbor";
pub const REVOKE_DEVICE: &str = "application/vnd.proverka.revoke-device+cbor";
pub const CEDAR_POLICY: &str = "application/vnd.proverka.cedar-policy+cbor";
pub const INTERACTION: &str = "application/vnd.proverka.interaction+cbor";
pub const LABELS: &str = "application/vnd.proverka.labels+cbor";
pub const CHALLENGE: &str = "application/vnd.proverka.challenge+cbor";

/// Every content type with a rule, for documentation and tests.
pub const ALL: [&str; 21] = [
    ISSUER,
    JOIN,
    VOTE,
    PROPOSE,
    ORG_KEY,
    MODEL,
    BIRTH,
    TRANSFER,
    ACCEPT,
    DECOMMISSION,
    REKEY,
    RELEASE,
    ADVISORY,
    EVIDENCE,
    EVIDENCE_BATCH,
    POLICY,
    REVOKE_DEVICE,
    CEDAR_POLICY,
    INTERACTION,
    LABELS,
    CHALLENGE,
];

/// The rule-bearing content type of a statement, if it has one.
pub fn of(stmt: &SignedStatement) -> Option<&'static str> {
    match stmt.content_type() {
        ContentType::Text(t) => ALL.into_iter().find(|k| k == t),
        _ => None,
    }
}
