//! The one expectation type every webhook case states, and its check against
//! an [`Outcome`].
//!
//! SMS cases are written in code and mostly use [`Expect::Message`] (typed
//! fields of the single message); the social fixtures are JSON and use
//! [`Expect::Messages`] (a JSON [`subset`] of the serialised messages). The
//! other variants are shared as they are: a refused request, a malformed one,
//! an ignored event, a batch with skipped items, a protocol answer.

use pintu_channels::{Parsed, Segment, SenderKind};
use serde_json::Value;

use crate::request::Outcome;

/// What a webhook case must produce.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Exactly one message, from the adapter's own provider, with these fields.
    Message {
        from: String,
        kind: SenderKind,
        text: String,
        external_id: Option<String>,
        segment: Option<Segment>,
    },
    /// Messages whose serialised list contains this JSON ([`subset`]).
    Messages(Value),
    /// Authentication fails with this HTTP status.
    Auth(u16),
    /// Authentication passes, parsing fails, and the error mentions `needle`
    /// (ignoring case when `any_case`).
    Malformed { needle: String, any_case: bool },
    /// A valid event that is no citizen message; the reason mentions the
    /// needle, when one is given.
    Ignored(Option<String>),
    /// A batch with skipped items: one reason mentions `needle`, `count` (when
    /// given) is the number skipped, and the kept messages match `messages`
    /// ([`subset`]), or are none when it is absent.
    Skipped {
        needle: String,
        count: Option<u64>,
        messages: Option<Value>,
    },
    /// This exact protocol answer.
    Respond { status: u16, body: String },
}

impl Expect {
    /// One message from a phone number, with no concatenation segment.
    pub fn msisdn(from: &str, text: &str, external_id: Option<&str>) -> Expect {
        Expect::message(from, SenderKind::Msisdn, text, external_id, None)
    }

    pub fn message(
        from: &str,
        kind: SenderKind,
        text: &str,
        external_id: Option<&str>,
        segment: Option<Segment>,
    ) -> Expect {
        Expect::Message {
            from: from.to_string(),
            kind,
            text: text.to_string(),
            external_id: external_id.map(str::to_string),
            segment,
        }
    }

    /// The parse error mentions `needle`, case as written.
    pub fn malformed(needle: &str) -> Expect {
        Expect::Malformed {
            needle: needle.to_string(),
            any_case: false,
        }
    }

