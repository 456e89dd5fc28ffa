//! Status message templates (`config/status/templates.toml`) and fitting
//! them into SMS: GSM-7 160 / UCS-2 70 characters for one message, at most 3
//! concatenated parts (153 / 67 each); the agency's message is shortened with
//! "..." when the whole would not fit, never the fixed text.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{FileError, StatusError};

/// Parts an SMS status message may take at most.
pub const MAX_SMS_PARTS: usize = 3;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    pub stage: Option<String>,
    pub selesai: Option<String>,
    pub forwarded: Option<String>,
    pub reopened: Option<String>,
    pub closed: Option<String>,
    pub query: Option<String>,
    pub query_unrouted: Option<String>,
    pub neutral: Option<String>,
    pub limited: Option<String>,
    pub subject: Option<String>,
}

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stage,
    Selesai,
    Forwarded,
    Reopened,
    Closed,
    Query,
    QueryUnrouted,
    Neutral,
    Limited,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatusTemplates {
    pub default: Set,
    #[serde(flatten)]
    pub by_channel: BTreeMap<String, Set>,
}

/// Values of the placeholders.
#[derive(Debug, Default)]
pub struct Fill<'a> {
    pub tracking: &'a str,
    pub agency: &'a str,
    pub stage: &'a str,
    pub message: &'a str,
}

impl Set {
    fn get(&self, k: Kind) -> Option<&String> {
        match k {
            Kind::Stage => self.stage.as_ref(),
            Kind::Selesai => self.selesai.as_ref(),
            Kind::Forwarded => self.forwarded.as_ref(),
            Kind::Reopened => self.reopened.as_ref(),
            Kind::Closed => self.closed.as_ref(),
            Kind::Query => self.query.as_ref(),
            Kind::QueryUnrouted => self.query_unrouted.as_ref(),
            Kind::Neutral => self.neutral.as_ref(),
            Kind::Limited => self.limited.as_ref(),
        }
    }
}

const ALL_KINDS: [Kind; 9] = [
    Kind::Stage,
    Kind::Selesai,
    Kind::Forwarded,
    Kind::Reopened,
    Kind::Closed,
    Kind::Query,
    Kind::QueryUnrouted,
    Kind::Neutral,
    Kind::Limited,
];

