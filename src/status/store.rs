//! The durable status store, in the gateway's sled database: per complaint
//! its [`Record`] and [`Contact`], the update ids seen (idempotency), the
//! per-agency feed behind `?since=`, and the status outbox (messages to
//! publish once a change is durable; drained by [`super::outbox`]).
//!
//! Every change commits in one transaction — record, update id, feed entry
//! and outbox entries — and is flushed before it is acknowledged, so an
//! update is either fully applied (and its citizen notice will be sent) or
//! not at all, and a redelivered update finds its id and does nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use tokio::sync::broadcast;

use super::apply::{self, Answer, Pending, Plan, Refusal, Reroute};
use super::contract::{Cause, Stage, StageChange, StatusUpdate};
use super::record::{Contact, Record};
use super::StatusError;
use crate::complaint::Complaint;

const SEQ_KEY: &[u8] = b"feed_seq";
/// Stage changes buffered for slow observers before they lag (see [`StatusStore::subscribe`]).
const OBSERVER_BUFFER: usize = 4096;

/// What became of one update.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied {
        tracking: String,
        stage: Stage,
    },
    /// Its `update_id` was applied before: nothing done again.
    Duplicate {
        tracking: String,
    },
    /// Routed to another agency, or not known at all (same answer: an
    /// agency learns nothing about complaints that are not its own).
    Forbidden,
}

