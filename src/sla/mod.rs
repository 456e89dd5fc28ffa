//! Working-day deadlines (SLA): every routed complaint has a clock; before it
//! runs out the agency is reminded, when it runs out an `overdue` event goes
//! to `<prefix>.sla` and escalation copies to the configured targets. The
//! clock never moves a complaint away from its agency. See docs/sla.md.
//!
//! Layers, bottom up: [`zone`] and [`calendar`] (data), [`workdays`]
//! (arithmetic), [`policy`] (config), [`deadlines`] (state transitions),
//! [`index`] (sled), [`escalate`] (what a due timer says), [`engine`]
//! (the clock without the broker), [`worker`] (with it), [`summary`] (ops).

pub mod calendar;
pub mod clock;
pub mod deadlines;
pub mod engine;
pub mod escalate;
pub mod event;
pub mod index;
pub mod policy;
pub mod workdays;
pub mod zone;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Engine, SlaError};
pub use event::{SlaEvent, SlaKind, StageEvent, StageKind};
pub use policy::{SlaConfig, Stage};
