//! RabbitMQ: connection, the topology of docs/design.md, and confirmed publishing.

pub mod publisher;
pub mod topology;

use lapin::{Connection, ConnectionProperties};

pub use publisher::{ConfirmedPublisher, PublishError};
pub use topology::{Names, Topology};

/// Largest AMQP frame asked for unless the URL sets `frame_max`. lapin keeps
/// 32 frames of read and of write buffer per connection: at RabbitMQ's default
/// 128 KiB that is 8 MiB a connection, for messages of a few KiB; larger ones
/// are simply split into more frames.
const FRAME_MAX: u32 = 32 * 1024;

/// Connect on the tokio runtime (lapin otherwise starts its own executor threads).
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(name.into());
    match url.parse::<lapin::uri::AMQPUri>() {
        Ok(mut uri) => {
            uri.query.frame_max.get_or_insert(FRAME_MAX);
            Connection::connect_uri(uri, props).await
        }
        // lapin parses it again and reports the error in its own words.
        Err(_) => Connection::connect(url, props).await,
    }
}
