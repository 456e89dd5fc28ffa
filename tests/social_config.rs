//! `[channels.x]`, `[channels.meta]`, `[channels.telegram]`: loading,
//! `*_file` secrets, validation errors naming the key, and no secret in `Debug`.

mod social_support;
mod support;

use pintu::config::Config;
use social_support::*;
use support::*;

/// The full social config loads (two secrets from files), and neither the
/// config nor anything built from it prints a credential.
#[test]
fn loads_with_file_secrets_and_never_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "http://127.0.0.1:9000", &unique_prefix(), "enabled = true");
    let debug = format!("{cfg:?}");
    for secret in [
        X_BEARER,
        X_USER_TOKEN,
        X_CONSUMER_SECRET,
        META_VERIFY,
        META_SECRET,
        GRAPH_TOKEN,
        TG_TOKEN,
        TG_SECRET,
    ] {
        assert!(!debug.contains(secret), "{secret} printed by Debug");
    }
    assert!(debug.contains("Secret(***)"));
    let adapters = pintu::social::webhook_adapters(&cfg).unwrap();
    let paths: Vec<&str> = adapters.iter().map(|(p, _)| *p).collect();
    assert_eq!(paths, ["/webhooks/x", "/webhooks/meta", "/webhooks/telegram"]);
    assert_eq!(pintu::social::reply_transports(&cfg).unwrap().len(), 5);
}

/// Rewrite one line of a valid config and expect the error to name `key`.
fn rejects(replace: &str, with: &str, key: &str) {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "http://127.0.0.1:9000", &unique_prefix(), "enabled = true");
    let path = dir.path().join("pintu.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(replace), "fixture has no `{replace}`");
    std::fs::write(&path, text.replacen(replace, with, 1)).unwrap();
    match Config::load(&path) {
        Ok(_) => panic!("`{with}` accepted"),
        Err(e) => assert!(e.to_string().contains(key), "error `{e}` does not name `{key}`"),
    }
}

#[test]
fn validation_errors_name_the_key() {
    rejects(
        "user_id = \"1708170817081708\"",
        "user_id = \"@lapor\"",
        "channels.x.user_id",
    );
    rejects(
        "username = \"lapor1708\"",
        "username = \"@lapor1708\"",
        "channels.x.username",
    );
    rejects("bearer_token = \"x-app-bearer-token\"", "", "channels.x.bearer_token");
    rejects(
        "user_access_token_file = \"x_user_token\"",
        "user_access_token_file = \"missing\"",
        "channels.x.user_access_token_file",
    );
    rejects(
        "[channels.x.poll]\n",
        "[channels.x.poll]\nmax_results = 500\n",
        "channels.x.poll.max_results",
    );
    rejects(
        "consumer_secret = \"x-consumer-secret\"",
        "",
        "channels.x.webhook.consumer_secret",
    );
    rejects(
        "app_secret_file = \"meta_app_secret\"",
        "",
        "channels.meta.webhook.app_secret",
    );
    rejects(
        "app_secret_file = \"meta_app_secret\"",
        "app_secret_file = \"meta_app_secret\"\napp_secret = \"both\"",
        "channels.meta.webhook.app_secret",
    );
    rejects(
        "graph_version = \"v21.0\"",
        "graph_version = \"21\"",
        "channels.meta.graph_version",
    );
    rejects(
        "graph_base = \"http://127.0.0.1:9000\"",
        "graph_base = \"ftp://x\"",
        "channels.meta.graph_base",
    );
    rejects(
        "bot_token = \"123456:ABC-sim_bot_token\"",
        "bot_token = \"123456:ABC/../x\"",
        "channels.telegram.bot_token",
    );
    rejects(
        "secret_token = \"tg-secret_token-1\"",
        "secret_token = \"has spaces\"",
        "channels.telegram.webhook.secret_token",
    );
    // Unknown keys are typos, not defaults.
    rejects(
        "[channels.telegram.webhook]\n",
        "[channels.telegram.webhook]\nsecret = \"x\"\n",
        "secret",
    );
}

/// Social channels are off unless configured: the default config has none.
#[test]
fn off_by_default() {
    let cfg = Config::load(&repo().join("config/pintu.toml")).unwrap();
    assert!(pintu::social::webhook_adapters(&cfg).unwrap().is_empty());
    assert!(pintu::social::reply_transports(&cfg).unwrap().is_empty());
}

/// `config/social.example.toml` appended to the default config is valid and
/// enables every social webhook and transport.
#[test]
fn example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = std::fs::read_to_string(repo().join("config/pintu.toml")).unwrap();
    text.push_str(&std::fs::read_to_string(repo().join("config/social.example.toml")).unwrap());
    let path = dir.path().join("pintu.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::copy(repo().join("config/replies.toml"), dir.path().join("replies.toml")).unwrap();
    let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pintu::social::webhook_adapters(&cfg).unwrap().len(), 3);
    assert_eq!(pintu::social::reply_transports(&cfg).unwrap().len(), 5);
    assert!(cfg.channels.x.poll.enabled);
}
