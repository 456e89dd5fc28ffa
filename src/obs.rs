//! Observability: JSON logs with personal data masked, and the Prometheus recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Mask a phone number or e-mail address for logs: `+62812****789`, `b***@example.go.id`.
pub fn mask(address: &str) -> String {
    if let Some((user, domain)) = address.split_once('@') {
        let first: String = user.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = address.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..chars.len().min(6)].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}****{tail}")
}

/// Install the Prometheus recorder once per process and return its handle.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder was installed first (tests); the
            // handle then renders an empty page rather than crashing.
            let _ = metrics::set_global_recorder(recorder);
            // Histograms keep every sample until drained; without a scrape (no
            // Prometheus yet, or a long outage) that is ~8 bytes per complaint
            // forever. Upkeep drains them into the buckets every few seconds.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                });
            handle
        })
        .clone()
}

/// JSON (or human) logs to stderr; `PINTU_LOG` overrides the level filter.
pub fn init_logging(format: &str, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PINTU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "pretty" {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks() {
        assert_eq!(mask("+6281234567890"), "+62812****890");
        assert_eq!(mask("budi@example.go.id"), "b***@example.go.id");
        assert_eq!(mask("1708"), "****");
    }
}
