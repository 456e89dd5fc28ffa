//! Telegram Bot API webhook (`setWebhook` with a `secret_token`).
//!
//! Telegram sends every request with `X-Telegram-Bot-Api-Secret-Token`; it is
//! compared in constant time. The body is one `Update`; `message` and
//! `edited_message` carry complaints (text, caption, photo/document/voice/video
//! file ids as attachments). The external id is `chat_id:message_id` — the
//! message's identity, which a redelivered update keeps — and an edit gets
//! `chat_id:message_id:edit:<edit_date>`, so each version is ingested once.

use std::path::PathBuf;

use http::Method;
use serde::Deserialize;

use super::{clean_text, display_name, geo_attachment, join_text, json_body, media, unix_secs};
use crate::adapter::{AdapterError, AuthError, Parsed, WebRequest, WebhookAdapter};
use crate::auth::check_token;
use crate::inbound::{Attachment, Channel, Inbound, Sender, SenderKind};
use crate::secret::Secret;

pub const PROVIDER: &str = "telegram";

/// `[channels.telegram.webhook]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramWebhookConfig {
    /// The `secret_token` given to `setWebhook` (1–256 of `A-Z a-z 0-9 _ -`).
    #[serde(default)]
    pub secret_token: Option<Secret>,
    #[serde(default)]
    pub secret_token_file: Option<PathBuf>,
}

/// Telegram's rule for `secret_token`.
pub fn secret_token_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub struct TelegramWebhook {
    secret_token: Secret,
}

impl TelegramWebhook {
    pub fn new(secret_token: Secret) -> TelegramWebhook {
        TelegramWebhook { secret_token }
    }
}

#[derive(Deserialize)]
struct Update {
    update_id: i64,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    edited_message: Option<Message>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Message {
    message_id: i64,
    #[serde(default)]
    from: Option<User>,
    chat: Chat,
    #[serde(default)]
    date: Option<i64>,
    #[serde(default)]
    edit_date: Option<i64>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    entities: Vec<Entity>,
    #[serde(default)]
    photo: Vec<PhotoSize>,
    #[serde(default)]
    document: Option<File>,
    #[serde(default)]
    voice: Option<File>,
    #[serde(default)]
    audio: Option<File>,
    #[serde(default)]
    video: Option<File>,
    #[serde(default)]
    video_note: Option<File>,
    #[serde(default)]
    sticker: Option<serde_json::Value>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    venue: Option<Venue>,
}

#[derive(Deserialize)]
struct User {
    id: i64,
    #[serde(default)]
    is_bot: bool,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct Chat {
    id: i64,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: String,
    offset: usize,
    length: usize,
}

#[derive(Deserialize)]
struct PhotoSize {
    file_id: String,
    #[serde(default)]
    width: u32,
    #[serde(default)]
    height: u32,
    #[serde(default)]
    file_size: Option<u64>,
}

#[derive(Deserialize)]
struct File {
    file_id: String,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    file_size: Option<u64>,
}

#[derive(Deserialize)]
struct Location {
    latitude: f64,
    longitude: f64,
}

#[derive(Deserialize)]
struct Venue {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

fn file_id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Text without a leading bot command (`/start`, `/lapor@LaporBot …`).
/// Entity offsets count UTF-16 units; a command at offset 0 is ASCII, so its
/// length in UTF-16 units equals its length in bytes.
/// Without entities (older clients, hand-made updates) a leading `/word` or
/// `/word@bot` token counts as a command too.
fn strip_command(text: &str, entities: &[Entity]) -> (Option<String>, String) {
    let len = match entities.iter().find(|e| e.kind == "bot_command" && e.offset == 0) {
        Some(e) => Some(e.length),
        None if entities.is_empty() && text.starts_with('/') => {
            let end = text.find(char::is_whitespace).unwrap_or(text.len());
            let token = &text[1..end];
            let (name, bot) = token.split_once('@').unwrap_or((token, ""));
            let word = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            (!name.is_empty() && name.len() <= 32 && word(name) && word(bot)).then_some(end)
        }
        None => None,
    };
    match len {
        Some(n) if n > 1 && n <= text.len() && text.is_char_boundary(n) => {
            let (cmd, rest) = text.split_at(n);
            (Some(cmd.to_string()), rest.trim().to_string())
        }
        _ => (None, text.to_string()),
    }
}

fn attachments(msg: &Message) -> Result<Vec<Attachment>, AdapterError> {
    let mut out = Vec::new();
    // Telegram sends one photo in several sizes; the largest is the evidence.
    if let Some(p) = msg
        .photo
        .iter()
        .max_by_key(|p| u64::from(p.width) * u64::from(p.height))
    {
        if !file_id_ok(&p.file_id) {
            return Err(AdapterError::invalid("photo.file_id", "not a file id"));
        }
        out.push(media("photo.jpg", Some("image/jpeg"), p.file_size, &p.file_id));
    }
    let files = [
        ("document", &msg.document, None),
        ("voice", &msg.voice, Some("audio/ogg")),
        ("audio", &msg.audio, None),
        ("video", &msg.video, Some("video/mp4")),
        ("video_note", &msg.video_note, Some("video/mp4")),
    ];
    for (kind, file, default_type) in files {
        let Some(f) = file else { continue };
        if !file_id_ok(&f.file_id) {
            return Err(AdapterError::invalid(
                "file_id",
                format!("{kind} without a usable file id"),
            ));
        }
        let name: String = f
            .file_name
            .as_deref()
            .unwrap_or(kind)
            .chars()
            .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
            .take(200)
            .collect();
        out.push(media(
            if name.is_empty() { kind } else { &name },
            f.mime_type.as_deref().or(default_type),
            f.file_size,
            &f.file_id,
        ));
    }
    if let Some(l) = &msg.location {
        out.extend(geo_attachment(l.latitude, l.longitude));
    }
    Ok(out)
}

impl WebhookAdapter for TelegramWebhook {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn channel(&self) -> Channel {
        Channel::Telegram
    }

