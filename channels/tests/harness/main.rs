//! The channel harness: one table-driven test binary for every adapter family
//! (as RapidPro Courier tests all its channel handlers with one harness).
//!
//! Every case is a named input and what the adapter must make of it; a table
//! ([`common::Table`]) runs all of its cases, prints how many ran, and fails
//! once, naming every failing case. Webhook families share the rest too: a
//! case is a [`request::Request`] (method, URI, headers, body, remote
//! address), the name of the adapter configuration to run it on, and an
//! [`expect::Expect`] — one message's fields, a JSON subset of the messages,
//! an authentication status, a malformed request, an ignored event, a batch
//! with skipped items, or a protocol answer.
//!
//! | family | module | cases |
//! |---|---|---|
//! | SMS gateways (Kannel, Jasmin, Twilio, generic JSON) | [`sms`] | rows written in code |
//! | social (WhatsApp, Messenger, Instagram, Telegram, X) | [`social`] | `channels/tests/fixtures/social/*.json` (format in its README) |
//! | e-mail (IMAP messages, no webhook) | [`email`] | `tests/fixtures/email/*.eml` + sidecar `.json`, at the repository root |
//!
//! Adding a case or a provider:
//! - SMS: add a row to `sms::rows` (`get`/`post` build the request); a new
//!   gateway, or a new configuration of one, is a name in `sms::adapter`.
//! - Social: add a case to the platform's fixture file; a new platform is a
//!   new `tests/fixtures/social/NAME.json` whose `adapter` is a kind known to
//!   `social::adapter` and `social::sign` (and a line in
//!   `social::PLATFORM_FILES`, so its file cannot go missing unnoticed).
//!   Files in that directory are picked up as they are.
//! - E-mail: add `NAME.eml` and its `NAME.json` sidecar to the corpus; keys
//!   are listed in [`email`].
//! - Another webhook family: a module with an adapter factory
//!   ([`common::Factory`]) and a `Table<WebhookCase>`, run with
//!   `run_webhooks`; input that is not a webhook (like mail) uses
//!   `Table::run` with its own check.
//!
//! `cargo test -p pintu-channels --test harness -- --nocapture` shows the
//! number of cases each table ran.

mod common;
mod email;
mod expect;
mod request;
mod sms;
mod social;
