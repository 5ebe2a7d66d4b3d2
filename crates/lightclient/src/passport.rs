//! Trust passports: a device's current attestation result (an EAR signed by the ledger) together
//! with the state proof of everything it was computed from, so that a gateway or a recipient
//! device can check "this sender is trusted now" offline, with only the genesis file.
//!
//! Format (`docs/state.md`, "Trust passports"): CBOR `[1, ear: bstr, proof: bstr]`, where `ear`
//! is a COSE_Sign1 EAR (content type `application/eat+cwt`) signed by the receipt key of the
//! validator that served it and `proof` a [`StateProofBundle`] for the device. The EAR's
//! appraisal is made at the certifying block's time from exactly the proved records, so
//! [`verify`] recomputes it byte for byte. A passport expires at the EAR's expiry or [`MAX_PASSPORT_AGE_MS`] after the
//! certifying block, whichever is first.

use proverka_ledger::records::{self, keys, DeviceRecord};
use proverka_ledger::{query, Genesis};
use proverka_statement::{Limits, PublicKey, SignedStatement};
use proverka_trust::Appraisal;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::state_proof::{self, ProvedView, StateProofBundle};

/// Format version written first in a passport.
pub const PASSPORT_VERSION: u8 = 1;
/// Longest a passport is accepted after the block that certifies its state (10 minutes): new
/// advisories or revocations after that are not covered by it.
pub const MAX_PASSPORT_AGE_MS: u64 = 10 * 60 * 1000;
/// Largest encoded passport accepted by [`Passport::decode`]: its device proof (at most
/// [`state_proof::MAX_BUNDLE_BYTES`]) plus room for the signed EAR, so a device of a model at
/// its limits has a passport too.
pub const MAX_PASSPORT_BYTES: usize = state_proof::MAX_BUNDLE_BYTES + 64 * 1024;

/// The wire form (see the module docs).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Passport(pub u8, pub ByteBuf, pub ByteBuf);

/// What a valid passport establishes about its device.
#[derive(Clone, Debug)]
pub struct PassportFacts {
    /// The device record, as proved.
    pub device: DeviceRecord,
    /// The appraisal, recomputed from the proved records (equal to the signed EAR's).
    pub appraisal: Appraisal,
    /// What the recipient owner's Cedar policies see of the device (owner, maker, model, zone,
    /// tags, firmware, status, trust vector), from the same proved records.
    pub cedar: query::CedarFacts,
    /// The finalized block that certifies the state it was computed from.
    pub certified_height: u64,
    /// That block's time (ms): the appraisal's time.
    pub certified_ms: u64,
    /// When the passport stops being acceptable (ms).
    pub expires_ms: u64,
}

/// Why a passport is refused.
#[derive(Debug, thiserror::Error)]
pub enum PassportError {
    #[error("passport of {0} bytes exceeds {MAX_PASSPORT_BYTES}")]
    TooLarge(usize),
    #[error("malformed passport: {0}")]
    Malformed(String),
    #[error("unusable genesis: {0}")]
    Genesis(String),
    #[error("state proof: {0}")]
    Proof(#[from] state_proof::StateProofBundleError),
    #[error("the proof does not hold device {0}")]
    NoDevice(String),
    #[error("EAR signature: {0}")]
    EarSignature(String),
    #[error("the EAR does not match the status recomputed from the proof")]
    EarMismatch,
    #[error("passport expired at {expires_ms} ms (now {now_ms} ms)")]
    Expired { expires_ms: u64, now_ms: u64 },
    #[error("passport from the future: certified at {certified_ms} ms, now {now_ms} ms")]
    NotYetValid { certified_ms: u64, now_ms: u64 },
}

impl Passport {
    /// Canonical CBOR encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail, and every field serializes.
        let _ = ciborium::into_writer(self, &mut out);
        out
    }

