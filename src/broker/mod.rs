//! RabbitMQ: connection, the topology of docs/design.md, confirmed publishing,
//! and the requeue/dead-letter steps every consumer shares.

pub(crate) mod config;
pub(crate) mod delivery;
mod failover;
pub(crate) mod publisher;
mod topology;

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use lapin::tcp::{AMQPUriTcpExt, AsyncTcpStream, OwnedTLSConfig};
use lapin::{Connection, ConnectionProperties};
use parking_lot::Mutex;

pub use config::AmqpConfig;
pub use failover::connect;
pub use publisher::{ConfirmedPublisher, Outgoing, PublishError};
pub use topology::{Names, Topology};

/// Largest AMQP frame asked for unless the URL sets `frame_max`. lapin keeps
/// 32 frames of read and of write buffer per connection: at RabbitMQ's default
/// 128 KiB that is 8 MiB a connection, for messages of a few KiB; larger ones
/// are simply split into more frames.
const FRAME_MAX: u32 = 32 * 1024;

/// Heartbeat interval (seconds) asked for unless the URL sets `heartbeat`.
/// lapin gives up on a connection that read nothing for two intervals, so a
/// broker that vanished without closing the socket (a dropped network path)
/// is noticed within ~20 s instead of RabbitMQ's default 60 s interval (two
/// minutes). Lower it with `?heartbeat=N` in `amqp.url`.
const HEARTBEAT_SECS: u16 = 10;

/// Longest a connection attempt may take unless the URL sets
/// `connection_timeout` (ms): lapin's handshake has no timeout of its own, and
/// a broker that accepts the TCP connection but never answers (wedged, or
/// behind a path that drops packets) would hold a reconnecting relay in
/// `connect` for good. Generous, because a broker under heavy load can take
/// seconds to answer a handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A second handle on a connection's socket, to shut it down from outside
/// lapin's I/O loop. A dup of the descriptor: shutting it down ends the
/// socket itself, and closing the dup never closes lapin's descriptor.
type SocketHandle = Arc<Mutex<Option<std::net::TcpStream>>>;

fn keep_handle<S: AsFd>(s: &S, slot: &SocketHandle) {
    *slot.lock() = s.as_fd().try_clone_to_owned().ok().map(std::net::TcpStream::from);
}

/// Connect to one URL on the tokio runtime the caller runs on (lapin's
/// default runtime with its `tokio` feature). Components use [`connect`],
/// which picks the endpoint; this is for tools and tests that name one.
pub async fn connect_url(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    let Ok(mut uri) = url.parse::<lapin::uri::AMQPUri>() else {
        // lapin parses it again and reports the error in its own words.
        return Connection::connect(url, props).await;
    };
    uri.query.frame_max.get_or_insert(FRAME_MAX);
    uri.query.heartbeat.get_or_insert(HEARTBEAT_SECS);
    let limit = uri
        .query
        .connection_timeout
        .map(Duration::from_millis)
        .unwrap_or(CONNECT_TIMEOUT);
    // lapin keeps a connection whose handshake was abandoned alive (its I/O
    // loop runs on), so a timed-out attempt must close the socket itself, or
    // every retry against a silent broker leaks one. Keep a handle on it.
    let socket: SocketHandle = Arc::default();
    let handle = socket.clone();
    let runtime = lapin::runtime::default_runtime()?;
    let attempt = Connection::connector(
        uri,
        runtime,
        async move |uri, runtime| {
            let stream = uri
                .connect_with_config_async(OwnedTLSConfig::default().as_ref(), &runtime)
                .await
                .map_err(lapin::Error::from)?;
            match &stream {
                AsyncTcpStream::Plain(s) => keep_handle(s.get_ref(), &handle),
                #[cfg(feature = "amqps")]
                AsyncTcpStream::Rustls(s) => keep_handle(s.get_ref().0.get_ref(), &handle),
                #[allow(unreachable_patterns)]
                _ => {}
            }
            Ok(stream)
        },
        props,
    );
    match tokio::time::timeout(limit, attempt).await {
        Ok(r) => r,
        Err(_) => {
            if let Some(s) = socket.lock().take() {
                // Shuts the socket down under lapin's I/O loop, which then ends.
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            Err(lapin::Error::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from the broker within {} ms", limit.as_millis()),
            )))
        }
    }
}
