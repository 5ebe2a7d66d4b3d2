//! Verifies IEEE 802.1AR IDevID certificate chains against a maker's registered roots.
//!
//! A maker registers one or more X.509 root certificates ([`Root`]) on the ledger. A device's
//! birth certificate may carry its IDevID chain (`x5chain`, RFC 9360: DER certificates, leaf
//! first). [`verify_chain`] checks, at a time the caller gives (the block time, never the wall
//! clock), that the chain leads to one of the maker's roots, and returns the leaf's public key
//! so the ledger can require it to be the device key of the birth certificate.
//!
//! Path building, validity dates, basic constraints, extended key usage and every signature are
//! checked by `rustls-webpki` (with `aws-lc-rs` doing the cryptography); `x509-cert` only reads
//! fields webpki does not expose (dates, the subject's serialNumber, key usage bits). What is
//! and is not checked, and why, is in `docs/idevid.md`.
//!
//! Invariant: this crate knows nothing of the clock, the network or revocation; the same
//! inputs always give the same answer.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage, VerifiedPath};
use x509_cert::der::oid::db::{rfc4519, rfc5912, rfc8410};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::DirectoryString;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage as KeyUsageBits};
use x509_cert::Certificate;

/// Most certificates in a chain: the leaf and up to three intermediates (a registered root
/// sent along counts as one of them).
pub const MAX_CHAIN_CERTS: usize = 4;
/// Largest DER certificate accepted, in bytes, in a chain or as a root.
pub const MAX_CERT_BYTES: usize = 4096;
/// Most roots one maker may register.
pub const MAX_ROOTS: usize = 16;

/// Signature algorithms accepted anywhere in a chain. Hash and curve are paired (P-256 with
/// SHA-256, P-384 with SHA-384); RSA (PKCS#1 v1.5, 2048 to 8192 bits) is accepted for the
/// signatures of roots and intermediates, but a leaf key must be P-256, P-384 or Ed25519.
static SUPPORTED_ALGS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
    webpki::aws_lc_rs::ED25519,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
];

/// Why a root or a chain was refused. Each refusal has its own variant; texts from webpki are
/// kept where webpki gives the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdevidError {
    /// The chain holds no certificate.
    #[error("the IDevID chain is empty")]
    EmptyChain,
    /// The chain holds more certificates than [`MAX_CHAIN_CERTS`].
    #[error("the IDevID chain has {count} certificates, more than the {max} allowed")]
    TooManyCerts {
        /// Certificates in the chain.
        count: usize,
        /// [`MAX_CHAIN_CERTS`].
        max: usize,
    },
    /// A certificate of the chain is larger than [`MAX_CERT_BYTES`].
    #[error("certificate {index} of the chain is {len} bytes, more than the {max} allowed")]
    CertTooLarge {
        /// Position in the chain (0 is the leaf).
        index: usize,
        /// Its length in bytes.
        len: usize,
        /// [`MAX_CERT_BYTES`].
        max: usize,
    },
    /// A certificate of the chain is not a well-formed DER X.509 certificate.
    #[error("certificate {index} of the chain is malformed: {reason}")]
    MalformedCert {
        /// Position in the chain (0 is the leaf).
        index: usize,
        /// What the parser said.
        reason: String,
    },
    /// More roots were given than [`MAX_ROOTS`].
    #[error("{count} roots given, more than the {max} a maker may register")]
    TooManyRoots {
        /// Roots given.
        count: usize,
        /// [`MAX_ROOTS`].
        max: usize,
    },
    /// A root certificate is larger than [`MAX_CERT_BYTES`].
    #[error("the root certificate is {len} bytes, more than the {max} allowed")]
    RootTooLarge {
        /// Its length in bytes.
        len: usize,
        /// [`MAX_CERT_BYTES`].
        max: usize,
    },
    /// A root certificate is not a well-formed DER X.509 certificate.
    #[error("the root certificate is malformed: {0}")]
    MalformedRoot(String),
    /// A root certificate is not a CA certificate (no basicConstraints cA=TRUE, or a key usage
    /// without keyCertSign).
    #[error("the root certificate is not a CA certificate: {0}")]
    RootNotCa(&'static str),
    /// No path leads from the leaf to a registered root (unknown issuer, missing
    /// intermediate, or a root of another maker).
    #[error("the IDevID chain does not lead to a registered root of the maker")]
    NotChainedToRegisteredRoot,
    /// A certificate of the path (the registered root included) is not valid yet at `at_ms`.
    #[error("a certificate of the IDevID path is not valid before {not_before_ms} ms (checked at {at_ms} ms)")]
    NotYetValid {
        /// The certificate's notBefore, in ms since the Unix epoch.
        not_before_ms: u64,
        /// The time of the check.
        at_ms: u64,
    },
    /// A certificate of the path (the registered root included) has expired at `at_ms`.
    #[error(
        "a certificate of the IDevID path expired at {not_after_ms} ms (checked at {at_ms} ms)"
    )]
    Expired {
        /// The certificate's notAfter, in ms since the Unix epoch.
        not_after_ms: u64,
        /// The time of the check.
        at_ms: u64,
    },
    /// A signature or key algorithm is not one this crate accepts (see `docs/idevid.md`).
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// A signature in the path does not verify with its issuer's key.
    #[error("bad certificate signature: {0}")]
    BadSignature(String),
    /// A certificate used as an issuer is not a CA (basicConstraints cA=FALSE or absent).
    #[error("an issuer in the IDevID path is not a CA certificate")]
    IssuerNotCa,
    /// The leaf is a CA certificate, which cannot be a device's identity.
    #[error("the IDevID leaf is a CA certificate")]
    LeafIsCa,
    /// An intermediate's pathLenConstraint is exceeded.
    #[error("a pathLenConstraint in the IDevID path is exceeded")]
    PathLenExceeded,
    /// A certificate's key usage extension does not allow its role in the chain: the leaf must
    /// allow digitalSignature, an issuer keyCertSign.
    #[error("certificate {index} of the chain has a key usage without {needed}")]
    KeyUsageNotAllowed {
        /// Position in the chain (0 is the leaf).
        index: usize,
        /// The bit its role needs.
        needed: &'static str,
    },
    /// A certificate has an extended key usage extension that does not include TLS client
    /// authentication (no EKU at all is fine).
    #[error("extended key usage does not allow client authentication: {0}")]
    ExtendedKeyUsageNotAllowed(String),
    /// Any other refusal from webpki (e.g. an unknown critical extension), with its text.
    #[error("IDevID chain refused: {0}")]
    Rejected(String),
}

