//! Pintu: the multichannel intake gateway of SP4N-LAPOR!.
//!
//! Channel adapters (crate `pintu-channels`) turn provider requests into
//! [`pintu_channels::Inbound`]; [`intake`] makes them durable (dedupe + outbox in
//! sled, group commit); [`relay`] publishes the outbox to RabbitMQ with
//! confirms; the router ([`routing`]) assigns the responsible agency; [`replies`]
//! sends the citizen the tracking code.

pub mod broker;
pub mod complaint;
pub mod config;
pub mod routing;
pub mod tracking;
