//! Several in-process nodes exchanging hand-over signatures.

use super::*;
use proverka_log::{split_handover_chain, CommitteeChain};
use proverka_statement::PrivateKey;

const ORIGIN: &str = "city.example/proverka";
const BOUNDARY_MS: u64 = 1_764_000_000_000;

struct Keys {
    hex: String,
    cosigner: NoteKey,
    member: CommitteeMember,
}

fn keys(seed: u8) -> Keys {
    let hex = hex::encode([seed; 32]);
    let cosigner = NoteKey::from_seed(
        &format!("proverka-validator-{}", &hex[..16]),
        &[seed.wrapping_add(150); 32],
    )
    .unwrap();
    let receipt = PrivateKey::from_ed25519_seed([seed.wrapping_add(100); 32]);
    let checkpoint = NoteKey::from_seed(ORIGIN, &[seed.wrapping_add(50); 32]).unwrap();
    Keys {
        member: CommitteeMember {
            validator: hex.clone(),
            receipt_key: hex::encode(receipt.public_key().to_cose_key()),
            checkpoint_vkey: checkpoint.verifier_key(),
            cosigner_vkey: cosigner.cosigner_verifier_key(),
        },
        hex,
        cosigner,
    }
}

struct World {
    keys: Vec<Keys>,
    _dir: tempfile::TempDir,
    nodes: Vec<Handovers>,
}

impl World {
    /// Validators 0..4 form genesis; validator 4 exists (an observer) and joins at epoch 1.
    fn new() -> Self {
        let keys: Vec<Keys> = (1..=5).map(keys).collect();
        let dir = tempfile::tempdir().unwrap();
        let nodes = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                Handovers::open(
                    &dir.path().join(format!("v{i}")),
                    ORIGIN,
                    &k.hex,
                    Some(k.cosigner.clone()),
                )
                .unwrap()
            })
            .collect();
        World {
            keys,
            _dir: dir,
            nodes,
        }
    }
    fn committee(&self, epoch: u64, who: &[usize]) -> Committee {
        Committee {
            epoch,
            members: who.iter().map(|&i| self.keys[i].member.clone()).collect(),
        }
    }
    fn genesis(&self) -> Committee {
        self.committee(0, &[0, 1, 2, 3])
    }
    fn next(&self) -> Committee {
        self.committee(1, &[0, 1, 2, 3, 4])
    }
    /// Node `i` applies the boundary block; returns what it broadcasts.
    fn apply_boundary(&self, i: usize) -> Option<Vec<u8>> {
        self.nodes[i]
            .handed_over(self.genesis(), self.next(), BOUNDARY_MS)
            .unwrap()
    }
}

#[test]
fn outgoing_members_sign_and_every_node_stores_the_quorum_note() {
    let w = World::new();
    let messages: Vec<Vec<u8>> = (0..5).filter_map(|i| w.apply_boundary(i)).collect();
    // The four outgoing members sign; the newcomer (not in genesis) does not.
    assert_eq!(messages.len(), 4);
    assert!(messages.iter().all(|m| is_handover_message(m)));
    for node in &w.nodes {
        for m in &messages[..2] {
            node.receive(m).unwrap();
        }
    }
    // Lines of 0 and 1 delivered everywhere: nodes 0 and 1 hold two lines, nodes 2 and 3
    // (their own plus two) a quorum of three, the observer two.
    assert!(!w.nodes[0].has(1));
    assert!(w.nodes[2].has(1) && w.nodes[3].has(1));
    assert!(!w.nodes[4].has(1), "the observer holds only two lines");
    for node in &w.nodes {
        node.receive(&messages[2]).unwrap();
    }
    assert!(w.nodes.iter().all(|n| n.has(1)));
    // What is served verifies with the genesis committee alone, and names the new committee.
    let chain_file = w.nodes[4].chain();
    let notes = split_handover_chain(&chain_file).unwrap();
    let chain = CommitteeChain::verify(ORIGIN, w.genesis(), &notes).unwrap();
    assert_eq!(chain.committee_at(1), &w.next());
    assert_eq!(w.nodes[4].note(1).unwrap(), chain_file);
    assert!(w.nodes[4].note(2).is_none());
}

