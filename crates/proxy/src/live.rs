//! [`LiveProxy`]: the route table that a reload swaps under connections
//! that stay open.
//!
//! Every request reads the table current when it arrives, so an added or
//! removed route applies to keep-alive and HTTP/2 connections opened before
//! the reload too; a request already in flight finishes on the table it
//! started with. Reading costs one atomic load per request: each
//! connection holds a [`LiveReader`], which takes the lock only when the
//! version moved.
//!
//! The table lives in a [`Live<T>`], where `T` is the [`Proxy`] itself or
//! a larger generation that carries one (the daemon's routes with their
//! certificates): a reload stores that generation once, and certificates
//! and routes change together.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use http::Request;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use wingress_sync::{Live, LiveReader};

use crate::conn::ConnState;
use crate::proxy::{handle_request, Proxy};
use crate::redirect::{serve_redirect_draining, Http01Responder};
use crate::server::{serve_connection, Handler, HandlerFuture};
use crate::spec::ConnInfo;

/// The current route table of a process, shared by every thread that
/// serves connections, and the process's drain signal. `T` carries the
/// [`Proxy`] (see the module documentation).
#[derive(Debug)]
pub struct LiveProxy<T = Proxy> {
    live: Arc<Live<T>>,
    drain: watch::Sender<bool>,
}

impl LiveProxy<Proxy> {
    pub fn new(proxy: Arc<Proxy>) -> Arc<Self> {
        Self::over(Live::new(proxy))
    }
}

impl<T> LiveProxy<T>
where
    T: AsRef<Proxy> + Send + Sync + 'static,
{
    /// Serves the table of whatever `live` holds; storing into `live` is
    /// the reload.
    pub fn over(live: Arc<Live<T>>) -> Arc<Self> {
        Arc::new(LiveProxy {
            live,
            drain: watch::Sender::new(false),
        })
    }

    /// Makes `table` the table for every request from now on. Start its
    /// health checks first ([`Proxy::start_health_checks`]); the previous
    /// table's stop when its last request is done.
    pub fn replace(&self, table: Arc<T>) {
        self.live.store(table);
    }

    pub fn current(&self) -> Arc<T> {
        self.live.load()
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
        let mut reader = self.live.reader();
        let proxy = (**reader.get()).as_ref();
        let opts = proxy.table.opts.clone();
        let stats = proxy.table.stats.clone();
        let handler = LiveHandler {
            reader: RefCell::new(reader),
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
        let stats = (*self.current()).as_ref().stats().clone();
        serve_redirect_draining(io, conn, Some(self.drain.subscribe()), http01, stats).await;
    }
}

/// One connection's view of a [`LiveProxy`].
struct LiveHandler<T> {
    reader: RefCell<LiveReader<T>>,
}

impl<T> Handler for LiveHandler<T>
where
    T: AsRef<Proxy> + Send + Sync + 'static,
{
    fn handle(&self, req: Request<Incoming>, conn: Rc<ConnState>) -> HandlerFuture {
        let table = self.reader.borrow_mut().get().clone();
        handle_request(table, req, conn)
    }
}
