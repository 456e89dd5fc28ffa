//! SMS gateway webhooks (Kannel, Jasmin, Twilio, the generic JSON gateway):
//! recorded provider requests written in code, since most differ from one
//! another only in a query parameter or a byte of the body.
//!
//! A row names the adapter configuration it runs against ([`adapter`]: the
//! gateway's name, or a variant such as `kannel-allowlist`), the request and
//! the [`Expect`]ation.

use std::net::{IpAddr, Ipv4Addr};

use base64::Engine;
use pintu_channels::sms::generic::{Generic, GenericConfig};
use pintu_channels::sms::jasmin::Jasmin;
use pintu_channels::sms::kannel::Kannel;
use pintu_channels::sms::twilio::{self, Twilio, TwilioConfig};
use pintu_channels::sms::SmsAuth;
use pintu_channels::{Segment, SenderKind, WebhookAdapter};

use crate::common::{Table, WebhookCase};
use crate::expect::Expect;
use crate::request::Request;

/// Every gateway posts from here; only `kannel-allowlist` refuses it.
const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The adapter a row names, with the test credentials: token `tok`, Twilio
/// auth token `twilio-secret`, generic HMAC secret `h-secret`.
fn adapter(name: &str) -> Result<Box<dyn WebhookAdapter>, String> {
    let auth = SmsAuth {
        token: Some("tok".into()),
        allow_ips: vec![],
    };
    let built: Result<Box<dyn WebhookAdapter>, _> = match name {
        "kannel" => Kannel::new(&auth).map(|a| Box::new(a) as _),
        "kannel-allowlist" => Kannel::new(&SmsAuth {
            token: Some("tok".into()),
            allow_ips: vec!["10.0.0.0/8".into()],
        })
        .map(|a| Box::new(a) as _),
        "jasmin" => Jasmin::new(&auth).map(|a| Box::new(a) as _),
        "twilio" => Twilio::new(&TwilioConfig {
            auth_token: Some("twilio-secret".into()),
            ..Default::default()
        })
        .map(|a| Box::new(a) as _),
        "generic" => Generic::new(&GenericConfig {
            auth: auth.clone(),
            ..Default::default()
        })
        .map(|a| Box::new(a) as _),
        "generic-hmac" => Generic::new(&GenericConfig {
            auth: SmsAuth::default(),
            hmac_secret: Some("h-secret".into()),
            ..Default::default()
        })
        .map(|a| Box::new(a) as _),
        other => return Err(format!("unknown SMS adapter {other}")),
    };
    built.map_err(|e| format!("{name}: {e}"))
}

/// One row of the table.
struct Row {
    name: &'static str,
    case: WebhookCase,
}

impl Row {
    fn header(mut self, name: &str, value: impl Into<String>) -> Row {
        self.case.request = self.case.request.header(name, value);
        self
    }
}

fn row(adapter: &str, name: &'static str, request: Request, expect: Expect) -> Row {
    Row {
        name,
        case: WebhookCase {
            adapter: adapter.to_string(),
            request: request.remote(REMOTE),
            expect,
        },
    }
}

fn msg(from: &str, text: &str, external_id: Option<&str>) -> Expect {
    Expect::msisdn(from, text, external_id)
}

fn get(adapter: &str, name: &'static str, query: &str, expect: Expect) -> Row {
    let uri = format!("/sms/{}?{query}", adapter.trim_end_matches("-allowlist"));
    row(adapter, name, Request::get(uri), expect)
}

fn post(adapter: &str, name: &'static str, query: &str, ctype: &str, body: Vec<u8>, expect: Expect) -> Row {
    let uri = format!("/sms/{}{query}", adapter.trim_end_matches("-hmac"));
    row(
        adapter,
        name,
        Request::post(uri).header("content-type", ctype).body(body),
        expect,
    )
}

const TWILIO_URL: &str = "https://pintu.example.go.id/sms/twilio";

