//! The node's reservation agent: reserves the next block before intake runs
//! out, announces, listens to the other nodes, and reconnects (claiming the
//! id again) after the broker went away.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, info_span, warn, Instrument};

use super::announce::Announce;
use super::session::Session;
use super::NodeError;
use crate::broker::AmqpConfig;
use crate::store::codes::Issuer;
use crate::store::reservation::{next_ceiling, resume_point, store_known};
use crate::store::Store;
use crate::tracking::{NODES, PER_NODE};

/// How often a node repeats its reservation, with what it heard of the
/// others: how long a new node takes to learn the cluster's codes.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(30);

/// How long a start waits for the broker before reserving locally.
const START_WAIT: Duration = Duration::from_secs(5);

/// How long a start retries a claim refused as in use: a gateway that was
/// just stopped or killed on this host has its connection closed by the
/// broker within moments, not at once.
const CLAIM_WAIT: Duration = Duration::from_secs(5);

/// Pause between attempts to reach the broker (and to confirm) when away.
const RETRY_EVERY: Duration = Duration::from_secs(2);

pub struct Agent {
    amqp: Arc<AmqpConfig>,
    store: Store,
    issuer: Arc<Issuer>,
    node: u8,
    session: Option<Session>,
    /// The stored ceiling is not yet confirmed by the broker.
    unconfirmed: bool,
    /// A store without history started without the broker: nothing is
    /// issued until the broker has been asked (see [`Agent::await_broker`]).
    awaiting_first: bool,
}

impl Agent {
    pub fn new(amqp: Arc<AmqpConfig>, store: Store) -> Agent {
        let issuer = store.codes.clone();
        Agent {
            amqp,
            node: issuer.node(),
            issuer,
            store,
            session: None,
            unconfirmed: false,
            awaiting_first: false,
        }
    }

    /// Connect and claim the id, retrying a claim in use for [`CLAIM_WAIT`].
    pub async fn claim_at_start(&mut self) -> Result<(), NodeError> {
        let deadline = tokio::time::Instant::now() + CLAIM_WAIT;
        loop {
            let attempt = tokio::time::timeout(START_WAIT, Session::open(&self.amqp, self.node)).await;
            match attempt {
                Ok(Ok(s)) => {
                    self.session = Some(s);
                    return Ok(());
                }
                Ok(Err(NodeError::InUse { .. })) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Ok(Err(e)) => {
                    if matches!(e, NodeError::InUse { .. }) {
                        metrics::counter!("pintu_node_claim_refused_total").increment(1);
                    }
                    return Err(e);
                }
                Err(_) => return Err(NodeError::Timeout(START_WAIT)),
            }
        }
    }

    /// Start with the broker: resume above its ceiling, reserve, confirm.
    pub async fn begin_confirmed(&mut self) -> Result<(), NodeError> {
        let Some(s) = &self.session else {
            return self.begin_local().await;
        };
        let back = s.read_back().await?;
        let broker = match &back {
            Some(a) => {
                self.check_key(a)?;
                self.hear(a);
                a.ceiling_of(self.node)
            }
            None => 0,
        };
        let from = resume_point(self.issuer.next(), self.issuer.reserved(), Some(broker));
        info!(
            node = self.node,
            from,
            broker,
            stored = self.issuer.reserved(),
            "tracking codes: resuming"
        );
        self.issuer.manage(from);
        self.extend().await
    }

    /// Start without the broker: a local reservation, a gap above the store.
    pub async fn begin_local(&mut self) -> Result<(), NodeError> {
        let from = resume_point(self.issuer.next(), self.issuer.reserved(), None);
        warn!(
            node = self.node,
            from,
            "tracking codes: the broker's reservation could not be read; skipping ahead and reserving locally \
             (a node restored from a snapshot must not start without the broker, docs/scale-out.md)"
        );
        self.issuer.manage(from);
        self.extend().await
    }

    /// Start without the broker on a store that never issued a code: it may
    /// be a node replacing a lost one, whose codes only the broker knows, so
    /// nothing is issued (intake answers 503) until the broker was asked.
    pub fn await_broker(&mut self) {
        warn!(
            node = self.node,
            "tracking codes: a new store cannot tell which codes this node id issued before; \
             issuing none until the broker answers"
        );
        self.issuer.manage(0);
        self.awaiting_first = true;
    }

