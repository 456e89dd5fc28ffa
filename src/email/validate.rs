//! Validation of `[channels.email]`: every key an operator can get wrong,
//! named in the error (see [`crate::section::ConfigError`]).

use std::net::IpAddr;

use super::config::{address_of, EmailConfig, TlsMode};
use crate::section::ConfigError;

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn valid_address(a: &str) -> bool {
    pintu_channels::email::parse::clean_address(a).is_some()
}

fn valid_keyword(k: &str) -> bool {
    !k.is_empty() && k.len() <= 64 && k.chars().all(|c| c.is_ascii_graphic() && !"(){%*\"\\]".contains(c))
}

impl EmailConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::BTreeSet::new();
        for (i, m) in self.mailboxes.iter().enumerate() {
            let key = |f: &str| format!("channels.email.mailboxes[{i}].{f}");
            let name_ok = !m.name.is_empty()
                && m.name.len() <= 64
                && m.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !name_ok {
                return Err(ConfigError::invalid(
                    &key("name"),
                    "ASCII letters, digits, '-', '_', '.'",
                ));
            }
            if !names.insert(m.name.clone()) {
                return Err(ConfigError::invalid(&key("name"), "mailbox names must be unique"));
            }
            if !valid_address(&m.address) {
                return Err(ConfigError::invalid(&key("address"), "not an e-mail address"));
            }
            if m.host.is_empty() || m.port == 0 {
                return Err(ConfigError::invalid(&key("host"), "host and port are required"));
            }
            if m.tls == TlsMode::None && !m.allow_insecure && !is_loopback(&m.host) {
                return Err(ConfigError::invalid(
                    &key("tls"),
                    "`none` only to a loopback host (or set allow_insecure)",
                ));
            }
            m.credentials().validate(&key("password"))?;
            if m.folders.is_empty() || m.folders.iter().any(|f| f.is_empty()) {
                return Err(ConfigError::invalid(&key("folders"), "at least one non-empty folder"));
            }
            if m.folders
                .iter()
                .any(|f| *f == m.processed_folder || *f == m.quarantine_folder)
            {
                return Err(ConfigError::invalid(
                    &key("folders"),
                    "must not include processed_folder or quarantine_folder",
                ));
            }
            if m.processed_folder.is_empty() || m.quarantine_folder.is_empty() {
                return Err(ConfigError::invalid(&key("processed_folder"), "must not be empty"));
            }
            if !valid_keyword(&m.processed_keyword) {
                return Err(ConfigError::invalid(
                    &key("processed_keyword"),
                    "not a valid IMAP keyword",
                ));
            }
            if !(1..=1000).contains(&m.batch_size) {
                return Err(ConfigError::invalid(&key("batch_size"), "between 1 and 1000"));
            }
            if !(64 * 1024..=256 << 20).contains(&m.batch_bytes) {
                return Err(ConfigError::invalid(&key("batch_bytes"), "between 65536 and 268435456"));
            }
            if m.max_message_bytes < 1024 {
                return Err(ConfigError::invalid(&key("max_message_bytes"), "at least 1024"));
            }
            if m.poll_interval_secs == 0 || m.command_timeout_secs == 0 || m.connect_timeout_secs == 0 {
                return Err(ConfigError::invalid(
                    &key("poll_interval_secs"),
                    "timeouts must be at least 1",
                ));
            }
            if !(10..=1740).contains(&m.idle_timeout_secs) {
                return Err(ConfigError::invalid(&key("idle_timeout_secs"), "between 10 and 1740"));
            }
        }
        if let Some(s) = &self.smtp {
            if s.host.is_empty() || s.port == 0 {
                return Err(ConfigError::invalid(
                    "channels.email.smtp.host",
                    "host and port are required",
                ));
            }
            if s.tls == TlsMode::None && !s.allow_insecure && !is_loopback(&s.host) {
                return Err(ConfigError::invalid(
                    "channels.email.smtp.tls",
                    "`none` only to a loopback host (or set allow_insecure)",
                ));
            }
            if let Some(c) = s.credentials() {
                c.validate("channels.email.smtp.password")?;
            }
            if !valid_address(address_of(&s.from)) {
                return Err(ConfigError::invalid(
                    "channels.email.smtp.from",
                    "not an e-mail address",
                ));
            }
            if let Some(r) = &s.reply_to {
                if !valid_address(address_of(r)) {
                    return Err(ConfigError::invalid(
                        "channels.email.smtp.reply_to",
                        "not an e-mail address",
                    ));
                }
            }
        }
        if self.enabled && self.mailboxes.is_empty() {
            return Err(ConfigError::invalid(
                "channels.email.mailboxes",
                "at least one mailbox when the channel is enabled",
            ));
        }
        if self.seen_retention_days == 0 {
            return Err(ConfigError::invalid("channels.email.seen_retention_days", "at least 1"));
        }
        if !(4096..=64 << 20).contains(&self.limits.max_text_bytes) {
            return Err(ConfigError::invalid(
                "channels.email.limits.max_text_bytes",
                "between 4096 and 67108864",
            ));
        }
        if self.limits.parse_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "channels.email.limits.parse_timeout_ms",
                "at least 1",
            ));
        }
        if self.storage.sweep_interval_secs == 0 {
            return Err(ConfigError::invalid(
                "channels.email.storage.sweep_interval_secs",
                "at least 1",
            ));
        }
        Ok(())
    }
}