fn twilio_case(name: &'static str, form: &str, signature: Option<String>, expect: Expect) -> Row {
    let mut r = post(
        "twilio",
        name,
        "",
        "application/x-www-form-urlencoded",
        form.as_bytes().to_vec(),
        expect,
    );
    r.case.request = r.case.request.public_url(TWILIO_URL);
    match signature {
        Some(sig) => r.header("x-twilio-signature", sig),
        None => r,
    }
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    pintu_channels::auth::hmac_sha256(key.as_bytes(), body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn rows() -> Vec<Row> {
    let k = "token=tok&from=%2B6281234567001&to=1708";
    let twilio_form = "MessageSid=SM123&AccountSid=AC1&From=%2B6281234567009&To=%2B621708&Body=Air+PDAM+mati&NumMedia=1&MediaUrl0=https%3A%2F%2Fapi.example%2Fm.jpg&MediaContentType0=image%2Fjpeg";
    let twilio_sig = twilio::signature("twilio-secret", TWILIO_URL, twilio_form.as_bytes());
    let generic_body = br#"{"id":"g-1","from":"081234567002","to":"1708","text":"Jalan berlubang"}"#.to_vec();
    let big = "a".repeat(17 * 1024);
    let big_json = serde_json::json!({"from": "0812", "text": big})
        .to_string()
        .into_bytes();
    vec![
        // ---- Kannel get-url
        get("kannel", "kannel utf-8", &format!("{k}&id=k1&text=Jalan+rusak&coding=0&charset=UTF-8"), msg("+6281234567001", "Jalan rusak", Some("k1"))),
        get("kannel", "kannel bad token", "token=nope&from=0812&text=x", Expect::Auth(403)),
        get("kannel", "kannel no token", "from=0812&text=x", Expect::Auth(401)),
        get("kannel-allowlist", "kannel source not allowed", &format!("{k}&text=x"), Expect::Auth(403)),
        get("kannel", "kannel missing from", "token=tok&text=x", Expect::malformed("from")),
        get("kannel", "kannel missing text", "token=tok&from=0812", Expect::malformed("text")),
        get("kannel", "kannel empty text", &format!("{k}&text="), Expect::Ignored(None)),
        // UCS-2 (coding=2) with a surrogate pair: "Banjir 🌊".
        get(
            "kannel",
            "kannel ucs-2",
            &format!("{k}&coding=2&text=%00B%00a%00n%00j%00i%00r%00%20%D8%3C%DF%0A"),
            msg("+6281234567001", "Banjir 🌊", None),
        ),
        // Latin-1 bytes: "Café" with 0xE9.
        get("kannel", "kannel latin-1", &format!("{k}&charset=ISO-8859-1&text=Caf%E9+tutup"), msg("+6281234567001", "Café tutup", None)),
        // Windows-1252 0x80 is the euro sign.
        get("kannel", "kannel windows-1252", &format!("{k}&charset=windows-1252&text=Rp%80"), msg("+6281234567001", "Rp€", None)),
        // GSM-7 septets: "Rp5€ @" (0x1B 0x65 = €, 0x00 = @).
        get("kannel", "kannel gsm-7", &format!("{k}&charset=GSM&text=Rp5%1B%65%20%00"), msg("+6281234567001", "Rp5€ @", None)),
        // Undeclared charset, invalid UTF-8: falls back to Windows-1252.
        get("kannel", "kannel guess", &format!("{k}&text=Sekolah+%E9"), msg("+6281234567001", "Sekolah é", None)),
        get(
            "kannel",
            "kannel concat 8-bit part 2 of 3",
            &format!("{k}&text=bagian+dua+&udh=%05%00%03%2A%03%02"),
            Expect::message("+6281234567001", SenderKind::Msisdn, "bagian dua ", None, Some(Segment { reference: 0x2A, total: 3, seq: 2 })),
        ),
        get(
            "kannel",
            "kannel concat 16-bit part 1 of 2 (arrives first or last alike)",
            &format!("{k}&text=awal+&udh=%06%08%04%01%02%02%01"),
            Expect::message("+6281234567001", SenderKind::Msisdn, "awal ", None, Some(Segment { reference: 0x0102, total: 2, seq: 1 })),
        ),
        get("kannel", "kannel bad udh", &format!("{k}&text=x&udh=%05%00%03%01%00%00"), Expect::malformed("udh")),
        get("kannel", "kannel oversize", &format!("{k}&text={big}"), Expect::malformed("text")),
        get(
            "kannel",
            "kannel shortcode sender",
            "token=tok&from=1708&text=tes",
            Expect::message("1708", SenderKind::Shortcode, "tes", None, None),
        ),
        // post-url: text in the body, metadata in X-Kannel-* headers, UTF-16BE.
        post(
            "kannel",
            "kannel post-url ucs-2",
            "?token=tok",
            "text/plain; charset=UTF-16BE",
            vec![0x00, 0x4B, 0x00, 0x54, 0x00, 0x50],
            msg("+6281234567003", "KTP", None),
        )
        .header("x-kannel-from", "+6281234567003")
        .header("x-kannel-to", "1708"),
        // ---- Jasmin
        post(
            "jasmin",
            "jasmin gsm",
            "?token=tok",
            "application/x-www-form-urlencoded",
            b"id=j-1&from=6281234567004&to=1708&origin-connector=smsc1&priority=0&coding=0&validity=&content=Lampu+mati&binary=4c616d7075206d617469".to_vec(),
            msg("+6281234567004", "Lampu mati", Some("j-1")),
        ),
        post(
            "jasmin",
            "jasmin ucs-2 from binary",
            "?token=tok",
            "application/x-www-form-urlencoded",
            b"id=j-2&from=6281234567004&to=1708&coding=8&content=%00A&binary=00410070006900200020d83dde92".to_vec(),
            msg("+6281234567004", "Api  🚒", Some("j-2")),
        ),
        post(
            "jasmin",
            "jasmin latin-1",
            "?token=tok",
            "application/x-www-form-urlencoded",
            b"id=j-3&from=6281234567004&to=1708&coding=3&content=Caf%E9".to_vec(),
            msg("+6281234567004", "Café", Some("j-3")),
        ),
        post("jasmin", "jasmin bad token", "?token=bad", "application/x-www-form-urlencoded", b"from=1&content=x".to_vec(), Expect::Auth(403)),
        post("jasmin", "jasmin missing content", "?token=tok", "application/x-www-form-urlencoded", b"id=j&from=6281".to_vec(), Expect::malformed("content")),
        post("jasmin", "jasmin bad binary", "?token=tok", "application/x-www-form-urlencoded", b"id=j&from=6281&binary=zz".to_vec(), Expect::malformed("binary")),
        // ---- Twilio
        twilio_case("twilio signed", twilio_form, Some(twilio_sig.clone()), msg("+6281234567009", "Air PDAM mati", Some("SM123"))),
        twilio_case("twilio bad signature", twilio_form, Some(base64::engine::general_purpose::STANDARD.encode([0u8; 20])), Expect::Auth(403)),
        twilio_case("twilio unsigned", twilio_form, None, Expect::Auth(401)),
        twilio_case("twilio tampered body", &twilio_form.replace("mati", "hidup"), Some(twilio_sig), Expect::Auth(403)),
        // ---- Generic JSON
        post("generic", "generic bearer", "", "application/json", generic_body.clone(), msg("+6281234567002", "Jalan berlubang", Some("g-1")))
            .header("authorization", "Bearer tok"),
        post("generic-hmac", "generic hmac", "", "application/json", generic_body.clone(), msg("+6281234567002", "Jalan berlubang", Some("g-1")))
            .header("x-pintu-signature", format!("sha256={}", hmac_hex("h-secret", &generic_body))),
        post("generic-hmac", "generic bad hmac", "", "application/json", generic_body.clone(), Expect::Auth(403))
            .header("x-pintu-signature", format!("sha256={}", hmac_hex("other", &generic_body))),
        post("generic", "generic not json", "", "application/json", b"{oops".to_vec(), Expect::malformed("malformed"))
            .header("authorization", "Bearer tok"),
        post(
            "generic",
            "generic bad concat",
            "",
            "application/json",
            br#"{"from":"0812","text":"x","concat":{"ref":1,"total":2,"seq":3}}"#.to_vec(),
            Expect::malformed("concat"),
        )
        .header("authorization", "Bearer tok"),
        post("generic", "generic oversize", "", "application/json", big_json, Expect::malformed("text"))
            .header("authorization", "Bearer tok"),
    ]
}

/// Every SMS row, through the shared webhook runner.
#[test]
fn every_sms_case() {
    let mut table = Table::new("sms");
    for r in rows() {
        table.push(r.name, r.case);
    }
    table.run_webhooks(adapter);
}

/// What each gateway is answered once its messages are durable.
#[test]
fn provider_answers() -> Result<(), String> {
    let receipts = [pintu_channels::Receipt {
        id: Some("01H".into()),
        tracking: Some("LPR-ABCDEF".into()),
        duplicate: false,
    }];
    assert_eq!(adapter("jasmin")?.accepted(&receipts).body, "ACK/Jasmin");
    assert_eq!(adapter("jasmin")?.accepted(&[]).body, "ACK/Jasmin");
    assert_eq!(adapter("kannel")?.accepted(&receipts).body, "OK LPR-ABCDEF");
    let twiml = adapter("twilio")?.accepted(&receipts);
    assert_eq!(twiml.content_type, "text/xml");
    assert!(twiml.body.contains("<Response></Response>"));
    let body = adapter("generic")?.accepted(&receipts).body;
    let generic: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    assert_eq!(generic["accepted"][0]["tracking"], "LPR-ABCDEF");
    Ok(())
}