    /// Whether `got`, from an adapter named `provider`, is what was expected.
    pub fn check(&self, got: &Outcome, provider: &str) -> Result<(), String> {
        let parsed = match (self, got) {
            (Expect::Auth(status), Outcome::Refused(e)) if e.status() == *status => return Ok(()),
            (Expect::Auth(status), _) => return Err(format!("expected auth error {status}, got {got:?}")),
            (_, Outcome::Refused(e)) => return Err(format!("authentication failed ({}): {e}", e.status())),
            (_, Outcome::Parsed(p)) => p,
        };
        match (self, parsed) {
            (Expect::Malformed { needle, any_case }, Err(e)) => {
                let msg = e.to_string();
                let found = if *any_case {
                    msg.to_lowercase().contains(&needle.to_lowercase())
                } else {
                    msg.contains(needle.as_str())
                };
                found
                    .then_some(())
                    .ok_or_else(|| format!("expected an error containing {needle:?}, got {e:?} ({msg})"))
            }
            (Expect::Ignored(needle), Ok(Parsed::Ignored(reason))) => match needle {
                Some(n) if !reason.contains(n.as_str()) => Err(format!("ignored ({reason}), expected {n:?}")),
                _ => Ok(()),
            },
            (
                Expect::Message {
                    from,
                    kind,
                    text,
                    external_id,
                    segment,
                },
                Ok(Parsed::Messages(m)),
            ) => {
                let ok = m.len() == 1
                    && m[0].sender.address == *from
                    && m[0].sender.kind == *kind
                    && m[0].text == *text
                    && m[0].external_id == *external_id
                    && m[0].segment == *segment
                    && m[0].provider == provider;
                ok.then_some(())
                    .ok_or_else(|| format!("expected {self:?} from {provider}, got {m:?}"))
            }
            (Expect::Messages(want), Ok(Parsed::Messages(m))) => subset(want, &to_json(m)?, "messages"),
            (
                Expect::Skipped {
                    needle,
                    count,
                    messages: want,
                },
                Ok(Parsed::Batch {
                    messages,
                    skipped,
                    skipped_total,
                }),
            ) => {
                if !skipped.iter().any(|r| r.contains(needle.as_str())) {
                    return Err(format!("skipped {skipped:?}, expected one about {needle:?}"));
                }
                if let Some(n) = count {
                    if *skipped_total as u64 != *n {
                        return Err(format!("{skipped_total} skipped, expected {n}: {skipped:?}"));
                    }
                }
                match want {
                    Some(want) => subset(want, &to_json(messages)?, "messages"),
                    None if messages.is_empty() => Ok(()),
                    None => Err(format!("unexpected messages {messages:?}")),
                }
            }
            (Expect::Respond { status, body }, Ok(Parsed::Respond(r))) if r.status == *status && r.body == *body => {
                Ok(())
            }
            _ => Err(format!("expected {self:?}, got {parsed:?}")),
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| format!("cannot serialise the outcome: {e}"))
}

/// `expected` is contained in `actual`: objects by the keys given, arrays
/// element-wise with equal length, scalars equal.
pub fn subset(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let Some(av) = a.get(k) else {
                    return Err(format!("{path}.{k}: missing (actual {actual})"));
                };
                subset(v, av, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("{path}: {} items expected, got {}: {actual}", e.len(), a.len()));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(ev, av, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{path}: expected {e}, got {a}")),
    }
}

/// The subset check itself must be able to fail, or every table passes.
#[test]
fn subset_detects_differences() {
    let actual = serde_json::json!({"a": 1, "b": [1, 2], "c": {"d": "x"}});
    assert!(subset(&serde_json::json!({"a": 1, "c": {}}), &actual, "").is_ok());
    assert!(subset(&serde_json::json!({"a": 2}), &actual, "").is_err());
    assert!(subset(&serde_json::json!({"b": [1]}), &actual, "").is_err());
    assert!(subset(&serde_json::json!({"z": null}), &actual, "").is_err());
}

/// Each kind of expectation refuses an outcome of another kind, and a refusal
/// with the wrong status.
#[test]
fn expectations_detect_differences() {
    use pintu_channels::{AdapterError, AuthError};
    let refused = Outcome::Refused(AuthError::Missing("token"));
    let malformed = Outcome::Parsed(Err(AdapterError::MissingField("from")));
    let ignored = Outcome::Parsed(Ok(Parsed::Ignored("delivery receipt".into())));
    let none = Outcome::Parsed(Ok(Parsed::Messages(vec![])));
    assert!(Expect::Auth(401).check(&refused, "p").is_ok());
    assert!(Expect::Auth(403).check(&refused, "p").is_err());
    assert!(Expect::Auth(401).check(&ignored, "p").is_err());
    assert!(Expect::malformed("from").check(&malformed, "p").is_ok());
    assert!(Expect::malformed("From").check(&malformed, "p").is_err());
    let any_case = Expect::Malformed {
        needle: "From".into(),
        any_case: true,
    };
    assert!(any_case.check(&malformed, "p").is_ok());
    assert!(Expect::malformed("from").check(&refused, "p").is_err());
    assert!(Expect::Ignored(None).check(&ignored, "p").is_ok());
    assert!(Expect::Ignored(Some("receipt".into())).check(&ignored, "p").is_ok());
    assert!(Expect::Ignored(Some("echo".into())).check(&ignored, "p").is_err());
    assert!(Expect::Ignored(None).check(&malformed, "p").is_err());
    assert!(Expect::Messages(serde_json::json!([])).check(&none, "p").is_ok());
    assert!(Expect::msisdn("+62", "x", None).check(&none, "p").is_err());
    let answer = Outcome::Parsed(Ok(Parsed::Respond(pintu_channels::WebResponse::text(200, "ok"))));
    let respond = |body: &str| Expect::Respond {
        status: 200,
        body: body.into(),
    };
    assert!(respond("ok").check(&answer, "p").is_ok());
    assert!(respond("no").check(&answer, "p").is_err());
}