#[test]
fn a_joiner_adopts_a_verified_chain_and_refuses_a_forged_one() {
    let w = World::new();
    let messages: Vec<Vec<u8>> = (0..3).filter_map(|i| w.apply_boundary(i)).collect();
    w.apply_boundary(4);
    for m in &messages {
        w.nodes[4].receive(m).unwrap();
    }
    let served = w.nodes[4].chain();
    assert!(!served.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let joiner = Handovers::open(dir.path(), ORIGIN, &w.keys[4].hex, None).unwrap();

    // A forged chain (one signature byte flipped), or one from another genesis: nothing kept.
    let mut forged = served.clone();
    let at = forged.len() - 10;
    forged[at] ^= 1;
    assert!(joiner.adopt(w.genesis(), &forged).is_err());
    assert!(joiner
        .adopt(w.committee(0, &[1, 2, 3, 4]), &served)
        .is_err());
    assert!(!joiner.has(1) && joiner.chain().is_empty());

    assert_eq!(joiner.adopt(w.genesis(), &served), Ok(1));
    assert_eq!(joiner.chain(), served, "it serves the chain it adopted");
    assert_eq!(
        joiner.adopt(w.genesis(), &served),
        Ok(0),
        "held notes are kept"
    );
    let reopened = Handovers::open(dir.path(), ORIGIN, &w.keys[4].hex, None).unwrap();
    assert_eq!(reopened.chain(), served);
    assert_eq!(
        joiner.adopt(w.genesis(), b""),
        Ok(0),
        "the empty chain adds nothing"
    );
}

#[test]
fn the_quorum_note_survives_a_restart() {
    let w = World::new();
    let messages: Vec<Vec<u8>> = (0..3).filter_map(|i| w.apply_boundary(i)).collect();
    w.apply_boundary(4);
    for m in &messages {
        w.nodes[4].receive(m).unwrap();
    }
    let note = w.nodes[4].note(1).expect("a quorum of 3");
    let reopened = Handovers::open(&w.nodes[4].dir, ORIGIN, &w.keys[4].hex, None).unwrap();
    assert_eq!(reopened.note(1), Some(note));
}

#[test]
fn a_node_that_has_not_applied_the_boundary_refuses_then_collects_from_rebroadcasts() {
    let w = World::new();
    let messages: Vec<Vec<u8>> = (0..3).filter_map(|i| w.apply_boundary(i)).collect();
    assert_eq!(
        w.nodes[3].receive(&messages[0]),
        Err(HandoverGossipError::UnknownEpoch(1))
    );
    // Later it applies the boundary; the signers re-send their lines at their next ticks.
    w.apply_boundary(3);
    let start = EPOCH_BLOCKS;
    for node in &w.nodes[..3] {
        assert!(node.tick(start + 1).is_empty(), "only every 10th block");
        for m in node.tick(start + 10) {
            w.nodes[3].receive(&m).unwrap();
        }
    }
    assert!(w.nodes[3].has(1));
}

#[test]
fn rebroadcasts_are_bounded_to_the_window_unless_a_peer_is_still_collecting() {
    let w = World::new();
    let messages: Vec<Vec<u8>> = (0..4).filter_map(|i| w.apply_boundary(i)).collect();
    for m in &messages {
        w.nodes[0].receive(m).unwrap();
    }
    let start = EPOCH_BLOCKS;
    assert_eq!(w.nodes[0].tick(start + 990), vec![messages[0].clone()]);
    assert!(w.nodes[0]
        .tick(start + REBROADCAST_WINDOW_BLOCKS)
        .is_empty());
    // A late member's line for the held epoch makes the next tick answer, once.
    w.nodes[0].receive(&messages[1]).unwrap();
    assert_eq!(w.nodes[0].tick(start + 5_000), vec![messages[0].clone()]);
    assert!(w.nodes[0].tick(start + 5_010).is_empty());
}

#[test]
fn lines_that_do_not_verify_against_the_outgoing_committee_are_refused() {
    let w = World::new();
    w.apply_boundary(0);
    let node = &w.nodes[0];
    // The newcomer signs the note: it is not in the outgoing committee.
    let by_new = sign_handover(ORIGIN, &w.next(), &w.keys[4].cosigner, 1).unwrap();
    let message = signature_message(1, &by_new).unwrap();
    assert_eq!(
        node.receive(&message),
        Err(HandoverGossipError::Signature(
            HandoverError::QuorumNotMet { have: 0, need: 1 }
        ))
    );
    // A member's line over another committee than the one this node derived.
    let other = w.committee(1, &[0, 1, 2]);
    let wrong_body = sign_handover(ORIGIN, &other, &w.keys[1].cosigner, 1).unwrap();
    assert!(matches!(
        node.receive(&signature_message(1, &wrong_body).unwrap()),
        Err(HandoverGossipError::Signature(
            HandoverError::InvalidSignature { .. }
        ))
    ));
    // Garbage never panics and is typed.
    for bad in [
        &b""[..],
        b"\xff",
        b"proverka committee hand-over/v1 signature\n",
        b"proverka committee hand-over/v1 signature\nepoch 01\n\xe2\x80\x94 a b\n",
        b"proverka committee hand-over/v1 signature\nepoch 1\nnot a line\n",
        b"proverka committee hand-over/v1 signature\nepoch 1\n\xe2\x80\x94 a b\n\xe2\x80\x94 c d\n",
    ] {
        assert_eq!(node.receive(bad), Err(HandoverGossipError::Malformed));
    }
    assert!(matches!(
        node.receive(
            "proverka committee hand-over/v1 signature\nepoch 1\n\u{2014} x AAAA\n".as_bytes()
        ),
        Err(HandoverGossipError::Signature(_))
    ));
    assert!(!node.has(1));
}
