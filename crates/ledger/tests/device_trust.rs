//! Organisations, governance and the device-trust registration rules, as a specification:
//! who may register what, what each statement changes, and why each refusal happens.

use proverka_ledger::records::{device_hash, keys, DeviceRecord, OrgRecord, Role};
use proverka_ledger::{
    make, BlockContext, Decision, GenesisIssuer, LogAnchor, Rejection, Rules, PROPOSAL_TTL_MS,
};
use proverka_statement::{statement_id, KeyType, PrivateKey};

mod support;
use support::city::{city_genesis, verdict, Party, T0};
use support::{MemState, NoCache};

/// The stand-in log root after `height` (the tests' blocks anchor the previous height).
fn root_of(height: u64) -> [u8; 32] {
    statement_id(format!("log root after {height}").as_bytes())
}

/// A small city: three founding governance members (threshold 2), a maker, an operator, a
/// second operator, a security authority and a second maker.
struct City {
    rules: Rules,
    state: MemState,
    height: u64,
    now: u64,
    gov: Vec<Party>,
    acme: Party,
    bolt: Party,
    water: Party,
    grid: Party,
    cert: Party,
}

fn city() -> City {
    city_with_water(KeyType::P256)
}

/// The test city, its water operator holding a key of type `water_key`.
fn city_with_water(water_key: KeyType) -> City {
    let gov: Vec<Party> = (1..=3)
        .map(|i| Party::new(&format!("gov{i}"), KeyType::P256))
        .collect();
    let acme = Party::new("acme", KeyType::P256);
    let bolt = Party::new("bolt", KeyType::Ed25519);
    let water = Party::new("water", water_key);
    let grid = Party::new("grid", KeyType::P256);
    let cert = Party::new("cert", KeyType::P256);
    let mut issuers: Vec<GenesisIssuer> = gov.iter().map(|p| p.issuer(Role::Governance)).collect();
    issuers.extend([
        acme.issuer(Role::Manufacturer),
        bolt.issuer(Role::Manufacturer),
        water.issuer(Role::Operator),
        grid.issuer(Role::Operator),
        cert.issuer(Role::SecurityAuthority),
    ]);
    let genesis = city_genesis(issuers, &acme);
    City {
        rules: Rules::new(&genesis).unwrap(),
        state: MemState::default(),
        height: 0,
        now: T0,
        gov,
        acme,
        bolt,
        water,
        grid,
        cert,
    }
}

impl City {
    /// Applies one block at the current time and commits its writes.
    fn block(&mut self, statements: Vec<Vec<u8>>) -> Vec<Decision> {
        self.height += 1;
        let ctx = BlockContext {
            height: self.height,
            time_ms: self.now,
            anchor: Some(LogAnchor {
                log_size: self.height - 1,
                log_root: root_of(self.height - 1),
            }),
        };
        self.state.apply_block(&self.rules, ctx, &statements)
    }

    /// One statement in its own block; `Ok` if registered, the refusal otherwise.
    fn submit(&mut self, statement: Vec<u8>) -> Result<(), Rejection> {
        verdict(self.block(vec![statement]).remove(0))
    }

    fn sign(&self, p: &Party, kind: &str, payload: &[u8]) -> Vec<u8> {
        p.sign_at(kind, payload, self.now)
    }

    fn device(&self, id: impl AsRef<[u8]>) -> DeviceRecord {
        let id = id.as_ref();
        let bytes = self
            .state
            .kv
            .get(&keys::device(&device_hash(id)))
            .expect("device exists");
        proverka_ledger::records::decode(bytes).unwrap()
    }

    fn has(&self, key: &[u8]) -> bool {
        self.state.kv.contains_key(key)
    }

    /// acme registers model "meter" and a device with an Ed25519 key; returns the device party.
    fn born_device(&mut self, id: &str) -> Party {
        if !self.has(&keys::model(&proverka_ledger::records::model_id(
            "acme", "meter",
        ))) {
            let m = self.sign(
                &self.acme,
                proverka_ledger::kinds::MODEL,
                &make::model("meter", &[]),
            );
            self.submit(m).unwrap();
        }
        let device = Party::new(&hex::encode(id), KeyType::Ed25519);
        let b = make::birth(&make::Birth {
            device_id: id.as_bytes(),
            key: &device.key.public_key(),
            model: "meter",
            serial: "SN-1",
            hw_version: "rev-b",
            factory_fw: FW1,
            x5chain: &[],
        });
        let s = self.sign(&self.acme, proverka_ledger::kinds::BIRTH, &b);
        self.submit(s).unwrap();
        device
    }

    /// The latest log root the ledger anchored: what a device puts in its evidence nonce.
    fn root(&self) -> [u8; 32] {
        proverka_ledger::anchors::latest(&self.state)
            .unwrap()
            .expect("a root was anchored")
            .0
    }

    fn evidence(&self, device: &Party, id: &str, fw: [u8; 32], svn: u64, iat_ms: u64) -> Vec<u8> {
        let e = make::evidence(&make::Evidence {
            device_id: id.as_bytes(),
            nonce: &self.root(),
            fw,
            svn,
            debug: 3,
        });
        device.sign_at(proverka_ledger::kinds::EVIDENCE, &e, iat_ms)
    }
}

use proverka_ledger::kinds::*;

const FW1: [u8; 32] = [0x11; 32];
const FW2: [u8; 32] = [0x22; 32];

// ---------------------------------------------------------------- governance

fn join(c: &City, applicant: &Party, roles: &[Role]) -> Vec<u8> {
    let payload = make::join(
        &applicant.iss,
        "Applicant Ltd",
        roles,
        &applicant.key.public_key(),
    );
    c.sign(applicant, JOIN, &payload)
}

#[test]
fn a_join_is_admitted_once_the_threshold_of_governance_members_approves() {
    let mut c = city();
    let newco = Party::new("newco", KeyType::P256);
    let j = join(&c, &newco, &[Role::Manufacturer]);
    let proposal = statement_id(&j);
    c.submit(j).unwrap();
    c.submit(c.sign(&c.gov[0], VOTE, &make::vote(&proposal, true)))
        .unwrap();
    assert!(
        !c.has(&keys::org("newco")),
        "one approval of two is not enough"
    );
    c.submit(c.sign(&c.gov[1], VOTE, &make::vote(&proposal, true)))
        .unwrap();
    let org: OrgRecord =
        proverka_ledger::records::decode(&c.state.kv[&keys::org("newco")]).unwrap();
    assert_eq!(org.roles, vec![Role::Manufacturer]);
    assert!(
        !c.has(&keys::proposal(&proposal)),
        "an executed proposal is closed"
    );
    // The new member's key now signs for it.
    c.submit(c.sign(&newco, MODEL, &make::model("widget", &[])))
        .unwrap();
}

