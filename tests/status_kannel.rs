//! The loop with a real Kannel: an MO from `fakesmsc` becomes a complaint,
//! is routed, the agency posts an update on `pintu.status`, and the
//! citizen's MT at `fakesmsc` names the agency in words and carries the
//! agency's message — once, though the update was delivered twice.

mod kannel_support;
mod status_support;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kannel_support::*;
use status_support::*;
use support::*;

/// MT lines fakesmsc printed that contain `needle`, waiting up to `timeout`
/// for at least one.
fn mts(rx: &std::sync::mpsc::Receiver<String>, seen: &mut Vec<String>, needle: &str, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && !seen.iter().any(|l| l.contains(needle)) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("Got message") {
                seen.push(line);
            }
        }
    }
    seen.iter().filter(|l| l.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fakesmsc_complaint_gets_the_agency_update_as_an_mt() {
    let ports = KannelPorts::new();
    let smsc = ports.smsc;
    let gw = spawn_app(|cfg| {
        with_status(cfg, &ports.sendsms_url());
        cfg.channels.kannel.password = Some(SENDSMS_PASSWORD.into());
    })
    .await;
    let cfg = gw.cfg().clone();
    let (router, _) = spawn_router(&cfg);

    let mut procs = ports.start(
        gw.dir(),
        gw.addr,
        cfg.channels.kannel.auth.token.as_ref().unwrap().expose(),
    );

    let text = "Jalan berlubang besar di Kota Bandung mohon segera diperbaiki";
    let mut fake = Command::new(FAKESMSC)
        .args(["-H", "127.0.0.1", "-r", &smsc.to_string(), "-m", "1"])
        .arg(format!("+6281234567001 1708 text {text}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = fake.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    procs.0.push(fake);

    let mut seen = Vec::new();
    assert_eq!(
        mts(&rx, &mut seen, "CEK", Duration::from_secs(60)),
        1,
        "ack MT: {seen:?}"
    );
    let tracking = pintu::tracking::find_in(&seen[0]).expect("code in the ack");
    let store = &gw.status.as_ref().unwrap().store;
    assert!(
        wait_until(WAIT, || store
            .get(&tracking)
            .ok()
            .flatten()
            .is_some_and(|r| r.agency == DPUPR))
        .await,
        "routed to {DPUPR}: {:?} {seen:?}",
        store.get(&tracking)
    );
    let u = update(DPUPR, &tracking, "diproses", Some("Petugas ke lokasi hari Senin"));
    publish_update(&cfg, &format!("status.{DPUPR}"), &u).await;
    publish_update(&cfg, &format!("status.{DPUPR}"), &u).await;
    assert_eq!(mts(&rx, &mut seen, "Senin", Duration::from_secs(60)), 1, "{seen:?}");
    let mt = seen.iter().find(|l| l.contains("Senin")).unwrap();
    assert!(mt.contains("Dinas PUPR Kota Bandung") && mt.contains(&tracking), "{mt}");
    assert!(mt.contains("<1708 +6281234567001"), "{mt}");
    // The redelivered update sent nothing more.
    assert_eq!(mts(&rx, &mut seen, "no-such-text", Duration::from_secs(3)), 0);
    assert_eq!(seen.iter().filter(|l| l.contains("Senin")).count(), 1, "{seen:?}");

    drop(procs);
    let _ = router.send(());
    gw.stop().await;
}
