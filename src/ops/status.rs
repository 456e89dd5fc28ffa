//! `pintu status`: the ops summary as a table in the terminal, for SSH
//! sessions. Asks the running gateway (`/ops/api/summary` at `http.addr`, with
//! the ops token); if the gateway does not answer, reads the queues from the
//! broker directly so an operator still sees where complaints pile up.

use std::fmt::Write as _;
use std::time::Duration;

use super::queues::{self, Management, QueueStat};
use super::summary::{rfc3339_ms, Summary};
use super::OpsError;
use crate::broker::connect;
use crate::config::Config;
use crate::http::{gateway_base, with_ops_token};
use crate::stats::now_ms;

/// What `status` could find out.
pub enum Status {
    Gateway(Box<Summary>),
    /// The gateway did not answer (why), but the broker did.
    BrokerOnly {
        gateway_error: String,
        queues: Vec<QueueStat>,
        source: &'static str,
    },
}

/// An error with its causes (`reqwest` puts "connection refused" in a source).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        // An error that prints its source (`#[error("broker: {0}")]` with
        // `#[from]`) does not get it twice.
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        src = s.source();
    }
    text
}

/// Fetch the summary from the gateway at `base` (`http://host:port`).
pub async fn fetch(base: &str, token: Option<&str>) -> Result<Summary, OpsError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(OpsError::Request)?;
    let req = http.get(format!("{}/ops/api/summary", base.trim_end_matches('/')));
    let resp = with_ops_token(req, token).send().await.map_err(OpsError::Request)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(OpsError::Request)?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&body).trim().chars().take(200).collect();
        return Err(OpsError::Gateway(format!("HTTP {status}: {text}")));
    }
    serde_json::from_slice(&body).map_err(|source| OpsError::GatewayAnswer {
        what: "unexpected summary document",
        source,
    })
}

/// The gateway's summary, else the broker's queue figures.
pub async fn collect(cfg: &Config, url: Option<&str>) -> Result<Status, OpsError> {
    let base = gateway_base(cfg.http.addr, url);
    let gateway_error = match fetch(&base, cfg.http.ops_token.as_ref().map(pintu_channels::Secret::expose)).await {
        Ok(s) => return Ok(Status::Gateway(Box::new(s))),
        Err(e) => e.to_string(),
    };
    let wanted = queues::pintu_queues(&cfg.amqp);
    if let Some(m) = cfg.amqp.management_url.as_ref().map(pintu_channels::Secret::expose) {
        if let Ok(q) = Management::new(m, cfg.amqp.url.expose())?.queues(&wanted).await {
            return Ok(Status::BrokerOnly {
                gateway_error,
                queues: q,
                source: "management",
            });
        }
    }
    let conn = connect(&cfg.amqp, "pintu-status").await?;
    let q = queues::via_amqp(&conn, &wanted).await;
    let _ = conn.close(200, "bye".into()).await;
    Ok(Status::BrokerOnly {
        gateway_error,
        queues: q?,
        source: "amqp",
    })
}

/// `pintu status [--url]`: the text to print.
pub async fn run_cli(cfg: &Config, url: Option<&str>) -> Result<String, OpsError> {
    let status = collect(cfg, url).await?;
    let mut text = render(&status);
    if let Status::Gateway(_) = &status {
        let token = cfg.http.ops_token.as_ref().map(pintu_channels::Secret::expose);
        text.push('\n');
        text.push_str(&crate::sla::status::table(&gateway_base(cfg.http.addr, url), token).await);
    }
    Ok(text)
}

/// `pintu status --json [--url]`: the summary document.
pub async fn run_cli_json(cfg: &Config, url: Option<&str>) -> Result<serde_json::Value, OpsError> {
    let value = match collect(cfg, url).await? {
        Status::Gateway(s) => {
            // The deadline clock's figures beside the gateway's, as the text
            // form shows them (`null` when the clock is off or unreachable).
            let token = cfg.http.ops_token.as_ref().map(pintu_channels::Secret::expose);
            let sla = crate::sla::status::fetch(&gateway_base(cfg.http.addr, url), token)
                .await
                .ok()
                .flatten();
            serde_json::to_value(&s).map(|mut v| {
                if let Some(o) = v.as_object_mut() {
                    o.insert("sla".into(), serde_json::to_value(sla).unwrap_or_default());
                }
                v
            })
        }
        Status::BrokerOnly {
            gateway_error,
            queues,
            source,
        } => serde_json::to_value(serde_json::json!({
            "gateway_error": gateway_error, "source": source, "queues": queues
        })),
    };
    value.map_err(OpsError::Json)
}

fn opt(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "?".into())
}

