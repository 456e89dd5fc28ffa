//! Dead letters: list what sits in `<prefix>.dead` and replay it to where it
//! came from once the cause is fixed.
//!
//! Where a message came from is read from its headers: `x-pintu-source` (set
//! by Pintu's own consumers when they park a poison message) or, for messages
//! the broker dead-lettered itself (delivery limit), `x-first-death-queue` and
//! the `x-death` table. Those headers come from outside and may be missing or
//! malformed; such a message is listed with the reason it cannot be replayed
//! and is left where it is.
//!
//! Reading never removes anything: messages are fetched with `basic.get`
//! without auto-ack and held unacknowledged on one channel; closing the channel
//! returns them all to the queue. (The dead queue has no delivery limit, so
//! returning a message there has no side effect.) A replayed message is
//! published with its original `message_id` and a publisher confirm, and only
//! after that confirm is it acked out of the dead queue: a crash in between
//! leaves a copy in both places, which consumers drop by `message_id`, never
//! zero copies.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::broker::publisher::Outgoing;
use crate::broker::AmqpConfig;
use crate::broker::{connect, ConfirmedPublisher, Names, PublishError};

#[derive(Debug, Error)]
pub enum DeadError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("dead-letter queue `{0}` does not exist (nothing was ever dead-lettered, or wrong amqp.prefix)")]
    NoQueue(String),
    #[error("replaying {id}: {source}")]
    Publish { id: String, source: PublishError },
    #[error("nothing selected: give message ids or --all")]
    NothingSelected,
}

/// What a dead-lettered message holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Complaint,
    Reply,
    Unknown,
}

/// Where a replay publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub exchange: String,
    pub routing_key: String,
}

/// One message of the dead queue, as far as its headers and body tell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// The AMQP `message_id`; when absent, `sha256:` + the first 16 hex digits of
    /// the body's hash, so an operator can still name it.
    pub id: String,
    pub source_queue: Option<String>,
    pub reason: Option<String>,
    /// When it was dead-lettered (from `x-death`; Pintu's own parking has no time).
    pub dead_at: Option<DateTime<Utc>>,
    pub kind: Kind,
    pub tracking: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub target: Option<Target>,
    /// Why it cannot be replayed (when `target` is `None`).
    pub not_replayable: Option<String>,
    pub size: usize,
}

impl DeadLetter {
    /// Seconds since it was dead-lettered, else since the complaint was received.
    pub fn age_seconds(&self, now: DateTime<Utc>) -> Option<i64> {
        self.dead_at
            .or(self.received_at)
            .map(|t| (now - t).num_seconds().max(0))
    }
}

fn text(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

fn header<'a>(h: &'a FieldTable, key: &str) -> Option<&'a AMQPValue> {
    h.inner().iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
}

/// First entry of `x-death` (the most recent death, as RabbitMQ orders them).
struct Death {
    queue: Option<String>,
    reason: Option<String>,
    time: Option<DateTime<Utc>>,
    routing_key: Option<String>,
}

fn first_death(h: &FieldTable) -> Option<Death> {
    let AMQPValue::FieldArray(arr) = header(h, "x-death")? else {
        return None;
    };
    let AMQPValue::FieldTable(t) = arr.as_slice().first()? else {
        return None;
    };
    let time = match header(t, "time") {
        Some(AMQPValue::Timestamp(s)) => i64::try_from(*s)
            .ok()
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0)),
        _ => None,
    };
    let routing_key = match header(t, "routing-keys") {
        Some(AMQPValue::FieldArray(keys)) => keys.as_slice().first().and_then(text),
        _ => None,
    };
    Some(Death {
        queue: header(t, "queue").and_then(text),
        reason: header(t, "reason").and_then(text),
        time,
        routing_key,
    })
}

