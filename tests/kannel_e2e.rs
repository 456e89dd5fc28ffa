//! End to end with a real Kannel: an MO injected by `fakesmsc` goes through
//! bearerbox → smsbox → Pintu's get-url → outbox → RabbitMQ, and the
//! acknowledgement comes back through Kannel's sendsms as an MT to `fakesmsc`.

mod kannel_support;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kannel_support::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_through_kannel_reaches_rabbitmq_and_ack_returns_as_mt() {
    let ports = KannelPorts::new();
    let smsc = ports.smsc;
    let gw = spawn_app(|cfg| {
        cfg.channels.kannel.sendsms_url = Some(ports.sendsms_url());
        cfg.channels.kannel.password = Some(SENDSMS_PASSWORD.into());
    })
    .await;
    let prefix = gw.prefix().to_string();

    let mut procs = ports.start(
        gw.dir(),
        gw.addr,
        gw.cfg().channels.kannel.auth.token.as_ref().unwrap().expose(),
    );

    let text = "Puskesmas di Kota Padang tutup terus, mohon ditindak";
    let mut fake = Command::new(FAKESMSC)
        .args([
            "-H",
            "127.0.0.1",
            "-r",
            &smsc.to_string(),
            "-m",
            "1",
            &format!("+6281234567001 1708 text {text}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // fakesmsc logs what it receives ("Got message N: <to from text …>") on stderr.
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

    let got = take(&format!("{prefix}.intake"), 1, Duration::from_secs(60)).await;
    assert_eq!(got.len(), 1, "complaint reached the intake queue");
    let c = &got[0].json;
    assert_valid_complaint(c);
    assert_eq!(c["channel"], "sms");
    assert_eq!(c["provider"], "kannel");
    assert_eq!(c["sender"]["kind"], "msisdn");
    assert_eq!(c["sender"]["address"], "+6281234567001");
    assert_eq!(c["recipient"], "1708");
    assert_eq!(c["text"], text);
    let tracking = c["tracking"].as_str().unwrap().to_string();

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut mt = None;
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            if line.contains("Got message") {
                mt = Some(line);
                break;
            }
        }
    }
    let mt = mt.expect("fakesmsc received the acknowledgement as an MT");
    assert!(mt.contains(&tracking), "MT carries the tracking code {tracking}: {mt}");
    assert!(
        mt.contains("<1708 +6281234567001"),
        "sent from the short code to the citizen: {mt}"
    );

    drop(procs);
    gw.stop().await;
}
