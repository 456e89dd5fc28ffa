//! Which credentials a config uses, and whether they are fit to be exposed.
//!
//! A gateway reachable from other hosts — `http.addr` not a loopback address,
//! or `http.trusted_proxies` set (a proxy on the same host makes loopback
//! reachable from everywhere) — refuses to start with a shipped example
//! secret (`change-me-…`, the example social secrets of
//! `config/*.example.toml`), or with a short secret where Pintu itself checks
//! the credential. On loopback the same findings are warnings, so the README's
//! `cargo run --release -- up` with `config/pintu.toml` keeps working.
//! Missing and empty credentials of an enabled profile are refused everywhere
//! (by [`Config::validate`]), not here.

use pintu_channels::Secret;

use super::{Config, ConfigError};
use crate::social::config::resolve_secret;

/// Shortest secret accepted on an exposed gateway where Pintu verifies it
/// (webhook tokens, signing keys, the ops token, the dedupe key): 16
/// characters of a random token cannot be guessed through a webhook.
pub const MIN_SECRET_CHARS: usize = 16;

/// The values shipped in `config/*.example.toml` and `deploy/` examples that
/// do not contain `change-me` (`tests/secrets.rs` keeps this list complete).
pub const EXAMPLE_SECRETS: &[&str] = &[
    "x-app-bearer-token",
    "x-user-context-token",
    "x-consumer-secret",
    "meta-verify-token",
    "meta-app-secret",
    "sim-graph-token",
    "123456:sim-bot-token",
    "tg-secret_token-1",
    EXAMPLE_TRACKING_KEY,
];

/// The example `node.tracking_key` of `deploy/k8s/secret.example.yaml`
/// (it must be hex, so it cannot say `change-me`).
pub const EXAMPLE_TRACKING_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What a credential is for, which decides the rules it must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Pintu checks it (a webhook token or signing key, the ops token) or
    /// keys a hash with it: guessable means forgeable.
    Verified,
    /// Pintu presents it to a peer (an SMS gateway's send API, a platform
    /// token, the broker); the peer decides its strength. Only shipped
    /// examples are refused.
    Presented,
}

/// One credential in use.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The config key, as written in the file (`channels.kannel.token`).
    pub key: String,
    pub secret: Secret,
    pub role: Role,
}

/// Why a credential is not fit for an exposed gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weakness {
    Empty,
    Example,
    Short(usize),
}

impl std::fmt::Display for Weakness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Weakness::Empty => f.write_str("is empty"),
            Weakness::Example => f.write_str("is the shipped example value"),
            Weakness::Short(n) => write!(f, "is {n} characters long, fewer than {MIN_SECRET_CHARS}"),
        }
    }
}

/// A shipped example: anything with `change-me` in it, or an example social secret.
pub fn is_example(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    ["change-me", "changeme", "change_me"].iter().any(|m| v.contains(m)) || EXAMPLE_SECRETS.contains(&value)
}

/// The password of a URL's userinfo (`amqp://user:password@host`), if any.
fn url_password(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let p = u.password()?;
    // `Url::password` stays percent-encoded.
    crate::broker::config::percent_decode(p)
}

/// The rule a credential breaks, if any.
pub fn weakness(c: &Credential) -> Option<Weakness> {
    let v = c.secret.expose();
    if v.is_empty() {
        return Some(Weakness::Empty);
    }
    if is_example(v) {
        return Some(Weakness::Example);
    }
    let n = v.chars().count();
    if c.role == Role::Verified && n < MIN_SECRET_CHARS {
        return Some(Weakness::Short(n));
    }
    None
}

impl Config {
    /// Reachable from other hosts: bound to a non-loopback address, or behind
    /// a proxy (which forwards whatever reaches it to our loopback address).
    pub fn exposed(&self) -> bool {
        !self.http.addr.ip().is_loopback() || !self.http.trusted_proxies.is_empty()
    }

