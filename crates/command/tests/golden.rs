//! The command format, frozen: deterministic commands (fixed keys) checked byte for byte
//! against `tests/golden/`, and validated against `docs/command.cddl` by the `cddl` crate (an
//! implementation we did not write). A change here is a format change: update the CDDL,
//! `docs/command.md` and every verifier together. `UPDATE_GOLDEN=1` rewrites the files.

use std::path::PathBuf;

use coset::{CoseSign1, TaggedCborSerializable};
use proverka_command::*;

const CDDL: &str = include_str!("../../../docs/command.cddl");

fn id(s: &str) -> DeviceId {
    DeviceId::new(s.as_bytes()).expect("short")
}

/// The golden command: every field kind, including each param type.
fn golden_command(sender: &str) -> Command {
    Command {
        sender: id(sender),
        recipient: id("lamp-17"),
        action: Action::new("actuate").expect("short"),
        params: Params::new()
            .with("level", ParamValue::Int(-3))
            .and_then(|p| p.with("mode", ParamValue::Text("eco".into())))
            .and_then(|p| p.with("force", ParamValue::Bool(true)))
            .expect("within limits"),
        seq: 42,
        iat: UnixSeconds(1_767_225_600), // 2026-01-01T00:00:00Z
        exp: UnixSeconds(1_767_225_660),
    }
}

fn ed25519_key() -> SigningKey {
    SigningKey::from_ed25519_seed([0x42; 32])
}

fn p256_key() -> SigningKey {
    SigningKey::from_p256_scalar(&[0x42; 32]).expect("valid scalar")
}

fn conforms(rule: &str, cbor: &[u8]) -> Result<(), String> {
    let doc = format!("root = {rule}\n{CDDL}");
    cddl::validate_cbor_from_slice(&doc, cbor, None).map_err(|e| format!("{rule}: {e}"))
}

/// Compares `bytes` with the hex file `name` (whitespace ignored), or rewrites it.
fn golden(name: &str, bytes: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let actual = hex::encode(bytes);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, format!("{actual}\n")).expect("write golden file");
    }
    let expected: String = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()))
        .split_whitespace()
        .collect();
    assert_eq!(actual, expected, "{name} changed: this is a format change");
}

#[test]
fn the_ed25519_golden_command_is_frozen_byte_for_byte() {
    let command = golden_command("switch-ed25519");
    golden("ed25519-payload.hex", &command.to_payload());
    golden(
        "ed25519-command.hex",
        &sign_command(&command, &ed25519_key()),
    );
    golden("ed25519-kid.hex", ed25519_key().public_key().thumbprint());
}

#[test]
fn the_p256_golden_command_is_frozen_byte_for_byte() {
    // RFC 6979 makes ECDSA deterministic too.
    let command = golden_command("switch-p256");
    golden("p256-command.hex", &sign_command(&command, &p256_key()));
}

#[test]
fn the_golden_payload_and_envelope_conform_to_the_cddl() {
    let command = golden_command("switch-ed25519");
    conforms("command-payload", &command.to_payload()).unwrap_or_else(|e| panic!("{e}"));
    // cddl 0.9.5 mis-validates `bstr .cbor rule` inside an array (it checks one member's rule
    // against another), so the envelope is validated member by member: the protected header
    // and payload bytes against their rules, the rest by hand.
    for bytes in [
        sign_command(&command, &ed25519_key()),
        sign_command(&golden_command("switch-p256"), &p256_key()),
    ] {
        assert_eq!(bytes[0], 0xd2, "tag 18");
        let sign1 = CoseSign1::from_tagged_slice(&bytes).expect("COSE_Sign1");
        let protected = sign1.protected.original_data.expect("protected bytes");
        conforms("command-protected", &protected).unwrap_or_else(|e| panic!("{e}"));
        conforms("command-payload", &sign1.payload.expect("embedded"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(sign1.unprotected.is_empty());
        assert_eq!(sign1.signature.len(), 64);
    }
}

#[test]
fn the_cddl_rejects_what_the_verifier_rejects() {
    // The validator is only worth something if it can fail: an unknown key, an empty id.
    let mut payload = golden_command("switch-ed25519").to_payload();
    payload[0] = 0xa8; // claims 8 entries
    payload.extend_from_slice(&[0x08, 0xf6]); // 8: null
    assert!(conforms("command-payload", &payload).is_err());
    let empty_sender = [0xa1, 0x01, 0x40]; // {1: h''}
    assert!(conforms("command-payload", &empty_sender).is_err());
}

#[test]
fn the_golden_command_verifies_and_round_trips() {
    let command = golden_command("switch-ed25519");
    let bytes = sign_command(&command, &ed25519_key());
    let mut snapshot = MemorySnapshot::new(command.iat, 600, TrustStatus::Affirming);
    snapshot.insert(
        command.sender.clone(),
        SenderRecord {
            key: ed25519_key().public_key(),
            revoked: false,
            status: TrustStatus::Affirming,
            status_expires_at: command.exp,
        },
    );
    let verdict = verify(
        &bytes,
        &snapshot,
        &mut ReplayGuard::new(1),
        command.iat,
        &command.recipient,
        &DangerAllowAll,
    );
    assert_eq!(verdict, Verdict::Allow(command.clone()));
    assert_eq!(Command::from_payload(&command.to_payload()), Ok(command));
}

#[test]
fn thumbprints_follow_rfc_9679() {
    // RFC 9679 §6: the example EC2 P-256 key and its SHA-256 thumbprint.
    let x = hex::decode("65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d")
        .expect("hex");
    let y = hex::decode("1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c")
        .expect("hex");
    let key = PublicKey::from_p256_sec1(&[&[0x04][..], &x, &y].concat()).expect("on curve");
    assert_eq!(
        hex::encode(key.thumbprint()),
        "496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec"
    );
    // The Ed25519 COSE_Key is {1: 1, -1: 6, -2: x}.
    let ed = ed25519_key().public_key();
    let mut expected = vec![0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20];
    expected.extend_from_slice(&ed.to_cose_key()[8..]);
    assert_eq!(ed.to_cose_key(), expected);
}
