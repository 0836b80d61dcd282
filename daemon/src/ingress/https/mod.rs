//! The L7 entrypoints: TLS termination (wingress-tls) and HTTP routing
//! (wingress-proxy) on tunnel ports (inside the userspace stack) and on
//! host sockets.
//!
//! [`HttpsGen`] is one config's worth of entrypoints, certificates and
//! routes, built (and so validated: certificate files, client CAs, routes)
//! before it replaces anything. [`HttpsService`] is the process-wide part:
//! the current generation (a [`Live`] that reloads swap), the live route
//! table every request reads, the host entrypoint threads, and the
//! certificates from memory (Kubernetes Secrets) that the control plane
//! hands in with [`HttpsService::set_memory_certs`] and that every
//! generation's store serves.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use rustls_pki_types::{CertificateDer, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use wingress_config::{self as config, EntrypointProtocol, Listen, ServerConfig};
use wingress_proxy::{
    self as proxy, BackendAddr, ClientCertCheck, ConnCaps, ConnInfo, ConnLimiter, Http01Responder,
    InProcessConnector, LiveProxy, PeerIdentity, Proxy, ProxyOptions, ProxyStats, RouteSpec,
    Scheme, Source,
};
use wingress_sync::{lock, Live};
use wingress_tls::{
    AcmeManager, CertStore, CertificateStatus, ClientCaVerifier, MemoryCert, MemoryCertError,
    ServerTlsOptions, ACME_TLS_ALPN,
};

use crate::ingress::open_conns::{Gauge, OpenConns};

pub(crate) mod acme;
pub(crate) mod host_pool;
mod transports;

use transports::Transports;

/// A client gets this long to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Static certificate files are checked for changes this often.
pub(crate) const CERT_RELOAD_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub(crate) struct Entrypoint {
    pub(crate) name: Arc<str>,
    pub(crate) protocol: EntrypointProtocol,
    pub(crate) listen: Listen,
    open: Gauge,
    /// Open connections by source, kept across reloads; the caps are this
    /// generation's.
    limiter: Arc<ConnLimiter>,
    caps: ConnCaps,
}

impl Entrypoint {
    pub(crate) fn open_connections(&self) -> i64 {
        self.open.get()
    }
}

/// One config's entrypoints, certificates and routes.
pub(crate) struct HttpsGen {
    pub(crate) proxy: Arc<Proxy>,
    /// `None` when there are no entrypoints.
    acceptor: Option<TlsAcceptor>,
    pub(crate) store: Option<Arc<CertStore>>,
    /// What the store was made from: a reload with the same sources keeps
    /// the store, and with it the leaves the internal CA has issued (and
    /// the ACME manager). The last part fingerprints the files ACME reads
    /// (`acme::files_fingerprint`), so a secret rewritten in place counts.
    store_sources: Option<(config::TlsConfig, std::path::PathBuf, String, u64)>,
    /// Route hosts, which the internal CA may issue for.
    issue_for: Vec<config::HostPattern>,
    /// `[tls.acme]`: orders and renews certificates into `store`; kept
    /// with the store across reloads, handed the new route hosts on install.
    acme: Option<AcmeManager>,
    /// The route hosts ACME manages in this generation.
    acme_names: Vec<String>,
    /// HTTP-01 answers for the plain-HTTP entrypoints.
    http01: Option<Http01Responder>,
    tunnel: HashMap<u16, Entrypoint>,
    host: Vec<(Entrypoint, SocketAddr)>,
}

