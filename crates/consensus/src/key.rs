//! The validator's Ed25519 identity: signs votes and authenticates the validator on the network.

use commonware_codec::{Encode, ReadExt};
use commonware_cryptography::{ed25519, Signer};
use commonware_math::algebra::Random;

/// A validator's Ed25519 signing key (the 32-byte seed of RFC 8032).
///
/// Its public key, in hex, is how the validator is named in
/// [`Config::committee`](crate::Config::committee). The seed is secret: store its hex form in a
/// file readable only by the validator.
#[derive(Clone)]
pub struct ValidatorKey {
    key: ed25519::PrivateKey,
}

/// A key or public-key string is not what it claims to be.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not 64 hexadecimal characters.
    #[error("expected 64 hexadecimal characters (32 bytes)")]
    Format,
    /// Not an Ed25519 public key.
    #[error("not an Ed25519 public key")]
    PublicKey,
}

impl ValidatorKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self {
            key: ed25519::PrivateKey::random(commonware_utils::sys_rng()),
        }
    }

    /// The key whose RFC 8032 seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = ed25519::PrivateKey::read(&mut bytes::Bytes::copy_from_slice(&seed))
            .expect("any 32 bytes are a seed");
        Self { key }
    }

    /// Parses the hex seed written by [`ValidatorKey::to_seed_hex`] (surrounding whitespace is
    /// ignored, so a key file may end with a newline).
    pub fn from_seed_hex(hex_seed: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(hex_seed.trim()).map_err(|_| KeyError::Format)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Format)?;
        Ok(Self::from_seed(seed))
    }

    /// The secret seed in lowercase hex (64 characters), for a key file.
    pub fn to_seed_hex(&self) -> String {
        hex::encode(self.key.encode())
    }

    /// The public key in lowercase hex (64 characters): the validator's name in a committee.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key().as_ref())
    }

    /// The raw public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.public_key().as_ref());
        out
    }

    pub(crate) fn private_key(&self) -> ed25519::PrivateKey {
        self.key.clone()
    }

    pub(crate) fn public_key(&self) -> ed25519::PublicKey {
        self.key.public_key()
    }
}

impl std::fmt::Debug for ValidatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorKey")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

/// Parses a public key written in hex (as in a committee list).
pub(crate) fn parse_public_key(hex_key: &str) -> Result<ed25519::PublicKey, KeyError> {
    let bytes = hex::decode(hex_key.trim()).map_err(|_| KeyError::Format)?;
    if bytes.len() != 32 {
        return Err(KeyError::Format);
    }
    ed25519::PublicKey::read(&mut bytes::Bytes::from(bytes)).map_err(|_| KeyError::PublicKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_hex_round_trips_and_names_the_same_public_key() {
        let key = ValidatorKey::generate();
        let again = ValidatorKey::from_seed_hex(&format!("{}\n", key.to_seed_hex())).unwrap();
        assert_eq!(key.public_key_hex(), again.public_key_hex());
        assert_eq!(key.public_key_hex().len(), 64);
        assert_eq!(
            parse_public_key(&key.public_key_hex()).unwrap(),
            key.public_key()
        );
    }

    #[test]
    fn malformed_keys_are_rejected() {
        assert_eq!(
            ValidatorKey::from_seed_hex("abcd").unwrap_err(),
            KeyError::Format
        );
        assert_eq!(
            ValidatorKey::from_seed_hex(&"zz".repeat(32)).unwrap_err(),
            KeyError::Format
        );
        assert_eq!(parse_public_key("00").unwrap_err(), KeyError::Format);
    }

    #[test]
    fn debug_output_does_not_reveal_the_seed() {
        let key = ValidatorKey::from_seed([7u8; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.to_seed_hex()));
        assert!(shown.contains(&key.public_key_hex()));
    }
}
