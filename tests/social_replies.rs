//! Replies on the social channels: each transport's request against the
//! simulator, the classification of failures, and the whole path — webhook or
//! poll → intake → outbox → RabbitMQ → reply sender → platform — with the
//! tracking code arriving at the simulated platform.

mod social_support;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pintu::replies::{OutboundReply, ReplyTransport, SendError};
use pintu_channels::Channel;
use pintu_tools::sim::client;
use serde_json::{json, Value};
use social_support::*;
use support::*;

fn reply(provider: &str, channel: Channel, to: &str, context: &[(&str, &str)]) -> OutboundReply {
    OutboundReply {
        id: "01J0000000000000000000000".into(),
        complaint_id: "01J0000000000000000000001".into(),
        tracking: "LPR-7K3Q9X".into(),
        channel,
        provider: provider.into(),
        to: to.into(),
        subject: None,
        text: "LAPOR! Aduan Anda telah diterima dengan kode LPR-7K3Q9X.".into(),
        context: context
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn transports(cfg: &pintu::config::Config) -> BTreeMap<String, Arc<dyn ReplyTransport>> {
    pintu::social::reply_transports(cfg)
        .unwrap()
        .into_iter()
        .map(|t| (t.provider().to_string(), t))
        .collect()
}

/// Each transport sends the request its platform documents, to the path it
/// documents, and the simulator (which checks credentials and required
/// fields) accepts it.
#[tokio::test]
async fn transports_send_the_documented_requests() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim().await;
    let cfg = write_config(dir.path(), &sim.url(), &unique_prefix(), "enabled = false");
    let t = transports(&cfg);
    assert_eq!(
        t.keys().map(String::as_str).collect::<Vec<_>>(),
        ["meta-instagram", "meta-messenger", "meta-whatsapp", "telegram", "x"]
    );
    let cases = [
        reply("x", Channel::X, "2244994945", &[("tweet_id", "1850000000000000001")]),
        reply(
            "meta-whatsapp",
            Channel::Whatsapp,
            "6281234567890",
            &[("phone_number_id", "106540352242922"), ("message_id", "wamid.T1")],
        ),
        reply(
            "meta-messenger",
            Channel::Facebook,
            "7654321098765432",
            &[("page_id", "1122")],
        ),
        reply(
            "meta-instagram",
            Channel::Instagram,
            "1234567890123456",
            &[("ig_id", "1784")],
        ),
        reply(
            "telegram",
            Channel::Telegram,
            "1111111",
            &[("chat_id", "1111111"), ("message_id", "42")],
        ),
    ];
    for r in &cases {
        t[&r.provider]
            .send(r)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", r.provider));
    }
    let sent = sim.sent();
    assert_eq!(sent.len(), 5);
    let text = cases[0].text.clone();
    assert_eq!(sent[0].path, "/2/tweets");
    assert_eq!(
        sent[0].body,
        json!({"text": text, "reply": {"in_reply_to_tweet_id": "1850000000000000001"}})
    );
    assert_eq!(sent[1].path, "/v21.0/106540352242922/messages");
    assert_eq!(
        sent[1].body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "6281234567890", "type": "text",
               "text": {"preview_url": false, "body": text}, "context": {"message_id": "wamid.T1"}})
    );
    for (i, to) in [(2, "7654321098765432"), (3, "1234567890123456")] {
        assert_eq!(sent[i].path, "/v21.0/me/messages");
        assert_eq!(
            sent[i].body,
            json!({"recipient": {"id": to}, "messaging_type": "RESPONSE", "message": {"text": text}})
        );
    }
    assert_eq!(sent[4].platform, "telegram");
    assert_eq!(
        sent[4].body,
        json!({"chat_id": 1111111, "text": text, "reply_to_message_id": 42, "allow_sending_without_reply": true})
    );
    sim.stop().await;
}

