//! Helpers shared by the specification tests: fixed keys, standard parameters, and a way to
//! build statements with arbitrary headers (validly signed, so that only the rule under test
//! can fail).

use ciborium::value::Value;
use proverka_statement::{sig_structure, ContentType, PrivateKey, StatementParams};

/// A fixed Ed25519 key (seed = 32 bytes of 0x01) so failures reproduce exactly.
pub fn ed25519_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed([0x01; 32])
}

/// A second fixed Ed25519 key.
pub fn other_ed25519_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed([0x02; 32])
}

pub fn p256_key() -> PrivateKey {
    PrivateKey::from_pkcs8_pem(OPENSSL_P256_PKCS8).expect("fixture key loads")
}

pub const PAYLOAD: &[u8] = &[0xa1, 0x01, 0x65, b'h', b'e', b'l', b'l', b'o']; // {1: "hello"}

pub fn params() -> StatementParams<'static> {
    StatementParams {
        iss: "https://maker.example",
        sub: "urn:example:device:1234",
        iat: 1_767_225_600, // 2026-01-01T00:00:00Z
        content_type: ContentType::Text("application/cbor".into()),
        payload: PAYLOAD,
    }
}

/// Test-only keys made with OpenSSL 3.0 (`openssl genpkey`, `openssl pkey -pubout`).
pub const OPENSSL_P256_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfeEKFEJ7PZ+H9q6J
dccHvzAF7RftS4FNTfURq1D6aUOhRANCAAQ3ZDP/PzBJ/oa8oxHRQkWVCmqcSdKM
44CiWp5Phx54nBSkfDzpBGQCV21JhaqvvhzWnR7+psCRss7e51ZSUovZ
-----END PRIVATE KEY-----
";
pub const OPENSSL_P256_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEN2Qz/z8wSf6GvKMR0UJFlQpqnEnS
jOOAolqeT4ceeJwUpHw86QRkAldtSYWqr74c1p0e/qbAkbLO3udWUlKL2Q==
-----END PUBLIC KEY-----
";
/// The same P-256 key with a compressed point.
pub const OPENSSL_P256_SPKI_COMPRESSED: &str = "-----BEGIN PUBLIC KEY-----
MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADN2Qz/z8wSf6GvKMR0UJFlQpqnEnS
jOOAolqeT4ceeJw=
-----END PUBLIC KEY-----
";
pub const OPENSSL_P384_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDA0WtIWv+9bf55WySmU
kWIrSmsHvpQVG+vqYnk8GvOp7C8kVPvspTeue8lsGu1NrKuhZANiAARpKLEhdcnT
Q9R+M50CMLDdLyCzDFdlsmihn4qNerxwU5w1+RQRi5u2C1tyYSIqNC9bno/WKb6s
n/2NJU5SeuEulHxpCJd8Ggz+YV1mGtQiK6sQcU28qtompyRn+MJn0MI=
-----END PRIVATE KEY-----
";
pub const OPENSSL_P384_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEaSixIXXJ00PUfjOdAjCw3S8gswxXZbJo
oZ+KjXq8cFOcNfkUEYubtgtbcmEiKjQvW56P1im+rJ/9jSVOUnrhLpR8aQiXfBoM
/mFdZhrUIiurEHFNvKraJqckZ/jCZ9DC
-----END PUBLIC KEY-----
";
pub const OPENSSL_ED25519_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIBCIIOQxb2XSPUOqrHlu6REEGEtOQQQkRXCSUzXci5aW
-----END PRIVATE KEY-----
";
pub const OPENSSL_ED25519_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAXq8WH9qPDoXSjitR8PJYvKFBi+Kkc5roLOy8v1FarH4=
-----END PUBLIC KEY-----
";

pub fn int(i: i64) -> Value {
    Value::from(i)
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

pub fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

/// A statement under construction. Starts as exactly what `sign_statement` emits; tests then
/// change one thing and sign it validly.
#[derive(Clone)]
pub struct Draft {
    pub protected: Vec<(Value, Value)>,
    pub claims: Vec<(Value, Value)>,
    pub unprotected: Vec<(Value, Value)>,
    pub payload: Value,
    /// `None` builds an untagged COSE_Sign1.
    pub tag: Option<u64>,
    /// Replaces the protected bstr contents verbatim when set.
    pub raw_protected: Option<Vec<u8>>,
}

impl Draft {
    pub fn new(key: &PrivateKey) -> Self {
        let p = params();
        Draft {
            protected: vec![
                (int(1), int(key.algorithm().cose_id())),
                (int(3), text("application/cbor")),
                (int(4), bytes(&key.public_key().thumbprint())),
            ],
            claims: vec![
                (int(1), text(p.iss)),
                (int(2), text(p.sub)),
                (int(6), int(p.iat)),
            ],
            unprotected: vec![],
            payload: bytes(PAYLOAD),
            tag: Some(18),
            raw_protected: None,
        }
    }

    /// Sets (or adds) a protected header parameter.
    pub fn set(mut self, label: i64, value: Value) -> Self {
        set_entry(&mut self.protected, label, value);
        self
    }

    /// Removes a protected header parameter.
    pub fn remove(mut self, label: i64) -> Self {
        self.protected.retain(|(k, _)| *k != int(label));
        self
    }

    pub fn set_claim(mut self, label: i64, value: Value) -> Self {
        set_entry(&mut self.claims, label, value);
        self
    }

    pub fn remove_claim(mut self, label: i64) -> Self {
        self.claims.retain(|(k, _)| *k != int(label));
        self
    }

    pub fn unprotected(mut self, label: i64, value: Value) -> Self {
        self.unprotected.push((int(label), value));
        self
    }

    /// The protected header bytes: the entries in the order given, then claims under 15
    /// (unless a test already set 15 itself).
    pub fn protected_bytes(&self) -> Vec<u8> {
        if let Some(raw) = &self.raw_protected {
            return raw.clone();
        }
        let mut entries = self.protected.clone();
        if !entries.iter().any(|(k, _)| *k == int(15)) {
            entries.push((int(15), Value::Map(self.claims.clone())));
        }
        encode(&Value::Map(entries))
    }

    /// Signs the draft with `key` and encodes it.
    pub fn sign(&self, key: &PrivateKey) -> Vec<u8> {
        let protected = self.protected_bytes();
        let payload = match &self.payload {
            Value::Bytes(b) => b.clone(),
            _ => Vec::new(),
        };
        let signature = key.sign(&sig_structure(&protected, &payload));
        self.encode_with_signature(&signature)
    }

    /// Encodes the draft with a given signature.
    pub fn encode_with_signature(&self, signature: &[u8]) -> Vec<u8> {
        let sign1 = Value::Array(vec![
            Value::Bytes(self.protected_bytes()),
            Value::Map(self.unprotected.clone()),
            self.payload.clone(),
            Value::Bytes(signature.to_vec()),
        ]);
        let value = match self.tag {
            Some(tag) => Value::Tag(tag, Box::new(sign1)),
            None => sign1,
        };
        encode(&value)
    }
}

fn set_entry(entries: &mut Vec<(Value, Value)>, label: i64, value: Value) {
    match entries.iter_mut().find(|(k, _)| *k == int(label)) {
        Some(entry) => entry.1 = value,
        None => entries.push((int(label), value)),
    }
}

pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).expect("in-memory encoding");
    out
}
