//! Observability: JSON logs with personal data masked, and the Prometheus recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Mask a phone number, platform id or e-mail address for logs:
/// `+62**********90`, `b***@example.go.id`.
///
/// At most the country code's first two digits and the last two stay, so a
/// masked number cannot be narrowed down to a handful of citizens (the old
/// `+62812****890` left 8 of 13 digits readable). Never log it next to the
/// tracking code: together they tie a complaint to a person.
pub fn mask(address: &str) -> String {
    if let Some((user, domain)) = address.split_once('@') {
        let first: String = user.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = address.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let lead = if chars[0] == '+' { 3 } else { 2 };
    let head: String = chars[..lead].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - lead - 2))
}

/// Query parameters and words after which a credential follows.
const SECRET_NAMES: &[&str] = &[
    "token",
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "auth",
    "authorization",
    "signature",
    "sig",
    "hub.verify_token",
    "crc_token",
];

fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_NAMES.contains(&n.as_str()) || n.ends_with("_token") || n.ends_with("_secret") || n.ends_with("password")
}

/// Query parameters that carry the citizen's address or message (Kannel's
/// get-url puts both in the URL).
const ADDRESS_NAMES: &[&str] = &["from", "sender", "msisdn", "phone", "source_addr", "src"];
const TEXT_NAMES: &[&str] = &["text", "content", "body", "message", "binary", "hex-content", "msg"];

/// A URL query fit for an access log: credential values (`token=…`,
/// `password=…`, `hub.verify_token=…`) become `***`, the sender is masked,
/// message text is replaced by its length, and other values are sanitized.
pub fn mask_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let Some((k, v)) = pair.split_once('=') else {
                return sanitize(pair);
            };
            let name = k.to_ascii_lowercase();
            if is_secret_name(&name) {
                return format!("{k}=***");
            }
            let decoded: String = pintu_channels::form::parse_bytes(format!("v={v}").as_bytes())
                .into_iter()
                .next()
                .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if ADDRESS_NAMES.contains(&name.as_str()) {
                format!("{k}={}", mask(decoded.trim()))
            } else if TEXT_NAMES.contains(&name.as_str()) {
                format!("{k}=[{} bytes]", decoded.len())
            } else {
                format!("{k}={}", sanitize(v))
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Longest provider text kept in a log line or a dead letter's reason.
const MAX_SANITIZED_CHARS: usize = 300;

/// A provider's error text made fit for logs and dead letters.
///
/// Error bodies of send APIs quote what they were sent (`The 'To' number
/// +6281234567890 is not a valid phone number`), URLs with credentials
/// (`…?password=…`, Telegram's `/bot<token>/`) and bearer tokens. Digit runs
/// long enough to be a phone number (6+ digits, separators allowed) are
/// masked, e-mail addresses too, credentials after `key=`/`key:` or `Bearer`
/// become `***`, control characters become spaces, and the text is cut.
pub fn sanitize(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_SANITIZED_CHARS * 2)
        .collect();
    let words = mask_secrets(&flat);
    let numbers = mask_digit_runs(&words);
    let mut out: String = numbers
        .split(' ')
        .map(|w| {
            let bare = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '@');
            if bare.contains('@') && bare.contains('.') && !bare.starts_with('@') {
                w.replace(bare, &mask(bare))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if out.chars().count() > MAX_SANITIZED_CHARS {
        out = out.chars().take(MAX_SANITIZED_CHARS).collect();
        out.push('…');
    }
    out
}

/// `name=value`, `name: value`, `"name":"value"` with a credential name, a
/// `Bearer`/`Basic` value and Telegram's `/bot<id>:<secret>` lose their value.
fn mask_secrets(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        // The next word boundary run: letters, digits, `_`, `.`, `-`.
        let start = rest
            .char_indices()
            .find(|(_, c)| c.is_alphanumeric() || *c == '_')
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let word = &rest[..end];
        out.push_str(word);
        rest = &rest[end..];
        let lower = word.to_ascii_lowercase();
        let bot = lower.len() > 3
            && lower.starts_with("bot")
            && lower[3..].bytes().all(|b| b.is_ascii_digit())
            && rest.starts_with(':');
        if bot {
            // `bot123456:ABC-DEF…` in a Telegram URL: keep `bot`, hide the rest.
            out.truncate(out.len() - word.len());
            out.push_str("bot***");
            let value_end = rest
                .char_indices()
                .find(|(_, c)| matches!(c, '/' | ' ' | '?' | '&' | '"'))
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
            rest = &rest[value_end..];
            continue;
        }
        let scheme = matches!(lower.as_str(), "bearer" | "basic") && rest.starts_with(' ');
        let named = is_secret_name(word)
            && rest
                .trim_start_matches(['"', '\''])
                .trim_start()
                .starts_with(['=', ':']);
        if scheme || named {
            // Copy the separator, then replace the value up to the next delimiter.
            let sep_end = rest
                .char_indices()
                .find(|(_, c)| !matches!(c, ' ' | '=' | ':' | '"' | '\''))
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
            out.push_str(&rest[..sep_end]);
            rest = &rest[sep_end..];
            // `Authorization: Bearer <token>`: keep the scheme, hide the token.
            for scheme in ["Bearer ", "Basic ", "bearer ", "basic "] {
                if let Some(after) = rest.strip_prefix(scheme) {
                    out.push_str(scheme);
                    rest = after;
                }
            }
            let value_end = rest
                .char_indices()
                .find(|(_, c)| matches!(c, ' ' | '&' | '"' | '\'' | ',' | ';' | '}' | ')' | ']'))
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
            if value_end > 0 {
                out.push_str("***");
            }
            rest = &rest[value_end..];
        }
    }
    out
}

/// Runs of 6+ digits (a `+` and separators ` -.()/` inside allowed) masked.
fn mask_digit_runs(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let starts =
            chars[i].is_ascii_digit() || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !starts || (i > 0 && (chars[i - 1].is_alphanumeric())) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // Extend over digits and single separators between digits.
        let mut j = i + 1;
        let mut last_digit = if chars[i].is_ascii_digit() { i } else { i + 1 };
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                last_digit = j;
                j += 1;
            } else if matches!(chars[j], ' ' | '-' | '.' | '(' | ')' | '/')
                && chars.get(j + 1).is_some_and(|c| c.is_ascii_digit() || *c == '(')
            {
                j += 1;
            } else {
                break;
            }
        }
        let span: String = chars[i..=last_digit].iter().collect();
        let digits = span.chars().filter(char::is_ascii_digit).count();
        let glued = chars.get(last_digit + 1).is_some_and(|c| c.is_alphabetic());
        if digits >= 6 && !glued {
            let compact: String = span.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
            out.push_str(&mask(&compact));
        } else {
            out.push_str(&span);
        }
        i = last_digit + 1;
    }
    out
}

