//! Headless Chromium for the tests of the ops pages: dump a page's DOM (or
//! take a screenshot with `extra` flags), and read an element's text from it.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn artifacts_dir() -> PathBuf {
    // target/<profile>/deps/<test binary> → target/test-artifacts
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    target.join("test-artifacts")
}

pub async fn chromium(profile: &Path, extra: &[String], url: &str) -> String {
    let mut cmd = tokio::process::Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium did not finish in 90 s")
        .expect("chromium could not be started");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text content of the element with `id`, from a dumped DOM.
pub fn text_of(dom: &str, id: &str) -> String {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in DOM"));
    let rest = &dom[start..];
    let open_end = rest.find('>').unwrap() + 1;
    let close = rest[open_end..].find('<').unwrap();
    rest[open_end..open_end + close].to_string()
}
