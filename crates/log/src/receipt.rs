//! RFC 9942 COSE Receipts of inclusion for the RFC9162_SHA256 verifiable data structure.
//!
//! A receipt is a tagged COSE_Sign1 with a detached payload: the verifier recomputes the root
//! from the statement and the inclusion path, then checks the log's signature over that root.
//! Byte layout: `docs/log-format.md`, "Receipts".

use crate::merkle::{leaf_entry, leaf_hash, root_from_inclusion_path, Hash, ProofError};
use crate::merkle::{MAX_INCLUSION_PATH, MAX_TREE_SIZE};
use ciborium::value::Value;
use coset::{iana, iana::EnumI64, CborSerializable, TaggedCborSerializable};
use coset::{CoseSign1, HeaderBuilder};
use coset::{Label, RegisteredLabelWithPrivate};
use proverka_statement::{sig_structure, Algorithm, PrivateKey, PublicKey};

/// Largest receipt accepted by [`verify_receipt`], checked before decoding. Ours are about
/// 300 bytes + 33 per path hash (under 2.5 KiB at the longest path); 16 KiB leaves room for
/// other logs' extra headers.
pub const MAX_RECEIPT_BYTES: usize = 16 * 1024;
/// Longest issuer (`iss`, the log origin) accepted or produced, in bytes.
pub const MAX_ISSUER_LEN: usize = 256;

/// COSE header label `vds` (verifiable data structure), RFC 9942.
pub const HEADER_VDS: i64 = 395;
/// COSE header label `vdp` (verifiable data structure proofs), RFC 9942.
pub const HEADER_VDP: i64 = 396;
/// COSE header label `CWT_Claims`, RFC 9597.
pub const HEADER_CWT_CLAIMS: i64 = 15;
/// `vds` value RFC9162_SHA256.
pub const VDS_RFC9162_SHA256: i64 = 1;
/// Private-use COSE header label (unprotected) carrying the tree head's C2SP checkpoint note
/// cosigned by a quorum of validators (`docs/log-format.md`, "Quorum-certified receipts").
pub const HEADER_QUORUM_CHECKPOINT: i64 = -65_537;
/// Key of the inclusion proofs inside the `vdp` map.
pub const VDP_INCLUSION_PROOFS: i64 = -1;
/// CWT claim `iss`.
const CLAIM_ISS: i64 = 1;
/// CWT claim `iat`.
const CLAIM_IAT: i64 = 6;
/// COSE_Sign1 tag.
const TAG_COSE_SIGN1: u8 = 0xd2;

/// Why a receipt was not produced or did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// Longer than [`MAX_RECEIPT_BYTES`].
    #[error("receipt of {len} bytes exceeds {max}")]
    TooLarge { len: usize, max: usize },
    /// Not a COSE_Sign1.
    #[error("not a COSE_Sign1: {0}")]
    Malformed(String),
    /// `vds` (395) missing from the protected header, or not RFC9162_SHA256 (1).
    #[error("unsupported verifiable data structure (vds {0:?})")]
    UnsupportedVds(Option<i64>),
    /// `alg` missing or not an accepted signature algorithm.
    #[error("unsupported or missing algorithm")]
    UnsupportedAlgorithm,
    /// A `crit` header lists a label this verifier does not process.
    #[error("critical header {0} not understood")]
    UnknownCritical(String),
    /// The payload is attached; RFC9162_SHA256 receipts carry a detached root.
    #[error("payload must be detached (nil)")]
    AttachedPayload,
    /// Not exactly one well-formed inclusion proof under `396 / -1`.
    #[error("inclusion proof: {0}")]
    BadProof(String),
    /// The proof shape does not match its tree size and index.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The signature does not verify over the recomputed root (wrong statement, tampered path,
    /// wrong key, or the algorithm does not fit the key).
    #[error("receipt signature does not verify")]
    BadSignature,
    /// An issuer (origin) that is too long.
    #[error("issuer longer than {MAX_ISSUER_LEN} bytes")]
    IssuerTooLong,
    /// CBOR encoding failed (never for in-memory buffers; kept typed rather than unwrapped).
    #[error("encoding: {0}")]
    Encoding(String),
}

