//! X (Twitter): the API v2 mentions timeline and the Account Activity webhook.
//!
//! Polling: [`parse_mentions_page`] turns one `GET /2/users/:id/mentions` page
//! into messages; the runtime's poller owns paging, the `since_id` cursor and
//! rate limits. Webhook: [`XWebhook`] answers the CRC challenge
//! (`GET ?crc_token=…` → `{"response_token": "sha256=<base64 HMAC>"}`) and
//! verifies `x-twitter-webhooks-signature` on `tweet_create_events`.
//!
//! Both paths use provider `x` and the tweet id as external id, so a tweet seen
//! by the poller and by the webhook is one complaint.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use base64::Engine;
use chrono::{DateTime, Utc};
use http::Method;
use serde::Deserialize;

use super::{clean_text, display_name, json_body, query_param};
use crate::adapter::{AdapterError, AuthError, Parsed, WebRequest, WebResponse, WebhookAdapter};
use crate::auth::{hmac_sha256, secret_eq};
use crate::inbound::{Channel, Inbound, Sender, SenderKind};
use crate::secret::Secret;

pub const PROVIDER: &str = "x";

/// `[channels.x.webhook]`: the Account Activity API webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XWebhookConfig {
    #[serde(default)]
    pub enabled: bool,
    /// The app's API key secret (consumer secret): signs CRC answers and events.
    #[serde(default)]
    pub consumer_secret: Option<Secret>,
    /// File holding the consumer secret (instead of `consumer_secret`).
    #[serde(default)]
    pub consumer_secret_file: Option<PathBuf>,
    /// Oldest tweet (by its signed `created_at`) accepted through the webhook:
    /// anything older is a replayed capture, not a delivery. The mentions
    /// poller, if on, still reads older mentions.
    #[serde(default = "default_max_age")]
    pub max_age_secs: u64,
}

fn default_max_age() -> u64 {
    900
}

impl Default for XWebhookConfig {
    fn default() -> Self {
        XWebhookConfig {
            enabled: false,
            consumer_secret: None,
            consumer_secret_file: None,
            max_age_secs: default_max_age(),
        }
    }
}

/// The service's own account (@lapor1708): its tweets are never complaints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XAccount {
    /// Numeric user id.
    pub user_id: String,
    /// Screen name without `@`.
    pub username: String,
}

/// A tweet that did not become a complaint, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

/// One page of the mentions timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct MentionsPage {
    pub messages: Vec<Inbound>,
    pub skipped: Vec<Skipped>,
    /// `meta.next_token`: more (older) results of the same query.
    pub next_token: Option<String>,
    /// Newest tweet id on the page (`meta.newest_id`, or the largest id seen).
    pub newest_id: Option<String>,
    pub result_count: u64,
}

#[derive(Deserialize)]
struct PageBody {
    #[serde(default)]
    data: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    meta: Option<PageMeta>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

#[derive(Deserialize, Default)]
struct Includes {
    #[serde(default)]
    users: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize, Default)]
struct PageMeta {
    #[serde(default)]
    result_count: Option<u64>,
    #[serde(default)]
    newest_id: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct V2Tweet {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    author_id: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    referenced_tweets: Vec<Reference>,
    /// Posts longer than 280 characters: `text` is cut, this is whole.
    #[serde(default)]
    note_tweet: Option<NoteTweet>,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct NoteTweet {
    text: String,
}

/// Tweet and user ids are decimal snowflakes.
pub fn is_tweet_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether id `a` is newer than `b` (snowflakes grow with time).
pub fn id_newer(a: &str, b: &str) -> bool {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => (a.len(), a) > (b.len(), b),
    }
}

/// X escapes `&`, `<` and `>` in tweet text as HTML entities.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Drop our own @handle from the run of mentions a reply starts with; other
/// mentions (an agency the citizen tags) stay, they help routing.
pub fn strip_own_mention(text: &str, username: &str) -> String {
    let own = format!("@{username}");
    let mut kept: Vec<&str> = Vec::new();
    let mut rest = text.trim_start();
    while rest.starts_with('@') {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        let handle = token.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
        if !handle.eq_ignore_ascii_case(&own) {
            kept.push(token);
        }
        rest = after.trim_start();
    }
    kept.push(rest);
    kept.retain(|s| !s.is_empty());
    kept.join(" ")
}

/// The facts of a tweet both API versions give us.
struct TweetFacts<'a> {
    id: &'a str,
    text: &'a str,
    author_id: &'a str,
    name: Option<&'a str>,
    username: Option<&'a str>,
    created_at: Option<DateTime<Utc>>,
    conversation_id: Option<&'a str>,
    retweet: bool,
}

