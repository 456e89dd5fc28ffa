//! Table-driven tests of the social adapters against the platforms' documented
//! payloads in `tests/fixtures/social/` (format in its README).

use std::path::PathBuf;

use http::{HeaderMap, HeaderValue, Method, Uri};
use pintu_channels::auth::hmac_sha256;
use pintu_channels::social::meta::{MetaProducts, MetaWebhook};
use pintu_channels::social::telegram::TelegramWebhook;
use pintu_channels::social::x::{self, parse_mentions_page, XAccount, XWebhook};
use pintu_channels::{Parsed, Secret, WebRequest, WebhookAdapter};
use serde_json::Value;

const META_SECRET: &str = "meta-app-secret";
const META_VERIFY: &str = "meta-verify-token";
const TG_SECRET: &str = "tg-secret_token-1";
const X_SECRET: &str = "x-consumer-secret";

fn account() -> XAccount {
    XAccount {
        user_id: "1708170817081708".into(),
        username: "lapor1708".into(),
    }
}

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/social")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `expected` is contained in `actual`: objects by the keys given, arrays
/// element-wise with equal length, scalars equal.
fn subset(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
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

fn adapter(kind: &str) -> Box<dyn WebhookAdapter> {
    match kind {
        "meta" => Box::new(MetaWebhook::new(
            Secret::new(META_VERIFY),
            Secret::new(META_SECRET),
            MetaProducts {
                whatsapp: true,
                facebook: true,
                instagram: true,
            },
        )),
        "telegram" => Box::new(TelegramWebhook::new(Secret::new(TG_SECRET))),
        "x_webhook" => Box::new(XWebhook::new(account(), Secret::new(X_SECRET))),
        other => panic!("unknown adapter {other}"),
    }
}

/// The header a platform would send for this body (`good`) or a wrong one.
fn sign(kind: &str, body: &[u8], good: bool) -> (&'static str, String) {
    let (meta, tg, xs) = if good {
        (META_SECRET, TG_SECRET, X_SECRET)
    } else {
        ("wrong-secret", "wrong-token", "wrong-secret")
    };
    match kind {
        "meta" => (
            "x-hub-signature-256",
            format!("sha256={}", hex(&hmac_sha256(meta.as_bytes(), body))),
        ),
        "telegram" => ("x-telegram-bot-api-secret-token", tg.to_string()),
        "x_webhook" => ("x-twitter-webhooks-signature", x::signature(xs, body)),
        other => panic!("unknown adapter {other}"),
    }
}

fn run_webhook_case(kind: &str, case: &Value) -> Result<(), String> {
    let req = &case["request"];
    let method: Method = req["method"].as_str().unwrap_or("POST").parse().unwrap();
    let body: Vec<u8> = match (&req["body"], &req["raw_body"]) {
        (Value::Null, Value::String(s)) => s.as_bytes().to_vec(),
        (Value::Null, _) => Vec::new(),
        (b, _) => serde_json::to_vec(b).unwrap(),
    };
    let query = req["query"].as_str().unwrap_or("");
    let uri: Uri = format!("/webhooks/test?{query}").parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let signing = match &req["sign"] {
        Value::Bool(false) => None,
        Value::String(s) if s == "bad" => Some(false),
        _ => (method == Method::POST).then_some(true),
    };
    if let Some(good) = signing {
        let (name, value) = sign(kind, &body, good);
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    let web = WebRequest {
        method: &method,
        uri: &uri,
        public_url: "https://pintu.example.go.id/webhooks/test",
        headers: &headers,
        body: &body,
        remote: None,
    };
    let a = adapter(kind);
    let expect = &case["expect"];
    let auth = a.authenticate(&web);
    if let Some(status) = expect["auth_error"].as_u64() {
        return match auth {
            Err(e) if u64::from(e.status()) == status => Ok(()),
            other => Err(format!("expected auth error {status}, got {other:?}")),
        };
    }
    auth.map_err(|e| format!("authentication failed: {e}"))?;
    let parsed = a.parse(&web);
    if let Some(needle) = expect["error"].as_str() {
        return match parsed {
            Err(e) if e.to_string().to_lowercase().contains(&needle.to_lowercase()) => Ok(()),
            other => Err(format!("expected an error containing {needle:?}, got {other:?}")),
        };
    }
    match parsed.map_err(|e| format!("parse failed: {e}"))? {
        Parsed::Messages(msgs) => {
            let want = expect.get("messages").ok_or(format!("unexpected messages {msgs:?}"))?;
            subset(want, &serde_json::to_value(&msgs).unwrap(), "messages")
        }
        Parsed::Ignored(reason) => match expect["ignored"].as_str() {
            Some(needle) if reason.contains(needle) => Ok(()),
            _ => Err(format!("ignored ({reason}), expected {expect}")),
        },
        // Some items skipped: `skipped` names what one of them lacked, and
        // `messages` (possibly empty) are the ones kept.
        Parsed::Batch {
            messages,
            skipped,
            skipped_total,
        } => {
            let needle = expect["skipped"]
                .as_str()
                .ok_or(format!("unexpected skipped items {skipped:?}"))?;
            if !skipped.iter().any(|r| r.contains(needle)) {
                return Err(format!("skipped {skipped:?}, expected one about {needle:?}"));
            }
            if let Some(n) = expect["skipped_count"].as_u64() {
                if skipped_total as u64 != n {
                    return Err(format!("{skipped_total} skipped, expected {n}: {skipped:?}"));
                }
            }
            match expect.get("messages") {
                Some(want) => subset(want, &serde_json::to_value(&messages).unwrap(), "messages"),
                None if messages.is_empty() => Ok(()),
                None => Err(format!("unexpected messages {messages:?}")),
            }
        }
        Parsed::Respond(r) => {
            let want = &expect["respond"];
            if want["status"].as_u64() == Some(u64::from(r.status)) && want["body"].as_str() == Some(r.body.as_str()) {
                Ok(())
            } else {
                Err(format!("responded {r:?}, expected {want}"))
            }
        }
    }
}

fn run_mentions_case(case: &Value) -> Result<(), String> {
    let body = serde_json::to_vec(&case["page"]).unwrap();
    let expect = &case["expect"];
    let parsed = parse_mentions_page(&body, &account());
    if let Some(needle) = expect["error"].as_str() {
        return match parsed {
            Err(e) if e.to_string().contains(needle) => Ok(()),
            other => Err(format!("expected an error containing {needle:?}, got {other:?}")),
        };
    }
    let page = parsed.map_err(|e| format!("parse failed: {e}"))?;
    subset(
        &expect["messages"],
        &serde_json::to_value(&page.messages).unwrap(),
        "messages",
    )?;
    let skipped: Vec<Value> = page
        .skipped
        .iter()
        .map(|s| serde_json::json!([s.id, s.reason]))
        .collect();
    subset(&expect["skipped"], &Value::Array(skipped), "skipped")?;
    subset(&expect["next_token"], &serde_json::json!(page.next_token), "next_token")?;
    subset(&expect["newest_id"], &serde_json::json!(page.newest_id), "newest_id")
}

fn run_file(name: &str) {
    let file = load(name);
    let kind = file["adapter"].as_str().unwrap().to_string();
    let cases = file["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "{name}: no cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let result = if kind == "x_mentions" {
                run_mentions_case(case)
            } else {
                run_webhook_case(&kind, case)
            };
            result.err().map(|e| format!("{name} / {}: {e}", case["name"]))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn whatsapp_fixtures() {
    run_file("whatsapp.json");
}

#[test]
fn messenger_fixtures() {
    run_file("messenger.json");
}

#[test]
fn instagram_fixtures() {
    run_file("instagram.json");
}

#[test]
fn telegram_fixtures() {
    run_file("telegram.json");
}

#[test]
fn x_webhook_fixtures() {
    run_file("x_webhook.json");
}

#[test]
fn x_mentions_fixtures() {
    run_file("x_mentions.json");
}

/// The subset check itself must be able to fail, or every table above passes.
#[test]
fn subset_detects_differences() {
    let actual = serde_json::json!({"a": 1, "b": [1, 2], "c": {"d": "x"}});
    assert!(subset(&serde_json::json!({"a": 1, "c": {}}), &actual, "").is_ok());
    assert!(subset(&serde_json::json!({"a": 2}), &actual, "").is_err());
    assert!(subset(&serde_json::json!({"b": [1]}), &actual, "").is_err());
    assert!(subset(&serde_json::json!({"z": null}), &actual, "").is_err());
}

/// Hostile bodies never panic: truncations and byte flips of every fixture.
#[test]
fn mangled_bodies_do_not_panic() {
    for (name, kind) in [
        ("whatsapp.json", "meta"),
        ("messenger.json", "meta"),
        ("instagram.json", "meta"),
        ("telegram.json", "telegram"),
        ("x_webhook.json", "x_webhook"),
    ] {
        let a = adapter(kind);
        for case in load(name)["cases"].as_array().unwrap() {
            let body = serde_json::to_vec(&case["request"]["body"]).unwrap();
            for cut in (0..body.len()).step_by(7) {
                let mut b = body[..cut].to_vec();
                if let Some(x) = b.last_mut() {
                    *x ^= 0x20;
                }
                let method = Method::POST;
                let uri: Uri = "/webhooks/test".parse().unwrap();
                let headers = HeaderMap::new();
                let web = WebRequest {
                    method: &method,
                    uri: &uri,
                    public_url: "",
                    headers: &headers,
                    body: &b,
                    remote: None,
                };
                let _ = a.parse(&web);
            }
        }
        let mentions = serde_json::to_vec(&load("x_mentions.json")["cases"][0]["page"]).unwrap();
        for cut in 0..mentions.len() {
            let _ = parse_mentions_page(&mentions[..cut], &account());
        }
    }
}

proptest::proptest! {
    /// Any text, id or name in otherwise well-formed payloads: no panic, and
    /// whatever is taken in keeps the platform's ids.
    #[test]
    fn arbitrary_field_values_do_not_panic(text in "\\PC{0,300}", id in "\\PC{0,40}", name in "\\PC{0,40}") {
        let page = serde_json::json!({
            "data": [{"id": id, "text": text, "author_id": "42"}, {"id": "7", "text": text, "author_id": id,
              "referenced_tweets": [{"type": "retweeted", "id": id}]}],
            "includes": {"users": [{"id": "42", "name": name, "username": name}]},
            "meta": {"result_count": 2}
        });
        let _ = parse_mentions_page(&serde_json::to_vec(&page).unwrap(), &account());
        let bodies = [
            ("meta", serde_json::json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": id}, "contacts": [{"wa_id": id, "profile": {"name": name}}],
                "messages": [{"from": id, "id": id, "type": "text", "text": {"body": text}}]}}]}]})),
            ("meta", serde_json::json!({"object": "page", "entry": [{"messaging": [{"sender": {"id": id}, "recipient": {"id": name},
                "message": {"mid": id, "text": text, "attachments": [{"type": name, "payload": {"url": text}}]}}]}]})),
            ("telegram", serde_json::json!({"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": name},
                "from": {"id": 2, "first_name": name, "username": id}, "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": text.len() % 7}]}})),
            ("x_webhook", serde_json::json!({"for_user_id": "1708170817081708", "tweet_create_events": [
                {"id_str": id, "text": text, "user": {"id_str": "9", "screen_name": name}, "created_at": name}]})),
        ];
        for (kind, body) in bodies {
            let a = adapter(kind);
            let body = serde_json::to_vec(&body).unwrap();
            let method = Method::POST;
            let uri: Uri = "/webhooks/test".parse().unwrap();
            let headers = HeaderMap::new();
            let web = WebRequest { method: &method, uri: &uri, public_url: "", headers: &headers, body: &body, remote: None };
            if let Ok(Parsed::Messages(msgs)) = a.parse(&web) {
                for m in msgs {
                    proptest::prop_assert!(m.external_id.is_some());
                    proptest::prop_assert!(!m.sender.address.is_empty());
                }
            }
        }
    }
}
