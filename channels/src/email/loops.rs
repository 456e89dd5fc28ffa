//! Mail we must never answer automatically (RFC 3834 and common practice).
//!
//! An auto-reply to an auto-reply is a mail loop; an auto-reply to a list
//! spams its subscribers; one to a bounce goes nowhere. The message is still
//! ingested (a vacation notice might carry a real complaint, a bounce is worth
//! counting): only the acknowledgement is suppressed, with the reason kept in
//! `reply_context["suppress_reply"]`.

/// Why no acknowledgement may be sent; the value stored in `suppress_reply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppress {
    /// `Auto-Submitted` other than `no`, `X-Autoreply`, `X-Autorespond`.
    AutoSubmitted,
    /// `Precedence: bulk | list | junk | auto_reply`.
    Precedence,
    /// `List-Id`, `List-Unsubscribe`, `List-Post`.
    MailingList,
    /// `X-Loop` carrying our own identity: this is (a reaction to) our own mail.
    Loop,
    /// Empty `Return-Path`, MAILER-DAEMON, `X-Failed-Recipients`, `multipart/report`.
    Bounce,
    /// A sender that cannot receive mail (`noreply@…`, `postmaster@…`).
    NoReplyAddress,
    /// `X-Auto-Response-Suppress` asks for no automatic answers (Exchange).
    SuppressRequested,
    /// Too many acknowledgements to this sender today (set by the runtime).
    RateLimited,
}

impl Suppress {
    pub fn as_str(self) -> &'static str {
        match self {
            Suppress::AutoSubmitted => "auto_submitted",
            Suppress::Precedence => "precedence",
            Suppress::MailingList => "mailing_list",
            Suppress::Loop => "loop",
            Suppress::Bounce => "bounce",
            Suppress::NoReplyAddress => "noreply_address",
            Suppress::SuppressRequested => "auto_response_suppress",
            Suppress::RateLimited => "rate_limited",
        }
    }
}

/// Local parts (with `-`, `_`, `.` removed) of addresses that never read replies.
const NO_REPLY_LOCALS: &[&str] = &[
    "noreply",
    "donotreply",
    "dontreply",
    "noresponse",
    "postmaster",
    "mailerdaemon",
    "mailer",
    "bounce",
    "bounces",
    "notifications",
    "notification",
    "jangandibalas",
    "tidakperludibalas",
];

/// True for addresses like `no-reply@…`, `do_not_reply@…`, `MAILER-DAEMON@…`,
/// `bounces+123@…`.
pub fn is_no_reply_address(address: &str) -> bool {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    // `bounces+token@` / `noreply-abc@`: the tag after + is irrelevant.
    let local = local.split('+').next().unwrap_or(local);
    let folded: String = local
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    NO_REPLY_LOCALS.iter().any(|n| folded == *n)
        || folded.starts_with("noreply")
        || folded.starts_with("donotreply")
        || folded.starts_with("bounce")
}