    /// Decodes a passport, bounded by [`MAX_PASSPORT_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Self, PassportError> {
        if bytes.len() > MAX_PASSPORT_BYTES {
            return Err(PassportError::TooLarge(bytes.len()));
        }
        let p: Self =
            ciborium::from_reader(bytes).map_err(|e| PassportError::Malformed(e.to_string()))?;
        if p.0 != PASSPORT_VERSION {
            return Err(PassportError::Malformed(format!("unknown version {}", p.0)));
        }
        Ok(p)
    }
}

/// A device's record and appraisal from proved records only, at the certifying block's time:
/// what the ledger signs into a passport's EAR and what [`verify`] recomputes.
pub fn appraise_proved(
    proved: &ProvedView,
    certified_ms: u64,
    device_id: &[u8],
) -> Result<(DeviceRecord, Appraisal), PassportError> {
    let found = query::device_status(proved, device_id, certified_ms)
        .map_err(|e| PassportError::Malformed(e.to_string()))?;
    found.ok_or_else(|| PassportError::NoDevice(hex::encode(device_id)))
}

/// Verifies a passport for `device_id` at `now_ms` with only the genesis file's bytes: the
/// genesis committee for every epoch, and its validators' receipt keys for the EAR.
pub fn verify(
    genesis_bytes: &[u8],
    passport: &Passport,
    device_id: &[u8],
    now_ms: u64,
) -> Result<PassportFacts, PassportError> {
    let genesis =
        Genesis::from_bytes(genesis_bytes).map_err(|e| PassportError::Genesis(e.to_string()))?;
    verify_in_chain(
        genesis_bytes,
        &[(0, genesis.validators.clone())],
        &genesis_receipt_keys(&genesis),
        passport,
        device_id,
        now_ms,
    )
}

/// The genesis committee's receipt keys, as [`verify_in_chain`] takes them (a chain with no
/// hand-over).
pub fn genesis_receipt_keys(genesis: &Genesis) -> Vec<(u64, Vec<String>)> {
    let keys = genesis
        .validator_entries()
        .into_iter()
        .map(|v| v.receipt_key);
    vec![(0, keys.collect())]
}

/// Verifies a passport with the genesis file's bytes and a verified chain of committees (see
/// [`state_proof::verify_in_chain`]): its state proof's finalization is checked against the
/// committee of the epoch it names (`committees`: each committee's first epoch and consensus
/// keys, hex). `receipt_keys` lists, for the same chain, each committee's first epoch and its
/// members' receipt keys (COSE_Key, hex): the EAR must be signed by one of the committee in
/// force at the certifying block's epoch or of a later one ([`ear_signers`]).
pub fn verify_in_chain(
    genesis_bytes: &[u8],
    committees: &[(u64, Vec<String>)],
    receipt_keys: &[(u64, Vec<String>)],
    passport: &Passport,
    device_id: &[u8],
    now_ms: u64,
) -> Result<PassportFacts, PassportError> {
    let genesis =
        Genesis::from_bytes(genesis_bytes).map_err(|e| PassportError::Genesis(e.to_string()))?;
    let bundle = StateProofBundle::decode(&passport.2)?;
    let verified = state_proof::verify_in_chain(&Genesis::id(genesis_bytes), committees, &bundle)?;
    let proved = ProvedView::new(&verified);
    // A proof about another device (a borrowed passport) does not even cover this one's key.
    let device_key = keys::device(&records::device_hash(device_id));
    if !proved.0.contains_key(&device_key) {
        return Err(PassportError::NoDevice(hex::encode(device_id)));
    }
    let certified_ms = verified.certified_by.timestamp_ms;
    let (device, appraisal) = appraise_proved(&proved, certified_ms, device_id)?;
    let cedar = query::cedar_facts(&proved, device_id, certified_ms)
        .map_err(|e| PassportError::Malformed(e.to_string()))?
        .ok_or_else(|| PassportError::NoDevice(hex::encode(device_id)))?;
    let epoch = verified.certified_by.epoch;
    check_ear(
        &passport.1,
        ear_signers(receipt_keys, epoch),
        epoch,
        &appraisal,
        device_id,
        &genesis.origin,
    )?;
    let expires_ms = appraisal
        .expires_ms
        .unwrap_or(u64::MAX)
        .min(certified_ms.saturating_add(MAX_PASSPORT_AGE_MS));
    if now_ms + proverka_ledger::MAX_CLOCK_SKEW_MS < certified_ms {
        return Err(PassportError::NotYetValid {
            certified_ms,
            now_ms,
        });
    }
    if now_ms >= expires_ms {
        return Err(PassportError::Expired { expires_ms, now_ms });
    }
    Ok(PassportFacts {
        device,
        appraisal,
        cedar,
        certified_height: verified.certified_by.height,
        certified_ms,
        expires_ms,
    })
}

