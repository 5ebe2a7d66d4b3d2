//! Committee hand-over notes and chains (`docs/log-format.md` §4.2): what a verifier holding
//! only the genesis committee accepts, and every refusal.

mod common;

use proverka_log::{
    handover_body, merge_handover_notes, parse_checkpoint_unverified, parse_handover_unverified,
    sign_handover, split_handover_chain, verify_handover, Committee, CommitteeChain,
    CommitteeMember, HandoverError, NoteKey, MAX_HANDOVER_NOTE_BYTES,
};
use proverka_statement::PrivateKey;

const ORIGIN: &str = "proverka.example/log";

/// A validator's secret keys, all derived from one seed byte.
struct Validator {
    cosigner: NoteKey,
    member: CommitteeMember,
}

fn validator(seed: u8) -> Validator {
    let consensus = [seed; 32];
    let receipt = PrivateKey::from_ed25519_seed([seed.wrapping_add(100); 32]);
    let checkpoint = NoteKey::from_seed(ORIGIN, &[seed.wrapping_add(50); 32]).unwrap();
    let cosigner = NoteKey::from_seed(
        &format!("proverka-validator-{}", hex::encode(&consensus[..8])),
        &[seed.wrapping_add(150); 32],
    )
    .unwrap();
    Validator {
        member: CommitteeMember {
            validator: hex::encode(consensus),
            receipt_key: hex::encode(receipt.public_key().to_cose_key()),
            checkpoint_vkey: checkpoint.verifier_key(),
            cosigner_vkey: cosigner.cosigner_verifier_key(),
        },
        cosigner,
    }
}

fn committee(epoch: u64, validators: &[&Validator]) -> Committee {
    Committee {
        epoch,
        members: validators.iter().map(|v| v.member.clone()).collect(),
    }
}

/// The hand-over to `next`, signed by `signers`, merged into one note.
fn signed(next: &Committee, signers: &[&Validator]) -> Vec<u8> {
    let notes: Vec<Vec<u8>> = signers
        .iter()
        .map(|v| sign_handover(ORIGIN, next, &v.cosigner, 1_767_225_600).unwrap())
        .collect();
    let refs: Vec<&[u8]> = notes.iter().map(Vec::as_slice).collect();
    merge_handover_notes(&refs).unwrap()
}

struct Net {
    v: Vec<Validator>,
}

impl Net {
    fn new() -> Self {
        Net {
            v: (1..=6).map(validator).collect(),
        }
    }
    /// Genesis: validators 0..4 (quorum 3).
    fn genesis(&self) -> Committee {
        committee(0, &[&self.v[0], &self.v[1], &self.v[2], &self.v[3]])
    }
    /// Epoch 2: validator 4 joins (5 members, quorum 4).
    fn second(&self) -> Committee {
        committee(
            2,
            &[&self.v[0], &self.v[1], &self.v[2], &self.v[3], &self.v[4]],
        )
    }
    /// Epoch 5: validator 0 leaves, validator 5 joins (5 members, quorum 4).
    fn third(&self) -> Committee {
        committee(
            5,
            &[&self.v[1], &self.v[2], &self.v[3], &self.v[4], &self.v[5]],
        )
    }
}

#[test]
fn a_two_link_chain_gives_the_committee_of_every_epoch() {
    let net = Net::new();
    let v = &net.v;
    let link1 = signed(&net.second(), &[&v[0], &v[2], &v[3]]);
    let link2 = signed(&net.third(), &[&v[4], &v[1], &v[0], &v[3]]);
    let chain = CommitteeChain::verify(ORIGIN, net.genesis(), &[&link1, &link2]).unwrap();
    assert_eq!(chain.committee_at(0), &net.genesis());
    assert_eq!(chain.committee_at(1), &net.genesis());
    assert_eq!(chain.committee_at(2), &net.second());
    assert_eq!(chain.committee_at(4), &net.second());
    assert_eq!(chain.committee_at(5), &net.third());
    assert_eq!(chain.committee_at(u64::MAX), &net.third());
    assert_eq!(chain.committees().len(), 3);
    // The committee's keys become a validator set with its own quorum.
    let set = chain.committee_at(5).validator_set(ORIGIN).unwrap();
    assert_eq!(set.quorum, 4);
    assert_eq!(set.cosigner_vkeys[4], v[5].member.cosigner_vkey);
}

