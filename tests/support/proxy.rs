//! A TCP proxy of the test's own to the local RabbitMQ that can go down:
//! an outage of one gateway's broker that leaves the other tests on the
//! same RabbitMQ undisturbed (stopping RabbitMQ itself did, and its restart
//! under load could outlast a test's patience).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// While down, every open connection is reset and new ones are refused
/// (closed at once, before any AMQP handshake), as when a broker node stops.
pub struct BrokerProxy {
    pub port: u16,
    carried: Arc<AtomicUsize>,
    down: watch::Sender<bool>,
}

impl BrokerProxy {
    /// A proxy that is up.
    pub async fn start() -> BrokerProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let (down, watch) = watch::channel(false);
        let carried = Arc::new(AtomicUsize::new(0));
        let count = carried.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *watch.borrow() {
                    drop(client);
                    continue;
                }
                count.fetch_add(1, Ordering::SeqCst);
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect("127.0.0.1:5672").await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        // Going down drops both sockets: the gateway sees its
                        // connection reset, as when the broker stops.
                        _ = watch.wait_for(|d| *d) => {}
                    }
                });
            }
        });
        BrokerProxy { port, carried, down }
    }

    /// The AMQP URL through this proxy.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Connections carried so far.
    pub fn carried(&self) -> usize {
        self.carried.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }

    /// Down for good, as when a broker node stops.
    pub fn cut(&self) {
        self.set_down(true);
    }
}
