//! Publishing with confirms, the only way Pintu publishes.
//!
//! A publish counts as done only when the broker acked it AND did not return it
//! as unroutable (`mandatory` + NO_ROUTE): an ack alone also comes for a message
//! that reached no queue. Many publishes may be in flight on one channel; the
//! caller awaits each [`Pending`] (pipelining is what makes confirms fast).

use std::future::Future;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::Confirmation;
use lapin::{BasicProperties, Channel};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PublishError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("broker refused the message (nack)")]
    Nacked,
    #[error("unroutable: returned by the broker ({0})")]
    Returned(String),
    #[error("channel is not in confirm mode")]
    NoConfirm,
}

/// One message to publish.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub message_id: &'a str,
    pub body: &'a [u8],
    /// Extra headers (`x-pintu-reason` on dead letters, …).
    pub headers: Vec<(&'a str, String)>,
}

#[derive(Clone)]
pub struct ConfirmedPublisher {
    channel: Channel,
}

impl ConfirmedPublisher {
    pub async fn new(channel: Channel) -> Result<ConfirmedPublisher, lapin::Error> {
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(ConfirmedPublisher { channel })
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Send the message; the returned future resolves when the broker confirmed it.
    pub async fn send(
        &self,
        msg: &Outgoing<'_>,
    ) -> Result<impl Future<Output = Result<(), PublishError>>, PublishError> {
        let mut props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(ShortString::from("application/json"))
            .with_message_id(ShortString::from(msg.message_id));
        if !msg.headers.is_empty() {
            let mut table = FieldTable::default();
            for (k, v) in &msg.headers {
                table.insert(
                    ShortString::from(*k),
                    AMQPValue::LongString(LongString::from(v.as_str())),
                );
            }
            props = props.with_headers(table);
        }
        let opts = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let confirm = self
            .channel
            .basic_publish(msg.exchange.into(), msg.routing_key.into(), opts, msg.body, props)
            .await?;
        Ok(async move {
            match confirm.await? {
                Confirmation::Ack(None) => Ok(()),
                Confirmation::Ack(Some(ret)) => Err(PublishError::Returned(ret.reply_text.to_string())),
                Confirmation::Nack(_) => Err(PublishError::Nacked),
                Confirmation::NotRequested => Err(PublishError::NoConfirm),
            }
        })
    }

    /// Publish one message and wait for its confirmation.
    pub async fn publish(&self, msg: &Outgoing<'_>) -> Result<(), PublishError> {
        self.send(msg).await?.await
    }
}
