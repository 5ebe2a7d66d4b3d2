//! Checkpoints are C2SP signed notes that standard note tooling accepts; cosignatures follow
//! tlog-cosignature/v1; anything signed by another key, for another log or altered is rejected.

mod common;

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use proverka_log::checkpoint::{checkpoint_body, KEY_TYPE_COSIGNATURE_V1, MAX_NOTE_BYTES};
use proverka_log::{
    cosign_checkpoint, sign_checkpoint, verify_checkpoint, verify_cosignature,
    verify_cosigned_checkpoint, CheckpointError, NoteKey,
};

const ORIGIN: &str = "proverka.example/log";
const ROOT: [u8; 32] = [0xab; 32];

fn log_key() -> NoteKey {
    NoteKey::from_seed(ORIGIN, &[1u8; 32]).expect("key")
}

fn witness(n: u8) -> NoteKey {
    NoteKey::from_seed(&format!("witness{n}.proverka.example"), &[10 + n; 32]).expect("key")
}

#[test]
fn a_checkpoint_is_origin_size_and_base64_root_then_one_signature_line() {
    let note = sign_checkpoint(&log_key(), ORIGIN, 1234, &ROOT).expect("sign");
    let text = String::from_utf8(note.clone()).expect("utf-8");
    let (body, sigs) = text.split_once("\n\n").expect("blank line");
    assert_eq!(
        body,
        format!("{ORIGIN}\n1234\n{}", BASE64_STANDARD.encode(ROOT))
    );
    let line = sigs.strip_suffix('\n').expect("newline");
    let (name, sig) = line
        .strip_prefix("— ")
        .and_then(|l| l.split_once(' '))
        .expect("signature line");
    assert_eq!(name, ORIGIN);
    let sig = BASE64_STANDARD.decode(sig).expect("base64");
    assert_eq!(sig.len(), 4 + 64, "key id || Ed25519 signature");
    assert_eq!(
        u32::from_be_bytes(sig[..4].try_into().expect("4")),
        log_key().key_id()
    );

    let v = verify_checkpoint(&note, ORIGIN, &log_key().verifier_key()).expect("verifies");
    assert_eq!((v.origin.as_str(), v.size, v.root), (ORIGIN, 1234, ROOT));
    assert!(v.extensions.is_empty() && v.cosignatures.is_empty() && v.unverified.is_empty());
}

#[test]
fn golden_checkpoint_and_cosigned_checkpoint_bytes_are_frozen() {
    let note = sign_checkpoint(&log_key(), ORIGIN, 1234, &ROOT).expect("sign");
    common::assert_golden("checkpoint_size1234.note", &note);
    let cosigned = cosign_checkpoint(&note, &witness(1), 1_767_225_600).expect("cosign");
    common::assert_golden("checkpoint_size1234_cosigned.note", &cosigned);
    let keys = format!(
        "{}\n{}\n{}\n",
        log_key().to_private_key_string(),
        log_key().verifier_key(),
        witness(1).cosigner_verifier_key()
    );
    common::assert_golden("note_keys.txt", keys.as_bytes());
}

#[test]
fn standard_signed_note_tooling_verifies_our_checkpoints() {
    let note = sign_checkpoint(&log_key(), ORIGIN, 7, &ROOT).expect("sign");
    let verifier =
        signed_note::StandardVerifier::new(&log_key().verifier_key()).expect("standard vkey");
    let parsed = signed_note::Note::from_bytes(&note).expect("standard note");
    let (ok, _) = parsed
        .verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .expect("standard verifier accepts");
    assert_eq!(ok.len(), 1);
    let cp = tlog_tiles::Checkpoint::from_bytes(parsed.text()).expect("standard checkpoint");
    assert_eq!((cp.origin(), cp.size(), cp.hash().0), (ORIGIN, 7, ROOT));
}

#[test]
fn go_note_private_keys_import_and_give_the_go_verifier_key() {
    // The example key pair of Go's golang.org/x/mod/sumdb/note documentation.
    let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    let key = NoteKey::from_private_key_string(skey).expect("import");
    assert_eq!(key.name(), "PeterNeumann");
    assert_eq!(
        key.verifier_key(),
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    );
    assert_eq!(key.to_private_key_string(), skey);
}

#[test]
fn generated_keys_round_trip_through_their_private_key_string() {
    let key = NoteKey::generate("fresh.example").expect("generate");
    let again = NoteKey::from_private_key_string(&key.to_private_key_string()).expect("parse");
    assert_eq!(again.verifier_key(), key.verifier_key());
    assert!(!format!("{key:?}").contains(&key.to_private_key_string()));
}

