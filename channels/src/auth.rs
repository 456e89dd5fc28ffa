//! Credential checks shared by adapters: constant-time secrets, HMAC signatures
//! and source-address allowlists.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::adapter::AuthError;
use crate::secret::Secret;

/// Constant-time equality of a presented secret with the configured one.
pub fn secret_eq(presented: &[u8], expected: &[u8]) -> bool {
    // Length leaks through timing anyway; compare only equal-length inputs.
    presented.len() == expected.len() && bool::from(presented.ct_eq(expected))
}

/// Check a shared token. An empty configured token matches nothing (a profile
/// without a credential must not be open), and an empty presented one is
/// "missing", never a match.
pub fn check_token(presented: Option<&str>, expected: &Secret, what: &'static str) -> Result<(), AuthError> {
    match presented.filter(|p| !p.is_empty()) {
        None => Err(AuthError::Missing(what)),
        Some(_) if expected.is_empty() => Err(AuthError::Invalid(what)),
        Some(p) if secret_eq(p.as_bytes(), expected.expose().as_bytes()) => Ok(()),
        Some(_) => Err(AuthError::Invalid(what)),
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
    // Anyone can compute an HMAC under the empty key.
    if secret.is_empty() {
        return Err(AuthError::Invalid("signature"));
    }
    let hex_sig = header.strip_prefix("sha256=").ok_or(AuthError::Invalid("signature"))?;
    let presented = hex_decode(hex_sig).ok_or(AuthError::Invalid("signature"))?;
    if secret_eq(&presented, &hmac_sha256(secret, body)) {
        Ok(())
    } else {
        Err(AuthError::Invalid("signature"))
    }
}

/// Decode hex digits (either case, surrounding whitespace ignored); `None`
/// for anything else, including the sign `u8::from_str_radix` would take.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    fn nibble(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let s = s.trim().as_bytes();
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
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

impl<'de> serde::Deserialize<'de> for IpRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<IpRule, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The client's address as far as it can be known.
///
/// A request whose TCP peer is one of the `trusted` proxies is attributed to
/// the right-most `X-Forwarded-For` entry that is not itself a trusted proxy
/// (entries to its left were written by the client and prove nothing). From
/// any other peer the header is ignored. `None` — no allowlist admits it —
/// when a trusted proxy sent no usable header: attributing the request to the
/// proxy would make every client look local again.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpRule],
) -> Option<IpAddr> {
    if !trusted.iter().any(|r| r.contains(peer)) {
        return Some(peer);
    }
    let mut hops = Vec::new();
    for value in forwarded_for {
        for entry in value.split(',') {
            hops.push(parse_hop(entry.trim())?);
        }
    }
    let first = *hops.first()?;
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !trusted.iter().any(|r| r.contains(*ip)))
            .unwrap_or(first),
    )
}

/// `203.0.113.9`, `2001:db8::1`, `[2001:db8::1]:4711` or `203.0.113.9:4711`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
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
        let abc = Secret::new("abc");
        assert_eq!(check_token(Some("abc"), &abc, "token"), Ok(()));
        assert_eq!(
            check_token(Some("abd"), &abc, "token"),
            Err(AuthError::Invalid("token"))
        );
        assert_eq!(check_token(None, &abc, "token"), Err(AuthError::Missing("token")));
        // Nothing configured, nothing presented: still refused.
        let empty = Secret::default();
        assert_eq!(check_token(Some(""), &empty, "token"), Err(AuthError::Missing("token")));
        assert_eq!(check_token(None, &empty, "token"), Err(AuthError::Missing("token")));
        assert_eq!(
            check_token(Some("x"), &empty, "token"),
            Err(AuthError::Invalid("token"))
        );
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<IpRule> = vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        // From an untrusted peer the header is the client's own claim.
        assert_eq!(
            client_ip(ip("203.0.113.9"), ["10.1.2.3"], &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(client_ip(ip("127.0.0.1"), ["10.1.2.3"], &[]), Some(ip("127.0.0.1")));
        // Through the proxy: the right-most untrusted hop, whatever the client prepended.
        assert_eq!(
            client_ip(ip("127.0.0.1"), ["198.51.100.7"], &trusted),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), ["10.1.2.3, 198.51.100.7, 10.0.0.5"], &trusted),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), ["10.9.9.9", "[2001:db8::1]:4711"], &trusted),
            Some(ip("2001:db8::1"))
        );
        // Every hop trusted: an internal client, the first hop.
        assert_eq!(client_ip(ip("127.0.0.1"), ["10.1.2.3"], &trusted), Some(ip("10.1.2.3")));
        // A trusted proxy that says nothing usable: unknown, not the proxy.
        assert_eq!(client_ip(ip("127.0.0.1"), [], &trusted), None);
        assert_eq!(client_ip(ip("127.0.0.1"), ["unknown"], &trusted), None);
    }

    #[test]
    fn meta_style_signature() {
        let body = b"{\"object\":\"page\"}";
        let sig = format!("sha256={}", hex(&hmac_sha256(b"s3cret", body)));
        assert!(verify_hex_sha256(Some(&sig), b"s3cret", body).is_ok());
        assert!(verify_hex_sha256(Some(&sig), b"other", body).is_err());
        assert!(verify_hex_sha256(Some("sha256=zz"), b"s3cret", body).is_err());
    }

    /// Found by `cargo fuzz run decode`: `u8::from_str_radix` takes a sign,
    /// so `+f` passed as the hex byte 0x0f (a Jasmin `binary` or Kannel
    /// UDH that is not hex was decoded instead of refused).
    #[test]
    fn hex_is_only_hex_digits() {
        assert_eq!(hex_decode(" 0aFf "), Some(vec![0x0a, 0xff]));
        assert_eq!(hex_decode("+f"), None);
        assert_eq!(hex_decode("00+a"), None);
        assert_eq!(hex_decode("0x"), None);
        assert_eq!(hex_decode("\u{e9}"), None);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
