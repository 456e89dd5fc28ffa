//! Pintu: the multichannel intake gateway of SP4N-LAPOR!.
//!
//! Channel adapters (crate `pintu-channels`) turn provider requests into
//! [`pintu_channels::Inbound`]; [`intake`] makes them durable (dedupe + outbox in
//! sled, group commit); [`relay`] publishes the outbox to RabbitMQ with
//! confirms; the router ([`routing`]) assigns the responsible agency; [`replies`]
//! sends the citizen the tracking code.
//!
//! Modules are private unless a binary, test, bench, tool or fuzz target needs
//! them (docs/architecture.md, "Layout").

// The module docs link the private modules and items they describe; those
// links resolve in `cargo doc --document-private-items`, the docs' readers
// being the people who work on the crate.
#![allow(rustdoc::private_intra_doc_links)]

pub mod broker;
mod channel;
pub mod check;
pub mod complaint;
pub mod config;
pub mod email;
mod families;
mod flood;
pub mod http;
pub mod intake;
pub mod node;
pub mod obs;
pub mod ops;
pub mod relay;
mod replay;
pub mod replies;
pub mod routing;
mod section;
pub mod serve;
pub mod sla;
mod sms;
pub mod social;
mod stats;
pub mod status;
pub mod store;
pub mod tracking;
