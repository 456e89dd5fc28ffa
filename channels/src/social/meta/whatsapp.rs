//! WhatsApp Cloud API webhook payloads (`object = whatsapp_business_account`).

use std::collections::HashMap;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::{id_ok, WHATSAPP};
use crate::adapter::AdapterError;
use crate::inbound::{Attachment, Channel, Inbound, Sender, SenderKind};
use crate::social::{batch_item, clean_text, display_name, geo_attachment, join_text, media, unix_secs, Collected};

#[derive(Deserialize)]
struct WaEntry {
    /// Read one by one: a bad change does not hide the others.
    #[serde(default)]
    changes: Vec<Value>,
}

#[derive(Deserialize)]
struct WaChange {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Option<WaValue>,
}

#[derive(Deserialize)]
struct WaValue {
    #[serde(default)]
    metadata: Option<WaMetadata>,
    #[serde(default)]
    contacts: Vec<WaProfileContact>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    statuses: Vec<Value>,
    #[serde(default)]
    errors: Vec<Value>,
}

#[derive(Deserialize)]
struct WaMetadata {
    #[serde(default)]
    display_phone_number: Option<String>,
    #[serde(default)]
    phone_number_id: Option<String>,
}

#[derive(Deserialize)]
struct WaProfileContact {
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    profile: Option<WaProfile>,
}

#[derive(Deserialize)]
struct WaProfile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WaMessage {
    from: String,
    id: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<WaText>,
    #[serde(default)]
    image: Option<WaMedia>,
    #[serde(default)]
    video: Option<WaMedia>,
    #[serde(default)]
    audio: Option<WaMedia>,
    #[serde(default)]
    document: Option<WaMedia>,
    #[serde(default)]
    location: Option<WaLocation>,
    #[serde(default)]
    button: Option<WaButton>,
    #[serde(default)]
    interactive: Option<WaInteractive>,
    #[serde(default)]
    contacts: Vec<WaSharedContact>,
    #[serde(default)]
    context: Option<WaContext>,
}

#[derive(Deserialize)]
struct WaText {
    body: String,
}

