//! Channel adapters for Pintu.
//!
//! Every provider a citizen can reach the service through (SMS gateways, e-mail,
//! social platforms) has one adapter here. An adapter is a pure function from the
//! provider's request or message to [`Inbound`] complaint fields: no storage, no
//! broker, no network. That keeps every adapter testable from recorded provider
//! payloads with one shared table-driven harness, the way RapidPro Courier tests
//! its handlers: `tests/harness/` is one test binary in which the SMS, social
//! and e-mail cases share the request builder, the expectations and the report
//! (its module doc says how to add a case or a provider).
//!
//! The runtime (`pintu` crate) owns HTTP routing, durability and replies; it only
//! sees the [`WebhookAdapter`] trait.

pub mod adapter;
pub mod auth;
pub mod email;
pub mod form;
pub mod inbound;
pub mod normalize;
pub mod secret;
pub mod sms;
pub mod social;

pub use adapter::{AdapterError, AuthError, Parsed, Receipt, WebRequest, WebResponse, WebhookAdapter};
pub use inbound::{Attachment, Channel, Inbound, Segment, Sender, SenderKind};
pub use secret::Secret;
