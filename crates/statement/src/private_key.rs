//! Signing keys we issue: P-256 (the default, what HSMs and secure elements hold) and Ed25519.

use core::fmt;

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING,
};

use crate::public_key::{read_pem, write_pem};
use crate::{Algorithm, KeyError, KeyType, PublicKey};

/// A P-256 signing key (ECDSA with SHA-256, raw r || s signatures).
pub struct P256SigningKey {
    pair: EcdsaKeyPair,
    public: PublicKey,
}

/// An Ed25519 signing key (RFC 8032, deterministic signatures).
pub struct Ed25519SigningKey {
    key: ed25519_consensus::SigningKey,
}

/// A private key this crate signs with. P-384 keys are verified but never used for signing.
pub enum PrivateKey {
    /// P-256 key; signs ES256.
    P256(P256SigningKey),
    /// Ed25519 key; signs EdDSA.
    Ed25519(Ed25519SigningKey),
}

impl PrivateKey {
    /// Generates a fresh key from the operating system's random source.
    /// P-384 returns [`KeyError::UnsupportedForSigning`].
    pub fn generate(kt: KeyType) -> Result<Self, KeyError> {
        match kt {
            KeyType::P256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Generation)?;
                Self::from_p256_pair(pair)
            }
            KeyType::Ed25519 => Ok(Self::from_ed25519_seed(
                ed25519_consensus::SigningKey::new(rand_core::OsRng).to_bytes(),
            )),
            KeyType::P384 => Err(KeyError::UnsupportedForSigning(KeyType::P384)),
        }
    }

    /// Builds an Ed25519 key from its 32-byte RFC 8032 seed (the private key proper).
    pub fn from_ed25519_seed(seed: [u8; 32]) -> Self {
        PrivateKey::Ed25519(Ed25519SigningKey {
            key: ed25519_consensus::SigningKey::from(seed),
        })
    }

    fn from_p256_pair(pair: EcdsaKeyPair) -> Result<Self, KeyError> {
        let public = PublicKey::from_p256_point(pair.public_key().as_ref())?;
        Ok(PrivateKey::P256(P256SigningKey { pair, public }))
    }

    /// Reads an unencrypted PKCS#8 "PRIVATE KEY" PEM block (v1 or v2), as written by
    /// `openssl genpkey` or Python `cryptography`.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let der = read_pem(pem, "PRIVATE KEY")?;
        Self::from_pkcs8_der(&der)
    }

    /// Reads an unencrypted PKCS#8 DER private key (v1 or v2).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Self::from_p256_pair(pair);
        }
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            let seed = pair.seed().map_err(|_| KeyError::UnsupportedPrivateKey)?;
            let seed = seed
                .as_be_bytes()
                .map_err(|_| KeyError::UnsupportedPrivateKey)?;
            let seed: [u8; 32] = seed
                .as_ref()
                .try_into()
                .map_err(|_| KeyError::UnsupportedPrivateKey)?;
            return Ok(Self::from_ed25519_seed(seed));
        }
        // Recognise P-384 only to say why it is refused.
        if EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, der).is_ok() {
            return Err(KeyError::UnsupportedForSigning(KeyType::P384));
        }
        Err(KeyError::UnsupportedPrivateKey)
    }

    /// Encodes the key as an unencrypted PKCS#8 v1 "PRIVATE KEY" PEM block (LF line endings).
    /// Ed25519 uses the RFC 8410 v1 form (no embedded public key), which every PKCS#8 reader
    /// accepts.
    ///
    /// # Panics
    /// Only if the crypto library fails to encode a key it already holds (an internal error,
    /// not reachable from input).
    pub fn to_pkcs8_pem(&self) -> String {
        let der = match self {
            PrivateKey::P256(k) => k.pair.to_pkcs8v1().map(|doc| doc.as_ref().to_vec()),
            PrivateKey::Ed25519(k) => Ed25519KeyPair::from_seed_unchecked(k.key.as_bytes())
                .map_err(|_| aws_lc_rs::error::Unspecified)
                .and_then(|pair| pair.to_pkcs8v1())
                .map(|doc| doc.as_ref().to_vec()),
        };
        let der = der.expect("encoding a held key as PKCS#8 cannot fail");
        write_pem("PRIVATE KEY", der)
    }

    /// Returns the matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => k.public.clone(),
            PrivateKey::Ed25519(k) => {
                PublicKey::Ed25519(ed25519_consensus::VerificationKeyBytes::from(&k.key).into())
            }
        }
    }

    /// Returns the algorithm this key signs with: ES256 for P-256 and EdDSA (-8) for Ed25519,
    /// the ids deployed verifiers (pycose, go-cose, t_cose) understand.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PrivateKey::P256(_) => Algorithm::Es256,
            PrivateKey::Ed25519(_) => Algorithm::EdDsa,
        }
    }

    /// Signs `message`, returning the raw COSE signature: r || s (64 bytes) for P-256, the
    /// 64-byte RFC 8032 signature for Ed25519.
    ///
    /// # Panics
    /// Only if the crypto library fails to sign with a key it validated (an internal error, not
    /// reachable from input).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            PrivateKey::P256(k) => k
                .pair
                .sign(&SystemRandom::new(), message)
                .expect("ECDSA signing with a validated key cannot fail")
                .as_ref()
                .to_vec(),
            PrivateKey::Ed25519(k) => k.key.sign(message).to_bytes().to_vec(),
        }
    }
}

// Debug output shows the public half only, so keys never leak into logs.
impl fmt::Debug for P256SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P256SigningKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Ed25519SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let public: [u8; 32] = ed25519_consensus::VerificationKeyBytes::from(&self.key).into();
        f.debug_struct("Ed25519SigningKey")
            .field("public", &hex::encode(public))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivateKey::P256(k) => k.fmt(f),
            PrivateKey::Ed25519(k) => k.fmt(f),
        }
    }
}