#[test]
fn bad_key_strings_and_names_are_rejected() {
    assert_eq!(
        NoteKey::generate("has space").err(),
        Some(CheckpointError::InvalidKeyName)
    );
    assert_eq!(
        NoteKey::generate("a+b").err(),
        Some(CheckpointError::InvalidKeyName)
    );
    assert_eq!(
        NoteKey::generate("").err(),
        Some(CheckpointError::InvalidKeyName)
    );
    let vkey = log_key().verifier_key();
    let note = sign_checkpoint(&log_key(), ORIGIN, 1, &ROOT).expect("sign");
    let wrong_id = vkey.replacen(&format!("{:08x}", log_key().key_id()), "00000000", 1);
    assert_eq!(
        verify_checkpoint(&note, ORIGIN, &wrong_id).err(),
        Some(CheckpointError::KeyIdMismatch)
    );
    for junk in ["", "name", "name+1234+AA==", "name+zzzzzzzz+AQ=="] {
        assert!(verify_checkpoint(&note, ORIGIN, junk).is_err(), "{junk}");
    }
    // A cosigner (0x04) key is not a checkpoint (0x01) key, and vice versa.
    assert_eq!(
        verify_checkpoint(&note, ORIGIN, &witness(1).cosigner_verifier_key()).err(),
        Some(CheckpointError::UnsupportedKeyType(KEY_TYPE_COSIGNATURE_V1))
    );
    assert_eq!(
        verify_cosignature(&note, &witness(1).verifier_key()).err(),
        Some(CheckpointError::UnsupportedKeyType(1))
    );
    assert!(NoteKey::from_private_key_string("PRIVATE+KEY+x+00000000+AQ==").is_err());
}

#[test]
fn a_checkpoint_signed_by_another_key_is_rejected() {
    let note = sign_checkpoint(&witness(9), ORIGIN, 5, &ROOT).expect("sign");
    assert_eq!(
        verify_checkpoint(&note, ORIGIN, &log_key().verifier_key()).err(),
        Some(CheckpointError::MissingSignature)
    );
    // Same name, different key: the key id differs, so no signature matches.
    let impostor = NoteKey::from_seed(ORIGIN, &[2u8; 32]).expect("key");
    let forged = sign_checkpoint(&impostor, ORIGIN, 5, &ROOT).expect("sign");
    assert_eq!(
        verify_checkpoint(&forged, ORIGIN, &log_key().verifier_key()).err(),
        Some(CheckpointError::MissingSignature)
    );
}

#[test]
fn a_checkpoint_for_another_origin_is_rejected() {
    let note = sign_checkpoint(&log_key(), "other.example/log", 5, &ROOT).expect("sign");
    assert_eq!(
        verify_checkpoint(&note, ORIGIN, &log_key().verifier_key()).err(),
        Some(CheckpointError::WrongOrigin {
            expected: ORIGIN.into(),
            found: "other.example/log".into()
        })
    );
}

#[test]
fn a_checkpoint_with_a_tampered_size_or_root_is_rejected() {
    let note = String::from_utf8(sign_checkpoint(&log_key(), ORIGIN, 5, &ROOT).expect("sign"))
        .expect("utf-8");
    let bigger = note.replacen("\n5\n", "\n6\n", 1);
    assert!(matches!(
        verify_checkpoint(bigger.as_bytes(), ORIGIN, &log_key().verifier_key()),
        Err(CheckpointError::InvalidSignature { .. })
    ));
    let other_root = note.replacen(
        &BASE64_STANDARD.encode(ROOT),
        &BASE64_STANDARD.encode([0u8; 32]),
        1,
    );
    assert!(matches!(
        verify_checkpoint(other_root.as_bytes(), ORIGIN, &log_key().verifier_key()),
        Err(CheckpointError::InvalidSignature { .. })
    ));
}

#[test]
fn malformed_notes_and_origins_are_errors() {
    let vkey = log_key().verifier_key();
    for junk in [
        &b""[..],
        b"\n\n",
        b"origin\n1\n",
        b"\xff\xfe",
        b"a\n\n\xe2\x80\x94 x y\n",
    ] {
        assert!(verify_checkpoint(junk, ORIGIN, &vkey).is_err(), "{junk:?}");
    }
    let huge = vec![b'a'; MAX_NOTE_BYTES + 1];
    assert_eq!(
        verify_checkpoint(&huge, ORIGIN, &vkey).err(),
        Some(CheckpointError::MalformedNote)
    );
    for origin in ["", "two\nlines", "tab\there"] {
        assert_eq!(
            sign_checkpoint(&log_key(), origin, 1, &ROOT).err(),
            Some(CheckpointError::InvalidOrigin),
            "{origin:?}"
        );
    }
    assert!(checkpoint_body(&"o".repeat(257), 1, &ROOT).is_err());
}

#[test]
fn cosignature_round_trip_returns_the_timestamp() {
    let note = sign_checkpoint(&log_key(), ORIGIN, 42, &ROOT).expect("sign");
    let ts = 1_767_225_600;
    let cosigned = cosign_checkpoint(&note, &witness(1), ts).expect("cosign");
    assert_eq!(
        verify_cosignature(&cosigned, &witness(1).cosigner_verifier_key()),
        Ok(ts)
    );
    // The log signature still verifies; the cosignature is listed, unverified, without its key.
    let v = verify_checkpoint(&cosigned, ORIGIN, &log_key().verifier_key()).expect("log sig");
    assert_eq!(v.unverified.len(), 1);
    assert_eq!(v.unverified[0].key_id, witness(1).cosigner_key_id());
}

