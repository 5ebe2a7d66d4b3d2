//! The specification of IDevID chain checking, run twice: against the certificates committed in
//! `tests/fixtures/` (module `on_committed_fixtures`, one test per rule), and against a set
//! made afresh by `scripts/make-idevid-certs.sh` with the openssl of this machine
//! (`freshly_generated_certificates_meet_every_specification`), so a change in openssl's
//! output shows up too.
//!
//! All certificates come from openssl, a tool nobody on the team wrote. Every check is at a
//! fixed time given to the verifier (default 2030-01-01T00:00:00Z), never the wall clock.

use std::path::{Path, PathBuf};
use std::process::Command;

use proverka_idevid::{
    verify_chain, IdevidError, Root, VerifiedIdevid, MAX_CERT_BYTES, MAX_CHAIN_CERTS, MAX_ROOTS,
};
use proverka_statement::{PrivateKey, PublicKey};

const AT_2021: u64 = 1_609_459_200_000;
const AT_2023: u64 = 1_672_531_200_000;
const AT_2024: u64 = 1_704_067_200_000;
/// Inside the validity of every certificate meant to be good.
const AT_2030: u64 = 1_893_456_000_000;
const AT_2059: u64 = 2_808_604_800_000;
const AT_2060: u64 = 2_840_140_800_000;
const AT_2070: u64 = 3_155_760_000_000;
const AT_2090: u64 = 3_786_912_000_000;
/// 99991231235959Z, RFC 5280's "no well-defined expiration", as IEEE 802.1AR recommends.
const FOREVER_MS: u64 = 253_402_300_799_000;

