//! The status loop drives the deadline clock (docs/sla.md, "Input: stage
//! events"): with `[status]` and `[sla]` both on, a routed complaint's clock
//! starts with the router's disposition, an agency's `selesai` moves it to
//! the citizen-reply stage, `tertunda` pauses it and leaving `tertunda`
//! resumes it — each through the status outbox and `<prefix>.sla`.

mod status_support;
mod support;

use pintu::sla::Stage as ClockStage;
use pintu::status::Stage;
use status_support::*;
use support::*;

const CITIZEN: &str = "+6281234560077";
const POTHOLE: &str = "Jalan berlubang besar di Kota Bandung mohon segera diperbaiki";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agency_updates_move_the_complaints_clock() {
    let sms = Sms::default();
    let url = fake_sms(sms.clone()).await;
    let gw = spawn_app(|cfg| {
        with_status(cfg, &url);
        cfg.sla.enabled = true;
        cfg.sla.calendar = repo().join("config/calendar/national.toml");
        cfg.sla.overrides = repo().join("config/calendar/overrides.toml");
    })
    .await;
    let (router, _) = spawn_router(gw.cfg());
    let sla = gw.sla.clone().expect("the clock runs with [sla] enabled");

    let code = code_of(&mo(gw.addr, "s1", CITIZEN, POTHOLE).await);
    let store = &gw.status.as_ref().unwrap().store;
    assert!(
        wait_until(WAIT, || store
            .get(&code)
            .ok()
            .flatten()
            .is_some_and(|r| r.stage == Stage::Terdisposisi))
        .await,
        "routed"
    );
    let id = store.get(&code).unwrap().unwrap().complaint_id;
    let clock = |want: fn(&pintu::sla::deadlines::ClockRecord) -> bool| {
        let sla = sla.clone();
        let id = id.clone();
        move || sla.engine.index.get(&id).ok().flatten().is_some_and(|r| want(&r))
    };
    assert!(
        wait_until(WAIT, clock(|r| r.stage == ClockStage::FollowUp && r.agency == DPUPR)).await,
        "the router's disposition started the follow-up clock: {:?}",
        sla.engine.index.get(&id)
    );

    let (s, _) = post_update(
        gw.addr,
        DPUPR_TOKEN,
        &update(DPUPR, &code, "tertunda", Some("Menunggu anggaran")),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        wait_until(WAIT, clock(|r| r.paused.is_some())).await,
        "tertunda paused the clock: {:?}",
        sla.engine.index.get(&id)
    );
    let (s, _) = post_update(
        gw.addr,
        DPUPR_TOKEN,
        &update(DPUPR, &code, "selesai", Some("Sudah ditambal")),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        wait_until(
            WAIT,
            clock(|r| r.paused.is_none() && r.stage == ClockStage::CitizenReply)
        )
        .await,
        "selesai resumed the clock and started the citizen's reply: {:?}",
        sla.engine.index.get(&id)
    );
    let _ = router.send(());
    gw.stop().await;
}