/// The open status trees.
#[derive(Clone)]
pub struct StatusStore {
    /// The gateway store: its group commit is the one flush (sled's own
    /// `flush_async` deadlocks under concurrent callers).
    gateway: crate::store::Store,
    records: sled::Tree,
    contacts: sled::Tree,
    updates: sled::Tree,
    feed: sled::Tree,
    ids: sled::Tree,
    /// Keyed sender hash → the complaint waiting for its PUAS/BELUM.
    awaiting: sled::Tree,
    pub(crate) outbox: sled::Tree,
    /// Pushes to agencies' webhooks waiting, and those given up (see [`super::webhook`]).
    pub(crate) webhooks: sled::Tree,
    pub(crate) webhook_dead: sled::Tree,
    /// Agencies with a webhook: their assignments are pushed.
    webhook_agencies: Arc<std::collections::HashSet<String>>,
    /// Queue stage events for the deadline clock (see [`Self::with_sla_events`]).
    sla_events: bool,
    pub(crate) webhook_wake: Arc<tokio::sync::Notify>,
    meta: sled::Tree,
    changes: broadcast::Sender<StageChange>,
    /// Wakes the outbox drain after a commit.
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

fn corrupt(tree: &'static str, source: serde_json::Error) -> StatusError {
    StatusError::Corrupt { tree, source }
}

fn update_key(agency: &str, update_id: &str) -> Vec<u8> {
    let mut k = agency.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(update_id.as_bytes());
    k
}

fn feed_key(agency: &str, seq: u64) -> Vec<u8> {
    let mut k = agency.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl StatusStore {
    pub fn open(gateway: &crate::store::Store) -> Result<StatusStore, StatusError> {
        let db = &gateway.db;
        let (changes, _) = broadcast::channel(OBSERVER_BUFFER);
        Ok(StatusStore {
            records: db.open_tree("status.records")?,
            contacts: db.open_tree("status.contacts")?,
            updates: db.open_tree("status.updates")?,
            feed: db.open_tree("status.feed")?,
            ids: db.open_tree("status.ids")?,
            awaiting: db.open_tree("status.awaiting")?,
            outbox: db.open_tree("status.outbox")?,
            webhooks: db.open_tree("status.webhook")?,
            webhook_dead: db.open_tree("status.webhook_dead")?,
            webhook_agencies: Arc::default(),
            sla_events: false,
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
            meta: db.open_tree("status.meta")?,
            gateway: gateway.clone(),
            changes,
            wake: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Push the assignments of these agencies to their webhooks.
    pub fn with_webhooks(mut self, agencies: impl IntoIterator<Item = String>) -> StatusStore {
        self.webhook_agencies = Arc::new(agencies.into_iter().collect());
        self
    }

    /// With the deadline clock on (`sla.enabled`), every stage change also
    /// queues its stage events for the clock, in the change's transaction.
    pub fn with_sla_events(mut self, on: bool) -> StatusStore {
        self.sla_events = on;
        self
    }

    /// Webhook pushes waiting and dead-lettered.
    pub fn webhook_counts(&self) -> (usize, usize) {
        (self.webhooks.len(), self.webhook_dead.len())
    }

    /// Every stage change from now on (after it is durable). A receiver that
    /// falls more than 4096 changes behind gets `Lagged` and should re-read
    /// the records it cares about ([`StatusStore::get`]): the history in the
    /// store is the truth, the channel only says "look now".
    pub fn subscribe(&self) -> broadcast::Receiver<StageChange> {
        self.changes.subscribe()
    }

    /// Keep how to reach the citizen of `tracking`. Written before intake
    /// commits the complaint, so intake's flush makes it durable with it.
    pub fn record_contact(&self, tracking: &str, contact: &Contact) -> Result<(), StatusError> {
        self.contacts.insert(tracking.as_bytes(), contact.encode())?;
        Ok(())
    }

    pub fn contact(&self, tracking: &str) -> Result<Option<Contact>, StatusError> {
        match self.contacts.get(tracking.as_bytes())? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| corrupt("status.contacts", e)),
            None => Ok(None),
        }
    }

    pub fn get(&self, tracking: &str) -> Result<Option<Record>, StatusError> {
        match self.records.get(tracking.as_bytes())? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| corrupt("status.records", e)),
            None => Ok(None),
        }
    }

    /// Remember that `sender` (keyed hash) was asked PUAS/BELUM about `tracking`.
    pub fn set_awaiting(&self, sender: &[u8; 32], tracking: &str) -> Result<(), StatusError> {
        self.awaiting.insert(sender, tracking.as_bytes())?;
        Ok(())
    }

    /// The complaint `sender` was last asked PUAS/BELUM about.
    pub fn awaiting(&self, sender: &[u8; 32]) -> Result<Option<String>, StatusError> {
        Ok(self
            .awaiting
            .get(sender)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The tracking code of a complaint id.
    pub fn tracking_of(&self, id: &str) -> Result<Option<String>, StatusError> {
        Ok(self
            .ids
            .get(id.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// A routed complaint as the agency received it: its first stage.
    /// Idempotent: a complaint already on record is left as it is (the
    /// router's redelivery, or the copy of our own re-route).
    pub async fn record_routed(&self, c: &Complaint) -> Result<Option<StageChange>, StatusError> {
        let Some(routing) = &c.routing else {
            return Err(StatusError::NotRouted);
        };
        if self.records.contains_key(c.tracking.as_bytes())? {
            return Ok(None);
        }
        let mut rec = Record {
            complaint_id: c.id.clone(),
            tracking: c.tracking.clone(),
            agency: routing.agency.clone(),
            stage: Stage::initial(&routing.agency),
            category: routing.category.clone(),
            region: routing.region.clone(),
            routed_at: routing.routed_at,
            excluded: Vec::new(),
            last_message: None,
            history: Vec::new(),
            seq: 0,
            reopened: 0,
            complaint: c.clone(),
        };
        let change = rec.push(rec.stage, Cause::Routed, routing.routed_at, None, None);
        let plan = Plan {
            changes: vec![change.clone()],
            reassigned: true,
            ..Plan::default()
        };
        let inserted = self.commit(&mut rec, &plan, None, &[], true)?;
        if !inserted {
            return Ok(None);
        }
        self.ids.insert(c.id.as_bytes(), c.tracking.as_bytes())?;
        self.flush().await?;
        let _ = self.changes.send(change.clone());
        Ok(Some(change))
    }

    /// Apply an agency's update; `notify` turns the plan's notices into
    /// outbound replies (see [`super::notify`]).
    pub async fn apply_update(
        &self,
        u: &StatusUpdate,
        reroute: Reroute<'_>,
        notify: &(dyn Fn(&Record, &Plan) -> Vec<Pending> + Sync),
    ) -> Result<Outcome, StatusError> {
        let tracking = match (&u.tracking, &u.id) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(id)) => self.tracking_of(id)?,
            (None, None) => None,
        };
        let Some(tracking) = tracking else {
            return Ok(Outcome::Forbidden);
        };
        let ukey = update_key(&u.agency, &u.update_id);
        if self.updates.contains_key(&ukey)? {
            return Ok(Outcome::Duplicate { tracking });
        }
        let Some(mut rec) = self.get(&tracking)? else {
            return Ok(Outcome::Forbidden);
        };
        if u.id.as_ref().is_some_and(|id| id != &rec.complaint_id) {
            return Ok(Outcome::Forbidden);
        }
        let plan = match apply::update(&mut rec, u, reroute) {
            Ok(p) => p,
            Err(Refusal::Forbidden) => return Ok(Outcome::Forbidden),
        };
        let replies = notify(&rec, &plan);
        if !self.commit(&mut rec, &plan, Some(&ukey), &replies, false)? {
            return Ok(Outcome::Duplicate { tracking });
        }
        self.flush().await?;
        self.announce(&plan);
        Ok(Outcome::Applied {
            tracking,
            stage: rec.stage,
        })
    }

    /// The citizen's PUAS/BELUM for `tracking`; `None`: not waiting for one.
    pub async fn apply_answer(
        &self,
        tracking: &str,
        a: Answer,
        at: DateTime<Utc>,
        notify: &(dyn Fn(&Record, &Plan) -> Vec<Pending> + Sync),
    ) -> Result<Option<Stage>, StatusError> {
        let Some(mut rec) = self.get(tracking)? else {
            return Ok(None);
        };
        let Some(plan) = apply::answer(&mut rec, a, at) else {
            return Ok(None);
        };
        let replies = notify(&rec, &plan);
        self.commit(&mut rec, &plan, None, &replies, false)?;
        self.flush().await?;
        self.announce(&plan);
        Ok(Some(rec.stage))
    }

    /// Queue one message (a status answer) in the status outbox, durably.
    pub async fn enqueue(&self, p: &Pending) -> Result<(), StatusError> {
        self.outbox.insert(ulid::Ulid::new().to_bytes(), encode_pending(p))?;
        self.flush().await?;
        self.wake.notify_one();
        Ok(())
    }

    fn announce(&self, plan: &Plan) {
        for c in &plan.changes {
            let _ = self.changes.send(c.clone());
        }
        self.wake.notify_one();
    }

    /// Write `rec` (with a new feed position when reassigned), the update
    /// id, and the outbox entries in one transaction. False when the update
    /// id (or, for `only_new`, the record) was there already.
    fn commit(
        &self,
        rec: &mut Record,
        plan: &Plan,
        update_key: Option<&[u8]>,
        replies: &[Pending],
        only_new: bool,
    ) -> Result<bool, StatusError> {
        let tracking = rec.tracking.clone();
        let push = self.push_for(rec, plan);
        let sla = if self.sla_events {
            super::sla_feed::pending(&plan.changes)
        } else {
            Vec::new()
        };
        let trees = (
            &self.records,
            &self.updates,
            &self.feed,
            &self.outbox,
            &self.meta,
            &self.webhooks,
        );
        let result = trees.transaction(|(rt, ut, ft, ot, mt, wt)| {
            if only_new && rt.get(tracking.as_bytes())?.is_some() {
                return Ok(None);
            }
            if let Some(k) = update_key {
                if ut.get(k)?.is_some() {
                    return Ok(None);
                }
                ut.insert(k, tracking.as_bytes())?;
            }
            let mut rec = rec.clone();
            if plan.reassigned {
                let last = mt
                    .get(SEQ_KEY)?
                    .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                rec.seq = last + 1;
                mt.insert(SEQ_KEY, &rec.seq.to_be_bytes()[..])?;
                ft.insert(feed_key(&rec.agency, rec.seq), tracking.as_bytes())?;
            }
            rt.insert(tracking.as_bytes(), rec.encode())?;
            for p in plan.publish.iter().chain(replies).chain(&sla) {
                ot.insert(&ulid::Ulid::new().to_bytes()[..], encode_pending(p))?;
            }
            if let Some(p) = &push {
                let mut p = p.clone();
                // The body carries the cursor of this assignment.
                if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&p.body) {
                    v["cursor"] = rec.seq.into();
                    p.body = serde_json::to_vec(&v).unwrap_or(p.body);
                }
                wt.insert(&ulid::Ulid::new().to_bytes()[..], p.encode())?;
            }
            Ok::<_, ConflictableTransactionError<()>>(Some(rec.seq))
        });
        match result {
            Ok(Some(seq)) => {
                rec.seq = seq;
                if push.is_some() {
                    self.webhook_wake.notify_one();
                }
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(TransactionError::Storage(e)) => Err(e.into()),
            Err(TransactionError::Abort(())) => Err(StatusError::Aborted),
        }
    }

    /// The webhook push a change makes: an assignment to, or a reopening
    /// at, an agency that has a webhook.
    fn push_for(&self, rec: &Record, plan: &Plan) -> Option<super::webhook::Push> {
        if !self.webhook_agencies.contains(&rec.agency) {
            return None;
        }
        let reopened = plan.changes.iter().any(|c| c.cause == Cause::Reopened);
        if !plan.reassigned && !reopened {
            return None;
        }
        let event = if reopened { "reopened" } else { "assigned" };
        let body = serde_json::json!({
            "event": event, "tracking": rec.tracking, "id": rec.complaint_id, "agency": rec.agency,
            "stage": rec.stage, "complaint": rec.complaint,
        });
        Some(super::webhook::Push {
            agency: rec.agency.clone(),
            event: event.into(),
            tracking: rec.tracking.clone(),
            body: serde_json::to_vec(&body).unwrap_or_default(),
            attempts: 0,
            next_at_ms: 0,
            last_error: None,
        })
    }

    /// Complaints currently routed to `agency` whose feed position is after
    /// `since`, oldest first, at most `limit`; with the cursor to ask next.
    pub fn list(&self, agency: &str, since: u64, limit: usize) -> Result<(Vec<Record>, u64), StatusError> {
        let start = feed_key(agency, since.saturating_add(1));
        let end = feed_key(agency, u64::MAX);
        let mut out = Vec::new();
        let mut cursor = since;
        for kv in self.feed.range(start..=end) {
            let (k, v) = kv?;
            let seq = k
                .len()
                .checked_sub(8)
                .and_then(|i| k[i..].try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(cursor);
            cursor = seq;
            let tracking = String::from_utf8_lossy(&v);
            // An entry of an earlier assignment (the complaint moved on) is
            // skipped: an agency sees only what is its own now.
            if let Some(rec) = self.get(&tracking)? {
                if rec.agency == agency && rec.seq == seq {
                    out.push(rec);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok((out, cursor))
    }

    /// Complaints per stage (a full scan: for `/ops` and `pintu status`).
    pub fn stage_counts(&self) -> Result<Vec<(Stage, u64)>, StatusError> {
        let mut counts = std::collections::BTreeMap::new();
        for kv in self.records.iter() {
            let (_, v) = kv?;
            if let Ok(r) = serde_json::from_slice::<Record>(&v) {
                *counts.entry(r.stage).or_insert(0u64) += 1;
            }
        }
        Ok(counts.into_iter().collect())
    }

    /// Entries waiting in the status outbox.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    pub async fn flush(&self) -> Result<(), StatusError> {
        self.gateway.flush().await?;
        Ok(())
    }
}

pub(crate) fn encode_pending(p: &Pending) -> Vec<u8> {
    serde_json::to_vec(p).unwrap_or_default()
}

pub(crate) fn decode_pending(v: &[u8]) -> Result<Pending, StatusError> {
    serde_json::from_slice(v).map_err(|e| corrupt("status.outbox", e))
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn an_undecodable_outbox_entry_keeps_the_json_error() {
        let e = decode_pending(b"[1,").err().unwrap();
        assert!(
            matches!(
                e,
                StatusError::Corrupt {
                    tree: "status.outbox",
                    ..
                }
            ),
            "{e}"
        );
        let json = e.source().and_then(|s| s.downcast_ref::<serde_json::Error>());
        assert_eq!(
            e.to_string(),
            format!("corrupt record in `status.outbox`: {}", json.unwrap())
        );
    }
}
