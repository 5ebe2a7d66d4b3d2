//! The ledger's use of IDevID chains: roots a model registers, chains a birth certificate
//! carries. Path validation itself is `proverka-idevid` (webpki); this adapter turns its
//! answer into the device key the rules compare.

use proverka_idevid::{verify_chain, Root};
use proverka_statement::PublicKey;

/// What a verified chain says about the device.
pub struct IdevidLeaf {
    pub key: PublicKey,
    pub serial: Option<String>,
}

/// IDevID checks, at block time.
pub struct Idevid;

impl Idevid {
    /// Whether `der` can serve as a model's IDevID trust anchor.
    pub fn check_root(&self, der: &[u8]) -> Result<(), String> {
        Root::from_der(der).map(|_| ()).map_err(|e| e.to_string())
    }

    /// Verifies `chain` (leaf first) to one of `roots` at `at_ms` and returns the leaf's key.
    pub fn verify(
        &self,
        chain: &[&[u8]],
        roots: &[&[u8]],
        at_ms: u64,
    ) -> Result<IdevidLeaf, String> {
        let roots = roots
            .iter()
            .map(|der| Root::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("registered root: {e}"))?;
        let leaf = verify_chain(chain, &roots, at_ms).map_err(|e| e.to_string())?;
        let key =
            PublicKey::from_spki_der(&leaf.leaf_spki_der).map_err(|e| format!("leaf key: {e}"))?;
        Ok(IdevidLeaf {
            key,
            serial: leaf.serial_number,
        })
    }
}
