//! Social platforms (Meta's WhatsApp, Messenger and Instagram, Telegram, X):
//! the platforms' documented payloads in `tests/fixtures/social/*.json`, one
//! file per platform (format in its README), turned into the same
//! [`WebhookCase`]s the SMS rows are. `x_mentions.json` feeds the X
//! mentions-page parser, which is polled rather than called, so its cases have
//! their own check. Robustness (mangled bodies, arbitrary field values) and
//! the WhatsApp contact-name lookup are tests of their own below.

use http::Method;
use pintu_channels::auth::hmac_sha256;
use pintu_channels::social::meta::{MetaProducts, MetaWebhook};
use pintu_channels::social::telegram::TelegramWebhook;
use pintu_channels::social::x::{self, parse_mentions_page, XAccount, XWebhook};
use pintu_channels::{Parsed, Secret, WebhookAdapter};
use serde_json::{json, Value};

use crate::common::{files, fixtures, read_json, Table, WebhookCase};
use crate::expect::{subset, Expect};
use crate::request::Request;

const META_SECRET: &str = "meta-app-secret";
const META_VERIFY: &str = "meta-verify-token";
const TG_SECRET: &str = "tg-secret_token-1";
const X_SECRET: &str = "x-consumer-secret";
const PUBLIC_URL: &str = "https://pintu.example.go.id/webhooks/test";

/// The files that must be there: a platform's file going missing fails,
/// rather than silently running fewer cases. Any other file in the directory
/// runs too.
const PLATFORM_FILES: [&str; 6] = [
    "whatsapp.json",
    "messenger.json",
    "instagram.json",
    "telegram.json",
    "x_webhook.json",
    "x_mentions.json",
];

/// The file's `adapter` naming the mentions-page parser, not a webhook.
const MENTIONS: &str = "x_mentions";

fn account() -> XAccount {
    XAccount {
        user_id: "1708170817081708".into(),
        username: "lapor1708".into(),
    }
}

