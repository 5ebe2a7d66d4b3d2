//! The production transport: `p2p::authenticated::lookup` (a fixed committee with known
//! addresses, encrypted and authenticated with the validators' Ed25519 keys).
//!
//! With a committee of one, the validator is the only peer: consensus never sends anything (its
//! own votes are counted locally), so the network only listens. It is started anyway so that a
//! single node and a committee run the same code.

use crate::engine::{
    channel_quota, max_message_size, Channels, CHANNEL_BACKFILL, CHANNEL_BLOCKS,
    CHANNEL_CERTIFICATES, CHANNEL_CONSENSUS_RESOLVER, CHANNEL_GOSSIP, CHANNEL_STATEMENTS,
    CHANNEL_VOTES,
};
use commonware_cryptography::{ed25519, ChaCha20Poly1305, Signer};
use commonware_p2p::{
    authenticated::{lookup, peer_set_limit},
    Address, AddressableManager,
};
use commonware_runtime::{tokio, Quota, Supervisor};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{ordered::Map, NZUsize};
use std::{net::SocketAddr, num::NonZeroU32, time::Duration};

/// Handshake clock tolerance between validators.
const HANDSHAKE_SYNCHRONY_BOUND: Duration = Duration::from_secs(5);
/// Shortest time between two connections to the same peer.
const PEER_CONNECTION_COOLDOWN: Duration = Duration::from_secs(1);
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
    // Several validators may share one address (loopback in `proverka net up`, or one NAT): the
    // recommended one handshake per IP every 5 s would keep all but one of them waiting, and a
    // restarted validator could take minutes to rejoin. Allow each member one per second.
    let members = NonZeroU32::new(u32::try_from(participants.len()).unwrap_or(u32::MAX).max(1))
        .unwrap_or(NonZeroU32::MIN);
    config.allowed_handshake_rate_per_ip = Quota::per_second(members);
    // The recommended 60 s between two connections to one peer also counts a failed dial: a
    // validator that started before its peers, or one that restarts after a crash, would stay
    // cut off from them for a minute. The committee is a fixed allow-list, so reconnect fast.
    config.peer_connection_cooldown = PEER_CONNECTION_COOLDOWN;

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
        gossip: Some(register(CHANNEL_GOSSIP)),
        statements: Some(register(CHANNEL_STATEMENTS)),
    };
    network.start();
    (channels, oracle)
}