/// Throttling and server errors are temporary (the sender retries); refused
/// requests and missing reply facts are permanent (dead-lettered at once).
/// No error text carries the Telegram bot token.
#[tokio::test]
async fn failures_are_classified() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim().await;
    let cfg = write_config(dir.path(), &sim.url(), &unique_prefix(), "enabled = false");
    let t = transports(&cfg);
    let wa = reply(
        "meta-whatsapp",
        Channel::Whatsapp,
        "628111",
        &[("phone_number_id", "106540352242922")],
    );
    let tg = reply("telegram", Channel::Telegram, "5", &[("chat_id", "5")]);
    let x = reply("x", Channel::X, "9", &[("tweet_id", "1850000000000000001")]);
    let transient = |r: Result<(), SendError>| matches!(r, Err(SendError::Transient { .. }));
    let permanent = |r: Result<(), SendError>| matches!(r, Err(SendError::Permanent { .. }));

    sim.fail_next_send(
        500,
        json!({"error": {"message": "An unknown error occurred", "code": 1}}),
    );
    assert!(transient(t["meta-whatsapp"].send(&wa).await));
    sim.fail_next_send(
        400,
        json!({"error": {"message": "(#130429) Rate limit hit", "code": 130429}}),
    );
    assert!(
        transient(t["meta-whatsapp"].send(&wa).await),
        "Graph throttling comes as HTTP 400"
    );
    sim.fail_next_send(
        400,
        json!({"error": {"message": "(#131047) Re-engagement message", "code": 131047}}),
    );
    assert!(permanent(t["meta-whatsapp"].send(&wa).await));
    sim.fail_next_send(429, json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 5", "parameters": {"retry_after": 5}}));
    assert!(transient(t["telegram"].send(&tg).await));
    sim.fail_next_send(
        403,
        json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
    );
    assert!(permanent(t["telegram"].send(&tg).await));
    sim.fail_next_send(429, json!({"title": "Too Many Requests", "status": 429}));
    assert!(transient(t["x"].send(&x).await));
    sim.fail_next_send(
        403,
        json!({"detail": "You are not allowed to create a Tweet with duplicate content.", "status": 403}),
    );
    assert!(permanent(t["x"].send(&x).await));
    let no_ctx = reply("x", Channel::X, "9", &[]);
    assert!(permanent(t["x"].send(&no_ctx).await));
    assert!(sim.sent().is_empty(), "nothing recorded as sent");

    // A wrong credential is refused by the platform: permanent.
    let mut wrong = cfg.clone();
    wrong.channels.telegram.bot_token = Some(pintu_channels::Secret::new("123456:wrong"));
    let r = transports(&wrong)["telegram"].send(&tg).await;
    assert!(permanent(r));

    // Unreachable API: temporary, and the error does not show the token in the URL.
    let mut down = cfg.clone();
    down.channels.telegram.api_base = "http://127.0.0.1:9".into();
    match transports(&down)["telegram"].send(&tg).await {
        Err(SendError::Transient { reason: why, .. }) => assert!(!why.contains("ABC-sim_bot_token"), "{why}"),
        other => panic!("{other:?}"),
    }
    sim.stop().await;
}

/// The whole path with RabbitMQ, as `pintu serve` runs it: complaints arrive
/// by webhook (WhatsApp, Messenger, Instagram, Telegram, X Account Activity)
/// and by the gateway's X poller; its relay publishes the replies, its reply
/// sender hands them to the social transports, and the simulated platforms
/// receive each tracking code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_the_platforms_with_the_tracking_code() {
    let sim = start_sim().await;
    let poll = "enabled = true\ninterval_secs = 1\nmax_results = 10";
    let gw = TestApp::builder()
        .base(|prefix, dir| write_config(dir, &sim.url(), prefix, poll))
        .spawn()
        .await;
    let base = format!("http://{}", gw.addr);

    let mut trackings: Vec<(String, String)> = Vec::new();
    let mut note = |platform: &str, body: &str| {
        let v: Value = serde_json::from_str(body).unwrap();
        trackings.push((
            platform.into(),
            v["accepted"][0]["tracking"].as_str().unwrap().to_string(),
        ));
    };
    let meta = format!("{base}/webhooks/meta");
    let a = client::send_meta(
        &meta,
        META_SECRET,
        &client::whatsapp_text(
            "106540352242922",
            "6281234567890",
            "Siti",
            "wamid.E1",
            "Puskesmas tutup siang hari",
        ),
    )
    .await
    .unwrap();
    note("whatsapp", &a.body);
    let a = client::send_meta(
        &meta,
        META_SECRET,
        &client::messaging_text("page", "1122", "7654321098765432", "m_E2", "Jembatan gantung rusak"),
    )
    .await
    .unwrap();
    note("messenger", &a.body);
    let a = client::send_meta(
        &meta,
        META_SECRET,
        &client::messaging_text(
            "instagram",
            "1784",
            "1234567890123456",
            "aWdfE3",
            "Parkir liar di trotoar",
        ),
    )
    .await
    .unwrap();
    note("messenger", &a.body);
    let a = client::send_telegram(
        &format!("{base}/webhooks/telegram"),
        TG_SECRET,
        &client::telegram_text(7001, 1111111, "Budi", "", 77, "Pungli di kantor desa"),
    )
    .await
    .unwrap();
    note("telegram", &a.body);
    let a = client::send_x(
        &format!("{base}/webhooks/x"),
        X_CONSUMER_SECRET,
        &client::x_mention_event(
            X_USER_ID,
            "lapor1708",
            "1850000000000000077",
            "2244994945",
            "warga",
            "Macet parah di Jl. Sudirman",
        ),
    )
    .await
    .unwrap();
    note("x", &a.body);
    assert_eq!(trackings.len(), 5);

    // One more through the gateway's poller of the mentions timeline.
    let polled_tweet = sim.add_mention("31337", "pelapor", "Saluran air tersumbat di Jl. Kenari");

    let delivered = wait_until(Duration::from_secs(30), || sim.sent().len() >= 6).await;
    let sent = sim.sent();
    assert!(delivered, "replies sent: {sent:#?}");
    for (platform, tracking) in &trackings {
        assert!(
            sent.iter()
                .any(|s| s.platform == *platform && s.body.to_string().contains(tracking.as_str())),
            "{platform} reply with {tracking} missing: {sent:#?}"
        );
    }
    let polled = sent
        .iter()
        .find(|s| s.body["reply"]["in_reply_to_tweet_id"] == polled_tweet.as_str())
        .unwrap_or_else(|| panic!("no reply to the polled tweet: {sent:#?}"));
    assert!(polled.body["text"].as_str().unwrap().contains("LPR-"), "{polled:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.sent().len(), 6, "each reply sent once");

    gw.stop().await;
    sim.stop().await;
}
