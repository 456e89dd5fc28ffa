//! Target `decode`: the byte-level decoders SMS gateways' bytes go through.
//!
//! Input: byte 0 selects the decoder (modulo 6), byte 1 is its parameter,
//! the rest is the data:
//! 0 `udh::parse`; 1 `charset::decode` in the charset `param % 4`
//! (UTF-8, GSM-7, UTF-16BE, Latin-1) and `decode_guess`;
//! 2 `unpack_septets` with `param % 7` fill bits, then `decode_gsm7`;
//! 3 `Charset::from_label`; 4 `form::parse_bytes` and `Fields`;
//! 5 `auth::hex_decode`.
//!
//! Asserted: the time bound; a concatenation part is within its total and
//! the UDH holds it; decoded text has at most as many characters as the
//! decoding allows (one per byte, one per two bytes of UTF-16); septets are
//! seven-bit and as many as the bits allow; labels are case-insensitive;
//! form values are never longer than their encoding; hex round-trips.

use pintu_channels::auth::hex_decode;
use pintu_channels::form::{parse_bytes, Fields};
use pintu_channels::normalize::charset::{decode, decode_gsm7, decode_guess, unpack_septets, Charset};
use pintu_channels::sms::udh;

use crate::budget::{within, Budget};

pub const BUDGET: Budget = Budget::new(25, 1000);

pub const UDH: u8 = 0;
pub const CHARSET: u8 = 1;
pub const SEPTETS: u8 = 2;
pub const LABEL: u8 = 3;
pub const FORM: u8 = 4;
pub const HEX: u8 = 5;

const CHARSETS: [Charset; 4] = [Charset::Utf8, Charset::Gsm7, Charset::Utf16Be, Charset::Latin1];

pub fn check(data: &[u8]) {
    let [sel, param, rest @ ..] = data else { return };
    let n = data.len();
    match sel % 6 {
        UDH => {
            let seg = within("udh", n, BUDGET, || udh::parse(rest));
            if let Ok(Some(s)) = seg {
                assert!(
                    s.total >= 1 && s.seq >= 1 && s.seq <= s.total,
                    "udh: part {} of {}",
                    s.seq,
                    s.total
                );
                let udhl = rest[0] as usize;
                assert!(udhl < rest.len() && udhl >= 5, "udh: segment from a {udhl}-byte header");
            }
            if let Err(e) = &seg {
                assert!(e.to_string().len() < 200, "udh: error message {e}");
            }
        }
        CHARSET => {
            let cs = CHARSETS[(param % 4) as usize];
            let s = within("charset", n, BUDGET, || decode(rest, cs));
            let chars = s.chars().count();
            let max = match cs {
                Charset::Utf16Be => rest.len().div_ceil(2),
                _ => rest.len(),
            };
            assert!(
                chars <= max,
                "charset {cs:?}: {chars} characters from {} bytes",
                rest.len()
            );
            if cs == Charset::Latin1 {
                assert_eq!(chars, rest.len(), "charset Latin-1 is one character per byte");
            }
            let guessed = within("charset", n, BUDGET, || decode_guess(rest));
            match std::str::from_utf8(rest) {
                Ok(u) => assert_eq!(guessed, u, "decode_guess changed valid UTF-8"),
                Err(_) => assert_eq!(guessed, decode(rest, Charset::Latin1), "decode_guess fallback"),
            }
        }
        SEPTETS => {
            let fill = param % 7;
            let septets = within("septets", n, BUDGET, || unpack_septets(rest, fill));
            let expect = (rest.len() * 8).saturating_sub(fill as usize) / 7;
            assert_eq!(septets.len(), expect, "unpack_septets count");
            assert!(septets.iter().all(|s| *s < 0x80), "septet above 0x7f");
            let text = within("septets", n, BUDGET, || decode_gsm7(&septets));
            assert!(
                text.chars().count() <= septets.len(),
                "gsm7: more characters than septets"
            );
        }
        LABEL => {
            let label = String::from_utf8_lossy(rest);
            let cs = within("label", n, BUDGET, || Charset::from_label(&label));
            assert_eq!(
                cs,
                Charset::from_label(&label.to_ascii_uppercase()),
                "labels are case-insensitive"
            );
            assert_eq!(cs, Charset::from_label(&format!(" {label}\t")), "labels are trimmed");
        }
        FORM => {
            let pairs = within("form", n, BUDGET, || parse_bytes(rest));
            let amps = rest.iter().filter(|b| **b == b'&').count();
            assert!(
                pairs.len() <= amps + 1,
                "form: {} pairs from {amps} separators",
                pairs.len()
            );
            let decoded: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
            // A name is shown lossily (one invalid byte, three UTF-8 bytes).
            assert!(
                decoded <= 3 * rest.len(),
                "form: {decoded} bytes decoded from {}",
                rest.len()
            );
            let f = Fields::from_bytes(rest);
            for (k, _) in pairs.iter().take(8) {
                assert!(f.raw(k).is_some(), "form: field {k:?} not found");
                if let Some(t) = f.non_empty(k) {
                    assert!(t == t.trim() && !t.is_empty(), "form: non_empty {t:?}");
                }
            }
        }
        _ => {
            let s = String::from_utf8_lossy(rest);
            if let Some(bytes) = within("hex", n, BUDGET, || hex_decode(&s)) {
                assert_eq!(bytes.len() * 2, s.trim().len(), "hex: length");
                let back: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                assert!(
                    back.eq_ignore_ascii_case(s.trim()),
                    "hex: {s:?} round-trips to {back:?}"
                );
            }
        }
    }
}
