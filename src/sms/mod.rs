//! The SMS family: Kannel, Jasmin, Twilio and a generic JSON gateway.
//!
//! Each provider has two halves. The inbound one — a pure function from the
//! gateway's webhook request to an [`pintu_channels::Inbound`] — lives in
//! `pintu_channels::sms::{kannel, jasmin, twilio, generic}`; [`config`] holds
//! the `[sms]` section and the Kannel and Jasmin profiles.

pub mod config;
