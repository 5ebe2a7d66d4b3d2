//! Device-trust payload formats, frozen: one golden vector per statement kind, each checked
//! byte for byte and validated against `docs/device-trust.cddl` by the `cddl` crate (an
//! implementation we did not write). A change here is a format change: update the CDDL, the
//! docs and every verifier together.

use proverka_command::TrustStatus;
use proverka_ledger::interaction::GatewayVerdict;
use proverka_ledger::make;
use proverka_ledger::records::Role;
use proverka_statement::{PrivateKey, PublicKey};

const CDDL: &str = include_str!("../../../docs/device-trust.cddl");

fn key(seed: u8) -> PublicKey {
    PrivateKey::from_ed25519_seed([seed; 32]).public_key()
}

/// Validates `cbor` against rule `rule` of the CDDL (made the root by a first rule).
fn conforms(rule: &str, cbor: &[u8]) -> Result<(), String> {
    let doc = format!("root = {rule}\n{CDDL}");
    cddl::validate_cbor_from_slice(&doc, cbor, None).map_err(|e| format!("{rule}: {e}"))
}

fn new_validator() -> make::NewValidator<'static> {
    static RECEIPT: std::sync::OnceLock<PublicKey> = std::sync::OnceLock::new();
    make::NewValidator {
        consensus: [0x33; 32],
        receipt_key: RECEIPT.get_or_init(|| key(4)),
        checkpoint_vkey: "city.example/log+0a1b2c3d+AcQ7mJc0Fy0oTn3jUZrKYvbxU6Vd8ZBQOm2N9x1lGq1p",
        cosigner_vkey: "validator-3333+5e6f7a8b+AcQ7mJc0Fy0oTn3jUZrKYvbxU6Vd8ZBQOm2N9x1lGq1p",
    }
}

fn vectors() -> Vec<(&'static str, Vec<u8>)> {
    let d = [0x11u8; 32];
    let e = [0x22u8; 32];
    vec![
        (
            "join",
            make::join("acme", "Acme Meters", &[Role::Manufacturer], &key(1)),
        ),
        ("vote", make::vote(&d, true)),
        ("org-key", make::org_key_add(&key(2))),
        ("org-key", make::org_key_revoke(&d)),
        ("propose", make::propose_remove_key("acme", &d)),
        ("propose", make::propose_remove_org("acme")),
        ("propose", make::propose_threshold(2)),
        ("propose", make::propose_add_validator(&new_validator())),
        ("propose", make::propose_remove_validator(&e)),
        (
            "propose",
            make::propose_rotate_validator(&d, &new_validator()),
        ),
        ("model", make::model("meter", &[vec![0x30, 0x00]])),
        (
            "birth",
            make::birth(&make::Birth {
                device_id: b"meter-000001",
                key: &key(3),
                model: "meter",
                serial: "SN00000001",
                hw_version: "rev-a",
                factory_fw: d,
                x5chain: &[],
            }),
        ),
        ("transfer", make::transfer(b"meter-000001", "water")),
        ("accept", make::accept(&e)),
        ("decommission", make::decommission(b"meter-000001")),
        ("rekey", make::rekey(b"meter-000001", &key(4))),
        (
            "release",
            make::release(&make::Release {
                model: "meter",
                version: "1.1",
                digest: e,
                svn: 2,
                supersedes: Some(d),
                security: Some(3),
                revoked: false,
            }),
        ),
        (
            "advisory",
            make::advisory(&make::Advisory {
                id: "CERT-2026-0042",
                maker: "acme",
                model: "meter",
                versions: &["1.0"],
                cvss: Some(98),
                exploited: true,
                fixed_in: Some(e),
                refs: &["CVE-2026-31337"],
                ..Default::default()
            }),
        ),
        (
            "evidence",
            make::evidence(&make::Evidence {
                device_id: b"meter-000001",
                nonce: b"nonce-0001",
                fw: e,
                svn: 2,
                debug: 3,
            }),
        ),
        (
            "evidence-batch",
            make::evidence_batch(&[vec![0xd2], vec![0xd2]]),
        ),
        (
            "revoke-device",
            make::revoke_device(b"meter-000001", Some("cloned")),
        ),
        (
            "labels",
            make::labels(b"meter-000001", Some("north"), &["pump", "valve"]),
        ),
        ("labels", make::labels(b"meter-000001", None, &[])),
        (
            "challenge",
            make::challenge(
                b"0123456789abcdef",
                &[b"meter-000001", b"meter-000002"],
                Some(600_000),
            ),
        ),
        (
            "challenge",
            make::challenge(&[0x5a; 32], &[b"meter-000001"], None),
        ),
        (
            "policy",
            make::policy(
                Some(3_600_000),
                [None, None, Some(86_400_000), None],
                Some(true),
            ),
        ),
        (
            "cedar-policy",
            make::cedar_policy(
                "water",
                &[(
                    "zone-north",
                    r#"permit(principal, action == Proverka::Action::"actuate", resource in Proverka::Zone::"north");"#,
                )],
                Some(1),
            ),
        ),
        (
            "interaction",
            make::interaction(&make::Interaction {
                // Any bytes: the CDDL sees a bstr; the rule opens the envelope.
                command: &[0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40],
                verdict: GatewayVerdict::Deny,
                reasons: &["sender status warning does not meet affirming"],
                observed: 1_780_000_100,
                snapshot_height: 41,
                snapshot_certified_ms: 1_780_000_099_000,
                sender_status: TrustStatus::Warning,
                policy: Some(make::InteractionPolicy {
                    owner: "water",
                    version: 2,
                    satisfied: &["zone-north"],
                }),
            }),
        ),
        (
            "interaction",
            make::interaction(&make::Interaction {
                command: &[0xd2],
                verdict: GatewayVerdict::Allow,
                reasons: &[],
                observed: 0,
                snapshot_height: 0,
                snapshot_certified_ms: 0,
                sender_status: TrustStatus::Affirming,
                policy: None,
            }),
        ),
    ]
}

