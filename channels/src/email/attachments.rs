//! Attachments: which parts are kept, under which name and type, with their
//! bytes (decoded even when the part's closing boundary is missing, see
//! [`super::recover`]), and which are only listed because of the limits.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::parse::{clean_subject, sha256_hex};
use super::recover::part_bytes;
use super::{Blob, Limits};
use crate::inbound::Attachment;
use crate::normalize::normalize_text;

pub fn content_type_of(part: &MessagePart<'_>) -> String {
    let fallback = match &part.body {
        PartType::Text(_) => "text/plain",
        PartType::Html(_) => "text/html",
        PartType::Message(_) => "message/rfc822",
        _ => "application/octet-stream",
    };
    let Some(ct) = part.content_type() else {
        return fallback.into();
    };
    let t = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("octet-stream")).to_ascii_lowercase();
    let sane = t.len() <= 127 && t.chars().all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c));
    if sane {
        t
    } else {
        fallback.into()
    }
}

fn extension_for(ct: &str) -> &'static str {
    match ct {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "application/pdf" => "pdf",
        "message/rfc822" => "eml",
        "text/plain" => "txt",
        "text/html" => "html",
        "video/mp4" => "mp4",
        "audio/mpeg" => "mp3",
        _ => "bin",
    }
}

/// Longest file name (bytes), extension included: what file systems allow.
const MAX_FILE_NAME: usize = 255;

/// A file name safe to show and to use as a download name: no directories,
/// no control characters, not hidden (no leading dot), at most `max_bytes`.
pub(crate) fn clean_file_name(name: &str, max_bytes: usize) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let n = normalize_text(base);
    let mut out = String::new();
    for c in n.chars().filter(|c| !c.is_control() && *c != '\n') {
        if out.len() + c.len_utf8() > max_bytes {
            break;
        }
        out.push(c);
    }
    out.trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end()
        .to_string()
}

pub fn collect_attachments(msg: &Message<'_>, limits: &Limits) -> (Vec<Attachment>, Vec<Blob>) {
    let mut metas = Vec::new();
    let mut blobs: Vec<Blob> = Vec::new();
    let mut kept_bytes = 0usize;
    for (n, id) in msg.attachments.iter().enumerate() {
        let Some(part) = msg.parts.get(*id as usize) else {
            continue;
        };
        let content_type = content_type_of(part);
        let bytes = part_bytes(part);
        let bytes: &[u8] = &bytes;
        let name = part
            .attachment_name()
            .map(|n| clean_file_name(n, MAX_FILE_NAME))
            .filter(|s| !s.is_empty())
            .or_else(|| match &part.body {
                // A forwarded message is named after its subject; the cut
                // leaves room for the extension.
                PartType::Message(m) if !m.parts.is_empty() => m
                    .subject()
                    .map(|s| clean_file_name(&clean_subject(s), MAX_FILE_NAME - ".eml".len()))
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("{s}.eml")),
                _ => None,
            })
            .unwrap_or_else(|| format!("lampiran-{}.{}", n + 1, extension_for(&content_type)));
        let omitted = if metas.iter().filter(|a: &&Attachment| !a.sha256.is_empty()).count() >= limits.max_attachments {
            Some("too_many_attachments")
        } else if bytes.len() > limits.max_attachment_bytes {
            Some("attachment_too_large")
        } else if kept_bytes + bytes.len() > limits.max_total_attachment_bytes {
            Some("attachments_total_too_large")
        } else {
            None
        };
        if let Some(reason) = omitted {
            // Listed, not silently dropped: the raw copy of the message still has it.
            metas.push(Attachment {
                name,
                content_type,
                size: bytes.len() as u64,
                sha256: String::new(),
                reference: Some(format!("omitted:{reason}")),
            });
            continue;
        }
        let sha = sha256_hex(bytes);
        kept_bytes += bytes.len();
        if !blobs.iter().any(|b| b.sha256 == sha) {
            blobs.push(Blob {
                sha256: sha.clone(),
                bytes: bytes.to_vec(),
            });
        }
        metas.push(Attachment {
            name,
            content_type,
            size: bytes.len() as u64,
            sha256: sha,
            reference: None,
        });
    }
    (metas, blobs)
}
