//! Shared helpers of the router's broker tests, on `crate::support` (the
//! test binary declares `mod support;`): a config for a test's own prefix
//! (tests run in parallel against one RabbitMQ), complaints, publishing to
//! and reading the router's queues, clean-up.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicGetOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use pintu::broker::Outgoing;
use pintu::broker::{connect, ConfirmedPublisher, Names, Topology};
use pintu::complaint::{Complaint, Flags};
use pintu::config::Config;
use pintu_channels::{Channel as Via, Sender, SenderKind};

use crate::support::{broker, cleanup, config_file_head, repo};

/// A config file in `dir` for `prefix`, routing tables from the repository.
pub fn write_config(dir: &Path, prefix: &str, agency_queues: &[&str], prefetch: u16) -> PathBuf {
    let queues = agency_queues
        .iter()
        .map(|q| format!("\"{q}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let toml = format!(
        r#"{head}delivery_limit = 3
agency_queues = [{queues}]

[routing]
dir = "{routing}"
wilayah_dir = "{wilayah}"
prefetch = {prefetch}

[log]
format = "pretty"
level = "warn"
"#,
        head = config_file_head(&dir.join("data"), prefix),
        routing = repo().join("config/routing").display(),
        wilayah = repo().join("config/wilayah").display(),
    );
    let path = dir.join("pintu.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

pub fn config(dir: &Path, prefix: &str, agency_queues: &[&str]) -> Config {
    Config::load(&write_config(dir, prefix, agency_queues, 256)).unwrap()
}

pub fn complaint(text: &str) -> Complaint {
    Complaint {
        schema: 1,
        id: ulid::Ulid::new().to_string(),
        tracking: "LPR-TEST01".into(),
        received_at: Utc::now(),
        channel: Via::Sms,
        provider: "test".into(),
        external_id: None,
        sender: Some(Sender {
            kind: SenderKind::Msisdn,
            address: "+6281200000001".into(),
            display_name: Some("Warga".into()),
        }),
        recipient: Some("1708".into()),
        subject: None,
        text: text.into(),
        attachments: vec![],
        flags: Flags::default(),
        in_reply_to: None,
        parts: 1,
        fingerprint: "0".into(),
        routing: None,
    }
}

pub struct Broker {
    pub conn: Connection,
    pub ch: Channel,
    pub publisher: ConfirmedPublisher,
    pub names: Names,
    pub cfg: Config,
}

impl Broker {
    pub async fn new(cfg: Config) -> Broker {
        let conn = connect(&cfg.amqp, "router-test").await.unwrap();
        let ch = conn.create_channel().await.unwrap();
        Topology::new(&cfg.amqp).declare(&ch).await.unwrap();
        let publisher = ConfirmedPublisher::new(conn.create_channel().await.unwrap())
            .await
            .unwrap();
        let names = Names::new(&cfg.amqp.prefix);
        Broker {
            conn,
            ch,
            publisher,
            names,
            cfg,
        }
    }

    /// Publish complaints to the intake exchange, all confirms awaited together.
    pub async fn intake(&self, complaints: &[Complaint]) {
        let exchange = self.names.intake_exchange();
        let key = Names::intake_key("sms");
        let mut pending = Vec::new();
        for c in complaints {
            let body = serde_json::to_vec(c).unwrap();
            let msg = Outgoing {
                exchange: &exchange,
                routing_key: &key,
                message_id: &c.id,
                body: &body,
                headers: vec![],
            };
            pending.push(self.publisher.send(&msg).await.unwrap());
        }
        for p in pending {
            p.await.unwrap();
        }
    }

    pub async fn intake_raw(&self, body: &[u8], id: &str) {
        let msg = Outgoing {
            exchange: &self.names.intake_exchange(),
            routing_key: &Names::intake_key("sms"),
            message_id: id,
            body,
            headers: vec![],
        };
        self.publisher.publish(&msg).await.unwrap();
    }

    pub async fn depth(&self, queue: &str) -> u32 {
        broker::depth(&self.ch, queue).await
    }

    /// Wait until `queue` holds `n` messages (or the timeout passes).
    pub async fn wait_depth(&self, queue: &str, n: u32, timeout: Duration) -> u32 {
        let start = Instant::now();
        loop {
            let d = self.depth(queue).await;
            if d >= n || start.elapsed() > timeout {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Take every message of `queue` (acked), with its properties.
    pub async fn drain(&self, queue: &str) -> Vec<(BasicProperties, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(msg) = self
            .ch
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            let d = msg.delivery;
            d.acker.ack(BasicAckOptions::default()).await.unwrap();
            out.push((d.properties, d.data));
        }
        out
    }

    /// Consume `n` messages of `queue` within the timeout.
    pub async fn take(&self, queue: &str, n: usize, timeout: Duration) -> Vec<(BasicProperties, Vec<u8>)> {
        let ch = self.conn.create_channel().await.unwrap();
        let mut consumer = ch
            .basic_consume(
                queue.into(),
                "test-take".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let mut out = Vec::new();
        let deadline = Instant::now() + timeout;
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, consumer.next()).await {
                Ok(Some(Ok(d))) => {
                    d.acker.ack(BasicAckOptions::default()).await.unwrap();
                    out.push((d.properties, d.data));
                }
                _ => break,
            }
        }
        let _ = ch.close(200, "done".into()).await;
        out
    }

    /// Delete everything this test's prefix created (best effort).
    pub async fn cleanup(self) {
        let _ = self.conn.close(200, "test done".into()).await;
        cleanup(&self.cfg).await;
    }
}
