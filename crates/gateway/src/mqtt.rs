//! The MQTT 5 side: subscribe to commands and evidence, deliver or refuse commands, submit
//! evidence, and announce status changes and revocations as retained messages.
//!
//! Topics (under the configured root, `proverka/v1` by default; `docs/gateway.md`):
//!
//! | topic | direction | payload |
//! |---|---|---|
//! | `command/{recipient}` | device → gateway | a command envelope (COSE_Sign1) |
//! | `deliver/{recipient}` | gateway → device | the same envelope, once allowed |
//! | `refused/{recipient}` | gateway → owner | JSON: sender, seq, reasons |
//! | `evidence` | device → gateway | a device-signed evidence statement |
//! | `status/{device}` | gateway → all, retained | JSON: status, revoked, certified height |
//! | `passport/{device}` | gateway → all, retained | the device's trust passport (CBOR) |
//! | `revoked/{device}` | gateway → all, retained | JSON, only once a device is revoked |
//!
//! Device ids are lowercase hex. A message with an MQTT 5 response topic also gets its answer
//! there (JSON, with the message's correlation data).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proverka_command::{DeviceId, UnixSeconds};
use proverka_ledger::kinds;
use proverka_statement::{Limits, SignedStatement};
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};

use crate::check::Outcome;
use crate::gateway::{next_sync, Change, Gateway};
use crate::{
    GatewayError, MAX_EVIDENCE_BYTES, MAX_EVIDENCE_IN_FLIGHT, MAX_MQTT_PACKET_BYTES,
    MAX_QUEUED_MESSAGES, MAX_RECORDINGS_IN_FLIGHT,
};

/// One message received, routed by topic.
enum Inbound {
    Command(CommandMessage),
    Evidence { bytes: Bytes, reply: Option<Reply> },
}

/// A command to check: what the command worker's queue carries (commands only).
struct CommandMessage {
    recipient: DeviceId,
    bytes: Bytes,
    reply: Option<Reply>,
}

/// A bound on tasks running beside the event loop (evidence submissions, interaction
/// recordings): each holds a permit until it ends, and when none is left the work is refused
/// at once instead of queued, so a flood of messages cannot grow memory without bound.
#[derive(Clone)]
pub struct TaskBudget {
    permits: Arc<Semaphore>,
    limit: usize,
}

/// Every permit of a [`TaskBudget`] is held: the work was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("gateway busy: {limit} tasks of this kind already in flight; retry later")]
pub struct Busy {
    pub limit: usize,
}

impl TaskBudget {
    /// A budget of `limit` concurrent tasks.
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// Spawns `task` if a permit is free (it is released when the task ends, even by panic
    /// or abort); otherwise refuses without spawning.
    pub fn try_spawn<F>(&self, task: F) -> Result<tokio::task::JoinHandle<()>, Busy>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy { limit: self.limit })?;
        Ok(tokio::spawn(async move {
            let _permit = permit;
            task.await;
        }))
    }

    /// Permits free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// Where to answer a message (MQTT 5 request/response).
#[derive(Clone)]
struct Reply {
    topic: String,
    correlation: Option<Bytes>,
}