/// What a verified receipt proves: the statement is leaf `leaf_index` of the log's tree of
/// `tree_size` leaves whose root is `root`, signed by the log key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    /// Tree size the proof is for.
    pub tree_size: u64,
    /// Index of the statement's leaf.
    pub leaf_index: u64,
    /// Recomputed (and signed) root.
    pub root: Hash,
    /// `iss` of the protected CWT claims (the log origin), if present.
    pub issuer: Option<String>,
    /// `iat` of the protected CWT claims, if present.
    pub issued_at: Option<i64>,
}

fn encoding_err(e: impl std::fmt::Display) -> ReceiptError {
    ReceiptError::Encoding(e.to_string())
}

/// Returns `bstr .cbor [tree_size, leaf_index, [* bstr]]`'s inner bytes.
fn encode_inclusion_proof(size: u64, index: u64, path: &[Hash]) -> Result<Vec<u8>, ReceiptError> {
    let value = Value::Array(vec![
        Value::Integer(size.into()),
        Value::Integer(index.into()),
        Value::Array(path.iter().map(|h| Value::Bytes(h.to_vec())).collect()),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).map_err(encoding_err)?;
    Ok(out)
}

fn cose_alg(alg: Algorithm) -> Result<coset::Algorithm, ReceiptError> {
    iana::Algorithm::from_i64(alg.cose_id())
        .map(RegisteredLabelWithPrivate::Assigned)
        .ok_or(ReceiptError::UnsupportedAlgorithm)
}

/// Returns a tagged COSE_Sign1 receipt that leaf `index` is in the tree of `size` leaves with
/// root `root`, signed by the log key.
///
/// Protected header, in this order (core deterministic CBOR): `1 (alg)`, `4 (kid)` = RFC 9679
/// thumbprint of the log key, `15 (CWT claims)` = `{1 (iss): origin, 6 (iat): issued_at}`,
/// `395 (vds)` = 1. Unprotected: `{396: {-1: [bstr .cbor [size, index, path]]}}`. Payload:
/// nil (detached root). The signature covers `Sig_structure("Signature1", protected, h'',
/// root)`.
pub fn make_receipt(
    key: &PrivateKey,
    origin: &str,
    issued_at: i64,
    size: u64,
    index: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<Vec<u8>, ReceiptError> {
    sign_tree_head(key, origin, issued_at, size, root)?.receipt(index, path)
}

/// A tree head signed once for receipts: the protected header and the signature over the root.
///
/// The receipt signature covers only the protected header and the (detached) root, not the
/// inclusion proof, so one signature serves every entry of the tree head; each receipt adds its
/// own proof in the unprotected header ([`SignedTreeHead::receipt`]).
#[derive(Clone, Debug)]
pub struct SignedTreeHead {
    size: u64,
    protected: coset::ProtectedHeader,
    signature: Vec<u8>,
}

/// Signs the tree head of `size` leaves with root `root` for receipts.
pub fn sign_tree_head(
    key: &PrivateKey,
    origin: &str,
    issued_at: i64,
    size: u64,
    root: &Hash,
) -> Result<SignedTreeHead, ReceiptError> {
    if size > MAX_TREE_SIZE {
        return Err(ProofError::SizeTooLarge {
            size,
            max: MAX_TREE_SIZE,
        }
        .into());
    }
    if origin.len() > MAX_ISSUER_LEN {
        return Err(ReceiptError::IssuerTooLong);
    }
    let claims = Value::Map(vec![
        (Value::Integer(CLAIM_ISS.into()), Value::Text(origin.into())),
        (
            Value::Integer(CLAIM_IAT.into()),
            Value::Integer(issued_at.into()),
        ),
    ]);
    let header = HeaderBuilder::new()
        .algorithm_label(cose_alg(key.algorithm())?)
        .key_id(key.public_key().thumbprint().to_vec())
        .value(HEADER_CWT_CLAIMS, claims)
        .value(HEADER_VDS, Value::Integer(VDS_RFC9162_SHA256.into()))
        .build();
    let mut protected = coset::ProtectedHeader {
        original_data: None,
        header,
    };
    // Serialize the protected header once; emit and sign exactly those bytes.
    let protected_bytes = protected.clone().to_vec().map_err(encoding_err)?;
    protected.original_data = Some(protected_bytes.clone());
    let signature = key.sign(&sig_structure(&protected_bytes, root));
    Ok(SignedTreeHead {
        size,
        protected,
        signature,
    })
}

impl SignedTreeHead {
    /// The tree size this head signs.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The receipt of leaf `index`, whose inclusion path in this tree is `path`.
    pub fn receipt(&self, index: u64, path: &[Hash]) -> Result<Vec<u8>, ReceiptError> {
        self.receipt_with(index, path, None)
    }

    /// The receipt of leaf `index` carrying `checkpoint` (this tree head's checkpoint note,
    /// cosigned by a quorum of validators) under [`HEADER_QUORUM_CHECKPOINT`]; unsigned by the
    /// receipt key, it is verified on its own cosignatures.
    pub fn receipt_with(
        &self,
        index: u64,
        path: &[Hash],
        checkpoint: Option<&[u8]>,
    ) -> Result<Vec<u8>, ReceiptError> {
        check_proof_shape(self.size, index, path)?;
        let proof = encode_inclusion_proof(self.size, index, path)?;
        let vdp = Value::Map(vec![(
            Value::Integer(VDP_INCLUSION_PROOFS.into()),
            Value::Array(vec![Value::Bytes(proof)]),
        )]);
        let mut unprotected = HeaderBuilder::new().value(HEADER_VDP, vdp);
        if let Some(note) = checkpoint {
            unprotected = unprotected.value(HEADER_QUORUM_CHECKPOINT, Value::Bytes(note.to_vec()));
        }
        let signed = CoseSign1 {
            protected: self.protected.clone(),
            unprotected: unprotected.build(),
            payload: None,
            signature: self.signature.clone(),
        };
        signed.to_tagged_vec().map_err(encoding_err)
    }
}

/// Rejects impossible proofs before any work: index outside the tree, a tree above
/// [`MAX_TREE_SIZE`], a path longer than [`MAX_INCLUSION_PATH`].
fn check_proof_shape(size: u64, index: u64, path: &[Hash]) -> Result<(), ProofError> {
    if size > MAX_TREE_SIZE {
        return Err(ProofError::SizeTooLarge {
            size,
            max: MAX_TREE_SIZE,
        });
    }
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    if path.len() > MAX_INCLUSION_PATH {
        return Err(ProofError::ProofTooLong {
            len: path.len(),
            max: MAX_INCLUSION_PATH,
        });
    }
    Ok(())
}

/// Verifies an RFC 9942 receipt (tagged or untagged COSE_Sign1) for `statement` against the
/// log key: recomputes the leaf (SHA-256 of the statement, then the RFC 9162 leaf hash), the
/// root from the inclusion path, and checks the signature over that root.
///
/// Accepts receipts of other RFC9162_SHA256 logs too (`kid` and CWT claims optional); requires
/// `vds` = 1 in the protected header, `alg` bound to the key's type, a nil payload and exactly
/// one inclusion proof.
pub fn verify_receipt(
    receipt: &[u8],
    statement: &[u8],
    log_key: &PublicKey,
) -> Result<VerifiedReceipt, ReceiptError> {
    if receipt.len() > MAX_RECEIPT_BYTES {
        return Err(ReceiptError::TooLarge {
            len: receipt.len(),
            max: MAX_RECEIPT_BYTES,
        });
    }
    let sign1 = decode_sign1(receipt)?;
    let header = &sign1.protected.header;
    check_critical(header)?;
    check_vds(&sign1)?;
    let alg = receipt_algorithm(header)?;
    if sign1.payload.is_some() {
        return Err(ReceiptError::AttachedPayload);
    }
    let (issuer, issued_at) = cwt_claims(header)?;
    let (tree_size, leaf_index, path) = inclusion_proof_of(&sign1.unprotected)?;
    check_proof_shape(tree_size, leaf_index, &path)?;
    let leaf = leaf_hash(&leaf_entry(statement));
    let root = root_from_inclusion_path(&leaf, leaf_index, tree_size, &path)?;
    let protected_bytes = sign1
        .protected
        .original_data
        .clone()
        .map_or_else(|| sign1.protected.clone().to_vec(), Ok)
        .map_err(encoding_err)?;
    log_key
        .verify(
            alg,
            &sig_structure(&protected_bytes, &root),
            &sign1.signature,
        )
        .map_err(|_| ReceiptError::BadSignature)?;
    Ok(VerifiedReceipt {
        tree_size,
        leaf_index,
        root,
        issuer,
        issued_at,
    })
}

/// The quorum checkpoint note a receipt carries under [`HEADER_QUORUM_CHECKPOINT`], if any.
/// Parses only; see `certified::verify_certified_receipt`.
pub fn quorum_checkpoint_of(receipt: &[u8]) -> Result<Option<Vec<u8>>, ReceiptError> {
    if receipt.len() > MAX_RECEIPT_BYTES {
        return Err(ReceiptError::TooLarge {
            len: receipt.len(),
            max: MAX_RECEIPT_BYTES,
        });
    }
    let sign1 = decode_sign1(receipt)?;
    match header_value(&sign1.unprotected, HEADER_QUORUM_CHECKPOINT) {
        None => Ok(None),
        Some(Value::Bytes(note)) => Ok(Some(note.clone())),
        Some(_) => Err(ReceiptError::Malformed(
            "quorum checkpoint header is not a byte string".into(),
        )),
    }
}

fn decode_sign1(receipt: &[u8]) -> Result<CoseSign1, ReceiptError> {
    let parsed = if receipt.first() == Some(&TAG_COSE_SIGN1) {
        CoseSign1::from_tagged_slice(receipt)
    } else {
        CoseSign1::from_slice(receipt)
    };
    parsed.map_err(|e| ReceiptError::Malformed(e.to_string()))
}

/// Labels this verifier processes, so they may appear in `crit`.
fn understood(label: &Label) -> bool {
    matches!(label, Label::Int(l) if [1, 4, HEADER_CWT_CLAIMS, HEADER_VDS].contains(l))
}

fn check_critical(header: &coset::Header) -> Result<(), ReceiptError> {
    for c in &header.crit {
        let label = match c {
            RegisteredLabelWithPrivate::Assigned(h) => Label::Int(h.to_i64()),
            RegisteredLabelWithPrivate::PrivateUse(i) => Label::Int(*i),
            RegisteredLabelWithPrivate::Text(t) => Label::Text(t.clone()),
        };
        if !understood(&label) {
            return Err(ReceiptError::UnknownCritical(format!("{label:?}")));
        }
    }
    Ok(())
}

fn header_value(header: &coset::Header, label: i64) -> Option<&Value> {
    header
        .rest
        .iter()
        .find(|(l, _)| *l == Label::Int(label))
        .map(|(_, v)| v)
}

/// The vds must be in the protected header: an unprotected one could be swapped freely.
fn check_vds(sign1: &CoseSign1) -> Result<(), ReceiptError> {
    let vds = header_value(&sign1.protected.header, HEADER_VDS)
        .and_then(|v| v.as_integer())
        .and_then(|i| i64::try_from(i).ok());
    match vds {
        Some(VDS_RFC9162_SHA256) => Ok(()),
        other => Err(ReceiptError::UnsupportedVds(other)),
    }
}

fn receipt_algorithm(header: &coset::Header) -> Result<Algorithm, ReceiptError> {
    let id = match &header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(a)) => a.to_i64(),
        Some(RegisteredLabelWithPrivate::PrivateUse(i)) => *i,
        _ => return Err(ReceiptError::UnsupportedAlgorithm),
    };
    Algorithm::from_cose_id(id).ok_or(ReceiptError::UnsupportedAlgorithm)
}