#[test]
fn only_governance_members_vote_and_each_only_once() {
    let mut c = city();
    let newco = Party::new("newco", KeyType::P256);
    let j = join(&c, &newco, &[Role::Operator]);
    let proposal = statement_id(&j);
    c.submit(j).unwrap();
    let by_maker = c.sign(&c.acme, VOTE, &make::vote(&proposal, true));
    assert_eq!(
        c.submit(by_maker),
        Err(Rejection::MissingRole {
            iss: "acme".into(),
            role: "governance"
        })
    );
    c.submit(c.sign(&c.gov[0], VOTE, &make::vote(&proposal, true)))
        .unwrap();
    c.now += 1000; // a distinct statement: same vote, later iat
    let again = c.sign(&c.gov[0], VOTE, &make::vote(&proposal, true));
    assert!(matches!(c.submit(again), Err(Rejection::Conflict(m)) if m.contains("already voted")));
}

#[test]
fn a_join_must_be_signed_by_the_key_it_registers_and_name_a_new_organisation() {
    let mut c = city();
    let newco = Party::new("newco", KeyType::P256);
    let other = Party::new("newco", KeyType::P256);
    let payload = make::join("newco", "N", &[Role::Operator], &newco.key.public_key());
    assert!(matches!(
        c.submit(c.sign(&other, JOIN, &payload)),
        Err(Rejection::NotPermitted(_))
    ));
    let squatter = Party::new("acme", KeyType::P256);
    let payload = make::join(
        "acme",
        "Not Acme",
        &[Role::Manufacturer],
        &squatter.key.public_key(),
    );
    assert!(matches!(
        c.submit(c.sign(&squatter, JOIN, &payload)),
        Err(Rejection::Conflict(m)) if m.contains("already exists")
    ));
}

#[test]
fn votes_after_the_proposal_lapsed_are_refused_and_rejections_close_it() {
    let mut c = city();
    let a = Party::new("a-co", KeyType::P256);
    let ja = join(&c, &a, &[Role::Operator]);
    let pa = statement_id(&ja);
    c.submit(ja).unwrap();
    let b = Party::new("b-co", KeyType::P256);
    let jb = join(&c, &b, &[Role::Operator]);
    let pb = statement_id(&jb);
    c.submit(jb).unwrap();
    c.submit(c.sign(&c.gov[0], VOTE, &make::vote(&pb, false)))
        .unwrap();
    c.submit(c.sign(&c.gov[1], VOTE, &make::vote(&pb, false)))
        .unwrap();
    assert!(!c.has(&keys::proposal(&pb)) && !c.has(&keys::org("b-co")));
    c.now += PROPOSAL_TTL_MS + 1;
    assert!(matches!(
        c.submit(c.sign(&c.gov[0], VOTE, &make::vote(&pa, true))),
        Err(Rejection::Expired(_))
    ));
}

#[test]
fn an_organisation_rotates_its_key_and_the_revoked_key_signs_nothing_more() {
    let mut c = city();
    let new_key = Party::new("water", KeyType::Ed25519);
    c.submit(c.sign(
        &c.water,
        ORG_KEY,
        &make::org_key_add(&new_key.key.public_key()),
    ))
    .unwrap();
    let old_kid = c.water.key.public_key().thumbprint();
    c.submit(c.sign(&new_key, ORG_KEY, &make::org_key_revoke(&old_kid)))
        .unwrap();
    c.now += 1000;
    let by_old = c.sign(&c.water, "text/plain", b"still me?");
    assert_eq!(
        c.submit(by_old),
        Err(Rejection::RevokedKey(hex::encode(old_kid)))
    );
    c.submit(c.sign(&new_key, "text/plain", b"new key works"))
        .unwrap();
    let last = new_key.key.public_key().thumbprint();
    assert!(matches!(
        c.submit(c.sign(&new_key, ORG_KEY, &make::org_key_revoke(&last))),
        Err(Rejection::Conflict(m)) if m.contains("last active key")
    ));
}

// ---------------------------------------------------------------- makers and devices

#[test]
fn only_a_manufacturer_registers_models_and_only_for_itself() {
    let mut c = city();
    let by_operator = c.sign(&c.water, MODEL, &make::model("meter", &[]));
    assert_eq!(
        c.submit(by_operator),
        Err(Rejection::MissingRole {
            iss: "water".into(),
            role: "manufacturer"
        })
    );
    c.born_device("dev-1");
    // bolt cannot issue a birth certificate for acme's model: it has no model of that name.
    let key = PrivateKey::generate(KeyType::P256).unwrap().public_key();
    let b = make::birth(&make::Birth {
        device_id: b"dev-2",
        key: &key,
        model: "meter",
        serial: "S",
        hw_version: "h",
        factory_fw: FW1,
        x5chain: &[],
    });
    assert!(matches!(
        c.submit(c.sign(&c.bolt, BIRTH, &b)),
        Err(Rejection::NotFound(m)) if m.contains("bolt has no model")
    ));
}

#[test]
fn a_device_is_born_once_with_a_key_nobody_else_uses() {
    let mut c = city();
    let d = c.born_device("dev-1");
    let again = make::birth(&make::Birth {
        device_id: b"dev-1",
        key: &PrivateKey::generate(KeyType::P256).unwrap().public_key(),
        model: "meter",
        serial: "S",
        hw_version: "h",
        factory_fw: FW1,
        x5chain: &[],
    });
    assert!(matches!(
        c.submit(c.sign(&c.acme, BIRTH, &again)),
        Err(Rejection::Conflict(_))
    ));
    let reuse = make::birth(&make::Birth {
        device_id: b"dev-2",
        key: &d.key.public_key(),
        model: "meter",
        serial: "S",
        hw_version: "h",
        factory_fw: FW1,
        x5chain: &[],
    });
    assert!(matches!(
        c.submit(c.sign(&c.acme, BIRTH, &reuse)),
        Err(Rejection::Conflict(m)) if m.contains("already registered")
    ));
    let rec = c.device("dev-1");
    assert_eq!((rec.owner.as_str(), rec.maker.as_str()), ("acme", "acme"));
    assert!(c.has(&keys::idx_fw(&FW1, &device_hash(b"dev-1"))));
}

