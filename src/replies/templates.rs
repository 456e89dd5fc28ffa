//! Reply templates (Indonesian), loaded from `config/replies.toml`.
//!
//! A template is chosen by channel, falling back to `default`; placeholders are
//! `{tracking}` and `{channel}`. Kept short: one SMS is 160 GSM-7 characters.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("{path}: {reason}")]
    Load { path: String, reason: String },
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: toml::de::Error,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Acknowledgement of a new complaint.
    pub ack: String,
    /// Acknowledgement of a message joined to an earlier complaint.
    #[serde(default)]
    pub followup: Option<String>,
    /// Subject line (e-mail).
    #[serde(default)]
    pub subject: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Templates {
    pub default: Template,
    #[serde(flatten)]
    pub by_channel: BTreeMap<String, Template>,
}

impl Templates {
    pub fn load(path: &Path) -> Result<Templates, TemplateError> {
        let err = |reason: String| TemplateError::Load {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let t: Templates = toml::from_str(&text).map_err(|source| TemplateError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        for (name, tpl) in
            std::iter::once(("default", &t.default)).chain(t.by_channel.iter().map(|(k, v)| (k.as_str(), v)))
        {
            if !tpl.ack.contains("{tracking}") {
                return Err(err(format!("[{name}] ack must contain {{tracking}}")));
            }
        }
        Ok(t)
    }

    pub fn for_channel(&self, channel: &str) -> &Template {
        self.by_channel.get(channel).unwrap_or(&self.default)
    }

    /// (subject, text) of the reply to a complaint.
    pub fn render(&self, channel: &str, tracking: &str, followup: bool) -> (Option<String>, String) {
        let t = self.for_channel(channel);
        let body = if followup {
            t.followup.as_deref().unwrap_or(&t.ack)
        } else {
            &t.ack
        };
        let fill = |s: &str| s.replace("{tracking}", tracking).replace("{channel}", channel);
        (t.subject.as_deref().map(fill), fill(body))
    }
}
