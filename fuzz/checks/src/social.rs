//! Target `social`: every social platform's payload parser.
//!
//! Input: a [`crate::request`] whose selector picks (modulo 4, bits 2-4 for
//! Meta's enabled products): 0 Meta webhook (WhatsApp, Messenger,
//! Instagram; GET is the subscription check), 1 Telegram webhook, 2 X
//! Account Activity webhook (GET is the CRC check), 3 one X API v2 mentions
//! page (the body only) as the poller parses it. Credentials are configured
//! and checked, but parsing happens whatever they say.
//!
//! Asserted: the time bound; [`crate::invariants::parsed`] for the webhooks;
//! for a mentions page the same message invariants, at most one message or
//! skip per tweet, bounded skip reasons, an opaque `next_token` and a
//! numeric `newest_id` no older than any message on the page.

use std::sync::OnceLock;

use pintu_channels::social::meta::{MetaProducts, MetaWebhook};
use pintu_channels::social::telegram::TelegramWebhook;
use pintu_channels::social::x::{id_newer, is_tweet_id, parse_mentions_page, XAccount, XWebhook};
use pintu_channels::{Secret, WebhookAdapter};

use crate::budget::{within, Budget};
use crate::{invariants, request};

pub const BUDGET: Budget = Budget::new(25, 1000);

pub const META: u8 = 0;
pub const TELEGRAM: u8 = 1;
pub const X_WEBHOOK: u8 = 2;
pub const X_MENTIONS: u8 = 3;

pub fn account() -> XAccount {
    XAccount {
        user_id: "1708170817081708".into(),
        username: "lapor1708".into(),
    }
}

fn meta(bits: u8) -> &'static MetaWebhook {
    static M: OnceLock<Vec<MetaWebhook>> = OnceLock::new();
    let all = M.get_or_init(|| {
        (0..8u8)
            .map(|b| {
                MetaWebhook::new(
                    Secret::new("meta-verify-token"),
                    Secret::new("meta-app-secret"),
                    MetaProducts {
                        whatsapp: b & 1 == 0,
                        facebook: b & 2 == 0,
                        instagram: b & 4 == 0,
                    },
                )
            })
            .collect()
    });
    &all[(bits & 7) as usize]
}

fn telegram() -> &'static TelegramWebhook {
    static T: OnceLock<TelegramWebhook> = OnceLock::new();
    T.get_or_init(|| TelegramWebhook::new(Secret::new("tg-secret_token-1")))
}

fn x_webhook() -> &'static XWebhook {
    static X: OnceLock<XWebhook> = OnceLock::new();
    X.get_or_init(|| XWebhook::new(account(), Secret::new("x-consumer-secret")))
}

pub fn check(data: &[u8]) {
    let Some(req) = request::decode(data) else { return };
    let n = data.len();
    let adapter: &dyn WebhookAdapter = match req.selector % 4 {
        META => meta(req.selector >> 2),
        TELEGRAM => telegram(),
        X_WEBHOOK => x_webhook(),
        _ => return mentions(&req.body, n),
    };
    let ctx = format!("social/{}", adapter.provider());
    let web = req.web();
    let _ = adapter.authenticate(&web);
    let parsed = within("social", n, BUDGET, || adapter.parse(&web));
    invariants::parsed(&parsed, n, &ctx);
}

fn mentions(body: &[u8], n: usize) {
    let account = account();
    let page = within("social", n, BUDGET, || parse_mentions_page(body, &account));
    let page = match page {
        Ok(p) => p,
        Err(e) => {
            assert!(
                e.to_string().len() <= n + 512,
                "x mentions: error of {} bytes",
                e.to_string().len()
            );
            return;
        }
    };
    invariants::messages(&page.messages, n, "social/x-mentions");
    let skipped: usize = page.skipped.iter().map(|s| s.id.len() + s.reason.len()).sum();
    assert!(skipped <= 2 * n + 512, "x mentions: {skipped} bytes of skip reasons");
    if let Some(t) = &page.next_token {
        assert!(
            !t.is_empty() && t.len() <= 512 && t.bytes().all(|b| b.is_ascii_graphic()),
            "x mentions: next_token {t:?}"
        );
    }
    if let Some(newest) = &page.newest_id {
        assert!(is_tweet_id(newest), "x mentions: newest_id {newest:?}");
        for m in &page.messages {
            if let Some(id) = m.external_id.as_deref() {
                assert!(
                    !id_newer(id, newest),
                    "x mentions: tweet {id} newer than newest_id {newest}"
                );
            }
        }
    } else {
        assert!(page.messages.is_empty(), "x mentions: messages but no newest_id");
    }
    for m in &page.messages {
        assert!(
            m.external_id.as_deref().is_some_and(is_tweet_id),
            "x mentions: message id"
        );
    }
}
