//! The gateway follows the committee hand-over chain (decision 003, step 4), failing closed.
//!
//! A dev node (one validator, the genesis committee) serves a real state proof; the test then
//! has a new committee — one validator the genesis does not name — certify the same block at
//! epoch 1, and the genesis validator hand the ledger over to it with a hand-over note. So:
//! a verifier holding the genesis alone refuses the epoch-1 artefact; after adopting the chain
//! it accepts it; a forged, truncated, shorter or conflicting chain is refused and the chain
//! held stays in force; a chain that cannot be fetched is reported by a refresh and changes
//! nothing.

// The node tests' dev node (the cli tests include `support/epochs.rs` the same way).
#[path = "../../node/tests/support/mod.rs"]
mod node_support;

use std::collections::BTreeSet;

use proverka_consensus::{
    digest_from_parts, sign_finalization, verify_finalization, ValidatorKey, HEADER_BYTES,
};
use proverka_gateway::ledger::Ledger;
use proverka_gateway::sync::{follow_chain, refresh, ChainError, SyncError, Verifier};
use proverka_gateway::GatewaySnapshot;
use proverka_ledger::records::keys;
use proverka_ledger::validators::CommitteeRecord;
use proverka_ledger::Genesis;
use proverka_lightclient::state_proof::{verify, StateProofBundle};
use proverka_log::{sign_handover, HandoverError};
use proverka_node::datadir::{validator_keys_of, DataDir, NodeKeys};
use proverka_node::handover::committee_of;
use proverka_node::RunningNode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The hand-over notes' signing time (POSIX seconds).
const HANDOVER_TIME: u64 = 1_764_000_000;
/// An owner with no Cedar policy set: its `cedar/` key is proved absent.
const OWNER: &str = "nobody";

struct World {
    node: RunningNode,
    genesis: Vec<u8>,
    origin: String,
    /// The genesis committee's only validator (the dev node's keys).
    genesis_keys: NodeKeys,
    _dir: tempfile::TempDir,
}

/// A validator outside the genesis: its keys, and its keys as a committee of `epoch`.
struct Outsider {
    keys: NodeKeys,
    record: CommitteeRecord,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let node = node_support::dev_node(dir.path()).await;
    let genesis = std::fs::read(dir.path().join("genesis.json")).unwrap();
    let origin = Genesis::from_bytes(&genesis).unwrap().origin;
    let genesis_keys = DataDir::new(dir.path()).load_keys().unwrap();
    World {
        node,
        genesis,
        origin,
        genesis_keys,
        _dir: dir,
    }
}

impl World {
    fn url(&self) -> String {
        format!("http://{}", self.node.addr)
    }

    fn namespace(&self) -> [u8; 32] {
        Genesis::id(&self.genesis)
    }

    fn outsider(&self, epoch: u64) -> Outsider {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let public = data.init_keys(&self.origin).unwrap();
        Outsider {
            keys: data.load_keys().unwrap(),
            record: CommitteeRecord {
                epoch,
                members: validator_keys_of(&[public]).unwrap(),
            },
            _dir: dir,
        }
    }

    /// The hand-over to `next`, signed by the genesis validator (the whole outgoing committee).
    fn handover(&self, next: &Outsider) -> Vec<u8> {
        let cosigner = self.genesis_keys.cosigner.as_ref().expect("cosigner key");
        sign_handover(
            &self.origin,
            &committee_of(&next.record),
            cosigner,
            HANDOVER_TIME,
        )
        .unwrap()
    }