/// A tweet as a complaint, or the reason it is not one.
fn tweet_inbound(account: &XAccount, t: TweetFacts<'_>) -> Result<Inbound, String> {
    if !is_tweet_id(t.id) {
        return Err("invalid tweet id".into());
    }
    if !is_tweet_id(t.author_id) {
        return Err("invalid or missing author id".into());
    }
    if t.author_id == account.user_id {
        return Err("our own tweet".into());
    }
    let raw = unescape(t.text);
    if t.retweet {
        let own = format!("RT @{}:", account.username);
        // `get`, not indexing: the prefix may end inside a multi-byte character.
        return Err(if raw.get(..own.len()).is_some_and(|p| p.eq_ignore_ascii_case(&own)) {
            "retweet of our own tweet".into()
        } else {
            "retweet".into()
        });
    }
    let text = clean_text("text", &strip_own_mention(&raw, &account.username)).map_err(|e| e.to_string())?;
    if text.is_empty() {
        return Err("no text besides the mention".into());
    }
    let sender = Sender {
        kind: SenderKind::Handle,
        address: t.author_id.to_string(),
        display_name: display_name(t.name, t.username),
    };
    let mut inbound = Inbound::new(Channel::X, PROVIDER, sender, text);
    inbound.external_id = Some(t.id.to_string());
    inbound.recipient = Some(format!("@{}", account.username));
    inbound.sent_at = t.created_at;
    inbound.reply_context.insert("tweet_id".into(), t.id.to_string());
    if let Some(c) = t.conversation_id.filter(|c| is_tweet_id(c)) {
        inbound.reply_context.insert("conversation_id".into(), c.to_string());
    }
    if let Some(u) = t.username.filter(|u| !u.is_empty() && u.len() <= 50) {
        inbound.reply_context.insert("username".into(), u.to_string());
    }
    Ok(inbound)
}

/// Parse one page of `GET /2/users/:id/mentions` (requested with
/// `tweet.fields=author_id,created_at,conversation_id,referenced_tweets,in_reply_to_user_id,note_tweet`,
/// `expansions=author_id`, `user.fields=username,name`).
///
/// A page that is not the documented shape is an error (the poller retries it
/// and keeps its cursor); a single unusable tweet is skipped with its reason.
pub fn parse_mentions_page(json: &[u8], account: &XAccount) -> Result<MentionsPage, AdapterError> {
    let body: PageBody = json_body(json)?;
    if body.data.is_none() && body.meta.is_none() {
        let why = body
            .detail
            .or(body.title)
            .or_else(|| body.errors.first().map(|e| e.to_string()))
            .unwrap_or_else(|| "neither `data` nor `meta`".into());
        return Err(AdapterError::Malformed(format!("not a mentions page: {why}")));
    }
    let users: HashMap<String, User> = body
        .includes
        .users
        .into_iter()
        .filter_map(|u| serde_json::from_value::<User>(u).ok())
        .map(|u| (u.id.clone(), u))
        .collect();
    let meta = body.meta.unwrap_or_default();
    let next_token = match meta.next_token {
        Some(t) if t.is_empty() => None,
        Some(t) if t.len() <= 512 && t.bytes().all(|b| b.is_ascii_graphic()) => Some(t),
        Some(_) => return Err(AdapterError::invalid("meta.next_token", "not an opaque ASCII token")),
        None => None,
    };
    let mut newest_id = match meta.newest_id {
        Some(id) if is_tweet_id(&id) => Some(id),
        Some(_) => return Err(AdapterError::invalid("meta.newest_id", "not a tweet id")),
        None => None,
    };
    let mut page = MentionsPage {
        messages: Vec::new(),
        skipped: Vec::new(),
        next_token,
        newest_id: None,
        result_count: 0,
    };
    let data = body.data.unwrap_or_default();
    page.result_count = meta.result_count.unwrap_or(data.len() as u64);
    for value in data {
        let id_hint = value
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .chars()
            .take(24)
            .collect::<String>();
        let tweet: V2Tweet = match serde_json::from_value(value) {
            Ok(t) => t,
            Err(e) => {
                page.skipped.push(Skipped {
                    id: id_hint,
                    reason: format!("malformed tweet: {e}"),
                });
                continue;
            }
        };
        if is_tweet_id(&tweet.id) && newest_id.as_deref().is_none_or(|n| id_newer(&tweet.id, n)) {
            newest_id = Some(tweet.id.clone());
        }
        let author = tweet.author_id.as_deref().unwrap_or("");
        let user = users.get(author);
        let facts = TweetFacts {
            id: &tweet.id,
            text: tweet.note_tweet.as_ref().map_or(&tweet.text, |n| &n.text),
            author_id: author,
            name: user.and_then(|u| u.name.as_deref()),
            username: user.and_then(|u| u.username.as_deref()),
            created_at: tweet
                .created_at
                .as_deref()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&Utc)),
            conversation_id: tweet.conversation_id.as_deref(),
            retweet: tweet.referenced_tweets.iter().any(|r| r.kind == "retweeted"),
        };
        match tweet_inbound(account, facts) {
            Ok(mut m) => {
                if let Some(quoted) = tweet
                    .referenced_tweets
                    .iter()
                    .find(|r| r.kind == "replied_to")
                    .and_then(|r| r.id.as_deref())
                    .filter(|id| is_tweet_id(id))
                {
                    m.reply_context
                        .insert("in_reply_to_tweet_id".into(), quoted.to_string());
                }
                page.messages.push(m)
            }
            Err(reason) => page.skipped.push(Skipped { id: tweet.id, reason }),
        }
    }
    page.newest_id = newest_id;
    Ok(page)
}