/// A maker's root certificate, checked to be usable as a trust anchor.
#[derive(Debug, Clone)]
pub struct Root {
    der: Vec<u8>,
    anchor: TrustAnchor<'static>,
    not_before_secs: u64,
    not_after_secs: u64,
}

impl PartialEq for Root {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Root {}

impl Root {
    /// Reads a DER root certificate. It must be at most [`MAX_CERT_BYTES`], parse as X.509,
    /// say it is a CA (basicConstraints cA=TRUE; a key usage extension, if present, must allow
    /// keyCertSign) and hold a P-256, P-384, Ed25519 or RSA key. It need not be self-signed:
    /// a registered root is trusted as it is, its own signature is not checked.
    pub fn from_der(der: &[u8]) -> Result<Root, IdevidError> {
        if der.len() > MAX_CERT_BYTES {
            return Err(IdevidError::RootTooLarge {
                len: der.len(),
                max: MAX_CERT_BYTES,
            });
        }
        let cert =
            Certificate::from_der(der).map_err(|e| IdevidError::MalformedRoot(e.to_string()))?;
        let anchor = webpki::anchor_from_trusted_cert(&CertificateDer::from(der))
            .map_err(|e| IdevidError::MalformedRoot(e.to_string()))?
            .to_owned();
        let tbs = cert.tbs_certificate();
        let constraints = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|e| IdevidError::MalformedRoot(e.to_string()))?;
        match constraints {
            Some((_, bc)) if bc.ca => {}
            Some(_) => return Err(IdevidError::RootNotCa("basicConstraints has cA=FALSE")),
            None => return Err(IdevidError::RootNotCa("no basicConstraints extension")),
        }
        if let Some(bits) = key_usage(&cert).map_err(IdevidError::MalformedRoot)? {
            if !bits.key_cert_sign() {
                return Err(IdevidError::RootNotCa("keyUsage without keyCertSign"));
            }
        }
        let kind = key_kind(&cert);
        if kind.is_none() {
            return Err(IdevidError::UnsupportedAlgorithm(format!(
                "root key algorithm {}",
                tbs.subject_public_key_info().algorithm.oid
            )));
        }
        let validity = tbs.validity();
        Ok(Root {
            der: der.to_vec(),
            anchor,
            not_before_secs: validity.not_before.to_unix_duration().as_secs(),
            not_after_secs: validity.not_after.to_unix_duration().as_secs(),
        })
    }

    /// The certificate as registered (DER).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Checks the root's own validity dates, which webpki leaves to the caller for trust
    /// anchors.
    fn check_validity(&self, time: UnixTime) -> Result<(), webpki::Error> {
        if time.as_secs() < self.not_before_secs {
            return Err(webpki::Error::CertNotValidYet {
                time,
                not_before: UnixTime::since_unix_epoch(Duration::from_secs(self.not_before_secs)),
            });
        }
        if time.as_secs() > self.not_after_secs {
            return Err(webpki::Error::CertExpired {
                time,
                not_after: UnixTime::since_unix_epoch(Duration::from_secs(self.not_after_secs)),
            });
        }
        Ok(())
    }
}