/// A routing-key segment taken from a message body must be a plain name.
fn plain(s: &str) -> Option<&str> {
    (!s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    .then_some(s)
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Everything that can be learnt from one dead message, without trusting any of it.
pub fn inspect(names: &Names, props: &BasicProperties, body: &[u8]) -> DeadLetter {
    let empty = FieldTable::default();
    let h = props.headers().as_ref().unwrap_or(&empty);
    let death = first_death(h);
    let source_queue = header(h, "x-pintu-source")
        .and_then(text)
        .or_else(|| header(h, "x-first-death-queue").and_then(text))
        .or_else(|| death.as_ref().and_then(|d| d.queue.clone()));
    let reason = header(h, "x-pintu-reason")
        .and_then(text)
        .or_else(|| header(h, "x-first-death-reason").and_then(text))
        .or_else(|| death.as_ref().and_then(|d| d.reason.clone()));
    let id = match props
        .message_id()
        .as_ref()
        .map(|s| s.as_str())
        .filter(|s| !s.is_empty())
    {
        Some(id) => id.to_string(),
        None => format!("sha256:{}", &hex::encode(Sha256::digest(body))[..16]),
    };
    let json: Option<Value> = serde_json::from_slice(body).ok().filter(Value::is_object);
    let kind = match &json {
        Some(v) if v.get("complaint_id").is_some() && v.get("provider").is_some() => Kind::Reply,
        Some(v) if v.get("received_at").is_some() && v.get("channel").is_some() => Kind::Complaint,
        _ => Kind::Unknown,
    };
    let tracking = json.as_ref().and_then(|v| str_field(v, "tracking")).map(str::to_string);
    let received_at = json
        .as_ref()
        .filter(|_| kind == Kind::Complaint)
        .and_then(|v| str_field(v, "received_at"))
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    let death_key = death.as_ref().and_then(|d| d.routing_key.clone());
    let target = target_for(names, source_queue.as_deref(), kind, json.as_ref(), death_key);
    let (target, not_replayable) = match target {
        Ok(t) => (Some(t), None),
        Err(e) => (None, Some(e)),
    };
    DeadLetter {
        id,
        source_queue,
        reason,
        dead_at: death.and_then(|d| d.time),
        kind,
        tracking,
        received_at,
        target,
        not_replayable,
        size: body.len(),
    }
}

/// The exchange and key that put the message into its source queue. The body
/// is preferred (Pintu's own parking loses the original key); the broker's
/// `x-death` routing key is the fallback, accepted only if it fits the exchange.
fn target_for(
    names: &Names,
    source: Option<&str>,
    kind: Kind,
    body: Option<&Value>,
    death_key: Option<String>,
) -> Result<Target, String> {
    let Some(source) = source else {
        return Err("no x-pintu-source or x-death header: origin unknown".into());
    };
    let fallback = |prefix: &str| death_key.clone().filter(|k| k.starts_with(prefix));
    let channel = body.and_then(|v| str_field(v, "channel")).and_then(plain);
    let agency_prefix = format!("{}.agency.", names.prefix);
    let (exchange, key) = if source == names.intake_queue() {
        let key = match (kind, channel) {
            (Kind::Complaint, Some(ch)) => Some(Names::intake_key(ch)),
            _ => fallback("intake."),
        };
        (names.intake_exchange(), key)
    } else if source == names.outbound_queue() {
        let provider = body.and_then(|v| str_field(v, "provider")).and_then(plain);
        let key = match (kind, channel, provider) {
            (Kind::Reply, Some(ch), Some(p)) => Some(Names::outbound_key(ch, p)),
            _ => fallback("outbound."),
        };
        (names.outbound_exchange(), key)
    } else if source == names.unbound_queue() || source.starts_with(&agency_prefix) {
        let agency = body
            .and_then(|v| v.get("routing"))
            .and_then(|r| str_field(r, "agency"))
            .and_then(plain);
        let key = match (kind, agency) {
            (Kind::Complaint, Some(a)) => Some(Names::agency_key(a)),
            _ => fallback("agency."),
        };
        (names.agency_exchange(), key)
    } else {
        return Err(format!("source queue `{source}` is not one of this prefix's queues"));
    };
    match key {
        Some(routing_key) => Ok(Target { exchange, routing_key }),
        None => Err(format!(
            "cannot tell the routing key for `{exchange}` (body unreadable and no usable x-death key)"
        )),
    }
}

/// Which messages to replay.
#[derive(Debug, Clone)]
pub enum Selection {
    All,
    Ids(Vec<String>),
}

impl Selection {
    fn wants(&self, id: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Ids(ids) => ids.iter().any(|i| i == id),
        }
    }
}

/// Outcome of [`replay`].
#[derive(Debug, Default, Serialize)]
pub struct ReplayReport {
    pub replayed: Vec<(String, Target)>,
    /// Selected but left in the dead queue, with why.
    pub skipped: Vec<(String, String)>,
    /// Asked for by id but not among the messages read.
    pub not_found: Vec<String>,
    /// Messages read from the dead queue.
    pub scanned: usize,
}

async fn open(amqp: &AmqpConfig) -> Result<(lapin::Connection, lapin::Channel, Names), DeadError> {
    let names = Names::new(&amqp.prefix);
    let conn = connect(amqp, "pintu-dead").await?;
    let ch = conn.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    if ch
        .queue_declare(names.dead_queue().into(), passive, FieldTable::default())
        .await
        .is_err()
    {
        let _ = conn.close(200, "bye".into()).await;
        return Err(DeadError::NoQueue(names.dead_queue()));
    }
    Ok((conn, ch, names))
}

/// Up to `limit` messages of the dead queue, oldest first; nothing is removed.
pub async fn list(amqp: &AmqpConfig, limit: usize) -> Result<Vec<DeadLetter>, DeadError> {
    let (conn, ch, names) = open(amqp).await?;
    let mut out = Vec::new();
    while out.len() < limit {
        match ch
            .basic_get(names.dead_queue().into(), BasicGetOptions { no_ack: false })
            .await?
        {
            Some(m) => out.push(inspect(&names, &m.delivery.properties, &m.delivery.data)),
            None => break,
        }
    }
    // Closing the channel hands every held message back, in order.
    let _ = ch.close(200, "listed".into()).await;
    let _ = conn.close(200, "bye".into()).await;
    Ok(out)
}

/// Replay the selected messages (among the first `limit`) to where they came
/// from; see the module docs for the order of publish, confirm and ack.
pub async fn replay(amqp: &AmqpConfig, selection: &Selection, limit: usize) -> Result<ReplayReport, DeadError> {
    if matches!(selection, Selection::Ids(ids) if ids.is_empty()) {
        return Err(DeadError::NothingSelected);
    }
    let (conn, ch, names) = open(amqp).await?;
    let publisher = ConfirmedPublisher::new(conn.create_channel().await?).await?;
    let mut report = ReplayReport::default();
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let result = async {
        while report.scanned < limit {
            let Some(m) = ch
                .basic_get(names.dead_queue().into(), BasicGetOptions { no_ack: false })
                .await?
            else {
                break;
            };
            report.scanned += 1;
            let d = m.delivery;
            let info = inspect(&names, &d.properties, &d.data);
            seen.insert(info.id.clone(), ());
            if !selection.wants(&info.id) {
                continue;
            }
            let Some(target) = info.target.clone() else {
                report.skipped.push((
                    info.id.clone(),
                    info.not_replayable.clone().unwrap_or_else(|| "no target".into()),
                ));
                continue;
            };
            let mut headers = vec![(
                "x-pintu-replayed-at",
                Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )];
            if let Some(src) = &info.source_queue {
                headers.push(("x-pintu-replayed-from", src.clone()));
            }
            if let Some(r) = &info.reason {
                headers.push(("x-pintu-dead-reason", r.clone()));
            }
            let msg = Outgoing {
                exchange: &target.exchange,
                routing_key: &target.routing_key,
                message_id: &info.id,
                body: &d.data,
                headers,
            };
            publisher.publish(&msg).await.map_err(|source| DeadError::Publish {
                id: info.id.clone(),
                source,
            })?;
            d.acker.ack(BasicAckOptions::default()).await?;
            report.replayed.push((info.id, target));
        }
        Ok::<(), DeadError>(())
    }
    .await;
    let _ = ch.close(200, "replayed".into()).await;
    let _ = conn.close(200, "bye".into()).await;
    result?;
    if let Selection::Ids(ids) = selection {
        report.not_found = ids.iter().filter(|i| !seen.contains_key(*i)).cloned().collect();
    }
    Ok(report)
}

/// `pintu dead list`: a table (or JSON) of the dead queue.
pub async fn list_cli(amqp: &AmqpConfig, limit: usize, json: bool) -> Result<String, DeadError> {
    let items = list(amqp, limit).await?;
    if json {
        return Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        ));
    }
    let now = Utc::now();
    let mut out = String::new();
    out.push_str(&format!(
        "{:<28}  {:<22}  {:>8}  {:<10}  {:<10}  REASON / REPLAY\n",
        "ID", "SOURCE", "AGE", "KIND", "TRACKING"
    ));
    for d in &items {
        let age = d
            .age_seconds(now)
            .map(|s| super::status::human_age(s as f64))
            .unwrap_or_else(|| "?".into());
        let kind = match d.kind {
            Kind::Complaint => "complaint",
            Kind::Reply => "reply",
            Kind::Unknown => "unknown",
        };
        let replay = match (&d.target, &d.not_replayable) {
            (Some(t), _) => format!("-> {} {}", t.exchange, t.routing_key),
            (None, Some(why)) => format!("NOT REPLAYABLE: {why}"),
            (None, None) => String::new(),
        };
        out.push_str(&format!(
            "{:<28}  {:<22}  {:>8}  {:<10}  {:<10}  {} {}\n",
            d.id,
            d.source_queue.as_deref().unwrap_or("?"),
            age,
            kind,
            d.tracking.as_deref().unwrap_or("-"),
            d.reason.as_deref().unwrap_or("(no reason)").replace(['\n', '\r'], " "),
            replay
        ));
    }
    out.push_str(&format!(
        "{} message(s){}\n",
        items.len(),
        if items.len() >= limit {
            " (limit reached; use --limit)"
        } else {
            ""
        }
    ));
    Ok(out)
}

