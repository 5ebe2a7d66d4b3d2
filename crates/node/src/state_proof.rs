//! State proofs: the format and its offline verification live in `proverka-lightclient`
//! (re-exported here so node code and callers keep one path); this module adds what only a
//! serving node needs. Bundles are built from the store by `api::state`.

pub use proverka_lightclient::state_proof::*;

/// Most keys one `GET /state/proof` request may name.
pub const MAX_QUERY_KEYS: usize = 64;
