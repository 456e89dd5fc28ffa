//! Message-IDs of our acknowledgements, and mapping a citizen's reply back to
//! the complaint it answers without keeping any state.
//!
//! An acknowledgement is sent with `Message-ID: <ack.LPR-7K3Q9X.<reply id>@<domain>>`.
//! A mail client answering it puts that id into `In-Reply-To`/`References`,
//! so even when the citizen edits the subject (removing the `[LPR-…]`) we can
//! read the tracking code straight out of the header. The runtime still checks
//! that the code was issued by us before linking, so a forged header can at
//! worst link to a code the sender already knows.

/// The Message-ID (without angle brackets) of an acknowledgement.
pub fn ack_message_id(tracking: &str, reply_id: &str, domain: &str) -> String {
    let unique: String = reply_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect();
    format!("ack.{tracking}.{unique}@{domain}")
}

/// The tracking code inside one of our acknowledgement Message-IDs.
pub fn tracking_from_message_id(id: &str, domain: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, host) = id.rsplit_once('@')?;
    if !host.eq_ignore_ascii_case(domain) {
        return None;
    }
    let rest = local.strip_prefix("ack.")?;
    let code = rest.split('.').next()?;
    let upper = code.to_ascii_uppercase();
    let well_formed = upper.len() == 10
        && upper.starts_with("LPR-")
        && upper[4..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    well_formed.then_some(upper)
}

/// Split a `References`/`In-Reply-To` value into ids (without brackets).
pub fn message_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start + 1..].find('>') else { break };
        let id = rest[start + 1..start + 1 + len].trim();
        if !id.is_empty() && id.len() <= 998 && !id.contains(char::is_whitespace) {
            ids.push(id.to_string());
        }
        rest = &rest[start + 1 + len + 1..];
    }
    if ids.is_empty() && !value.contains('<') {
        // Some clients omit the brackets.
        ids.extend(
            value
                .split_whitespace()
                .filter(|s| s.contains('@') && s.len() <= 998)
                .map(str::to_string),
        );
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let id = ack_message_id("LPR-7K3Q9X", "01JABCDEF", "lapor.go.id");
        assert_eq!(id, "ack.LPR-7K3Q9X.01jabcdef@lapor.go.id");
        assert_eq!(
            tracking_from_message_id(&format!("<{id}>"), "lapor.go.id").as_deref(),
            Some("LPR-7K3Q9X")
        );
        assert_eq!(tracking_from_message_id(&id, "evil.example"), None);
        assert_eq!(
            tracking_from_message_id("<ack.LPR-12@lapor.go.id>", "lapor.go.id"),
            None
        );
        assert_eq!(tracking_from_message_id("<CAF123@mail.gmail.com>", "lapor.go.id"), None);
    }

    #[test]
    fn splits_reference_lists() {
        assert_eq!(message_ids("<a@b> <c@d>\r\n <e@f>"), vec!["a@b", "c@d", "e@f"]);
        assert_eq!(message_ids("a@b"), vec!["a@b"]);
        assert!(message_ids("<unterminated@x").is_empty());
    }
}
