//! Test fixtures: hyper backends on loopback, the proxy on a loopback
//! listener with a chosen `ConnInfo`, and small clients.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use wingress_proxy::{
    Access, BackendAddr, ConnInfo, HostMatch, PathMatch, PeerIdentity, Proxy, RouteSpec, Scheme,
};

pub(crate) type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// Runs a test on a current-thread runtime inside a `LocalSet`, as the
/// daemon does.
pub(crate) fn run<F: Future>(test: F) -> F::Output {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, test)
}

/// Log lines captured on the test's thread (the proxy, its backends and the
/// clients all run there): `let (log, _guard) = capture_log();`.
#[derive(Clone, Default)]
pub(crate) struct CapturedLog(Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLog {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> CapturedLog {
        self.clone()
    }
}

/// Routes this thread's INFO-and-above events to a [`CapturedLog`] until
/// the guard is dropped.
pub(crate) fn capture_log() -> (CapturedLog, tracing::subscriber::DefaultGuard) {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    (log, tracing::subscriber::set_default(subscriber))
}

/// Knobs and counters shared with a running backend.
#[derive(Default)]
pub(crate) struct BackendState {
    pub healthy: AtomicBool,
    pub hits: AtomicUsize,
    pub auth_calls: AtomicUsize,
    pub health_checks: AtomicUsize,
    pub upload_started: Notify,
    pub stream_release: Notify,
}

pub(crate) struct Backend {
    pub addr: SocketAddr,
    pub state: Arc<BackendState>,
}

impl Backend {
    pub(crate) fn spec(&self) -> BackendAddr {
        BackendAddr {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            scheme: wingress_proxy::BackendScheme::Http,
        }
    }
}

/// An HTTP/1.1 backend named `name`. Endpoints: `/health` (200 or 500 per
/// `state.healthy`), `/slow` (answers after 2 s), `/stream` (sends a chunk,
/// then another once `stream_release` is notified), `/big` (64 MiB in
/// 64 KiB chunks, as fast as they are taken), `/upload` (counts body
/// bytes, notifying `upload_started` at the first), `/ws` (101, then echoes
/// bytes), `/auth` (forward-auth: `Authorization: Bearer good` passes), and
/// everything else echoes the request.
pub(crate) async fn backend(name: &'static str) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(BackendState::default());
    state.healthy.store(true, Ordering::SeqCst);
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let st = st.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(name, st.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Backend { addr, state }
}

/// An address nothing listens on.
/// An address that refuses connections for the rest of the test process:
/// its port stays bound (without SO_REUSEADDR) but never listens, so no
/// other test's listener, nor an outgoing connection's source port, can
/// take it over (a released port could be handed out again at once).
pub(crate) async fn dead_addr() -> BackendAddr {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    std::mem::forget(socket);
    BackendAddr {
        host: "127.0.0.1".into(),
        port,
        scheme: wingress_proxy::BackendScheme::Http,
    }
}

fn full(body: impl Into<Bytes>) -> BoxBody {
    Full::new(body.into()).boxed()
}

async fn handle(
    name: &'static str,
    state: Arc<BackendState>,
    mut req: Request<Incoming>,
) -> Result<Response<BoxBody>, Infallible> {
    let path = req.uri().path().to_owned();
    if path != "/health" && path != "/auth" {
        state.hits.fetch_add(1, Ordering::SeqCst);
    }
    let mut response = match path.as_str() {
        "/health" => {
            state.health_checks.fetch_add(1, Ordering::SeqCst);
            let status = if state.healthy.load(Ordering::SeqCst) {
                200
            } else {
                500
            };
            Response::builder()
                .status(status)
                .body(full("health"))
                .unwrap()
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Response::new(full("slow"))
        }
        "/stream" => {
            let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
            let st = state.clone();
            tokio::spawn(async move {
                let _ = tx.send_data(Bytes::from_static(b"first\n")).await;
                st.stream_release.notified().await;
                let _ = tx.send_data(Bytes::from_static(b"second\n")).await;
            });
            Response::new(body.boxed())
        }
        "/big" => {
            let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(2);
            tokio::spawn(async move {
                let chunk = Bytes::from(vec![b'x'; BIG_CHUNK]);
                for _ in 0..BIG_CHUNKS {
                    if tx.send_data(chunk.clone()).await.is_err() {
                        return;
                    }
                }
            });
            Response::new(body.boxed())
        }
        "/upload" => {
            let mut body = req.into_body();
            let mut total = 0usize;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(data) = frame.data_ref() {
                    if total == 0 && !data.is_empty() {
                        state.upload_started.notify_one();
                    }
                    total += data.len();
                }
            }
            Response::new(full(format!("bytes {total}")))
        }
        "/ws" if req.headers().contains_key("upgrade") => {
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                let Ok(upgraded) = upgrade.await else { return };
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 1024];
                loop {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if io.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
            Response::builder()
                .status(101)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .body(full(""))
                .unwrap()
        }
        "/auth" => {
            state.auth_calls.fetch_add(1, Ordering::SeqCst);
            let h = req.headers();
            if h.get("authorization").is_some_and(|v| v == "Bearer good") {
                Response::builder()
                    .header("remote-user", "alice")
                    .header("x-auth-groups", "admins")
                    .header("x-unrelated", "1")
                    .body(full("ok"))
                    .unwrap()
            } else {
                let get = |n: &str| {
                    h.get(n)
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default()
                };
                let text = format!(
                    "denied uri={} method={} host={} proto={} for={}",
                    get("x-forwarded-uri"),
                    get("x-forwarded-method"),
                    get("x-forwarded-host"),
                    get("x-forwarded-proto"),
                    get("x-forwarded-for"),
                );
                Response::builder()
                    .status(401)
                    .header("www-authenticate", "Bearer")
                    .body(full(text))
                    .unwrap()
            }
        }
        _ => {
            let mut text = format!(
                "backend {name}\nmethod {}\npath {}\nversion {:?}\n",
                req.method(),
                req.uri().path_and_query().map_or("", |p| p.as_str()),
                req.version()
            );
            for (k, v) in req.headers() {
                text.push_str(&format!("h {}: {}\n", k, v.to_str().unwrap_or("<bin>")));
            }
            Response::new(full(text))
        }
    };
    response
        .headers_mut()
        .insert("x-backend", name.parse().unwrap());
    Ok(response)
}

/// `/big` is this many chunks of this size.
pub(crate) const BIG_CHUNK: usize = 64 * 1024;
pub(crate) const BIG_CHUNKS: usize = 1024;

/// The echo endpoint's view of a request.
#[derive(Debug)]
pub(crate) struct Echo {
    pub backend: String,
    pub method: String,
    pub path: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
}

impl Echo {
    pub(crate) fn parse(body: &str) -> Echo {
        let mut echo = Echo {
            backend: String::new(),
            method: String::new(),
            path: String::new(),
            version: String::new(),
            headers: vec![],
        };
        for line in body.lines() {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "backend" => echo.backend = rest.into(),
                "method" => echo.method = rest.into(),
                "path" => echo.path = rest.into(),
                "version" => echo.version = rest.into(),
                "h" => {
                    let (k, v) = rest.split_once(": ").unwrap();
                    echo.headers.push((k.into(), v.into()));
                }
                _ => panic!("unexpected echo line {line:?}"),
            }
        }
        echo
    }

    pub(crate) fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub(crate) fn conn_info(
    entrypoint: &str,
    scheme: Scheme,
    peer: Option<(&str, &[&str])>,
) -> ConnInfo {
    ConnInfo {
        remote: "127.0.0.1:1".parse().unwrap(),
        entrypoint: entrypoint.into(),
        scheme,
        peer: peer.map(|(name, tags)| {
            Arc::new(PeerIdentity {
                name: name.into(),
                public_key: format!("{name}-key="),
                tags: tags.iter().map(|t| t.to_string()).collect(),
            })
        }),
        client_chain: None,
        alpn_h2: false,
    }
}

pub(crate) fn host_client() -> ConnInfo {
    conn_info("web", Scheme::Https, None)
}

pub(crate) fn peer(name: &str, tags: &[&str]) -> ConnInfo {
    conn_info("web", Scheme::Https, Some((name, tags)))
}

/// Serves `proxy` on a loopback listener; every connection gets `template`
/// with its real remote address. Call inside the test's `LocalSet`.
pub(crate) async fn listen(proxy: &Arc<Proxy>, template: ConnInfo) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let proxy = proxy.clone();
    tokio::task::spawn_local(async move {
        loop {
            let Ok((stream, remote)) = listener.accept().await else {
                return;
            };
            let mut info = template.clone();
            info.remote = remote;
            tokio::task::spawn_local(proxy.clone().serve(stream, info));
        }
    });
    addr
}

