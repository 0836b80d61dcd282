//! Backend name resolution, cached for `dns_refresh`: cluster Service IPs
//! change, so names are looked up again once their answer is that old. IP
//! literals never reach this resolver (`pool::connect` uses them as they
//! are). Connecting tries every address a name resolves to, so one dead
//! address does not take a backend out.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use wingress_sync::lock;

/// Upper bound for one lookup, so a dead resolver cannot stall requests.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub(crate) struct CachingResolver {
    inner: Arc<Cache>,
}

#[derive(Debug)]
struct Cache {
    refresh: Duration,
    names: Mutex<HashMap<String, Cached>>,
    /// Rotates the order of multi-address answers between connections.
    next: AtomicUsize,
}

#[derive(Debug, Clone)]
struct Cached {
    addrs: Vec<SocketAddr>,
    at: Instant,
}

impl CachingResolver {
    pub(crate) fn new(refresh: Duration) -> Self {
        CachingResolver {
            inner: Arc::new(Cache {
                refresh,
                names: Mutex::new(HashMap::new()),
                next: AtomicUsize::new(0),
            }),
        }
    }

    /// The addresses of `host` (ports are the connector's business). A
    /// failed lookup falls back to the last good answer, which is then kept
    /// until the next refresh.
    pub(crate) async fn resolve(&self, host: &str) -> io::Result<Vec<SocketAddr>> {
        let now = Instant::now();
        let cache = &self.inner;
        if let Some(addrs) = cache.get(host, |c| now.duration_since(c.at) < cache.refresh) {
            return Ok(addrs);
        }
        let lookup = tokio::net::lookup_host((host, 0));
        let result = match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
            Ok(Ok(addrs)) => Ok(addrs.collect::<Vec<_>>()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "dns lookup timed out",
            )),
        };
        {
            let mut names = lock(&cache.names);
            match result {
                Ok(addrs) if !addrs.is_empty() => {
                    names.insert(host.to_owned(), Cached { addrs, at: now });
                }
                failed => match names.get_mut(host) {
                    Some(stale) => {
                        tracing::debug!(host, "dns lookup failed, keeping previous addresses");
                        stale.at = now;
                    }
                    None => {
                        return Err(failed.err().unwrap_or_else(|| {
                            io::Error::new(io::ErrorKind::NotFound, "no addresses")
                        }));
                    }
                },
            }
        }
        cache
            .get(host, |_| true)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no addresses"))
    }
}

impl Cache {
    fn get(&self, host: &str, fresh: impl Fn(&Cached) -> bool) -> Option<Vec<SocketAddr>> {
        let names = lock(&self.names);
        let cached = names.get(host).filter(|c| fresh(c))?;
        let mut addrs = cached.addrs.clone();
        let len = addrs.len();
        addrs.rotate_left(self.next.fetch_add(1, Ordering::Relaxed) % len);
        Some(addrs)
    }
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
