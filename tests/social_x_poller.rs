//! The X mentions poller against the simulator: paging, cursor persistence
//! across restarts, skipped tweets, and rate-limit handling.

mod social_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use pintu::social::x_poller::{Cursor, XPoller};
use pintu_channels::social::x::XAccount;
use pintu_channels::Secret;
use pintu_tools::sim::SimTweet;
use social_support::*;
use support::*;
use tokio_util::sync::CancellationToken;

fn poller(cfg: &pintu::config::Config, intake: Arc<pintu::intake::Intake>) -> XPoller {
    let x = &cfg.channels.x;
    XPoller::new(
        reqwest::Client::new(),
        &x.api_base,
        Secret::new(X_BEARER),
        XAccount {
            user_id: x.user_id.clone(),
            username: x.username.clone(),
        },
        x.poll.clone(),
        intake,
    )
    .unwrap()
}

const POLL_5: &str = "enabled = true\ninterval_secs = 1\nmax_results = 5\nbackfill_pages = 50";

/// 12 mentions at 5 per page: three pages, newest first; all taken in, the
/// cursor at the newest id; our own tweet and a retweet of it skipped; the
/// next poll asks with `since_id` and takes in only what is new.
#[tokio::test]
async fn pages_through_mentions_and_advances_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim().await;
    let cfg = write_config(dir.path(), &sim.url(), &unique_prefix(), POLL_5);
    let gw = open_intake(&cfg).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(sim.add_mention(
            &format!("90{i}"),
            &format!("warga{i}"),
            &format!("aduan nomor {i} jalan rusak"),
        ));
    }
    let own = sim.add_tweet(SimTweet {
        id: 0,
        text: "@warga1 Terima kasih, aduan Anda diterima LAPOR! dengan kode LPR-7K3Q9X".into(),
        author_id: X_USER_ID.into(),
        author_username: "lapor1708".into(),
        author_name: "LAPOR!".into(),
        created_at: String::new(),
        conversation_id: None,
        referenced_tweets: vec![],
        in_reply_to_user_id: None,
    });
    sim.add_tweet(SimTweet {
        id: 0,
        text: "RT @lapor1708: @warga1 Terima kasih, aduan Anda diterima LAPOR!".into(),
        author_id: "555".into(),
        author_username: "penggemar".into(),
        author_name: "Penggemar".into(),
        created_at: String::new(),
        conversation_id: None,
        referenced_tweets: vec![("retweeted".into(), own.clone())],
        in_reply_to_user_id: None,
    });
    let shutdown = CancellationToken::new();
    let mut p = poller(&cfg, gw.intake.clone());
    let stats = p.poll_once(&shutdown).await.unwrap();
    assert_eq!(stats.pages, 3, "{stats:?}");
    assert_eq!(stats.accepted, 12, "{stats:?}");
    assert_eq!(stats.skipped, 2, "{stats:?}");
    let newest = sim.mention_requests()[0].query.get("since_id").cloned();
    assert_eq!(newest, None, "first poll has no cursor");
    let cursor = p.cursor().get().unwrap().unwrap();
    assert!(
        cursor.parse::<u64>().unwrap() > ids[11].parse::<u64>().unwrap(),
        "cursor at the newest tweet"
    );
    assert_eq!(complaints(&gw.store), 12);
    // The poller asked for the fields and expansions it relies on.
    let q = &sim.mention_requests()[0].query;
    assert_eq!(q.get("expansions").map(String::as_str), Some("author_id"));
    assert_eq!(q.get("user.fields").map(String::as_str), Some("username,name"));
    assert!(q["tweet.fields"].contains("author_id") && q["tweet.fields"].contains("referenced_tweets"));
    assert_eq!(q.get("max_results").map(String::as_str), Some("5"));
    // Pages 2 and 3 followed next_token.
    let reqs = sim.mention_requests();
    assert!(reqs[1].query.contains_key("pagination_token") && reqs[2].query.contains_key("pagination_token"));

    sim.add_mention("777", "baru", "lampu jalan mati");
    let before = sim.mention_requests().len();
    let stats = p.poll_once(&shutdown).await.unwrap();
    assert_eq!((stats.pages, stats.accepted, stats.duplicates), (1, 1, 0), "{stats:?}");
    assert_eq!(sim.mention_requests()[before].query.get("since_id"), Some(&cursor));
    assert_eq!(complaints(&gw.store), 13);
    sim.stop().await;
}