/// Install the Prometheus recorder once per process and return its handle.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder was installed first (tests); the
            // handle then renders an empty page rather than crashing.
            let _ = metrics::set_global_recorder(recorder);
            // Histograms keep every sample until drained; without a scrape (no
            // Prometheus yet, or a long outage) that is ~8 bytes per complaint
            // forever. Upkeep drains them into the buckets every few seconds.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                });
            handle
        })
        .clone()
}

/// JSON (or human) logs to stderr; `PINTU_LOG` overrides the level filter.
pub fn init_logging(format: &str, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PINTU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "pretty" {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::{mask, mask_query, sanitize};

    #[test]
    fn masks() {
        assert_eq!(mask("+6281234567890"), "+62*********90");
        assert_eq!(mask("budi@example.go.id"), "b***@example.go.id");
        assert_eq!(mask("1708"), "****");
        assert_eq!(mask("1708170817081708"), "17************08");
        // Every Indonesian mobile number keeps at most 4 of its digits readable.
        for n in ["+62811234567", "+628123456789", "+6281234567890", "+62812345678901"] {
            let shown = mask(n).chars().filter(char::is_ascii_digit).count();
            let hidden = n.chars().filter(char::is_ascii_digit).count() - shown;
            assert!(shown <= 4 && hidden > 4, "{n} -> {}", mask(n));
        }
    }

    #[test]
    fn queries_lose_their_credentials() {
        assert_eq!(
            mask_query("token=change-me-kannel&id=demo-1&from=%2B6281234567001&text=Jalan+rusak&password=pw&hub.verify_token=v"),
            "token=***&id=demo-1&from=+62*********01&text=[11 bytes]&password=***&hub.verify_token=***"
        );
        assert_eq!(mask_query("a=1&b"), "a=1&b");
        assert_eq!(mask_query("to=1708&x=6281234567001"), "to=1708&x=62*********01");
    }

    #[test]
    fn provider_errors_are_sanitized() {
        let twilio = r#"{"code": 21211, "message": "The 'To' number +6281234567890 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let s = sanitize(twilio);
        assert!(!s.contains("6281234567890") && !s.contains("1234567"), "{s}");
        assert!(s.contains("21211") && s.contains("not a valid phone number"), "{s}");
        for (raw, leaked) in [
            ("Rejected: to=0812-3456-7890 (invalid)", "3456"),
            (
                "GET /cgi-bin/sendsms?username=pintu&password=hunter2-x&to=6281234567890",
                "hunter2",
            ),
            (
                "POST https://api.telegram.org/bot123456:AAE-secretpart/sendMessage failed",
                "secretpart",
            ),
            ("Authorization: Bearer EAAGm0PX4ZCpsBA", "EAAGm0PX4ZCpsBA"),
            (
                "{\"error\":{\"message\":\"x\",\"access_token\":\"EAAG123abc\"}}",
                "EAAG123abc",
            ),
            ("mail to budi.santoso@gmail.com bounced", "budi.santoso"),
            ("line one\r\nInjected: header", "\n"),
        ] {
            let s = sanitize(raw);
            assert!(!s.contains(leaked), "{raw:?} -> {s:?}");
        }
        assert_eq!(
            sanitize("HTTP 503: Service Unavailable"),
            "HTTP 503: Service Unavailable"
        );
        assert!(sanitize(&"x".repeat(5000)).chars().count() <= 301);
    }
}
