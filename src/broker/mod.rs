//! RabbitMQ: connection, the topology of DESIGN.md, and confirmed publishing.

pub mod publisher;
pub mod topology;

use lapin::{Connection, ConnectionProperties};

pub use publisher::{ConfirmedPublisher, PublishError};
pub use topology::{Names, Topology};

/// Connect on the tokio runtime (lapin otherwise starts its own executor threads).
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(name.into());
    Connection::connect(url, props).await
}