/// `pintu dead replay <id…|--all>`.
pub async fn replay_cli(amqp: &AmqpConfig, ids: Vec<String>, all: bool, limit: usize) -> Result<String, DeadError> {
    let selection = if all { Selection::All } else { Selection::Ids(ids) };
    let r = replay(amqp, &selection, limit).await?;
    let mut out = String::new();
    for (id, t) in &r.replayed {
        out.push_str(&format!("replayed {id} -> {} {}\n", t.exchange, t.routing_key));
    }
    for (id, why) in &r.skipped {
        out.push_str(&format!("kept     {id}: {why}\n"));
    }
    for id in &r.not_found {
        out.push_str(&format!(
            "missing  {id}: not in the dead queue (first {} read)\n",
            r.scanned
        ));
    }
    out.push_str(&format!(
        "{} replayed, {} kept, {} not found\n",
        r.replayed.len(),
        r.skipped.len(),
        r.not_found.len()
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::{FieldArray, LongString, ShortString};

    fn names() -> Names {
        Names::new("p")
    }

    fn props(headers: Vec<(&str, AMQPValue)>, id: Option<&str>) -> BasicProperties {
        let mut t = FieldTable::default();
        for (k, v) in headers {
            t.insert(ShortString::from(k), v);
        }
        let mut p = BasicProperties::default().with_headers(t);
        if let Some(id) = id {
            p = p.with_message_id(ShortString::from(id));
        }
        p
    }

    fn s(v: &str) -> AMQPValue {
        AMQPValue::LongString(LongString::from(v))
    }

    const COMPLAINT: &str = r#"{"schema":1,"id":"01J","tracking":"LPR-7K3Q9X","received_at":"2026-01-02T03:04:05Z","channel":"sms","provider":"kannel","text":"x","routing":{"agency":"3171.dinkes"}}"#;
    const REPLY: &str = r#"{"id":"01R","complaint_id":"01J","tracking":"LPR-7K3Q9X","channel":"sms","provider":"kannel","to":"+62812","text":"t","context":{}}"#;

    #[test]
    fn pintu_parked_reply_goes_back_to_outbound() {
        let p = props(
            vec![
                ("x-pintu-source", s("p.outbound")),
                ("x-pintu-reason", s("no transport")),
            ],
            Some("01R"),
        );
        let d = inspect(&names(), &p, REPLY.as_bytes());
        assert_eq!(d.kind, Kind::Reply);
        assert_eq!(d.reason.as_deref(), Some("no transport"));
        assert_eq!(
            d.target,
            Some(Target {
                exchange: "p.outbound".into(),
                routing_key: "outbound.sms.kannel".into()
            })
        );
        assert_eq!(d.tracking.as_deref(), Some("LPR-7K3Q9X"));
    }

    #[test]
    fn broker_dead_lettered_complaint_uses_x_death() {
        let mut death = FieldTable::default();
        death.insert("queue".into(), s("p.intake"));
        death.insert("reason".into(), s("delivery_limit"));
        death.insert("time".into(), AMQPValue::Timestamp(1_767_323_045));
        death.insert(
            "routing-keys".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![s("intake.sms")])),
        );
        let p = props(
            vec![(
                "x-death",
                AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
            )],
            Some("01J"),
        );
        let d = inspect(&names(), &p, COMPLAINT.as_bytes());
        assert_eq!(d.source_queue.as_deref(), Some("p.intake"));
        assert_eq!(d.reason.as_deref(), Some("delivery_limit"));
        assert!(d.dead_at.is_some());
        assert_eq!(d.kind, Kind::Complaint);
        assert_eq!(d.target.unwrap().routing_key, "intake.sms");
        // Unreadable body: the x-death key is used, if it fits the exchange.
        let d = inspect(&names(), &p, b"\xff\xfe garbage");
        assert_eq!(d.kind, Kind::Unknown);
        assert_eq!(d.target.unwrap().routing_key, "intake.sms");
    }

    #[test]
    fn agency_dead_letter_goes_back_to_agency_exchange() {
        let p = props(vec![("x-first-death-queue", s("p.agency.3171.all"))], Some("01J"));
        let d = inspect(&names(), &p, COMPLAINT.as_bytes());
        assert_eq!(
            d.target,
            Some(Target {
                exchange: "p.agency".into(),
                routing_key: "agency.3171.dinkes".into()
            })
        );
    }

    #[test]
    fn malformed_headers_never_panic_and_say_why() {
        let cases = vec![
            props(vec![], None),
            props(vec![("x-death", s("not an array"))], None),
            props(
                vec![("x-death", AMQPValue::FieldArray(FieldArray::from(vec![s("x")])))],
                None,
            ),
            props(vec![("x-pintu-source", AMQPValue::LongLongInt(5))], None),
            props(vec![("x-pintu-source", s("elsewhere.queue"))], Some("")),
            props(vec![("x-pintu-source", s("p.intake"))], Some("m1")),
        ];
        for p in cases {
            let d = inspect(&names(), &p, b"{\"channel\":\"../../etc\",\"received_at\":5}");
            assert!(d.target.is_none(), "{d:?}");
            assert!(d.not_replayable.as_deref().is_some_and(|r| !r.is_empty()));
            assert!(!d.id.is_empty());
        }
        // A routing key from x-death that does not fit the exchange is refused.
        let mut death = FieldTable::default();
        death.insert("queue".into(), s("p.intake"));
        death.insert(
            "routing-keys".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![s("agency.x")])),
        );
        let p = props(
            vec![(
                "x-death",
                AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
            )],
            None,
        );
        assert!(inspect(&names(), &p, b"").target.is_none());
    }

    #[test]
    fn missing_message_id_gets_a_stable_name() {
        let a = inspect(&names(), &props(vec![], None), b"abc");
        let b = inspect(&names(), &props(vec![], None), b"abc");
        assert_eq!(a.id, b.id);
        assert!(a.id.starts_with("sha256:"));
    }
}
