//! The L7 entrypoints: TLS termination (wingress-tls) and HTTP routing
//! (wingress-proxy) on tunnel ports (inside the userspace stack) and on
//! host sockets. Built from the config before anything starts, so a
//! missing certificate file or CA fails start-up, not the first request.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use rustls_pki_types::{CertificateDer, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wingress_config::{self as config, EntrypointProtocol, Listen, ServerConfig};
use wingress_proxy::{
    self as proxy, BackendAddr, ClientCertCheck, ConnInfo, PeerIdentity, Proxy, ProxyOptions,
    RouteSpec, Scheme,
};
use wingress_tls::{CertStore, ClientCaVerifier, ServerTlsOptions};

/// A client gets this long to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Static certificate files are checked for changes this often.
const CERT_RELOAD_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Entrypoint {
    name: Arc<str>,
    protocol: EntrypointProtocol,
}

/// Everything the L7 entrypoints share: the data-plane thread serves the
/// tunnel entrypoints, and one event-loop thread per core serves the host
/// entrypoints (each with its own SO_REUSEPORT socket, so the kernel spreads
/// connections and nothing is handed between threads).
pub struct Https {
    proxy: Arc<Proxy>,
    acceptor: TlsAcceptor,
    store: Arc<CertStore>,
    tunnel: HashMap<u16, Entrypoint>,
    host: Vec<(Entrypoint, SocketAddr)>,
}

impl Https {
    /// `None` when the config has no entrypoints (and no routes).
    pub fn build(cfg: &ServerConfig) -> Result<Option<Arc<Self>>> {
        let entrypoints = cfg.effective_entrypoints();
        if entrypoints.is_empty() {
            return Ok(None);
        }
        let static_certs: Vec<_> = cfg
            .tls
            .certificates
            .iter()
            .map(|c| (c.cert_file.clone(), c.key_file.clone()))
            .collect();
        let store = CertStore::new(&cfg.node.state_dir, cfg.tls.internal_ca, &static_certs)
            .context("cannot load TLS certificates")?;
        store.set_fallback_names(vec![cfg.wireguard.address.addr.to_string()]);
        // The internal CA signs only for hosts some route serves.
        let hosts: Vec<config::HostPattern> = cfg.routes.iter().map(|r| r.host.clone()).collect();
        store.set_issue_filter(Box::new(move |name| hosts.iter().any(|h| h.matches(name))));
        if static_certs.is_empty() && !cfg.tls.internal_ca {
            tracing::warn!(
                "no certificate source: HTTPS handshakes will fail; set [tls] internal_ca = true or add [[tls.certificate]]"
            );
        }
        let client_cas: BTreeSet<_> = cfg
            .routes
            .iter()
            .filter_map(|r| r.client_ca.clone())
            .collect();
        let tls = wingress_tls::server_config(
            &store,
            &ServerTlsOptions {
                alpn_h2: true,
                client_cas: client_cas.into_iter().collect(),
            },
        )
        .context("cannot build the TLS configuration")?;
        let routes = cfg
            .routes
            .iter()
            .map(route_spec)
            .collect::<Result<Vec<_>>>()?;
        let proxy = Proxy::new(routes, ProxyOptions::default());

        let mut tunnel = HashMap::new();
        let mut host = Vec::new();
        for e in entrypoints {
            let ep = Entrypoint {
                name: e.name.as_str().into(),
                protocol: e.protocol,
            };
            match e.listen {
                Listen::Tunnel { port } => {
                    tunnel.insert(port, ep);
                }
                Listen::Host(addr) => host.push((ep, addr)),
            }
        }
        Ok(Some(Arc::new(Self {
            proxy,
            acceptor: TlsAcceptor::from(tls),
            store,
            tunnel,
            host,
        })))
    }

