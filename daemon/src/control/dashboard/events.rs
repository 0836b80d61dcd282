//! `GET /events`: server-sent events with the live numbers the pages draw
//! (transfer per peer, requests and errors per route). One shared ticker
//! asks the data plane for the status once a second and broadcasts the
//! event to every open stream; it runs only while a stream is open, so an
//! unwatched dashboard costs the data plane nothing.
//!
//! The stream starts with `retry: 3000`, then one `data: <json>` a second:
//! `{"t": unix ms, "peers": {"<name>": {"rx", "tx", "hs", "endpoint"}},
//! "routes": [{"requests", "errors"}]}` (routes in `/status` order; `hs`
//! is seconds since the latest handshake or null).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use super::{DaemonLink, DashboardStats};

pub(crate) const EVERY: Duration = Duration::from_secs(1);
/// Events a slow stream may fall behind before it skips to the newest.
const BACKLOG: usize = 4;
pub(crate) const PREAMBLE: &str = "retry: 3000\n\n";

/// The ticker and its subscribers.
pub(crate) struct Hub {
    tx: broadcast::Sender<Bytes>,
    ticking: Cell<bool>,
    daemon: Rc<dyn DaemonLink>,
}

impl Hub {
    pub(crate) fn new(daemon: Rc<dyn DaemonLink>) -> Hub {
        Hub {
            tx: broadcast::channel(BACKLOG).0,
            ticking: Cell::new(false),
            daemon,
        }
    }

    /// A new stream's receiver; starts the ticker if it is not running.
    pub(crate) fn subscribe(self: &Rc<Self>) -> broadcast::Receiver<Bytes> {
        let rx = self.tx.subscribe();
        if !self.ticking.replace(true) {
            tokio::task::spawn_local(self.clone().tick());
        }
        rx
    }

    /// Once a second while anyone listens: the status, as one event.
    async fn tick(self: Rc<Self>) {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            if self.tx.receiver_count() == 0 {
                break;
            }
            if let Some(status) = self.daemon.status().await {
                let _ = self.tx.send(Bytes::from(frame(&status, unix_ms())));
            }
        }
        // No await since the count was seen to be zero: a subscriber that
        // came after it finds the ticker stopped and starts another.
        self.ticking.set(false);
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The event for `status` at `t` (unix ms), framed as `data: …\n\n`.
pub(crate) fn frame(status: &Value, t: u64) -> String {
    format!("data: {}\n\n", event(status, t))
}

/// The event's JSON: missing fields are `0` or `null`, never an error.
pub(crate) fn event(status: &Value, t: u64) -> Value {
    let mut peers = Map::new();
    for p in status["peers"].as_array().into_iter().flatten() {
        let Some(name) = p["name"].as_str() else {
            continue;
        };
        peers.insert(
            name.to_string(),
            json!({
                "rx": p["rx_bytes"].as_u64().unwrap_or(0),
                "tx": p["tx_bytes"].as_u64().unwrap_or(0),
                "hs": p["latest_handshake_secs"].as_u64(),
                "endpoint": p["endpoint"].as_str(),
            }),
        );
    }
    let routes: Vec<Value> = status["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            // Responses by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
            let classes = r["stats"]["requests"].as_array();
            let class = |i: usize| classes.and_then(|c| c.get(i)?.as_u64()).unwrap_or(0);
            let total: u64 = (0..5).map(class).fold(0, u64::saturating_add);
            json!({"requests": total, "errors": class(4)})
        })
        .collect();
    json!({"t": t, "peers": peers, "routes": routes})
}

/// One open stream, counted in the gauge while it lives.
pub(crate) struct StreamSlot(Arc<DashboardStats>);

impl StreamSlot {
    pub(crate) fn take(stats: &Arc<DashboardStats>) -> StreamSlot {
        stats.event_streams.fetch_add(1, Ordering::Relaxed);
        StreamSlot(stats.clone())
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.event_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The bytes of one stream: the preamble, then each event; ends when the
/// hub is gone. Holds `slot` until the client goes away (hyper drops the
/// body).
pub(crate) fn stream(
    rx: broadcast::Receiver<Bytes>,
    slot: StreamSlot,
) -> impl futures_util::Stream<Item = Bytes> {
    futures_util::stream::unfold(
        (Some(Bytes::from_static(PREAMBLE.as_bytes())), rx, slot),
        |(first, mut rx, slot)| async move {
            if let Some(b) = first {
                return Some((b, (None, rx, slot)));
            }
            loop {
                match rx.recv().await {
                    Ok(b) => return Some((b, (None, rx, slot))),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    )
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