#[test]
fn ownership_moves_only_when_the_owner_offers_and_the_recipient_accepts() {
    let mut c = city();
    c.born_device("dev-1");
    let by_stranger = c.sign(&c.water, TRANSFER, &make::transfer(b"dev-1", "water"));
    assert_eq!(
        c.submit(by_stranger),
        Err(Rejection::NotOwner {
            device: hex::encode("dev-1"),
            owner: "acme".into()
        })
    );
    let offer = c.sign(&c.acme, TRANSFER, &make::transfer(b"dev-1", "water"));
    let pending = statement_id(&offer);
    c.submit(offer).unwrap();
    assert_eq!(
        c.device("dev-1").owner,
        "acme",
        "an offer alone changes nothing"
    );
    let wrong = c.sign(&c.grid, ACCEPT, &make::accept(&pending));
    assert!(matches!(c.submit(wrong), Err(Rejection::NotPermitted(_))));
    c.submit(c.sign(&c.water, ACCEPT, &make::accept(&pending)))
        .unwrap();
    assert_eq!(c.device("dev-1").owner, "water");
    let dev = device_hash(b"dev-1");
    assert!(c.has(&keys::idx_owner("water", &dev)) && !c.has(&keys::idx_owner("acme", &dev)));
    // Operator to operator, then the history holds birth, offer, acceptance, offer, acceptance.
    let offer = c.sign(&c.water, TRANSFER, &make::transfer(b"dev-1", "grid"));
    let pending = statement_id(&offer);
    c.submit(offer).unwrap();
    c.submit(c.sign(&c.grid, ACCEPT, &make::accept(&pending)))
        .unwrap();
    assert_eq!(c.device("dev-1").owner, "grid");
    let prefix = keys::history_of(&dev);
    assert_eq!(
        c.state.kv.keys().filter(|k| k.starts_with(&prefix)).count(),
        5
    );
}

#[test]
fn a_device_key_rotation_is_signed_by_the_old_key_and_approved_by_the_owner() {
    let mut c = city();
    let d = c.born_device("dev-1");
    let new = Party::new(&d.iss, KeyType::P256);
    let req = d.sign_at(REKEY, &make::rekey(b"dev-1", &new.key.public_key()), c.now);
    let pending = statement_id(&req);
    c.submit(req).unwrap();
    let not_owner = c.sign(&c.water, ACCEPT, &make::accept(&pending));
    assert!(matches!(
        c.submit(not_owner),
        Err(Rejection::NotOwner { .. })
    ));
    c.submit(c.sign(&c.acme, ACCEPT, &make::accept(&pending)))
        .unwrap();
    let old = c.evidence(&d, "dev-1", FW1, 1, c.now);
    assert_eq!(
        c.submit(old),
        Err(Rejection::RevokedKey(hex::encode(
            d.key.public_key().thumbprint()
        )))
    );
    c.submit(c.evidence(&new, "dev-1", FW1, 1, c.now)).unwrap();
}

#[test]
fn only_the_devices_current_key_signs_its_evidence() {
    let mut c = city();
    let d1 = c.born_device("dev-1");
    c.born_device("dev-2");
    // dev-1's key speaking for dev-2 (its iss is dev-1's, the claim names dev-2).
    let e = make::evidence(&make::Evidence {
        device_id: b"dev-2",
        nonce: &c.root(),
        fw: FW1,
        svn: 1,
        debug: 3,
    });
    let forged = d1.sign_at(EVIDENCE, &e, c.now);
    assert!(matches!(c.submit(forged), Err(Rejection::NotPermitted(_))));
    let stranger = Party::new(&hex::encode("dev-1"), KeyType::Ed25519);
    let unknown = c.evidence(&stranger, "dev-1", FW1, 1, c.now);
    assert!(matches!(
        c.submit(unknown),
        Err(Rejection::UnknownIssuer(_))
    ));
}

#[test]
fn evidence_must_be_recent_in_order_and_a_lower_svn_is_flagged_as_rollback() {
    let mut c = city();
    let d = c.born_device("dev-1");
    let future = c.evidence(&d, "dev-1", FW1, 1, c.now + 10 * 60_000);
    assert!(matches!(c.submit(future), Err(Rejection::Evidence(m)) if m.contains("ahead")));
    let stale = c.evidence(&d, "dev-1", FW1, 1, c.now - 25 * 3_600_000);
    assert!(matches!(c.submit(stale), Err(Rejection::Evidence(m)) if m.contains("old")));
    c.submit(c.evidence(&d, "dev-1", FW2, 5, c.now)).unwrap();
    let dev = device_hash(b"dev-1");
    assert!(c.has(&keys::idx_fw(&FW2, &dev)) && !c.has(&keys::idx_fw(&FW1, &dev)));
    let earlier = c.evidence(&d, "dev-1", FW2, 5, c.now - 60_000);
    assert!(matches!(c.submit(earlier), Err(Rejection::Evidence(m)) if m.contains("older")));
    c.now += 60_000;
    c.submit(c.evidence(&d, "dev-1", FW1, 3, c.now)).unwrap();
    assert_eq!(c.device("dev-1").rollback, Some((3, 5)));
    assert_eq!(c.device("dev-1").highest_svn, Some(5));
}

#[test]
fn a_decommissioned_device_reports_nothing_more() {
    let mut c = city();
    let d = c.born_device("dev-1");
    c.submit(c.sign(&c.acme, DECOMMISSION, &make::decommission(b"dev-1")))
        .unwrap();
    let e = c.evidence(&d, "dev-1", FW1, 1, c.now);
    assert_eq!(
        c.submit(e),
        Err(Rejection::Decommissioned(hex::encode("dev-1")))
    );
    assert!(!c.has(&keys::idx_fw(&FW1, &device_hash(b"dev-1"))));
}

