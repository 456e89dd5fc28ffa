//! Acknowledgements by SMTP: the [`ReplyTransport`] of provider `imap`.
//!
//! The reply sender hands us one rendered [`OutboundReply`]; we build an
//! RFC 3834-conformant auto-reply (`Auto-Submitted: auto-replied`, threading
//! headers, our `X-Loop`) and send it through the configured relay. Retries
//! and dead-lettering belong to the reply sender: we only classify failures —
//! a 5xx answer or an unusable address is permanent, everything else
//! (network, TLS, 4xx, timeouts) is transient.
//!
//! Everything that can be wrong in the config (addresses, CA file, password
//! source) is checked when the transport is built; the connection pool itself
//! is built on the first send, inside the runtime: lettre's pool starts a
//! tokio task when it is built, so building it in `pintu check` (no runtime)
//! panicked with "there is no reactor running".

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox as Address;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use pintu_channels::email::loops::is_no_reply_address;
use pintu_channels::email::threading::ack_message_id;
use tracing::{debug, info_span, Instrument};

use super::config::{address_of, EmailConfig, SmtpConfig, TlsMode};
use super::EmailError;
use crate::obs::mask;
use crate::replies::{OutboundReply, ReplyTransport, SendError};
use crate::tracking;

pub struct SmtpReplyTransport {
    builder: AsyncSmtpTransportBuilder,
    /// Built from `builder` on the first send (see the module docs).
    mailer: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    from: Address,
    reply_to: Option<Address>,
    ack_domain: String,
    loop_id: String,
}

/// A setting a library refused, with the library's error as the source.
fn setup_err(what: impl Into<String>) -> impl FnOnce(lettre::transport::smtp::Error) -> EmailError {
    move |e| EmailError::Setup {
        what: what.into(),
        source: e.into(),
    }
}

fn tls_parameters(cfg: &SmtpConfig) -> Result<TlsParameters, EmailError> {
    let mut b = TlsParameters::builder(cfg.host.clone());
    if let Some(path) = &cfg.ca_file {
        let what = path.display().to_string();
        let pem = std::fs::read(path).map_err(|e| EmailError::Setup {
            what: what.clone(),
            source: e.into(),
        })?;
        let cert = Certificate::from_pem(&pem).map_err(setup_err(what))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls().map_err(setup_err("TLS"))
}

impl SmtpReplyTransport {
    pub fn new(email: &EmailConfig, cfg: &SmtpConfig) -> Result<SmtpReplyTransport, EmailError> {
        let from: Address = cfg
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| EmailError::Setup {
                what: "channels.email.smtp.from".into(),
                source: e.into(),
            })?;
        let reply_to = match &cfg.reply_to {
            Some(r) => Some(
                r.parse()
                    .map_err(|e: lettre::address::AddressError| EmailError::Setup {
                        what: "channels.email.smtp.reply_to".into(),
                        source: e.into(),
                    })?,
            ),
            None => None,
        };
        let tls = match cfg.tls {
            TlsMode::None => Tls::None,
            TlsMode::Starttls => Tls::Required(tls_parameters(cfg)?),
            TlsMode::Implicit => Tls::Wrapper(tls_parameters(cfg)?),
        };
        let hello = cfg
            .hello_name
            .clone()
            .or_else(|| address_of(&cfg.from).rsplit_once('@').map(|(_, d)| d.to_string()))
            .unwrap_or_else(|| "localhost".into());
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.clone())
            .port(cfg.port)
            .tls(tls)
            .hello_name(ClientId::Domain(hello))
            .timeout(Some(Duration::from_secs(cfg.timeout_secs)));
        if let Some(c) = cfg.credentials() {
            let password = c.password().map_err(EmailError::Config)?;
            b = b.credentials(Credentials::new(c.username.clone(), password.expose().to_string()));
        }
        let ack_domain = email
            .effective_ack_domain()
            .ok_or_else(|| EmailError::Config("channels.email.ack_domain: cannot be derived".into()))?;
        let loop_id = email
            .effective_loop_id()
            .ok_or_else(|| EmailError::Config("channels.email.loop_id: cannot be derived".into()))?;
        Ok(SmtpReplyTransport {
            builder: b,
            mailer: OnceLock::new(),
            from,
            reply_to,
            ack_domain,
            loop_id,
        })
    }

    /// The complete acknowledgement for one reply (public for tests).
    pub fn build(&self, reply: &OutboundReply) -> Result<Message, SendError> {
        let to: Address = reply
            .to
            .parse()
            .map_err(|e| SendError::permanent_from(format!("recipient address: {e}"), e))?;
        // The code shown to the citizen (the original complaint for a
        // follow-up) goes into the Message-ID, so their answer threads to it.
        let shown = reply
            .subject
            .as_deref()
            .and_then(tracking::find_in)
            .or_else(|| tracking::find_in(&reply.text))
            .unwrap_or_else(|| reply.tracking.clone());
        let subject = reply
            .subject
            .clone()
            .unwrap_or_else(|| format!("[{shown}] Aduan Anda telah diterima - LAPOR!"));
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!(
                "<{}>",
                ack_message_id(&shown, &reply.id, &self.ack_domain)
            )))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-replied".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Loop"),
                self.loop_id.clone(),
            ))
            // Exchange and others: do not answer this with an out-of-office.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ))
            .header(ContentType::TEXT_PLAIN);
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.clone());
        }
        if let Some(id) = reply.context.get("message_id") {
            b = b.in_reply_to(id.clone());
        }
        if let Some(refs) = reply.context.get("references").or(reply.context.get("message_id")) {
            b = b.references(refs.clone());
        }
        b.body(reply.text.clone())
            .map_err(|e| SendError::permanent_from(format!("building the message: {e}"), e))
    }
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::permanent_from(e.to_string(), e)
    } else {
        SendError::transient_from(e.to_string(), e)
    }
}