impl HttpsGen {
    /// Loads certificates and CAs and compiles the routes; every file
    /// problem is an error here, before anything running changes.
    /// `previous` is the generation being replaced, whose certificate store
    /// is kept when its sources did not change (static files are still
    /// re-read when they change, by the periodic check).
    pub(crate) fn build(
        cfg: &ServerConfig,
        stats: &Arc<ProxyStats>,
        open: &OpenConns,
        dashboard: Option<&InProcessConnector>,
        previous: Option<&HttpsGen>,
    ) -> Result<Self> {
        let entrypoints = cfg.effective_entrypoints();
        let mut tunnel = HashMap::new();
        let mut host = Vec::new();
        for e in &entrypoints {
            let ep = Entrypoint {
                name: e.name.as_str().into(),
                protocol: e.protocol,
                listen: e.listen,
                open: open.gauge(&e.name),
                limiter: open.limiter(&e.name),
                caps: ConnCaps {
                    max_connections: e.max_connections,
                    max_per_source: e.max_connections_per_source,
                },
            };
            match e.listen {
                Listen::Tunnel { port } => {
                    tunnel.insert(port, ep);
                }
                Listen::Host(addr) => host.push((ep, addr)),
            }
        }
        if entrypoints.is_empty() {
            return Ok(HttpsGen::empty(stats));
        }
        let static_certs: Vec<_> = cfg
            .tls
            .certificates
            .iter()
            .map(|c| (c.cert_file.clone(), c.key_file.clone()))
            .collect();
        let fallback = cfg.wireguard.address.addr.to_string();
        let sources = (
            cfg.tls.clone(),
            cfg.node.state_dir.clone(),
            fallback.clone(),
            acme::files_fingerprint(cfg),
        );
        let kept = previous.filter(|p| p.store_sources.as_ref() == Some(&sources));
        let (store, acme) = match kept.and_then(|p| Some((p.store.clone()?, p.acme.clone()))) {
            Some(kept) => kept,
            None => {
                let store = CertStore::new(&cfg.node.state_dir, cfg.tls.internal_ca, &static_certs)
                    .context("cannot load TLS certificates")?;
                store.set_fallback_names(vec![fallback]);
                // The certificates from memory carry over, so that ACME
                // (below) leaves the names they cover alone.
                if let Some(old) = previous.and_then(|p| p.store.as_ref()) {
                    store.adopt_memory_certs(old);
                }
                // The internal CA issues for no name until the generation
                // is installed: see `HttpsService::install`.
                // Saved ACME certificates go into the new store now; orders
                // start when the generation is installed.
                let names = if cfg.tls.acme.is_some() {
                    acme::names(cfg, &store)?
                } else {
                    Vec::new()
                };
                let acme = acme::manager(cfg, &store, &names)?;
                (store, acme)
            }
        };
        let acme_names = match &acme {
            Some(acme) => {
                let names = acme::names(cfg, &store)?;
                acme.check_hosts(&names).context("[tls.acme]")?;
                names
            }
            None => Vec::new(),
        };
        if static_certs.is_empty() && !cfg.tls.internal_ca && acme.is_none() {
            tracing::warn!(
                "no certificate source: HTTPS handshakes will fail; set [tls] internal_ca = true or add [[tls.certificate]]"
            );
        }
        // The dashboard's CA counts only when a route of it uses it.
        let dashboard_ca = cfg
            .dashboard
            .client_ca
            .clone()
            .filter(|_| cfg.dashboard.enabled && !cfg.dashboard.host_entrypoints.is_empty());
        let client_cas: BTreeSet<_> = cfg
            .routes
            .iter()
            .filter_map(|r| r.client_ca.clone())
            .chain(dashboard_ca)
            .collect();
        let tls = wingress_tls::server_config(
            &store,
            &ServerTlsOptions {
                alpn_h2: true,
                client_cas: client_cas.into_iter().collect(),
                acme_tls_alpn: cfg
                    .tls
                    .acme
                    .as_ref()
                    .is_some_and(|a| a.challenge == config::AcmeChallenge::TlsAlpn01),
            },
        )
        .context("cannot build the TLS configuration")?;
        let transports = Transports::build(cfg)?;
        let mut routes = cfg
            .routes
            .iter()
            .map(|r| route_spec(r, &transports))
            .collect::<Result<Vec<_>>>()?;
        routes.extend(dashboard_specs(&cfg.dashboard, dashboard)?);
        let mut issue_for: Vec<_> = cfg.routes.iter().map(|r| r.host.clone()).collect();
        issue_for.extend(
            cfg.dashboard
                .served_host()
                .map(|h| config::HostPattern::Exact(h.to_string())),
        );
        Ok(HttpsGen {
            proxy: Proxy::with_stats(routes, proxy_options(&cfg.http), stats.clone()),
            acceptor: Some(TlsAcceptor::from(tls)),
            store: Some(store),
            store_sources: Some(sources),
            issue_for,
            http01: acme.clone().map(|m| -> Http01Responder {
                Arc::new(move |token: &str| m.http01_response(token))
            }),
            acme,
            acme_names,
            tunnel,
            host,
        })
    }

    /// No entrypoints: what runs before the first config is applied.
    pub(crate) fn empty(stats: &Arc<ProxyStats>) -> Self {
        HttpsGen {
            proxy: Proxy::with_stats(Vec::new(), ProxyOptions::default(), stats.clone()),
            acceptor: None,
            store: None,
            store_sources: None,
            issue_for: Vec::new(),
            acme: None,
            acme_names: Vec::new(),
            http01: None,
            tunnel: HashMap::new(),
            host: Vec::new(),
        }
    }