#[test]
fn a_gateway_batch_registers_all_its_evidence_or_none_of_it() {
    let mut c = city();
    let devices: Vec<Party> = (0..3).map(|i| c.born_device(&format!("dev-{i}"))).collect();
    let items: Vec<Vec<u8>> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| c.evidence(d, &format!("dev-{i}"), FW2, 2, c.now))
        .collect();
    let by_maker = c.sign(&c.acme, EVIDENCE_BATCH, &make::evidence_batch(&items));
    assert!(matches!(
        c.submit(by_maker),
        Err(Rejection::MissingRole { .. })
    ));
    let mut bad = items.clone();
    bad[1] = c.evidence(&devices[0], "dev-1", FW2, 2, c.now); // dev-0's key for dev-1
    let refused = c.submit(c.sign(&c.water, EVIDENCE_BATCH, &make::evidence_batch(&bad)));
    assert!(
        matches!(refused, Err(Rejection::BatchItem { index: 1, .. })),
        "{refused:?}"
    );
    assert!(
        c.device("dev-0").evidence.is_none(),
        "a refused batch changes nothing"
    );
    c.submit(c.sign(&c.water, EVIDENCE_BATCH, &make::evidence_batch(&items)))
        .unwrap();
    for i in 0..3 {
        assert_eq!(c.device(format!("dev-{i}")).fw, FW2);
    }
}

// ---------------------------------------------------------------- firmware and advisories

fn release(model: &str, version: &str, digest: [u8; 32], svn: u64) -> Vec<u8> {
    make::release(&make::Release {
        model,
        version,
        digest,
        svn,
        supersedes: None,
        security: None,
        revoked: false,
    })
}

#[test]
fn only_the_maker_publishes_releases_which_change_only_by_revocation() {
    let mut c = city();
    c.born_device("dev-1");
    let by_bolt = c.sign(&c.bolt, RELEASE, &release("meter", "1.0", FW1, 1));
    assert!(matches!(c.submit(by_bolt), Err(Rejection::NotFound(_))));
    c.submit(c.sign(&c.acme, RELEASE, &release("meter", "1.0", FW1, 1)))
        .unwrap();
    c.now += 1000;
    let changed = c.sign(&c.acme, RELEASE, &release("meter", "1.0", FW1, 2));
    assert!(matches!(c.submit(changed), Err(Rejection::Conflict(_))));
    let revoke = make::release(&make::Release {
        model: "meter",
        version: "1.0",
        digest: FW1,
        svn: 1,
        supersedes: None,
        security: None,
        revoked: true,
    });
    c.submit(c.sign(&c.acme, RELEASE, &revoke)).unwrap();
}

#[test]
fn advisories_come_from_the_maker_or_a_security_authority_and_updates_are_revisions() {
    let mut c = city();
    c.born_device("dev-1");
    let adv = |withdrawn| {
        make::advisory(&make::Advisory {
            id: "ADV-1",
            maker: "acme",
            model: "meter",
            digests: &[FW1],
            cvss: Some(98),
            refs: &["CVE-2026-0001"],
            withdrawn,
            ..Default::default()
        })
    };
    let by_other_maker = c.sign(&c.bolt, ADVISORY, &adv(false));
    assert!(matches!(
        c.submit(by_other_maker),
        Err(Rejection::NotPermitted(_))
    ));
    let by_operator = c.sign(&c.water, ADVISORY, &adv(false));
    assert!(matches!(
        c.submit(by_operator),
        Err(Rejection::NotPermitted(_))
    ));
    c.submit(c.sign(&c.cert, ADVISORY, &adv(false))).unwrap();
    c.submit(c.sign(&c.acme, ADVISORY, &adv(false))).unwrap();
    c.now += 1000;
    c.submit(c.sign(&c.cert, ADVISORY, &adv(true))).unwrap();
    let key = keys::advisory(&proverka_ledger::records::advisory_key_id("cert", "ADV-1"));
    let rec: proverka_ledger::records::AdvisoryRecord =
        proverka_ledger::records::decode(&c.state.kv[&key]).unwrap();
    assert_eq!((rec.revision, rec.withdrawn, rec.severity), (2, true, 3));
    let contradictory = make::advisory(&make::Advisory {
        id: "ADV-2",
        maker: "acme",
        model: "meter",
        versions: &["1.0"],
        cvss: Some(30),
        level: Some(3),
        ..Default::default()
    });
    assert!(matches!(
        c.submit(c.sign(&c.acme, ADVISORY, &contradictory)),
        Err(Rejection::BadPayload { .. })
    ));
}

#[test]
fn payloads_with_unknown_or_missing_fields_are_refused_naming_the_field() {
    let mut c = city();
    let mut bad = make::model("meter", &[]);
    // Replace the map header {1: ...} by {1: ..., 9: 0}: one more pair, unknown label 9.
    bad[0] += 1;
    bad.extend_from_slice(&[0x09, 0x00]);
    assert_eq!(
        c.submit(c.sign(&c.acme, MODEL, &bad)),
        Err(Rejection::BadPayload {
            kind: "model",
            error: proverka_ledger::payload::PayloadError::Unknown(9)
        })
    );
    let missing = proverka_ledger::payload::encode_map(vec![]);
    assert_eq!(
        c.submit(c.sign(&c.acme, MODEL, &missing)),
        Err(Rejection::BadPayload {
            kind: "model",
            error: proverka_ledger::payload::PayloadError::Missing(1)
        })
    );
}

// ---------------------------------------------------------------- IDevID chains (made by openssl)

fn fixture(name: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../idevid/tests/fixtures/");
    std::fs::read(format!("{dir}{name}")).unwrap()
}

