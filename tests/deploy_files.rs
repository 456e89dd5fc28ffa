//! The deployment files cannot rot: the RabbitMQ definitions are exactly what
//! `pintu topology` prints for the default config, and every YAML, JSON and
//! TOML file under `deploy/` and `config/` parses.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{pintu_command, repo};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn definitions_json_is_what_pintu_topology_prints() {
    let out = pintu_command()
        .args(["--config", "config/pintu.toml", "topology"])
        // The committed file describes the default config, not this machine's overrides.
        .env_remove("PINTU_AMQP__PREFIX")
        .env_remove("PINTU_AMQP__AGENCY_QUEUES")
        .env_remove("PINTU_AMQP__DELIVERY_LIMIT")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let file = std::fs::read_to_string(repo().join("deploy/rabbitmq/definitions.json")).unwrap();
    assert!(
        printed == file,
        "deploy/rabbitmq/definitions.json is stale; regenerate with\n  \
         cargo run -- --config config/pintu.toml topology > deploy/rabbitmq/definitions.json"
    );
    // And it is what RabbitMQ's loader expects.
    let v: serde_json::Value = serde_json::from_str(&file).unwrap();
    for key in ["exchanges", "queues", "bindings"] {
        assert!(v[key].as_array().is_some_and(|a| !a.is_empty()), "{key}");
    }
    let conf = std::fs::read_to_string(repo().join("deploy/rabbitmq/rabbitmq.conf")).unwrap();
    assert!(conf
        .lines()
        .any(|l| l.trim() == "load_definitions = /etc/rabbitmq/definitions.json"));
}

#[test]
fn every_yaml_json_and_toml_file_parses() {
    let mut all = Vec::new();
    files(&repo().join("deploy"), &mut all);
    files(&repo().join("config"), &mut all);
    let mut checked = 0;
    for path in &all {
        let text = || std::fs::read_to_string(path).unwrap();
        let name = path.display();
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => {
                let src = text();
                let mut docs = 0;
                for doc in serde_norway::Deserializer::from_str(&src) {
                    let v = <serde_norway::Value as serde::Deserialize>::deserialize(doc)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(!v.is_null(), "{name}: empty YAML document");
                    docs += 1;
                }
                assert!(docs > 0, "{name}: no YAML document");
            }
            Some("json") => {
                serde_json::from_str::<serde_json::Value>(&text()).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Some("toml") => {
                toml::from_str::<toml::Value>(&text()).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} files checked");
}

#[test]
fn every_shell_script_under_deploy_parses_and_is_executable() {
    let mut all = Vec::new();
    files(&repo().join("deploy"), &mut all);
    let scripts: Vec<_> = all
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    assert!(!scripts.is_empty(), "deploy/rabbitmq/cluster.sh at least");
    for path in scripts {
        let out = Command::new("sh").arg("-n").arg(path).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert!(mode & 0o111 != 0, "{} is not executable", path.display());
        }
    }
    // Without a subcommand the cluster script only prints its usage.
    let out = Command::new(repo().join("deploy/rabbitmq/cluster.sh"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn kubernetes_manifests_have_the_required_shape() {
    let mut kinds = Vec::new();
    let mut configmaps = Vec::new();
    let mut secret_env = Vec::new();
    let mut dir = Vec::new();
    files(&repo().join("deploy/k8s"), &mut dir);
    for path in dir {
        let src = std::fs::read_to_string(&path).unwrap();
        for doc in serde_norway::Deserializer::from_str(&src) {
            let v = <serde_norway::Value as serde::Deserialize>::deserialize(doc).unwrap();
            let kind = v["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: no kind", path.display()));
            assert!(v["apiVersion"].as_str().is_some(), "{}: no apiVersion", path.display());
            assert!(v["metadata"]["name"].as_str().is_some(), "{}: no name", path.display());
            kinds.push(kind.to_string());
            if kind == "StatefulSet" {
                assert!(v["spec"]["volumeClaimTemplates"][0]["metadata"]["name"].as_str() == Some("data"));
                // Every replica its own node id: the pod's ordinal.
                let env = &v["spec"]["template"]["spec"]["containers"][0]["env"];
                let node_id = env
                    .as_sequence()
                    .and_then(|e| e.iter().find(|e| e["name"].as_str() == Some("PINTU_NODE__ID")))
                    .unwrap_or_else(|| panic!("{}: no PINTU_NODE__ID", path.display()));
                assert_eq!(
                    node_id["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
                    Some("metadata.labels['apps.kubernetes.io/pod-index']")
                );
            }
            if kind == "ConfigMap" {
                configmaps.push(v["data"]["pintu.toml"].as_str().unwrap().to_string());
            }
            if kind == "Secret" {
                let data = v["stringData"].as_mapping().unwrap();
                for (k, val) in data {
                    secret_env.push((k.as_str().unwrap().to_string(), val.as_str().unwrap().to_string()));
                }
            }
        }
    }
    for k in ["StatefulSet", "Deployment", "Service", "ConfigMap", "Secret"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} in deploy/k8s");
    }
    // The ConfigMap's pintu.toml plus the example Secret's variables pass
    // `pintu check` once its `change-me` values are replaced by real secrets,
    // as they would in the pod (templates from this checkout instead of the
    // image's /usr/share/pintu/config); with the examples themselves an exposed
    // gateway is refused.
    assert_eq!(configmaps.len(), 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pintu.toml");
    std::fs::write(&path, &configmaps[0]).unwrap();
    let check = |env: &[(String, String)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pintu"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PINTU_")) {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().cloned())
            .env("PINTU_REPLIES__TEMPLATES", repo().join("config/replies.toml"))
            .env("PINTU_ROUTING__DIR", repo().join("config/routing"))
            .env("PINTU_ROUTING__WILAYAH_DIR", repo().join("config/wilayah"))
            .arg("--config")
            .arg(&path)
            .arg("check")
            .output()
            .unwrap()
    };
    let out = check(&secret_env);
    assert!(!out.status.success(), "the example Secret's values must be refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("example"));
    let real: Vec<(String, String)> = secret_env
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            (
                k.clone(),
                v.replace("change-me-32-random-bytes-hex", "change-me")
                    .replace("change-me", &format!("R{i}nd0m-4f9c2e7a1b6d"))
                    .replace(pintu::config::secrets::EXAMPLE_TRACKING_KEY, &"5a".repeat(32)),
            )
        })
        .collect();
    let out = check(&real);
    assert!(
        out.status.success(),
        "pintu check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn systemd_units_keep_separate_state_and_hardening() {
    for (unit, cmd) in [("pintu-serve.service", " serve"), ("pintu-route.service", " route")] {
        let text = std::fs::read_to_string(repo().join("deploy/systemd").join(unit)).unwrap();
        let state = format!("StateDirectory={}", unit.trim_end_matches(".service"));
        assert!(text.lines().any(|l| l == state), "{unit}: {state}");
        assert!(
            text.lines().any(|l| l.starts_with("ExecStart=") && l.ends_with(cmd)),
            "{unit}"
        );
        for h in ["NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"] {
            assert!(text.lines().any(|l| l == h), "{unit}: {h}");
        }
    }
}
