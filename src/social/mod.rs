//! Social channels in the runtime: the X mentions poller, the webhook adapters
//! of X, Meta and Telegram, and their reply transports.
//!
//! `serve` calls the three entry points: [`webhook_adapters`] (mounted by the
//! HTTP server at `/webhooks/x`, `/webhooks/meta`, `/webhooks/telegram`),
//! [`spawn`] (the X poller) and [`reply_transports`] (handed to the reply
//! sender). Each returns nothing for a channel that is switched off.

pub(crate) mod config;
mod transports;
pub mod x_poller;

use std::sync::Arc;
use std::time::Duration;

use pintu_channels::social::meta::{MetaProducts, MetaWebhook};
use pintu_channels::social::telegram::TelegramWebhook;
use pintu_channels::social::x::{XAccount, XWebhook};
use pintu_channels::WebhookAdapter;
use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::config::require_secret;
use self::transports::{GraphProduct, GraphReply, TelegramReply, XReply};
use self::x_poller::XPoller;
use crate::config::{Config, ConfigError};
use crate::intake::Intake;
use crate::replies::ReplyTransport;

pub const X_PATH: &str = "/webhooks/x";
pub const META_PATH: &str = "/webhooks/meta";
pub const TELEGRAM_PATH: &str = "/webhooks/telegram";

#[derive(Debug, Error)]
pub enum SocialError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("X cursor store: {0}")]
    Store(#[from] sled::Error),
}

fn http_client(timeout_ms: u64) -> Result<reqwest::Client, SocialError> {
    crate::replies::http_client(Duration::from_millis(timeout_ms)).map_err(SocialError::Client)
}

fn x_account(cfg: &Config) -> XAccount {
    XAccount {
        user_id: cfg.channels.x.user_id.clone(),
        username: cfg.channels.x.username.clone(),
    }
}

/// A webhook path and the adapter to mount there.
pub type WebhookMount = (&'static str, Arc<dyn WebhookAdapter>);

/// The enabled social webhooks and the paths to mount them at.
pub fn webhook_adapters(cfg: &Config) -> Result<Vec<WebhookMount>, SocialError> {
    let ch = &cfg.channels;
    let base = &cfg.base_dir;
    let mut out: Vec<WebhookMount> = Vec::new();
    if ch.x.webhook.enabled {
        let secret = require_secret(
            "channels.x.webhook.consumer_secret",
            &ch.x.webhook.consumer_secret,
            &ch.x.webhook.consumer_secret_file,
            base,
        )?;
        let webhook =
            XWebhook::new(x_account(cfg), secret).with_max_age(Duration::from_secs(ch.x.webhook.max_age_secs));
        out.push((X_PATH, Arc::new(webhook)));
    }
    if ch.meta.any_enabled() {
        let wh = &ch.meta.webhook;
        let verify = require_secret(
            "channels.meta.webhook.verify_token",
            &wh.verify_token,
            &wh.verify_token_file,
            base,
        )?;
        let secret = require_secret(
            "channels.meta.webhook.app_secret",
            &wh.app_secret,
            &wh.app_secret_file,
            base,
        )?;
        let products = MetaProducts {
            whatsapp: ch.meta.whatsapp.enabled,
            facebook: ch.meta.facebook.enabled,
            instagram: ch.meta.instagram.enabled,
        };
        out.push((META_PATH, Arc::new(MetaWebhook::new(verify, secret, products))));
    }
    if ch.telegram.enabled {
        let wh = &ch.telegram.webhook;
        let secret = require_secret(
            "channels.telegram.webhook.secret_token",
            &wh.secret_token,
            &wh.secret_token_file,
            base,
        )?;
        out.push((TELEGRAM_PATH, Arc::new(TelegramWebhook::new(secret))));
    }
    Ok(out)
}

/// Start the X mentions poller when `channels.x.poll.enabled`.
pub fn spawn(
    cfg: &Config,
    intake: Arc<Intake>,
    shutdown: CancellationToken,
) -> Result<Vec<JoinHandle<()>>, SocialError> {
    let x = &cfg.channels.x;
    if !x.poll.enabled {
        return Ok(Vec::new());
    }
    let bearer = require_secret(
        "channels.x.bearer_token",
        &x.bearer_token,
        &x.bearer_token_file,
        &cfg.base_dir,
    )?;
    let poller = XPoller::new(
        http_client(x.timeout_ms)?,
        &x.api_base,
        bearer,
        x_account(cfg),
        x.poll.clone(),
        intake,
    )?;
    Ok(vec![tokio::spawn(poller.run(shutdown))])
}

/// Reply transports of the enabled social channels.
pub fn reply_transports(cfg: &Config) -> Result<Vec<Arc<dyn ReplyTransport>>, SocialError> {
    let ch = &cfg.channels;
    let base = &cfg.base_dir;
    let mut out: Vec<Arc<dyn ReplyTransport>> = Vec::new();
    // A complaint that came in by webhook is answered like a polled one.
    if ch.x.enabled {
        let token = require_secret(
            "channels.x.user_access_token",
            &ch.x.user_access_token,
            &ch.x.user_access_token_file,
            base,
        )?;
        out.push(Arc::new(XReply::new(
            http_client(ch.x.timeout_ms)?,
            &ch.x.api_base,
            token,
        )));
    }
    let m = &ch.meta;
    for (name, p, product) in [
        ("whatsapp", &m.whatsapp, GraphProduct::Whatsapp),
        ("facebook", &m.facebook, GraphProduct::Messenger),
        ("instagram", &m.instagram, GraphProduct::Instagram),
    ] {
        if !p.enabled {
            continue;
        }
        let key = format!("channels.meta.{name}.access_token");
        let token = require_secret(&key, &p.access_token, &p.access_token_file, base)?;
        let graph_base = p.graph_base.as_deref().unwrap_or(&m.graph_base);
        out.push(Arc::new(GraphReply::new(
            http_client(m.timeout_ms)?,
            graph_base,
            &m.graph_version,
            token,
            product,
        )));
    }
    if ch.telegram.enabled {
        let t = &ch.telegram;
        let token = require_secret("channels.telegram.bot_token", &t.bot_token, &t.bot_token_file, base)?;
        out.push(Arc::new(TelegramReply::new(
            http_client(t.timeout_ms)?,
            &t.api_base,
            &token,
        )));
    }
    Ok(out)
}

/// The social family (X, Meta's WhatsApp/Messenger/Instagram, Telegram): its
/// face towards the gateway ([`crate::channel`]).
pub struct Social;

impl crate::channel::Family for Social {
    fn name(&self) -> &'static str {
        "social"
    }

    fn build(&self, cfg: &Config) -> Result<crate::channel::ChannelParts, crate::channel::ChannelError> {
        let family = crate::channel::ChannelError::family;
        // Transports first, as the gateway always built them.
        let transports = reply_transports(cfg).map_err(family)?;
        let mounts = webhook_adapters(cfg)
            .map_err(family)?
            .into_iter()
            .map(|(path, adapter)| crate::http::Mount {
                path: path.into(),
                adapter,
            })
            .collect();
        Ok(crate::channel::ChannelParts { mounts, transports })
    }

    fn spawn(
        &self,
        cfg: &Config,
        intake: &Arc<Intake>,
        shutdown: &CancellationToken,
    ) -> Result<Vec<JoinHandle<()>>, crate::channel::ChannelError> {
        spawn(cfg, intake.clone(), shutdown.clone()).map_err(crate::channel::ChannelError::family)
    }
}