#[test]
fn a_birth_certificates_idevid_chain_must_reach_the_models_root_and_carry_the_device_key() {
    let mut c = city();
    c.now = 1_893_456_000_000; // 2030-01-01, inside the fixtures' validity
    let model = make::model("meter-x", &[fixture("root-ca.der")]);
    c.submit(c.sign(&c.acme, MODEL, &model)).unwrap();
    let pem = String::from_utf8(fixture("device-p256.key.pem")).unwrap();
    let device_key = PrivateKey::from_pkcs8_pem(&pem).unwrap().public_key();
    let birth = |id: &'static [u8], key, chain: &[Vec<u8>]| {
        make::birth(&make::Birth {
            device_id: id,
            key,
            model: "meter-x",
            serial: "PRV-0001",
            hw_version: "h",
            factory_fw: FW1,
            x5chain: chain,
        })
    };
    let foreign = [fixture("device-other-root.der")];
    let refused = c.submit(c.sign(&c.acme, BIRTH, &birth(b"x-1", &device_key, &foreign)));
    assert!(matches!(refused, Err(Rejection::Idevid(_))), "{refused:?}");
    let chain = [fixture("device-p256.der"), fixture("intermediate-ca.der")];
    let other_key = PrivateKey::generate(KeyType::P256).unwrap().public_key();
    let mismatch = c.submit(c.sign(&c.acme, BIRTH, &birth(b"x-2", &other_key, &chain)));
    assert!(matches!(mismatch, Err(Rejection::Idevid(m)) if m.contains("not the device key")));
    c.submit(c.sign(&c.acme, BIRTH, &birth(b"x-3", &device_key, &chain)))
        .unwrap();
    assert_eq!(c.device("x-3").idevid_serial.as_deref(), Some("PRV-0001"));
    // A model without roots accepts no chain at all.
    c.submit(c.sign(&c.acme, MODEL, &make::model("plain", &[])))
        .unwrap();
    let no_roots = make::birth(&make::Birth {
        device_id: b"x-4",
        key: &other_key,
        model: "plain",
        serial: "S",
        hw_version: "h",
        factory_fw: FW1,
        x5chain: &chain,
    });
    assert!(matches!(
        c.submit(c.sign(&c.acme, BIRTH, &no_roots)),
        Err(Rejection::Idevid(_))
    ));
}

// ---------------------------------------------------------------- status, decay and exposure

use proverka_ledger::query;
use proverka_trust::Status;

fn status(c: &City, id: &str) -> (Status, Vec<&'static str>) {
    let (_, a) = query::device_status(&c.state, id.as_bytes(), c.now)
        .unwrap()
        .unwrap();
    (a.status, a.reasons.iter().map(|r| r.code()).collect())
}

#[test]
fn a_new_advisory_drops_exactly_the_affected_devices_and_a_patch_restores_them() {
    let mut c = city();
    c.submit(c.sign(&c.acme, MODEL, &make::model("meter", &[])))
        .unwrap();
    c.submit(c.sign(&c.acme, RELEASE, &release("meter", "1.0", FW1, 1)))
        .unwrap();
    let parties: Vec<Party> = (0..4).map(|i| c.born_device(&format!("dev-{i}"))).collect();
    // dev-0, dev-1 run 1.0 (FW1); dev-2, dev-3 run an unknown build FW2 for now.
    for (i, d) in parties.iter().enumerate() {
        let fw = if i < 2 { FW1 } else { FW2 };
        c.submit(c.evidence(d, &format!("dev-{i}"), fw, 1, c.now))
            .unwrap();
    }
    assert_eq!(status(&c, "dev-0").0, Status::Affirming);
    assert_eq!(
        status(&c, "dev-2"),
        (Status::Warning, vec!["firmware-unknown"])
    );

    let adv = make::advisory(&make::Advisory {
        id: "CERT-2026-7",
        maker: "acme",
        model: "meter",
        versions: &["1.0"],
        cvss: Some(98),
        refs: &["CVE-2026-1234"],
        ..Default::default()
    });
    c.now += 60_000;
    c.submit(c.sign(&c.cert, ADVISORY, &adv)).unwrap();
    // No new evidence: the status changes because the ledger state did.
    assert_eq!(
        status(&c, "dev-0"),
        (Status::Contraindicated, vec!["advisory"])
    );
    assert_eq!(
        status(&c, "dev-2").0,
        Status::Warning,
        "other firmware is unaffected"
    );
    let record = query::advisory(&c.state, "cert", "CERT-2026-7")
        .unwrap()
        .unwrap();
    let mut exposed = query::advisory_exposure(&c.state, &record).unwrap();
    exposed.sort();
    let mut expected = vec![device_hash(b"dev-0"), device_hash(b"dev-1")];
    expected.sort();
    assert_eq!(exposed, expected);

    // The fix: release 1.1, rolled out to dev-0 only.
    const FW3: [u8; 32] = [0x33; 32];
    let fix = make::release(&make::Release {
        model: "meter",
        version: "1.1",
        digest: FW3,
        svn: 2,
        supersedes: Some(FW1),
        security: Some(3),
        revoked: false,
    });
    c.submit(c.sign(&c.acme, RELEASE, &fix)).unwrap();
    c.now += 60_000;
    c.submit(c.evidence(&parties[0], "dev-0", FW3, 2, c.now))
        .unwrap();
    assert_eq!(status(&c, "dev-0"), (Status::Affirming, vec![]));
    assert_eq!(status(&c, "dev-1").0, Status::Contraindicated);
    assert_eq!(
        query::advisory_exposure(&c.state, &record).unwrap(),
        vec![device_hash(b"dev-1")]
    );
}

#[test]
fn trust_decays_with_time_alone_when_evidence_goes_stale() {
    let mut c = city();
    c.submit(c.sign(&c.acme, MODEL, &make::model("meter", &[])))
        .unwrap();
    c.submit(c.sign(&c.acme, RELEASE, &release("meter", "1.0", FW1, 1)))
        .unwrap();
    let d = c.born_device("dev-0");
    assert_eq!(status(&c, "dev-0"), (Status::None, vec!["no-evidence"]));
    c.submit(c.evidence(&d, "dev-0", FW1, 1, c.now)).unwrap();
    assert_eq!(status(&c, "dev-0").0, Status::Affirming);
    c.now += 24 * 3_600_000;
    assert_eq!(status(&c, "dev-0"), (Status::None, vec!["evidence-stale"]));
}

#[test]
fn an_owner_tightens_its_policy_but_cannot_loosen_it_past_the_defaults() {
    let mut c = city();
    c.submit(c.sign(&c.acme, MODEL, &make::model("meter", &[])))
        .unwrap();
    c.submit(c.sign(&c.acme, RELEASE, &release("meter", "1.0", FW1, 1)))
        .unwrap();
    let d = c.born_device("dev-0");
    c.submit(c.evidence(&d, "dev-0", FW1, 1, c.now)).unwrap();
    let loose = make::policy(Some(48 * 3_600_000), [None; 4], None);
    assert!(matches!(
        c.submit(c.sign(&c.acme, POLICY, &loose)),
        Err(Rejection::NotPermitted(m)) if m.contains("freshness")
    ));
    let strict = make::policy(Some(3_600_000), [None; 4], None);
    c.submit(c.sign(&c.acme, POLICY, &strict)).unwrap();
    c.now += 3_600_000;
    assert_eq!(status(&c, "dev-0"), (Status::None, vec!["evidence-stale"]));
    let (_, d_water) = (0, query::owner_policy(&c.state, "water").unwrap());
    assert_eq!(
        d_water,
        proverka_trust::Policy::default(),
        "other owners keep the defaults"
    );
}

