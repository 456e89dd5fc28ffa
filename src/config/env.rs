//! Environment overrides: `PINTU_HTTP__ADDR=…` sets `http.addr`.

use figment::providers::Env;
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

/// One `PINTU_` environment variable as a figment provider.
///
/// figment's own `Env` reads `PINTU_CHANNELS__KANNEL__TOKEN=0012345` as the
/// number 12345, which a string field then refuses — printing the value in
/// the error. Here a value stays the text it was set to unless it is written
/// as an array or a table (`["10.0.0.0/8"]`, `{file="/run/secrets/t"}`);
/// numeric and boolean fields read that text through `extract_lossy`.
pub(super) struct EnvVar {
    key: String,
    value: Value,
    metadata: Metadata,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = figment::util::nest(&self.key, self.value.clone())
            .into_dict()
            .unwrap_or_default();
        Ok(Profile::Default.collect(dict))
    }
}

/// Every `PINTU_` variable except `not_keys` (`PINTU_CONFIG`, `PINTU_LOG`).
pub(super) fn overrides(not_keys: &'static [&'static str]) -> Vec<EnvVar> {
    let env = Env::prefixed("PINTU_")
        .split("__")
        .filter(move |k| !not_keys.iter().any(|n| k.as_str().eq_ignore_ascii_case(n)));
    let metadata = env.metadata();
    env.iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(key, raw)| {
            let value = match raw.parse::<Value>() {
                Ok(v @ (Value::Array(..) | Value::Dict(..))) => v,
                _ => Value::from(raw),
            };
            EnvVar {
                key: key.to_string(),
                value,
                metadata: metadata.clone(),
            }
        })
        .collect()
}
