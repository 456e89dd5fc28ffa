//! The social webhooks over HTTP, signed by the simulator exactly as the
//! platforms sign them, through the real webhook handler into intake.

mod social_support;
mod support;

use pintu::store::outbox::{Envelope, Target};
use pintu::store::Store;
use pintu_tools::sim::client;
use serde_json::{json, Value};
use social_support::*;
use support::*;
use tokio_util::sync::CancellationToken;

/// Complaint and reply bodies waiting in the outbox.
fn outbox(store: &Store) -> (Vec<Value>, Vec<Value>) {
    let mut complaints = Vec::new();
    let mut replies = Vec::new();
    for entry in store.outbox.iter() {
        let (_, v) = entry.unwrap();
        let env = Envelope::decode(&v).unwrap();
        let body: Value = serde_json::from_slice(&env.body).unwrap();
        match env.target {
            Target::Intake => complaints.push(body),
            Target::Outbound => replies.push(body),
        }
    }
    (complaints, replies)
}

fn receipt(body: &str) -> (String, bool) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let r = &v["accepted"][0];
    (
        r["tracking"].as_str().unwrap().to_string(),
        r["duplicate"].as_bool().unwrap(),
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    gw: Gateway,
    base: String,
    shutdown: CancellationToken,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // No platform API is called in these tests; the URL only has to be valid.
    let cfg = write_config(dir.path(), "http://127.0.0.1:9", &unique_prefix(), "enabled = false");
    let gw = open_intake(&cfg).await;
    let shutdown = CancellationToken::new();
    let addr = serve_webhooks(&cfg, gw.intake.clone(), shutdown.clone()).await;
    Setup {
        _dir: dir,
        gw,
        base: format!("http://{addr}"),
        shutdown,
    }
}