impl StatusTemplates {
    pub fn load(path: &Path) -> Result<StatusTemplates, StatusError> {
        let err = |r: String| StatusError::Setup(format!("{}: {r}", path.display()));
        let file = |source: FileError| StatusError::File {
            path: path.display().to_string(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file(FileError::Read(e)))?;
        let t: StatusTemplates = toml::from_str(&text).map_err(|e| file(FileError::Toml(e)))?;
        for k in ALL_KINDS {
            if t.default.get(k).is_none() {
                return Err(err(format!("[default] lacks the {k:?} template")));
            }
        }
        Ok(t)
    }

    fn template(&self, channel: &str, k: Kind) -> &str {
        self.by_channel
            .get(channel)
            .and_then(|s| s.get(k))
            .or_else(|| self.default.get(k))
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn subject(&self, channel: &str, tracking: &str) -> Option<String> {
        self.by_channel
            .get(channel)
            .and_then(|s| s.subject.as_ref())
            .or(self.default.subject.as_ref())
            .map(|s| s.replace("{tracking}", tracking))
    }

    /// The text; for SMS fitted into at most [`MAX_SMS_PARTS`] parts.
    pub fn render(&self, channel: &str, k: Kind, f: &Fill<'_>) -> String {
        let t = self.template(channel, k);
        let fill = |msg: &str| {
            let s = t
                .replace("{tracking}", f.tracking)
                .replace("{agency}", f.agency)
                .replace("{stage}", f.stage)
                .replace("{reply}", &format!("Balas CEK {} untuk status", f.tracking))
                .replace("{message}", msg);
            // An empty message leaves a double space or a trailing one.
            s.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let whole = fill(f.message);
        if channel != "sms" || sms_parts(&whole) <= MAX_SMS_PARTS {
            return whole;
        }
        // Shorten the agency's message until it fits (binary search on chars).
        let chars: Vec<char> = f.message.chars().collect();
        let (mut lo, mut hi) = (0usize, chars.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let cut: String = chars[..mid].iter().collect::<String>() + "...";
            if sms_parts(&fill(&cut)) <= MAX_SMS_PARTS {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let cut: String = chars[..lo].iter().collect::<String>().trim_end().to_string() + "...";
        fill(if lo == 0 { "" } else { &cut })
    }
}

/// GSM 03.38 basic characters (one septet each).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Extension characters (two septets: escape + char).
const GSM_EXT: &str = "^{}\\[~]|€\u{c}";

/// Septets of `s` in GSM-7, or `None` when it needs UCS-2.
pub fn gsm7_len(s: &str) -> Option<usize> {
    s.chars().try_fold(0usize, |n, c| {
        if GSM_BASIC.contains(c) {
            Some(n + 1)
        } else if GSM_EXT.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    })
}

/// Parts an SMS of `s` takes (GSM-7 160/153, else UCS-2 70/67 in UTF-16 units).
pub fn sms_parts(s: &str) -> usize {
    let (len, single, multi) = match gsm7_len(s) {
        Some(n) => (n, 160, 153),
        None => (s.encode_utf16().count(), 70, 67),
    };
    if len <= single {
        1
    } else {
        len.div_ceil(multi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> StatusTemplates {
        StatusTemplates::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/status/templates.toml")).unwrap()
    }

    #[test]
    fn a_missing_template_file_keeps_the_io_error() {
        let e = StatusTemplates::load(Path::new("/nonexistent/pintu/templates.toml")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/pintu/templates.toml: "), "{e}");
        let mut cause = std::error::Error::source(&e);
        let mut kind = None;
        while let Some(c) = cause {
            kind = kind.or(c.downcast_ref::<std::io::Error>().map(std::io::Error::kind));
            cause = c.source();
        }
        assert_eq!(kind, Some(std::io::ErrorKind::NotFound), "{e}");
    }

    #[test]
    fn sms_parts_follow_gsm7_and_ucs2() {
        assert_eq!(sms_parts(&"a".repeat(160)), 1);
        assert_eq!(sms_parts(&"a".repeat(161)), 2);
        assert_eq!(sms_parts(&"{".repeat(80)), 1, "extension chars count twice");
        assert_eq!(sms_parts(&"é".repeat(160)), 1, "é is GSM-7");
        assert_eq!(sms_parts(&"ł".repeat(70)), 1);
        assert_eq!(sms_parts(&"ł".repeat(71)), 2);
    }

    #[test]
    fn fixed_texts_fit_one_sms_and_long_messages_are_cut_to_three() {
        let t = templates();
        let agency = "Dinas Kesehatan Provinsi Kepulauan Bangka Belitung";
        for k in ALL_KINDS {
            let text = t.render(
                "sms",
                k,
                &Fill {
                    tracking: "LPR-7K3Q9X",
                    agency,
                    stage: "sedang diproses",
                    message: "",
                },
            );
            assert_eq!(sms_parts(&text), 1, "{k:?}: {text} ({} chars)", text.chars().count());
            assert!(!text.contains('{'), "{text}");
        }
        let long = "Perbaikan jalan dijadwalkan minggu depan. ".repeat(30);
        let text = t.render(
            "sms",
            Kind::Selesai,
            &Fill {
                tracking: "LPR-7K3Q9X",
                agency,
                stage: "selesai",
                message: &long,
            },
        );
        assert_eq!(sms_parts(&text), 3, "{text}");
        assert!(text.contains("...") && text.ends_with("BELUM LPR-7K3Q9X"), "{text}");
        let ucs = "Jalan sudah diperbaiki 👍 ".repeat(20);
        let text = t.render(
            "sms",
            Kind::Stage,
            &Fill {
                tracking: "LPR-7K3Q9X",
                agency,
                stage: "selesai",
                message: &ucs,
            },
        );
        assert!(sms_parts(&text) <= 3, "{text}");
        // E-mail is not cut.
        let text = t.render(
            "email",
            Kind::Stage,
            &Fill {
                tracking: "LPR-7K3Q9X",
                agency,
                stage: "selesai",
                message: &long,
            },
        );
        assert!(text.len() > 1000);
    }
}
