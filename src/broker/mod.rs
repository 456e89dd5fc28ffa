//! RabbitMQ: connection, the topology of docs/design.md, and confirmed publishing.

pub mod config;
pub mod publisher;
pub mod topology;

use std::sync::Arc;
use std::time::Duration;

use lapin::tcp::OwnedTLSConfig;
use lapin::{Connection, ConnectionProperties};
use parking_lot::Mutex;

pub use config::AmqpConfig;
pub use publisher::{ConfirmedPublisher, PublishError};
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

/// Connect on the tokio runtime (lapin otherwise starts its own executor threads).
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(name.into());
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
    let socket: Arc<Mutex<Option<std::net::TcpStream>>> = Arc::default();
    let handle = socket.clone();
    let attempt = Connection::connector(
        uri,
        Box::new(move |uri| {
            let stream = lapin::tcp::AMQPUriTcpExt::connect_with_config(uri, OwnedTLSConfig::default().as_ref());
            if let Ok(s) = &stream {
                *handle.lock() = s.try_clone().ok();
            }
            stream
        }),
        props,
    );
    match tokio::time::timeout(limit, attempt).await {
        Ok(r) => r,
        Err(_) => {
            if let Some(s) = socket.lock().take() {
                // Shuts the socket down under lapin's I/O loop, which then ends.
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            Err(lapin::Error::IOError(Arc::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from the broker within {} ms", limit.as_millis()),
            ))))
        }
    }
}