/// The adapter a fixture file's `adapter` names, with the test credentials.
fn adapter(kind: &str) -> Result<Box<dyn WebhookAdapter>, String> {
    Ok(match kind {
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
        other => return Err(format!("unknown social adapter {other}")),
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The header a platform would send for this body (`good`) or a wrong one.
fn sign(kind: &str, body: &[u8], good: bool) -> Result<(&'static str, String), String> {
    let (meta, tg, xs) = if good {
        (META_SECRET, TG_SECRET, X_SECRET)
    } else {
        ("wrong-secret", "wrong-token", "wrong-secret")
    };
    Ok(match kind {
        "meta" => (
            "x-hub-signature-256",
            format!("sha256={}", hex(&hmac_sha256(meta.as_bytes(), body))),
        ),
        "telegram" => ("x-telegram-bot-api-secret-token", tg.to_string()),
        "x_webhook" => ("x-twitter-webhooks-signature", x::signature(xs, body)),
        other => return Err(format!("no signing scheme for {other}")),
    })
}

/// Keys of `v` outside `allowed`: a misspelt key would otherwise be ignored
/// and the case would check less than it says.
fn only_keys(v: &Value, allowed: &[&str], what: &str) -> Result<(), String> {
    let obj = v.as_object().ok_or(format!("{what} is not an object"))?;
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{what}: unknown key {k:?}")),
        None => Ok(()),
    }
}

/// A fixture's `request`: POSTs signed as the platform would, unless `sign`
/// says `"bad"` (the wrong key) or `false` (no signature).
fn request(kind: &str, req: &Value) -> Result<Request, String> {
    only_keys(req, &["method", "body", "raw_body", "query", "sign"], "request")?;
    let method: Method = req["method"]
        .as_str()
        .unwrap_or("POST")
        .parse()
        .map_err(|e| format!("method: {e}"))?;
    let body: Vec<u8> = match (&req["body"], &req["raw_body"]) {
        (Value::Null, Value::String(s)) => s.as_bytes().to_vec(),
        (Value::Null, _) => Vec::new(),
        (b, _) => serde_json::to_vec(b).map_err(|e| format!("body: {e}"))?,
    };
    let query = req["query"].as_str().unwrap_or("");
    let signing = match &req["sign"] {
        Value::Bool(false) => None,
        Value::String(s) if s == "bad" => Some(false),
        Value::Null | Value::Bool(true) => (method == Method::POST).then_some(true),
        other => return Err(format!("sign: {other} is neither \"bad\" nor a boolean")),
    };
    let mut r = Request::new(method, format!("/webhooks/test?{query}"))
        .public_url(PUBLIC_URL)
        .header("content-type", "application/json");
    if let Some(good) = signing {
        let (name, value) = sign(kind, &body, good)?;
        r = r.header(name, value);
    }
    Ok(r.body(body))
}

/// A fixture's `expect` (keys in the README) as the shared [`Expect`].
fn expectation(e: &Value) -> Result<Expect, String> {
    const OUTCOMES: [&str; 6] = ["auth_error", "error", "skipped", "ignored", "respond", "messages"];
    only_keys(e, &[&OUTCOMES[..], &["skipped_count"]].concat(), "expect")?;
    let named: Vec<&str> = OUTCOMES.into_iter().filter(|k| e.get(k).is_some()).collect();
    let text = |key: &str| {
        e[key]
            .as_str()
            .map(str::to_string)
            .ok_or(format!("{key} is not a string"))
    };
    // A batch states its kept messages beside what was skipped; any other
    // outcome is stated alone.
    match named.as_slice() {
        ["auth_error"] => {
            let status = e["auth_error"].as_u64().and_then(|s| u16::try_from(s).ok());
            status.map(Expect::Auth).ok_or("auth_error is not a status".into())
        }
        ["error"] => Ok(Expect::Malformed {
            needle: text("error")?,
            any_case: true,
        }),
        ["skipped"] | ["skipped", "messages"] => Ok(Expect::Skipped {
            needle: text("skipped")?,
            count: e["skipped_count"].as_u64(),
            messages: e.get("messages").cloned(),
        }),
        _ if e.get("skipped_count").is_some() => Err("skipped_count without skipped".into()),
        ["ignored"] => Ok(Expect::Ignored(Some(text("ignored")?))),
        ["respond"] => {
            let r = &e["respond"];
            let status = r["status"].as_u64().and_then(|s| u16::try_from(s).ok());
            match (status, r["body"].as_str()) {
                (Some(status), Some(body)) => Ok(Expect::Respond {
                    status,
                    body: body.to_string(),
                }),
                _ => Err(format!("respond needs a status and a body: {r}")),
            }
        }
        ["messages"] => Ok(Expect::Messages(e["messages"].clone())),
        [] => Err("expect names no outcome".into()),
        many => Err(format!("expect names more than one outcome: {many:?}")),
    }
}

/// One platform's fixture file.
struct FixtureFile {
    name: String,
    /// The adapter kind ([`adapter`]), or [`MENTIONS`].
    adapter: String,
    cases: Vec<Value>,
}

/// Every fixture file; unreadable files and missing platforms are `Err`, one
/// per problem.
fn fixture_files() -> Vec<Result<FixtureFile, String>> {
    let dir = fixtures("social");
    let names = match files(&dir, ".json") {
        Ok(n) => n,
        Err(e) => return vec![Err(e)],
    };
    let mut out: Vec<_> = PLATFORM_FILES
        .iter()
        .filter(|f| !names.iter().any(|n| n == *f))
        .map(|f| Err(format!("{f}: missing")))
        .collect();
    for name in names {
        let file = match read_json(&dir.join(&name)) {
            Ok(f) => f,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        match (file["adapter"].as_str(), file["cases"].as_array()) {
            (Some(_), Some(c)) if c.is_empty() => out.push(Err(format!("{name}: no cases"))),
            (Some(kind), Some(c)) => out.push(Ok(FixtureFile {
                name: name.clone(),
                adapter: kind.to_string(),
                cases: c.clone(),
            })),
            _ => out.push(Err(format!("{name}: needs \"adapter\" and \"cases\""))),
        }
    }
    out
}

/// One fixture case of a platform whose adapter is `kind`.
fn webhook_case(kind: &str, case: &Value) -> Result<WebhookCase, String> {
    only_keys(case, &["name", "request", "expect"], "case")?;
    Ok(WebhookCase {
        adapter: kind.to_string(),
        request: request(kind, &case["request"])?,
        expect: expectation(&case["expect"])?,
    })
}

fn case_name(file: &str, case: &Value) -> String {
    format!("{file} / {}", case["name"].as_str().unwrap_or("(unnamed)"))
}

/// Every webhook fixture of every platform, through the shared runner.
#[test]
fn every_social_webhook_case() {
    let mut table = Table::new("social webhooks");
    for file in fixture_files() {
        let FixtureFile {
            name,
            adapter: kind,
            cases,
        } = match file {
            Ok(f) if f.adapter == MENTIONS => continue,
            Ok(f) => f,
            Err(e) => {
                table.broken("social fixtures", e);
                continue;
            }
        };
        for case in &cases {
            match webhook_case(&kind, case) {
                Ok(c) => table.push(case_name(&name, case), c),
                Err(e) => table.broken(case_name(&name, case), e),
            }
        }
    }
    table.run_webhooks(adapter);
}

/// A mentions page and what `parse_mentions_page` must make of it: `error`
/// (a substring), or all of `messages`, `skipped` (`[id, reason]` pairs),
/// `next_token` and `newest_id`.
fn check_mentions(case: &Value) -> Result<(), String> {
    only_keys(case, &["name", "page", "expect"], "case")?;
    let keys = ["error", "messages", "skipped", "next_token", "newest_id"];
    only_keys(&case["expect"], &keys, "expect")?;
    let body = serde_json::to_vec(&case["page"]).map_err(|e| e.to_string())?;
    let expect = &case["expect"];
    let parsed = parse_mentions_page(&body, &account());
    if let Some(needle) = expect["error"].as_str() {
        return match parsed {
            Err(e) if e.to_string().contains(needle) => Ok(()),
            other => Err(format!("expected an error containing {needle:?}, got {other:?}")),
        };
    }
    let page = parsed.map_err(|e| format!("parse failed: {e}"))?;
    let messages = serde_json::to_value(&page.messages).map_err(|e| e.to_string())?;
    subset(&expect["messages"], &messages, "messages")?;
    let skipped: Vec<Value> = page.skipped.iter().map(|s| json!([s.id, s.reason])).collect();
    subset(&expect["skipped"], &Value::Array(skipped), "skipped")?;
    subset(&expect["next_token"], &json!(page.next_token), "next_token")?;
    subset(&expect["newest_id"], &json!(page.newest_id), "newest_id")
}

/// The X mentions pages, through the shared runner and report.
#[test]
fn every_x_mentions_case() {
    let mut table = Table::new("x mentions");
    for file in fixture_files() {
        match file {
            Ok(f) if f.adapter == MENTIONS => {
                for case in f.cases {
                    table.push(case_name(&f.name, &case), case);
                }
            }
            Ok(_) => {}
            Err(e) => table.broken("social fixtures", e),
        }
    }
    table.run(check_mentions);
}

/// Hostile bodies never panic: truncations and byte flips of every fixture.
#[test]
fn mangled_bodies_do_not_panic() {
    let mut mentions = Vec::new();
    for file in fixture_files() {
        let FixtureFile {
            adapter: kind, cases, ..
        } = file.unwrap_or_else(|e| panic!("{e}"));
        if kind == MENTIONS {
            mentions.push(serde_json::to_vec(&cases[0]["page"]).unwrap_or_default());
            continue;
        }
        let a = adapter(&kind).unwrap_or_else(|e| panic!("{e}"));
        for case in &cases {
            // As the fixture states the body; a raw body's case gives `null`.
            let body = serde_json::to_vec(&case["request"]["body"]).unwrap_or_default();
            for cut in (0..body.len()).step_by(7) {
                let mut b = body[..cut].to_vec();
                if let Some(x) = b.last_mut() {
                    *x ^= 0x20;
                }
                let req = Request::post("/webhooks/test").public_url("").body(b);
                let _ = req.with_web(|web| a.parse(web));
            }
        }
    }
    assert!(!mentions.is_empty(), "no mentions page to mangle");
    for page in mentions {
        for cut in 0..page.len() {
            let _ = parse_mentions_page(&page[..cut], &account());
        }
    }
}

proptest::proptest! {
    /// Any text, id or name in otherwise well-formed payloads: no panic, and
    /// whatever is taken in keeps the platform's ids.
    #[test]
    fn arbitrary_field_values_do_not_panic(text in "\\PC{0,300}", id in "\\PC{0,40}", name in "\\PC{0,40}") {
        let page = json!({
            "data": [{"id": id, "text": text, "author_id": "42"}, {"id": "7", "text": text, "author_id": id,
              "referenced_tweets": [{"type": "retweeted", "id": id}]}],
            "includes": {"users": [{"id": "42", "name": name, "username": name}]},
            "meta": {"result_count": 2}
        });
        let _ = parse_mentions_page(page.to_string().as_bytes(), &account());
        let bodies = [
            ("meta", json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": id}, "contacts": [{"wa_id": id, "profile": {"name": name}}],
                "messages": [{"from": id, "id": id, "type": "text", "text": {"body": text}}]}}]}]})),
            ("meta", json!({"object": "page", "entry": [{"messaging": [{"sender": {"id": id}, "recipient": {"id": name},
                "message": {"mid": id, "text": text, "attachments": [{"type": name, "payload": {"url": text}}]}}]}]})),
            ("telegram", json!({"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": name},
                "from": {"id": 2, "first_name": name, "username": id}, "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": text.len() % 7}]}})),
            ("x_webhook", json!({"for_user_id": "1708170817081708", "tweet_create_events": [
                {"id_str": id, "text": text, "user": {"id_str": "9", "screen_name": name}, "created_at": name}]})),
        ];
        for (kind, body) in bodies {
            let a = adapter(kind).map_err(proptest::test_runner::TestCaseError::fail)?;
            let req = Request::post("/webhooks/test").public_url("").body(body.to_string());
            if let Ok(Ok(Parsed::Messages(msgs))) = req.with_web(|web| a.parse(web)) {
                for m in msgs {
                    proptest::prop_assert!(m.external_id.is_some());
                    proptest::prop_assert!(!m.sender.address.is_empty());
                }
            }
        }
    }
}