    /// Reserve the next block: stored and flushed first, then confirmed by
    /// the broker when it is there, then granted to intake.
    async fn extend(&mut self) -> Result<(), NodeError> {
        let from = self.issuer.reserved().max(self.issuer.next());
        let ceiling = next_ceiling(from);
        self.store.reserve_locally(ceiling).await?;
        self.confirm().await;
        self.issuer.grant(ceiling);
        metrics::gauge!("pintu_tracking_ceiling").set(ceiling as f64);
        Ok(())
    }

    /// Tell the broker the stored ceiling; on failure drop the session.
    async fn confirm(&mut self) {
        let Some(s) = &self.session else {
            self.set_unconfirmed(true);
            return;
        };
        let a = Announce::new(
            self.node,
            self.issuer.key_id(),
            self.issuer.reserved(),
            self.issuer.known(),
        );
        match s.publish(&a).await {
            Ok(()) => self.set_unconfirmed(false),
            Err(e) => {
                warn!(error = %e, "tracking codes: reservation not confirmed; reserving locally until the broker is back");
                self.set_unconfirmed(true);
                self.drop_session().await;
            }
        }
    }

    fn set_unconfirmed(&mut self, v: bool) {
        self.unconfirmed = v;
        metrics::gauge!("pintu_tracking_unconfirmed").set(if v { 1.0 } else { 0.0 });
    }

    pub async fn drop_session(&mut self) {
        if let Some(s) = self.session.take() {
            s.close().await;
        }
    }

    fn check_key(&self, a: &Announce) -> Result<(), NodeError> {
        let ours = hex::encode(self.issuer.key_id());
        if a.key_id != ours {
            return Err(NodeError::KeyMismatch {
                id: self.node,
                broker: a.key_id.clone(),
                ours,
                queue: super::codes_queue(&self.amqp.prefix, self.node),
            });
        }
        Ok(())
    }

    /// Learn the ceilings of an announcement (its own node's and what it
    /// heard); an announced ceiling of *this* node above what this store
    /// reserved means the store is older than the node's history.
    fn hear(&mut self, a: &Announce) -> bool {
        let mut news = false;
        for id in 0..NODES as u8 {
            let c = a.ceiling_of(id);
            if id == self.node {
                if c > self.issuer.reserved() && c > self.issuer.next() {
                    self.behind(c);
                }
            } else {
                news |= self.issuer.learn(id, c);
            }
        }
        if news {
            if let Err(e) = store_known(&self.store.meta, &self.issuer.known()) {
                warn!(error = %e, "could not store the other nodes' ceilings");
            }
        }
        news
    }

    /// The cluster knows a higher ceiling of this node than its store: skip
    /// above it. Codes issued since this start below it may repeat some the
    /// node issued before (its store was restored while the broker was away).
    fn behind(&mut self, ceiling: u64) {
        if self.issuer.ceiling().is_some() && !self.awaiting_first {
            error!(
                node = self.node,
                stored = self.issuer.reserved(),
                next = self.issuer.next(),
                cluster = ceiling,
                "tracking codes: this node's store is behind what the cluster knows of it \
                 (restored from a snapshot without the broker?); codes issued since the start \
                 may repeat earlier ones; skipping ahead"
            );
            metrics::counter!("pintu_tracking_behind_total").increment(1);
        }
        self.issuer.skip_to(ceiling);
    }

