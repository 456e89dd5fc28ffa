//! Exchanges, queues and bindings, as data.
//!
//! The same [`Topology`] value is declared at start (idempotently) and rendered
//! as RabbitMQ definitions (`deploy/rabbitmq/definitions.json`), so the two can
//! never drift apart: a test compares the file with [`Topology::definitions`].

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use serde_json::{json, Value};

use super::config::AmqpConfig;

/// Every broker object name, derived from one prefix.
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Names {
        Names {
            prefix: prefix.to_string(),
        }
    }
    pub fn intake_exchange(&self) -> String {
        format!("{}.intake", self.prefix)
    }
    pub fn intake_queue(&self) -> String {
        format!("{}.intake", self.prefix)
    }
    pub fn agency_exchange(&self) -> String {
        format!("{}.agency", self.prefix)
    }
    /// Alternate exchange of `agency`: keeps complaints for agencies without a queue.
    pub fn unbound_exchange(&self) -> String {
        format!("{}.unbound", self.prefix)
    }
    pub fn unbound_queue(&self) -> String {
        format!("{}.unbound", self.prefix)
    }
    pub fn outbound_exchange(&self) -> String {
        format!("{}.outbound", self.prefix)
    }
    pub fn outbound_queue(&self) -> String {
        format!("{}.outbound", self.prefix)
    }
    /// SLA clock (docs/sla.md): stage events in (`stage.<kind>`), reminders,
    /// overdue events and escalation copies out (`sla.<agency>`, `escalation.<target>`).
    pub fn sla_exchange(&self) -> String {
        format!("{}.sla", self.prefix)
    }
    pub fn sla_stage_queue(&self) -> String {
        format!("{}.sla.stage", self.prefix)
    }
    /// Every event the clock announced, whoever else is bound.
    pub fn sla_events_queue(&self) -> String {
        format!("{}.sla.events", self.prefix)
    }
    pub fn dlx(&self) -> String {
        format!("{}.dlx", self.prefix)
    }
    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    /// Queue of one agency code or pattern (`triage`, `3171.dinkes`, `3171.#`);
    /// wildcards are spelled out so queue names stay shell- and URL-friendly
    /// (`3171.#` → `pintu.agency.3171.all`).
    pub fn agency_queue(&self, code: &str) -> String {
        format!(
            "{}.agency.{}",
            self.prefix,
            code.replace('#', "all").replace('*', "any")
        )
    }
    pub fn intake_key(channel: &str) -> String {
        format!("intake.{channel}")
    }
    pub fn agency_key(agency: &str) -> String {
        format!("agency.{agency}")
    }
    pub fn outbound_key(channel: &str, provider: &str) -> String {
        format!("outbound.{channel}.{provider}")
    }
    /// Every queue Pintu owns, for ops views.
    pub fn all_queues(&self, agency_queues: &[String]) -> Vec<String> {
        let mut q = vec![self.intake_queue(), self.agency_queue("triage")];
        q.extend(
            agency_queues
                .iter()
                .filter(|c| c.as_str() != "triage")
                .map(|c| self.agency_queue(c)),
        );
        q.extend([self.unbound_queue(), self.outbound_queue(), self.dead_queue()]);
        q
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeSpec {
    pub name: String,
    pub kind: &'static str,
    pub alternate: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    pub name: String,
    pub delivery_limit: Option<u32>,
    pub dead_letter_exchange: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BindingSpec {
    pub exchange: String,
    pub queue: String,
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct Topology {
    pub names: Names,
    pub exchanges: Vec<ExchangeSpec>,
    pub queues: Vec<QueueSpec>,
    pub bindings: Vec<BindingSpec>,
}

impl Topology {
    pub fn new(cfg: &AmqpConfig) -> Topology {
        let n = Names::new(&cfg.prefix);
        let ex = |name: String, kind: &'static str| ExchangeSpec {
            name,
            kind,
            alternate: None,
        };
        let exchanges = vec![
            ex(n.intake_exchange(), "topic"),
            ExchangeSpec {
                name: n.agency_exchange(),
                kind: "topic",
                alternate: Some(n.unbound_exchange()),
            },
            ex(n.unbound_exchange(), "fanout"),
            ex(n.outbound_exchange(), "topic"),
            ex(n.sla_exchange(), "topic"),
            ex(n.dlx(), "fanout"),
        ];
        let work = |name: String| QueueSpec {
            name,
            delivery_limit: Some(cfg.delivery_limit),
            dead_letter_exchange: Some(n.dlx()),
        };
        let bind = |exchange: String, queue: String, key: &str| BindingSpec {
            exchange,
            queue,
            key: key.to_string(),
        };
        let mut queues = vec![work(n.intake_queue())];
        let mut bindings = vec![bind(n.intake_exchange(), n.intake_queue(), "intake.#")];
        let mut agencies = vec!["triage".to_string()];
        agencies.extend(cfg.agency_queues.iter().filter(|c| c.as_str() != "triage").cloned());
        for code in agencies {
            queues.push(work(n.agency_queue(&code)));
            bindings.push(bind(
                n.agency_exchange(),
                n.agency_queue(&code),
                &Names::agency_key(&code),
            ));
        }
        queues.push(work(n.unbound_queue()));
        bindings.push(bind(n.unbound_exchange(), n.unbound_queue(), ""));
        queues.push(work(n.outbound_queue()));
        bindings.push(bind(n.outbound_exchange(), n.outbound_queue(), "outbound.#"));
        queues.push(work(n.sla_stage_queue()));
        bindings.push(bind(n.sla_exchange(), n.sla_stage_queue(), "stage.#"));
        queues.push(work(n.sla_events_queue()));
        bindings.push(bind(n.sla_exchange(), n.sla_events_queue(), "sla.#"));
        bindings.push(bind(n.sla_exchange(), n.sla_events_queue(), "escalation.#"));
        // The dead-letter queue has no limit and no DLX: it is the end of the line.
        queues.push(QueueSpec {
            name: n.dead_queue(),
            delivery_limit: None,
            dead_letter_exchange: None,
        });
        bindings.push(bind(n.dlx(), n.dead_queue(), ""));
        Topology {
            names: n,
            exchanges,
            queues,
            bindings,
        }
    }

    fn queue_args(q: &QueueSpec) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), AMQPValue::LongString(LongString::from("quorum")));
        if let Some(limit) = q.delivery_limit {
            args.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(limit as i64));
        }
        if let Some(dlx) = &q.dead_letter_exchange {
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(LongString::from(dlx.as_str())),
            );
        }
        args
    }

    /// Declare everything; safe to repeat (same arguments every time).
    pub async fn declare(&self, ch: &Channel) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        // Alternate exchanges first, so `agency` never exists without its AE.
        let mut ordered: Vec<&ExchangeSpec> = self.exchanges.iter().filter(|e| e.alternate.is_none()).collect();
        ordered.extend(self.exchanges.iter().filter(|e| e.alternate.is_some()));
        for e in ordered {
            let mut args = FieldTable::default();
            if let Some(ae) = &e.alternate {
                args.insert(
                    ShortString::from("alternate-exchange"),
                    AMQPValue::LongString(LongString::from(ae.as_str())),
                );
            }
            let kind = match e.kind {
                "topic" => ExchangeKind::Topic,
                "fanout" => ExchangeKind::Fanout,
                other => ExchangeKind::Custom(other.to_string()),
            };
            ch.exchange_declare(e.name.as_str().into(), kind, durable, args).await?;
        }
        let qopts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        for q in &self.queues {
            ch.queue_declare(q.name.as_str().into(), qopts, Self::queue_args(q))
                .await?;
        }
        for b in &self.bindings {
            ch.queue_bind(
                b.queue.as_str().into(),
                b.exchange.as_str().into(),
                b.key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        Ok(())
    }

    /// RabbitMQ definitions (management `import` format) for vhost `/`.
    pub fn definitions(&self) -> Value {
        let exchanges: Vec<Value> = self
            .exchanges
            .iter()
            .map(|e| {
                let mut args = serde_json::Map::new();
                if let Some(ae) = &e.alternate {
                    args.insert("alternate-exchange".into(), json!(ae));
                }
                json!({"name": e.name, "vhost": "/", "type": e.kind, "durable": true, "auto_delete": false, "internal": false, "arguments": args})
            })
            .collect();
        let queues: Vec<Value> = self
            .queues
            .iter()
            .map(|q| {
                let mut args = serde_json::Map::new();
                args.insert("x-queue-type".into(), json!("quorum"));
                if let Some(l) = q.delivery_limit {
                    args.insert("x-delivery-limit".into(), json!(l));
                }
                if let Some(d) = &q.dead_letter_exchange {
                    args.insert("x-dead-letter-exchange".into(), json!(d));
                }
                json!({"name": q.name, "vhost": "/", "durable": true, "auto_delete": false, "arguments": args})
            })
            .collect();
        let bindings: Vec<Value> = self
            .bindings
            .iter()
            .map(|b| json!({"source": b.exchange, "vhost": "/", "destination": b.queue, "destination_type": "queue", "routing_key": b.key, "arguments": {}}))
            .collect();
        json!({"exchanges": exchanges, "queues": queues, "bindings": bindings})
    }
}