    pub fn tunnel_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.tunnel.keys().copied()
    }

    pub fn serves_tunnel_port(&self, port: u16) -> bool {
        self.tunnel.contains_key(&port)
    }

    /// Binds every host entrypoint once; an address in use fails start-up.
    pub fn bind_host(&self) -> Result<Vec<std::net::TcpListener>> {
        self.host
            .iter()
            .map(|(ep, addr)| {
                listen_reuseport(*addr)
                    .with_context(|| format!("entrypoint {}: cannot listen on {addr}", ep.name))
            })
            .collect()
    }

    /// Starts health checks and certificate reloads on this thread, and the
    /// host entrypoints' event-loop threads.
    pub fn start(self: &Arc<Self>, listeners: Vec<std::net::TcpListener>) {
        self.proxy.start_health_checks();
        let store = self.store.clone();
        tokio::task::spawn_local(async move {
            let mut every = tokio::time::interval(CERT_RELOAD_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                match store.reload_changed() {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(certificates = n, "reloaded changed certificate files"),
                    Err(e) => {
                        tracing::warn!(error = %e, "certificate reload failed; serving the previous certificates")
                    }
                }
            }
        });
        if self.host.is_empty() {
            return;
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut first = Some(listeners);
        for i in 0..threads {
            // The first thread takes the sockets bound at start-up; the
            // others bind their own on the same addresses.
            let sockets = match first.take() {
                Some(l) => l,
                None => match self.bind_host() {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "host entrypoint thread not started");
                        break;
                    }
                },
            };
            let this = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("wingress-http-{i}"))
                .spawn(move || this.host_thread(sockets));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start a host entrypoint thread");
            }
        }
    }

    fn host_thread(self: Arc<Self>, sockets: Vec<std::net::TcpListener>) {
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
            for ((ep, _), socket) in self.host.iter().zip(sockets) {
                let listener = match TcpListener::from_std(socket) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(entrypoint = %ep.name, error = %e, "cannot register listener");
                        continue;
                    }
                };
                let (this, ep) = (self.clone(), ep.clone());
                tokio::task::spawn_local(async move {
                    loop {
                    match listener.accept().await {
                        Ok((stream, remote)) => {
                            let _ = stream.set_nodelay(true);
                            this.clone().serve(stream, remote, &ep, None);
                        }
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(entrypoint = %ep.name, error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    }
                });
            }
            std::future::pending::<()>().await;
        });
    }

    /// Serves a connection that arrived through the tunnel on `port`.
    pub fn serve_tunnel<IO>(
        self: &Arc<Self>,
        io: IO,
        port: u16,
        remote: SocketAddr,
        peer: Option<Arc<PeerIdentity>>,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        if let Some(ep) = self.tunnel.get(&port).cloned() {
            self.clone().serve(io, remote, &ep, peer);
        }
    }

    fn serve<IO>(
        self: Arc<Self>,
        io: IO,
        remote: SocketAddr,
        ep: &Entrypoint,
        peer: Option<Arc<PeerIdentity>>,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let ep = ep.clone();
        tokio::task::spawn_local(async move {
            let mut conn = ConnInfo {
                remote,
                entrypoint: ep.name.clone(),
                scheme: Scheme::Http,
                peer,
                client_chain: None,
                alpn_h2: false,
            };
            if ep.protocol == EntrypointProtocol::Http {
                proxy::serve_redirect(io, conn).await;
                return;
            }
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(io)).await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(entrypoint = %ep.name, error = %e, "tls handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(entrypoint = %ep.name, "tls handshake timed out");
                    return;
                }
            };
            let session = tls.get_ref().1;
            conn.scheme = Scheme::Https;
            conn.alpn_h2 = session.alpn_protocol() == Some(b"h2");
            conn.client_chain = session
                .peer_certificates()
                .map(|c| Arc::new(c.iter().map(|d| d.clone().into_owned()).collect()));
            self.proxy.clone().serve(tls, conn).await;
        });
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

/// The identity the proxy reports for a peer.
pub fn identity(name: &str, public_key: &str, tags: &[String]) -> Arc<PeerIdentity> {
    Arc::new(PeerIdentity {
        name: name.to_string(),
        public_key: public_key.to_string(),
        tags: tags.to_vec(),
    })
}

fn route_spec(r: &config::RouteConfig) -> Result<RouteSpec> {
    let access = match r.access {
        config::Access::Tunnel => proxy::Access::Tunnel,
        config::Access::Public => proxy::Access::Public,
        config::Access::Mtls => {
            let path = r
                .client_ca
                .as_ref()
                .ok_or_else(|| anyhow!("route {}: access = \"mtls\" needs client_ca", r.host))?;
            let v = ClientCaVerifier::from_pem_file(path)
                .with_context(|| format!("route {}: cannot load client_ca", r.host))?;
            proxy::Access::Mtls(Arc::new(RouteCa(v)))
        }
        config::Access::ForwardAuth => {
            let url = r.forward_auth.as_ref().ok_or_else(|| {
                anyhow!(
                    "route {}: access = \"forward-auth\" needs forward_auth",
                    r.host
                )
            })?;
            if url.scheme_https {
                bail!(
                    "route {}: forward_auth over https is not supported yet; use an http:// URL",
                    r.host
                );
            }
            proxy::Access::ForwardAuth(proxy::ForwardAuthSpec {
                url: BackendAddr {
                    host: url.host.clone(),
                    port: url.port,
                },
                path_and_query: url.path_and_query.clone(),
                copy_headers: r.forward_auth_response_headers.clone(),
            })
        }
    };
    Ok(RouteSpec {
        host: match &r.host {
            config::HostPattern::Exact(h) => proxy::HostMatch::Exact(h.clone()),
            config::HostPattern::Wildcard(s) => proxy::HostMatch::Wildcard(s.clone()),
            config::HostPattern::Any => proxy::HostMatch::Any,
        },
        path_prefix: r.path_prefix.clone(),
        backends: r
            .backends
            .iter()
            .map(|b| BackendAddr {
                host: b.host.clone(),
                port: b.port,
            })
            .collect(),
        weights: r.weights.clone(),
        health_check: r.health_check.as_ref().map(|h| proxy::HealthCheckSpec {
            path: h.path.clone(),
            interval: h.interval,
            timeout: h.timeout,
        }),
        access,
        allow: r
            .allow
            .iter()
            .map(|a| match a {
                config::AllowRule::Peer(p) => proxy::AllowRule::Peer(p.clone()),
                config::AllowRule::Tag(t) => proxy::AllowRule::Tag(t.clone()),
            })
            .collect(),
        entrypoints: r.entrypoints.clone(),
        timeout: r.timeout,
        connect_timeout: r.connect_timeout,
    })
}

/// A route's client CA, checked when a request arrives (the handshake only
/// checked that the chain leads to one of all routes' CAs).
struct RouteCa(ClientCaVerifier);

impl ClientCertCheck for RouteCa {
    fn verify(&self, chain: &[CertificateDer<'_>]) -> bool {
        self.0.verify(chain, UnixTime::now())
    }

    fn subject(&self, chain: &[CertificateDer<'_>]) -> Option<String> {
        ClientCaVerifier::subject_of(chain)
    }
}
