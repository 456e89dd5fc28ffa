//! A list of broker endpoints (`amqp.url` then `amqp.urls`): connect to the
//! first that answers, and after a lost connection start at the next one.
//!
//! Every component that holds a broker connection (relay, router worker,
//! status and SLA consumers, reply sender, node session, ops) connects through
//! [`connect`], and reconnects through it with its own backoff after a loss:
//! one pass over the endpoints per attempt, so the backoff paces whole passes.

use std::fmt;

use lapin::{Connection, ConnectionStatus};
use parking_lot::Mutex;
use tracing::{info, warn};

use super::{connect_url, AmqpConfig};

/// The endpoint handed out last and its connection's status (lapin updates
/// it in place), shared by the clones of one [`AmqpConfig`].
#[derive(Default)]
pub struct Failover {
    last: Mutex<Option<(usize, ConnectionStatus)>>,
}

impl fmt::Debug for Failover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.last.lock().as_ref().map(|(i, s)| (*i, s.connected()));
        f.debug_struct("Failover").field("last", &last).finish()
    }
}

/// Where a pass over `n` endpoints starts: at the one that answered last
/// while its connection is up (another component's reconnect joins it), at
/// the one after it once that connection is gone, round-robin.
pub fn start_index(last: Option<(usize, bool)>, n: usize) -> usize {
    match last {
        _ if n == 0 => 0,
        None => 0,
        Some((i, true)) => i % n,
        Some((i, false)) => (i + 1) % n,
    }
}

/// The order of one pass: every endpoint once, from `start`, wrapping.
pub fn pass(start: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| (start + k) % n.max(1))
}

/// Connect to the first endpoint of `amqp` that answers, starting where
/// [`start_index`] says; the last endpoint's error when none does.
pub async fn connect(amqp: &AmqpConfig, name: &str) -> Result<Connection, lapin::Error> {
    let endpoints = amqp.endpoints();
    let n = endpoints.len();
    let start = {
        let last = amqp.failover.last.lock();
        start_index(last.as_ref().map(|(i, s)| (*i, s.connected())), n)
    };
    let mut last_err = None;
    for i in pass(start, n) {
        match connect_url(endpoints[i].expose(), name).await {
            Ok(conn) => {
                if n > 1 {
                    // The index, not the URL: the URL carries the password.
                    info!(endpoint = i, of = n, connection = name, "broker: connected");
                }
                *amqp.failover.last.lock() = Some((i, conn.status().clone()));
                return Ok(conn);
            }
            Err(e) => {
                if n > 1 {
                    warn!(endpoint = i, of = n, connection = name, error = %e, "broker: endpoint did not answer, trying the next");
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| {
        lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no broker endpoint configured",
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(last: Option<(usize, bool)>, n: usize) -> Vec<usize> {
        pass(start_index(last, n), n).collect()
    }

    #[test]
    fn first_connect_tries_the_endpoints_in_the_order_written() {
        assert_eq!(order(None, 3), [0, 1, 2]);
        assert_eq!(order(None, 1), [0]);
    }

    #[test]
    fn a_live_endpoint_is_tried_first_by_the_next_component() {
        assert_eq!(order(Some((1, true)), 3), [1, 2, 0]);
    }

    #[test]
    fn after_a_lost_connection_the_next_endpoint_comes_first_round_robin() {
        assert_eq!(order(Some((0, false)), 3), [1, 2, 0]);
        assert_eq!(order(Some((2, false)), 3), [0, 1, 2]);
        // One endpoint: it is retried, there is nowhere else to go.
        assert_eq!(order(Some((0, false)), 1), [0]);
    }

    #[test]
    fn a_shorter_list_after_a_reload_stays_in_range() {
        assert_eq!(order(Some((4, true)), 3), [1, 2, 0]);
        assert_eq!(order(Some((4, false)), 2), [1, 0]);
        assert!(order(None, 0).is_empty());
    }

    #[test]
    fn endpoints_are_url_then_urls_each_once() {
        use pintu_channels::Secret;
        let cfg: AmqpConfig = toml::from_str(
            r#"url = "amqp://a/%2f"
               urls = ["amqp://b/%2f", "amqp://a/%2f", "amqp://c/%2f"]"#,
        )
        .unwrap();
        let got: Vec<&str> = cfg.endpoints().into_iter().map(Secret::expose).collect();
        assert_eq!(got, ["amqp://a/%2f", "amqp://b/%2f", "amqp://c/%2f"]);
    }
}