fn first_token(v: &str) -> String {
    v.split([';', '(', ' ', '\t'])
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decide from the top-level headers (name, raw value) and the chosen sender.
///
/// `own_loop_id` is the `X-Loop` value our own replies carry.
pub fn suppress_reason(headers: &[(String, String)], sender: &str, own_loop_id: Option<&str>) -> Option<Suppress> {
    fn get<'h>(headers: &'h [(String, String)], name: &'static str) -> impl Iterator<Item = &'h str> {
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
    let get = |name: &'static str| get(headers, name);
    let has = |name: &'static str| get(name).next().is_some();
    if let Some(own) = own_loop_id.filter(|s| !s.is_empty()) {
        if get("X-Loop").any(|v| v.to_ascii_lowercase().contains(&own.to_ascii_lowercase())) {
            return Some(Suppress::Loop);
        }
    }
    if get("Auto-Submitted").any(|v| first_token(v) != "no") {
        return Some(Suppress::AutoSubmitted);
    }
    if has("X-Autoreply") || has("X-Autorespond") || has("X-Autoresponder") {
        return Some(Suppress::AutoSubmitted);
    }
    if get("Precedence").any(|v| matches!(first_token(v).as_str(), "bulk" | "list" | "junk" | "auto_reply")) {
        return Some(Suppress::Precedence);
    }
    if has("List-Id") || has("List-Unsubscribe") || has("List-Post") {
        return Some(Suppress::MailingList);
    }
    let null_return_path = get("Return-Path").any(|v| {
        let inner: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        inner == "<>" || inner.is_empty()
    });
    let report = get("Content-Type").any(|v| {
        let t = first_token(v);
        t == "multipart/report" || t == "message/delivery-status"
    });
    if null_return_path || has("X-Failed-Recipients") || report {
        return Some(Suppress::Bounce);
    }
    if is_no_reply_address(sender) {
        let local = sender.split('@').next().unwrap_or("").to_ascii_lowercase();
        return Some(if local.contains("daemon") || local.starts_with("postmaster") {
            Suppress::Bounce
        } else {
            Suppress::NoReplyAddress
        });
    }
    if get("X-Auto-Response-Suppress").any(|v| {
        v.split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .any(|t| matches!(t.as_str(), "all" | "autoreply" | "oof"))
    }) {
        return Some(Suppress::SuppressRequested);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn rfc3834_cases() {
        let me = Some("pintu@lapor.go.id");
        let s = "budi@example.com";
        assert_eq!(suppress_reason(&h(&[("Auto-Submitted", " no")]), s, me), None);
        assert_eq!(
            suppress_reason(&h(&[("Auto-Submitted", "auto-replied (vacation)")]), s, me),
            Some(Suppress::AutoSubmitted)
        );
        assert_eq!(
            suppress_reason(&h(&[("precedence", "Bulk")]), s, me),
            Some(Suppress::Precedence)
        );
        assert_eq!(
            suppress_reason(&h(&[("List-Unsubscribe", "<mailto:x@y>")]), s, me),
            Some(Suppress::MailingList)
        );
        assert_eq!(
            suppress_reason(&h(&[("X-Loop", "pintu@lapor.go.id")]), s, me),
            Some(Suppress::Loop)
        );
        // Someone else's X-Loop is not our loop.
        assert_eq!(suppress_reason(&h(&[("X-Loop", "helpdesk@other.org")]), s, me), None);
        assert_eq!(
            suppress_reason(&h(&[("Return-Path", "<>")]), s, me),
            Some(Suppress::Bounce)
        );
        assert_eq!(
            suppress_reason(
                &h(&[("Content-Type", "multipart/report; report-type=delivery-status")]),
                s,
                me
            ),
            Some(Suppress::Bounce)
        );
        assert_eq!(
            suppress_reason(&h(&[]), "MAILER-DAEMON@mx.example.com", me),
            Some(Suppress::Bounce)
        );
        assert_eq!(
            suppress_reason(&h(&[]), "no-reply@bank.example", me),
            Some(Suppress::NoReplyAddress)
        );
        assert_eq!(
            suppress_reason(&h(&[("X-Auto-Response-Suppress", "DR, OOF, AutoReply")]), s, me),
            Some(Suppress::SuppressRequested)
        );
        assert_eq!(suppress_reason(&h(&[("Subject", "x")]), s, me), None);
    }

    #[test]
    fn no_reply_addresses() {
        for a in [
            "noreply@x.id",
            "no_reply@x.id",
            "Do-Not-Reply@x.id",
            "bounces+1234@x.id",
            "postmaster@x.id",
            "noreply-dpt@x.id",
        ] {
            assert!(is_no_reply_address(a), "{a}");
        }
        for a in ["budi@x.id", "replyguy@x.id", "nora@x.id"] {
            assert!(!is_no_reply_address(a), "{a}");
        }
    }
}