#[test]
fn the_chain_with_no_link_is_genesis_for_every_epoch() {
    let net = Net::new();
    let chain = CommitteeChain::verify(ORIGIN, net.genesis(), &[]).unwrap();
    assert_eq!(chain.committee_at(7), &net.genesis());
    assert_eq!(chain.latest().quorum(), 3);
}

#[test]
fn a_link_signed_by_fewer_than_the_quorum_is_refused() {
    let net = Net::new();
    let v = &net.v;
    let link = signed(&net.second(), &[&v[0], &v[1]]);
    assert_eq!(
        CommitteeChain::verify(ORIGIN, net.genesis(), &[&link]),
        Err(HandoverError::QuorumNotMet { have: 2, need: 3 })
    );
    // The same member's line twice counts once.
    let twice = merge_handover_notes(&[&link, &signed(&net.second(), &[&v[1]])]).unwrap();
    assert!(matches!(
        CommitteeChain::verify(ORIGIN, net.genesis(), &[&twice]),
        Err(HandoverError::QuorumNotMet { have: 2, .. })
    ));
}

#[test]
fn a_link_signed_by_the_new_committee_instead_of_the_old_is_refused() {
    let net = Net::new();
    let v = &net.v;
    // The second link signed by the incoming members: validator 5 is not in the second
    // committee, and validator 0 (leaving) is, so only 3 of the 4 needed verify.
    let link1 = signed(&net.second(), &[&v[0], &v[1], &v[2]]);
    let by_new = signed(&net.third(), &[&v[5], &v[1], &v[2], &v[3]]);
    assert_eq!(
        CommitteeChain::verify(ORIGIN, net.genesis(), &[&link1, &by_new]),
        Err(HandoverError::QuorumNotMet { have: 3, need: 4 })
    );
    // A first link signed only by the new member (not in genesis) verifies nothing.
    let only_new = signed(&net.second(), &[&v[4]]);
    assert_eq!(
        CommitteeChain::verify(ORIGIN, net.genesis(), &[&only_new]),
        Err(HandoverError::QuorumNotMet { have: 0, need: 3 })
    );
}

#[test]
fn epochs_out_of_order_are_refused() {
    let net = Net::new();
    let v = &net.v;
    let link1 = signed(&net.second(), &[&v[0], &v[1], &v[2]]);
    let link2 = signed(&net.third(), &[&v[1], &v[2], &v[3], &v[4]]);
    // link2 happens to carry a quorum of genesis members (1, 2, 3), so it verifies as a first
    // link; the hand-over to epoch 2 after it is refused for its epoch.
    assert_eq!(
        CommitteeChain::verify(ORIGIN, net.genesis(), &[&link2, &link1]),
        Err(HandoverError::EpochOrder {
            previous: 5,
            found: 2
        })
    );
    assert_eq!(
        CommitteeChain::verify(ORIGIN, net.genesis(), &[&link1, &link1]),
        Err(HandoverError::EpochOrder {
            previous: 2,
            found: 2
        })
    );
    // A later committee handing "back" to an earlier epoch, properly signed, is refused.
    let mut back = net.second();
    back.epoch = 1;
    let back_link = signed(&back, &[&v[0], &v[1], &v[2], &v[3]]);
    assert_eq!(
        CommitteeChain::verify(ORIGIN, net.genesis(), &[&link1, &back_link]),
        Err(HandoverError::EpochOrder {
            previous: 2,
            found: 1
        })
    );
}

#[test]
fn a_link_of_another_ledger_is_refused() {
    let net = Net::new();
    let v = &net.v;
    let link = signed(&net.second(), &[&v[0], &v[1], &v[2]]);
    assert_eq!(
        verify_handover(&link, "other.example/log", &net.genesis(), 3),
        Err(HandoverError::WrongOrigin {
            expected: "other.example/log".into(),
            found: ORIGIN.into()
        })
    );
}

