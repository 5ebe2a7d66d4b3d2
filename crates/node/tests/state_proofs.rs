//! State proofs, end to end on a dev node: a device's record and status inputs (and any key's
//! absence) are proved against a state root that a finalized block certifies; a light client
//! holding only the genesis checks the bundle and recomputes the status offline; any tampering
//! is refused.

use proverka_ledger::make::{self, Birth};
use proverka_ledger::records::{self, keys};
use proverka_ledger::{kinds, query, Genesis};
use proverka_node::state_proof::{
    verify, verify_in_chain, ProvedView, StateProofBundle, StateProofBundleError, VerifiedState,
};
use proverka_node::RunningNode;
use proverka_statement::{sign_statement, ContentType, KeyType, PrivateKey, StatementParams};
use serde_bytes::ByteBuf;
use serde_json::Value;

mod support;
use support::{dev_node, post_entry};

struct Harness {
    node: RunningNode,
    admin: PrivateKey,
    http: reqwest::Client,
    namespace: [u8; 32],
    committee: Vec<String>,
    genesis: Vec<u8>,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let node = dev_node(dir.path()).await;
    let pem = std::fs::read_to_string(dir.path().join("dev-admin.key.pem")).unwrap();
    // What a light client holds: the genesis file, nothing else.
    let genesis_bytes = std::fs::read(dir.path().join("genesis.json")).unwrap();
    let genesis = Genesis::from_bytes(&genesis_bytes).unwrap();
    Harness {
        node,
        admin: PrivateKey::from_pkcs8_pem(&pem).unwrap(),
        http: reqwest::Client::new(),
        namespace: Genesis::id(&genesis_bytes),
        committee: genesis.validators.clone(),
        genesis: genesis_bytes,
        _dir: dir,
    }
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.node.addr, path)
    }

    async fn register(&self, kind: &str, payload: &[u8]) {
        let body = sign_statement(
            &self.admin,
            &StatementParams {
                iss: "dev-admin",
                sub: "state-proof-test",
                iat: 1_764_000_000,
                content_type: ContentType::Text(kind.into()),
                payload,
            },
        );
        let resp = self
            .http
            .post(self.url("/entries"))
            .header("content-type", "application/cose")
            .header("accept", "application/problem+json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            201,
            "{}",
            resp.text().await.unwrap()
        );
    }

    /// Registers many statements signed by the dev admin, at most 64 in flight (the ledger
    /// orders them into as few blocks as it likes).
    async fn register_all(&self, statements: Vec<(&'static str, Vec<u8>)>) {
        use futures::StreamExt;
        let posts = statements.into_iter().map(|(kind, payload)| {
            let body = sign_statement(
                &self.admin,
                &StatementParams {
                    iss: "dev-admin",
                    sub: "state-proof-test",
                    iat: 1_764_000_000,
                    content_type: ContentType::Text(kind.into()),
                    payload: &payload,
                },
            );
            let http = self.http.clone();
            let base = self.url("");
            async move {
                let resp = post_entry(&http, &base, body).await;
                let status = resp.status().as_u16();
                (status, resp.text().await.unwrap_or_default())
            }
        });
        let answers: Vec<(u16, String)> = futures::stream::iter(posts)
            .buffer_unordered(64)
            .collect()
            .await;
        for (status, body) in answers {
            assert_eq!(status, 201, "{body}");
        }
    }

    /// The latest log root the ledger anchored: a device's evidence nonce must name one.
    async fn evidence_root(&self) -> [u8; 32] {
        let (status, body) = self.get("/evidence-root").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        // Judged at the latest block's time: a root just anchored is fresh, its age below 24 h.
        let (anchored, now) = (v["anchored_ms"].as_u64(), v["ledger_time_ms"].as_u64());
        assert!(anchored <= now && now.is_some(), "{v}");
        assert_eq!(v["age_ms"].as_u64(), Some(now.unwrap() - anchored.unwrap()));
        assert!(v["age_ms"].as_u64().unwrap() <= proverka_ledger::NONCE_ROOT_WINDOW_MS);
        assert_eq!(v["fresh"], serde_json::json!(true), "{v}");
        hex::decode(v["root"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    async fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let resp = self.http.get(self.url(path)).send().await.unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    fn verify(&self, bundle: &StateProofBundle) -> Result<VerifiedState, StateProofBundleError> {
        verify(&self.namespace, &self.committee, bundle)
    }
}

const DEVICE: &[u8] = b"valve-17";

async fn born_device(h: &Harness) {
    h.register(kinds::MODEL, &make::model("valve-x", &[])).await;
    let key = PrivateKey::generate(KeyType::Ed25519).unwrap().public_key();
    let birth = make::birth(&Birth {
        device_id: DEVICE,
        key: &key,
        model: "valve-x",
        serial: "SN-17",
        hw_version: "1.0",
        factory_fw: [7; 32],
        x5chain: &[],
    });
    h.register(kinds::BIRTH, &birth).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_devices_status_inputs_are_proved_and_its_status_recomputed_offline() {
    let h = harness().await;
    born_device(&h).await;

    let (status, body) = h
        .get(&format!("/devices/{}/proof", hex::encode(DEVICE)))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let bundle = StateProofBundle::decode(&body).unwrap();
    let verified = h.verify(&bundle).expect("a genuine bundle verifies");

    let device_key = keys::device(&records::device_hash(DEVICE));
    assert!(
        verified
            .entries
            .iter()
            .any(|(k, v)| *k == device_key && v.is_some()),
        "the device record is proved present"
    );
    assert!(verified.certified_by.height > verified.height);

    // Offline: the ledger's own status function over proved data only.
    let offline = query::device_status(
        &ProvedView::new(&verified),
        DEVICE,
        verified.certified_by.timestamp_ms,
    )
    .unwrap()
    .expect("the proved record names the device");
    let (_, online) = h
        .get(&format!("/devices/{}/status", hex::encode(DEVICE)))
        .await;
    let online: Value = serde_json::from_slice(&online).unwrap();
    assert_eq!(offline.1.status.as_str(), online["status"]);
    assert_eq!(offline.0.model, records::model_id("dev-admin", "valve-x"));
    h.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn absence_is_proved_and_tampering_is_refused() {
    let h = harness().await;
    born_device(&h).await;
    let absent = keys::device(&records::device_hash(b"no-such-device"));
    let present = keys::device(&records::device_hash(DEVICE));
    let (status, body) = h
        .get(&format!(
            "/state/proof?key={}&key={}",
            hex::encode(&absent),
            hex::encode(&present)
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let bundle = StateProofBundle::decode(&body).unwrap();
    let verified = h.verify(&bundle).unwrap();
    assert_eq!(verified.entries[0], (absent.clone(), None));
    assert!(verified.entries[1].1.is_some());

    // A forged value for a present key.
    let mut forged = bundle.clone();
    let mut value = forged.5[1].1.clone().unwrap().into_vec();
    value[0] ^= 1;
    forged.5[1].1 = Some(ByteBuf::from(value));
    assert!(matches!(
        h.verify(&forged),
        Err(StateProofBundleError::Entry { index: 1, .. })
    ));

    // Claiming a value for the absent key with its exclusion proof.
    let mut forged = bundle.clone();
    forged.5[0].1 = Some(ByteBuf::from(b"owned by mallory".to_vec()));
    assert!(matches!(
        h.verify(&forged),
        Err(StateProofBundleError::Entry { index: 0, .. })
    ));

    // Another root than the one the certified block anchors.
    let mut forged = bundle.clone();
    forged.1[0] ^= 1;
    assert_eq!(h.verify(&forged), Err(StateProofBundleError::RootMismatch));

    // Another height than the anchored one.
    let mut forged = bundle.clone();
    forged.0 += 1;
    assert!(matches!(
        h.verify(&forged),
        Err(StateProofBundleError::HeightMismatch { .. })
    ));

    // A header that is not the finalized block.
    let mut forged = bundle.clone();
    forged.2[120] ^= 1;
    assert_eq!(
        h.verify(&forged),
        Err(StateProofBundleError::HeaderMismatch)
    );

    // A certificate by a committee the genesis does not name (a lone impostor validator).
    let impostor = proverka_consensus::ValidatorKey::from_seed([9; 32]).public_key_hex();
    assert!(matches!(
        verify(&h.namespace, std::slice::from_ref(&impostor), &bundle),
        Err(StateProofBundleError::Certificate(_))
    ));

    // With a chain of committees, the one in force at the certificate's epoch (0) decides:
    // a later committee does not matter, and the genesis keys listed for a later epoch only
    // are refused for an epoch-0 certificate.
    let later_impostor = [(0, h.committee.clone()), (1, vec![impostor.clone()])];
    assert!(verify_in_chain(&h.namespace, &later_impostor, &bundle).is_ok());
    let impostor_first = [(0, vec![impostor.clone()]), (1, h.committee.clone())];
    assert_eq!(
        verify_in_chain(&h.namespace, &impostor_first, &bundle),
        Err(StateProofBundleError::WrongEpochCommittee { epoch: 0 })
    );

    // A committee that never changed has no hand-over note to serve.
    let (status, body) = h.get("/validators/epochs").await;
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(h.get("/validators/epoch/1").await.0, 404);
    assert_eq!(h.get("/validators/epoch/x").await.0, 400);

    // Another chain's namespace.
    assert!(matches!(
        verify(b"another chain", &h.committee, &bundle),
        Err(StateProofBundleError::Certificate(_))
    ));

    // Bad requests change nothing and say why.
    for bad in [
        "/state/proof",
        "/state/proof?key=zz",
        "/state/proof?other=1",
    ] {
        let (status, _) = h.get(bad).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = h.get("/devices/00ff/proof").await;
    assert_eq!(status, 404);
    h.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_passport_proves_the_current_status_until_it_expires() {
    use proverka_node::passport::{self, Passport, PassportError, MAX_PASSPORT_AGE_MS};
    let h = harness().await;
    born_device(&h).await;
    let (status, body) = h
        .get(&format!("/devices/{}/passport", hex::encode(DEVICE)))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let p = Passport::decode(&body).unwrap();
    let inner = StateProofBundle::decode(&p.2).unwrap();
    let certified_ms = h.verify(&inner).unwrap().certified_by.timestamp_ms;

    let facts = passport::verify(&h.genesis, &p, DEVICE, certified_ms + 1_000).expect("fresh");
    let (_, online) = h
        .get(&format!("/devices/{}/status", hex::encode(DEVICE)))
        .await;
    let online: Value = serde_json::from_slice(&online).unwrap();
    assert_eq!(facts.appraisal.status.as_str(), online["status"]);
    assert!(facts.expires_ms <= certified_ms + MAX_PASSPORT_AGE_MS);

    // Too old: the state it proves may no longer hold.
    assert!(matches!(
        passport::verify(&h.genesis, &p, DEVICE, facts.expires_ms),
        Err(PassportError::Expired { .. })
    ));
    // Another device cannot borrow it.
    assert!(matches!(
        passport::verify(&h.genesis, &p, b"valve-18", certified_ms),
        Err(PassportError::NoDevice(_))
    ));
    // An EAR signed by someone other than the ledger.
    let stranger = PrivateKey::generate(KeyType::P256).unwrap();
    let ear = proverka_statement::SignedStatement::parse(&p.1, &Default::default()).unwrap();
    let forged = sign_statement(
        &stranger,
        &StatementParams {
            iss: "proverka-dev",
            sub: &hex::encode(DEVICE),
            iat: 1_764_000_000,
            content_type: ContentType::Text("application/eat+cwt".into()),
            payload: ear.payload(),
        },
    );
    let mut bad = p.clone();
    bad.1 = ByteBuf::from(forged);
    assert!(matches!(
        passport::verify(&h.genesis, &bad, DEVICE, certified_ms),
        Err(PassportError::EarSignature(_))
    ));
    // Even the ledger's own receipt key cannot claim a status the certified state does not give.
    let pem = std::fs::read_to_string(h._dir.path().join("keys/receipt.key.pem")).unwrap();
    let receipt_key = PrivateKey::from_pkcs8_pem(&pem).unwrap();
    let mut claims = ear.payload().to_vec();
    let last = claims.len() - 1;
    claims[last] ^= 1;
    let lying = sign_statement(
        &receipt_key,
        &StatementParams {
            iss: "proverka-dev",
            sub: &hex::encode(DEVICE),
            iat: 1_764_000_000,
            content_type: ContentType::Text("application/eat+cwt".into()),
            payload: &claims,
        },
    );
    let mut bad = p.clone();
    bad.1 = ByteBuf::from(lying);
    assert!(matches!(
        passport::verify(&h.genesis, &bad, DEVICE, certified_ms),
        Err(PassportError::EarMismatch)
    ));
    h.node.shutdown().await;
}

/// The gateway story of issue 4: a controller's command to a valve is allowed while the
/// controller's passport says affirming, and refused with the reason once a critical advisory
/// names its firmware — no new evidence, only a fresh passport.
#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_judges_commands_by_the_senders_passport() {
    use proverka_command::{
        sign_command, Action, Command, DangerAllowAll, DeviceId, MemorySnapshot, Params, Reason,
        ReplayGuard, SigningKey, TrustStatus, UnixSeconds,
    };
    use proverka_node::passport::{self, command_sender, Passport};

    let h = harness().await;
    let seed = [42u8; 32];
    let ctl = b"grid-ctl-1";
    let fw = [0xc1; 32];
    h.register(kinds::MODEL, &make::model("ctl", &[])).await;
    h.register(
        kinds::RELEASE,
        &make::release(&make::Release {
            model: "ctl",
            version: "1.0",
            digest: fw,
            svn: 1,
            supersedes: None,
            security: None,
            revoked: false,
        }),
    )
    .await;
    let device_key = PrivateKey::from_ed25519_seed(seed);
    h.register(
        kinds::BIRTH,
        &make::birth(&Birth {
            device_id: ctl,
            key: &device_key.public_key(),
            model: "ctl",
            serial: "C1",
            hw_version: "1",
            factory_fw: fw,
            x5chain: &[],
        }),
    )
    .await;
    // The controller attests (signed with its own key), naming a root the ledger anchored.
    let root = h.evidence_root().await;
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // A made-up root is refused before the pool, with the reason.
    let unanchored = sign_statement(
        &device_key,
        &StatementParams {
            iss: &hex::encode(ctl),
            sub: "evidence",
            iat: now_s as i64,
            content_type: ContentType::Text(kinds::EVIDENCE.into()),
            payload: &make::evidence(&make::Evidence {
                device_id: ctl,
                nonce: &[0x5a; 32],
                fw,
                svn: 1,
                debug: 3,
            }),
        },
    );
    let resp = h
        .http
        .post(h.url("/entries"))
        .header("content-type", "application/cose")
        .header("accept", "application/problem+json")
        .body(unanchored)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    assert!(resp.text().await.unwrap().contains("log roots the ledger"));
    let evidence = sign_statement(
        &device_key,
        &StatementParams {
            iss: &hex::encode(ctl),
            sub: "evidence",
            iat: now_s as i64,
            content_type: ContentType::Text(kinds::EVIDENCE.into()),
            payload: &make::evidence(&make::Evidence {
                device_id: ctl,
                nonce: &root,
                fw,
                svn: 1,
                debug: 3,
            }),
        },
    );
    let resp = h
        .http
        .post(h.url("/entries"))
        .header("content-type", "application/cose")
        .body(evidence)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);

    let command_key = SigningKey::from_ed25519_seed(seed);
    let valve = DeviceId::new(b"valve-9".to_vec()).unwrap();
    let command = |seq: u64| Command {
        sender: DeviceId::new(ctl.to_vec()).unwrap(),
        recipient: valve.clone(),
        action: Action::new("actuate").unwrap(),
        params: Params::new(),
        seq,
        iat: UnixSeconds(now_s),
        exp: UnixSeconds(now_s + 60),
    };
    let judge = |h: &Harness, body: Vec<u8>, seq: u64| {
        let p = Passport::decode(&body).unwrap();
        let facts = passport::verify(&h.genesis, &p, ctl, now_s * 1000 + 1_000).unwrap();
        let (id, sender) = command_sender(&facts).unwrap();
        let mut snapshot = MemorySnapshot::new(
            UnixSeconds(facts.certified_ms / 1000),
            600,
            TrustStatus::Affirming,
        );
        snapshot.insert(id, sender);
        let mut replay = ReplayGuard::new(16);
        proverka_command::verify(
            &sign_command(&command(seq), &command_key),
            &snapshot,
            &mut replay,
            UnixSeconds(now_s + 1),
            &valve,
            &DangerAllowAll,
        )
    };

    let (_, body) = h
        .get(&format!("/devices/{}/passport", hex::encode(ctl)))
        .await;
    let verdict = judge(&h, body, 1);
    assert!(verdict.is_allow(), "{:?}", verdict.reasons());

    // A critical advisory against the controller's firmware: no new evidence needed.
    h.register(
        kinds::ADVISORY,
        &make::advisory(&make::Advisory {
            id: "CERT-CTL-1",
            maker: "dev-admin",
            model: "ctl",
            versions: &["1.0"],
            cvss: Some(98),
            ..Default::default()
        }),
    )
    .await;
    let (_, body) = h
        .get(&format!("/devices/{}/passport", hex::encode(ctl)))
        .await;
    let verdict = judge(&h, body, 2);
    assert!(!verdict.is_allow());
    assert!(
        verdict.reasons().iter().any(|r| matches!(
            r,
            Reason::StatusBelowRequired {
                have: TrustStatus::Contraindicated,
                ..
            }
        )),
        "{:?}",
        verdict.reasons()
    );
    h.node.shutdown().await;
}

/// A model at its limits (1,024 releases and 1,024 advisories, `MAX_RELEASES_PER_MODEL`,
/// `MAX_ADVISORIES_PER_MODEL`): the device's proof carries every record its status reads and
/// verifies with the genesis alone, and so does its passport. Before the device proof bound
/// was derived from the model limits, this answered 500.
#[tokio::test(flavor = "multi_thread")]
async fn a_device_of_a_model_at_its_limits_gets_a_proof_and_a_passport() {
    use proverka_ledger::records::{MAX_ADVISORIES_PER_MODEL, MAX_RELEASES_PER_MODEL};
    let h = harness().await;
    born_device(&h).await;
    let digest = |i: usize| proverka_statement::statement_id(format!("fw {i}").as_bytes());
    let mut statements = Vec::new();
    for i in 0..MAX_RELEASES_PER_MODEL {
        let version = format!("1.{i}");
        statements.push((
            kinds::RELEASE,
            make::release(&make::Release {
                model: "valve-x",
                version: &version,
                digest: digest(i),
                svn: i as u64 + 1,
                supersedes: None,
                security: None,
                revoked: false,
            }),
        ));
    }
    for i in 0..MAX_ADVISORIES_PER_MODEL {
        let id = format!("ADV-{i:04}");
        statements.push((
            kinds::ADVISORY,
            make::advisory(&make::Advisory {
                id: &id,
                maker: "dev-admin",
                model: "valve-x",
                versions: &[],
                digests: &[digest(i)],
                cvss: None,
                level: Some(1),
                exploited: false,
                fixed_in: None,
                refs: &[],
                withdrawn: false,
            }),
        ));
    }
    h.register_all(statements).await;

    let (status, body) = h
        .get(&format!("/devices/{}/proof", hex::encode(DEVICE)))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let bundle = StateProofBundle::decode(&body).unwrap();
    let verified = h.verify(&bundle).expect("a genuine bundle verifies");
    assert!(
        verified.entries.len() > MAX_RELEASES_PER_MODEL + MAX_ADVISORIES_PER_MODEL,
        "every release and advisory is proved ({} keys)",
        verified.entries.len()
    );
    let offline = query::device_status(
        &ProvedView::new(&verified),
        DEVICE,
        verified.certified_by.timestamp_ms,
    )
    .unwrap()
    .expect("the proved record names the device");
    let (_, online) = h
        .get(&format!("/devices/{}/status", hex::encode(DEVICE)))
        .await;
    let online: Value = serde_json::from_slice(&online).unwrap();
    assert_eq!(offline.1.status.as_str(), online["status"]);

    let (status, body) = h
        .get(&format!("/devices/{}/passport", hex::encode(DEVICE)))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    proverka_node::passport::Passport::decode(&body).expect("the passport decodes");
    h.node.shutdown().await;
}