/// `sha256=<base64 HMAC-SHA256(consumer secret, data)>`: the CRC answer and the
/// event signature use the same construction.
pub fn signature(consumer_secret: &str, data: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(consumer_secret.as_bytes(), data))
    )
}

/// CRC tokens are short random strings. Refusing anything else matters: the
/// CRC answer is the same HMAC as an event signature, so answering a token that
/// looks like a JSON body would sign a forged event for whoever asked.
fn crc_token_ok(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 256
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'+' | b'/' | b'.'))
}

/// The Account Activity API webhook.
pub struct XWebhook {
    account: XAccount,
    consumer_secret: Secret,
    max_age: std::time::Duration,
}

impl XWebhook {
    pub fn new(account: XAccount, consumer_secret: Secret) -> XWebhook {
        XWebhook {
            account,
            consumer_secret,
            max_age: std::time::Duration::from_secs(default_max_age()),
        }
    }

    /// Oldest signed tweet time accepted (see `XWebhookConfig::max_age_secs`).
    pub fn with_max_age(mut self, max_age: std::time::Duration) -> XWebhook {
        self.max_age = max_age;
        self
    }
}

#[derive(Deserialize)]
struct ActivityBody {
    #[serde(default)]
    for_user_id: Option<String>,
    #[serde(default)]
    tweet_create_events: Option<Vec<serde_json::Value>>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

/// A v1.1 tweet object as Account Activity delivers it.
#[derive(Deserialize)]
struct V1Tweet {
    id_str: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    full_text: Option<String>,
    #[serde(default)]
    extended_tweet: Option<Extended>,
    user: V1User,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    retweeted_status: Option<serde_json::Value>,
    #[serde(default)]
    in_reply_to_status_id_str: Option<String>,
}

#[derive(Deserialize)]
struct Extended {
    full_text: String,
}

#[derive(Deserialize)]
struct V1User {
    id_str: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    screen_name: Option<String>,
}

impl WebhookAdapter for XWebhook {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::X
    }

    fn signed_time_max_age(&self) -> Option<std::time::Duration> {
        Some(self.max_age)
    }

    fn authenticate(&self, req: &WebRequest<'_>) -> Result<(), AuthError> {
        // The CRC GET carries no signature; the answer itself proves we hold
        // the secret, and `crc_token_ok` keeps it from being a signing oracle.
        if *req.method != Method::POST {
            return Ok(());
        }
        let presented = req
            .header("x-twitter-webhooks-signature")
            .ok_or(AuthError::Missing("x-twitter-webhooks-signature"))?;
        let expected = signature(self.consumer_secret.expose(), req.body);
        if secret_eq(presented.trim().as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            Err(AuthError::Invalid("x-twitter-webhooks-signature"))
        }
    }

