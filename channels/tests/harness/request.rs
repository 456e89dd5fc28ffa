//! One way to build a provider's HTTP request and run any [`WebhookAdapter`]
//! on it, for every webhook family (SMS gateways and social platforms alike).
//!
//! A [`Request`] owns what a [`WebRequest`] borrows, so a case can be a plain
//! value in a table; [`Request::run`] does what the runtime does with it
//! (authenticate, then parse) and hands back the [`Outcome`] for
//! [`crate::expect::Expect::check`].

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use pintu_channels::{AdapterError, AuthError, Parsed, WebRequest, WebhookAdapter};

/// A recorded provider request: method, URI, headers, body, remote address.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path and query, as the gateway's router saw them.
    pub uri: String,
    /// The URL the provider called; `None` means `http://localhost{uri}`.
    /// Signature schemes that sign the URL (Twilio) need the public one.
    pub public_url: Option<String>,
    /// Lower-case names; a later header of the same name replaces the earlier.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote: Option<IpAddr>,
}

/// What the runtime would make of a request: refused, or parsed (or not).
#[derive(Debug)]
pub enum Outcome {
    Refused(AuthError),
    Parsed(Result<Parsed, AdapterError>),
}

impl Request {
    pub fn new(method: Method, uri: impl Into<String>) -> Request {
        Request {
            method,
            uri: uri.into(),
            public_url: None,
            headers: Vec::new(),
            body: Vec::new(),
            remote: None,
        }
    }

    pub fn get(uri: impl Into<String>) -> Request {
        Request::new(Method::GET, uri)
    }

    pub fn post(uri: impl Into<String>) -> Request {
        Request::new(Method::POST, uri)
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    pub fn public_url(mut self, url: impl Into<String>) -> Request {
        self.public_url = Some(url.into());
        self
    }

    pub fn remote(mut self, ip: IpAddr) -> Request {
        self.remote = Some(ip);
        self
    }

    /// Calls `f` with the borrowed [`WebRequest`] an adapter sees. A URI or
    /// header the `http` crate refuses is the case's fault, reported as such.
    pub fn with_web<R>(&self, f: impl FnOnce(&WebRequest<'_>) -> R) -> Result<R, String> {
        let uri: Uri = self.uri.parse().map_err(|e| format!("bad uri {:?}: {e}", self.uri))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("bad header name {name:?}: {e}"))?;
            let v = HeaderValue::from_str(value).map_err(|e| format!("bad header {name}: {value:?}: {e}"))?;
            headers.insert(n, v);
        }
        let public_url = match &self.public_url {
            Some(u) => u.clone(),
            None => format!("http://localhost{}", self.uri),
        };
        let web = WebRequest {
            method: &self.method,
            uri: &uri,
            public_url: &public_url,
            headers: &headers,
            body: &self.body,
            remote: self.remote,
        };
        Ok(f(&web))
    }

    /// Authenticates and, if that passes, parses: the runtime's order.
    pub fn run(&self, adapter: &dyn WebhookAdapter) -> Result<Outcome, String> {
        self.with_web(|web| match adapter.authenticate(web) {
            Err(e) => Outcome::Refused(e),
            Ok(()) => Outcome::Parsed(adapter.parse(web)),
        })
    }
}