#[test]
fn every_payload_kind_conforms_to_the_published_cddl() {
    for (rule, cbor) in vectors() {
        conforms(rule, &cbor).unwrap();
    }
}

#[test]
fn the_cddl_check_catches_a_payload_of_the_wrong_shape() {
    // A vote without its decision, and an evidence with a 40-byte "digest".
    let bad_vote =
        proverka_ledger::payload::encode_map(vec![(1, ciborium::value::Value::Bytes(vec![0; 32]))]);
    assert!(conforms("vote", &bad_vote).is_err());
    let mut ev = make::evidence(&make::Evidence {
        device_id: b"x",
        nonce: b"12345678",
        fw: [0; 32],
        svn: 0,
        debug: 0,
    });
    assert!(conforms("evidence", &ev).is_ok());
    ev[0] = 0xa6; // claims one more pair than present: not CBOR any more
    assert!(conforms("evidence", &ev).is_err());
    // A challenge nonce below 16 bytes, and a window over 24 h.
    assert!(conforms("challenge", &make::challenge(&[1; 15], &[b"m"], None)).is_err());
    let day_and_a_bit = make::challenge(&[1; 16], &[b"m"], Some(86_400_001));
    assert!(conforms("challenge", &day_and_a_bit).is_err());
}

#[test]
fn golden_vectors_are_frozen() {
    let got: Vec<String> = vectors()
        .iter()
        .map(|(r, c)| format!("{r} {}", hex::encode(c)))
        .collect();
    let want: Vec<&str> = GOLDEN
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(got, want, "payload encoding changed:\n{}", got.join("\n"));
}

