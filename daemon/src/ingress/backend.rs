//! Backend addresses: IP literals as given; host names (cluster Service
//! names) resolved at start and re-resolved periodically, because the
//! addresses behind them change.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::net::TcpStream;
use wingress_config::Backend;

const RERESOLVE: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A backend's current addresses, shared by the tasks that use it.
#[derive(Clone)]
pub(crate) struct Addrs {
    name: Rc<str>,
    addrs: Rc<RefCell<Vec<SocketAddr>>>,
}

impl Addrs {
    /// Starts resolving `backend` (on the current `LocalSet`).
    pub(crate) fn new(backend: &Backend) -> Self {
        let name: Rc<str> = Rc::from(backend.to_string());
        let literal = backend
            .host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .ok();
        let addrs = Rc::new(RefCell::new(Vec::new()));
        if let Some(ip) = literal {
            addrs.borrow_mut().push(SocketAddr::new(ip, backend.port));
        } else {
            let (host, port) = (backend.host.clone(), backend.port);
            let cell = Rc::downgrade(&addrs);
            tokio::task::spawn_local(async move {
                loop {
                    let Some(cell) = cell.upgrade() else { return };
                    match tokio::net::lookup_host((host.as_str(), port)).await {
                        Ok(found) => {
                            let found: Vec<SocketAddr> = found.collect();
                            if *cell.borrow() != found {
                                tracing::debug!(backend = %host, addrs = ?found, "backend resolved");
                            }
                            *cell.borrow_mut() = found;
                        }
                        Err(e) => {
                            tracing::warn!(backend = %host, error = %e, "cannot resolve backend")
                        }
                    }
                    drop(cell);
                    tokio::time::sleep(RERESOLVE).await;
                }
            });
        }
        Self { name, addrs }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn first(&self) -> Option<SocketAddr> {
        self.addrs.borrow().first().copied()
    }

    /// Connects to the first address that answers.
    pub(crate) async fn connect(&self) -> std::io::Result<TcpStream> {
        let list = self.addrs.borrow().clone();
        let mut last =
            std::io::Error::new(std::io::ErrorKind::NotFound, "backend has no address (yet)");
        for a in list {
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(a)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = e,
                Err(_) => {
                    last = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "backend connect timed out",
                    )
                }
            }
        }
        Err(last)
    }
}