impl ReplyTransport for SmtpReplyTransport {
    fn provider(&self) -> &str {
        pintu_channels::email::PROVIDER
    }

    fn send<'a>(&'a self, reply: &'a OutboundReply) -> BoxFuture<'a, Result<(), SendError>> {
        let span = info_span!("email_reply", complaint_id = %reply.complaint_id, tracking = %reply.tracking);
        Box::pin(
            async move {
                // Intake never queues these; a reply rendered by an older
                // version or another path must still not reach them.
                if let Some(reason) = reply.context.get("suppress_reply") {
                    debug!(reason = %reason, "reply suppressed");
                    metrics::counter!("pintu_email_replies_suppressed_total", "reason" => reason.clone()).increment(1);
                    return Ok(());
                }
                if is_no_reply_address(&reply.to) {
                    metrics::counter!("pintu_email_replies_suppressed_total", "reason" => "noreply_address")
                        .increment(1);
                    return Ok(());
                }
                let msg = self.build(reply)?;
                let mailer = self.mailer.get_or_init(|| self.builder.clone().build());
                match mailer.send(msg).await {
                    Ok(_) => {
                        metrics::counter!("pintu_email_replies_sent_total").increment(1);
                        debug!(to = %mask(&reply.to), "acknowledgement sent");
                        Ok(())
                    }
                    Err(e) => {
                        let err = classify(e);
                        metrics::counter!("pintu_email_reply_errors_total",
                            "kind" => if err.is_permanent() { "permanent" } else { "transient" })
                        .increment(1);
                        Err(err)
                    }
                }
            }
            .instrument(span),
        )
    }
}

/// Build the transport from config; `None` when no relay is configured.
pub fn transport(email: &EmailConfig) -> Result<Option<Arc<dyn ReplyTransport>>, EmailError> {
    match &email.smtp {
        Some(s) => Ok(Some(Arc::new(SmtpReplyTransport::new(email, s)?))),
        None => Ok(None),
    }
}
