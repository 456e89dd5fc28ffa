//! WhatsApp profile names: which contact of a change names which sender.
//!
//! The names are looked up once per change (a scan of the contacts for every
//! message was quadratic: 2,600 contacts and messages took 525 ms in the
//! `social` fuzz target, whose time bound for that size is 268 ms). The
//! first contact of an id names it; a lone contact names every sender.

use http::{HeaderMap, Method, Uri};
use pintu_channels::social::meta::{MetaProducts, MetaWebhook};
use pintu_channels::{Parsed, Secret, WebRequest, WebhookAdapter};
use serde_json::{json, Value};

fn display_names(body: &Value) -> Vec<Option<String>> {
    let hook = MetaWebhook::new(
        Secret::new("verify"),
        Secret::new("secret"),
        MetaProducts {
            whatsapp: true,
            facebook: true,
            instagram: true,
        },
    );
    let body = body.to_string().into_bytes();
    let (method, uri, headers) = (Method::POST, Uri::from_static("/webhooks/meta"), HeaderMap::new());
    let req = WebRequest {
        method: &method,
        uri: &uri,
        public_url: "https://pintu.example.go.id/webhooks/meta",
        headers: &headers,
        body: &body,
        remote: None,
    };
    match hook.parse(&req) {
        Ok(Parsed::Messages(m)) => m.into_iter().map(|m| m.sender.display_name).collect(),
        other => panic!("expected messages, got {other:?}"),
    }
}

fn message(from: &str, id: &str) -> Value {
    json!({"from": from, "id": id, "type": "text", "text": {"body": "Lampu jalan mati"}})
}

fn change(contacts: Value, messages: Vec<Value>) -> Value {
    json!({"field": "messages", "value": {
        "metadata": {"phone_number_id": "106540352242922"},
        "contacts": contacts,
        "messages": messages,
    }})
}

#[test]
fn first_contact_of_an_id_and_a_lone_contact_name_senders() {
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
    let names = display_names(&body);
    let names: Vec<Option<&str>> = names.iter().map(Option::as_deref).collect();
    assert_eq!(names, [Some("Ani"), Some("Budi"), None, None, Some("Zed")]);
}