/// Failure on page 2 of 3: page 1 is durable but the cursor stays; after a
/// restart (store closed and reopened) the poller reads from the old cursor
/// again: page 1 comes back as duplicates, pages 2–3 are new. Every mention is
/// one complaint — none lost, none twice — and a further restart with nothing
/// new takes in nothing.
#[tokio::test]
async fn cursor_survives_restart_without_loss_or_double_intake() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim().await;
    let cfg = write_config(dir.path(), &sim.url(), &unique_prefix(), POLL_5);
    let shutdown = CancellationToken::new();

    // First life: 4 mentions, one clean poll.
    for i in 0..4 {
        sim.add_mention(&format!("80{i}"), "w", &format!("keluhan awal {i}"));
    }
    let gw = open_intake(&cfg).await;
    let mut p = poller(&cfg, gw.intake.clone());
    p.poll_once(&shutdown).await.unwrap();
    let first_cursor = p.cursor().get().unwrap().unwrap();
    assert_eq!(complaints(&gw.store), 4);

    // 12 new mentions (3 pages); X fails the second page.
    for i in 0..12 {
        sim.add_mention(&format!("81{i}"), "w", &format!("keluhan baru {i}"));
    }
    sim.fail_mentions_after(1, 503);
    let err = p.poll_once(&shutdown).await;
    assert!(err.is_err(), "page 2 failed");
    assert_eq!(
        p.cursor().get().unwrap().as_deref(),
        Some(first_cursor.as_str()),
        "cursor kept"
    );
    let after_failure = complaints(&gw.store);
    assert!(
        after_failure > 4 && after_failure < 16,
        "page 1 durable: {after_failure}"
    );

    // Restart: everything dropped, store reopened from disk.
    drop(p);
    gw.close().await;
    let gw = open_intake(&cfg).await;
    let persisted = Cursor::open(gw.intake.db(), X_USER_ID).unwrap().get().unwrap();
    assert_eq!(persisted.as_deref(), Some(first_cursor.as_str()), "cursor persisted");
    let mut p = poller(&cfg, gw.intake.clone());
    let stats = p.poll_once(&shutdown).await.unwrap();
    assert_eq!(stats.accepted + stats.duplicates, 12, "{stats:?}");
    assert_eq!(
        stats.duplicates as usize,
        after_failure - 4,
        "page 1 again, as duplicates: {stats:?}"
    );
    assert_eq!(complaints(&gw.store), 16, "every mention exactly once");
    let final_cursor = p.cursor().get().unwrap().unwrap();

    // Restart again: nothing new, nothing taken in, the cursor is used.
    drop(p);
    gw.close().await;
    let gw = open_intake(&cfg).await;
    let mut p = poller(&cfg, gw.intake.clone());
    let n = sim.mention_requests().len();
    let stats = p.poll_once(&shutdown).await.unwrap();
    assert_eq!((stats.accepted, stats.duplicates), (0, 0), "{stats:?}");
    assert_eq!(sim.mention_requests()[n].query.get("since_id"), Some(&final_cursor));
    assert_eq!(complaints(&gw.store), 16);
    sim.stop().await;
}

/// With 2 requests per 2-second window and 3 pages to read, the poller uses
/// up the window, then waits for `x-rate-limit-reset` instead of asking again:
/// the simulator never has to answer 429.
#[tokio::test]
async fn waits_for_reset_when_remaining_is_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut sc = sim_config();
    sc.rate_limit = 2;
    sc.rate_window = Duration::from_secs(2);
    let sim = pintu_tools::sim::Sim::start(sc).await.unwrap();
    let cfg = write_config(dir.path(), &sim.url(), &unique_prefix(), POLL_5);
    let gw = open_intake(&cfg).await;
    for i in 0..12 {
        sim.add_mention(&format!("70{i}"), "w", &format!("antrian panjang {i}"));
    }
    let mut p = poller(&cfg, gw.intake.clone());
    let stats = p.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!((stats.pages, stats.accepted), (3, 12), "{stats:?}");
    let reqs = sim.mention_requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs.iter().all(|r| r.status == 200), "no 429: {reqs:?}");
    assert_eq!(reqs[1].remaining, Some(0));
    assert!(
        reqs[2].at >= reqs[1].reset as f64,
        "third request at {} before the reset {}",
        reqs[2].at,
        reqs[1].reset
    );
    sim.stop().await;
}

/// Another client used up the window: the first request gets 429; the running
/// poller backs off until the reset and then takes the mention in.
#[tokio::test]
async fn backs_off_after_429_until_reset() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim().await;
    let cfg = write_config(dir.path(), &sim.url(), &unique_prefix(), POLL_5);
    let gw = open_intake(&cfg).await;
    sim.add_mention("601", "w", "pungli di kantor samsat");
    sim.exhaust_rate_limit(Duration::from_secs(2));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(poller(&cfg, gw.intake.clone()).run(shutdown.clone()));
    let store = gw.store.clone();
    assert!(
        wait_until(Duration::from_secs(10), || complaints(&store) == 1).await,
        "mention taken in after the reset"
    );
    shutdown.cancel();
    task.await.unwrap();
    let reqs = sim.mention_requests();
    assert_eq!(reqs[0].status, 429, "{reqs:?}");
    let retry = reqs.iter().find(|r| r.status == 200).unwrap();
    assert!(
        retry.at >= reqs[0].reset as f64,
        "retried at {} before reset {}",
        retry.at,
        reqs[0].reset
    );
    assert_eq!(
        reqs.iter().filter(|r| r.status == 429).count(),
        1,
        "no hammering: {reqs:?}"
    );
    sim.stop().await;
}

/// Wrong bearer token: the poll fails with an authentication error and the
/// cursor is not touched.
#[tokio::test]
async fn refused_credentials_keep_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim().await;
    let cfg = write_config(dir.path(), &sim.url(), &unique_prefix(), POLL_5);
    let gw = open_intake(&cfg).await;
    sim.add_mention("1", "w", "x");
    let x = &cfg.channels.x;
    let mut p = XPoller::new(
        reqwest::Client::new(),
        &x.api_base,
        Secret::new("wrong"),
        XAccount {
            user_id: x.user_id.clone(),
            username: x.username.clone(),
        },
        x.poll.clone(),
        gw.intake.clone(),
    )
    .unwrap();
    let err = p.poll_once(&CancellationToken::new()).await.unwrap_err();
    assert!(matches!(err, pintu::social::x_poller::PollError::Auth(401, _)), "{err}");
    assert_eq!(p.cursor().get().unwrap(), None);
    assert_eq!(complaints(&gw.store), 0);
    sim.stop().await;
}
