//! Concatenated SMS: parts are stored (and flushed) as they arrive, and
//! joined into one complaint when the last one comes or the group times out.
//! How parts are kept is [`crate::store::parts`]; this is when to join them.

use std::time::Duration;

use pintu_channels::{Inbound, Receipt};

use super::{now_secs, Accepted, Intake, IntakeError, PartsCleanup};
use crate::store::dedupe::{provider_key, Record};
use crate::store::parts::{group_key, PartStored};

impl Intake {
    /// Store one part of a concatenated SMS; assemble when the last arrives.
    pub(super) async fn accept_part(&self, inbound: Inbound) -> Result<Accepted, IntakeError> {
        let Some(seg) = inbound.segment else {
            return self.accept_whole(inbound, 1, false, None).await;
        };
        let gkey = group_key(&inbound.provider, &inbound.sender.address, seg.reference, seg.total);
        let provider_dup = inbound
            .external_id
            .as_deref()
            .map(|e| provider_key(&self.hasher, &inbound.provider, &inbound.sender.address, e));
        // JSON, not bincode: `Inbound` uses skip_serializing_if, which a
        // non-self-describing format cannot read back.
        let encoded = serde_json::to_vec(&inbound).unwrap_or_default();
        let stored = self
            .store
            .stage_part(&gkey, seg.seq, seg.total, &encoded, provider_dup.as_deref(), now_secs())?;
        match stored {
            PartStored::Duplicate(r) => {
                self.store.flush().await?;
                Ok(Accepted::duplicate(r))
            }
            PartStored::Stored(group) if group.complete() => match self.assemble_group(&gkey).await? {
                Some(a) => Ok(a),
                None => self.receipt_of_assembled(provider_dup.as_deref()).await,
            },
            PartStored::Stored(_) => {
                self.store.flush().await?;
                Ok(Accepted::waiting())
            }
        }
    }

    /// Another request assembled the group first: answer with its receipt.
    async fn receipt_of_assembled(&self, provider_dup: Option<&[u8]>) -> Result<Accepted, IntakeError> {
        self.store.flush().await?;
        if let Some(k) = provider_dup {
            if let Some(v) = self.store.dedupe.get(k)? {
                return Ok(Accepted::duplicate(Record::decode(&v)?));
            }
        }
        Ok(Accepted::waiting())
    }

    /// Join the parts of a group into one complaint (partial if some are missing).
    /// `None` when the group is already gone (assembled by someone else).
    pub async fn assemble(&self, gkey: &[u8]) -> Result<Option<Receipt>, IntakeError> {
        Ok(self.assemble_group(gkey).await?.map(|a| a.receipt))
    }

    async fn assemble_group(&self, gkey: &[u8]) -> Result<Option<Accepted>, IntakeError> {
        let Some((group, stored)) = self.store.group_parts(gkey)? else {
            return Ok(None);
        };
        let mut parts: Vec<Inbound> = Vec::new();
        let mut keys = Vec::new();
        let mut text = String::new();
        for part in stored {
            match part {
                Some(p) => {
                    text.push_str(&p.inbound.text);
                    parts.push(p.inbound);
                    keys.push(p.key);
                }
                // Show the reader where text is missing rather than gluing words.
                None if !text.ends_with(" […] ") => text.push_str(" […] "),
                None => {}
            }
        }
        let Some(mut whole) = parts.first().cloned() else {
            self.store.part_groups.remove(gkey)?;
            return Ok(None);
        };
        let received = parts.len() as u32;
        let partial = received < group.total as u32;
        whole.text = pintu_channels::normalize::normalize_text(&text);
        whole.segment = None;
        let cleanup = PartsCleanup {
            group: gkey.to_vec(),
            parts: keys,
        };
        let accepted = self.accept_whole(whole, received, partial, Some(cleanup)).await?;
        // Map every part's provider id to the complaint (held or not), so a
        // retried part is a duplicate and not the start of a new group.
        if let Some(r) = &accepted.record {
            let rec = Record {
                expires_at: now_secs() + self.window.as_secs(),
                ..r.clone()
            }
            .encode();
            for p in &parts {
                if let Some(ext) = &p.external_id {
                    let k = provider_key(&self.hasher, &p.provider, &p.sender.address, ext);
                    self.store.dedupe.insert(k.as_slice(), rec.as_slice())?;
                }
            }
            self.store.flush().await?;
        }
        if partial {
            metrics::counter!("pintu_sms_partial_total").increment(1);
        }
        Ok(Some(accepted))
    }

    /// Assemble groups older than `timeout` as partial complaints.
    pub async fn expire_parts(&self, timeout: Duration) -> Result<usize, IntakeError> {
        let cutoff = now_secs().saturating_sub(timeout.as_secs());
        let stale = self.store.stale_part_groups(cutoff)?;
        let mut n = 0;
        for k in stale {
            if self.assemble(&k).await?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }
}
