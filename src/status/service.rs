//! The status service of one gateway: the store, the notifier, the re-route
//! rule and the counters, shared by the AMQP consumers, the agency HTTP API
//! and the citizen queries.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use super::apply::{Pending, Plan};
use super::contract::{Stage, StatusUpdate, UpdateStatus};
use super::notify::Notifier;
use super::record::Record;
use super::store::{Outcome, StatusStore};
use super::StatusError;
use crate::complaint::Complaint;
use crate::config::Config;

/// Distinct agencies counted; hostile input must not grow the map, the rest is `(other)`.
const MAX_COUNTED_AGENCIES: usize = 2000;

/// The re-route rule (`routing::reroute::next_best` with the engine).
pub type RerouteFn = Box<dyn Fn(&Complaint, &[String]) -> (String, String) + Send + Sync>;

/// What became of a submitted update (AMQP or HTTP).
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    Applied {
        tracking: String,
        stage: Stage,
    },
    Duplicate {
        tracking: String,
    },
    /// Routed to another agency (403, counted).
    Forbidden,
    /// Not on record (yet): the same answer as forbidden over HTTP.
    Unknown,
}

/// Counters for `/ops`, `pintu status` and metrics.
#[derive(Debug, Default)]
pub struct Counters {
    per_agency: Mutex<BTreeMap<String, AgencyCounts>>,
    pub reopened: AtomicU64,
    pub rerouted: AtomicU64,
    pub closed: AtomicU64,
    pub queries: AtomicU64,
    pub queries_refused: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy, Serialize, serde::Deserialize)]
pub struct AgencyCounts {
    pub updates: u64,
    pub duplicates: u64,
    pub forbidden: u64,
    pub invalid: u64,
}

impl Counters {
    fn with(&self, agency: &str, f: impl FnOnce(&mut AgencyCounts)) {
        let mut m = self.per_agency.lock();
        let key = if m.contains_key(agency) || m.len() < MAX_COUNTED_AGENCIES {
            agency
        } else {
            "(other)"
        };
        f(m.entry(key.to_string()).or_default());
    }
    pub fn forbidden(&self, agency: &str) {
        metrics::counter!("pintu_status_updates_forbidden_total", "agency" => agency.to_string()).increment(1);
        self.with(agency, |c| c.forbidden += 1);
    }
    pub fn invalid(&self, agency: &str) {
        metrics::counter!("pintu_status_updates_invalid_total").increment(1);
        self.with(agency, |c| c.invalid += 1);
    }
    fn applied(&self, agency: &str, duplicate: bool) {
        let kind = if duplicate { "duplicate" } else { "applied" };
        metrics::counter!("pintu_status_updates_total", "agency" => agency.to_string(), "outcome" => kind).increment(1);
        self.with(agency, |c| if duplicate { c.duplicates += 1 } else { c.updates += 1 });
    }
    pub fn per_agency(&self) -> BTreeMap<String, AgencyCounts> {
        self.per_agency.lock().clone()
    }
}

pub struct StatusService {
    pub cfg: Arc<Config>,
    pub store: StatusStore,
    pub notifier: Notifier,
    pub reroute: RerouteFn,
    pub counters: Counters,
    pub queries: super::query::QueryLimiter,
    pub sender_key: super::citizen::SenderKey,
    /// When the stage counts were computed, and what they were (see [`super::ops`]).
    pub(crate) stage_cache: Mutex<(Option<std::time::Instant>, BTreeMap<String, u64>)>,
    connected: AtomicBool,
}

impl StatusService {
    pub fn new(
        cfg: Arc<Config>,
        store: StatusStore,
        notifier: Notifier,
        reroute: RerouteFn,
        sender_key: super::citizen::SenderKey,
    ) -> StatusService {
        let queries = super::query::QueryLimiter::new(cfg.status.queries_per_hour, cfg.status.max_query_senders);
        StatusService {
            cfg,
            store,
            notifier,
            reroute,
            counters: Counters::default(),
            queries,
            sender_key,
            stage_cache: Mutex::new((None, BTreeMap::new())),
            connected: AtomicBool::new(false),
        }
    }

    pub fn set_connected(&self, c: bool) {
        self.connected.store(c, Ordering::Relaxed);
    }
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The replies for a plan (closure handed to the store).
    pub fn notices(&self, rec: &Record, plan: &Plan) -> Vec<Pending> {
        self.notifier.replies(&self.store, rec, plan)
    }

    /// Apply one validated update from `u.agency` (the caller checked that
    /// the sender is that agency).
    #[tracing::instrument(level = "info", name = "status_update", skip_all,
        fields(tracking = %u.tracking.as_deref().unwrap_or("-"), agency = %u.agency, update_id = %u.update_id))]
    pub async fn submit(&self, u: &StatusUpdate) -> Result<Submitted, StatusError> {
        let known = match (&u.tracking, &u.id) {
            (Some(t), _) => self.store.get(t)?.is_some(),
            (None, Some(id)) => self.store.tracking_of(id)?.is_some(),
            _ => false,
        };
        if !known {
            // Not counted here: over AMQP it is retried (the routed copy may
            // be on its way); the HTTP handler counts its 403.
            return Ok(Submitted::Unknown);
        }
        let reroute = |c: &Complaint, ex: &[String]| (self.reroute)(c, ex);
        let notify = |r: &Record, p: &Plan| self.notices(r, p);
        match self.store.apply_update(u, &reroute, &notify).await? {
            Outcome::Applied { tracking, stage } => {
                self.counters.applied(&u.agency, false);
                if u.status == UpdateStatus::BukanWewenang {
                    self.counters.rerouted.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("pintu_status_rerouted_total").increment(1);
                }
                if stage == Stage::Selesai {
                    super::citizen::remember_awaiting(self, &tracking);
                }
                Ok(Submitted::Applied { tracking, stage })
            }
            Outcome::Duplicate { tracking } => {
                self.counters.applied(&u.agency, true);
                Ok(Submitted::Duplicate { tracking })
            }
            Outcome::Forbidden => {
                self.counters.forbidden(&u.agency);
                Ok(Submitted::Forbidden)
            }
        }
    }
}
