//! Sender numbers to E.164.
//!
//! Indonesian citizens write their number every way there is: `0812…`, `62812…`,
//! `+62 812-…`, `00628…`, `(0812) …`. All of them must become `+62812…` so that
//! dedupe and replies see one citizen. Short codes (`1708`) and alphanumeric
//! sender ids (`BANK-XYZ`) are kept as they are, with a kind that says so.

use crate::inbound::{Sender, SenderKind};

/// Longest sender string kept; longer strings are cut (never rejected).
const MAX_ALNUM: usize = 64;

/// Normalise any sender string. Never panics; never fails.
pub fn normalize_sender(raw: &str) -> Sender {
    // Invisible characters go before trimming (they may hide a space), and
    // the cut comes before classifying and is trimmed again: the result,
    // normalised again, must be the same sender.
    let visible: String = raw
        .chars()
        .filter(|c| !c.is_control() && *c != '\u{200b}' && *c != '\u{feff}')
        .collect();
    let cut: String = visible.trim().chars().take(MAX_ALNUM).collect();
    let trimmed = cut.trim_end().to_string();
    let cleaned: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}'))
        .collect();
    let (plus, digits) = match cleaned.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, cleaned.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Sender {
            kind: SenderKind::Alphanumeric,
            address: trimmed,
            display_name: None,
        };
    }
    let international = if plus {
        Some(digits.to_string())
    } else if let Some(rest) = digits.strip_prefix("00") {
        Some(rest.to_string())
    } else if let Some(rest) = digits.strip_prefix('0') {
        (rest.len() >= 7).then(|| format!("62{rest}"))
    } else if digits.starts_with("62") && digits.len() >= 10 {
        Some(digits.to_string())
    } else if digits.starts_with('8') && (9..=12).contains(&digits.len()) {
        // A mobile number typed without its trunk 0 (`812…`).
        Some(format!("62{digits}"))
    } else {
        None
    };
    match international {
        Some(mut intl) if (8..=15).contains(&intl.len()) || intl.starts_with("620") => {
            // `+62 (0)812…`: the trunk prefix written after the country code.
            while intl.starts_with("620") {
                intl.replace_range(2..3, "");
            }
            if !(8..=15).contains(&intl.len()) {
                return shortcode_or_alnum(&trimmed, digits);
            }
            Sender {
                kind: SenderKind::Msisdn,
                address: e164(&intl),
                display_name: None,
            }
        }
        _ => shortcode_or_alnum(&trimmed, digits),
    }
}

fn shortcode_or_alnum(trimmed: &str, digits: &str) -> Sender {
    if digits.len() <= 8 {
        Sender {
            kind: SenderKind::Shortcode,
            address: digits.to_string(),
            display_name: None,
        }
    } else {
        Sender {
            kind: SenderKind::Alphanumeric,
            address: trimmed.to_string(),
            display_name: None,
        }
    }
}

/// Format through libphonenumber's metadata when it recognises the number, so
/// country-specific quirks are handled; otherwise keep the digits as given.
///
/// libphonenumber removes a trunk prefix or leading zeros of the national
/// number one step per call (`+27 0 0…`), so the formatting is repeated until
/// it settles: the result, normalised again, is the same number. A result that
/// does not settle or is too short to be a number keeps the digits as given.
fn e164(digits: &str) -> String {
    let plus = format!("+{digits}");
    let mut cur = plus.clone();
    for _ in 0..=digits.len() {
        let Ok(n) = phonenumber::parse(None, &cur) else {
            return plus;
        };
        let next = n.format().mode(phonenumber::Mode::E164).to_string();
        if next == cur {
            let ok = cur
                .strip_prefix('+')
                .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
            return if ok { cur } else { plus };
        }
        cur = next;
    }
    plus
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> (SenderKind, String) {
        let s = normalize_sender(s);
        (s.kind, s.address)
    }

    #[test]
    fn indonesian_forms() {
        for raw in [
            "08123456789",
            "628123456789",
            "+62 812-3456-789",
            "00628123456789",
            "(0812) 3456 789",
            "+62 (0)812 3456789",
            "8123456789",
        ] {
            assert_eq!(addr(raw), (SenderKind::Msisdn, "+628123456789".to_string()), "{raw}");
        }
    }

    #[test]
    fn foreign_and_special() {
        assert_eq!(addr("+15551234567"), (SenderKind::Msisdn, "+15551234567".into()));
        assert_eq!(addr("1708"), (SenderKind::Shortcode, "1708".into()));
        assert_eq!(addr("BANK-XYZ"), (SenderKind::Alphanumeric, "BANK-XYZ".into()));
        assert_eq!(addr(""), (SenderKind::Alphanumeric, "".into()));
        assert_eq!(addr("+"), (SenderKind::Alphanumeric, "+".into()));
    }

    /// Found by `cargo fuzz run normalize` (and `sms`): a sender cut at 64
    /// characters kept the space it was cut at, and a removed zero-width
    /// character exposed a leading space, so normalising the result again gave
    /// another sender (a different dedupe key for the same citizen).
    #[test]
    fn cut_and_cleaned_senders_are_stable() {
        let long = format!("{} B", "A".repeat(63));
        let once = normalize_sender(&long);
        assert_eq!(once.address, "A".repeat(63));
        assert_eq!(normalize_sender(&once.address), once);
        let zw = normalize_sender("\u{200b} BANK");
        assert_eq!(zw.address, "BANK");
        assert_eq!(normalize_sender(&zw.address), zw);
        // What is beyond the cut does not decide the kind of what is kept.
        let padded = format!("+628123456789{}x", " ".repeat(51));
        let once = normalize_sender(&padded);
        assert_eq!(normalize_sender(&once.address), once);
    }

    /// Found by `cargo fuzz run sms`: libphonenumber drops a trunk zero or a
    /// leading zero of the national number per call, so `+27 008708` became
    /// the six-digit `+278708` (not a number), and `+27 00087080000` lost one
    /// more zero each time it was normalised again.
    #[test]
    fn formatting_settles_and_keeps_a_number() {
        for raw in ["+27008708", "+2700087080000", "+4402079460958"] {
            let once = normalize_sender(raw);
            assert_eq!(once.kind, SenderKind::Msisdn, "{raw}");
            assert!(once.address.len() >= 9, "{raw} -> {}", once.address);
            assert_eq!(normalize_sender(&once.address), once, "{raw}");
        }
        assert_eq!(normalize_sender("+4402079460958").address, "+442079460958");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = normalize_sender(&s);
        }

        #[test]
        fn digit_soup_never_panics(s in "[+0-9 ()-]{0,40}") {
            let out = normalize_sender(&s);
            if out.kind == SenderKind::Msisdn {
                proptest::prop_assert!(out.address.starts_with('+'));
            }
        }

        #[test]
        fn all_forms_agree(n in "8[1-9][0-9]{7,10}") {
            let a = normalize_sender(&format!("0{n}")).address;
            proptest::prop_assert_eq!(&a, &normalize_sender(&format!("+62{n}")).address);
            proptest::prop_assert_eq!(&a, &normalize_sender(&format!("0062{n}")).address);
            proptest::prop_assert_eq!(&a, &normalize_sender(&format!("62{n}")).address);
        }
    }
}