    /// The ACME certificates (pending ones included) for the status
    /// document; the store reports the static and internal-CA ones.
    pub(crate) fn acme_certificates(&self) -> Vec<CertificateStatus> {
        self.acme
            .as_ref()
            .map(AcmeManager::status)
            .unwrap_or_default()
    }

    pub(crate) fn tunnel_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.tunnel.keys().copied()
    }

    pub(crate) fn serves_tunnel_port(&self, port: u16) -> bool {
        self.tunnel.contains_key(&port)
    }

    pub(crate) fn host_addrs(&self) -> BTreeSet<SocketAddr> {
        self.host.iter().map(|(_, a)| *a).collect()
    }

    pub(crate) fn host_entrypoint(&self, addr: SocketAddr) -> Option<&Entrypoint> {
        self.host.iter().find(|(_, a)| *a == addr).map(|(e, _)| e)
    }

    /// Every entrypoint, tunnel ones by port, then host ones in config order.
    pub(crate) fn entrypoints(&self) -> Vec<&Entrypoint> {
        let mut tunnel: Vec<_> = self.tunnel.iter().collect();
        tunnel.sort_by_key(|(port, _)| **port);
        tunnel
            .into_iter()
            .map(|(_, e)| e)
            .chain(self.host.iter().map(|(e, _)| e))
            .collect()
    }
}

impl AsRef<Proxy> for HttpsGen {
    fn as_ref(&self) -> &Proxy {
        &self.proxy
    }
}

/// The HTTPS side of the process, shared by the data-plane thread and the
/// host entrypoint threads.
pub(crate) struct HttpsService {
    /// The current generation: entrypoints, certificates and the routes
    /// every request reads. A reload stores a whole generation at once, so
    /// no connection sees one generation's routes with another's
    /// certificates.
    pub(crate) current: Arc<Live<HttpsGen>>,
    /// Serves requests with `current`'s routes.
    pub(crate) proxy: Arc<LiveProxy<HttpsGen>>,
    /// The last set handed to [`HttpsService::set_memory_certs`], for the
    /// stores of generations installed later.
    memory_certs: Mutex<Arc<[MemoryCert]>>,
}

impl HttpsService {
    pub(crate) fn new(first: HttpsGen) -> Arc<Self> {
        let current = Live::new(Arc::new(first));
        Arc::new(HttpsService {
            proxy: LiveProxy::over(current.clone()),
            current,
            memory_certs: Mutex::new(Arc::from([])),
        })
    }

    /// Replaces the certificates from memory (the `kubernetes.io/tls`
    /// Secrets of the routes from Kubernetes), each served for its names
    /// from the next handshake on, after the static files and before ACME
    /// and the internal CA (see [`CertStore`]); open connections keep
    /// theirs. Generations installed later serve the same set.
    ///
    /// Returns the items not served as handed in, for the caller to report
    /// (an Event on the Secret, a line in `wingress status`); the others
    /// are served regardless. Without HTTPS entrypoints nothing is served,
    /// and the set waits for the first generation with a store.
    pub(crate) fn set_memory_certs(&self, certs: Vec<MemoryCert>) -> Vec<MemoryCertError> {
        let certs: Arc<[MemoryCert]> = certs.into();
        // Held while applying, so two callers cannot leave the store with
        // the older set and `memory_certs` with the newer.
        let mut saved = lock(&self.memory_certs);
        *saved = Arc::clone(&certs);
        match &self.current.load().store {
            Some(store) => store.set_memory_certs(&certs),
            None => Vec::new(),
        }
    }