/// What a verified IDevID chain tells about the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdevid {
    /// The leaf's SubjectPublicKeyInfo (DER), as in the certificate: a P-256, P-384 or
    /// Ed25519 key, readable by `proverka_statement::PublicKey::from_spki_der`.
    pub leaf_spki_der: Vec<u8>,
    /// The subject's serialNumber attribute (X.520, 2.5.4.5), which IEEE 802.1AR uses for the
    /// device serial number; `None` when the subject has none.
    pub serial_number: Option<String>,
    /// The leaf's notAfter, in ms since the Unix epoch (253402300799000 for 802.1AR's
    /// 99991231235959Z, "no expiry").
    pub not_after_ms: u64,
}

/// Verifies an IDevID chain (`chain[0]` is the leaf, then intermediates in any order; a
/// registered root may be included) against a maker's registered `roots`, at `at_ms`
/// (ms since the Unix epoch; X.509 dates have whole seconds, so `at_ms` is compared at second
/// precision, rounded down).
///
/// Checks, in order: the counts and sizes; that each certificate parses and that its key usage
/// bits, when it has the extension, fit its role (leaf: digitalSignature, the others:
/// keyCertSign); that the leaf holds a P-256, P-384 or Ed25519 key; then webpki builds and
/// checks a path to one of the roots (signatures, validity at `at_ms`, basic constraints and path length, and
/// extended key usage: absent, or including client authentication), and the root used must
/// itself be within its validity at `at_ms`.
pub fn verify_chain(
    chain: &[&[u8]],
    roots: &[Root],
    at_ms: u64,
) -> Result<VerifiedIdevid, IdevidError> {
    if chain.is_empty() {
        return Err(IdevidError::EmptyChain);
    }
    if chain.len() > MAX_CHAIN_CERTS {
        return Err(IdevidError::TooManyCerts {
            count: chain.len(),
            max: MAX_CHAIN_CERTS,
        });
    }
    if roots.len() > MAX_ROOTS {
        return Err(IdevidError::TooManyRoots {
            count: roots.len(),
            max: MAX_ROOTS,
        });
    }
    if let Some((index, der)) = chain
        .iter()
        .enumerate()
        .find(|(_, der)| der.len() > MAX_CERT_BYTES)
    {
        return Err(IdevidError::CertTooLarge {
            index,
            len: der.len(),
            max: MAX_CERT_BYTES,
        });
    }

    let ders: Vec<CertificateDer<'_>> = chain.iter().map(|d| CertificateDer::from(*d)).collect();
    let (leaf_der, issuer_ders) = ders.split_first().ok_or(IdevidError::EmptyChain)?;
    let (leaf_cert, leaf) = read_chain_cert(0, leaf_der)?;
    require_key_usage(
        0,
        &leaf_cert,
        "digitalSignature",
        KeyUsageBits::digital_signature,
    )?;
    for (i, der) in issuer_ders.iter().enumerate() {
        let (cert, _) = read_chain_cert(i + 1, der)?;
        require_key_usage(i + 1, &cert, "keyCertSign", KeyUsageBits::key_cert_sign)?;
    }
    let leaf_tbs = leaf_cert.tbs_certificate();
    match key_kind(&leaf_cert) {
        Some(KeyKind::P256 | KeyKind::P384 | KeyKind::Ed25519) => {}
        _ => {
            return Err(IdevidError::UnsupportedAlgorithm(format!(
                "leaf key algorithm {} (a device key must be P-256, P-384 or Ed25519)",
                leaf_tbs.subject_public_key_info().algorithm.oid
            )))
        }
    }
    let serial_number = leaf_tbs
        .subject()
        .by_oid::<DirectoryString>(rfc4519::SERIAL_NUMBER)
        .map_err(|e| IdevidError::MalformedCert {
            index: 0,
            reason: format!("subject serialNumber: {e}"),
        })?
        .map(|s| s.value().into_owned());
    let not_after_ms = millis(leaf_tbs.validity().not_after.to_unix_duration());

    let anchors: Vec<TrustAnchor<'_>> = roots.iter().map(|r| r.anchor.clone()).collect();
    let time = UnixTime::since_unix_epoch(Duration::from_millis(at_ms));
    // webpki does not look at a trust anchor's dates; a registered root must be within its
    // validity too. Several registered roots may share subject and key (a re-issued root):
    // any one of them in validity will do.
    let root_in_validity = |path: &VerifiedPath<'_>| -> Result<(), webpki::Error> {
        let mut refusal = webpki::Error::UnknownIssuer;
        for root in roots.iter().filter(|r| r.anchor == *path.anchor()) {
            match root.check_validity(time) {
                Ok(()) => return Ok(()),
                Err(e) => refusal = e,
            }
        }
        Err(refusal)
    };
    // IDevIDs normally carry no extended key usage; 802.1AR uses them to authenticate the
    // device as a (TLS, EAP-TLS) client. So: no EKU is accepted, and an EKU present must
    // include id-kp-clientAuth (RFC 5280 4.2.1.12 semantics).
    leaf.verify_for_usage(
        SUPPORTED_ALGS,
        &anchors,
        issuer_ders,
        time,
        KeyUsage::client_auth(),
        None,
        Some(&root_in_validity),
    )
    .map_err(|e| from_webpki(e, at_ms))?;

    Ok(VerifiedIdevid {
        leaf_spki_der: leaf.subject_public_key_info().as_ref().to_vec(),
        serial_number,
        not_after_ms,
    })
}

