//! Seed inputs for every target, built from the repository's fixtures:
//! the SMS harness cases (`channels/tests/harness/sms.rs`), the social payloads
//! (`channels/tests/fixtures/social/`), the e-mail corpus
//! (`tests/fixtures/email/`) and the routing evaluation sets
//! (`tests/data/*.jsonl`). `cargo run -p pintu-fuzz-checks --bin seed`
//! writes them into `corpus/<target>/`; the committed corpora grew from them.

use std::fs;
use std::path::{Path, PathBuf};

use http::Method;
use mail_parser::{MessageParser, PartType};
use serde_json::Value;

use crate::request::encode;
use crate::{decode, email_text, normalize, routing, sms, social};

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One seed: target, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

fn with(sel: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![sel];
    v.extend_from_slice(body);
    v
}

fn sms_seeds(out: &mut Vec<Seed>) {
    let k = "token=tok&from=%2B6281234567001&to=1708";
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let get = |q: String| encode(sms::KANNEL, &Method::GET, &q, &[], b"");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("kannel-utf8", get(format!("{k}&id=k1&text=Jalan+rusak&coding=0&charset=UTF-8&time=2025-03-03+10:00:00&smsc=tsel"))),
        ("kannel-ucs2", get(format!("{k}&coding=2&text=%00B%00a%00n%00j%00i%00r%00%20%D8%3C%DF%0A"))),
        ("kannel-latin1", get(format!("{k}&charset=ISO-8859-1&text=Caf%E9+tutup"))),
        ("kannel-gsm", get(format!("{k}&charset=GSM&text=Rp5%1B%65%20%00"))),
        ("kannel-guess", get(format!("{k}&text=Sekolah+%E9&time=1700000000"))),
        ("kannel-concat8", get(format!("{k}&text=bagian+dua+&udh=%05%00%03%2A%03%02"))),
        ("kannel-concat16", get(format!("{k}&text=awal+&udh=%06%08%04%01%02%02%01"))),
        ("kannel-shortcode", get("token=tok&from=1708&text=tes".into())),
        (
            "kannel-form",
            encode(sms::KANNEL, &Method::POST, "token=tok", &form, b"from=0812-3456-7890&text=Lampu+jalan+mati+RAHASIA"),
        ),
        (
            "kannel-post-url",
            encode(
                sms::KANNEL,
                &Method::POST,
                "token=tok",
                &[
                    ("content-type", "text/plain; charset=UTF-16BE"),
                    ("x-kannel-from", "+6281234567003"),
                    ("x-kannel-to", "1708"),
                    ("x-kannel-udh", "0500032a0201"),
                    ("x-kannel-time", "2025-03-03T10:00:00Z"),
                ],
                &[0x00, 0x4B, 0x00, 0x54, 0x00, 0x50],
            ),
        ),
        (
            "jasmin-gsm",
            encode(sms::JASMIN, &Method::POST, "token=tok", &form, b"id=j-1&from=6281234567004&to=1708&origin-connector=smsc1&priority=0&coding=0&validity=&content=Lampu+mati&binary=4c616d7075206d617469"),
        ),
        (
            "jasmin-ucs2",
            encode(sms::JASMIN, &Method::POST, "token=tok", &form, b"id=j-2&from=6281234567004&to=1708&coding=8&content=%00A&binary=00410070006900200020d83dde92"),
        ),
        (
            "jasmin-latin1",
            encode(sms::JASMIN, &Method::POST, "token=tok", &form, b"id=j-3&from=6281234567004&to=1708&coding=3&content=Caf%E9"),
        ),
        (
            "twilio",
            encode(sms::TWILIO, &Method::POST, "", &[("content-type", "application/x-www-form-urlencoded"), ("x-twilio-signature", "AAAA")], b"MessageSid=SM123&AccountSid=AC1&From=%2B6281234567009&To=%2B621708&Body=Air+PDAM+mati&NumMedia=2&MediaUrl0=https%3A%2F%2Fapi.example%2Fm.jpg&MediaContentType0=image%2Fjpeg&MediaUrl1=https%3A%2F%2Fapi.example%2Fn.png"),
        ),
        (
            "generic",
            encode(sms::GENERIC, &Method::POST, "", &[("content-type", "application/json"), ("authorization", "Bearer tok")], br#"{"id":"g-1","from":"081234567002","to":"1708","text":"Jalan berlubang","time":"2025-03-03T10:00:00+07:00"}"#),
        ),
        (
            "generic-concat",
            encode(sms::GENERIC, &Method::POST, "", &[("x-pintu-signature", "sha256=00")], br#"{"from":"+62 812 3456 789","text":"bagian satu ","concat":{"ref":1,"total":2,"seq":1}}"#),
        ),
    ];
    out.extend(cases.into_iter().map(|(n, b)| ("sms", n.to_string(), b)));
}

fn decode_seeds(out: &mut Vec<Seed>) {
    let s: Vec<(&str, Vec<u8>)> = vec![
        ("udh-8bit", with(decode::UDH, &[0, 0x05, 0x00, 0x03, 0x2A, 0x03, 0x02])),
        (
            "udh-16bit",
            with(decode::UDH, &[0, 0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01]),
        ),
        (
            "udh-ports",
            with(
                decode::UDH,
                &[
                    0, 0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x07, 0x02, 0x02,
                ],
            ),
        ),
        (
            "cs-utf8",
            with(decode::CHARSET, &[0, b'J', 0xC3, 0xA9, 0xF0, 0x9F, 0x9A, 0xA7]),
        ),
        (
            "cs-gsm",
            with(
                decode::CHARSET,
                &[1, 0x52, 0x70, 0x20, 0x35, 0x1b, 0x65, 0x20, 0x00, 0x1b],
            ),
        ),
        (
            "cs-ucs2",
            with(
                decode::CHARSET,
                &[2, 0x00, 0x4A, 0x00, 0x61, 0xD8, 0x3D, 0xDE, 0xA7, 0x00],
            ),
        ),
        ("cs-latin1", with(decode::CHARSET, &[3, 0x53, 0xE9, 0x6E, 0x80])),
        (
            "septets",
            with(
                decode::SEPTETS,
                &[0, 0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37],
            ),
        ),
        (
            "septets-fill",
            with(decode::SEPTETS, &[1, 0xD0, 0x65, 0x36, 0xFB, 0x0D]),
        ),
        ("label", with(decode::LABEL, b"\0 UCS_2 ")),
        (
            "form",
            with(decode::FORM, b"\0text=%00%41%20%AC&from=%2B62812+1&flag&=x&a=%zz"),
        ),
        ("hex", with(decode::HEX, b"\0 00410070Ff ")),
    ];
    out.extend(s.into_iter().map(|(n, b)| ("decode", n.to_string(), b)));
}

/// Complaint texts of the routing evaluation sets: (subject, text).
fn complaint_texts(root: &Path) -> Vec<(Option<String>, String)> {
    let mut v = Vec::new();
    for f in ["tests/data/complaints-dev.jsonl", "tests/data/complaints-router.jsonl"] {
        let Ok(content) = fs::read_to_string(root.join(f)) else {
            continue;
        };
        for line in content.lines() {
            let Ok(j) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if let Some(t) = j["text"].as_str() {
                v.push((j["subject"].as_str().map(str::to_string), t.to_string()));
            }
        }
    }
    v
}

fn text_seeds(root: &Path, out: &mut Vec<Seed>) {
    let texts = complaint_texts(root);
    // Every fourth evaluation text is plenty: they differ in words, not shape.
    for (i, (subject, text)) in texts.iter().enumerate().filter(|(i, _)| i % 4 == 0) {
        let sel = if subject.is_some() {
            routing::DECIDE_SUBJECT
        } else {
            routing::DECIDE
        };
        let body = match subject {
            Some(s) => format!("{s}\n{text}"),
            None => text.clone(),
        };
        out.push(("routing", format!("decide-{i}"), with(sel, body.as_bytes())));
    }
    for (i, (_, text)) in texts.iter().enumerate().filter(|(i, _)| i % 16 == 1) {
        out.push((
            "routing",
            format!("norm-{i}"),
            with(routing::NORMALIZE, text.as_bytes()),
        ));
        out.push(("normalize", format!("text-{i}"), with(normalize::TEXT, text.as_bytes())));
    }
    let extra: Vec<(&str, u8, &str)> = vec![
        ("mask", routing::MASK, "Hormat saya, Agus HP 0812-0000-4521 / agus.s@example.org, wa +62 812 3456 7890"),
        ("norm-abbrev", routing::NORMALIZE, "Jalan RUSAK di Kab. Bogor!!! 😡 #jalantol @PLN123, anak2 tdk sekolah; sampahnya café"),
        ("decide-markers", routing::DECIDE_SUBJECT, "[RAHASIA] Pungli\nANONIM kepada Yth. Dinkes Provinsi Jawa Timur, puskesmas di kec. cilandak tutup\n> kutipan lama"),
    ];
    for (n, sel, t) in extra {
        out.push(("routing", n.to_string(), with(sel, t.as_bytes())));
    }
    let norm: Vec<(&str, u8, &str)> = vec![
        (
            "controls",
            normalize::TEXT,
            "  cafe\u{301}\u{0}\u{7} ok\r\n\r\n\r\n\nb \u{202e}x\u{200b}  \n",
        ),
        ("fragment", normalize::FRAGMENT, " bagian\u{0} dua \t"),
        ("sender-0812", normalize::SENDER, "(0812) 3456 789"),
        ("sender-plus", normalize::SENDER, "+62 (0)812 3456789"),
        ("sender-00", normalize::SENDER, "00628123456789"),
        ("sender-us", normalize::SENDER, "+15551234567"),
        ("sender-short", normalize::SENDER, "1708"),
        ("sender-alnum", normalize::SENDER, "BANK-XYZ"),
        (
            "markers",
            normalize::MARKERS,
            "[RAHASIA] jalan rusak #anonim (ANONIM), kerahasiaan",
        ),
        ("fingerprint", normalize::FINGERPRINT, "Jalan  RUSAK\n di sini"),
    ];
    for (n, sel, t) in norm {
        out.push(("normalize", n.to_string(), with(sel, t.as_bytes())));
    }
}

fn email_seeds(root: &Path, out: &mut Vec<Seed>) {
    let dir = root.join("tests/fixtures/email");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    for path in files {
        let Ok(raw) = fs::read(&path) else { continue };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(msg) = MessageParser::default().parse(&raw) {
            for (i, part) in msg.parts.iter().enumerate() {
                match &part.body {
                    PartType::Html(h) => {
                        out.push((
                            "email_text",
                            format!("html-{stem}-{i}"),
                            with(email_text::HTML, h.as_bytes()),
                        ));
                        out.push((
                            "email_text",
                            format!("body-{stem}-{i}"),
                            with(email_text::BODY, h.as_bytes()),
                        ));
                    }
                    PartType::Text(t) => out.push((
                        "email_text",
                        format!("quote-{stem}-{i}"),
                        with(email_text::QUOTE, t.as_bytes()),
                    )),
                    _ => {}
                }
            }
            if let Some(refs) = msg.header_raw("References").or(msg.header_raw("In-Reply-To")) {
                out.push((
                    "email_text",
                    format!("ids-{stem}"),
                    with(email_text::IDS, refs.as_bytes()),
                ));
            }
        }
        let head_end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(raw.len().min(2048));
        out.push((
            "email_text",
            format!("headers-{stem}"),
            with(email_text::HEADERS, &raw[..head_end]),
        ));
        out.push(("email", stem, raw));
    }
    let extra: Vec<(&str, u8, &str)> = vec![
        (
            "ids-ack",
            email_text::IDS,
            "<CAF1@mail.gmail.com> <ack.LPR-7K3Q9X.01jabcdef@lapor.go.id>\r\n <x@y>",
        ),
        (
            "entities",
            email_text::ENTITIES,
            "a &amp;lt; &#8211; &#x1F6A7; &nbsp;&unknown; &am",
        ),
        ("address", email_text::ADDRESS, " <Budi.Santoso@Example.CO.ID> "),
        ("address-noreply", email_text::ADDRESS, "no_reply+123@x.id"),
    ];
    for (n, sel, t) in extra {
        out.push(("email_text", n.to_string(), with(sel, t.as_bytes())));
    }
}

fn social_seeds(root: &Path, out: &mut Vec<Seed>) {
    let dir = root.join("channels/tests/fixtures/social");
    for (file, sel) in [
        ("whatsapp.json", social::META),
        ("messenger.json", social::META),
        ("instagram.json", social::META),
        ("telegram.json", social::TELEGRAM),
        ("x_webhook.json", social::X_WEBHOOK),
        ("x_mentions.json", social::X_MENTIONS),
    ] {
        let Ok(text) = fs::read_to_string(dir.join(file)) else {
            continue;
        };
        let Ok(j) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let stem = file.trim_end_matches(".json");
        for (i, case) in j["cases"].as_array().into_iter().flatten().enumerate() {
            let bytes = if sel == social::X_MENTIONS {
                let body = serde_json::to_vec(&case["page"]).unwrap_or_default();
                encode(sel, &Method::GET, "", &[], &body)
            } else {
                let req = &case["request"];
                let method: Method = req["method"].as_str().unwrap_or("POST").parse().unwrap_or(Method::POST);
                let body = match (&req["body"], &req["raw_body"]) {
                    (Value::Null, Value::String(s)) => s.as_bytes().to_vec(),
                    (Value::Null, _) => Vec::new(),
                    (b, _) => serde_json::to_vec(b).unwrap_or_default(),
                };
                encode(
                    sel,
                    &method,
                    req["query"].as_str().unwrap_or(""),
                    &[("content-type", "application/json")],
                    &body,
                )
            };
            out.push(("social", format!("{stem}-{i}"), bytes));
        }
    }
}

/// A few large inputs of realistic shape, so that mutations also work at
/// the sizes where superlinear time shows (libFuzzer grows inputs slowly).
fn large_seeds(out: &mut Vec<Seed>) {
    let para = "<p>Sampah di TPS&nbsp;Pasar Baru sudah menumpuk <b>2 minggu</b>.</p>\
                <ul><li>Bau menyengat</li><li>Banyak lalat &amp; tikus</li></ul>\
                <blockquote>On Mon, 3 Mar 2025, LAPOR! &lt;noreply@lapor.go.id&gt; wrote:<br>&gt; Terima kasih</blockquote>\
                <p>Foto: <a href=\"https://photos.example/abc\">lihat di sini</a><img alt=\"foto\" src=x></p>\n";
    let html = para.repeat(400);
    let reply = "Masih rusak.\n\nPada Sen, 3 Mar 2025 pukul 10.00 LAPOR! <noreply@lapor.go.id> menulis:\n> isi lama\n> Kode: LPR-7K3Q9X\n\n-----Original Message-----\nFrom: a\nSent: b\n\nSent from my iPhone\n\n".repeat(300);
    out.push((
        "email_text",
        "large-html".into(),
        with(email_text::HTML, html.as_bytes()),
    ));
    out.push((
        "email_text",
        "large-body".into(),
        with(email_text::BODY, html.as_bytes()),
    ));
    out.push((
        "email_text",
        "large-quote".into(),
        with(email_text::QUOTE, reply.as_bytes()),
    ));
    let mail = format!(
        "From: Budi <budi@example.com>\r\nSubject: Sampah\r\nMessage-ID: <large-1@example.com>\r\n\
         Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {reply}\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b--\r\n"
    );
    out.push(("email", "large-alternative".into(), mail.into_bytes()));
    let messages: Vec<String> = (0..400)
        .map(|i| format!(r#"{{"from":"62812345{i:05}","id":"wamid.{i}","timestamp":"1700000000","type":"text","text":{{"body":"Jalan rusak nomor {i}"}}}}"#))
        .collect();
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"621708","phone_number_id":"1708"}},"contacts":[{{"wa_id":"6281234500001","profile":{{"name":"Budi"}}}}],"messages":[{}]}}}}]}}]}}"#,
        messages.join(",")
    );
    out.push((
        "social",
        "large-whatsapp".into(),
        encode(
            social::META,
            &Method::POST,
            "",
            &[("content-type", "application/json")],
            body.as_bytes(),
        ),
    ));
    // Shapes that were superlinear (fixed; see README.md): one contact's or
    // user's long name shared by every message, thousands of distinct ignore
    // reasons, thousands of contacts scanned for each message.
    let wa = |contacts: &str, messages: &[String]| {
        let body = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"metadata":{{"phone_number_id":"1708"}},"contacts":[{contacts}],"messages":[{}]}}}}]}}]}}"#,
            messages.join(",")
        );
        encode(
            social::META,
            &Method::POST,
            "",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    };
    let texts: Vec<String> = (0..2500)
        .map(|i| format!(r#"{{"from":"6281234500001","id":"wamid.{i}","type":"text","text":{{"body":"x"}}}}"#))
        .collect();
    let name = "N".repeat(60_000);
    let one = format!(r#"{{"wa_id":"6281234500001","profile":{{"name":"{name}"}}}}"#);
    out.push(("social", "regress-shared-long-name".into(), wa(&one, &texts)));
    let odd: Vec<String> = (0..7000)
        .map(|i| format!(r#"{{"from":"1","id":"a","type":"t{i}"}}"#))
        .collect();
    out.push(("social", "regress-many-ignore-reasons".into(), wa("", &odd)));
    let contacts: Vec<String> = (0..2600).map(|i| format!(r#"{{"wa_id":"62812{i:07}"}}"#)).collect();
    let senders: Vec<String> = (0..2600)
        .map(|i| format!(r#"{{"from":"62899{i:07}","id":"m{i}","type":"text","text":{{"body":"x"}}}}"#))
        .collect();
    out.push((
        "social",
        "regress-many-contacts".into(),
        wa(&contacts.join(","), &senders),
    ));
    let tweets: Vec<String> = (0..2500)
        .map(|i| format!(r#"{{"id":"{}","author_id":"42","text":"@lapor1708 x"}}"#, 1000 + i))
        .collect();
    let page = format!(
        r#"{{"data":[{}],"includes":{{"users":[{{"id":"42","name":"{name}","username":"u"}}]}},"meta":{{"result_count":2500}}}}"#,
        tweets.join(",")
    );
    out.push((
        "social",
        "regress-x-shared-long-name".into(),
        encode(social::X_MENTIONS, &Method::GET, "", &[], page.as_bytes()),
    ));

    let text =
        "Jalan di kec. Cibinong kab. Bogor rusak parah, mohon Dinas PUPR segera memperbaiki. RAHASIA 0812-3456-7890 "
            .repeat(180);
    out.push(("routing", "large-decide".into(), with(routing::DECIDE, text.as_bytes())));
    out.push(("normalize", "large-text".into(), with(normalize::TEXT, text.as_bytes())));
    out.push((
        "normalize",
        "large-markers".into(),
        with(normalize::MARKERS, text.as_bytes()),
    ));
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let root = repo_root();
    let mut out = Vec::new();
    sms_seeds(&mut out);
    decode_seeds(&mut out);
    text_seeds(&root, &mut out);
    email_seeds(&root, &mut out);
    social_seeds(&root, &mut out);
    large_seeds(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every seed passes its own target's checks: the fixtures are valid
    /// input, so a seed that fails is a finding (or a broken check).
    #[test]
    fn seeds_pass_their_targets() {
        let seeds = all();
        for target in ["sms", "decode", "normalize", "email", "email_text", "social", "routing"] {
            assert!(seeds.iter().any(|s| s.0 == target), "no seed for {target}");
        }
        for (target, name, data) in &seeds {
            eprintln!("{target}/{name}");
            crate::check(target, data);
        }
    }
}
