//! End to end with a real Kannel: an MO injected by `fakesmsc` goes through
//! bearerbox → smsbox → Pintu's get-url → outbox → RabbitMQ, and the
//! acknowledgement comes back through Kannel's sendsms as an MT to `fakesmsc`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BEARERBOX: &str = "/usr/sbin/bearerbox";
const SMSBOX: &str = "/usr/sbin/smsbox";
const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_through_kannel_reaches_rabbitmq_and_ack_returns_as_mt() {
    assert!(
        std::path::Path::new(BEARERBOX).exists(),
        "Kannel is not installed (.ci/run installs kannel kannel-extras)"
    );
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix();
    let (admin, smsbox_port, smsc, sendsms) = (free_port(), free_port(), free_port(), free_port());
    let mut cfg = test_config(&prefix, dir.path());
    cfg.channels.kannel.sendsms_url = Some(format!("http://127.0.0.1:{sendsms}/cgi-bin/sendsms"));
    cfg.channels.kannel.password = Some("sendsms-secret".into());
    let gw = pintu::serve::start(cfg.clone()).await.unwrap();

    let conf = std::fs::read_to_string(repo().join("tests/peers/kannel.conf.tmpl"))
        .unwrap()
        .replace("@ADMIN_PORT@", &admin.to_string())
        .replace("@ADMIN_PASSWORD@", "admin-secret")
        .replace("@SMSBOX_PORT@", &smsbox_port.to_string())
        .replace("@SMSC_PORT@", &smsc.to_string())
        .replace("@SENDSMS_PORT@", &sendsms.to_string())
        .replace("@SENDSMS_PASSWORD@", "sendsms-secret")
        .replace("@PINTU@", &gw.addr.to_string())
        .replace("@TOKEN@", cfg.channels.kannel.auth.token.as_ref().unwrap().expose())
        .replace("@DIR@", &dir.path().display().to_string());
    let conf_path = dir.path().join("kannel.conf");
    std::fs::write(&conf_path, conf).unwrap();

    let mut procs = Procs(Vec::new());
    procs.0.push(
        Command::new(BEARERBOX)
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_port(admin, Duration::from_secs(20));
    procs.0.push(
        Command::new(SMSBOX)
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_port(sendsms, Duration::from_secs(20));
    wait_port(smsc, Duration::from_secs(20));

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
    cleanup(&cfg).await;
}