    fn parse(&self, req: &WebRequest<'_>) -> Result<Parsed, AdapterError> {
        if *req.method == Method::GET {
            let token = query_param(req, "crc_token").ok_or(AdapterError::MissingField("crc_token"))?;
            if !crc_token_ok(&token) {
                return Err(AdapterError::invalid("crc_token", "not a CRC token"));
            }
            let answer = signature(self.consumer_secret.expose(), token.as_bytes());
            return Ok(Parsed::Respond(WebResponse::json(
                200,
                &serde_json::json!({ "response_token": answer }),
            )));
        }
        if *req.method != Method::POST {
            return Err(AdapterError::Method(req.method.to_string()));
        }
        let body: ActivityBody = json_body(req.body)?;
        if let Some(user) = &body.for_user_id {
            if *user != self.account.user_id {
                return Ok(Parsed::Ignored(format!("event for another account ({user})")));
            }
        }
        let mut out = super::Collected::default();
        for key in body.other.keys().filter(|k| k.ends_with("_events")) {
            out.ignore(format!("`{key}` not handled"));
        }
        for value in body.tweet_create_events.unwrap_or_default() {
            let tweet: V1Tweet = match serde_json::from_value(value) {
                Ok(t) => t,
                Err(e) => {
                    out.ignore(format!("malformed tweet: {e}"));
                    continue;
                }
            };
            let text = tweet
                .extended_tweet
                .as_ref()
                .map(|e| e.full_text.as_str())
                .or(tweet.full_text.as_deref())
                .or(tweet.text.as_deref())
                .unwrap_or("");
            let facts = TweetFacts {
                id: &tweet.id_str,
                text,
                author_id: &tweet.user.id_str,
                name: tweet.user.name.as_deref(),
                username: tweet.user.screen_name.as_deref(),
                created_at: tweet
                    .created_at
                    .as_deref()
                    .and_then(|s| DateTime::parse_from_str(s, "%a %b %d %H:%M:%S %z %Y").ok())
                    .map(|d| d.with_timezone(&Utc)),
                conversation_id: None,
                retweet: tweet.retweeted_status.is_some(),
            };
            match tweet_inbound(&self.account, facts) {
                Ok(mut m) => {
                    if let Some(r) = tweet.in_reply_to_status_id_str.filter(|r| is_tweet_id(r)) {
                        m.reply_context.insert("in_reply_to_tweet_id".into(), r);
                    }
                    out.messages.push(m);
                }
                Err(reason) => out.ignore(format!(
                    "tweet {}: {reason}",
                    tweet.id_str.chars().take(24).collect::<String>()
                )),
            }
        }
        Ok(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_stripping() {
        assert_eq!(strip_own_mention("@lapor1708 jalan rusak", "lapor1708"), "jalan rusak");
        assert_eq!(
            strip_own_mention("@budi @LAPOR1708, @pemkot jalan", "lapor1708"),
            "@budi @pemkot jalan"
        );
        assert_eq!(strip_own_mention("tolong @lapor1708", "lapor1708"), "tolong @lapor1708");
        assert_eq!(strip_own_mention("@lapor1708", "lapor1708"), "");
    }

    #[test]
    fn ids() {
        assert!(id_newer("1375152598945312768", "999"));
        assert!(!id_newer("5", "5"));
        assert!(!is_tweet_id("12a"));
        assert!(!is_tweet_id(""));
    }

    #[test]
    fn crc_tokens() {
        assert!(crc_token_ok("ZDE3OGY1ZjctN2JmYS00ZTQ1"));
        assert!(!crc_token_ok("{\"tweet_create_events\":[]}"));
        assert!(!crc_token_ok(""));
    }

    #[test]
    fn retweet_prefix_with_multibyte_text() {
        let account = XAccount {
            user_id: "1".into(),
            username: "lapor1708".into(),
        };
        let facts = |text| TweetFacts {
            id: "5",
            text,
            author_id: "2",
            name: None,
            username: None,
            created_at: None,
            conversation_id: None,
            retweet: true,
        };
        // 14 bytes would end inside an "é": must not panic.
        assert_eq!(tweet_inbound(&account, facts("RT @xéééééééé")).unwrap_err(), "retweet");
        assert_eq!(
            tweet_inbound(&account, facts("RT @LAPOR1708: terima kasih")).unwrap_err(),
            "retweet of our own tweet"
        );
    }

    #[test]
    fn entities() {
        assert_eq!(unescape("a &amp;lt; b &lt; c &amp; d"), "a &lt; b < c & d");
    }
}
