//! Credential checks shared by adapters: constant-time secrets, HMAC signatures
//! and source-address allowlists.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::adapter::AuthError;

/// Constant-time equality of a presented secret with the configured one.
pub fn secret_eq(presented: &[u8], expected: &[u8]) -> bool {
    // Length leaks through timing anyway; compare only equal-length inputs.
    presented.len() == expected.len() && bool::from(presented.ct_eq(expected))
}

/// Check a shared token; `None` configured means the profile has no token check.
pub fn check_token(presented: Option<&str>, expected: Option<&str>, what: &'static str) -> Result<(), AuthError> {
    match expected {
        None => Ok(()),
        Some(expected) => match presented {
            None => Err(AuthError::Missing(what)),
            Some(p) if secret_eq(p.as_bytes(), expected.as_bytes()) => Ok(()),
            Some(_) => Err(AuthError::Invalid(what)),
        },
    }
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail here.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac() -> ! {
    unreachable!("HMAC is defined for keys of every length")
}

/// Verify `sha256=<hex>` (Meta `X-Hub-Signature-256`) over the raw body.
pub fn verify_hex_sha256(header: Option<&str>, secret: &[u8], body: &[u8]) -> Result<(), AuthError> {
    let header = header.ok_or(AuthError::Missing("signature"))?;
    let hex_sig = header.strip_prefix("sha256=").ok_or(AuthError::Invalid("signature"))?;
    let presented = hex_decode(hex_sig).ok_or(AuthError::Invalid("signature"))?;
    if secret_eq(&presented, &hmac_sha256(secret, body)) {
        Ok(())
    } else {
        Err(AuthError::Invalid("signature"))
    }
}

pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// An allowlist entry: one address or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRule {
    net: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has a bad prefix length"))?,
            None => max,
        };
        Ok(IpRule { net, prefix })
    }
}

impl IpRule {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_match(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_match(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V4(a)) => n.to_ipv4_mapped() == Some(a) && self.prefix == 128,
            (IpAddr::V4(n), IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|a| prefix_match(&n.octets(), &a.octets(), self.prefix)),
        }
    }
}

fn prefix_match(net: &[u8], addr: &[u8], prefix: u8) -> bool {
    let full = (prefix / 8) as usize;
    let rest = prefix % 8;
    if net[..full] != addr[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (net[full] & mask) == (addr[full] & mask)
}

/// Empty allowlist = any source; otherwise the remote address must match a rule.
pub fn check_source(allow: &[IpRule], remote: Option<IpAddr>) -> Result<(), AuthError> {
    if allow.is_empty() {
        return Ok(());
    }
    match remote {
        Some(ip) if allow.iter().any(|r| r.contains(ip)) => Ok(()),
        _ => Err(AuthError::SourceNotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_rules() {
        let r: IpRule = "10.1.0.0/16".parse().unwrap();
        assert!(r.contains("10.1.200.3".parse().unwrap()));
        assert!(!r.contains("10.2.0.1".parse().unwrap()));
        let one: IpRule = "127.0.0.1".parse().unwrap();
        assert!(one.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpRule>().is_err());
        assert!("nonsense".parse::<IpRule>().is_err());
    }

    #[test]
    fn tokens() {
        assert_eq!(check_token(Some("abc"), Some("abc"), "token"), Ok(()));
        assert_eq!(
            check_token(Some("abd"), Some("abc"), "token"),
            Err(AuthError::Invalid("token"))
        );
        assert_eq!(
            check_token(None, Some("abc"), "token"),
            Err(AuthError::Missing("token"))
        );
        assert_eq!(check_token(None, None, "token"), Ok(()));
    }

    #[test]
    fn meta_style_signature() {
        let body = b"{\"object\":\"page\"}";
        let sig = format!("sha256={}", hex(&hmac_sha256(b"s3cret", body)));
        assert!(verify_hex_sha256(Some(&sig), b"s3cret", body).is_ok());
        assert!(verify_hex_sha256(Some(&sig), b"other", body).is_err());
        assert!(verify_hex_sha256(Some("sha256=zz"), b"s3cret", body).is_err());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
