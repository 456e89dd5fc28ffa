//! An extension point of intake for the loop back to the citizen
//! (`crate::status`): see every complaint before it is committed (to keep
//! the citizen's reply address), and take messages that are not complaints
//! (status queries, PUAS/BELUM) before one is created.

use futures_util::future::BoxFuture;
use pintu_channels::Inbound;

use crate::complaint::Complaint;

pub trait IntakeHook: Send + Sync {
    /// A whole message before it becomes a complaint; `true`: it was handled
    /// (answered) and no complaint is created. `can_reply`: a reply can reach
    /// the sender.
    fn intercept<'a>(&'a self, inbound: &'a Inbound, can_reply: bool) -> BoxFuture<'a, bool>;
    /// A complaint about to be committed. Whatever this writes to the
    /// gateway's database is flushed by the same commit.
    fn accepting(&self, complaint: &Complaint, inbound: &Inbound, can_reply: bool);
}