/// Reads `iss` and `iat` from the protected CWT claims, when present.
fn cwt_claims(header: &coset::Header) -> Result<(Option<String>, Option<i64>), ReceiptError> {
    let Some(claims) = header_value(header, HEADER_CWT_CLAIMS) else {
        return Ok((None, None));
    };
    let Value::Map(entries) = claims else {
        return Err(ReceiptError::Malformed("CWT claims are not a map".into()));
    };
    let claim = |key: i64| {
        entries
            .iter()
            .find(|(k, _)| k.as_integer() == Some(key.into()))
            .map(|(_, v)| v)
    };
    let issuer = match claim(CLAIM_ISS) {
        None => None,
        Some(Value::Text(s)) if s.len() <= MAX_ISSUER_LEN => Some(s.clone()),
        Some(_) => return Err(ReceiptError::Malformed("bad iss claim".into())),
    };
    let issued_at = match claim(CLAIM_IAT) {
        None => None,
        Some(v) => Some(
            v.as_integer()
                .and_then(|i| i64::try_from(i).ok())
                .ok_or_else(|| ReceiptError::Malformed("bad iat claim".into()))?,
        ),
    };
    Ok((issuer, issued_at))
}

/// Extracts the single inclusion proof from `unprotected[396][-1]`.
fn inclusion_proof_of(header: &coset::Header) -> Result<(u64, u64, Vec<Hash>), ReceiptError> {
    let bad = |m: &str| ReceiptError::BadProof(m.to_owned());
    let Some(Value::Map(vdp)) = header_value(header, HEADER_VDP) else {
        return Err(bad("no 396 map in the unprotected header"));
    };
    let proofs = vdp
        .iter()
        .find(|(k, _)| k.as_integer() == Some(VDP_INCLUSION_PROOFS.into()))
        .map(|(_, v)| v)
        .ok_or_else(|| bad("no -1 (inclusion proofs) entry"))?;
    let Value::Array(proofs) = proofs else {
        return Err(bad("inclusion proofs are not an array"));
    };
    let [Value::Bytes(proof)] = proofs.as_slice() else {
        return Err(bad("expected exactly one inclusion proof bstr"));
    };
    decode_inclusion_proof(proof)
}

