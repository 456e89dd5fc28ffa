//! Releasing messages held by flood control: an operator decided they are
//! real complaints (`pintu flood replay`, `POST /ops/api/flood/replay`).

use serde::{Deserialize, Serialize};

use super::{Intake, IntakeError};
use crate::store::held::{self, Held};
use crate::store::writer::{Job, Outcome};

/// What an operator asked to release.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// Complaint ids as listed; ignored with `all`.
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default)]
    pub all: bool,
    /// Also queue the acknowledgement each would have had (off by default:
    /// a flood's senders should not get one message back per message).
    #[serde(default)]
    pub ack: bool,
    /// At most this many with `all` (default 10,000).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseReport {
    /// Ids now in the outbox, on their way to the intake queue.
    pub released: Vec<String>,
    /// Ids that were not held (unknown, or released already).
    pub not_held: Vec<String>,
}

impl Intake {
    /// Move held messages to the outbox, each in one transaction of the intake
    /// writer (never in both places, never in neither), published with the
    /// `message_id` and body they were held with.
    pub async fn release(&self, req: &ReleaseRequest) -> Result<ReleaseReport, IntakeError> {
        let tree = &self.store.flood_held;
        let chosen: Vec<(String, Option<Held>)> = if req.all {
            held::list(tree, req.limit.unwrap_or(10_000))?
                .into_iter()
                .map(|(id, h)| (id, Some(h)))
                .collect()
        } else {
            let mut out = Vec::with_capacity(req.ids.len());
            for id in &req.ids {
                let held = match ulid::Ulid::from_string(id) {
                    Ok(u) => match tree.get(u.to_bytes())? {
                        Some(v) => Some(Held::decode(&v)?),
                        None => None,
                    },
                    Err(_) => None,
                };
                out.push((id.clone(), held));
            }
            out
        };
        let mut report = ReleaseReport::default();
        for (id, held) in chosen {
            let (Some(held), Ok(ulid)) = (held, ulid::Ulid::from_string(&id)) else {
                report.not_held.push(id);
                continue;
            };
            match self.writer.write(Job::release(ulid.to_bytes(), &held, req.ack)).await? {
                Outcome::Inserted => {
                    tracing::info!(complaint_id = %id, sender = %held.sender, "held message released");
                    metrics::counter!("pintu_flood_released_total").increment(1);
                    report.released.push(id);
                }
                Outcome::NotHeld | Outcome::Duplicate(_) => report.not_held.push(id),
            }
        }
        Ok(report)
    }
}