/// The receipt keys (COSE_Key, hex) that may sign the EAR of a state certified at `epoch`:
/// those of the committee in force at that epoch and of every later committee of the chain.
/// Later ones too, because the validator that serves the passport signs it when asked, with its
/// key of now: the committee may have been handed over, or its key rotated, since the block.
/// The signature is not what the passport's facts rest on (the EAR must equal the appraisal
/// recomputed from the quorum-certified state); it says which validator issued it.
pub fn ear_signers(receipt_keys: &[(u64, Vec<String>)], epoch: u64) -> Vec<&str> {
    let in_force = receipt_keys
        .iter()
        .rposition(|(start, _)| *start <= epoch)
        .unwrap_or(0);
    receipt_keys
        .iter()
        .skip(in_force)
        .flat_map(|(_, keys)| keys.iter().map(String::as_str))
        .collect()
}

/// The EAR must be signed by the key its `kid` names, one of `signers` (a validator's receipt
/// key), and carry exactly the claims of the recomputed appraisal.
fn check_ear(
    ear: &[u8],
    signers: Vec<&str>,
    epoch: u64,
    appraisal: &Appraisal,
    device_id: &[u8],
    origin: &str,
) -> Result<(), PassportError> {
    let statement = SignedStatement::parse(ear, &Limits::default())
        .map_err(|e| PassportError::EarSignature(e.to_string()))?;
    let key = signers
        .into_iter()
        .filter_map(|hex_key| {
            let bytes = hex::decode(hex_key).ok()?;
            PublicKey::from_cose_key(&bytes).ok()
        })
        .find(|k| k.thumbprint() == *statement.kid())
        .ok_or_else(|| {
            PassportError::EarSignature(format!(
                "signed with key {}, which no validator of epoch {epoch} or later holds",
                hex::encode(statement.kid())
            ))
        })?;
    statement
        .verify(&key)
        .map_err(|e| PassportError::EarSignature(e.to_string()))?;
    let expected = proverka_trust::ear_claims(appraisal, &hex::encode(device_id), origin)
        .map_err(|e| PassportError::Malformed(e.to_string()))?;
    if statement.payload() != expected.as_slice() {
        return Err(PassportError::EarMismatch);
    }
    Ok(())
}

