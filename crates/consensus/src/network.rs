//! The production transport: `p2p::authenticated::lookup` (a fixed committee with known
//! addresses, encrypted and authenticated with the validators' Ed25519 keys).
//!
//! With a committee of one, the validator is the only peer: consensus never sends anything (its
//! own votes are counted locally), so the network only listens. It is started anyway so that a
//! single node and a committee run the same code.

use crate::engine::{
    channel_quota, max_message_size, Channels, CHANNEL_BACKFILL, CHANNEL_BLOCKS,
    CHANNEL_CERTIFICATES, CHANNEL_CONSENSUS_RESOLVER, CHANNEL_VOTES,
};
use commonware_cryptography::{ed25519, ChaCha20Poly1305, Signer};
use commonware_p2p::{
    authenticated::{lookup, peer_set_limit},
    Address, AddressableManager,
};
use commonware_runtime::{tokio, Supervisor};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{ordered::Map, NZUsize};
use std::{net::SocketAddr, time::Duration};

/// Handshake clock tolerance between validators.
const HANDSHAKE_SYNCHRONY_BOUND: Duration = Duration::from_secs(5);
/// Oldest handshake message accepted.
const HANDSHAKE_MAX_AGE: Duration = Duration::from_secs(10);

pub(crate) type LookupSender = lookup::Sender<ed25519::PublicKey, tokio::Context>;
pub(crate) type LookupReceiver = lookup::Receiver<ed25519::PublicKey>;
pub(crate) type LookupOracle = lookup::Oracle<ed25519::PublicKey>;

/// Starts the lookup network for `signer` listening on `listen`, with `peers` (every committee
/// member, this validator included) as peer set 0.
pub(crate) fn start_lookup(
    context: &tokio::Context,
    signer: ed25519::PrivateKey,
    namespace: &[u8],
    listen: SocketAddr,
    peers: Vec<(ed25519::PublicKey, SocketAddr)>,
) -> (Channels<LookupSender, LookupReceiver>, LookupOracle) {
    let me = signer.public_key();
    let participants: Vec<_> = peers.iter().map(|(key, _)| key.clone()).collect();
    let max_peers = peer_set_limit(participants.iter(), &me);
    let mut p2p_namespace = namespace.to_vec();
    p2p_namespace.extend_from_slice(b"/p2p");
    let mut config = lookup::Config::recommended(
        Cups::<_, ChaCha20Poly1305>::new(
            Sake {
                signer,
                synchrony_bound: HANDSHAKE_SYNCHRONY_BOUND,
                max_handshake_age: HANDSHAKE_MAX_AGE,
                version: sake::Version::V1,
            },
            cups::Version::V1,
        ),
        &p2p_namespace,
        listen,
        max_peers,
        max_message_size(u32::try_from(participants.len()).expect("committee fits in u32")),
        NZUsize!(1_024),
    );
    // Validators of one city often share private networks; the committee list is the
    // allow-list that matters (connections from keys outside it are refused).
    config.allow_private_ips = true;

    let (mut network, mut oracle) = lookup::Network::new(context.child("network"), config);
    let peer_set: Map<ed25519::PublicKey, Address> = Map::from_iter_dedup(
        peers
            .into_iter()
            .map(|(key, addr)| (key, Address::from(addr))),
    );
    let _ = AddressableManager::track(&mut oracle, 0, peer_set);
    let mut register = |channel| network.register(channel, channel_quota(channel));
    let channels = Channels {
        votes: register(CHANNEL_VOTES),
        certificates: register(CHANNEL_CERTIFICATES),
        consensus_resolver: register(CHANNEL_CONSENSUS_RESOLVER),
        blocks: register(CHANNEL_BLOCKS),
        backfill: register(CHANNEL_BACKFILL),
    };
    network.start();
    (channels, oracle)
}
