//! Credentials in configuration: one type for every secret, never printed.
//!
//! `Config` and the adapter settings derive `Debug`, and a `{:?}` of a config in
//! an error report or a startup log line must not leak a token. Every
//! credential — SMS gateway tokens and passwords, the Twilio auth token, the
//! AMQP URL (it carries the broker password), the ops token, the dedupe key,
//! e-mail passwords, social tokens — is a [`Secret`].
//!
//! A secret is written the same way wherever it is configured:
//!
//! ```toml
//! token = "s3cret"                            # inline (or PINTU_…__TOKEN=s3cret)
//! token = { file = "/run/secrets/kannel" }    # a mounted secret; whitespace around it dropped
//! token = { env = "KANNEL_TOKEN" }            # another environment variable, as is
//! ```
//!
//! A relative `file` resolves against the directory set by [`with_base_dir`]
//! (the config file's directory while `Config::load` runs), else the working
//! directory. Integers are accepted as their decimal text (TOML `token = 1234`),
//! so a secret is always a string whatever it looks like. Errors name the file
//! or variable, never the value.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A credential; `Debug` prints `Secret(***)`, `Display` prints `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The credential itself, for signing, comparing or an `Authorization`
    /// header only — never for a log line or an error message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Read a mounted secret: the file's text without surrounding whitespace;
    /// an empty file is an error (an empty credential authenticates nobody).
    pub fn from_file(path: &Path) -> Result<Secret, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("{} is empty", path.display()));
        }
        Ok(Secret::new(text))
    }

    /// Read a secret from an environment variable, exactly as set.
    pub fn from_env(var: &str) -> Result<Secret, String> {
        match std::env::var(var) {
            Ok(v) if v.is_empty() => Err(format!("environment variable {var} is empty")),
            Ok(v) => Ok(Secret::new(v)),
            Err(std::env::VarError::NotPresent) => Err(format!("environment variable {var} is not set")),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("environment variable {var} is not UTF-8")),
        }
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

thread_local! {
    static BASE_DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// Run `f` (a deserialization) with relative `{ file = … }` secrets resolved
/// against `dir`.
pub fn with_base_dir<T>(dir: &Path, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<PathBuf>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let previous = self.0.take();
            BASE_DIR.with(|b| *b.borrow_mut() = previous);
        }
    }
    let previous = BASE_DIR.with(|b| b.borrow_mut().replace(dir.to_path_buf()));
    let _reset = Reset(previous);
    f()
}

/// `p` against `base` unless absolute: the one rule for relative paths in
/// Pintu's configuration (secret files, templates, tables).
pub fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn resolve_path(p: &Path) -> PathBuf {
    BASE_DIR.with(|b| match &*b.borrow() {
        Some(base) => resolve(base, p),
        None => p.to_path_buf(),
    })
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret: a string, or a table with `file` or `env`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secret, E> {
        Ok(Secret(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secret, E> {
        Ok(Secret(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Secret, E> {
        Ok(Secret(v.to_string()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Secret, E> {
        Ok(Secret(v.to_string()))
    }

    // Not the default `invalid_type` errors: those print the value.
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
        Err(E::custom("a secret must be a string (quote it)"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
        Err(E::custom("a secret must be a string (quote it)"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
        let mut source: Option<(String, String)> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "file" && key != "env" {
                return Err(de::Error::custom(format!(
                    "unknown secret source `{key}` (use `file` or `env`)"
                )));
            }
            if source.is_some() {
                return Err(de::Error::custom("give one of `file` or `env`"));
            }
            source = Some((key, map.next_value::<String>()?));
        }
        match source {
            Some((kind, path)) if kind == "file" => {
                Secret::from_file(&resolve_path(Path::new(&path))).map_err(de::Error::custom)
            }
            Some((_, var)) => Secret::from_env(&var).map_err(de::Error::custom),
            None => Err(de::Error::custom("give one of `file` or `env`")),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        s: Secret,
    }

    fn parse(json: &str) -> Result<Secret, String> {
        serde_json::from_str::<Holder>(json)
            .map(|h| h.s)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn never_printed() {
        let s = Secret::new("EAAG-very-secret");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "EAAG-very-secret");
        assert_eq!(parse(r#"{"s":"abc"}"#).unwrap().expose(), "abc");
    }

    #[test]
    fn numbers_are_text_and_errors_do_not_print_values() {
        assert_eq!(parse(r#"{"s":123456}"#).unwrap().expose(), "123456");
        let err = parse(r#"{"s":1234.5}"#).unwrap_err();
        assert!(!err.contains("1234"), "{err}");
        let err = parse(r#"{"s":[9876]}"#).unwrap_err();
        assert!(!err.contains("9876"), "{err}");
    }

    #[test]
    fn file_and_env_sources() {
        let dir = std::env::temp_dir().join(format!("pintu-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tok"), "  from-a-file\n").unwrap();
        let s = with_base_dir(&dir, || parse(r#"{"s":{"file":"tok"}}"#)).unwrap();
        assert_eq!(s.expose(), "from-a-file");
        std::fs::write(dir.join("empty"), "\n").unwrap();
        let err = with_base_dir(&dir, || parse(r#"{"s":{"file":"empty"}}"#)).unwrap_err();
        assert!(err.contains("is empty"), "{err}");
        let err = with_base_dir(&dir, || parse(r#"{"s":{"file":"absent"}}"#)).unwrap_err();
        assert!(err.contains("absent"), "{err}");
        std::env::set_var("PINTU_SECRET_UNIT_TEST", "0042");
        assert_eq!(
            parse(r#"{"s":{"env":"PINTU_SECRET_UNIT_TEST"}}"#).unwrap().expose(),
            "0042"
        );
        assert!(parse(r#"{"s":{"env":"PINTU_SECRET_UNIT_UNSET"}}"#)
            .unwrap_err()
            .contains("not set"));
        assert!(parse(r#"{"s":{"path":"x"}}"#).is_err());
        assert!(parse(r#"{"s":{"file":"a","env":"b"}}"#).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
