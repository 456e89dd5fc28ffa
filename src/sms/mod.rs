//! The SMS family: Kannel, Jasmin, Twilio and a generic JSON gateway.
//!
//! Each provider has two halves. The inbound one — a pure function from the
//! gateway's webhook request to an [`pintu_channels::Inbound`] — lives in
//! `pintu_channels::sms::{kannel, jasmin, twilio, generic}` (no I/O, so the
//! fuzz targets and the adapter harness test it alone); the outbound one, the
//! gateway's send API, is here in [`send`] (`KannelSend`, `JasminSend`,
//! `TwilioSend`). [`config`] holds the `[sms]` section and the Kannel and
//! Jasmin profiles; [`Sms`] is the family's face ([`crate::channel`]).

pub(crate) mod config;
mod send;

use std::sync::Arc;

use crate::channel::{ChannelError, ChannelParts, Family};
use crate::config::{Config, ConfigError};
use crate::http::Mount;
use crate::replies::ReplyTransport;

use self::send::{JasminSend, KannelSend, TwilioSend};

/// The SMS family.
pub struct Sms;

impl Family for Sms {
    fn name(&self) -> &'static str {
        "sms"
    }

    fn build(&self, cfg: &Config) -> Result<ChannelParts, ChannelError> {
        Ok(ChannelParts {
            mounts: mounts(cfg)?,
            transports: transports(cfg),
        })
    }
}

/// The SMS webhooks enabled in the config.
pub fn mounts(cfg: &Config) -> Result<Vec<Mount>, ConfigError> {
    let ch = &cfg.channels;
    let adapters = config::webhook_adapters(&ch.kannel, &ch.jasmin, &ch.twilio, &ch.generic)?;
    Ok(adapters
        .into_iter()
        .map(|(path, adapter)| Mount {
            path: path.into(),
            adapter,
        })
        .collect())
}

/// Reply transports of the enabled SMS gateways that have a send URL.
pub fn transports(cfg: &Config) -> Vec<Arc<dyn ReplyTransport>> {
    let mut t: Vec<Arc<dyn ReplyTransport>> = Vec::new();
    if let Some(k) = KannelSend::new(&cfg.channels.kannel).filter(|_| cfg.channels.kannel.enabled) {
        t.push(Arc::new(k));
    }
    if let Some(j) = JasminSend::new(&cfg.channels.jasmin).filter(|_| cfg.channels.jasmin.enabled) {
        t.push(Arc::new(j));
    }
    if let Some(tw) = TwilioSend::new(&cfg.channels.twilio).filter(|_| cfg.channels.twilio.enabled) {
        t.push(Arc::new(tw));
    }
    t
}
