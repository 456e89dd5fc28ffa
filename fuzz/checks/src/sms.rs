//! Target `sms`: every SMS gateway adapter's `authenticate` and `parse`.
//!
//! Input: a [`crate::request`] whose selector picks the adapter (modulo 4):
//! 0 Kannel (get-url with GET, form POST, or post-url with any other body),
//! 1 Jasmin, 2 Twilio, 3 generic JSON. Every adapter has credentials
//! configured, so authentication code runs, but parsing happens whatever
//! it says: parsing must be safe even for a caller who knows the secret.
//!
//! Asserted: the time bound, and [`crate::invariants::parsed`] (normalised
//! text, valid parts and senders, output bounded by the input).

use std::sync::OnceLock;

use pintu_channels::sms::generic::{Generic, GenericConfig};
use pintu_channels::sms::jasmin::Jasmin;
use pintu_channels::sms::kannel::Kannel;
use pintu_channels::sms::twilio::{Twilio, TwilioConfig};
use pintu_channels::sms::{ProfileError, SmsAuth};
use pintu_channels::WebhookAdapter;

use crate::budget::{within, Budget};
use crate::{invariants, request};

/// An SMS is at most 16 KB of text; parsing it is microseconds.
pub const BUDGET: Budget = Budget::new(25, 1000);

/// Selector values, for seeds.
pub const KANNEL: u8 = 0;
pub const JASMIN: u8 = 1;
pub const TWILIO: u8 = 2;
pub const GENERIC: u8 = 3;

fn adapters() -> &'static [Box<dyn WebhookAdapter>; 4] {
    static A: OnceLock<[Box<dyn WebhookAdapter>; 4]> = OnceLock::new();
    A.get_or_init(|| {
        let auth = SmsAuth {
            token: Some("tok".into()),
            allow_ips: vec!["127.0.0.0/8".into()],
        };
        let built: Result<[Box<dyn WebhookAdapter>; 4], ProfileError> = (|| {
            Ok([
                Box::new(Kannel::new(&auth)?) as Box<dyn WebhookAdapter>,
                Box::new(Jasmin::new(&auth)?),
                Box::new(Twilio::new(&TwilioConfig {
                    auth_token: Some("twilio-secret".into()),
                    ..Default::default()
                })?),
                Box::new(Generic::new(&GenericConfig {
                    auth: auth.clone(),
                    hmac_secret: Some("h-secret".into()),
                    ..Default::default()
                })?),
            ])
        })();
        // libphonenumber loads its metadata on first use: not a parse's cost.
        let _ = pintu_channels::normalize::normalize_sender("+6281234567001");
        match built {
            Ok(a) => a,
            Err(e) => panic!("fuzz harness: SMS adapter config: {e}"),
        }
    })
}

pub fn check(data: &[u8]) {
    let Some(req) = request::decode(data) else { return };
    let adapter = &adapters()[(req.selector % 4) as usize];
    let ctx = format!("sms/{}", adapter.provider());
    let web = req.web();
    // Whatever the credentials say, neither call may panic.
    let _ = adapter.authenticate(&web);
    let parsed = within("sms", data.len(), BUDGET, || adapter.parse(&web));
    invariants::parsed(&parsed, data.len(), &ctx);
}
