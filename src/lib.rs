//! Pintu: the multichannel intake gateway of SP4N-LAPOR!.
//!
//! Channel adapters (crate `pintu-channels`) turn provider requests into
//! [`pintu_channels::Inbound`]; [`intake`] makes them durable (dedupe + outbox in
//! sled, group commit); [`relay`] publishes the outbox to RabbitMQ with
//! confirms; the router ([`routing`]) assigns the responsible agency; [`replies`]
//! sends the citizen the tracking code.

pub mod broker;
pub mod channel;
pub mod check;
pub mod complaint;
pub mod config;
pub mod email;
pub mod families;
pub mod flood;
pub mod http;
pub mod intake;
pub mod node;
pub mod obs;
pub mod ops;
pub mod relay;
pub mod replay;
pub mod replies;
pub mod routing;
pub mod section;
pub mod serve;
pub mod sla;
pub mod sms;
pub mod social;
pub mod stats;
pub mod status;
pub mod store;
pub mod tracking;