#[derive(Deserialize)]
struct WaMedia {
    id: String,
    #[serde(default)]
    mime_type: Option<String>,
    /// Base64 SHA-256 of the file.
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

#[derive(Deserialize)]
struct WaLocation {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Deserialize)]
struct WaButton {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct WaInteractive {
    #[serde(default)]
    button_reply: Option<WaTitle>,
    #[serde(default)]
    list_reply: Option<WaTitle>,
}

#[derive(Deserialize)]
struct WaTitle {
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct WaSharedContact {
    #[serde(default)]
    name: Option<WaContactName>,
    #[serde(default)]
    phones: Vec<WaPhone>,
}

#[derive(Deserialize)]
struct WaContactName {
    #[serde(default)]
    formatted_name: Option<String>,
}

#[derive(Deserialize)]
struct WaPhone {
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Deserialize)]
struct WaContext {
    #[serde(default)]
    id: Option<String>,
}

/// WhatsApp gives the file's SHA-256 in base64; the complaint schema wants hex.
fn b64_sha256_to_hex(b64: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    (bytes.len() == 32).then(|| bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn wa_media(kind: &str, m: &WaMedia) -> Result<Attachment, String> {
    if !id_ok(&m.id) {
        return Err(format!("{kind} without a usable media id"));
    }
    let name = m
        .filename
        .as_deref()
        .map(|f| {
            f.chars()
                .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
                .take(200)
                .collect()
        })
        .filter(|f: &String| !f.is_empty())
        .unwrap_or_else(|| kind.to_string());
    let mut a = media(&name, m.mime_type.as_deref(), None, &m.id);
    a.sha256 = m.sha256.as_deref().and_then(b64_sha256_to_hex).unwrap_or_default();
    Ok(a)
}

/// The messages of a `whatsapp_business_account` batch.
///
/// A batch can carry many citizens' messages, and Meta redelivers the same
/// bytes until it gets a 200: one item that cannot be read is skipped with its
/// reason (the runtime counts it), the others are kept.
pub(super) fn collect(entries: Vec<Value>, out: &mut Collected) {
    for entry in entries {
        let Some(entry) = batch_item::<WaEntry>(out, "entry", entry) else {
            continue;
        };
        for change in entry.changes {
            let Some(change) = batch_item::<WaChange>(out, "change", change) else {
                continue;
            };
            if change.field != "messages" {
                out.ignore(format!("field `{}` not handled", change.field));
                continue;
            }
            let Some(value) = change.value else {
                out.ignore("change without value");
                continue;
            };
            if !value.statuses.is_empty() {
                out.ignore("delivery status");
            }
            if !value.errors.is_empty() {
                out.ignore("error notification");
            }
            let metadata = value.metadata.as_ref();
            let phone_number_id = metadata.and_then(|m| m.phone_number_id.as_deref()).filter(|p| id_ok(p));
            // Profile names by wa_id, the first contact of an id winning;
            // built once, not scanned for every message.
            let mut names: HashMap<&str, Option<&str>> = HashMap::with_capacity(value.contacts.len());
            for c in &value.contacts {
                if let Some(id) = c.wa_id.as_deref() {
                    names
                        .entry(id)
                        .or_insert_with(|| c.profile.as_ref().and_then(|p| p.name.as_deref()));
                }
            }
            let lone_contact = match value.contacts.as_slice() {
                [only] => only.profile.as_ref().and_then(|p| p.name.as_deref()),
                _ => None,
            };
            for raw in value.messages {
                let Some(msg) = batch_item::<WaMessage>(out, "message", raw) else {
                    continue;
                };
                let Some(phone_number_id) = phone_number_id else {
                    // Without it no reply can be sent; Meta always includes it.
                    out.skip(AdapterError::MissingField("metadata.phone_number_id"));
                    continue;
                };
                let profile_name = names.get(msg.from.as_str()).copied().unwrap_or(lone_contact);
                let display_phone = metadata.and_then(|m| m.display_phone_number.as_deref());
                match wa_inbound(&msg, profile_name, phone_number_id, display_phone) {
                    Ok(Ok(m)) => out.messages.push(m),
                    Ok(Err(reason)) => out.ignore(reason),
                    Err(e) => out.skip(e),
                }
            }
        }
    }
}

/// Outer error: the message is malformed (skipped); inner error: a valid
/// message that is not a complaint (ignored with a reason).
fn wa_inbound(
    msg: &WaMessage,
    profile_name: Option<&str>,
    phone_number_id: &str,
    display_phone: Option<&str>,
) -> Result<Result<Inbound, String>, AdapterError> {
    if !id_ok(&msg.id) {
        return Err(AdapterError::invalid("messages.id", "not a message id"));
    }
    if !id_ok(&msg.from) || msg.from.len() > 64 {
        return Err(AdapterError::invalid("messages.from", "not a WhatsApp id"));
    }
    let mut attachments = Vec::new();
    let mut extra: Option<String> = None;
    let body: Option<&str> = match msg.kind.as_str() {
        "text" => msg.text.as_ref().map(|t| t.body.as_str()),
        "image" | "video" | "audio" | "document" | "voice" => {
            let m = match msg.kind.as_str() {
                "image" => msg.image.as_ref(),
                "video" => msg.video.as_ref(),
                "document" => msg.document.as_ref(),
                _ => msg.audio.as_ref(),
            };
            let Some(m) = m else {
                return Err(AdapterError::MissingField("messages.<media>"));
            };
            match wa_media(&msg.kind, m) {
                Ok(a) => attachments.push(a),
                Err(reason) => return Err(AdapterError::invalid("messages.<media>.id", reason)),
            }
            m.caption.as_deref()
        }
        "location" => {
            let Some(l) = &msg.location else {
                return Err(AdapterError::MissingField("messages.location"));
            };
            attachments.extend(geo_attachment(l.latitude, l.longitude));
            extra = Some(join_text(&[l.name.as_deref(), l.address.as_deref()]));
            None
        }
        "button" => msg.button.as_ref().and_then(|b| b.text.as_deref()),
        "interactive" => msg.interactive.as_ref().and_then(|i| {
            i.button_reply
                .as_ref()
                .or(i.list_reply.as_ref())
                .and_then(|t| t.title.as_deref())
        }),
        "contacts" => {
            let lines: Vec<String> = msg
                .contacts
                .iter()
                .map(|c| {
                    let name = c.name.as_ref().and_then(|n| n.formatted_name.as_deref()).unwrap_or("");
                    let phones: Vec<&str> = c.phones.iter().filter_map(|p| p.phone.as_deref()).collect();
                    format!("Kontak: {name} {}", phones.join(", "))
                })
                .collect();
            extra = Some(lines.join("\n"));
            None
        }
        "sticker" => return Ok(Err("sticker".into())),
        "reaction" => return Ok(Err("reaction".into())),
        "system" => return Ok(Err("system message".into())),
        "" => return Err(AdapterError::MissingField("messages.type")),
        other => {
            return Ok(Err(format!(
                "message type `{}` not supported",
                other.chars().take(32).collect::<String>()
            )))
        }
    };
    let text = clean_text("text", &join_text(&[body, extra.as_deref()]))?;
    if text.is_empty() && attachments.is_empty() {
        return Ok(Err("empty message".into()));
    }
    let sender = Sender {
        kind: SenderKind::Handle,
        address: msg.from.clone(),
        display_name: display_name(profile_name, None),
    };
    let mut m = Inbound::new(Channel::Whatsapp, WHATSAPP, sender, text);
    m.external_id = Some(msg.id.clone());
    m.attachments = attachments;
    m.recipient = display_phone.map(str::to_string).filter(|d| d.len() <= 32);
    m.sent_at = msg
        .timestamp
        .as_deref()
        .and_then(|t| t.trim().parse().ok())
        .and_then(unix_secs);
    m.reply_context
        .insert("phone_number_id".into(), phone_number_id.to_string());
    m.reply_context.insert("message_id".into(), msg.id.clone());
    if let Some(ctx) = msg.context.as_ref().and_then(|c| c.id.as_deref()).filter(|c| id_ok(c)) {
        m.reply_context.insert("context_message_id".into(), ctx.to_string());
    }
    Ok(Ok(m))
}

#[cfg(test)]
mod tests {
    use super::b64_sha256_to_hex;

    #[test]
    fn media_hash() {
        // SHA-256 of the empty string.
        assert_eq!(
            b64_sha256_to_hex("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(b64_sha256_to_hex("IMAGE_HASH"), None);
    }
}