/// Decodes `[tree_size: uint, leaf_index: uint, [* bstr .size 32]]` with nothing after it.
fn decode_inclusion_proof(bytes: &[u8]) -> Result<(u64, u64, Vec<Hash>), ReceiptError> {
    let bad = |m: &str| ReceiptError::BadProof(m.to_owned());
    let mut reader = bytes;
    let value: Value = ciborium::from_reader(&mut reader).map_err(|_| bad("not CBOR"))?;
    if !reader.is_empty() {
        return Err(bad("trailing bytes"));
    }
    let Value::Array(items) = value else {
        return Err(bad("not an array"));
    };
    let [size, index, Value::Array(path)] = items.as_slice() else {
        return Err(bad("not [tree_size, leaf_index, path]"));
    };
    let uint = |v: &Value| {
        v.as_integer()
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| bad("size and index must be unsigned integers"))
    };
    let (size, index) = (uint(size)?, uint(index)?);
    if path.len() > MAX_INCLUSION_PATH {
        return Err(ProofError::ProofTooLong {
            len: path.len(),
            max: MAX_INCLUSION_PATH,
        }
        .into());
    }
    let path = path
        .iter()
        .map(|h| match h {
            Value::Bytes(b) => Hash::try_from(b.as_slice()).map_err(|_| bad("hash not 32 bytes")),
            _ => Err(bad("path element is not a bstr")),
        })
        .collect::<Result<Vec<Hash>, _>>()?;
    Ok((size, index, path))
}
