//! Decoding what can be decoded of a MIME part the parser gave up on.
//!
//! When a part's closing boundary is missing (a truncated upload, a client
//! that crashed mid-send) or its encoded body is damaged, mail-parser keeps
//! the part's bytes *undecoded* and flags it `is_encoding_problem`. Stored as
//! they are, a photo becomes its base64 text (a third larger, with the wrong
//! sha256) and a text part shows `=C3=A9` or base64 to the officer. Here the
//! transfer encoding is undone leniently: base64 up to the first line that
//! is not base64 (a boundary, an epilogue), quoted-printable with broken
//! escapes kept literally, then the charset for text. Linear, never fails.

use std::borrow::Cow;

use mail_parser::{MessagePart, MimeHeaders};

fn base64_value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// Base64 of the leading lines that are base64. Padding ends a group (and
/// allows a second stream after it); a trailing partial group is dropped.
pub fn lenient_base64(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() / 4 * 3 + 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for line in raw.split(|b| *b == b'\n') {
        let line = line.trim_ascii();
        // `-` and `_` are only URL-safe base64; a line starting with `--` is a boundary.
        if line.starts_with(b"--")
            || line
                .iter()
                .any(|b| base64_value(*b).is_none() && *b != b'=' && !b.is_ascii_whitespace())
        {
            break;
        }
        for &b in line {
            match base64_value(b) {
                Some(v) => {
                    acc = ((acc << 6) | v) & 0xff_ffff;
                    bits += 6;
                    if bits >= 8 {
                        bits -= 8;
                        out.push((acc >> bits) as u8);
                    }
                }
                None if b == b'=' => {
                    acc = 0;
                    bits = 0;
                }
                None => {}
            }
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Quoted-printable; soft line breaks removed, a broken escape kept as it is.
pub fn lenient_quoted_printable(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (raw.get(i + 1), raw.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(h), Some(l)) if hex(*h).is_some() && hex(*l).is_some() => {
                out.push(hex(*h).unwrap_or(0) << 4 | hex(*l).unwrap_or(0));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The part's `Content-Transfer-Encoding`, lower case.
fn transfer_encoding(part: &MessagePart<'_>) -> String {
    part.content_transfer_encoding()
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The decoded bytes of a part: the parser's, or for a part it flagged as
/// broken, the transfer encoding undone here.
pub fn part_bytes<'p>(part: &'p MessagePart<'_>) -> Cow<'p, [u8]> {
    let raw = part.contents();
    if !part.is_encoding_problem {
        return Cow::Borrowed(raw);
    }
    match transfer_encoding(part).as_str() {
        "base64" => Cow::Owned(lenient_base64(raw)),
        "quoted-printable" => Cow::Owned(lenient_quoted_printable(raw)),
        _ => Cow::Borrowed(raw),
    }
}

/// The text of a part the parser flagged as broken, decoded as far as it goes
/// (`None` for a part without problems: use the parser's text).
pub fn broken_text(part: &MessagePart<'_>) -> Option<String> {
    if !part.is_encoding_problem {
        return None;
    }
    let bytes = part_bytes(part);
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|c| encoding_rs::Encoding::for_label(c.trim().as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    Some(charset.decode_without_bom_handling(&bytes).0.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_the_valid_lines() {
        assert_eq!(lenient_base64(b"SGVs\r\nbG8=\r\n"), b"Hello");
        assert_eq!(
            lenient_base64(b"SGVsbG8gd29ybGQ=\r\n--boundary\r\nSGk="),
            b"Hello world"
        );
        // Two streams, each padded; a trailing partial group is dropped.
        assert_eq!(lenient_base64(b"SGk=SGk=\nS"), b"HiHi");
        assert_eq!(lenient_base64(b"not base64 at all!"), b"");
    }

    #[test]
    fn quoted_printable_keeps_broken_escapes() {
        assert_eq!(
            lenient_quoted_printable(b"caf=C3=A9 =\r\nok =ZZ end="),
            "café ok =ZZ end=".as_bytes()
        );
    }
}
