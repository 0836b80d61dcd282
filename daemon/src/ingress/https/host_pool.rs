//! The host entrypoints' threads: one event loop per core, each with its
//! own SO_REUSEPORT socket per address, so the kernel spreads connections
//! and nothing is handed between threads.
//!
//! Threads start with the first host entrypoint and then live as long as
//! the process. A reload binds the sockets of new addresses first (so
//! "address in use" rejects the reload before anything changes), then
//! hands one to each thread; removed addresses stop accepting while the
//! connections they accepted carry on.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wingress_sync::lock;
use wingress_sync::LiveReader;

use crate::ingress::https::{HttpsGen, HttpsService};

enum HostCmd {
    Listen(SocketAddr, std::net::TcpListener),
    Close(SocketAddr),
}

#[derive(Default)]
struct Pool {
    threads: Vec<mpsc::UnboundedSender<HostCmd>>,
    listening: BTreeSet<SocketAddr>,
}

/// The host entrypoints' threads and the addresses they listen on. It
/// serves an [`HttpsService`] (which does not know it), and is held beside
/// it by the control plane.
pub(crate) struct HostPool {
    size: usize,
    pool: Mutex<Pool>,
}

/// The sockets of one address, one per thread, bound but not yet serving.
pub(crate) struct BoundAddr {
    pub(crate) addr: SocketAddr,
    sockets: Vec<std::net::TcpListener>,
}

impl HostPool {
    pub(crate) fn new() -> Self {
        HostPool {
            size: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pool: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        lock(&self.pool)
    }

    /// Addresses being accepted on now.
    pub(crate) fn listening(&self) -> BTreeSet<SocketAddr> {
        self.lock().listening.clone()
    }

    /// Binds one socket per thread on `addr`; an address in use is an error.
    pub(crate) fn bind(&self, addr: SocketAddr, entrypoint: &str) -> Result<BoundAddr> {
        let sockets = (0..self.size)
            .map(|_| listen_reuseport(addr))
            .collect::<std::io::Result<Vec<_>>>()
            .with_context(|| format!("entrypoint {entrypoint}: cannot listen on {addr}"))?;
        Ok(BoundAddr { addr, sockets })
    }

    /// Starts accepting on sockets from [`HostPool::bind`].
    pub(crate) fn open(&self, service: &Arc<HttpsService>, bound: BoundAddr) {
        let mut pool = self.lock();
        if pool.threads.is_empty() {
            pool.threads = (0..self.size)
                .filter_map(|i| spawn_thread(i, service.clone()))
                .collect();
        }
        let mut sockets = bound.sockets.into_iter();
        for thread in &pool.threads {
            if let Some(socket) = sockets.next() {
                let _ = thread.send(HostCmd::Listen(bound.addr, socket));
            }
        }
        pool.listening.insert(bound.addr);
        tracing::info!(address = %bound.addr, "host entrypoint listening");
    }

    /// Stops accepting on `addr`; accepted connections carry on.
    pub(crate) fn close(&self, addr: SocketAddr) {
        let mut pool = self.lock();
        for thread in &pool.threads {
            let _ = thread.send(HostCmd::Close(addr));
        }
        if pool.listening.remove(&addr) {
            tracing::info!(address = %addr, "host entrypoint closed");
        }
    }

    pub(crate) fn close_all(&self) {
        for addr in self.listening() {
            self.close(addr);
        }
    }
}

fn spawn_thread(i: usize, service: Arc<HttpsService>) -> Option<mpsc::UnboundedSender<HostCmd>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name(format!("wingress-http-{i}"))
        .spawn(move || host_thread(service, rx));
    match spawned {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a host entrypoint thread");
            None
        }
    }
}

fn host_thread(service: Arc<HttpsService>, mut commands: mpsc::UnboundedReceiver<HostCmd>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a host entrypoint runtime");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let reader = Rc::new(RefCell::new(service.current.reader()));
        let mut accepting: HashMap<SocketAddr, tokio::task::JoinHandle<()>> = HashMap::new();
        while let Some(cmd) = commands.recv().await {
            match cmd {
                HostCmd::Listen(addr, socket) => match TcpListener::from_std(socket) {
                    Ok(listener) => {
                        let task = accept_loop(service.clone(), reader.clone(), addr, listener);
                        if let Some(old) = accepting.insert(addr, tokio::task::spawn_local(task)) {
                            old.abort();
                        }
                    }
                    Err(e) => {
                        tracing::warn!(address = %addr, error = %e, "cannot register listener")
                    }
                },
                // Dropping the accept task closes this thread's socket.
                HostCmd::Close(addr) => {
                    if let Some(task) = accepting.remove(&addr) {
                        task.abort();
                    }
                }
            }
        }
        // The pool is gone: the process is exiting. Connections in flight
        // may still finish.
        std::future::pending::<()>().await;
    });
}

async fn accept_loop(
    service: Arc<HttpsService>,
    reader: Rc<RefCell<LiveReader<HttpsGen>>>,
    addr: SocketAddr,
    listener: TcpListener,
) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                let gen = reader.borrow_mut().get().clone();
                match gen.host_entrypoint(addr) {
                    Some(ep) => {
                        let ep = ep.clone();
                        service.serve(gen, stream, remote, &ep, None);
                    }
                    // Removed by a reload whose close has not arrived yet.
                    None => drop(stream),
                }
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(address = %addr, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A listening socket that other threads may bind too (SO_REUSEPORT): the
/// kernel spreads new connections across them.
fn listen_reuseport(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // "[::]:443" means IPv6 only; a separate entrypoint serves IPv4.
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}
