//! In-process backends: a route whose backend lives in this process (the
//! daemon's dashboard) and is reached without a socket.
//!
//! [`in_process`] makes a connected pair. The proxy's client holds the
//! [`InProcessConnector`] (through [`crate::RouteSpec::in_process`]): each
//! new backend connection is a `tokio::io::duplex` pair, one end sent to
//! the [`InProcessListener`], HTTP/1.1 spoken over the other and pooled
//! like a TCP connection. The listener's owner serves HTTP on what
//! `accept` returns, on any thread or runtime (the streams are `Send`).
//! Once the listener is dropped, connecting fails as a refused TCP
//! connection does (the route answers 502).

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::DuplexStream;
use tokio::sync::mpsc;

/// Buffer of each direction of an in-process connection: enough for a
/// page or an event in one write, small enough that a client that stopped
/// reading holds back the writer (as a socket's buffer would).
pub const IN_PROCESS_BUFFER: usize = 64 * 1024;

/// Distinguishes connector pairs in the pool's keys, so that two pairs
/// (a test's, or a daemon's after a restart in-process) never share
/// pooled connections.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Opens connections to an [`InProcessListener`]. Cheap to clone; every
/// clone reaches the same listener.
#[derive(Clone)]
pub struct InProcessConnector {
    id: u64,
    tx: mpsc::Sender<DuplexStream>,
}

/// Receives the server ends of the connections an [`InProcessConnector`]
/// opens.
pub struct InProcessListener {
    rx: mpsc::Receiver<DuplexStream>,
}

/// A connected pair. `queue`: connections opened but not yet accepted
/// (at least 1); a connector finding the queue full waits, within its
/// route's connect timeout.
pub fn in_process(queue: usize) -> (InProcessConnector, InProcessListener) {
    let (tx, rx) = mpsc::channel(queue.max(1));
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    (InProcessConnector { id, tx }, InProcessListener { rx })
}

// === impl InProcessConnector ===

impl InProcessConnector {
    /// Identifies the pair (for the pool's keys).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether the listener is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// A new connection: the client end, its server end handed to the
    /// listener. Fails with `ConnectionRefused` when the listener is gone,
    /// `TimedOut` when its queue stays full for `timeout` (zero: no limit).
    pub(crate) async fn connect(&self, timeout: Duration) -> io::Result<DuplexStream> {
        let (client, server) = tokio::io::duplex(IN_PROCESS_BUFFER);
        let send = self.tx.send(server);
        let sent = if timeout.is_zero() {
            send.await
        } else {
            match tokio::time::timeout(timeout, send).await {
                Ok(sent) => sent,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "in-process listener queue full",
                    ))
                }
            }
        };
        match sent {
            Ok(()) => Ok(client),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "in-process listener is gone",
            )),
        }
    }
}

impl fmt::Debug for InProcessConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessConnector")
            .field("id", &self.id)
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

// === impl InProcessListener ===

impl InProcessListener {
    /// The server end of the next connection; `None` once every connector
    /// is gone.
    pub async fn accept(&mut self) -> Option<DuplexStream> {
        self.rx.recv().await
    }
}

impl fmt::Debug for InProcessListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessListener").finish_non_exhaustive()
    }
}