pub(crate) fn route(host: HostMatch, prefix: &str, backends: &[&Backend]) -> RouteSpec {
    RouteSpec {
        host,
        path_prefix: prefix.into(),
        path_match: PathMatch::Prefix,
        backends: backends.iter().map(|b| b.spec()).collect(),
        weights: vec![],
        health_check: None,
        access: Access::Public,
        allow: vec![],
        entrypoints: vec![],
        timeout: Duration::from_secs(5),
        grpc_deadline: false,
        connect_timeout: Duration::from_secs(1),
        allow_encoded_slashes: false,
        upgrades: vec!["websocket".into()],
        tls: None,
        in_process: None,
    }
}

pub(crate) fn exact(host: &str) -> HostMatch {
    HostMatch::Exact(host.into())
}

pub(crate) type TestClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub(crate) fn echo(&self) -> Echo {
        assert_eq!(self.status, 200, "body: {}", self.body);
        Echo::parse(&self.body)
    }
}

/// Sends a request through the proxy at `proxy` with the given Host.
pub(crate) async fn send(
    client: &TestClient,
    proxy: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{proxy}{path}"))
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("proxy answered in time")
        .expect("request succeeded");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub(crate) async fn get(client: &TestClient, proxy: SocketAddr, host: &str, path: &str) -> Reply {
    send(client, proxy, "GET", host, path, &[], "").await
}

/// Reads one HTTP/1.1 response with a Content-Length (or up to EOF) from a
/// raw stream; returns the head and body.
pub(crate) async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "eof before response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-length: ")
            .map(|v| v.trim().parse::<usize>().unwrap())
    });
    let mut body = buf[head_end..].to_vec();
    match length {
        Some(length) => {
            while body.len() < length {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "eof in body");
                body.extend_from_slice(&chunk[..n]);
            }
        }
        None if head.starts_with("HTTP/1.1 101") => {}
        None => {
            let _ = stream.read_to_end(&mut body).await;
        }
    }
    (head, String::from_utf8_lossy(&body).into_owned())
}