/// Runs the gateway until `shutdown` completes: connects to the broker (reconnecting as
/// needed), syncs the snapshot every `sync_every`, and handles messages.
pub async fn run(
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GatewayError> {
    let config = gateway.config();
    let root = config.topic_root.clone();
    let mut options = MqttOptions::new(&config.client_id, &config.broker_host, config.broker_port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(Some(MAX_MQTT_PACKET_BYTES as u32))
        .set_clean_start(true);
    let (client, mut events) = AsyncClient::new(options, MAX_QUEUED_MESSAGES);

    let (commands_tx, commands_rx) = mpsc::channel(MAX_QUEUED_MESSAGES);
    let recordings = TaskBudget::new(MAX_RECORDINGS_IN_FLIGHT);
    let evidence = TaskBudget::new(MAX_EVIDENCE_IN_FLIGHT);
    let worker = tokio::spawn(command_worker(
        gateway.clone(),
        client.clone(),
        commands_rx,
        recordings,
    ));
    let syncer = tokio::spawn(sync_loop(gateway.clone(), client.clone()));

    tokio::pin!(shutdown);
    let result = loop {
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    // Clean start: subscriptions do not survive a reconnect.
                    for topic in [format!("{root}/command/+"), format!("{root}/evidence")] {
                        if let Err(e) = client.try_subscribe(topic, QoS::AtLeastOnce) {
                            tracing::warn!("subscribe: {e}");
                        }
                    }
                    tracing::info!("gateway connected to the broker");
                }
                Ok(Event::Incoming(Packet::Publish(p))) => match route(&root, p) {
                    Some(Inbound::Command(message)) => {
                        // Full queue: drop (QoS 1 senders retry); never block the event loop.
                        let queued = commands_tx.try_send(message);
                        if queued.is_err() {
                            tracing::warn!("command queue full; message dropped");
                        }
                    }
                    Some(Inbound::Evidence { bytes, reply }) => {
                        let task = submit_evidence(gateway.clone(), client.clone(), bytes, reply.clone());
                        if let Err(busy) = evidence.try_spawn(task) {
                            tracing::warn!("evidence refused: {busy}");
                            // Never await in the event loop: a full client queue drops the answer.
                            if let Some(reply) = reply {
                                try_answer(&client, reply, json!({"status": "refused", "reason": busy.to_string()}));
                            }
                        }
                    }
                    None => {}
                },
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("broker connection: {e}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
        }
    };
    syncer.abort();
    worker.abort();
    let _ = client.try_disconnect();
    result
}

/// Routes a publish by topic; `None` for anything else (ignored).
fn route(root: &str, p: Publish) -> Option<Inbound> {
    let topic = std::str::from_utf8(&p.topic).ok()?;
    let rest = topic.strip_prefix(root)?.strip_prefix('/')?;
    let reply = p.properties.as_ref().and_then(|props| {
        props.response_topic.clone().map(|topic| Reply {
            topic,
            correlation: props.correlation_data.clone(),
        })
    });
    if rest == "evidence" {
        return Some(Inbound::Evidence {
            bytes: p.payload,
            reply,
        });
    }
    let hex_id = rest.strip_prefix("command/")?;
    let recipient = hex::decode(hex_id)
        .ok()
        .and_then(|raw| DeviceId::new(raw).ok())?;
    Some(Inbound::Command(CommandMessage {
        recipient,
        bytes: p.payload,
        reply,
    }))
}

/// Commands are checked one at a time, in arrival order (the replay window depends on order).
async fn command_worker(
    gateway: Arc<Gateway>,
    client: AsyncClient,
    mut inbox: mpsc::Receiver<CommandMessage>,
    recordings: TaskBudget,
) {
    let root = gateway.config().topic_root.clone();
    while let Some(CommandMessage {
        recipient,
        bytes,
        reply,
    }) = inbox.recv().await
    {
        let outcome = gateway.check(&bytes, &recipient, UnixSeconds::now()).await;
        let verdict = verdict_json(&outcome);
        let id = hex::encode(recipient.as_bytes());
        match &outcome.result {
            Ok(_) => {
                let props = PublishProperties {
                    content_type: Some(proverka_command::CONTENT_TYPE.into()),
                    user_properties: outcome
                        .policy
                        .iter()
                        .map(|p| ("proverka-policy".to_owned(), p.explain()))
                        .collect(),
                    ..Default::default()
                };
                let topic = format!("{root}/deliver/{id}");
                publish(&client, topic, false, bytes.clone(), props).await;
            }
            Err(_) => {
                tracing::info!("command for {id} refused: {verdict}");
                let body = Bytes::from(verdict.to_string());
                publish_json(&client, format!("{root}/refused/{id}"), false, body).await;
            }
        }
        if let Some(reply) = reply {
            answer(&client, reply, verdict.clone()).await;
        }
        if outcome.is_critical() {
            // Recording waits for a block; the next command must not. At most
            // MAX_RECORDINGS_IN_FLIGHT wait at once: past that the record is not made, and
            // the log says so (the command itself was already judged and answered).
            let gateway = gateway.clone();
            let logged = verdict.clone();
            let spawned = recordings.try_spawn(async move {
                match gateway.record(&bytes, &outcome, UnixSeconds::now()).await {
                    None => tracing::info!("critical command (no recorder configured): {verdict}"),
                    Some(Ok(s)) if s.status == 201 || s.status == 202 => {}
                    Some(Ok(s)) => tracing::warn!(
                        "interaction record refused ({}): {}",
                        s.status,
                        String::from_utf8_lossy(&s.body)
                    ),
                    Some(Err(e)) => tracing::warn!("interaction record: {e}"),
                }
            });
            if let Err(busy) = spawned {
                tracing::warn!("critical command NOT recorded ({busy}): {logged}");
            }
        }
    }
}

/// The verdict as JSON: `allow`/`deny`, every reason, the policy that judged.
fn verdict_json(outcome: &Outcome) -> serde_json::Value {
    let (verdict, reasons, command) = match &outcome.result {
        Ok(c) => ("allow", Vec::new(), Some(c)),
        Err(refusal) => ("deny", refusal.reasons(), None),
    };
    json!({
        "verdict": verdict,
        "reasons": reasons,
        "sender": command.map(|c| hex::encode(c.sender.as_bytes())),
        "seq": command.map(|c| c.seq),
        "policy": outcome.policy.as_ref().map(|p| p.explain()),
        "critical": outcome.is_critical(),
    })
}

/// Evidence goes to the ledger as the device signed it. Only evidence: the gateway is not an
/// open relay for other statement kinds.
async fn submit_evidence(
    gateway: Arc<Gateway>,
    client: AsyncClient,
    bytes: Bytes,
    reply: Option<Reply>,
) {
    let answer_json = match evidence_kind(&bytes) {
        Err(refusal) => json!({"status": "refused", "reason": refusal}),
        Ok(()) => match gateway.ledger().submit(bytes.to_vec()).await {
            Ok(s) if s.status == 201 || s.status == 202 => {
                json!({"status": "accepted", "http": s.status})
            }
            Ok(s) => json!({
                "status": "refused",
                "http": s.status,
                "reason": String::from_utf8_lossy(&s.body).chars().take(500).collect::<String>(),
            }),
            Err(e) => json!({"status": "unavailable", "reason": e.to_string()}),
        },
    };
    tracing::info!("evidence: {answer_json}");
    if let Some(reply) = reply {
        answer(&client, reply, answer_json).await;
    }
}

fn evidence_kind(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > MAX_EVIDENCE_BYTES {
        return Err(format!("evidence over {MAX_EVIDENCE_BYTES} bytes"));
    }
    let statement = SignedStatement::parse(bytes, &Limits::default())
        .map_err(|e| format!("not a signed statement: {e}"))?;
    match kinds::of(&statement) {
        Some(k) if k == kinds::EVIDENCE => Ok(()),
        _ => Err("only evidence statements are accepted on this topic".into()),
    }
}

/// Syncs forever, publishing every change of status or revocation as retained messages.
async fn sync_loop(gateway: Arc<Gateway>, client: AsyncClient) {
    let every = gateway.config().sync_every;
    loop {
        let (changes, errors) = gateway.sync().await;
        for e in &errors {
            tracing::warn!("sync: {e}");
        }
        for change in changes {
            announce(&client, &gateway.config().topic_root, change).await;
        }
        tokio::time::sleep(next_sync(every, errors.len())).await;
    }
}

async fn announce(client: &AsyncClient, root: &str, change: Change) {
    let id = hex::encode(change.device.as_bytes());
    let status = json!({
        "device": id,
        "status": change.now.status.as_str(),
        "revoked": change.now.revoked,
        "certified_height": change.certified_height,
        "certified_ms": change.certified_ms,
        "expires_ms": change.expires_ms,
    });
    let body = Bytes::from(status.to_string());
    publish_json(client, format!("{root}/status/{id}"), true, body.clone()).await;
    let props = PublishProperties {
        content_type: Some("application/cbor".into()),
        ..Default::default()
    };
    let passport = Bytes::from(change.passport.to_vec());
    publish(
        client,
        format!("{root}/passport/{id}"),
        true,
        passport,
        props,
    )
    .await;
    if change.now.revoked {
        publish_json(client, format!("{root}/revoked/{id}"), true, body).await;
    }
}

async fn answer(client: &AsyncClient, reply: Reply, body: serde_json::Value) {
    let props = PublishProperties {
        content_type: Some("application/json".into()),
        correlation_data: reply.correlation,
        ..Default::default()
    };
    let body = Bytes::from(body.to_string());
    publish(client, reply.topic, false, body, props).await;
}

/// [`answer`] without waiting: for the event loop, which must never block. If the client's
/// request queue is full the answer is dropped (logged).
fn try_answer(client: &AsyncClient, reply: Reply, body: serde_json::Value) {
    let props = PublishProperties {
        content_type: Some("application/json".into()),
        correlation_data: reply.correlation,
        ..Default::default()
    };
    let body = Bytes::from(body.to_string());
    if let Err(e) =
        client.try_publish_with_properties(reply.topic, QoS::AtLeastOnce, false, body, props)
    {
        tracing::warn!("answer dropped: {e}");
    }
}

async fn publish_json(client: &AsyncClient, topic: String, retain: bool, body: Bytes) {
    let props = PublishProperties {
        content_type: Some("application/json".into()),
        ..Default::default()
    };
    publish(client, topic, retain, body, props).await;
}

async fn publish(
    client: &AsyncClient,
    topic: String,
    retain: bool,
    payload: Bytes,
    props: PublishProperties,
) {
    if let Err(e) = client
        .publish_with_properties(topic, QoS::AtLeastOnce, retain, payload, props)
        .await
    {
        tracing::warn!("publish: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget bounds tasks in flight: past the limit work is refused (not queued), and a
    /// permit comes back when a task ends.
    #[tokio::test]
    async fn a_task_budget_refuses_work_past_its_limit_until_a_task_ends() {
        let budget = TaskBudget::new(2);
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let mut running = Vec::new();
        for _ in 0..2 {
            let mut rx = release_rx.clone();
            let task = async move {
                let _ = rx.wait_for(|go| *go).await;
            };
            running.push(budget.try_spawn(task).expect("within the budget"));
        }
        assert_eq!(budget.available(), 0);
        assert_eq!(
            budget.try_spawn(async {}).err(),
            Some(Busy { limit: 2 }),
            "a third task is refused while two run"
        );
        release_tx.send(true).expect("tasks listen");
        for task in running {
            task.await.expect("ran");
        }
        assert_eq!(budget.available(), 2, "permits return when tasks end");
        budget
            .try_spawn(async {})
            .expect("accepted again")
            .await
            .expect("ran");
    }
}