#[test]
fn a_forged_line_by_an_outgoing_member_fails_the_note() {
    let net = Net::new();
    let v = &net.v;
    let link = signed(&net.second(), &[&v[0], &v[1], &v[2]]);
    let text = String::from_utf8(link).unwrap();
    // Flip one base64 character of the first signature line's signature part.
    let (body, sigs) = text.rsplit_once("\n\n").unwrap();
    let mut first = sigs.lines().next().unwrap().to_owned();
    let last = first.pop().unwrap();
    let flipped = if last == 'A' { 'B' } else { 'A' };
    let forged = format!(
        "{body}\n\n{first}{flipped}\n{}\n",
        sigs.lines().skip(1).collect::<Vec<_>>().join("\n")
    );
    assert!(matches!(
        CommitteeChain::verify(ORIGIN, net.genesis(), &[forged.as_bytes()]),
        Err(HandoverError::InvalidSignature { .. }) | Err(HandoverError::MalformedNote)
    ));
}

#[test]
fn garbage_and_truncated_notes_are_refused_with_typed_errors() {
    let net = Net::new();
    let v = &net.v;
    let link = signed(&net.second(), &[&v[0], &v[1], &v[2]]);
    let verify = |note: &[u8]| CommitteeChain::verify(ORIGIN, net.genesis(), &[note]);
    assert_eq!(verify(b""), Err(HandoverError::MalformedNote));
    assert_eq!(
        verify(b"\xff\xfe garbage"),
        Err(HandoverError::MalformedNote)
    );
    // Cut inside the signature lines, and inside the body.
    assert_eq!(
        verify(&link[..link.len() - 10]),
        Err(HandoverError::MalformedNote)
    );
    let body_end = link.windows(2).position(|w| w == b"\n\n").unwrap();
    assert!(verify(&link[..body_end - 5]).is_err());
    // A checkpoint is not a hand-over.
    let key = NoteKey::from_seed(ORIGIN, &[1; 32]).unwrap();
    let checkpoint = proverka_log::sign_checkpoint(&key, ORIGIN, 3, &[0; 32]).unwrap();
    assert_eq!(verify(&checkpoint), Err(HandoverError::NotAHandover));
    // Too large, before any parsing.
    let huge = vec![b'a'; MAX_HANDOVER_NOTE_BYTES + 1];
    assert_eq!(
        verify(&huge),
        Err(HandoverError::TooLarge(MAX_HANDOVER_NOTE_BYTES + 1))
    );
    // A body edited after signing: non-canonical member line (two spaces).
    let text = String::from_utf8(link.clone()).unwrap();
    let spaced = text.replacen("member ", "member  ", 1);
    assert!(matches!(
        verify(spaced.as_bytes()),
        Err(HandoverError::MalformedBody(_))
    ));
    // Epoch 0 and a leading zero.
    let zero = text.replacen("epoch 2\n", "epoch 0\n", 1);
    assert_eq!(verify(zero.as_bytes()), Err(HandoverError::EpochZero));
    let padded = text.replacen("epoch 2\n", "epoch 02\n", 1);
    assert!(matches!(
        verify(padded.as_bytes()),
        Err(HandoverError::MalformedBody(_))
    ));
    // A member with a broken key.
    let broken = text.replacen(&v[4].member.receipt_key, "00", 1);
    assert!(matches!(
        verify(broken.as_bytes()),
        Err(HandoverError::BadMember { index: 4, .. })
    ));
}

#[test]
fn a_committee_must_be_well_formed_to_be_signed() {
    let net = Net::new();
    let v = &net.v;
    let empty = Committee {
        epoch: 1,
        members: Vec::new(),
    };
    assert_eq!(
        handover_body(ORIGIN, &empty),
        Err(HandoverError::MemberCount(0))
    );
    let twice = committee(1, &[&v[0], &v[0]]);
    assert_eq!(
        handover_body(ORIGIN, &twice),
        Err(HandoverError::DuplicateMember(1))
    );
    let zero = committee(0, &[&v[0]]);
    assert_eq!(handover_body(ORIGIN, &zero), Err(HandoverError::EpochZero));
    let mut other_origin = v[0].member.clone();
    other_origin.checkpoint_vkey = NoteKey::from_seed("other.example", &[9; 32])
        .unwrap()
        .verifier_key();
    assert!(matches!(
        handover_body(
            ORIGIN,
            &Committee {
                epoch: 1,
                members: vec![other_origin]
            }
        ),
        Err(HandoverError::BadMember { index: 0, .. })
    ));
}