/// A directory of certificates made by the script.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn committed() -> Certs {
        Certs {
            dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        }
    }

    fn der(&self, name: &str) -> Vec<u8> {
        let path = self.dir.join(format!("{name}.der"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    fn key(&self, name: &str) -> PublicKey {
        let path = self.dir.join(format!("{name}.key.pem"));
        let pem = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        PrivateKey::from_pkcs8_pem(&pem)
            .expect("the script writes PKCS#8 keys")
            .public_key()
    }

    fn root(&self, name: &str) -> Root {
        Root::from_der(&self.der(name)).unwrap_or_else(|e| panic!("{name} as a root: {e}"))
    }

    /// The maker's one registered root, as in most specs.
    fn maker_roots(&self) -> Vec<Root> {
        vec![self.root("root-ca")]
    }

    /// Verifies the named certificates (leaf first) against `roots` at `at_ms`.
    fn verify(
        &self,
        names: &[&str],
        roots: &[Root],
        at_ms: u64,
    ) -> Result<VerifiedIdevid, IdevidError> {
        let ders: Vec<Vec<u8>> = names.iter().map(|n| self.der(n)).collect();
        let chain: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
        verify_chain(&chain, roots, at_ms)
    }
}

/// Defines each spec once as a function of a certificate set, a test running it on the
/// committed fixtures, and the list the freshly-generated test runs through.
macro_rules! specs {
    ($( $(#[doc = $doc:literal])* fn $name:ident($c:ident) $body:block )*) => {
        $( $(#[doc = $doc])* fn $name($c: &Certs) $body )*

        mod on_committed_fixtures {
            $( #[test] fn $name() { super::$name(&super::Certs::committed()) } )*
        }

        const ALL_SPECS: &[(&str, fn(&Certs))] = &[$((stringify!($name), $name)),*];
    };
}

specs! {
    // ---- What a good IDevID gives ----

    /// The usual case: P-256 device key, P-384 intermediate, P-256 root, no EKU. The leaf key
    /// is the device's key as the statement crate reads it, with the 802.1AR serial number.
    fn accepts_p256_idevid_and_returns_the_device_key(c) {
        let v = c.verify(&["device-p256", "intermediate-ca"], &c.maker_roots(), AT_2030).unwrap();
        let key = PublicKey::from_spki_der(&v.leaf_spki_der).expect("a device key");
        assert_eq!(key, c.key("device-p256"));
        assert_eq!(v.serial_number.as_deref(), Some("PRV-0001"));
        assert_eq!(v.not_after_ms, FOREVER_MS);
    }

    /// An Ed25519 device key is returned the same way.
    fn accepts_ed25519_idevid_and_returns_the_device_key(c) {
        let v = c.verify(&["device-ed25519", "intermediate-ca"], &c.maker_roots(), AT_2030).unwrap();
        let key = PublicKey::from_spki_der(&v.leaf_spki_der).expect("a device key");
        assert_eq!(key, c.key("device-ed25519"));
        assert_eq!(v.serial_number.as_deref(), Some("PRV-0002"));
    }

    /// Ed25519 signatures are checked: here the intermediate's key is Ed25519.
    fn accepts_a_path_signed_with_ed25519(c) {
        let v = c.verify(&["device-under-ed25519-ca", "intermediate-ed25519"], &c.maker_roots(), AT_2030).unwrap();
        assert_eq!(v.serial_number.as_deref(), Some("PRV-0003"));
    }

    /// An RSA-2048 root may sign (here directly the leaf); the leaf key is still P-256.
    fn accepts_an_rsa_root(c) {
        let v = c.verify(&["device-under-rsa-root"], &[c.root("root-rsa")], AT_2030).unwrap();
        assert_eq!(PublicKey::from_spki_der(&v.leaf_spki_der).unwrap(), c.key("device-p256"));
    }

    /// A maker may register several roots; any one of them will do.
    fn accepts_any_of_the_makers_roots(c) {
        let roots = [c.root("other-root-ca"), c.root("root-rsa"), c.root("root-ca")];
        c.verify(&["device-p256", "intermediate-ca"], &roots, AT_2030).unwrap();
        c.verify(&["device-other-root"], &roots, AT_2030).unwrap();
    }

    /// A registered root need not be self-signed: a maker may register its intermediate.
    fn accepts_an_intermediate_registered_as_root(c) {
        c.verify(&["device-p256"], &[c.root("intermediate-ca")], AT_2030).unwrap();
    }

    /// x5chain may include the root itself, and the certificates after the leaf may come in
    /// any order.
    fn accepts_the_root_in_the_chain_and_any_order_after_the_leaf(c) {
        let roots = c.maker_roots();
        c.verify(&["device-p256", "intermediate-ca", "root-ca"], &roots, AT_2030).unwrap();
        c.verify(&["device-p256", "root-ca", "intermediate-ca"], &roots, AT_2030).unwrap();
    }

    /// An EKU is not needed; if present it must allow TLS client authentication.
    fn accepts_a_leaf_whose_eku_allows_client_auth(c) {
        c.verify(&["device-eku-client", "intermediate-ca"], &c.maker_roots(), AT_2030).unwrap();
    }

    /// No serialNumber in the subject: accepted, reported as none.
    fn reports_no_serial_number_when_the_subject_has_none(c) {
        let v = c.verify(&["device-no-serial", "intermediate-ca"], &c.maker_roots(), AT_2030).unwrap();
        assert_eq!(v.serial_number, None);
    }

    /// Validity bounds are inclusive, at second precision: the first second of the leaf and the
    /// last second of the root are inside.
    fn validity_bounds_are_inclusive(c) {
        let chain = ["device-p256", "intermediate-ca"];
        let roots = c.maker_roots();
        c.verify(&chain, &roots, AT_2024).unwrap();
        c.verify(&chain, &roots, AT_2059).unwrap();
        c.verify(&chain, &roots, AT_2060 + 999).unwrap();
        assert!(c.verify(&chain, &roots, AT_2060 + 1000).is_err());
        assert!(c.verify(&chain, &roots, AT_2024 - 1).is_err());
    }

    /// Same inputs, same answer: nothing depends on the clock or on state.
    fn is_deterministic(c) {
        let roots = c.maker_roots();
        let a = c.verify(&["device-p256", "intermediate-ca"], &roots, AT_2030);
        let b = c.verify(&["device-p256", "intermediate-ca"], &roots, AT_2030);
        assert_eq!(a, b);
        let a = c.verify(&["device-expired", "intermediate-ca"], &roots, AT_2030);
        let b = c.verify(&["device-expired", "intermediate-ca"], &roots, AT_2030);
        assert_eq!(a, b);
    }

    // ---- Limits and malformed input ----

    fn refuses_an_empty_chain(c) {
        assert_eq!(verify_chain(&[], &c.maker_roots(), AT_2030), Err(IdevidError::EmptyChain));
    }

    /// More than MAX_CHAIN_CERTS (leaf + 3) is refused before anything is parsed.
    fn refuses_more_than_max_chain_certs(c) {
        let leaf = c.der("device-p256");
        let int = c.der("intermediate-ca");
        let mut chain: Vec<&[u8]> = vec![&leaf];
        chain.resize(MAX_CHAIN_CERTS + 1, &int);
        assert_eq!(
            verify_chain(&chain, &c.maker_roots(), AT_2030),
            Err(IdevidError::TooManyCerts { count: MAX_CHAIN_CERTS + 1, max: MAX_CHAIN_CERTS })
        );
        chain.truncate(MAX_CHAIN_CERTS);
        assert!(verify_chain(&chain, &c.maker_roots(), AT_2030).is_ok(), "leaf + 3 is allowed");
    }

    fn refuses_a_cert_larger_than_max_cert_bytes(c) {
        let leaf = c.der("device-p256");
        let big = vec![0x30; MAX_CERT_BYTES + 1];
        assert_eq!(
            verify_chain(&[&leaf, &big], &c.maker_roots(), AT_2030),
            Err(IdevidError::CertTooLarge { index: 1, len: MAX_CERT_BYTES + 1, max: MAX_CERT_BYTES })
        );
    }

    fn refuses_a_malformed_cert(c) {
        let leaf = c.der("device-p256");
        let int = c.der("intermediate-ca");
        let truncated = &leaf[..leaf.len() - 1];
        for (chain, index) in [
            (vec![truncated, &int[..]], 0),
            (vec![&leaf[..], b"not a certificate"], 1),
            (vec![&leaf[..], &[]], 1),
        ] {
            match verify_chain(&chain, &c.maker_roots(), AT_2030) {
                Err(IdevidError::MalformedCert { index: i, .. }) => assert_eq!(i, index),
                other => panic!("expected MalformedCert at {index}, got {other:?}"),
            }
        }
    }

    fn refuses_more_than_max_roots(c) {
        let roots = vec![c.root("root-ca"); MAX_ROOTS + 1];
        assert_eq!(
            c.verify(&["device-p256", "intermediate-ca"], &roots, AT_2030),
            Err(IdevidError::TooManyRoots { count: MAX_ROOTS + 1, max: MAX_ROOTS })
        );
    }

    // ---- Not chained to the maker's roots ----

    /// A leaf made under another maker's root.
    fn refuses_a_leaf_signed_by_a_different_root(c) {
        assert_eq!(
            c.verify(&["device-other-root"], &c.maker_roots(), AT_2030),
            Err(IdevidError::NotChainedToRegisteredRoot)
        );
    }

    /// The leaf alone, without the intermediate that links it to the root.
    fn refuses_a_chain_missing_the_intermediate(c) {
        assert_eq!(
            c.verify(&["device-p256"], &c.maker_roots(), AT_2030),
            Err(IdevidError::NotChainedToRegisteredRoot)
        );
    }

    /// A maker with no registered root accepts no chain.
    fn refuses_everything_without_registered_roots(c) {
        assert_eq!(
            c.verify(&["device-p256", "intermediate-ca"], &[], AT_2030),
            Err(IdevidError::NotChainedToRegisteredRoot)
        );
    }

    // ---- Validity at the given time ----

    fn refuses_an_expired_leaf(c) {
        assert_eq!(
            c.verify(&["device-expired", "intermediate-ca"], &c.maker_roots(), AT_2030),
            Err(IdevidError::Expired { not_after_ms: AT_2021, at_ms: AT_2030 })
        );
    }

    fn refuses_a_not_yet_valid_leaf(c) {
        assert_eq!(
            c.verify(&["device-not-yet-valid", "intermediate-ca"], &c.maker_roots(), AT_2030),
            Err(IdevidError::NotYetValid { not_before_ms: AT_2090, at_ms: AT_2030 })
        );
    }

    /// The time is the one given, not the clock's: a good leaf, checked before it was made.
    fn refuses_a_good_leaf_at_a_time_before_its_validity(c) {
        assert_eq!(
            c.verify(&["device-p256", "intermediate-ca"], &c.maker_roots(), AT_2023),
            Err(IdevidError::NotYetValid { not_before_ms: AT_2024, at_ms: AT_2023 })
        );
    }

    /// webpki leaves a trust anchor's dates alone; we do not: the registered root expires in
    /// 2060, its intermediate and leaf never.
    fn refuses_a_chain_whose_registered_root_has_expired(c) {
        assert_eq!(
            c.verify(&["device-p256", "intermediate-ca"], &c.maker_roots(), AT_2070),
            Err(IdevidError::Expired { not_after_ms: AT_2060, at_ms: AT_2070 })
        );
    }

    // ---- Signatures and algorithms ----

    /// One bit of the leaf's signature flipped.
    fn refuses_a_tampered_signature(c) {
        match c.verify(&["device-tampered", "intermediate-ca"], &c.maker_roots(), AT_2030) {
            Err(IdevidError::BadSignature(text)) => assert!(text.contains("InvalidSignature"), "{text}"),
            other => panic!("expected BadSignature, got {other:?}"),
        }
    }

    /// Hash and curve must match: a P-384 issuer signing with SHA-256 is refused.
    fn refuses_an_unsupported_signature_algorithm(c) {
        match c.verify(&["device-p384-sha256", "intermediate-ca"], &c.maker_roots(), AT_2030) {
            Err(IdevidError::UnsupportedAlgorithm(text)) => assert!(text.contains("UnsupportedSignatureAlgorithm"), "{text}"),
            other => panic!("expected UnsupportedAlgorithm, got {other:?}"),
        }
    }

    // ---- Roles of the certificates ----

    /// An issuer that says CA:FALSE cannot sign a leaf, even with keyCertSign in its key usage.
    fn refuses_an_intermediate_that_is_not_a_ca(c) {
        assert_eq!(
            c.verify(&["device-under-not-ca", "intermediate-not-ca"], &c.maker_roots(), AT_2030),
            Err(IdevidError::IssuerNotCa)
        );
    }

    fn refuses_a_leaf_that_is_a_ca(c) {
        assert_eq!(
            c.verify(&["device-is-ca", "intermediate-ca"], &c.maker_roots(), AT_2030),
            Err(IdevidError::LeafIsCa)
        );
    }

    /// The P-384 intermediate has pathlen:0, so it may not sign another intermediate.
    fn refuses_a_path_longer_than_a_path_len_constraint_allows(c) {
        assert_eq!(
            c.verify(&["device-under-sub", "intermediate-sub", "intermediate-ca"], &c.maker_roots(), AT_2030),
            Err(IdevidError::PathLenExceeded)
        );
    }

    /// webpki refuses a certificate with a critical extension it does not know when reading it.
    fn refuses_a_leaf_with_an_unknown_critical_extension(c) {
        match c.verify(&["device-unknown-critical", "intermediate-ca"], &c.maker_roots(), AT_2030) {
            Err(IdevidError::MalformedCert { index: 0, reason }) => {
                assert!(reason.contains("UnsupportedCriticalExtension"), "{reason}")
            }
            other => panic!("expected MalformedCert at 0, got {other:?}"),
        }
    }

    /// The device key signs; a leaf whose key usage excludes digitalSignature is refused.
    fn refuses_a_leaf_without_digital_signature_key_usage(c) {
        assert_eq!(
            c.verify(&["device-key-agreement", "intermediate-ca"], &c.maker_roots(), AT_2030),
            Err(IdevidError::KeyUsageNotAllowed { index: 0, needed: "digitalSignature" })
        );
    }

    /// A certificate after the leaf must be allowed to sign certificates.
    fn refuses_an_issuer_without_key_cert_sign_key_usage(c) {
        assert_eq!(
            c.verify(&["device-p256", "device-ed25519"], &c.maker_roots(), AT_2030),
            Err(IdevidError::KeyUsageNotAllowed { index: 1, needed: "keyCertSign" })
        );
    }

    /// An EKU that leaves out client authentication (here: serverAuth only) is refused.
    fn refuses_a_leaf_whose_eku_excludes_client_auth(c) {
        match c.verify(&["device-eku-server", "intermediate-ca"], &c.maker_roots(), AT_2030) {
            Err(IdevidError::ExtendedKeyUsageNotAllowed(text)) => assert!(text.contains("RequiredEku"), "{text}"),
            other => panic!("expected ExtendedKeyUsageNotAllowed, got {other:?}"),
        }
    }

    // ---- Registering roots ----

    /// CA certificates of every supported key type can be registered.
    fn root_accepts_ca_certificates(c) {
        for name in ["root-ca", "other-root-ca", "root-rsa", "intermediate-ca", "intermediate-ed25519"] {
            let root = c.root(name);
            assert_eq!(root.der(), c.der(name).as_slice());
        }
    }

    fn root_refuses_a_certificate_that_is_not_a_ca(c) {
        assert_eq!(
            Root::from_der(&c.der("device-p256")),
            Err(IdevidError::RootNotCa("basicConstraints has cA=FALSE"))
        );
        assert_eq!(
            Root::from_der(&c.der("intermediate-not-ca")),
            Err(IdevidError::RootNotCa("basicConstraints has cA=FALSE"))
        );
    }

    fn root_refuses_malformed_der(c) {
        let root = c.der("root-ca");
        for bad in [&b"not a certificate"[..], &[], &root[..root.len() - 1]] {
            assert!(matches!(Root::from_der(bad), Err(IdevidError::MalformedRoot(_))), "{bad:?}");
        }
    }

    fn root_refuses_more_than_max_cert_bytes(_c) {
        assert_eq!(
            Root::from_der(&vec![0x30; MAX_CERT_BYTES + 1]),
            Err(IdevidError::RootTooLarge { len: MAX_CERT_BYTES + 1, max: MAX_CERT_BYTES })
        );
    }

    /// A P-521 root is refused when it is registered, not later when a device shows up.
    fn root_refuses_an_unsupported_key_algorithm(c) {
        assert!(matches!(Root::from_der(&c.der("root-p521")), Err(IdevidError::UnsupportedAlgorithm(_))));
    }
}

/// Runs the script into a fresh directory with this machine's openssl and checks the result
/// against every spec above. openssl is part of the base system: if it is missing this test
/// fails (it does not skip).
#[test]
fn freshly_generated_certificates_meet_every_specification() {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`openssl version` failed ({}); openssl is needed to make the IDevID test certificates",
            out.status
        ),
        Err(e) => panic!(
            "openssl is not installed ({e}); it is part of the base system and these tests need it \
             to make the IDevID test certificates: apt-get install openssl"
        ),
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-idevid-certs.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // The committed fixtures are the script's output: the same files.
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("listing a certificate directory")
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|n| n != "README.md")
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(dir.path()),
        names(&Certs::committed().dir),
        "fixtures out of date: regenerate them (see tests/fixtures/README.md)"
    );

    let fresh = Certs {
        dir: dir.path().to_path_buf(),
    };
    for (name, spec) in ALL_SPECS {
        eprintln!("fresh certificates: {name}");
        spec(&fresh);
    }
}
