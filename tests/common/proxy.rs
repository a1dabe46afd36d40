//! A TCP proxy a test can cut: what a flow reaches through it goes away (every
//! connection dropped, new ones refused) and comes back, as a broker behind a
//! network that fails.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    /// Down, and holding new connections open without an answer (as a firewall that
    /// drops packets) rather than closing them.
    holding: Arc<AtomicBool>,
    /// Bumped to drop every open connection.
    cut: watch::Sender<u64>,
}

impl Proxy {
    /// Forwards a port of its own to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let holding = Arc::new(AtomicBool::new(false));
        let (cut, cuts) = watch::channel(0u64);
        let accepting = up.clone();
        let held = holding.clone();
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !accepting.load(Ordering::SeqCst) {
                    if held.load(Ordering::SeqCst) {
                        // Held open, unanswered, until the next cut.
                        let mut cuts = cuts.clone();
                        cuts.borrow_and_update();
                        tokio::spawn(async move {
                            let _ = cuts.changed().await;
                            drop(inbound);
                        });
                    }
                    // Down: the connection is closed at once.
                    continue;
                }
                let target = target.clone();
                let mut cuts = cuts.clone();
                // Only a cut after this connection came drops it.
                cuts.borrow_and_update();
                let mut inbound = inbound;
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self {
            port,
            up,
            holding,
            cut,
        }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Down, and new connections are held open unanswered.
    pub fn hold(&self) {
        self.holding.store(true, Ordering::SeqCst);
        self.up.store(false, Ordering::SeqCst);
    }

    /// Takes connections again (those held are dropped).
    pub fn restore(&self) {
        self.holding.store(false, Ordering::SeqCst);
        self.up.store(true, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }
}
