//! A local simulator of the social platforms, for tests and demos (the real
//! APIs cannot be reached from here).
//!
//! Server side ([`Sim`]): the X API v2 mentions timeline with realistic paging
//! and rate-limit headers, `POST /2/tweets`, the Graph API send endpoints and
//! Telegram's `sendMessage`, each checking credentials and recording what was
//! sent. Client side ([`client`]): builds and signs webhook calls exactly as
//! Meta, Telegram and X send them.
//!
//! Run in-process with [`Sim::start`] (ephemeral loopback port) or as the
//! `pintu-sim` binary.

pub mod client;
mod server;

pub use server::{MentionsRequest, Sent, Sim, SimConfig, SimTweet};
