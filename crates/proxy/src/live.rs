//! [`LiveProxy`]: the route table that a reload swaps under connections
//! that stay open.
//!
//! Every request reads the table current when it arrives, so an added or
//! removed route applies to keep-alive and HTTP/2 connections opened before
//! the reload too; a request already in flight finishes on the table it
//! started with. Reading costs one atomic load per request: each
//! connection caches the table with its version and takes the lock only
//! when the version moved.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http::Request;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::conn::ConnState;
use crate::proxy::{Proxy, ProxyHandler};
use crate::redirect::{serve_redirect_draining, Http01Responder};
use crate::server::{serve_connection, Handler, HandlerFuture};
use crate::spec::ConnInfo;

/// The current [`Proxy`] of a process, shared by every thread that serves
/// connections, and the process's drain signal.
#[derive(Debug)]
pub struct LiveProxy {
    version: AtomicU64,
    current: Mutex<Arc<Proxy>>,
    drain: watch::Sender<bool>,
}

impl LiveProxy {
    pub fn new(proxy: Arc<Proxy>) -> Arc<LiveProxy> {
        Arc::new(LiveProxy {
            version: AtomicU64::new(0),
            current: Mutex::new(proxy),
            drain: watch::Sender::new(false),
        })
    }

    /// Makes `proxy` the table for every request from now on. Start its
    /// health checks first ([`Proxy::start_health_checks`]); the previous
    /// table's stop when its last request is done.
    pub fn replace(&self, proxy: Arc<Proxy>) {
        let mut current = self.lock();
        *current = proxy;
        // Under the lock: a reader that sees the new version finds the new table.
        self.version.fetch_add(1, Ordering::Release);
    }

    pub fn current(&self) -> Arc<Proxy> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Arc<Proxy>> {
        // Every critical section is a single pointer store or clone.
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shutdown: every connection served through this finishes the requests
    /// it has in flight and closes; idle ones close now. Irreversible.
    pub fn drain(&self) {
        self.drain.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.drain.borrow()
    }

    /// Serves one connection with the current table, like [`Proxy::serve`].
    pub async fn serve<IO>(self: Arc<Self>, io: IO, conn: ConnInfo)
    where
        IO: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let drain = self.drain.subscribe();
        let version = self.version.load(Ordering::Acquire);
        let proxy = self.current();
        let opts = proxy.table.opts.clone();
        let stats = proxy.table.stats.clone();
        let handler = LiveHandler {
            live: self,
            cached: RefCell::new((version, ProxyHandler(proxy))),
        };
        serve_connection(io, conn, opts, Rc::new(handler), Some(drain), stats).await;
    }

    /// Serves a plain-HTTP redirect connection ([`crate::serve_redirect`],
    /// answering HTTP-01 challenges through `http01`) that also closes on
    /// drain.
    pub async fn serve_redirect<IO>(&self, io: IO, conn: ConnInfo, http01: Option<Http01Responder>)
    where
        IO: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let stats = self.current().stats().clone();
        serve_redirect_draining(io, conn, Some(self.drain.subscribe()), http01, stats).await;
    }
}

/// One connection's view of a [`LiveProxy`].
struct LiveHandler {
    live: Arc<LiveProxy>,
    cached: RefCell<(u64, ProxyHandler)>,
}

impl Handler for LiveHandler {
    fn handle(&self, req: Request<Incoming>, conn: Rc<ConnState>) -> HandlerFuture {
        let version = self.live.version.load(Ordering::Acquire);
        let mut cached = self.cached.borrow_mut();
        if cached.0 != version {
            *cached = (version, ProxyHandler(self.live.current()));
        }
        cached.1.handle(req, conn)
    }
}
