//! Epochs: which committee runs consensus at which height, and the task that hands consensus
//! from one committee to the next at each epoch boundary (`docs/decisions/003`).
//!
//! Heights are cut into fixed epochs of `epoch_blocks` ([`FixedEpocher`]). The committee of
//! epoch `e + 1` is whatever [`Application::committee`] answers once the last block of epoch `e`
//! is applied, so every validator derives it from the same finalized state. One simplex engine
//! runs per epoch; its vote, certificate and resolver messages travel on subchannels of the p2p
//! channels numbered by epoch, so an engine only ever hears its own epoch.
//!
//! Invariants:
//! * The scheme of epoch `e + 1` is registered before the boundary block of `e` is acknowledged
//!   to marshal, so marshal can check every certificate of `e + 1` it later receives.
//! * At most one simplex engine runs; the engine of `e` is stopped only once the boundary block
//!   of `e` is durably applied (marshal re-proposes that block until then).
//! * A validator outside an epoch's committee runs that epoch's engine as an observer (a
//!   verify-only scheme): it follows certificates and applies blocks but never votes.

use crate::{app::Application, block::ChainBlock};
use commonware_codec::ReadExt as _;
use commonware_consensus::{
    marshal::{core::Mailbox as MarshalMailbox, standard::Standard},
    simplex::scheme::ed25519::Scheme,
    types::{Epoch, Epocher as _, FixedEpocher, Height},
};
use commonware_cryptography::{
    certificate::{Provider, Scoped},
    ed25519,
};
use commonware_utils::{ordered::Set, vec::NonEmptyVec};
use std::{
    collections::BTreeMap,
    num::NonZeroU64,
    sync::{Arc, Mutex},
};
use tracing::{debug, error, info};

/// Epochs whose schemes a validator keeps for checking certificates (its current one and the
/// ones before it, for backfill); older ones are forgotten.
const KEPT_EPOCHS: u64 = 16;

/// The signing (or verify-only) scheme of every epoch this validator knows: marshal's
/// certificate provider and the source of each epoch engine's scheme.
#[derive(Clone)]
pub(crate) struct Schemes {
    namespace: Arc<Vec<u8>>,
    signer: ed25519::PrivateKey,
    genesis: Set<ed25519::PublicKey>,
    known: Arc<Mutex<BTreeMap<u64, EpochScheme>>>,
}

/// An epoch's scheme, and whether this validator signs in it.
type EpochScheme = (Arc<Scheme>, bool);

impl Schemes {
    pub(crate) fn new(
        namespace: &[u8],
        signer: ed25519::PrivateKey,
        genesis: Set<ed25519::PublicKey>,
    ) -> Self {
        Self {
            namespace: Arc::new(namespace.to_vec()),
            signer,
            genesis,
            known: Arc::default(),
        }
    }

    /// Records `committee` as the committee of `epoch`: a signing scheme when this validator
    /// is a member, verify-only otherwise. Returns the scheme an engine of that epoch runs.
    pub(crate) fn register(&self, epoch: u64, committee: Set<ed25519::PublicKey>) {
        let members = committee.len();
        let entry = match Scheme::signer(&self.namespace, committee.clone(), self.signer.clone()) {
            Some(scheme) => (Arc::new(scheme), true),
            None => (
                Arc::new(Scheme::verifier(&self.namespace, committee)),
                false,
            ),
        };
        info!(epoch, members, member = entry.1, "committee of epoch known");
        let mut known = self.known.lock().unwrap();
        known.insert(epoch, entry);
        let keep_from = epoch.saturating_sub(KEPT_EPOCHS);
        known.retain(|e, _| *e >= keep_from);
    }

    /// The scheme the engine of `epoch` runs with, if its committee is known.
    pub(crate) fn engine_scheme(&self, epoch: u64) -> Option<Scheme> {
        let known = self.known.lock().unwrap();
        known.get(&epoch).map(|(scheme, _)| scheme.as_ref().clone())
    }