const GOLDEN: &str = "
join a4016461636d65026b41636d65204d657465727303816c6d616e756661637475726572045828a3010120062158208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c
vote a2015820111111111111111111111111111111111111111111111111111111111111111102f5
org-key a20163616464025828a3010120062158208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394
org-key a201667265766f6b650358201111111111111111111111111111111111111111111111111111111111111111
propose a3016a72656d6f76652d6b6579026461636d650358201111111111111111111111111111111111111111111111111111111111111111
propose a2016a72656d6f76652d6f7267026461636d65
propose a201697468726573686f6c640402
propose a5016d6164642d76616c696461746f720658203333333333333333333333333333333333333333333333333333333333333333075828a301012006215820ca93ac1705187071d67b83c7ff0efe8108e8ec4530575d7726879333dbdabe7c087846636974792e6578616d706c652f6c6f672b30613162326333642b416351376d4a63304679306f546e336a555a724b5976627855365664385a42514f6d324e3978316c4771317009784476616c696461746f722d333333332b35653666376138622b416351376d4a63304679306f546e336a555a724b5976627855365664385a42514f6d324e3978316c47713170
propose a2017072656d6f76652d76616c696461746f720658202222222222222222222222222222222222222222222222222222222222222222
propose a60170726f746174652d76616c696461746f720658203333333333333333333333333333333333333333333333333333333333333333075828a301012006215820ca93ac1705187071d67b83c7ff0efe8108e8ec4530575d7726879333dbdabe7c087846636974792e6578616d706c652f6c6f672b30613162326333642b416351376d4a63304679306f546e336a555a724b5976627855365664385a42514f6d324e3978316c4771317009784476616c696461746f722d333333332b35653666376138622b416351376d4a63304679306f546e336a555a724b5976627855365664385a42514f6d324e3978316c477131700a58201111111111111111111111111111111111111111111111111111111111111111
model a201656d657465720281423000
birth a6014c6d657465722d303030303031025828a301012006215820ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d103656d65746572046a534e303030303030303105657265762d610658201111111111111111111111111111111111111111111111111111111111111111
transfer a2014c6d657465722d30303030303102657761746572
accept a10158202222222222222222222222222222222222222222222222222222222222222222
decommission a1014c6d657465722d303030303031
rekey a2014c6d657465722d303030303031025828a301012006215820ca93ac1705187071d67b83c7ff0efe8108e8ec4530575d7726879333dbdabe7c
release a601656d657465720263312e310358202222222222222222222222222222222222222222222222222222222222222222040205582011111111111111111111111111111111111111111111111111111111111111110603
advisory a8016e434552542d323032362d30303432026461636d6503656d65746572048163312e3006186208f509582022222222222222222222222222222222222222222222222222222222222222220a816e4356452d323032362d3331333337
evidence a5014c6d657465722d303030303031024a6e6f6e63652d30303031035820222222222222222222222222222222222222222222222222222222222222222204020503
evidence-batch 8241d241d2
revoke-device a2014c6d657465722d3030303030310266636c6f6e6564
labels a3014c6d657465722d30303030303102656e6f72746803826470756d706576616c7665
labels a1014c6d657465722d303030303031
challenge a301503031323334353637383961626364656602824c6d657465722d3030303030314c6d657465722d303030303032031a000927c0
challenge a20158205a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a02814c6d657465722d303030303031
policy a3011a0036ee80041a05265c0006f5
cedar-policy a3016577617465720281826a7a6f6e652d6e6f727468785e7065726d6974287072696e636970616c2c20616374696f6e203d3d2050726f7665726b613a3a416374696f6e3a3a2261637475617465222c207265736f7572636520696e2050726f7665726b613a3a5a6f6e653a3a226e6f72746822293b0301
interaction a70146d28440a0f640026464656e790381782d73656e64657220737461747573207761726e696e6720646f6573206e6f74206d6565742061666669726d696e67041a6a18a56405a2011829021b0000019e70460ab806677761726e696e6707a301657761746572020203816a7a6f6e652d6e6f727468
interaction a70141d20265616c6c6f770380040005a201000200066961666669726d696e6707f6
";
