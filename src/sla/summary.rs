//! Open and overdue complaints per agency, for `/ops`, `pintu status` and the
//! Prometheus gauges `pintu_sla_open` / `pintu_sla_overdue`.
//!
//! Recounted from the index after every tick (a scan of the open clocks, not
//! of the timers) and kept in a cell the HTTP handlers read. Gauge labels are
//! bounded: agencies listed in `sla.metric_agencies` by name, every other one
//! summed into its province (`prov-31`) or `national`, so a flood of agency
//! codes cannot blow up the metric set.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use super::deadlines::to_utc;
use super::index::{IndexError, SlaIndex};
use super::zone::province_of_agency;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgencyRow {
    pub agency: String,
    pub open: u64,
    pub overdue: u64,
    pub paused: u64,
    /// Age of the oldest missed deadline (seconds), when any.
    pub oldest_overdue_secs: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub at: Option<DateTime<Utc>>,
    pub open: u64,
    pub overdue: u64,
    pub agencies: Vec<AgencyRow>,
}

impl Summary {
    pub fn collect(index: &SlaIndex, now: DateTime<Utc>) -> Result<Summary, IndexError> {
        let mut rows: BTreeMap<String, AgencyRow> = BTreeMap::new();
        for item in index.records() {
            let (_, r) = item?;
            let row = rows.entry(r.agency.clone()).or_insert_with(|| AgencyRow {
                agency: r.agency.clone(),
                ..Default::default()
            });
            row.open += 1;
            if r.paused.is_some() {
                row.paused += 1;
            }
            if r.is_overdue() {
                row.overdue += 1;
                let age = (now - to_utc(r.due_ms)).num_seconds();
                row.oldest_overdue_secs = Some(row.oldest_overdue_secs.map_or(age, |a| a.max(age)));
            }
        }
        let agencies: Vec<AgencyRow> = rows.into_values().collect();
        Ok(Summary {
            at: Some(now),
            open: agencies.iter().map(|a| a.open).sum(),
            overdue: agencies.iter().map(|a| a.overdue).sum(),
            agencies,
        })
    }

    /// (label, open, overdue) with the bounded label set.
    pub fn gauge_rows(&self, named: &[String]) -> Vec<(String, u64, u64)> {
        let mut m: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for a in &self.agencies {
            let label = if named.iter().any(|n| n == &a.agency) {
                a.agency.clone()
            } else {
                match province_of_agency(&a.agency) {
                    Some(p) => format!("prov-{p}"),
                    None => "national".to_string(),
                }
            };
            let e = m.entry(label).or_default();
            e.0 += a.open;
            e.1 += a.overdue;
        }
        m.into_iter().map(|(k, (o, d))| (k, o, d)).collect()
    }
}

/// The last summary, shared between the clock and the HTTP handlers.
#[derive(Debug, Clone, Default)]
pub struct SummaryCell {
    last: Arc<RwLock<Summary>>,
    /// Gauge labels set before: set to 0 when their agencies have no clock
    /// any more, instead of keeping a stale figure.
    labels: Arc<Mutex<BTreeSet<String>>>,
}

impl SummaryCell {
    /// Keep `s` and set the Prometheus gauges from it.
    pub fn publish(&self, s: Summary, named: &[String]) {
        let rows = s.gauge_rows(named);
        let mut labels = self.labels.lock();
        for old in labels.iter() {
            if !rows.iter().any(|r| &r.0 == old) {
                metrics::gauge!("pintu_sla_open", "agency" => old.clone()).set(0.0);
                metrics::gauge!("pintu_sla_overdue", "agency" => old.clone()).set(0.0);
            }
        }
        labels.clear();
        for (label, open, overdue) in rows {
            metrics::gauge!("pintu_sla_open", "agency" => label.clone()).set(open as f64);
            metrics::gauge!("pintu_sla_overdue", "agency" => label.clone()).set(overdue as f64);
            labels.insert(label);
        }
        drop(labels);
        self.set(s);
    }

    pub fn set(&self, s: Summary) {
        *self.last.write() = s;
    }
    pub fn get(&self) -> Summary {
        self.last.read().clone()
    }
}
