//! Trust passports: the format and its offline verification live in `proverka-lightclient`,
//! re-exported here; the node assembles and serves them in `api::state::passport`.

pub use proverka_lightclient::passport::*;