    fn authenticate(&self, req: &WebRequest<'_>) -> Result<(), AuthError> {
        check_token(
            req.header("x-telegram-bot-api-secret-token"),
            &self.secret_token,
            "X-Telegram-Bot-Api-Secret-Token",
        )
    }

    fn parse(&self, req: &WebRequest<'_>) -> Result<Parsed, AdapterError> {
        if *req.method != Method::POST {
            return Err(AdapterError::Method(req.method.to_string()));
        }
        let update: Update = json_body(req.body)?;
        let (msg, edited) = match (update.message, update.edited_message) {
            (Some(m), _) => (m, false),
            (None, Some(m)) => (m, true),
            (None, None) => {
                let kind = update
                    .other
                    .keys()
                    .next()
                    .map(|k| k.chars().take(32).collect::<String>())
                    .unwrap_or_else(|| "empty".into());
                return Ok(Parsed::Ignored(format!("update {} is `{kind}`", update.update_id)));
            }
        };
        let Some(from) = &msg.from else {
            return Ok(Parsed::Ignored(
                "message without a user (channel or anonymous admin)".into(),
            ));
        };
        if from.is_bot {
            return Ok(Parsed::Ignored("message from a bot".into()));
        }
        if msg.chat.kind == "channel" {
            return Ok(Parsed::Ignored("channel post".into()));
        }
        let attachments = attachments(&msg)?;
        let raw = msg.text.as_deref().or(msg.caption.as_deref()).unwrap_or("");
        let (command, rest) = strip_command(raw, &msg.entities);
        let venue = msg
            .venue
            .as_ref()
            .map(|v| join_text(&[v.title.as_deref(), v.address.as_deref()]));
        let text = clean_text("text", &join_text(&[Some(&rest), venue.as_deref()]))?;
        if text.is_empty() && attachments.is_empty() {
            let reason = match (command, msg.sticker.is_some()) {
                (Some(c), _) => format!("bot command {}", c.chars().take(40).collect::<String>()),
                (None, true) => "sticker".into(),
                (None, false) => "empty message".into(),
            };
            return Ok(Parsed::Ignored(reason));
        }
        let sender = Sender {
            kind: SenderKind::Handle,
            address: from.id.to_string(),
            display_name: display_name(
                Some(&join_text(&[from.first_name.as_deref(), from.last_name.as_deref()]).replace('\n', " ")),
                from.username.as_deref(),
            ),
        };
        let mut m = Inbound::new(Channel::Telegram, PROVIDER, sender, text);
        let id = format!("{}:{}", msg.chat.id, msg.message_id);
        m.external_id = Some(match (edited, msg.edit_date) {
            (true, Some(d)) => format!("{id}:edit:{d}"),
            (true, None) => format!("{id}:edit:u{}", update.update_id),
            (false, _) => id,
        });
        m.attachments = attachments;
        m.sent_at = msg.edit_date.filter(|_| edited).or(msg.date).and_then(unix_secs);
        m.reply_context.insert("chat_id".into(), msg.chat.id.to_string());
        m.reply_context.insert("message_id".into(), msg.message_id.to_string());
        m.reply_context.insert("update_id".into(), update.update_id.to_string());
        if edited {
            m.reply_context.insert("edited".into(), "true".into());
        }
        Ok(Parsed::Messages(vec![m]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let e = vec![Entity {
            kind: "bot_command".into(),
            offset: 0,
            length: 6,
        }];
        assert_eq!(strip_command("/start", &e), (Some("/start".into()), String::new()));
        assert_eq!(
            strip_command(
                "/lapor jalan rusak",
                &[Entity {
                    kind: "bot_command".into(),
                    offset: 0,
                    length: 6
                }]
            ),
            (Some("/lapor".into()), "jalan rusak".into())
        );
        assert_eq!(strip_command("halo", &[]), (None, "halo".into()));
        assert_eq!(
            strip_command("/start@LaporBot", &[]),
            (Some("/start@LaporBot".into()), String::new())
        );
        assert_eq!(strip_command("/ jalan", &[]), (None, "/ jalan".into()));
        assert_eq!(strip_command("/jalan/rusak", &[]), (None, "/jalan/rusak".into()));
        // A lying length must not panic.
        assert_eq!(
            strip_command(
                "/é",
                &[Entity {
                    kind: "bot_command".into(),
                    offset: 0,
                    length: 2
                }]
            )
            .0,
            None
        );
    }

    #[test]
    fn secret_tokens() {
        assert!(secret_token_ok("abc_DEF-123"));
        assert!(!secret_token_ok("has space"));
        assert!(!secret_token_ok(""));
    }
}