    /// A proof that `OWNER` has no policy set, as the node serves it (certified at epoch 0).
    /// Until a block certifies an applied height, a fresh node's proof does not verify yet.
    async fn policy_proof(&self) -> StateProofBundle {
        let ledger = Ledger::new(&self.url()).unwrap();
        let genesis = Genesis::from_bytes(&self.genesis).unwrap();
        let mut last = String::new();
        for _ in 0..200 {
            match ledger.state_proof(&[keys::cedar(OWNER)]).await {
                Ok(bytes) => {
                    let bundle = StateProofBundle::decode(&bytes).unwrap();
                    match verify(&self.namespace(), &genesis.validators, &bundle) {
                        Ok(_) => return bundle,
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the dev node served no verifiable state proof within 20 s: {last}");
    }

    /// The same proof, its block's finalization re-signed by `by` at `epoch`.
    fn certified_by(&self, proof: &StateProofBundle, by: &Outsider, epoch: u64) -> Vec<u8> {
        let genesis = Genesis::from_bytes(&self.genesis).unwrap();
        let mut finalized =
            verify_finalization(&self.namespace(), &genesis.validators, &proof.4).unwrap();
        let mut proof = proof.clone();
        // The block as that epoch's committee made it: its header names the epoch.
        finalized.epoch = epoch;
        finalized.digest = in_epoch(&mut proof, epoch);
        let committee = vec![by.keys.consensus.public_key_hex()];
        let signers: [ValidatorKey; 1] = [by.keys.consensus.clone()];
        let certificate =
            sign_finalization(&self.namespace(), &committee, &signers, &finalized).unwrap();
        *proof.4 = certificate;
        proof.encode()
    }
}

/// Sets the epoch named in `proof`'s block header (bytes 1..9, `docs/blocks.md`) and returns
/// the block's new digest.
fn in_epoch(proof: &mut StateProofBundle, epoch: u64) -> [u8; 32] {
    let mut header: [u8; HEADER_BYTES] = proof.2.as_slice().try_into().unwrap();
    header[1..9].copy_from_slice(&epoch.to_be_bytes());
    let statements_hash: [u8; 32] = proof.3.as_slice().try_into().unwrap();
    *proof.2 = header.to_vec();
    digest_from_parts(&header, &statements_hash)
}

/// Replaces a note's body by `other`'s, keeping its signature lines: a note naming another
/// committee under the quorum's genuine signatures.
fn with_body_of(note: &[u8], other: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(note).unwrap();
    let (_, lines) = text.split_once("\n\n").unwrap();
    let body = std::str::from_utf8(other)
        .unwrap()
        .split_once("\n\n")
        .unwrap()
        .0;
    format!("{body}\n\n{lines}").into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_verifier_follows_a_valid_chain_and_refuses_any_other() {
    let w = world().await;
    let next = w.outsider(1);
    let proof = w.policy_proof().await;
    let epoch0 = proof.encode();
    let epoch1 = w.certified_by(&proof, &next, 1);
    let chain = w.handover(&next);
    let verifier = Verifier::new(w.genesis.clone()).unwrap();

    // The genesis alone: epoch 0 verifies; epoch 1, certified by a committee it does not know
    // (the genesis committee is still in force for it), is refused rather than trusted.
    assert_eq!(verifier.committee_epochs(), [0]);
    if let Err(e) = verifier.policies(OWNER, &epoch0) {
        panic!("{e}");
    }
    let refused = verifier.policies(OWNER, &epoch1);
    assert!(
        matches!(refused, Err(SyncError::Policies { .. })),
        "{:?}",
        refused.err()
    );

    // A forged chain: the new committee swapped for an attacker's, the genuine signature line
    // kept. Refused; nothing adopted; epoch 1 still refused.
    let attacker = w.outsider(1);
    let forged = with_body_of(&chain, &w.handover(&attacker));
    assert!(matches!(
        verifier.adopt_chain(&forged),
        Err(ChainError::Invalid(HandoverError::InvalidSignature { .. }))
    ));
    // A truncated chain: the signature line cut short, or missing.
    let cut = &chain[..chain.len() - 10];
    assert!(matches!(
        verifier.adopt_chain(cut),
        Err(ChainError::Invalid(_))
    ));
    let unsigned = std::str::from_utf8(&chain)
        .unwrap()
        .split_once("\n\n")
        .unwrap()
        .0;
    assert!(matches!(
        verifier.adopt_chain(format!("{unsigned}\n").as_bytes()),
        Err(ChainError::Invalid(_))
    ));
    assert_eq!(verifier.committee_epochs(), [0]);
    assert!(verifier.policies(OWNER, &epoch1).is_err());

    // The valid chain: adopted, and the epoch-1 artefact now verifies; epoch 0 still does.
    assert!(verifier.adopt_chain(&chain).unwrap(), "the chain grew");
    assert_eq!(verifier.committee_epochs(), [0, 1]);
    let proved = verifier
        .policies(OWNER, &epoch1)
        .expect("certified by epoch 1's committee");
    assert!(proved.set.is_none(), "OWNER has no policy set");
    assert!(verifier.policies(OWNER, &epoch0).is_ok());
    // The same chain again changes nothing.
    assert!(!verifier.adopt_chain(&chain).unwrap());

    // An epoch-1 certificate by the attacker stays refused: only epoch 1's committee counts.
    let by_attacker = w.certified_by(&proof, &attacker, 1);
    assert!(verifier.policies(OWNER, &by_attacker).is_err());

    // A conflicting chain: genuinely signed by the genesis quorum, but naming another committee
    // for epoch 1 than the one held. Refused with the epoch; the chain held stays.
    let conflicting = w.handover(&attacker);
    let conflict = verifier.adopt_chain(&conflicting);
    assert!(
        matches!(conflict, Err(ChainError::Conflict { epoch: 1 })),
        "{conflict:?}"
    );
    assert!(conflict.unwrap_err().to_string().contains("differs"));
    // A shorter chain (the genesis alone) does not undo a hand-over either.
    assert!(matches!(
        verifier.adopt_chain(b""),
        Err(ChainError::Shorter { served: 0, held: 1 })
    ));
    assert_eq!(verifier.committee_epochs(), [0, 1]);
    assert!(verifier.policies(OWNER, &epoch1).is_ok());
    assert!(verifier.policies(OWNER, &by_attacker).is_err());
    w.node.shutdown().await;
}

/// A one-route HTTP server answering every request with 200 and `body`.
async fn serve(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_fetches_the_chain_and_keeps_the_old_one_when_it_cannot() {
    let w = world().await;
    let next = w.outsider(1);
    let proof = w.policy_proof().await;
    let epoch1 = w.certified_by(&proof, &next, 1);
    let verifier = Verifier::new(w.genesis.clone()).unwrap();
    let empty = BTreeSet::new();
    let snapshot = GatewaySnapshot::new(120, proverka_command::TrustStatus::Warning);

    // The dev node serves the empty chain (its committee never changed): no error, no change.
    let ledger = Ledger::new(&w.url()).unwrap();
    let refreshed = refresh(&ledger, &verifier, &snapshot, &empty, &empty, 0).await;
    assert!(refreshed.errors.is_empty(), "{:?}", refreshed.errors);
    assert_eq!(verifier.committee_epochs(), [0]);

    // A node serving the hand-over: fetched (GET /validators/epochs) and adopted.
    let serving = Ledger::new(&serve(w.handover(&next)).await).unwrap();
    assert!(follow_chain(&serving, &verifier).await.unwrap());
    assert!(verifier.policies(OWNER, &epoch1).is_ok());

    // A ledger out of reach: the refresh reports it, and the chain held stays in force.
    let gone = Ledger::new("http://127.0.0.1:1").unwrap();
    let refreshed = refresh(&gone, &verifier, &snapshot, &empty, &empty, 0).await;
    assert!(
        refreshed
            .errors
            .iter()
            .any(|e| matches!(e, SyncError::Chain(ChainError::Fetch(_)))),
        "{:?}",
        refreshed.errors
    );
    assert_eq!(verifier.committee_epochs(), [0, 1]);
    assert!(verifier.policies(OWNER, &epoch1).is_ok());
    w.node.shutdown().await;
}