/// One message per platform is taken in with the sender identity, text and
/// reply facts; the redelivery of each (same ids, same signature) answers the
/// same tracking code as a duplicate; each complaint has its reply queued
/// with the tracking code.
#[tokio::test]
async fn each_platform_ingests_once_and_dedupes_redelivery() {
    let s = setup().await;
    let meta = format!("{}/webhooks/meta", s.base);
    let tg = format!("{}/webhooks/telegram", s.base);
    let x = format!("{}/webhooks/x", s.base);
    let calls: Vec<(&str, Value)> = vec![
        (
            "whatsapp",
            client::whatsapp_text(
                "106540352242922",
                "6281234567890",
                "Siti",
                "wamid.T1",
                "Jalan berlubang di Jl. Ahmad Yani Surabaya",
            ),
        ),
        (
            "facebook",
            client::messaging_text(
                "page",
                "112233445566778",
                "7654321098765432",
                "m_T2",
                "Lampu PJU mati di Kota Bogor",
            ),
        ),
        (
            "instagram",
            client::messaging_text(
                "instagram",
                "17841400000000000",
                "1234567890123456",
                "aWdfT3",
                "Antrian BPJS Kesehatan terlalu lama #anonim",
            ),
        ),
        (
            "telegram",
            client::telegram_text(
                5001,
                1111111,
                "Budi",
                "budi_s",
                42,
                "Sampah tidak diangkut seminggu di Depok",
            ),
        ),
        (
            "x",
            client::x_mention_event(
                X_USER_ID,
                "lapor1708",
                "1850000000000000001",
                "2244994945",
                "warga_bdg",
                "Banjir di Dayeuhkolot belum surut",
            ),
        ),
    ];
    let mut trackings = Vec::new();
    for (platform, body) in &calls {
        let send = || async {
            match *platform {
                "telegram" => client::send_telegram(&tg, TG_SECRET, body).await,
                "x" => client::send_x(&x, X_CONSUMER_SECRET, body).await,
                _ => client::send_meta(&meta, META_SECRET, body).await,
            }
            .unwrap()
        };
        let first = send().await;
        assert_eq!(first.status, 200, "{platform}: {}", first.body);
        let (tracking, dup) = receipt(&first.body);
        assert!(!dup, "{platform}: first delivery is new");
        let again = send().await;
        assert_eq!(again.status, 200, "{platform} redelivery: {}", again.body);
        assert_eq!(
            receipt(&again.body),
            (tracking.clone(), true),
            "{platform}: redelivery is a duplicate"
        );
        trackings.push(tracking);
    }
    assert_eq!(complaints(&s.gw.store), 5);
    let (published, replies) = outbox(&s.gw.store);
    assert_eq!(published.len(), 5, "nothing published twice");
    let by_channel = |c: &str| published.iter().find(|p| p["channel"] == c).unwrap().clone();
    let wa = by_channel("whatsapp");
    assert_eq!(wa["provider"], "meta-whatsapp");
    assert_eq!(
        wa["sender"],
        json!({"kind": "handle", "address": "6281234567890", "display_name": "Siti"})
    );
    assert_eq!(wa["external_id"], "wamid.T1");
    assert_eq!(by_channel("facebook")["sender"]["address"], "7654321098765432");
    let ig = by_channel("instagram");
    assert_eq!(ig["flags"]["anonymous"], true, "marker honoured as for SMS");
    let tgc = by_channel("telegram");
    assert_eq!(tgc["sender"]["display_name"], "Budi (@budi_s)");
    assert_eq!(tgc["external_id"], "1111111:42");
    let xc = by_channel("x");
    assert_eq!(xc["sender"]["address"], "2244994945");
    assert_eq!(xc["text"], "Banjir di Dayeuhkolot belum surut");
    // Every complaint has its reply waiting, carrying its tracking code and
    // what the transport needs.
    assert_eq!(replies.len(), 5);
    for t in &trackings {
        let r = replies.iter().find(|r| r["tracking"] == t.as_str()).unwrap();
        assert!(r["text"].as_str().unwrap().contains(t.as_str()), "{r}");
    }
    let reply = |p: &str| replies.iter().find(|r| r["provider"] == p).unwrap().clone();
    assert_eq!(reply("meta-whatsapp")["context"]["phone_number_id"], "106540352242922");
    assert_eq!(reply("telegram")["context"]["chat_id"], "1111111");
    assert_eq!(reply("x")["context"]["tweet_id"], "1850000000000000001");
    assert_eq!(reply("meta-messenger")["to"], "7654321098765432");
    s.shutdown.cancel();
}

