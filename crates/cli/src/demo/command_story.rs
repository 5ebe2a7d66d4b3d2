//! Step 9 of the demo: a grid controller commands a valve through the grid's gateway. Trusted,
//! the command is delivered; once a critical advisory names the controller's firmware, the same
//! command is refused with the reason; patched and re-attested, it is delivered again.

use std::collections::BTreeSet;

use proverka_command::{sign_command, Action, Command, DeviceId, Params, SigningKey, UnixSeconds};
use proverka_gateway::{Config, Gateway, Outcome};

use super::{City, Device, Signer, BOLT, CERT, GRID};
use crate::Failure;
use proverka_ledger::{kinds, make};
use proverka_statement::{statement_id, PrivateKey};

/// The demo controller's key seed: a demo-only device key, not a secret.
const CTL_SEED: [u8; 32] = [0x5c; 32];
const CTL_V1: [u8; 32] = [0xc1; 32];
const CTL_V2: [u8; 32] = [0xc2; 32];
const CTL_ID: &[u8] = b"grid-ctl-0001";

/// grid's policy for its devices: affirming controllers may actuate them, and every such
/// command is recorded on the ledger.
const GRID_POLICY: &str = r#"@critical("valve actuation is recorded on the ledger")
permit(principal, action == Proverka::Action::"actuate", resource)
  when { principal.model.name == "controller" && context.sender_status == "affirming" };"#;

impl City {
    pub(super) async fn command_story(&self, valve: &Device) -> Result<(), Failure> {
        let ctl = self.controller().await?;
        let valve_id = DeviceId::new(valve.id.clone()).map_err(Failure::input)?;
        let mut config = Config::new(
            &self.url,
            self.genesis.clone(),
            BTreeSet::from([valve_id.clone()]),
        );
        config.senders = BTreeSet::from([DeviceId::new(ctl.id.clone()).map_err(Failure::input)?]);
        let gateway = Gateway::new(config).map_err(Failure::input)?;
        let key = SigningKey::from_ed25519_seed(CTL_SEED);
        let sender = DeviceId::new(CTL_ID.to_vec()).map_err(Failure::input)?;
        let action = Action::new("actuate").map_err(Failure::input)?;
        let mut seq = 0;
        let mut order = || {
            seq += 1;
            let now = UnixSeconds::now();
            sign_command(
                &Command {
                    sender: sender.clone(),
                    recipient: valve_id.clone(),
                    action: action.clone(),
                    params: Params::new(),
                    seq,
                    iat: now,
                    exp: now.plus(30),
                },
                &key,
            )
        };
        println!(
            "\n9. grid's gateway guards valve {}: grid's Cedar policy lets affirming controllers",
            hex::encode(&valve.id)
        );
        println!(
            "   actuate its valves (marked critical: a gateway given grid's key records each one)."
        );
        let first = self.judge(&gateway, order(), &valve_id).await?;
        println!(
            "   controller {} says \"open\": {}",
            hex::encode(CTL_ID),
            line(&first)
        );

        let advisory = make::advisory(&make::Advisory {
            id: "CERT-2026-0077",
            maker: &self.orgs[BOLT].iss,
            model: "controller",
            versions: &["1.0"],
            cvss: Some(96),
            refs: &["CVE-2026-40404"],
            ..Default::default()
        });
        self.submit(vec![self.orgs[CERT].sign(kinds::ADVISORY, &advisory)])
            .await?;
        let second = self.judge(&gateway, order(), &valve_id).await?;
        println!(
            "   CERT-2026-0077 (CVSS 9.6) names controller firmware 1.0; the same order: {}",
            line(&second)
        );

        let fix = make::release(&make::Release {
            model: "controller",
            version: "1.1",
            digest: CTL_V2,
            svn: 2,
            supersedes: Some(CTL_V1),
            security: Some(3),
            revoked: false,
        });
        self.submit(vec![self.orgs[BOLT].sign(kinds::RELEASE, &fix)])
            .await?;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        self.attest_controller(&ctl, CTL_V2, 2).await?;
        let third = self.judge(&gateway, order(), &valve_id).await?;
        println!(
            "   patched to 1.1 and re-attested, the order again: {}",
            line(&third)
        );
        if !first.is_allow() || second.is_allow() || !third.is_allow() {
            return Err(Failure::verify(
                "the gateway's verdicts do not follow the controller's trust",
            ));
        }
        Ok(())
    }

    /// The controller: bolt's model, sold to grid, attested with firmware 1.0; and grid's policy.
    async fn controller(&self) -> Result<Device, Failure> {
        let (bolt, grid) = (&self.orgs[BOLT], &self.orgs[GRID]);
        self.submit(vec![
            bolt.sign(kinds::MODEL, &make::model("controller", &[]))
        ])
        .await?;
        let release = make::release(&make::Release {
            model: "controller",
            version: "1.0",
            digest: CTL_V1,
            svn: 1,
            supersedes: None,
            security: None,
            revoked: false,
        });
        self.submit(vec![bolt.sign(kinds::RELEASE, &release)])
            .await?;
        let ctl = Device {
            id: CTL_ID.to_vec(),
            signer: Signer {
                iss: hex::encode(CTL_ID),
                key: PrivateKey::from_ed25519_seed(CTL_SEED),
            },
            maker: BOLT,
        };
        let birth = make::birth(&make::Birth {
            device_id: &ctl.id,
            key: &ctl.signer.key.public_key(),
            model: "controller",
            serial: "CTL-0001",
            hw_version: "rev-a",
            factory_fw: CTL_V1,
            x5chain: &[],
        });
        self.submit(vec![bolt.sign(kinds::BIRTH, &birth)]).await?;
        let offer = bolt.sign(kinds::TRANSFER, &make::transfer(&ctl.id, &grid.iss));
        let accept = grid.sign(kinds::ACCEPT, &make::accept(&statement_id(&offer)));
        self.submit(vec![offer]).await?;
        self.submit(vec![accept]).await?;
        let policy = make::cedar_policy(&grid.iss, &[("controllers-actuate", GRID_POLICY)], None);
        self.submit(vec![grid.sign(kinds::CEDAR_POLICY, &policy)])
            .await?;
        self.attest_controller(&ctl, CTL_V1, 1).await?;
        Ok(ctl)
    }

    /// The controller signs evidence of the firmware it runs.
    async fn attest_controller(&self, ctl: &Device, fw: [u8; 32], svn: u64) -> Result<(), Failure> {
        let root = self.evidence_root().await?;
        let evidence = make::evidence(&make::Evidence {
            device_id: &ctl.id,
            nonce: &root,
            fw,
            svn,
            debug: 3,
        });
        self.submit(vec![ctl.signer.sign(kinds::EVIDENCE, &evidence)])
            .await
            .map(drop)
    }

    /// Syncs the gateway (fresh passports and policy proofs) and checks one command.
    async fn judge(
        &self,
        gateway: &Gateway,
        command: Vec<u8>,
        valve: &DeviceId,
    ) -> Result<Outcome, Failure> {
        let (_, errors) = gateway.sync().await;
        if let Some(e) = errors.first() {
            return Err(Failure::network(format!("gateway sync: {e}")));
        }
        Ok(gateway.check(&command, valve, UnixSeconds::now()).await)
    }
}

fn line(outcome: &Outcome) -> String {
    let policy = outcome
        .policy
        .as_ref()
        .map(|p| p.explain())
        .unwrap_or_default();
    match &outcome.result {
        Ok(_) => format!("DELIVERED ({policy})"),
        Err(refusal) => format!("REFUSED: {}", refusal.reasons().join("; ")),
    }
}