/// WhatsApp profile names: which contact of a change names which sender.
///
/// The names are looked up once per change (a scan of the contacts for every
/// message was quadratic: 2,600 contacts and messages took 525 ms in the
/// `social` fuzz target, whose time bound for that size is 268 ms). The
/// first contact of an id names it; a lone contact names every sender.
#[test]
fn whatsapp_first_contact_of_an_id_and_a_lone_contact_name_senders() {
    let message =
        |from: &str, id: &str| json!({"from": from, "id": id, "type": "text", "text": {"body": "Lampu jalan mati"}});
    let change = |contacts: Value, messages: Vec<Value>| {
        json!({"field": "messages", "value": {
            "metadata": {"phone_number_id": "106540352242922"},
            "contacts": contacts,
            "messages": messages,
        }})
    };
    let body = json!({"object": "whatsapp_business_account", "entry": [{"changes": [
        change(
            json!([
                {"wa_id": "6281100000001", "profile": {"name": "Ani"}},
                {"wa_id": "6282200000002", "profile": {"name": "Budi"}},
                {"wa_id": "6281100000001", "profile": {"name": "Other"}},
                {"wa_id": "6284400000004"}
            ]),
            vec![
                message("6281100000001", "wamid.n1"),
                message("6282200000002", "wamid.n2"),
                message("6283300000003", "wamid.n3"),
                message("6284400000004", "wamid.n4"),
            ],
        ),
        change(
            json!([{"wa_id": "6289900000009", "profile": {"name": "Zed"}}]),
            vec![message("6285500000005", "wamid.n5")],
        ),
    ]}]});
    let hook = MetaWebhook::new(
        Secret::new("verify"),
        Secret::new("secret"),
        MetaProducts {
            whatsapp: true,
            facebook: true,
            instagram: true,
        },
    );
    let req = Request::post("/webhooks/meta")
        .public_url("https://pintu.example.go.id/webhooks/meta")
        .body(body.to_string());
    let names = match req.with_web(|web| hook.parse(web)) {
        Ok(Ok(Parsed::Messages(m))) => m.into_iter().map(|m| m.sender.display_name).collect::<Vec<_>>(),
        other => panic!("expected messages, got {other:?}"),
    };
    let names: Vec<Option<&str>> = names.iter().map(Option::as_deref).collect();
    assert_eq!(names, [Some("Ani"), Some("Budi"), None, None, Some("Zed")]);
}