#[test]
fn a_maker_revokes_a_device_identity_which_is_contraindicated_for_good_and_signs_nothing_more() {
    let mut c = city();
    c.submit(c.sign(&c.acme, MODEL, &make::model("meter", &[])))
        .unwrap();
    c.submit(c.sign(&c.acme, RELEASE, &release("meter", "1.0", FW1, 1)))
        .unwrap();
    let d = c.born_device("dev-0");
    c.submit(c.evidence(&d, "dev-0", FW1, 1, c.now)).unwrap();
    let by_owner_not_maker = c.sign(&c.cert, REVOKE_DEVICE, &make::revoke_device(b"dev-0", None));
    assert!(matches!(
        c.submit(by_owner_not_maker),
        Err(Rejection::MissingRole { .. })
    ));
    let by_other_maker = c.sign(&c.bolt, REVOKE_DEVICE, &make::revoke_device(b"dev-0", None));
    assert!(matches!(
        c.submit(by_other_maker),
        Err(Rejection::NotPermitted(_))
    ));
    let revoke = make::revoke_device(b"dev-0", Some("key extracted from a returned unit"));
    c.submit(c.sign(&c.acme, REVOKE_DEVICE, &revoke)).unwrap();
    assert_eq!(
        status(&c, "dev-0"),
        (Status::Contraindicated, vec!["identity-revoked"])
    );
    c.now += 1000;
    let e = c.evidence(&d, "dev-0", FW1, 1, c.now);
    assert_eq!(
        c.submit(e),
        Err(Rejection::RevokedKey(hex::encode(
            d.key.public_key().thumbprint()
        )))
    );
}

#[test]
fn a_forged_signature_anywhere_in_a_gateway_batch_refuses_the_batch_naming_the_item() {
    let mut c = city();
    let devices: Vec<Party> = (0..4).map(|i| c.born_device(&format!("dev-{i}"))).collect();
    let mut items: Vec<Vec<u8>> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| c.evidence(d, &format!("dev-{i}"), FW2, 2, c.now))
        .collect();
    let last = items[2].len() - 1;
    items[2][last] ^= 0x01; // the signature is the last field of the COSE_Sign1
    let refused = c.submit(c.sign(&c.water, EVIDENCE_BATCH, &make::evidence_batch(&items)));
    match refused {
        Err(Rejection::BatchItem { index: 2, reason }) => {
            assert!(matches!(*reason, Rejection::Signature(_)), "{reason:?}")
        }
        other => panic!("expected item 2's signature to be refused, got {other:?}"),
    }
    assert!(c.device("dev-0").evidence.is_none());
}

#[test]
fn a_batch_checked_outer_signature_does_not_vouch_for_the_items_inside() {
    // Two Ed25519 issuer statements in one block: their outer signatures are checked in one
    // batch equation before the rules run. The forged item inside must still be found.
    let mut c = city_with_water(KeyType::Ed25519);
    let devices: Vec<Party> = (0..3).map(|i| c.born_device(&format!("dev-{i}"))).collect();
    let mut items: Vec<Vec<u8>> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| c.evidence(d, &format!("dev-{i}"), FW2, 2, c.now))
        .collect();
    let last = items[1].len() - 1;
    items[1][last] ^= 0x01;
    let batch = c.sign(&c.water, EVIDENCE_BATCH, &make::evidence_batch(&items));
    let note = c.sign(&c.water, "text/plain", b"shift report");
    let mut decisions = c.block(vec![batch, note]).into_iter().map(verdict);
    match decisions.next() {
        Some(Err(Rejection::BatchItem { index: 1, reason })) => {
            assert!(matches!(*reason, Rejection::Signature(_)), "{reason:?}")
        }
        other => panic!("expected item 1's signature to be refused, got {other:?}"),
    }
    assert_eq!(
        decisions.next(),
        Some(Ok(())),
        "the plain statement registers"
    );
    assert!(c.device("dev-0").evidence.is_none());
}

// Evidence freshness: the nonce is a log root the ledger anchored recently.

#[test]
fn evidence_naming_no_anchored_root_is_refused() {
    let mut c = city();
    let d = c.born_device("dev-1");
    // A made-up 32-byte root, and an old-style free-form nonce.
    for nonce in [[0x42u8; 32].as_slice(), b"fresh-nonce-0001".as_slice()] {
        let e = make::evidence(&make::Evidence {
            device_id: b"dev-1",
            nonce,
            fw: FW1,
            svn: 1,
            debug: 3,
        });
        // Neither a kept root nor a registered challenge (`tests/challenges.rs`).
        let refused = c.submit(d.sign_at(EVIDENCE, &e, c.now));
        assert_eq!(
            refused,
            Err(Rejection::Challenge(
                proverka_ledger::ChallengeRefusal::Unknown {
                    nonce: hex::encode(nonce)
                }
            ))
        );
    }
    assert!(c.device("dev-1").evidence.is_none());
}

#[test]
fn evidence_naming_a_root_older_than_the_window_is_refused_even_with_a_fresh_iat() {
    let mut c = city();
    let d = c.born_device("dev-1");
    let old_root = c.root();
    // Precomputed with today's root, kept, and replayed a day later with a fresh-looking iat.
    c.now += proverka_ledger::NONCE_ROOT_WINDOW_MS + 1;
    c.submit(c.sign(&c.acme, "text/plain", b"the ledger moves on"))
        .unwrap();
    let e = make::evidence(&make::Evidence {
        device_id: b"dev-1",
        nonce: &old_root,
        fw: FW1,
        svn: 1,
        debug: 3,
    });
    let refused = c.submit(d.sign_at(EVIDENCE, &e, c.now));
    assert!(
        matches!(&refused, Err(Rejection::Evidence(m)) if m.contains("anchored") && m.contains("86400")),
        "{refused:?}"
    );
    // At exactly the window's edge the root is still accepted.
    let mut c = city();
    let d = c.born_device("dev-1");
    let root = c.root();
    let anchored = proverka_ledger::anchors::lookup(&c.state, &root)
        .unwrap()
        .unwrap()
        .anchored_ms;
    c.now = anchored + proverka_ledger::NONCE_ROOT_WINDOW_MS;
    let e = make::evidence(&make::Evidence {
        device_id: b"dev-1",
        nonce: &root,
        fw: FW1,
        svn: 1,
        debug: 3,
    });
    c.submit(d.sign_at(EVIDENCE, &e, c.now)).unwrap();
}

