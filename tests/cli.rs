//! `pintu check` and environment overrides, as an operator runs them.

mod support;

use support::{pintu_command, run};

fn pintu(envs: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let mut cmd = pintu_command();
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

#[test]
fn default_config_checks_ok() {
    let (ok, out) = pintu(&[], &["check"]);
    assert!(ok, "{out}");
    assert!(out.contains("ok"));
}

#[test]
fn bad_values_name_the_key() {
    for (key, value, needle) in [
        ("PINTU_AMQP__URL", "http://nope", "amqp.url"),
        ("PINTU_HTTP__ADDR", "not-an-address", "http.addr"),
        ("PINTU_HTTP__ADRR", "127.0.0.1:1", "adrr"),
        (
            "PINTU_CHANNELS__KANNEL__ALLOW_IPS",
            "[\"10.0.0.0/99\"]",
            "channels.kannel.allow_ips",
        ),
        ("PINTU_CHANNELS__KANNEL__TOKEN", "", "channels.kannel.token"),
        ("PINTU_HTTP__ADDR", "0.0.0.0:8080", "http.ops_token"),
    ] {
        let (ok, out) = pintu(&[(key, value)], &["check"]);
        assert!(!ok, "{key}={value} must fail");
        assert!(
            out.contains(needle),
            "{key}={value}: error should name `{needle}`: {out}"
        );
    }
}

#[test]
fn node_id_from_the_environment_is_validated() {
    let key = "0f".repeat(32);
    let (ok, out) = pintu(
        &[("PINTU_NODE__ID", "15"), ("PINTU_NODE__TRACKING_KEY", &key)],
        &["check"],
    );
    assert!(ok, "{out}");
    assert!(!out.contains(&key), "the key is printed: {out}");
    for (envs, needle) in [
        (
            vec![("PINTU_NODE__ID", "16"), ("PINTU_NODE__TRACKING_KEY", key.as_str())],
            "node.id",
        ),
        (vec![("PINTU_NODE__ID", "x")], "node.id"),
        (vec![("PINTU_NODE__ID", "2")], "node.tracking_key"),
        (
            vec![("PINTU_NODE__ID", "2"), ("PINTU_NODE__TRACKING_KEY", "abcd")],
            "node.tracking_key",
        ),
    ] {
        let (ok, out) = pintu(&envs, &["check"]);
        assert!(!ok, "{envs:?} must fail");
        assert!(out.contains(needle), "{envs:?}: error should name `{needle}`: {out}");
    }
}

#[test]
fn env_overrides_reach_the_topology() {
    let (ok, out) = pintu(&[("PINTU_AMQP__PREFIX", "tenant-a")], &["topology"]);
    assert!(ok, "{out}");
    let defs: serde_json::Value = serde_json::from_str(&out).unwrap();
    let queues: Vec<&str> = defs["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert!(
        queues.contains(&"tenant-a.intake") && queues.contains(&"tenant-a.agency.triage"),
        "{queues:?}"
    );
    assert!(queues.iter().all(|q| q.starts_with("tenant-a.")));
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let (ok, out) = pintu(&[], &["--config", "/nonexistent/pintu.toml", "check"]);
    assert!(!ok);
    assert!(out.contains("/nonexistent/pintu.toml"), "{out}");
}

/// `[channels.email.smtp]` used to make `pintu check` panic ("there is no
/// reactor running"): the SMTP pool was built outside a runtime.
#[test]
fn check_with_smtp_relay_configured() {
    let smtp = [
        ("PINTU_CHANNELS__EMAIL__SMTP__HOST", "smtp.lapor.go.id"),
        ("PINTU_CHANNELS__EMAIL__SMTP__PORT", "587"),
        ("PINTU_CHANNELS__EMAIL__SMTP__TLS", "starttls"),
        ("PINTU_CHANNELS__EMAIL__SMTP__FROM", "LAPOR! <pengaduan@lapor.go.id>"),
    ];
    let (ok, out) = pintu(&smtp, &["check"]);
    assert!(ok, "{out}");
    assert!(out.contains("ok") && !out.contains("panicked"), "{out}");
    // A broken relay setting is still found, with its key.
    let mut bad = smtp.to_vec();
    bad[3] = ("PINTU_CHANNELS__EMAIL__SMTP__FROM", "not an address");
    let (ok, out) = pintu(&bad, &["check"]);
    assert!(
        !ok && out.contains("channels.email.smtp.from") && !out.contains("panicked"),
        "{out}"
    );
}

/// `amqp.urls` from the environment: a good list passes, a bad entry is
/// named by its index, and the error does not repeat the URL (a password).
#[test]
fn amqp_urls_from_the_environment_are_validated() {
    let good = r#"["amqp://guest:guest@127.0.0.1:5682/%2f", "amqps://u:p@rmq-3:5671/%2f"]"#;
    let (ok, out) = pintu(&[("PINTU_AMQP__URLS", good)], &["check"]);
    assert!(ok, "{out}");
    let bad = r#"["amqp://guest:guest@127.0.0.1:5682/%2f", "http://u:hunter2secret@rmq-3/"]"#;
    let (ok, out) = pintu(&[("PINTU_AMQP__URLS", bad)], &["check"]);
    assert!(!ok, "a non-AMQP entry must fail: {out}");
    assert!(out.contains("amqp.urls") && out.contains("entry 1"), "{out}");
    assert!(!out.contains("hunter2secret"), "{out}");
}
