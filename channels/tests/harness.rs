//! One table-driven harness for every SMS webhook adapter (as RapidPro Courier
//! tests its handlers): each case is a recorded provider request and what the
//! adapter must make of it.

use std::net::IpAddr;

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use pintu_channels::sms::generic::{Generic, GenericConfig};
use pintu_channels::sms::jasmin::Jasmin;
use pintu_channels::sms::kannel::Kannel;
use pintu_channels::sms::twilio::{self, Twilio, TwilioConfig};
use pintu_channels::sms::SmsAuth;
use pintu_channels::{Parsed, Segment, SenderKind, WebRequest, WebhookAdapter};

/// What a case must produce.
enum Expect {
    /// One message with this sender, text, provider id and segment.
    Message {
        from: &'static str,
        kind: SenderKind,
        text: &'static str,
        external_id: Option<&'static str>,
        segment: Option<Segment>,
    },
    /// Authentication fails with this HTTP status.
    Auth(u16),
    /// Parsing fails; the error message mentions this.
    Malformed(&'static str),
    Ignored,
}

struct Case {
    name: &'static str,
    adapter: &'static str,
    method: Method,
    uri: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    remote: &'static str,
    expect: Expect,
}

fn adapter(name: &str) -> Box<dyn WebhookAdapter> {
    let auth = SmsAuth {
        token: Some("tok".into()),
        allow_ips: vec![],
    };
    match name {
        "kannel" => Box::new(Kannel::new(&auth).unwrap()),
        "kannel-allowlist" => Box::new(
            Kannel::new(&SmsAuth {
                token: Some("tok".into()),
                allow_ips: vec!["10.0.0.0/8".into()],
            })
            .unwrap(),
        ),
        "jasmin" => Box::new(Jasmin::new(&auth).unwrap()),
        "twilio" => Box::new(
            Twilio::new(&TwilioConfig {
                auth_token: Some("twilio-secret".into()),
                ..Default::default()
            })
            .unwrap(),
        ),
        "generic" => Box::new(
            Generic::new(&GenericConfig {
                auth: auth.clone(),
                ..Default::default()
            })
            .unwrap(),
        ),
        "generic-hmac" => Box::new(
            Generic::new(&GenericConfig {
                auth: SmsAuth::default(),
                hmac_secret: Some("h-secret".into()),
                ..Default::default()
            })
            .unwrap(),
        ),
        other => panic!("unknown adapter {other}"),
    }
}

fn msg(from: &'static str, text: &'static str, external_id: Option<&'static str>) -> Expect {
    Expect::Message {
        from,
        kind: SenderKind::Msisdn,
        text,
        external_id,
        segment: None,
    }
}

fn get(adapter: &'static str, name: &'static str, query: &str, expect: Expect) -> Case {
    Case {
        name,
        adapter,
        method: Method::GET,
        uri: format!("/sms/{}?{query}", adapter.trim_end_matches("-allowlist")),
        headers: vec![],
        body: vec![],
        remote: "127.0.0.1",
        expect,
    }
}

fn post(adapter: &'static str, name: &'static str, query: &str, ctype: &str, body: Vec<u8>, expect: Expect) -> Case {
    Case {
        name,
        adapter,
        method: Method::POST,
        uri: format!("/sms/{}{query}", adapter.trim_end_matches("-hmac")),
        headers: vec![("content-type", ctype.to_string())],
        body,
        remote: "127.0.0.1",
        expect,
    }
}

const TWILIO_URL: &str = "https://pintu.example.go.id/sms/twilio";

fn twilio_case(name: &'static str, form: &str, signature: Option<String>, expect: Expect) -> Case {
    let mut c = post(
        "twilio",
        name,
        "",
        "application/x-www-form-urlencoded",
        form.as_bytes().to_vec(),
        expect,
    );
    if let Some(sig) = signature {
        c.headers.push(("x-twilio-signature", sig));
    }
    c
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    pintu_channels::auth::hmac_sha256(key.as_bytes(), body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn cases() -> Vec<Case> {
    let k = "token=tok&from=%2B6281234567001&to=1708";
    let twilio_form = "MessageSid=SM123&AccountSid=AC1&From=%2B6281234567009&To=%2B621708&Body=Air+PDAM+mati&NumMedia=1&MediaUrl0=https%3A%2F%2Fapi.example%2Fm.jpg&MediaContentType0=image%2Fjpeg";
    let twilio_sig = twilio::signature("twilio-secret", TWILIO_URL, twilio_form.as_bytes());
    let generic_body = br#"{"id":"g-1","from":"081234567002","to":"1708","text":"Jalan berlubang"}"#.to_vec();
    let big = "a".repeat(17 * 1024);
    vec![
        // ---- Kannel get-url
        get("kannel", "kannel utf-8", &format!("{k}&id=k1&text=Jalan+rusak&coding=0&charset=UTF-8"), msg("+6281234567001", "Jalan rusak", Some("k1"))),
        get("kannel", "kannel bad token", "token=nope&from=0812&text=x", Expect::Auth(403)),
        get("kannel", "kannel no token", "from=0812&text=x", Expect::Auth(401)),
        get("kannel-allowlist", "kannel source not allowed", &format!("{k}&text=x"), Expect::Auth(403)),
        get("kannel", "kannel missing from", "token=tok&text=x", Expect::Malformed("from")),
        get("kannel", "kannel missing text", "token=tok&from=0812", Expect::Malformed("text")),
        get("kannel", "kannel empty text", &format!("{k}&text="), Expect::Ignored),
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
            Expect::Message { from: "+6281234567001", kind: SenderKind::Msisdn, text: "bagian dua ", external_id: None, segment: Some(Segment { reference: 0x2A, total: 3, seq: 2 }) },
        ),
        get(
            "kannel",
            "kannel concat 16-bit part 1 of 2 (arrives first or last alike)",
            &format!("{k}&text=awal+&udh=%06%08%04%01%02%02%01"),
            Expect::Message { from: "+6281234567001", kind: SenderKind::Msisdn, text: "awal ", external_id: None, segment: Some(Segment { reference: 0x0102, total: 2, seq: 1 }) },
        ),
        get("kannel", "kannel bad udh", &format!("{k}&text=x&udh=%05%00%03%01%00%00"), Expect::Malformed("udh")),
        get("kannel", "kannel oversize", &format!("{k}&text={big}"), Expect::Malformed("text")),
        get(
            "kannel",
            "kannel shortcode sender",
            "token=tok&from=1708&text=tes",
            Expect::Message { from: "1708", kind: SenderKind::Shortcode, text: "tes", external_id: None, segment: None },
        ),
        {
            // post-url: text in the body, metadata in X-Kannel-* headers, UTF-16BE.
            let mut c = post(
                "kannel",
                "kannel post-url ucs-2",
                "?token=tok",
                "text/plain; charset=UTF-16BE",
                vec![0x00, 0x4B, 0x00, 0x54, 0x00, 0x50],
                msg("+6281234567003", "KTP", None),
            );
            c.headers.push(("x-kannel-from", "+6281234567003".into()));
            c.headers.push(("x-kannel-to", "1708".into()));
            c
        },
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
        post("jasmin", "jasmin missing content", "?token=tok", "application/x-www-form-urlencoded", b"id=j&from=6281".to_vec(), Expect::Malformed("content")),
        post("jasmin", "jasmin bad binary", "?token=tok", "application/x-www-form-urlencoded", b"id=j&from=6281&binary=zz".to_vec(), Expect::Malformed("binary")),
        // ---- Twilio
        twilio_case("twilio signed", twilio_form, Some(twilio_sig.clone()), msg("+6281234567009", "Air PDAM mati", Some("SM123"))),
        twilio_case("twilio bad signature", twilio_form, Some(base64::engine::general_purpose::STANDARD.encode([0u8; 20])), Expect::Auth(403)),
        twilio_case("twilio unsigned", twilio_form, None, Expect::Auth(401)),
        twilio_case("twilio tampered body", &twilio_form.replace("mati", "hidup"), Some(twilio_sig), Expect::Auth(403)),
        // ---- Generic JSON
        {
            let mut c = post("generic", "generic bearer", "", "application/json", generic_body.clone(), msg("+6281234567002", "Jalan berlubang", Some("g-1")));
            c.headers.push(("authorization", "Bearer tok".into()));
            c
        },
        {
            let mut c = post("generic-hmac", "generic hmac", "", "application/json", generic_body.clone(), msg("+6281234567002", "Jalan berlubang", Some("g-1")));
            c.headers.push(("x-pintu-signature", format!("sha256={}", hmac_hex("h-secret", &generic_body))));
            c
        },
        {
            let mut c = post("generic-hmac", "generic bad hmac", "", "application/json", generic_body.clone(), Expect::Auth(403));
            c.headers.push(("x-pintu-signature", format!("sha256={}", hmac_hex("other", &generic_body))));
            c
        },
        {
            let mut c = post("generic", "generic not json", "", "application/json", b"{oops".to_vec(), Expect::Malformed("malformed"));
            c.headers.push(("authorization", "Bearer tok".into()));
            c
        },
        {
            let body = br#"{"from":"0812","text":"x","concat":{"ref":1,"total":2,"seq":3}}"#.to_vec();
            let mut c = post("generic", "generic bad concat", "", "application/json", body, Expect::Malformed("concat"));
            c.headers.push(("authorization", "Bearer tok".into()));
            c
        },
        {
            let body = serde_json::to_vec(&serde_json::json!({"from": "0812", "text": big})).unwrap();
            let mut c = post("generic", "generic oversize", "", "application/json", body, Expect::Malformed("text"));
            c.headers.push(("authorization", "Bearer tok".into()));
            c
        },
    ]
}

#[test]
fn every_sms_adapter_case() {
    let mut failures = Vec::new();
    for case in cases() {
        let a = adapter(case.adapter);
        let uri: Uri = case.uri.parse().unwrap();
        let mut headers = HeaderMap::new();
        for (k, v) in &case.headers {
            headers.insert(HeaderName::from_static(k), HeaderValue::from_str(v).unwrap());
        }
        let public_url = if case.adapter == "twilio" {
            TWILIO_URL.to_string()
        } else {
            format!("http://localhost{}", case.uri)
        };
        let remote: IpAddr = case.remote.parse().unwrap();
        let req = WebRequest {
            method: &case.method,
            uri: &uri,
            public_url: &public_url,
            headers: &headers,
            body: &case.body,
            remote: Some(remote),
        };
        let outcome = a.authenticate(&req).map_err(|e| e.status()).map(|_| a.parse(&req));
        let ok = match (&case.expect, &outcome) {
            (Expect::Auth(status), Err(got)) => status == got,
            (Expect::Malformed(needle), Ok(Err(e))) => e.to_string().contains(needle),
            (Expect::Ignored, Ok(Ok(Parsed::Ignored(_)))) => true,
            (
                Expect::Message {
                    from,
                    kind,
                    text,
                    external_id,
                    segment,
                },
                Ok(Ok(Parsed::Messages(m))),
            ) => {
                m.len() == 1
                    && m[0].sender.address == *from
                    && m[0].sender.kind == *kind
                    && m[0].text == *text
                    && m[0].external_id.as_deref() == *external_id
                    && m[0].segment == *segment
                    && m[0].provider == a.provider()
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{}: got {:?}", case.name, outcome));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn provider_answers() {
    let receipts = [pintu_channels::Receipt {
        id: Some("01H".into()),
        tracking: Some("LPR-ABCDEF".into()),
        duplicate: false,
    }];
    assert_eq!(adapter("jasmin").accepted(&receipts).body, "ACK/Jasmin");
    assert_eq!(adapter("jasmin").accepted(&[]).body, "ACK/Jasmin");
    assert_eq!(adapter("kannel").accepted(&receipts).body, "OK LPR-ABCDEF");
    let twiml = adapter("twilio").accepted(&receipts);
    assert_eq!(twiml.content_type, "text/xml");
    assert!(twiml.body.contains("<Response></Response>"));
    let generic: serde_json::Value = serde_json::from_str(&adapter("generic").accepted(&receipts).body).unwrap();
    assert_eq!(generic["accepted"][0]["tracking"], "LPR-ABCDEF");
}