    /// Every credential the enabled features use, resolved (`*_file` read).
    pub fn credentials(&self) -> Result<Vec<Credential>, ConfigError> {
        let mut out = Vec::new();
        let mut add = |key: &str, s: &Option<Secret>, role: Role| {
            if let Some(s) = s {
                out.push(Credential {
                    key: key.to_string(),
                    secret: s.clone(),
                    role,
                });
            }
        };
        add("http.ops_token", &self.http.ops_token, Role::Verified);
        add("dedupe.secret", &self.dedupe.secret, Role::Verified);
        // Keys the permutation that hides how many codes came before.
        add("node.tracking_key", &self.node.tracking_key, Role::Verified);
        let urls = self.amqp.urls.iter().map(|u| ("amqp.urls", Some(u)));
        for (key, url) in [
            ("amqp.url", Some(&self.amqp.url)),
            ("amqp.management_url", self.amqp.management_url.as_ref()),
        ]
        .into_iter()
        .chain(urls)
        {
            // The URL is not the secret; its password is.
            if let Some(p) = url.and_then(|u| url_password(u.expose())) {
                add(key, &Some(Secret::new(p)), Role::Presented);
            }
        }
        let ch = &self.channels;
        if ch.kannel.enabled {
            add("channels.kannel.token", &ch.kannel.auth.token, Role::Verified);
            if ch.kannel.sendsms_url.is_some() {
                add("channels.kannel.password", &ch.kannel.password, Role::Presented);
            }
        }
        if ch.jasmin.enabled {
            add("channels.jasmin.token", &ch.jasmin.auth.token, Role::Verified);
            if ch.jasmin.send_url.is_some() {
                add("channels.jasmin.password", &ch.jasmin.password, Role::Presented);
            }
        }
        if ch.twilio.enabled {
            add("channels.twilio.auth_token", &ch.twilio.auth_token, Role::Verified);
        }
        if ch.generic.enabled {
            add("channels.generic.token", &ch.generic.auth.token, Role::Verified);
            add("channels.generic.hmac_secret", &ch.generic.hmac_secret, Role::Verified);
        }
        let base = &self.base_dir;
        let mut social: Vec<(&str, Option<Secret>, Role)> = Vec::new();
        let x = &ch.x;
        if x.webhook.enabled {
            let k = "channels.x.webhook.consumer_secret";
            let s = resolve_secret(k, &x.webhook.consumer_secret, &x.webhook.consumer_secret_file, base)?;
            social.push((k, s, Role::Verified));
        }
        if x.poll.enabled {
            let k = "channels.x.bearer_token";
            social.push((
                k,
                resolve_secret(k, &x.bearer_token, &x.bearer_token_file, base)?,
                Role::Presented,
            ));
        }
        if x.enabled {
            let k = "channels.x.user_access_token";
            let s = resolve_secret(k, &x.user_access_token, &x.user_access_token_file, base)?;
            social.push((k, s, Role::Presented));
        }
        let meta = &ch.meta;
        if meta.any_enabled() {
            let wh = &meta.webhook;
            let k = "channels.meta.webhook.verify_token";
            social.push((
                k,
                resolve_secret(k, &wh.verify_token, &wh.verify_token_file, base)?,
                Role::Verified,
            ));
            let k = "channels.meta.webhook.app_secret";
            social.push((
                k,
                resolve_secret(k, &wh.app_secret, &wh.app_secret_file, base)?,
                Role::Verified,
            ));
        }
        for (k, p) in [
            ("channels.meta.whatsapp.access_token", &meta.whatsapp),
            ("channels.meta.facebook.access_token", &meta.facebook),
            ("channels.meta.instagram.access_token", &meta.instagram),
        ] {
            if p.enabled {
                social.push((
                    k,
                    resolve_secret(k, &p.access_token, &p.access_token_file, base)?,
                    Role::Presented,
                ));
            }
        }
        let tg = &ch.telegram;
        if tg.enabled {
            let k = "channels.telegram.bot_token";
            social.push((
                k,
                resolve_secret(k, &tg.bot_token, &tg.bot_token_file, base)?,
                Role::Presented,
            ));
            let k = "channels.telegram.webhook.secret_token";
            let s = resolve_secret(k, &tg.webhook.secret_token, &tg.webhook.secret_token_file, base)?;
            social.push((k, s, Role::Verified));
        }
        for (k, s, role) in social {
            add(k, &s, role);
        }
        let email = &ch.email;
        if email.enabled {
            // Passwords from `password_env`/`password_file` are read when the
            // mailbox connects; an unreadable one is reported there.
            for (i, m) in email.mailboxes.iter().enumerate() {
                let p = m.credentials().password().ok();
                add(&format!("channels.email.mailboxes[{i}].password"), &p, Role::Presented);
            }
            if let Some(c) = email.smtp.as_ref().and_then(|s| s.credentials()) {
                add("channels.email.smtp.password", &c.password().ok(), Role::Presented);
            }
        }
        Ok(out)
    }

    /// The credentials that break a rule, with the rule.
    pub fn weak_secrets(&self) -> Result<Vec<(String, Weakness)>, ConfigError> {
        Ok(self
            .credentials()?
            .into_iter()
            .filter_map(|c| weakness(&c).map(|w| (c.key, w)))
            .collect())
    }

    /// Refuse weak secrets on an exposed gateway (the error names the first
    /// key); on loopback return one warning per weak secret.
    pub fn audit_secrets(&self) -> Result<Vec<String>, ConfigError> {
        let weak = self.weak_secrets()?;
        if self.exposed() {
            if let Some((key, w)) = weak.first() {
                let exposure = if self.http.trusted_proxies.is_empty() {
                    format!("http.addr {} is not a loopback address", self.http.addr)
                } else {
                    "http.trusted_proxies is set (the gateway is reachable through a proxy)".to_string()
                };
                return Err(ConfigError::invalid(
                    key,
                    format!("{w}; refused because {exposure} — set a random secret of {MIN_SECRET_CHARS}+ characters"),
                ));
            }
            return Ok(Vec::new());
        }
        Ok(weak
            .into_iter()
            .map(|(key, w)| {
                format!(
                    "`{key}` {w}: acceptable only because http.addr {} is a loopback address; \
                     this config is refused on any other address",
                    self.http.addr
                )
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(v: &str, role: Role) -> Credential {
        Credential {
            key: "k".into(),
            secret: Secret::new(v),
            role,
        }
    }

    #[test]
    fn rules() {
        assert_eq!(weakness(&cred("", Role::Presented)), Some(Weakness::Empty));
        assert_eq!(
            weakness(&cred("change-me-kannel", Role::Verified)),
            Some(Weakness::Example)
        );
        assert_eq!(
            weakness(&cred("CHANGE-ME-KANNEL", Role::Presented)),
            Some(Weakness::Example)
        );
        assert_eq!(
            weakness(&cred("meta-app-secret", Role::Verified)),
            Some(Weakness::Example)
        );
        assert_eq!(weakness(&cred("x", Role::Verified)), Some(Weakness::Short(1)));
        assert_eq!(weakness(&cred("x", Role::Presented)), None);
        assert_eq!(weakness(&cred("q8Zr1vN0pLk4Ys7Tb2", Role::Verified)), None);
        assert_eq!(
            url_password("amqp://pintu:change%2Dme@rabbitmq:5672/%2f").as_deref(),
            Some("change-me")
        );
        assert_eq!(url_password("amqp://rabbitmq:5672/%2f"), None);
    }
}
