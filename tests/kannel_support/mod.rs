//! A real Kannel (bearerbox + smsbox) on loopback ports of the test's own,
//! configured from `tests/peers/kannel.conf.tmpl` to call the gateway's
//! get-url, plus `fakesmsc` as the SMSC. Shared by the Kannel end-to-end
//! tests; the processes are killed when the value is dropped. Built on
//! `crate::support` (the test binary declares `mod support;`).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, repo};

pub const BEARERBOX: &str = "/usr/sbin/bearerbox";
pub const SMSBOX: &str = "/usr/sbin/smsbox";
pub const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";
/// The sendsms password the template is rendered with.
pub const SENDSMS_PASSWORD: &str = "sendsms-secret";

pub struct Procs(pub Vec<Child>);

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

/// Kannel's ports, chosen before the gateway starts (its config names the
/// sendsms URL).
pub struct KannelPorts {
    pub admin: u16,
    pub smsbox: u16,
    pub smsc: u16,
    pub sendsms: u16,
}

impl KannelPorts {
    pub fn new() -> KannelPorts {
        assert!(
            Path::new(BEARERBOX).exists(),
            "Kannel is not installed (.ci/run installs kannel kannel-extras)"
        );
        KannelPorts {
            admin: free_port(),
            smsbox: free_port(),
            smsc: free_port(),
            sendsms: free_port(),
        }
    }

    pub fn sendsms_url(&self) -> String {
        format!("http://127.0.0.1:{}/cgi-bin/sendsms", self.sendsms)
    }

    /// Render the config into `dir`, start bearerbox and smsbox calling the
    /// gateway at `pintu` with `token`, and wait until they listen.
    pub fn start(&self, dir: &Path, pintu: std::net::SocketAddr, token: &str) -> Procs {
        let conf = std::fs::read_to_string(repo().join("tests/peers/kannel.conf.tmpl"))
            .unwrap()
            .replace("@ADMIN_PORT@", &self.admin.to_string())
            .replace("@ADMIN_PASSWORD@", "admin-secret")
            .replace("@SMSBOX_PORT@", &self.smsbox.to_string())
            .replace("@SMSC_PORT@", &self.smsc.to_string())
            .replace("@SENDSMS_PORT@", &self.sendsms.to_string())
            .replace("@SENDSMS_PASSWORD@", SENDSMS_PASSWORD)
            .replace("@PINTU@", &pintu.to_string())
            .replace("@TOKEN@", token)
            .replace("@DIR@", &dir.display().to_string());
        let conf_path = dir.join("kannel.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let spawn = |bin: &str| {
            Command::new(bin)
                .arg(&conf_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut procs = Procs(vec![spawn(BEARERBOX)]);
        wait_port(self.admin, Duration::from_secs(20));
        procs.0.push(spawn(SMSBOX));
        wait_port(self.sendsms, Duration::from_secs(20));
        wait_port(self.smsc, Duration::from_secs(20));
        procs
    }
}
