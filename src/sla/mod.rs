//! Working-day deadlines (SLA): every routed complaint has a clock; before it
//! runs out the agency is reminded, when it runs out an `overdue` event goes
//! to `<prefix>.sla` and escalation copies to the configured targets. The
//! clock never moves a complaint away from its agency. See docs/sla.md.
//!
//! Layers, bottom up: [`zone`] and [`calendar`] (data), [`workdays`]
//! (arithmetic), [`config`] (the `[sla]` section), [`deadlines`] (state transitions),
//! [`index`] (sled), [`escalate`] (what a due timer says), [`engine`]
//! (the clock without the broker), [`worker`] (with it), [`summary`] (ops).

mod aggregate;
pub mod calendar;
mod clock;
pub(crate) mod config;
pub mod deadlines;
mod engine;
mod escalate;
mod event;
pub mod index;
pub mod workdays;
mod zone;

use clock::SystemClock;
pub use clock::{Clock, ManualClock};
pub use config::{SlaConfig, Stage};
pub use engine::{Engine, SlaError};
pub use event::{SlaEvent, SlaKind, StageEvent, StageKind};
pub mod report;
pub(crate) mod status;
mod summary;
pub mod worker;

/// `pintu check`: the calendar files and the `[sla]` policy load; warnings
/// for this year and the next when their days are provisional or missing.
pub fn check(cfg: &crate::config::Config) -> Result<Vec<String>, SlaError> {
    use chrono::Datelike;
    if !cfg.sla.enabled && !cfg.resolve(&cfg.sla.calendar).exists() {
        return Ok(Vec::new());
    }
    let planner = Engine::load_planner(&cfg.sla, &cfg.base_dir)?;
    let year = chrono::Utc::now().year();
    Ok(planner.time.calendar.warnings(&[year, year + 1]))
}
pub(crate) mod http;

/// Start the clock inside `serve` when `sla.enabled`: its own sled database
/// in `<data_dir>/sla`, the system clock.
pub fn start(
    cfg: &crate::config::Config,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<Option<(worker::SlaHandle, tokio::task::JoinHandle<()>)>, SlaError> {
    if !cfg.sla.enabled {
        return Ok(None);
    }
    let planner = Engine::load_planner(&cfg.sla, &cfg.base_dir)?;
    let index = index::SlaIndex::open(&cfg.data_dir.join("sla"))?;
    let engine = Engine::new(planner, index, std::sync::Arc::new(SystemClock));
    let handle = worker::SlaHandle::new(engine);
    let task = tokio::spawn(worker::run(cfg.clone(), handle.clone(), shutdown));
    Ok(Some((handle, task)))
}