/// Wrong or missing signatures and tokens are refused (401/403) and nothing
/// is taken in; a body changed after signing fails too.
#[tokio::test]
async fn bad_signatures_are_rejected() {
    let s = setup().await;
    let meta = format!("{}/webhooks/meta", s.base);
    let tg = format!("{}/webhooks/telegram", s.base);
    let x = format!("{}/webhooks/x", s.base);
    let wa = client::whatsapp_text("106540352242922", "628111", "A", "wamid.BAD", "uji tanda tangan");
    let a = client::send_meta(&meta, "not-the-app-secret", &wa).await.unwrap();
    assert_eq!(a.status, 403, "{}", a.body);
    // Signed, then altered in transit.
    let sig = client::meta_signature(META_SECRET, &serde_json::to_vec(&wa).unwrap());
    let mut altered = wa.clone();
    altered["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = json!("diubah");
    let resp = reqwest::Client::new()
        .post(&meta)
        .header("x-hub-signature-256", sig)
        .json(&altered)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let unsigned = reqwest::Client::new().post(&meta).json(&wa).send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    let t = client::telegram_text(1, 5, "A", "", 1, "uji token");
    assert_eq!(client::send_telegram(&tg, "tg-wrong", &t).await.unwrap().status, 403);
    let ev = client::x_mention_event(X_USER_ID, "lapor1708", "1850000000000000009", "99", "a", "uji");
    assert_eq!(client::send_x(&x, "wrong-secret", &ev).await.unwrap().status, 403);
    assert_eq!(complaints(&s.gw.store), 0, "nothing ingested");
    s.shutdown.cancel();
}

/// Meta's subscription check and X's CRC answer as the platforms require;
/// a wrong verify token is refused.
#[tokio::test]
async fn verification_handshakes() {
    let s = setup().await;
    let meta = format!("{}/webhooks/meta", s.base);
    let ok = client::meta_verify(&meta, META_VERIFY, "1158201444").await.unwrap();
    assert_eq!((ok.status, ok.body.as_str()), (200, "1158201444"));
    let bad = client::meta_verify(&meta, "guess", "1158201444").await.unwrap();
    assert_eq!(bad.status, 403);
    let x = format!("{}/webhooks/x", s.base);
    let crc = client::x_crc(&x, "Y2hhbGxlbmdlLXRva2Vu").await.unwrap();
    assert_eq!(crc.status, 200);
    let v: Value = serde_json::from_str(&crc.body).unwrap();
    assert_eq!(
        v["response_token"].as_str(),
        Some(client::x_crc_expected(X_CONSUMER_SECRET, "Y2hhbGxlbmdlLXRva2Vu").as_str())
    );
    s.shutdown.cancel();
}

/// Statuses and echoes are answered 200 (so Meta does not retry) with the
/// reason in `x-pintu-ignored`; malformed bodies get 400 with a one-line reason.
#[tokio::test]
async fn ignored_and_malformed_events() {
    let s = setup().await;
    let meta = format!("{}/webhooks/meta", s.base);
    let status = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"metadata": {"phone_number_id": "1"}, "statuses": [{"id": "wamid.O", "status": "read"}]}}]}]});
    let body = serde_json::to_vec(&status).unwrap();
    let resp = reqwest::Client::new()
        .post(&meta)
        .header("x-hub-signature-256", client::meta_signature(META_SECRET, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers().get("x-pintu-ignored").and_then(|v| v.to_str().ok()),
        Some("delivery status")
    );
    let garbage = b"{\"object\": \"page\", \"entry\": [".to_vec();
    let resp = reqwest::Client::new()
        .post(&meta)
        .header("x-hub-signature-256", client::meta_signature(META_SECRET, &garbage))
        .body(garbage)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let text = resp.text().await.unwrap();
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
    assert!(text.starts_with("malformed body"), "{text}");
    assert_eq!(complaints(&s.gw.store), 0);
    s.shutdown.cancel();
}

/// One malformed message in a signed WhatsApp batch is skipped and counted;
/// the valid one is ingested and Meta gets its 200 (a 400 would refuse the
/// valid message on every redelivery).
#[tokio::test]
async fn a_malformed_item_does_not_cost_the_batch_its_valid_messages() {
    let s = setup().await;
    let meta = format!("{}/webhooks/meta", s.base);
    let batch = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Siti"}, "wa_id": "6281234567890"}],
            "messages": [
                {"from": 6281234567891u64, "id": "wamid.BAD", "type": "text", "text": {"body": "x"}},
                {"from": "6281234567890", "id": "wamid.GOOD", "type": "text", "text": {"body": "Jalan berlubang di Surabaya"}}]}}]}]});
    let body = serde_json::to_vec(&batch).unwrap();
    let resp = reqwest::Client::new()
        .post(&meta)
        .header("x-hub-signature-256", client::meta_signature(META_SECRET, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (code, dup) = receipt(&resp.text().await.unwrap());
    assert!(code.starts_with("LPR-") && !dup);
    let (complaints, _) = outbox(&s.gw.store);
    assert_eq!(complaints.len(), 1);
    assert_eq!(complaints[0]["external_id"], "wamid.GOOD");
    let metrics = pintu::obs::metrics_handle().render();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("pintu_rejected_total") && l.contains("malformed_item")),
        "skipped item not counted"
    );
    s.shutdown.cancel();
}