    /// Reserve, announce and listen until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let span = info_span!("node", id = self.node);
        async move {
            let mut announce = tokio::time::interval(ANNOUNCE_EVERY);
            announce.tick().await;
            let mut retry = tokio::time::interval(RETRY_EVERY);
            retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Connecting runs beside the loop: a broker that does not answer
            // must not keep the next block from being reserved.
            let mut connecting: Option<JoinHandle<Result<Session, NodeError>>> = None;
            loop {
                // (Nothing more to reserve once the id's codes are all reserved.)
                if !self.awaiting_first && self.issuer.running_low() && self.issuer.reserved() < PER_NODE {
                    if let Err(e) = self.extend().await {
                        warn!(error = %e, "tracking codes: could not reserve the next block");
                        tokio::select! {
                            _ = shutdown.cancelled() => break,
                            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        }
                    }
                    continue;
                }
                let away = self.session.is_none() || self.unconfirmed;
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = self.issuer.wanted() => {}
                    d = next_peer(&mut self.session) => match d {
                        Some(body) => self.on_peer(&body),
                        None => {
                            warn!("node: broker connection lost; reserving locally until it is back");
                            self.drop_session().await;
                        }
                    },
                    _ = announce.tick() => if self.session.is_some() { self.confirm().await },
                    _ = retry.tick(), if away && connecting.is_none() => {
                        if self.session.is_some() {
                            self.confirm().await;
                        } else {
                            let amqp = self.amqp.clone();
                            let node = self.node;
                            connecting = Some(tokio::spawn(async move {
                                match tokio::time::timeout(START_WAIT, Session::open(&amqp, node)).await {
                                    Ok(r) => r,
                                    Err(_) => Err(NodeError::Timeout(START_WAIT)),
                                }
                            }));
                        }
                    }
                    r = joined(&mut connecting) => {
                        connecting = None;
                        self.reconnected(r).await;
                    }
                }
            }
            if let Some(c) = connecting {
                c.abort();
                if let Ok(Ok(s)) = c.await {
                    s.close().await;
                }
            }
            self.drop_session().await;
        }
        .instrument(span)
        .await
    }

    fn on_peer(&mut self, body: &[u8]) {
        let a = match Announce::decode(body) {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "node: not an announcement; ignored");
                return;
            }
        };
        if a.node == self.node {
            return;
        }
        if a.key_id != hex::encode(self.issuer.key_id()) {
            error!(
                peer = a.node,
                "node: another node issues tracking codes with a different key; its codes can collide \
                 with ours and are not linked (set the same node.tracking_key everywhere)"
            );
            metrics::counter!("pintu_node_key_mismatch_total").increment(1);
            return;
        }
        self.hear(&a);
    }

    /// Back after the broker was away: the id claimed again (or refused),
    /// the reservation read back, the store caught up.
    async fn reconnected(&mut self, attempt: Result<Session, NodeError>) {
        match attempt {
            Ok(s) => self.session = Some(s),
            Err(e @ NodeError::InUse { .. }) => {
                error!(error = %e, "node: not issuing tracking codes while another gateway holds this id");
                metrics::counter!("pintu_node_claim_refused_total").increment(1);
                self.issuer.block(Some(e.to_string()));
                return;
            }
            Err(_) => return,
        }
        if self.awaiting_first {
            match self.begin_confirmed().await {
                Ok(()) => {
                    self.awaiting_first = false;
                    info!("node: broker answered; issuing tracking codes");
                }
                Err(e) => {
                    warn!(error = %e, "node: cannot start issuing yet");
                    if let NodeError::KeyMismatch { .. } = e {
                        self.issuer.block(Some(e.to_string()));
                    }
                    self.drop_session().await;
                }
            }
            return;
        }
        let Some(s) = &self.session else { return };
        let back = match s.read_back().await {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "node: cannot read the reservation back");
                self.drop_session().await;
                return;
            }
        };
        if let Some(a) = &back {
            if let Err(e) = self.check_key(a) {
                error!(error = %e, "node: not issuing tracking codes");
                self.issuer.block(Some(e.to_string()));
                self.drop_session().await;
                return;
            }
            self.hear(a);
        }
        self.issuer.block(None);
        info!("node: id claimed again; confirming the reservation");
        // A skip above (behind) needs a block above it; otherwise confirm.
        if self.issuer.next() >= self.issuer.reserved() {
            if let Err(e) = self.extend().await {
                warn!(error = %e, "tracking codes: could not reserve the next block");
            }
        } else {
            self.confirm().await;
        }
    }
}

/// The connection attempt's outcome; pending for good when none runs.
async fn joined(connecting: &mut Option<JoinHandle<Result<Session, NodeError>>>) -> Result<Session, NodeError> {
    match connecting {
        Some(h) => match h.await {
            Ok(r) => r,
            Err(_) => Err(NodeError::Timeout(START_WAIT)),
        },
        None => std::future::pending().await,
    }
}

/// The next announcement heard; `None` when the connection is gone;
/// pending for good without a session.
async fn next_peer(session: &mut Option<Session>) -> Option<Vec<u8>> {
    match session {
        Some(s) => match s.peers.next().await {
            Some(Ok(d)) => Some(d.data),
            _ => None,
        },
        None => std::future::pending().await,
    }
}