    /// Makes `gen` the generation new connections and requests use.
    pub(crate) fn install(&self, gen: Arc<HttpsGen>) {
        // Held until `gen` is current, so a concurrent `set_memory_certs`
        // reaches either the old store before this copies its set, or the
        // new one.
        let memory_certs = lock(&self.memory_certs);
        let previous = self.current.load();
        if let Some(acme) = &gen.acme {
            // Checked when the generation was built.
            if let Err(e) = acme.set_hosts(&gen.acme_names) {
                tracing::warn!(error = %e, "ACME hosts not updated");
            }
            if let Err(e) = acme.spawn() {
                tracing::error!(error = %e, "cannot start the ACME thread; no certificates will be ordered");
            }
        }
        if let Some(old) = &previous.acme {
            if !gen.acme.as_ref().is_some_and(|new| new.same(old)) {
                old.stop();
            }
        }
        if let Some(store) = &gen.store {
            // The internal CA signs only for hosts some route serves.
            let hosts: Vec<String> = gen.issue_for.iter().map(ToString::to_string).collect();
            store.set_issue_hosts(&hosts);
            let kept = previous
                .store
                .as_ref()
                .is_some_and(|old| Arc::ptr_eq(old, store));
            if !kept {
                // A new store: it adopted the previous store's set when
                // built (unchanged items are not parsed again), but the
                // set may have changed since, or there was no store.
                for error in store.set_memory_certs(&memory_certs) {
                    tracing::warn!(%error, "certificate from memory not served");
                }
            }
        }
        gen.proxy.start_health_checks();
        self.current.store(gen);
        drop(memory_certs);
    }

    /// Serves a connection that arrived through the tunnel on `port`.
    pub(crate) fn serve_tunnel<IO>(
        self: &Arc<Self>,
        gen: &Arc<HttpsGen>,
        io: IO,
        port: u16,
        remote: SocketAddr,
        peer: Option<Arc<PeerIdentity>>,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        if let Some(ep) = gen.tunnel.get(&port) {
            self.serve(gen.clone(), io, remote, ep, peer);
        }
    }

    /// Serves one connection on `ep` (a tunnel or host entrypoint) with the
    /// certificates of `gen`, on a task of the calling thread.
    pub(crate) fn serve<IO>(
        self: &Arc<Self>,
        gen: Arc<HttpsGen>,
        io: IO,
        remote: SocketAddr,
        ep: &Entrypoint,
        peer: Option<Arc<PeerIdentity>>,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let mut conn = ConnInfo {
            remote,
            entrypoint: ep.name.clone(),
            scheme: Scheme::Http,
            peer,
            client_chain: None,
            alpn_h2: false,
        };
        // Over a cap, the connection is closed before anything is read.
        let permit = match ep.limiter.try_open(Source::of(&conn), ep.caps) {
            Ok(permit) => permit,
            Err(limit) => {
                tracing::debug!(entrypoint = %ep.name, limit = limit.as_str(), "connection refused");
                gen.proxy.stats().limit_hit(&ep.name, limit);
                return;
            }
        };
        let this = self.clone();
        let (name, protocol, open) = (ep.name.clone(), ep.protocol, ep.open.open());
        tokio::task::spawn_local(async move {
            let _open = (open, permit);
            if protocol == EntrypointProtocol::Http {
                this.proxy
                    .serve_redirect(io, conn, gen.http01.clone())
                    .await;
                return;
            }
            let Some(acceptor) = &gen.acceptor else {
                return;
            };
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(entrypoint = %name, error = %e, "tls handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(entrypoint = %name, "tls handshake timed out");
                    return;
                }
            };
            drop(gen);
            let session = tls.get_ref().1;
            if session.alpn_protocol() == Some(ACME_TLS_ALPN) {
                // A TLS-ALPN-01 validation: the handshake was the answer,
                // and RFC 8737 forbids serving anything on it.
                tracing::debug!(entrypoint = %name, "answered an ACME tls-alpn-01 validation");
                return;
            }
            conn.scheme = Scheme::Https;
            conn.alpn_h2 = session.alpn_protocol() == Some(b"h2");
            conn.client_chain = session
                .peer_certificates()
                .map(|c| Arc::new(c.iter().map(|d| d.clone().into_owned()).collect()));
            this.proxy.clone().serve(tls, conn).await;
        });
    }
}