#[test]
fn replayed_evidence_registers_nothing() {
    let mut c = city();
    let d = c.born_device("dev-1");
    let first = c.evidence(&d, "dev-1", FW1, 1, c.now);
    c.submit(first.clone()).unwrap();
    c.now += 60_000;
    c.submit(c.evidence(&d, "dev-1", FW2, 2, c.now)).unwrap();
    // The same bytes again: a duplicate, no second leaf and no state change.
    let before = c.device("dev-1");
    assert!(matches!(
        c.block(vec![first]).remove(0),
        Decision::Duplicate { .. }
    ));
    assert_eq!(c.device("dev-1"), before);
    // Older evidence signed over a still-valid root but never submitted: refused as a replay.
    let kept = c.evidence(&d, "dev-1", FW1, 1, c.now - 30_000);
    assert!(matches!(c.submit(kept), Err(Rejection::Evidence(m)) if m.contains("older")));
    assert_eq!(c.device("dev-1").fw, FW2);
}

#[test]
fn the_ledger_keeps_the_last_k_anchored_roots_with_their_first_anchoring_time() {
    use proverka_ledger::anchors::{lookup, root_key, MAX_ANCHORED_ROOTS};
    let mut c = city();
    let d = c.born_device("dev-1");
    let first = c.root();
    let first_time = lookup(&c.state, &first).unwrap().unwrap().anchored_ms;
    // An idle ledger re-anchors the same root: its first anchoring time stands.
    c.now += 3_600_000;
    c.height += 1;
    let same = BlockContext {
        height: c.height,
        time_ms: c.now,
        anchor: Some(LogAnchor {
            log_size: c.height - 2,
            log_root: first,
        }),
    };
    let d2 = c.rules.apply_block(&c.state, same, &[], &NoCache).unwrap();
    assert!(
        d2.state_writes().is_empty(),
        "an unchanged root writes nothing"
    );
    assert_eq!(
        lookup(&c.state, &first).unwrap().unwrap().anchored_ms,
        first_time
    );
    // K more roots push the first one out of the ring: evidence naming it is refused.
    for _ in 0..MAX_ANCHORED_ROOTS {
        c.block(Vec::new());
    }
    assert!(lookup(&c.state, &first).unwrap().is_none());
    let kept = c
        .state
        .kv
        .keys()
        .filter(|k| k.starts_with(b"anchor/root/"))
        .count();
    assert_eq!(kept as u64, MAX_ANCHORED_ROOTS);
    assert!(!c.has(&root_key(&first)));
    let e = make::evidence(&make::Evidence {
        device_id: b"dev-1",
        nonce: &first,
        fw: FW1,
        svn: 1,
        debug: 3,
    });
    let refused = c.submit(d.sign_at(EVIDENCE, &e, c.now));
    assert!(
        matches!(&refused, Err(r @ Rejection::Challenge(_)) if r.to_string().contains("last 4096")),
        "{refused:?}"
    );
    c.submit(c.evidence(&d, "dev-1", FW1, 1, c.now)).unwrap();
}

// Governance changes: proposed by a member, decided by the threshold of members' votes.

fn constitution(c: &City) -> Option<proverka_ledger::records::ConstitutionRecord> {
    c.state
        .kv
        .get(keys::CONSTITUTION)
        .map(|b| proverka_ledger::records::decode(b).unwrap())
}

fn org_record(c: &City, iss: &str) -> OrgRecord {
    proverka_ledger::records::decode(&c.state.kv[&keys::org(iss)]).unwrap()
}

/// `voters` (indexes into `c.gov`) vote on `proposal`, each in its own block.
fn votes(c: &mut City, proposal: &[u8; 32], voters: &[usize], approve: bool) {
    for &i in voters {
        c.submit(c.sign(&c.gov[i], VOTE, &make::vote(proposal, approve)))
            .unwrap();
    }
}

#[test]
fn removing_another_organisations_key_needs_the_threshold_of_votes() {
    let mut c = city();
    let spare = Party::new("water", KeyType::Ed25519);
    c.submit(c.sign(
        &c.water,
        ORG_KEY,
        &make::org_key_add(&spare.key.public_key()),
    ))
    .unwrap();
    let kid = c.water.key.public_key().thumbprint();
    // Only governance proposes.
    let by_maker = c.sign(&c.acme, PROPOSE, &make::propose_remove_key("water", &kid));
    assert!(matches!(
        c.submit(by_maker),
        Err(Rejection::MissingRole { .. })
    ));
    let p = c.sign(&c.gov[0], PROPOSE, &make::propose_remove_key("water", &kid));
    let id = statement_id(&p);
    c.submit(p).unwrap();
    // One vote of two: the key still signs.
    votes(&mut c, &id, &[0], true);
    c.now += 1000;
    c.submit(c.sign(&c.water, "text/plain", b"still here"))
        .unwrap();
    // The second vote carries it out: revoked, and the org keeps its other key.
    votes(&mut c, &id, &[1], true);
    c.now += 1000;
    assert_eq!(
        c.submit(c.sign(&c.water, "text/plain", b"and now?")),
        Err(Rejection::RevokedKey(hex::encode(kid)))
    );
    assert_eq!(org_record(&c, "water").keys.len(), 1);
    c.submit(c.sign(&spare, "text/plain", b"the spare key signs"))
        .unwrap();
    assert!(
        !c.has(&keys::gov_proposal(&id)),
        "an executed proposal is closed"
    );
    // The org's last key is not removed key by key.
    let last = spare.key.public_key().thumbprint();
    let p = c.sign(
        &c.gov[0],
        PROPOSE,
        &make::propose_remove_key("water", &last),
    );
    assert!(matches!(c.submit(p), Err(Rejection::Conflict(m)) if m.contains("last active key")));
    // Nor a key it does not hold, nor an unknown organisation's.
    let p = c.sign(
        &c.gov[0],
        PROPOSE,
        &make::propose_remove_key("water", &[9; 32]),
    );
    assert!(matches!(c.submit(p), Err(Rejection::NotFound(_))));
    let p = c.sign(
        &c.gov[0],
        PROPOSE,
        &make::propose_remove_key("nobody", &kid),
    );
    assert!(matches!(c.submit(p), Err(Rejection::NotFound(_))));
}

