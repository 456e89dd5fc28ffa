//! The ops page's counters belong to one gateway, not the process: two
//! gateways in one test binary count apart (the recorder is passed in by
//! `serve`, no longer a process global).

mod ops_support;
mod support;

use ops_support::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_in_one_process_count_apart() {
    let a = spawn_app(ops_config).await;
    let b = spawn_app(ops_config).await;
    let http = reqwest::Client::new();
    let token = generic_token(a.cfg());
    for (i, text) in ["Jalan rusak di Depok", "Lampu jalan mati di Bogor"].iter().enumerate() {
        assert_eq!(send_sms(&http, a.addr, &token, &format!("a{i}"), text).await, 200);
    }
    assert_eq!(
        send_sms(&http, b.addr, &token, "b0", "Sampah menumpuk di Bekasi").await,
        200
    );
    // Wrong token: one rejection, on b only.
    assert_eq!(send_sms(&http, b.addr, "wrong", "b1", "x").await, 403);

    let sa = wait_for(&http, a.addr, 30, "two complaints on a", |s| {
        s.intake.last_hour.received >= 2
    })
    .await;
    let sb = wait_for(&http, b.addr, 30, "one complaint on b", |s| {
        s.intake.last_hour.received >= 1
    })
    .await;
    assert_eq!((sa.intake.last_hour.received, sa.intake.last_hour.rejected), (2, 0));
    assert_eq!((sb.intake.last_hour.received, sb.intake.last_hour.rejected), (1, 1));
    a.stop().await;
    b.stop().await;
}