fn route_spec(r: &config::RouteConfig, transports: &Transports) -> Result<RouteSpec> {
    let access = match r.access {
        config::Access::Tunnel => proxy::Access::Tunnel,
        config::Access::Public => proxy::Access::Public,
        config::Access::Mtls => {
            let path = r
                .client_ca
                .as_ref()
                .ok_or_else(|| anyhow!("route {}: access = \"mtls\" needs client_ca", r.host))?;
            mtls_access(path).with_context(|| format!("route {}: cannot load client_ca", r.host))?
        }
        config::Access::ForwardAuth => {
            let url = r.forward_auth.as_ref().ok_or_else(|| {
                anyhow!(
                    "route {}: access = \"forward-auth\" needs forward_auth",
                    r.host
                )
            })?;
            proxy::Access::ForwardAuth(proxy::ForwardAuthSpec {
                url: BackendAddr {
                    host: url.host.clone(),
                    port: url.port,
                    scheme: if url.scheme_https {
                        proxy::BackendScheme::Https
                    } else {
                        proxy::BackendScheme::Http
                    },
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
        path_match: match r.path_match {
            config::PathMatch::Prefix => proxy::PathMatch::Prefix,
            config::PathMatch::Segments => proxy::PathMatch::Segments,
            config::PathMatch::Exact => proxy::PathMatch::Exact,
        },
        backends: r
            .backends
            .iter()
            .map(|b| BackendAddr {
                host: b.host.clone(),
                port: b.port,
                scheme: match b.scheme {
                    config::BackendScheme::Http => proxy::BackendScheme::Http,
                    config::BackendScheme::Https => proxy::BackendScheme::Https,
                    config::BackendScheme::H2c => proxy::BackendScheme::H2c,
                },
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
        grpc_deadline: r.grpc_deadline,
        connect_timeout: r.connect_timeout,
        allow_encoded_slashes: r.allow_encoded_slashes,
        upgrades: r.upgrades.clone(),
        tls: transports.for_route(r)?,
        in_process: None,
    })
}

/// A route's `access = "mtls"`: requests whose client chain leads to the
/// CA in `path`, checked per request by [`RouteCa`].
fn mtls_access(path: &std::path::Path) -> Result<proxy::Access> {
    let v = ClientCaVerifier::from_pem_file(path)?;
    Ok(proxy::Access::Mtls(Arc::new(RouteCa(v))))
}

/// The dashboard's routes, last in the table, both for its host and every
/// path with the in-process backend shown as `dashboard`: on the tunnel
/// entrypoints, tunnel peers that `allow` admits (identity headers as on
/// every route); on the host entrypoints (only with `client_ca`), clients
/// whose certificate `client_ca` signed, as a `[[route]]` with access
/// `mtls`. The routes' timeout covers only the response head, so event
/// streams run as long as they are open.
fn dashboard_specs(
    cfg: &config::DashboardConfig,
    connector: Option<&InProcessConnector>,
) -> Result<Vec<RouteSpec>> {
    let Some(host) = cfg.served_host() else {
        return Ok(Vec::new());
    };
    let spec = |access, allow, entrypoints| RouteSpec {
        host: proxy::HostMatch::Exact(host.to_string()),
        path_prefix: "/".to_string(),
        path_match: proxy::PathMatch::Prefix,
        backends: vec![BackendAddr::in_process(DASHBOARD_BACKEND)],
        weights: Vec::new(),
        health_check: None,
        access,
        allow,
        entrypoints,
        timeout: config::DEFAULT_ROUTE_TIMEOUT,
        grpc_deadline: false,
        connect_timeout: config::DEFAULT_CONNECT_TIMEOUT,
        allow_encoded_slashes: false,
        upgrades: Vec::new(),
        tls: None,
        in_process: connector.cloned(),
    };
    let mut specs = Vec::with_capacity(2);
    // A route with no entrypoints would serve on all of them: the tunnel
    // route exists only when some tunnel entrypoint is named.
    let tunnel = cfg.tunnel_entrypoints();
    if !tunnel.is_empty() {
        let allow = cfg
            .allow
            .iter()
            .map(|a| match a {
                config::AllowRule::Peer(p) => proxy::AllowRule::Peer(p.clone()),
                config::AllowRule::Tag(t) => proxy::AllowRule::Tag(t.clone()),
            })
            .collect();
        specs.push(spec(proxy::Access::Tunnel, allow, tunnel));
    }
    if let (Some(ca), false) = (&cfg.client_ca, cfg.host_entrypoints.is_empty()) {
        let access = mtls_access(ca).context("[dashboard]: cannot load client_ca")?;
        specs.push(spec(access, Vec::new(), cfg.host_entrypoints.clone()));
    }
    Ok(specs)
}

/// How status and logs name the dashboard's backend.
pub(crate) const DASHBOARD_BACKEND: &str = "dashboard";

/// The proxy's per-connection limits from `[http]`.
fn proxy_options(http: &config::HttpConfig) -> ProxyOptions {
    ProxyOptions {
        header_read_timeout: http.header_timeout,
        idle_timeout: http.idle_timeout,
        body_timeout: http.body_timeout,
        send_timeout: http.send_timeout,
        max_streams: http.max_streams,
        max_backend_connections: http.max_backend_connections,
        upgrade_idle_timeout: http.upgrade_idle_timeout,
        ..ProxyOptions::default()
    }
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

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
