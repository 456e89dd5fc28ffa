//! The byte format of a fuzzed webhook request, shared by the `sms` and
//! `social` targets:
//!
//! ```text
//! byte 0      adapter selector (each target says what it means)
//! byte 1      method: 0 GET, 1 and 2 POST, 3 PUT (taken modulo 4)
//! then        query string (without `?`) up to the first `\n`
//!             `name: value` header lines up to an empty line
//!             the body (every remaining byte)
//! ```
//!
//! A query byte that cannot appear in a URI is percent-encoded, as a client
//! would have sent it; a header that is not valid HTTP is left out, as the
//! HTTP server would have refused it. Everything else reaches the adapter
//! exactly as fuzzed.

use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use percent_encoding::{percent_encode, AsciiSet, CONTROLS};
use pintu_channels::WebRequest;

/// Bytes percent-encoded in the query: everything `http::Uri` refuses.
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A decoded request, owning what [`WebRequest`] borrows.
#[derive(Debug)]
pub struct Request {
    pub selector: u8,
    pub method: Method,
    pub uri: Uri,
    pub public_url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Request {
    pub fn web(&self) -> WebRequest<'_> {
        WebRequest {
            method: &self.method,
            uri: &self.uri,
            public_url: &self.public_url,
            headers: &self.headers,
            body: &self.body,
            remote: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        }
    }
}

fn method(b: u8) -> Method {
    match b % 4 {
        0 => Method::GET,
        1 | 2 => Method::POST,
        _ => Method::PUT,
    }
}

fn method_byte(m: &Method) -> u8 {
    match *m {
        Method::GET => 0,
        Method::POST => 1,
        _ => 3,
    }
}

/// Split off one line (without its `\n`, and without a trailing `\r`).
fn line(rest: &[u8]) -> (&[u8], Option<&[u8]>) {
    match rest.iter().position(|b| *b == b'\n') {
        Some(i) => {
            let l = &rest[..i];
            (l.strip_suffix(b"\r").unwrap_or(l), Some(&rest[i + 1..]))
        }
        None => (rest, None),
    }
}

/// Decode the format above; `None` when there is not even a method byte.
pub fn decode(data: &[u8]) -> Option<Request> {
    let (&selector, rest) = data.split_first()?;
    let (&m, rest) = rest.split_first()?;
    let (query, mut rest) = line(rest);
    let mut headers = HeaderMap::new();
    while let Some(r) = rest {
        let (l, next) = line(r);
        rest = next;
        if l.is_empty() {
            break;
        }
        let Some(colon) = l.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&l[..colon], l[colon + 1..].trim_ascii_start());
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    let body = rest.unwrap_or_default().to_vec();
    let q = percent_encode(query, QUERY).to_string();
    let uri: Uri = format!("/hook?{q}")
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/hook"));
    let public_url = format!("https://pintu.example.go.id{uri}");
    Some(Request {
        selector,
        method: method(m),
        uri,
        public_url,
        headers,
        body,
    })
}

/// The bytes [`decode`] turns into this request (for seeds).
pub fn encode(selector: u8, method: &Method, query: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = vec![selector, method_byte(method)];
    out.extend_from_slice(query.as_bytes());
    out.push(b'\n');
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\n").as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data = encode(
            3,
            &Method::POST,
            "token=tok&text=a%20b",
            &[("content-type", "application/json"), ("x-a", "1")],
            b"{\"x\":\n\n1}",
        );
        let r = decode(&data).unwrap();
        assert_eq!(r.selector, 3);
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.uri.query(), Some("token=tok&text=a%20b"));
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["x-a"], "1");
        assert_eq!(r.body, b"{\"x\":\n\n1}");
    }

    #[test]
    fn hostile_bytes_still_make_a_request() {
        let r = decode(b"\x00\x00a b\"#\xff\x00\nbad header\n\xff: x\nok: \x01\n").unwrap();
        assert_eq!(r.uri.query(), Some("a%20b%22%23%FF%00"));
        assert!(r.headers.is_empty());
        assert!(r.body.is_empty());
        assert!(decode(b"\x01").is_none());
    }
}
