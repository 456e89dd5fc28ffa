//! `[sms]` and the `[channels.kannel]` / `[channels.jasmin]` profiles (the
//! Twilio and generic profiles are defined next to their adapters in
//! `pintu_channels::sms`, which need them to verify requests).

use std::sync::Arc;

use pintu_channels::sms::generic::{Generic, GenericConfig};
use pintu_channels::sms::jasmin::Jasmin;
use pintu_channels::sms::kannel::Kannel;
use pintu_channels::sms::twilio::{Twilio, TwilioConfig};
use pintu_channels::sms::SmsAuth;
use pintu_channels::{Secret, WebhookAdapter};
use serde::Deserialize;

use crate::section::ConfigError;
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// Parts of a concatenated SMS still missing after this are ingested as one
    /// partial complaint.
    #[serde(default = "default_concat_timeout")]
    pub concat_timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            concat_timeout_secs: default_concat_timeout(),
        }
    }
}

fn default_concat_timeout() -> u64 {
    300
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KannelConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(flatten)]
    pub auth: SmsAuth,
    /// smsbox sendsms endpoint for replies (`http://127.0.0.1:13013/cgi-bin/sendsms`).
    #[serde(default)]
    pub sendsms_url: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Sender of replies (the short code).
    #[serde(default = "default_short_code")]
    pub from: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JasminConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(flatten)]
    pub auth: SmsAuth,
    /// Jasmin HTTP API send endpoint (`http://127.0.0.1:1401/send`).
    #[serde(default)]
    pub send_url: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default = "default_short_code")]
    pub from: String,
}

fn default_short_code() -> String {
    "1708".into()
}

/// A webhook path and the adapter to mount there.
pub type WebhookMount = (&'static str, Arc<dyn WebhookAdapter>);

/// The enabled SMS profiles' webhook adapters. Building one checks that its
/// profile has a credential, so `Config::validate` calls this too.
pub fn webhook_adapters(
    kannel: &KannelConfig,
    jasmin: &JasminConfig,
    twilio: &TwilioConfig,
    generic: &GenericConfig,
) -> Result<Vec<WebhookMount>, ConfigError> {
    let mut out: Vec<WebhookMount> = Vec::new();
    if kannel.enabled {
        let a = Kannel::new(&kannel.auth).map_err(|e| ConfigError::profile("kannel", e))?;
        out.push(("/sms/kannel", Arc::new(a)));
    }
    if jasmin.enabled {
        let a = Jasmin::new(&jasmin.auth).map_err(|e| ConfigError::profile("jasmin", e))?;
        out.push(("/sms/jasmin", Arc::new(a)));
    }
    if twilio.enabled {
        let a = Twilio::new(twilio).map_err(|e| ConfigError::profile("twilio", e))?;
        out.push(("/sms/twilio", Arc::new(a)));
    }
    if generic.enabled {
        let a = Generic::new(generic).map_err(|e| ConfigError::profile("generic", e))?;
        out.push(("/sms/generic", Arc::new(a)));
    }
    Ok(out)
}