#[test]
fn governance_votes_count_once_per_member_and_only_from_members() {
    let mut c = city();
    let p = c.sign(&c.gov[0], PROPOSE, &make::propose_remove_org("grid"));
    let id = statement_id(&p);
    c.submit(p).unwrap();
    let by_operator = c.sign(&c.water, VOTE, &make::vote(&id, true));
    assert!(matches!(
        c.submit(by_operator),
        Err(Rejection::MissingRole { .. })
    ));
    votes(&mut c, &id, &[0], true);
    c.now += 1000;
    let again = c.sign(&c.gov[0], VOTE, &make::vote(&id, true));
    assert!(matches!(c.submit(again), Err(Rejection::Conflict(m)) if m.contains("already voted")));
    assert!(
        !org_record_exists_without_keys(&c, "grid"),
        "one member's approval, however often sent, is not the threshold"
    );
    votes(&mut c, &id, &[2], true);
    // Removed: no keys, no roles; every former key revoked; the name cannot come back.
    let grid = org_record(&c, "grid");
    assert!(grid.keys.is_empty() && grid.roles.is_empty());
    c.now += 1000;
    assert!(matches!(
        c.submit(c.sign(&c.grid, "text/plain", b"hello?")),
        Err(Rejection::RevokedKey(_))
    ));
    let again = Party::new("grid", KeyType::P256);
    assert!(matches!(
        c.submit(join(&c, &again, &[Role::Operator])),
        Err(Rejection::Conflict(m)) if m.contains("already exists")
    ));
    let p = c.sign(&c.gov[0], PROPOSE, &make::propose_remove_org("grid"));
    assert!(matches!(c.submit(p), Err(Rejection::Conflict(m)) if m.contains("removed")));
}

fn org_record_exists_without_keys(c: &City, iss: &str) -> bool {
    c.has(&keys::org(iss)) && org_record(c, iss).keys.is_empty()
}

#[test]
fn the_threshold_is_amended_by_vote_within_one_to_the_number_of_members() {
    let mut c = city();
    for out_of_bounds in [0, 4] {
        let p = c.sign(&c.gov[0], PROPOSE, &make::propose_threshold(out_of_bounds));
        assert!(
            matches!(c.submit(p), Err(Rejection::NotPermitted(m)) if m.contains("1..=3")),
            "threshold {out_of_bounds}"
        );
    }
    let p = c.sign(&c.gov[0], PROPOSE, &make::propose_threshold(3));
    let id = statement_id(&p);
    c.submit(p).unwrap();
    // A second threshold proposal while this one is open is refused.
    c.now += 1000;
    let rival = c.sign(&c.gov[1], PROPOSE, &make::propose_threshold(1));
    assert!(matches!(c.submit(rival), Err(Rejection::Conflict(m)) if m.contains("open until")));
    votes(&mut c, &id, &[0, 1], true);
    assert_eq!(constitution(&c).unwrap().threshold, 3);
    // Now two approvals no longer admit a join; the third does.
    let newco = Party::new("newco", KeyType::P256);
    let j = join(&c, &newco, &[Role::Governance]);
    let jid = statement_id(&j);
    c.submit(j).unwrap();
    votes(&mut c, &jid, &[0, 1], true);
    assert!(!c.has(&keys::org("newco")));
    votes(&mut c, &jid, &[2], true);
    assert!(c.has(&keys::org("newco")));
    // The new governance member counts: 4 members, so a threshold of 4 is now in bounds.
    let members = constitution(&c).unwrap().members;
    assert_eq!(members, vec!["gov1", "gov2", "gov3", "newco"]);
    let p = c.sign(&c.gov[0], PROPOSE, &make::propose_threshold(4));
    c.submit(p).unwrap();
}

#[test]
fn a_lapsed_governance_proposal_takes_no_votes_and_can_be_replaced() {
    let mut c = city();
    let p = c.sign(&c.gov[0], PROPOSE, &make::propose_threshold(1));
    let id = statement_id(&p);
    c.submit(p).unwrap();
    votes(&mut c, &id, &[0], true);
    c.now += PROPOSAL_TTL_MS + 1;
    let late = c.sign(&c.gov[1], VOTE, &make::vote(&id, true));
    let refused = c.submit(late);
    assert!(
        matches!(&refused, Err(Rejection::Expired(m)) if m.contains("lapsed") && m.contains("30 days")),
        "{refused:?}"
    );
    assert_eq!(constitution(&c), None, "nothing changed");
    // A new proposal about the same subject replaces the lapsed one.
    let p2 = c.sign(&c.gov[1], PROPOSE, &make::propose_threshold(1));
    let id2 = statement_id(&p2);
    c.submit(p2).unwrap();
    assert!(
        !c.has(&keys::gov_proposal(&id)),
        "the lapsed proposal is gone"
    );
    votes(&mut c, &id2, &[1, 2], true);
    assert_eq!(constitution(&c).unwrap().threshold, 1);
}

#[test]
fn removing_a_governance_member_keeps_the_threshold_within_the_members() {
    let mut c = city();
    // Threshold 3 of 3, then gov3 is removed: the threshold follows down to 2.
    let p = c.sign(&c.gov[0], PROPOSE, &make::propose_threshold(3));
    let id = statement_id(&p);
    c.submit(p).unwrap();
    votes(&mut c, &id, &[0, 1], true);
    let p = c.sign(&c.gov[0], PROPOSE, &make::propose_remove_org("gov3"));
    let id = statement_id(&p);
    c.submit(p).unwrap();
    votes(&mut c, &id, &[0, 1], true);
    assert!(c.has(&keys::gov_proposal(&id)), "two of three is too few");
    votes(&mut c, &id, &[2], true);
    let after = constitution(&c).unwrap();
    assert_eq!(after.members, vec!["gov1", "gov2"]);
    assert_eq!(after.threshold, 2);
    // The removed member votes no more.
    let p = c.sign(&c.gov[0], PROPOSE, &make::propose_threshold(1));
    let id = statement_id(&p);
    c.submit(p).unwrap();
    c.now += 1000;
    assert!(matches!(
        c.submit(c.sign(&c.gov[2], VOTE, &make::vote(&id, true))),
        Err(Rejection::RevokedKey(_))
    ));
}