/// A gateway's view of a verified passport, for the edge command verifier
/// (`proverka_command::MemorySnapshot`): the sender's current key, whether it is revoked
/// (identity revoked or decommissioned), its status and until when it holds.
pub fn command_sender(
    facts: &PassportFacts,
) -> Result<(proverka_command::DeviceId, proverka_command::SenderRecord), PassportError> {
    use proverka_command::{DeviceId, SenderRecord, TrustStatus, UnixSeconds};
    let malformed = |what: &str| PassportError::Malformed(format!("device {what}"));
    let id = DeviceId::new(facts.device.id.clone()).map_err(|_| malformed("id"))?;
    let key = proverka_ledger::interaction::command_key(&facts.device.key)
        .map_err(|e| malformed(&format!("key: {e}")))?;
    let status = match facts.appraisal.status.as_str() {
        "affirming" => TrustStatus::Affirming,
        "warning" => TrustStatus::Warning,
        "contraindicated" => TrustStatus::Contraindicated,
        _ => TrustStatus::None,
    };
    let revoked =
        facts.device.identity_revoked_ms.is_some() || facts.device.decommissioned_ms.is_some();
    Ok((
        id,
        SenderRecord {
            key,
            revoked,
            status,
            status_expires_at: UnixSeconds(facts.expires_ms / 1000),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proverka_statement::{sign_statement, ContentType, KeyType, PrivateKey, StatementParams};
    use proverka_trust::{Appraisal, Status};

    const ORIGIN: &str = "proverka.test/log";
    const DEVICE: &[u8] = b"valve-17";

    fn key() -> PrivateKey {
        PrivateKey::generate(KeyType::P256).unwrap()
    }

    fn cose_hex(k: &PrivateKey) -> String {
        hex::encode(k.public_key().to_cose_key())
    }

    fn appraisal() -> Appraisal {
        Appraisal {
            status: Status::None,
            vector: Default::default(),
            reasons: Vec::new(),
            evaluated_ms: 1_764_000_000_000,
            expires_ms: None,
        }
    }

    fn ear(signer: &PrivateKey, a: &Appraisal) -> Vec<u8> {
        let claims = proverka_trust::ear_claims(a, &hex::encode(DEVICE), ORIGIN).unwrap();
        sign_statement(
            signer,
            &StatementParams {
                iss: ORIGIN,
                sub: &hex::encode(DEVICE),
                iat: 1_764_000_000,
                content_type: ContentType::Text("application/eat+cwt".into()),
                payload: &claims,
            },
        )
    }

    fn chain(epochs: &[(u64, &[&str])]) -> Vec<(u64, Vec<String>)> {
        let owned = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect();
        epochs.iter().map(|(e, keys)| (*e, owned(keys))).collect()
    }

    #[test]
    fn an_ear_may_be_signed_by_the_committee_of_its_epoch_or_a_later_one() {
        let keys = chain(&[(0, &["a", "b"]), (5, &["c", "d"]), (9, &["e"])]);
        assert_eq!(ear_signers(&keys, 0), ["a", "b", "c", "d", "e"]);
        assert_eq!(ear_signers(&keys, 4), ["a", "b", "c", "d", "e"]);
        assert_eq!(ear_signers(&keys, 6), ["c", "d", "e"]);
        assert_eq!(ear_signers(&keys, 9), ["e"]);
        assert_eq!(ear_signers(&keys, 1_000), ["e"]);
    }

    #[test]
    fn any_validator_of_the_committee_may_sign_the_ear_and_no_one_else() {
        let (first, second, removed, stranger) = (key(), key(), key(), key());
        // Epoch 0: `removed` and `first`; from epoch 3: `first` and `second`.
        let keys = vec![
            (0, vec![cose_hex(&removed), cose_hex(&first)]),
            (3, vec![cose_hex(&first), cose_hex(&second)]),
        ];
        let a = appraisal();
        let check = |signer: &PrivateKey, epoch: u64| {
            check_ear(
                &ear(signer, &a),
                ear_signers(&keys, epoch),
                epoch,
                &a,
                DEVICE,
                ORIGIN,
            )
        };
        // Not only the first validator: any member's receipt key.
        assert!(check(&first, 3).is_ok());
        assert!(check(&second, 3).is_ok());
        // A state certified in epoch 0 and served after the hand-over by a newcomer.
        assert!(check(&second, 0).is_ok());
        assert!(check(&removed, 0).is_ok());
        // A validator removed before the certifying epoch, and a key of no validator at all.
        for (signer, epoch) in [(&removed, 3), (&stranger, 0), (&stranger, 3)] {
            match check(signer, epoch) {
                Err(PassportError::EarSignature(why)) => assert!(
                    why.contains(&format!("no validator of epoch {epoch} or later")),
                    "{why}"
                ),
                other => panic!("epoch {epoch}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_validators_ear_must_still_carry_the_recomputed_claims() {
        let validator = key();
        let keys = vec![(0, vec![cose_hex(&validator)])];
        let mut other = appraisal();
        other.status = Status::Affirming;
        let signed_other = ear(&validator, &other);
        assert!(matches!(
            check_ear(
                &signed_other,
                ear_signers(&keys, 0),
                0,
                &appraisal(),
                DEVICE,
                ORIGIN
            ),
            Err(PassportError::EarMismatch)
        ));
    }
}