#[test]
fn a_cosignature_signs_the_c2sp_cosignature_v1_message() {
    let note = sign_checkpoint(&log_key(), ORIGIN, 42, &ROOT).expect("sign");
    let ts = 1_679_315_147u64;
    let cosigned = String::from_utf8(cosign_checkpoint(&note, &witness(2), ts).expect("cosign"))
        .expect("utf-8");
    let line = cosigned.lines().last().expect("line");
    let (name, b64) = line
        .strip_prefix("— ")
        .and_then(|l| l.split_once(' '))
        .expect("line");
    assert_eq!(name, witness(2).name());
    let raw = BASE64_STANDARD.decode(b64).expect("base64");
    assert_eq!(
        raw.len(),
        4 + 8 + 64,
        "key id || timestamp || Ed25519 signature"
    );

    // Key id = SHA-256(name || "\n" || 0x04 || public key)[:4].
    let mut id_input = name.as_bytes().to_vec();
    id_input.extend_from_slice(b"\n\x04");
    id_input.extend_from_slice(&witness(2).public_key());
    let id = <sha2::Sha256 as sha2::Digest>::digest(&id_input);
    assert_eq!(&raw[..4], &id[..4]);
    assert_eq!(u64::from_be_bytes(raw[4..12].try_into().expect("8")), ts);

    // Signed message = "cosignature/v1\ntime <ts>\n" || checkpoint body.
    let body = checkpoint_body(ORIGIN, 42, &ROOT).expect("body");
    let mut msg = format!("cosignature/v1\ntime {ts}\n").into_bytes();
    msg.extend_from_slice(&body);
    let key = VerifyingKey::from_bytes(&witness(2).public_key()).expect("key");
    let sig = Signature::from_bytes(&raw[12..].try_into().expect("64"));
    key.verify(&msg, &sig)
        .expect("independent Ed25519 check of the cosigned message");
}

#[test]
fn a_quorum_of_cosigners_is_required_and_counted() {
    let note = sign_checkpoint(&log_key(), ORIGIN, 42, &ROOT).expect("sign");
    let mut n = note;
    for w in 1..=2 {
        n = cosign_checkpoint(&n, &witness(w), 1_000 + u64::from(w)).expect("cosign");
    }
    let vkeys = [1, 2, 3].map(|w| witness(w).cosigner_verifier_key());
    let vkeys: Vec<&str> = vkeys.iter().map(String::as_str).collect();
    let v = verify_cosigned_checkpoint(&n, ORIGIN, &log_key().verifier_key(), &vkeys, 2)
        .expect("2 of 3");
    let got: Vec<(String, u64)> = v
        .cosignatures
        .iter()
        .map(|c| (c.name.clone(), c.timestamp))
        .collect();
    assert_eq!(
        got,
        [
            (witness(1).name().to_owned(), 1001),
            (witness(2).name().to_owned(), 1002)
        ]
    );
    assert_eq!(
        verify_cosigned_checkpoint(&n, ORIGIN, &log_key().verifier_key(), &vkeys, 3).err(),
        Some(CheckpointError::QuorumNotMet { have: 2, need: 3 })
    );
    // Listing one cosigner twice does not count it twice.
    let twice = [vkeys[0], vkeys[0]];
    assert_eq!(
        verify_cosigned_checkpoint(&n, ORIGIN, &log_key().verifier_key(), &twice, 2).err(),
        Some(CheckpointError::QuorumNotMet { have: 1, need: 2 })
    );
}

#[test]
fn recosigning_replaces_the_earlier_line_and_tampered_cosignatures_fail() {
    let note = sign_checkpoint(&log_key(), ORIGIN, 42, &ROOT).expect("sign");
    let once = cosign_checkpoint(&note, &witness(1), 10).expect("cosign");
    let twice = cosign_checkpoint(&once, &witness(1), 20).expect("cosign");
    assert_eq!(
        String::from_utf8_lossy(&twice)
            .matches("— witness1")
            .count(),
        1
    );
    assert_eq!(
        verify_cosignature(&twice, &witness(1).cosigner_verifier_key()),
        Ok(20)
    );

    // A cosignature over another checkpoint body does not transfer.
    let other = sign_checkpoint(&log_key(), ORIGIN, 43, &ROOT).expect("sign");
    let line = String::from_utf8_lossy(&once)
        .lines()
        .last()
        .expect("line")
        .to_owned();
    let spliced = format!("{}{line}\n", String::from_utf8_lossy(&other));
    assert!(matches!(
        verify_cosignature(spliced.as_bytes(), &witness(1).cosigner_verifier_key()),
        Err(CheckpointError::InvalidSignature { .. })
    ));
    assert_eq!(
        verify_cosignature(&note, &witness(1).cosigner_verifier_key()).err(),
        Some(CheckpointError::MissingSignature)
    );
    assert_eq!(
        cosign_checkpoint(&note, &witness(1), u64::MAX).err(),
        Some(CheckpointError::TimestampTooLarge)
    );
    assert!(cosign_checkpoint(b"not a note", &witness(1), 1).is_err());
}