/// Reads certificate `index` of the chain with both parsers. webpki reads certificates more
/// strictly than x509-cert in places; asking it here reports a certificate it cannot read
/// with its position, rather than as a failed path.
fn read_chain_cert<'a>(
    index: usize,
    der: &'a CertificateDer<'a>,
) -> Result<(Certificate, EndEntityCert<'a>), IdevidError> {
    let malformed = |reason: String| IdevidError::MalformedCert { index, reason };
    let cert = Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
    let webpki_cert = EndEntityCert::try_from(der).map_err(|e| malformed(e.to_string()))?;
    Ok((cert, webpki_cert))
}

/// If certificate `index` has a key usage extension, it must have the bit its role needs.
fn require_key_usage(
    index: usize,
    cert: &Certificate,
    needed: &'static str,
    has: fn(&KeyUsageBits) -> bool,
) -> Result<(), IdevidError> {
    match key_usage(cert).map_err(|reason| IdevidError::MalformedCert { index, reason })? {
        Some(bits) if !has(&bits) => Err(IdevidError::KeyUsageNotAllowed { index, needed }),
        _ => Ok(()),
    }
}

/// Key algorithms this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    P256,
    P384,
    Ed25519,
    Rsa,
}

/// The certificate's key algorithm, if it is one this crate knows.
fn key_kind(cert: &Certificate) -> Option<KeyKind> {
    let algorithm = &cert.tbs_certificate().subject_public_key_info().algorithm;
    if algorithm.oid == rfc5912::ID_EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = algorithm.parameters.as_ref()?.decode_as().ok()?;
        return match curve {
            rfc5912::SECP_256_R_1 => Some(KeyKind::P256),
            rfc5912::SECP_384_R_1 => Some(KeyKind::P384),
            _ => None,
        };
    }
    match algorithm.oid {
        rfc8410::ID_ED_25519 => Some(KeyKind::Ed25519),
        rfc5912::RSA_ENCRYPTION => Some(KeyKind::Rsa),
        _ => None,
    }
}

/// The certificate's key usage bits, if it has the extension.
fn key_usage(cert: &Certificate) -> Result<Option<KeyUsageBits>, String> {
    cert.tbs_certificate()
        .get_extension::<KeyUsageBits>()
        .map(|ku| ku.map(|(_critical, bits)| bits))
        .map_err(|e| format!("keyUsage: {e}"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn secs_to_millis(t: UnixTime) -> u64 {
    t.as_secs().saturating_mul(1000)
}

/// Maps webpki's refusal to ours, keeping its text where it has detail.
fn from_webpki(e: webpki::Error, at_ms: u64) -> IdevidError {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => IdevidError::NotChainedToRegisteredRoot,
        E::CertExpired { not_after, .. } => IdevidError::Expired {
            not_after_ms: secs_to_millis(not_after),
            at_ms,
        },
        E::CertNotValidYet { not_before, .. } => IdevidError::NotYetValid {
            not_before_ms: secs_to_millis(not_before),
            at_ms,
        },
        E::InvalidSignatureForPublicKey => IdevidError::BadSignature(e.to_string()),
        // (webpki built with `alloc` reports the `...Context` forms of these errors only.)
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            IdevidError::UnsupportedAlgorithm(e.to_string())
        }
        E::EndEntityUsedAsCa => IdevidError::IssuerNotCa,
        E::CaUsedAsEndEntity => IdevidError::LeafIsCa,
        E::PathLenConstraintViolated => IdevidError::PathLenExceeded,
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            IdevidError::ExtendedKeyUsageNotAllowed(e.to_string())
        }
        other => IdevidError::Rejected(other.to_string()),
    }
}