/// `93 s`, `4 min`, `2.5 h`.
pub fn human_age(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

fn queue_table(out: &mut String, queues: &[QueueStat]) {
    let w = queues.iter().map(|q| q.name.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(
        out,
        "{:<w$}  {:<8}  {:>9}  {:>9}  {:>9}  note",
        "QUEUE", "ROLE", "MESSAGES", "UNACKED", "CONSUMERS"
    );
    for q in queues {
        let role = serde_json::to_value(q.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut note = q.error.clone().unwrap_or_default();
        if note.is_empty() && q.consumers == Some(0) && !matches!(q.role, queues::Role::Dead) {
            note = "no consumer".into();
        }
        if note.is_empty() && matches!(q.role, queues::Role::Dead) && q.messages.unwrap_or(0) > 0 {
            note = "see `pintu dead list`".into();
        }
        let _ = writeln!(
            out,
            "{:<w$}  {:<8}  {:>9}  {:>9}  {:>9}  {}",
            q.name,
            role,
            opt(q.messages),
            opt(q.messages_unacked),
            opt(q.consumers),
            note
        );
    }
}

fn ranked(list: &[crate::stats::Ranked]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter()
        .take(5)
        .map(|r| format!("{} ({})", r.name, r.count))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A readable, fixed-width rendering.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    match status {
        Status::Gateway(s) => {
            let _ = writeln!(
                out,
                "Pintu status at {}  (broker figures: {}, as of {})",
                s.generated_at,
                s.broker.source,
                s.broker.as_of.as_deref().unwrap_or("-")
            );
            if let Some(e) = &s.broker.error {
                let _ = writeln!(out, "! broker: {e}");
            }
            let _ = writeln!(
                out,
                "relay connected: {}   outbox backlog: {} (ready limit {})",
                if s.broker.relay_connected { "yes" } else { "NO" },
                s.outbox.backlog,
                s.outbox.backlog_max
            );
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "LAST HOUR   {:<10} {:>9} {:>11} {:>9}",
                "CHANNEL", "RECEIVED", "DUPLICATES", "REJECTED"
            );
            for c in &s.intake.channels {
                let _ = writeln!(
                    out,
                    "            {:<10} {:>9} {:>11} {:>9}",
                    c.channel,
                    c.received.iter().sum::<u64>(),
                    c.duplicates.iter().sum::<u64>(),
                    c.rejected.iter().sum::<u64>()
                );
            }
            let t = &s.intake.last_hour;
            let _ = writeln!(
                out,
                "            {:<10} {:>9} {:>11} {:>9}",
                "total", t.received, t.duplicates, t.rejected
            );
            let _ = writeln!(out);
            queue_table(&mut out, &s.queues);
            let _ = writeln!(out);
            let u = &s.unrouted;
            let oldest = match (u.oldest_age_seconds, &u.oldest_received_at) {
                (Some(a), Some(at)) => format!("{} (received {at})", human_age(a)),
                _ => "none".into(),
            };
            let _ = writeln!(
                out,
                "oldest unrouted: {oldest}   tracked: {}   untracked: {}{}",
                u.tracked,
                u.untracked,
                if u.complete { "" } else { "  (tracking full)" }
            );
            let _ = writeln!(
                out,
                "routed last hour: {}   tap: {}",
                s.routed.last_hour,
                if s.broker.tap_connected { "on" } else { "off" }
            );
            let _ = writeln!(out, "  top categories: {}", ranked(&s.routed.top_categories));
            let _ = writeln!(out, "  top regions:    {}", ranked(&s.routed.top_regions));
            let _ = writeln!(
                out,
                "replies last hour: {} sent, {} failed",
                s.replies.sent_last_hour, s.replies.failed_last_hour
            );
        }
        Status::BrokerOnly {
            gateway_error,
            queues,
            source,
        } => {
            let _ = writeln!(
                out,
                "Pintu status at {} — gateway not reachable: {gateway_error}",
                rfc3339_ms(now_ms())
            );
            let _ = writeln!(out, "showing the broker only (read via {source})");
            let _ = writeln!(out);
            queue_table(&mut out, queues);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(human_age(5.2), "5 s");
        assert_eq!(human_age(600.0), "10 min");
        assert_eq!(human_age(9000.0), "2.5 h");
    }

    #[test]
    fn broker_only_table_marks_unknowns() {
        let s = Status::BrokerOnly {
            gateway_error: "connection refused".into(),
            source: "amqp",
            queues: vec![QueueStat {
                name: "p.intake".into(),
                role: queues::Role::Intake,
                messages: Some(3),
                messages_ready: None,
                messages_unacked: None,
                consumers: Some(0),
                error: None,
            }],
        };
        let text = render(&s);
        assert!(text.contains("connection refused"));
        assert!(text.contains("p.intake"));
        assert!(text.contains("no consumer"));
        assert!(text.contains('?'));
    }
}