    /// The committee of `epoch` as `app` decided it: the genesis committee unless the
    /// application names another. A malformed answer (no member, or a key that is not Ed25519)
    /// is a bug of the application; every validator treats it alike and keeps the genesis
    /// committee, so they still agree.
    pub(crate) fn committee_of(
        &self,
        app: &impl Application,
        epoch: u64,
    ) -> Set<ed25519::PublicKey> {
        let Some(keys) = app.committee(epoch) else {
            return self.genesis.clone();
        };
        let mut members = Vec::with_capacity(keys.len());
        for key in &keys {
            match ed25519::PublicKey::read(&mut bytes::Bytes::copy_from_slice(key)) {
                Ok(member) => members.push(member),
                Err(_) => {
                    error!(epoch, key = %hex::encode(key), "committee member is not an Ed25519 key; keeping the genesis committee");
                    return self.genesis.clone();
                }
            }
        }
        if members.is_empty() {
            error!(
                epoch,
                "the application named an empty committee; keeping the genesis committee"
            );
            return self.genesis.clone();
        }
        Set::from_iter_dedup(members)
    }
}

impl Provider for Schemes {
    type Scope = Epoch;
    type Scheme = Scheme;

    fn scoped(&self, scope: Epoch) -> Option<Scoped<Scheme>> {
        let known = self.known.lock().unwrap();
        known.get(&scope.get()).map(|(scheme, signs)| {
            if *signs {
                Scoped::scheme(scheme.clone())
            } else {
                Scoped::verifier(scheme.clone())
            }
        })
    }
}

/// Where epochs start and end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Boundaries(NonZeroU64);

impl Boundaries {
    pub(crate) const fn new(epoch_blocks: NonZeroU64) -> Self {
        Self(epoch_blocks)
    }

    pub(crate) fn epocher(self) -> FixedEpocher {
        FixedEpocher::new(self.0)
    }

    /// The epoch whose engine must run once `processed` (the last block marshal delivered and
    /// the application applied) is known: the epoch of the next height.
    pub(crate) fn current(self, processed: Option<u64>) -> u64 {
        processed.map_or(0, |h| h.saturating_add(1) / self.0.get())
    }

    /// If `height` is the last block of its epoch, the epoch that starts after it.
    pub(crate) fn next_after(self, height: u64) -> Option<u64> {
        let length = self.0.get();
        (height % length == length - 1).then(|| height / length + 1)
    }

    /// Height of the last block of `epoch`, the genesis of `epoch + 1`.
    pub(crate) fn last(self, epoch: u64) -> Option<u64> {
        self.epocher()
            .last(Epoch::new(epoch))
            .map(|height| height.get())
    }
}

/// A boundary block was applied: consensus moves to `epoch`, on top of the block `floor`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Transition {
    pub epoch: u64,
    pub floor: [u8; 32],
}

/// A vote or certificate arrived for an epoch other than ours. A later epoch means the
/// committee moved on without us (we missed the boundary block's certificate): ask marshal to
/// fetch the finalization of our epoch's last block from the sender, which lets us apply it and
/// follow. Messages of earlier epochs are ignored.
pub(crate) fn on_foreign_epoch(
    boundaries: Boundaries,
    ours: u64,
    theirs: u64,
    from: ed25519::PublicKey,
    marshal: &MarshalMailbox<Scheme, Standard<ChainBlock>>,
) {
    if theirs <= ours {
        return;
    }
    let Some(last) = boundaries.last(ours) else {
        return;
    };
    debug!(
        ours,
        theirs, last, "message from a later epoch; fetching our epoch's last block"
    );
    marshal.hint_finalized(Height::new(last), NonEmptyVec::new(from));
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_utils::NZU64;

    #[test]
    fn epochs_are_fixed_runs_of_heights() {
        let b = Boundaries::new(NZU64!(10));
        // Nothing applied yet, or inside epoch 0: epoch 0.
        assert_eq!(b.current(None), 0);
        assert_eq!(b.current(Some(0)), 0);
        assert_eq!(b.current(Some(8)), 0);
        // Height 9 closes epoch 0: the next block belongs to epoch 1.
        assert_eq!(b.current(Some(9)), 1);
        assert_eq!(b.current(Some(19)), 2);
        assert_eq!(b.next_after(9), Some(1));
        assert_eq!(b.next_after(19), Some(2));
        assert_eq!(b.next_after(10), None);
        assert_eq!(b.next_after(0), None);
        assert_eq!(b.last(0), Some(9));
        assert_eq!(b.last(1), Some(19));
    }

    #[test]
    fn one_epoch_for_ever_never_hands_over() {
        let b = Boundaries::new(NZU64!(u64::MAX));
        assert_eq!(b.current(Some(1_000_000)), 0);
        assert_eq!(b.next_after(1_000_000), None);
    }
}
