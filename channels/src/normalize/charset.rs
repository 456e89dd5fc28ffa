//! Message bytes to text: GSM 03.38 (7-bit), UCS-2/UTF-16BE, Latin-1 and
//! Windows-1252, UTF-8.
//!
//! Handsets in Indonesia send plain Indonesian in GSM-7 and switch to UCS-2 for
//! emoji or non-Latin scripts; gateways pass the bytes on with a coding number.
//! Decoding is total: a byte that cannot be decoded becomes U+FFFD, never a panic.

/// How the bytes of a message are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    /// GSM 03.38 default alphabet, one septet per byte (unpacked), with the
    /// 0x1B escape to the extension table.
    Gsm7,
    /// UCS-2 / UTF-16 big-endian (surrogate pairs allowed, as handsets send emoji).
    Utf16Be,
    /// ISO-8859-1 as gateways mean it: decoded as Windows-1252, its superset.
    Latin1,
}

impl Charset {
    /// Parse a gateway's charset label (`UTF-8`, `UCS-2`, `ISO-8859-1`, `GSM`, …).
    pub fn from_label(label: &str) -> Option<Charset> {
        let l = label.trim().to_ascii_lowercase().replace('_', "-");
        match l.as_str() {
            "utf-8" | "utf8" => Some(Charset::Utf8),
            "gsm" | "gsm7" | "gsm-7" | "gsm0338" | "gsm-03.38" | "gsm03.38" => Some(Charset::Gsm7),
            "ucs-2" | "ucs2" | "utf-16be" | "utf16be" | "utf-16" | "ucs-2be" => Some(Charset::Utf16Be),
            "iso-8859-1" | "latin1" | "latin-1" | "windows-1252" | "cp1252" | "iso8859-1" => Some(Charset::Latin1),
            _ => None,
        }
    }
}

/// Decode bytes in the given charset.
pub fn decode(bytes: &[u8], charset: Charset) -> String {
    match charset {
        Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Charset::Gsm7 => decode_gsm7(bytes),
        Charset::Utf16Be => encoding_rs::UTF_16BE.decode_without_bom_handling(bytes).0.into_owned(),
        Charset::Latin1 => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// UTF-8 when the bytes are valid UTF-8, otherwise Windows-1252: what a gateway
/// that says nothing about the charset most likely sent.
pub fn decode_guess(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => decode(bytes, Charset::Latin1),
    }
}

const GSM7_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

fn gsm7_extension(septet: u8) -> Option<char> {
    Some(match septet {
        0x0A => '\u{c}',
        0x14 => '^',
        0x28 => '{',
        0x29 => '}',
        0x2F => '\\',
        0x3C => '[',
        0x3D => '~',
        0x3E => ']',
        0x40 => '|',
        0x65 => '€',
        _ => return None,
    })
}

/// Decode unpacked GSM-7 septets (one per byte).
pub fn decode_gsm7(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().map(|b| b & 0x7f);
    while let Some(s) = iter.next() {
        if s == 0x1b {
            // Unknown extension: the spec says show the basic-table character.
            if let Some(e) = iter.next() {
                out.push(gsm7_extension(e).unwrap_or(GSM7_BASIC[e as usize]));
            }
        } else {
            out.push(GSM7_BASIC[s as usize]);
        }
    }
    out
}

/// Unpack GSM-7 septets packed eight into seven octets (as on the air interface).
/// `fill_bits` is the padding after a UDH (0–6).
pub fn unpack_septets(packed: &[u8], fill_bits: u8) -> Vec<u8> {
    let total_bits = (packed.len() * 8).saturating_sub(fill_bits as usize);
    let count = total_bits / 7;
    (0..count)
        .map(|i| {
            let bit = fill_bits as usize + i * 7;
            let (byte, shift) = (bit / 8, bit % 8);
            let lo = packed.get(byte).copied().unwrap_or(0) as u16;
            let hi = packed.get(byte + 1).copied().unwrap_or(0) as u16;
            (((hi << 8 | lo) >> shift) & 0x7f) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_basic_and_extension() {
        // "Rp 5€ @ [x]" in GSM-7 septets.
        let s = [
            0x52, 0x70, 0x20, 0x35, 0x1b, 0x65, 0x20, 0x00, 0x20, 0x1b, 0x3c, 0x78, 0x1b, 0x3e,
        ];
        assert_eq!(decode_gsm7(&s), "Rp 5€ @ [x]");
        // Trailing lone escape is ignored, never a panic.
        assert_eq!(decode_gsm7(&[0x41, 0x1b]), "A");
    }

    #[test]
    fn packed_septets() {
        // "hellohello" packed (classic example from GSM 03.38).
        let packed = [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37];
        assert_eq!(decode_gsm7(&unpack_septets(&packed, 0)), "hellohello");
    }

    #[test]
    fn ucs2_with_emoji() {
        // "Jalan 🚧" as UTF-16BE with a surrogate pair.
        let b = [
            0x00, 0x4A, 0x00, 0x61, 0x00, 0x6C, 0x00, 0x61, 0x00, 0x6E, 0x00, 0x20, 0xD8, 0x3D, 0xDE, 0xA7,
        ];
        assert_eq!(decode(&b, Charset::Utf16Be), "Jalan 🚧");
        // Odd length: the dangling byte becomes U+FFFD.
        assert!(decode(&[0x00, 0x41, 0x00], Charset::Utf16Be).starts_with('A'));
    }

    #[test]
    fn latin1_and_cp1252() {
        assert_eq!(decode(&[0x53, 0xE9, 0x6E, 0x80], Charset::Latin1), "Sén€");
        assert_eq!(decode_guess("é".as_bytes()), "é");
        assert_eq!(decode_guess(&[0xE9]), "é");
    }
}