#[test]
fn a_hand_over_note_never_parses_as_a_checkpoint() {
    let net = Net::new();
    let v = &net.v;
    let link = signed(&net.second(), &[&v[0], &v[1], &v[2]]);
    assert!(parse_checkpoint_unverified(&link).is_err());
    let (origin, parsed) = parse_handover_unverified(&link).unwrap();
    assert_eq!(origin, ORIGIN);
    assert_eq!(parsed, net.second());
}

#[test]
fn a_chain_file_splits_back_into_its_notes() {
    let net = Net::new();
    let v = &net.v;
    let link1 = signed(&net.second(), &[&v[0], &v[1], &v[2]]);
    let link2 = signed(&net.third(), &[&v[1], &v[2], &v[3], &v[4]]);
    let file = [link1.clone(), link2.clone()].concat();
    assert_eq!(
        split_handover_chain(&file).unwrap(),
        vec![link1.as_slice(), link2.as_slice()]
    );
    assert_eq!(split_handover_chain(b"").unwrap(), Vec::<&[u8]>::new());
    assert_eq!(
        split_handover_chain(b"not a note\n"),
        Err(HandoverError::NotAHandover)
    );
}

/// The note frozen in `docs/log-format.md` §4.2: genesis validators seeds 1..=4, epoch 1 adds
/// seed 5, signed by seeds 1, 2, 3 at 1767225600.
#[test]
fn golden_hand_over_note() {
    let v: Vec<Validator> = (1..=5).map(validator).collect();
    let next = committee(1, &[&v[0], &v[1], &v[2], &v[3], &v[4]]);
    let note = signed(&next, &[&v[0], &v[1], &v[2]]);
    common::assert_golden("handover_epoch1.note", &note);
    let genesis = committee(0, &[&v[0], &v[1], &v[2], &v[3]]);
    let chain = CommitteeChain::verify(ORIGIN, genesis, &[&note]).unwrap();
    assert_eq!(chain.committee_at(1), &next);
}

#[test]
fn the_epoch_line_is_absent_at_epoch_zero_and_parsed_strictly() {
    use proverka_log::{
        checkpoint_body, checkpoint_body_at_epoch, checkpoint_epoch, checkpoint_epoch_unverified,
        sign_checkpoint_at_epoch, CheckpointError,
    };
    let root = [0xab; 32];
    assert_eq!(
        checkpoint_body_at_epoch(ORIGIN, 1234, &root, 0).unwrap(),
        checkpoint_body(ORIGIN, 1234, &root).unwrap()
    );
    let body = checkpoint_body_at_epoch(ORIGIN, 1234, &root, 3).unwrap();
    assert!(String::from_utf8(body)
        .unwrap()
        .ends_with("=\nproverka-epoch 3\n"));
    let key = NoteKey::from_seed(ORIGIN, &[1; 32]).unwrap();
    let note = sign_checkpoint_at_epoch(&key, ORIGIN, 1234, &root, 3).unwrap();
    assert_eq!(checkpoint_epoch_unverified(&note), Ok(3));
    assert_eq!(checkpoint_epoch(""), Ok(0));
    assert_eq!(checkpoint_epoch("other ext\n"), Ok(0));
    for bad in [
        "proverka-epoch 0\n",
        "proverka-epoch 03\n",
        "proverka-epoch \n",
        "proverka-epoch 1\nproverka-epoch 1\n",
        "proverka-epoch 99999999999999999999\n",
    ] {
        assert_eq!(
            checkpoint_epoch(bad),
            Err(CheckpointError::MalformedEpoch),
            "{bad}"
        );
    }
}
