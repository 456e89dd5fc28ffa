//! Messenger and Instagram webhook payloads (`object = page | instagram`):
//! the same `messaging` event shape.

use serde::Deserialize;
use serde_json::Value;

use super::{id_ok, url_ok, INSTAGRAM, MESSENGER};
use crate::adapter::AdapterError;
use crate::inbound::{Channel, Inbound, Sender, SenderKind};
use crate::social::{batch_item, clean_text, geo_attachment, media, unix_millis, Collected};

#[derive(Deserialize)]
struct MsgEntry {
    #[serde(default)]
    messaging: Vec<Value>,
    #[serde(default)]
    standby: Vec<Value>,
    #[serde(default)]
    changes: Vec<Value>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct MsgEvent {
    sender: Id,
    #[serde(default)]
    recipient: Option<Id>,
    #[serde(default)]
    timestamp: Option<i64>,
    message: FbMessage,
}

#[derive(Deserialize)]
struct FbMessage {
    #[serde(default)]
    mid: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    attachments: Vec<FbAttachment>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default)]
    is_deleted: bool,
    #[serde(default)]
    is_unsupported: bool,
}

#[derive(Deserialize)]
struct FbAttachment {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    payload: Option<FbPayload>,
}

#[derive(Deserialize)]
struct FbPayload {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    sticker_id: Option<Value>,
    #[serde(default)]
    coordinates: Option<FbCoordinates>,
}

#[derive(Deserialize)]
struct FbCoordinates {
    lat: f64,
    long: f64,
}

/// Messenger names kinds, not MIME types; keep the family we know.
fn fb_content_type(kind: &str) -> &'static str {
    match kind {
        "image" => "image/*",
        "video" => "video/*",
        "audio" => "audio/*",
        _ => "application/octet-stream",
    }
}

/// The messages of a `page` (Messenger) or `instagram` batch.
///
/// One event that cannot be read is skipped with its reason, the others kept
/// (see `whatsapp::collect`).
pub(super) fn collect(channel: Channel, entries: Vec<Value>, out: &mut Collected) {
    for entry in entries {
        let Some(entry) = batch_item::<MsgEntry>(out, "entry", entry) else {
            continue;
        };
        if !entry.standby.is_empty() {
            out.ignore("standby event (another app owns the thread)");
        }
        if !entry.changes.is_empty() {
            out.ignore("feed/comment change not handled");
        }
        for raw in entry.messaging {
            if raw.get("message").is_none() {
                let kind = raw
                    .as_object()
                    .and_then(|o| {
                        o.keys()
                            .find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp"))
                            .cloned()
                    })
                    .unwrap_or_else(|| "unknown".into());
                out.ignore(format!("`{}` event", kind.chars().take(32).collect::<String>()));
                continue;
            }
            let Some(event) = batch_item::<MsgEvent>(out, "messaging event", raw) else {
                continue;
            };
            match messaging_inbound(channel, event) {
                Ok(Ok(m)) => out.messages.push(m),
                Ok(Err(reason)) => out.ignore(reason),
                Err(e) => out.skip(e),
            }
        }
    }
}

fn messaging_inbound(channel: Channel, ev: MsgEvent) -> Result<Result<Inbound, String>, AdapterError> {
    let msg = ev.message;
    if msg.is_echo {
        return Ok(Err("echo of our own message".into()));
    }
    if msg.is_deleted {
        return Ok(Err("message deleted by the sender".into()));
    }
    if msg.is_unsupported {
        return Ok(Err("unsupported message".into()));
    }
    let mid = msg.mid.ok_or(AdapterError::MissingField("message.mid"))?;
    if !id_ok(&mid) {
        return Err(AdapterError::invalid("message.mid", "not a message id"));
    }
    if !id_ok(&ev.sender.id) || ev.sender.id.len() > 64 {
        return Err(AdapterError::invalid("sender.id", "not a user id"));
    }
    let mut attachments = Vec::new();
    let mut stickers = 0;
    for a in &msg.attachments {
        let Some(p) = &a.payload else { continue };
        if p.sticker_id.is_some() {
            stickers += 1;
            continue;
        }
        if let Some(c) = &p.coordinates {
            attachments.extend(geo_attachment(c.lat, c.long));
            continue;
        }
        if let Some(url) = p.url.as_deref().filter(|u| url_ok(u)) {
            let kind: String = a
                .kind
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(32)
                .collect();
            attachments.push(media(
                if kind.is_empty() { "attachment" } else { &kind },
                Some(fb_content_type(&a.kind)),
                None,
                url,
            ));
        }
    }
    let text = clean_text("message.text", msg.text.as_deref().unwrap_or(""))?;
    if text.is_empty() && attachments.is_empty() {
        return Ok(Err(if stickers > 0 { "sticker" } else { "empty message" }.into()));
    }
    let (provider, key) = match channel {
        Channel::Instagram => (INSTAGRAM, "ig_id"),
        _ => (MESSENGER, "page_id"),
    };
    let sender = Sender {
        kind: SenderKind::Handle,
        address: ev.sender.id.clone(),
        // Names need a Graph call with the page token; the id is what counts.
        display_name: None,
    };
    let mut m = Inbound::new(channel, provider, sender, text);
    m.external_id = Some(mid.clone());
    m.attachments = attachments;
    m.sent_at = ev.timestamp.and_then(unix_millis);
    m.reply_context.insert("message_id".into(), mid);
    if let Some(r) = ev.recipient.filter(|r| id_ok(&r.id)) {
        m.recipient = Some(r.id.clone());
        m.reply_context.insert(key.into(), r.id);
    }
    Ok(Ok(m))
}
