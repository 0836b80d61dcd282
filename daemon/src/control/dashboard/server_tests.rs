//! The server driven over in-process streams by hyper's client, with a
//! fake daemon (a fixed status document, counted reloads) and a config
//! file in a scratch directory.

use std::cell::Cell;
use std::sync::Arc;

use http::Request;
use http_body_util::{BodyExt, Empty, Full};
use serde_json::json;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use wingress_wg::PrivateKey;

use super::*;
use crate::control::admin::LocalBoxFuture;
use crate::control::dashboard::{DaemonLink, DashboardStats};
use crate::control::registry::Exposition;

struct FakeDaemon {
    status: Value,
    reloads: Rc<Cell<u32>>,
}

impl DaemonLink for FakeDaemon {
    fn status(&self) -> LocalBoxFuture<Option<Value>> {
        let status = self.status.clone();
        Box::pin(async move { Some(status) })
    }

    fn reload(&self) -> LocalBoxFuture<Result<(), String>> {
        self.reloads.set(self.reloads.get() + 1);
        Box::pin(async { Ok(()) })
    }
}

struct Lab {
    tx: mpsc::Sender<DuplexStream>,
    config: PathBuf,
    reloads: Rc<Cell<u32>>,
    stats: Arc<DashboardStats>,
    laptop_key: String,
}

const LAPTOP: &str = "laptop";
const SECRET: &[u8] = b"the test's secret";
fn test_secret() -> Csrf {
    Csrf::from_secret(SECRET)
}

fn config_text(laptop: &str, tablet: &str) -> String {
    format!(
        "# wingress for the dashboard test\n[node]\nip = \"10.99.0.2\"\n\n\
         [wireguard]\naddress = \"100.64.0.2/24\"\nlisten_port = 41602\n\n\
         # The admin's laptop.\n[[peer]]\nname = \"laptop\"\npublic_key = \"{laptop}\"\n\
         allowed_ips = [\"100.64.0.3/32\"]\ntags = [\"admin\"]\n\n\
         [[peer]]\nname = \"tablet\"\npublic_key = \"{tablet}\"\nallowed_ips = [\"100.64.0.4/32\"]\n"
    )
}

/// Starts the server on the current `LocalSet`; `writable: false` runs it
/// as on the built-in default config.
fn start(name: &str, writable: bool, max_event_streams: usize) -> Lab {
    let dir =
        std::env::temp_dir().join(format!("wingress-dashboard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("wingress.toml");
    let laptop_key = PrivateKey::generate().public_key().to_base64();
    let tablet_key = PrivateKey::generate().public_key().to_base64();
    std::fs::write(&config, config_text(&laptop_key, &tablet_key)).unwrap();
    let server_key = PrivateKey::generate().public_key().to_base64();
    let status = json!({
        "version": "test",
        "node": {"ip": "10.99.0.2", "port": 41602, "public_key": server_key},
        "public_endpoint": null,
        "peers": [
            {"name": "laptop", "tags": ["admin"], "rx_bytes": 1, "tx_bytes": 2,
             "latest_handshake_secs": 3, "endpoint": "10.99.0.1:5000"},
            {"name": "tablet", "tags": [], "rx_bytes": 0, "tx_bytes": 0,
             "latest_handshake_secs": null, "endpoint": null},
        ],
        "routes": [{"host": "wingress.home.arpa", "path_prefix": "/", "access": "allow",
                    "backends": [{"address": "dashboard"}],
                    "stats": {"requests": [0, 5, 0, 0, 1]}}],
        "certificates": [],
    });
    let reloads = Rc::new(Cell::new(0));
    let stats = Arc::new(DashboardStats::default());
    let deps = Deps {
        daemon: Rc::new(FakeDaemon {
            status,
            reloads: reloads.clone(),
        }),
        config_path: writable.then(|| config.clone()),
        max_event_streams,
        stats: stats.clone(),
    };
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_local(serve_with(rx, deps, Csrf::from_secret(SECRET)));
    Lab {
        tx,
        config,
        reloads,
        stats,
        laptop_key,
    }
}

/// A request as the proxy forwards it: the identity headers of `who`.
fn as_peer(lab: &Lab, who: Option<&str>, method: &str, path: &str) -> http::request::Builder {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "wingress.home.arpa");
    if let Some(who) = who {
        b = b
            .header("x-wingress-peer", who)
            .header("x-wingress-peer-key", &lab.laptop_key)
            .header("x-wingress-peer-tags", "admin");
    }
    b
}

type Headers = Vec<(&'static str, &'static str)>;

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// One request on a new in-process connection.
async fn send<B>(lab: &Lab, req: Request<B>) -> Answer
where
    B: hyper::body::Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let response = open(lab, req).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn open<B>(lab: &Lab, req: Request<B>) -> Response<Incoming>
where
    B: hyper::body::Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (client, server) = tokio::io::duplex(64 * 1024);
    lab.tx.send(server).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client))
        .await
        .unwrap();
    tokio::task::spawn_local(conn);
    sender.send_request(req).await.unwrap()
}

async fn get(lab: &Lab, who: Option<&str>, path: &str) -> Answer {
    send(
        lab,
        as_peer(lab, who, "GET", path)
            .body(Empty::<Bytes>::new())
            .unwrap(),
    )
    .await
}

fn token_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    page[at..at + 64].to_string()
}

async fn post(lab: &Lab, path: &str, body: &str, extra: &[(&str, &str)]) -> Answer {
    let mut b = as_peer(lab, Some(LAPTOP), "POST", path)
        .header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    send(
        lab,
        b.body(Full::new(Bytes::from(body.to_string()))).unwrap(),
    )
    .await
}

fn local(test: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, test);
}

#[test]
fn pages_for_the_viewer_and_403_without_identity() {
    local(async {
        let lab = start("pages", true, 4);
        for path in [
            "/",
            "/peers",
            "/routes",
            "/certificates",
            "/peers/add",
            "/peers/tablet/remove",
        ] {
            let a = get(&lab, Some(LAPTOP), path).await;
            assert_eq!(a.status, 200, "{path}: {}", a.body);
            assert_eq!(a.headers["content-security-policy"], CSP);
            assert_eq!(a.headers["x-frame-options"], "DENY");
            assert_eq!(a.headers["x-content-type-options"], "nosniff");
            assert_eq!(a.headers["referrer-policy"], "same-origin");
            assert_eq!(a.headers["cache-control"], "no-store");
            assert!(
                a.body.contains("<span id=\"whoami\">laptop</span>"),
                "{path}"
            );
            assert!(!a.body.contains("id=\"read-only\""), "{path}");
        }
        let peers = get(&lab, Some(LAPTOP), "/peers").await.body;
        assert!(peers.contains("tr data-peer=\"tablet\""));
        let add = get(&lab, Some(LAPTOP), "/peers/add").await.body;
        assert!(add.contains("form id=\"add-device\""));
        assert_eq!(token_of(&add).len(), 64);

        let a = get(&lab, None, "/").await;
        assert_eq!(a.status, 403);
        assert!(a.body.contains("403"));
        assert_eq!(a.headers["content-security-policy"], CSP);
        assert_eq!(get(&lab, Some(LAPTOP), "/nope").await.status, 404);
        assert_eq!(
            get(&lab, Some(LAPTOP), "/peers/ghost/remove").await.status,
            404
        );
        // The viewer's own device has no removal page.
        assert_eq!(
            get(&lab, Some(LAPTOP), "/peers/laptop/remove").await.status,
            400
        );
        let a = send(
            &lab,
            as_peer(&lab, Some(LAPTOP), "DELETE", "/peers")
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await;
        assert_eq!(a.status, 405);
        assert_eq!(a.headers["allow"], "GET, HEAD");
        let css = get(&lab, Some(LAPTOP), "/assets/app.css").await;
        assert_eq!(css.status, 200);
        assert!(css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css"));
        assert_eq!(css.headers["cache-control"], "no-cache");
        assert_eq!(get(&lab, Some(LAPTOP), "/assets/nope.js").await.status, 404);

        let mut m = Exposition::default();
        lab.stats.render(&mut m);
        let m = m.finish();
        assert!(
            m.contains("wingress_dashboard_forbidden_total{reason=\"identity\"} 1"),
            "{m}"
        );
        assert!(m.contains("wingress_dashboard_requests_total "), "{m}");
    });
}

#[test]
fn adding_and_removing_a_device() {
    local(async {
        let lab = start("add", true, 4);
        let before = std::fs::read_to_string(&lab.config).unwrap();
        let token = token_of(&get(&lab, Some(LAPTOP), "/peers/add").await.body);
        let same_origin = [
            ("origin", "https://wingress.home.arpa"),
            ("sec-fetch-site", "same-origin"),
        ];

        // Bad input: the form again, with the error, and no change.
        let a = post(
            &lab,
            "/peers/add",
            &format!("name=Bad+Name&tags=&csrf={token}"),
            &same_origin,
        )
        .await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(
            a.body.contains("form id=\"add-device\"") && a.body.contains("peer name"),
            "{}",
            a.body
        );
        let a = post(
            &lab,
            "/peers/add",
            &format!("name=tablet&csrf={token}"),
            &same_origin,
        )
        .await;
        assert_eq!(a.status, 400);
        assert!(a.body.contains("already exists"), "{}", a.body);
        assert_eq!(std::fs::read_to_string(&lab.config).unwrap(), before);
        assert_eq!(lab.reloads.get(), 0);

        let a = post(
            &lab,
            "/peers/add",
            &format!("name=phone&tags=phone&csrf={token}"),
            &same_origin,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("PrivateKey = "), "{}", a.body);
        assert!(a.body.contains("Endpoint = 10.99.0.2:41602"), "{}", a.body);
        assert!(
            a.body
                .contains("<pre id=\"client-conf\" class=\"conf\">[Interface]"),
            "{}",
            a.body
        );
        assert!(a.body.contains("download=\"phone.conf\""));
        assert!(
            a.body.contains("<div id=\"qr\" class=\"qr\"><svg"),
            "{}",
            a.body
        );
        let after = std::fs::read_to_string(&lab.config).unwrap();
        assert!(
            after.starts_with(&before),
            "comments and layout kept:\n{after}"
        );
        assert!(
            after.contains("[[peer]]\nname = \"phone\"") && after.contains("tags = [\"phone\"]"),
            "{after}"
        );
        assert_eq!(lab.reloads.get(), 1);

        // Removing yourself is refused; removing the phone edits the file back.
        let a = post(
            &lab,
            "/peers/laptop/remove",
            &format!("csrf={token}"),
            &same_origin,
        )
        .await;
        assert_eq!(a.status, 400);
        assert!(std::fs::read_to_string(&lab.config)
            .unwrap()
            .contains("name = \"laptop\""));
        let a = post(&lab, "/peers/phone/remove", &format!("csrf={token}"), &[]).await;
        assert_eq!(a.status, 303, "{}", a.body);
        assert_eq!(a.headers["location"], "/peers");
        assert_eq!(std::fs::read_to_string(&lab.config).unwrap(), before);
        assert_eq!(lab.reloads.get(), 2);
        let a = post(&lab, "/peers/phone/remove", &format!("csrf={token}"), &[]).await;
        assert_eq!(a.status, 400, "{}", a.body);

        let mut m = Exposition::default();
        lab.stats.render(&mut m);
        let m = m.finish();
        assert!(
            m.contains("wingress_dashboard_changes_total{change=\"add\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("wingress_dashboard_changes_total{change=\"remove\"} 1"),
            "{m}"
        );
    });
}

/// A request as the proxy forwards it from the dashboard's mtls route on a
/// host entrypoint: the certificate's subject, no peer headers, the port
/// in `Host`.
fn as_certificate(subject: &str, method: &str, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "wingress.home.arpa:8443")
        .header("x-wingress-client-subject", subject)
}

#[test]
fn a_client_certificate_signs_in_on_a_host_entrypoint() {
    local(async {
        let lab = start("cert", true, 4);
        let get_as = |path: &'static str| {
            as_certificate("alice@example.com", "GET", path)
                .body(Empty::<Bytes>::new())
                .unwrap()
        };
        let a = send(&lab, get_as("/")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(
            a.body
                .contains("<span id=\"whoami\">alice@example.com</span>"),
            "{}",
            a.body
        );
        assert!(a.body.contains("signed in with a client certificate"));
        let add = send(&lab, get_as("/peers/add")).await.body;
        let token = token_of(&add);
        // Bound to the certificate: not the laptop's token.
        let peer_token = token_of(&get(&lab, Some(LAPTOP), "/peers/add").await.body);
        assert_ne!(token, peer_token);

        let post_as = |subject: &str, origin: &str, body: String| {
            as_certificate(subject, "POST", "/peers/add")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", origin)
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        };
        let before = std::fs::read_to_string(&lab.config).unwrap();
        for (subject, origin, tok) in [
            // Another certificate's token, the peer's token, no port.
            ("bob", "https://wingress.home.arpa:8443", token.as_str()),
            (
                "alice@example.com",
                "https://wingress.home.arpa:8443",
                peer_token.as_str(),
            ),
            (
                "alice@example.com",
                "https://wingress.home.arpa",
                token.as_str(),
            ),
        ] {
            let a = send(
                &lab,
                post_as(subject, origin, format!("name=phone&csrf={tok}")),
            )
            .await;
            assert_eq!(a.status, 403, "{subject} {origin}: {}", a.body);
        }
        assert_eq!(std::fs::read_to_string(&lab.config).unwrap(), before);

        let a = send(
            &lab,
            post_as(
                "alice@example.com",
                "https://wingress.home.arpa:8443",
                format!("name=phone&csrf={token}"),
            ),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("PrivateKey = "), "{}", a.body);
        // No peer is the certificate's own device: the laptop can go.
        let laptop = send(&lab, get_as("/peers/laptop/remove")).await;
        assert_eq!(laptop.status, 200, "{}", laptop.body);
        assert!(laptop.body.contains("form id=\"remove-device\""));
    });
}

#[test]
fn refused_posts_change_nothing() {
    local(async {
        let lab = start("refused", true, 4);
        let before = std::fs::read_to_string(&lab.config).unwrap();
        let token = token_of(&get(&lab, Some(LAPTOP), "/peers/add").await.body);
        let form = format!("name=evil&tags=admin&csrf={token}");
        let cases: Vec<(u16, String, Headers)> = vec![
            (403, "name=evil&csrf=".into(), vec![]),
            (403, format!("name=evil&csrf={}", "0".repeat(64)), vec![]),
            (403, form.clone(), vec![("origin", "http://127.0.0.1:8000")]),
            (403, form.clone(), vec![("sec-fetch-site", "cross-site")]),
            (
                403,
                form.clone(),
                vec![
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://127.0.0.1:8000"),
                ],
            ),
            (
                413,
                format!("{form}&pad={}", "x".repeat(form::MAX_BODY)),
                vec![],
            ),
        ];
        for (want, body, extra) in cases {
            let a = post(&lab, "/peers/add", &body, &extra).await;
            assert_eq!(a.status, want, "{extra:?}: {}", a.body);
            if want == 403 {
                assert!(a.body.contains("403"), "{}", a.body);
            }
        }
        // Not a form at all.
        let a = send(
            &lab,
            as_peer(&lab, Some(LAPTOP), "POST", "/peers/add")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from("{}")))
                .unwrap(),
        )
        .await;
        assert_eq!(a.status, 415);
        // No identity: 403 before anything else.
        let a = send(
            &lab,
            as_peer(&lab, None, "POST", "/peers/add")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(form.clone())))
                .unwrap(),
        )
        .await;
        assert_eq!(a.status, 403);
        assert_eq!(std::fs::read_to_string(&lab.config).unwrap(), before);
        assert_eq!(lab.reloads.get(), 0);

        let mut m = Exposition::default();
        lab.stats.render(&mut m);
        let m = m.finish();
        for reason in [
            "token\"} 2",
            "origin\"} 1",
            "sec_fetch_site\"} 2",
            "identity\"} 1",
        ] {
            assert!(
                m.contains(&format!(
                    "wingress_dashboard_forbidden_total{{reason=\"{reason}"
                )),
                "{reason}: {m}"
            );
        }
    });
}

#[test]
fn a_read_only_config_shows_no_forms_and_refuses_changes() {
    local(async {
        let lab = start("read-only", false, 4);
        for path in ["/peers", "/peers/add", "/peers/tablet/remove"] {
            let a = get(&lab, Some(LAPTOP), path).await;
            assert_eq!(a.status, 200);
            assert!(a.body.contains("id=\"read-only\""), "{}", a.body);
            assert!(a.body.contains("built-in default"), "{}", a.body);
            assert!(!a.body.contains("<form"), "{path}: {}", a.body);
        }
        // Read-only comes before the token (the pages offer none): any
        // token, or none, gets 409; a cross-site POST still gets 403.
        let other = Csrf::from_secret(b"other").token(&lab.laptop_key);
        let a = post(&lab, "/peers/add", &format!("name=phone&csrf={other}"), &[]).await;
        assert_eq!(a.status, 409, "{}", a.body);
        let a = post(&lab, "/peers/add", "name=phone", &[]).await;
        assert_eq!(a.status, 409, "{}", a.body);
        let a = post(
            &lab,
            "/peers/add",
            "name=phone",
            &[("origin", "https://evil.example")],
        )
        .await;
        assert_eq!(a.status, 403, "{}", a.body);
        let token = test_secret().token(&lab.laptop_key);
        let a = post(&lab, "/peers/add", &format!("name=phone&csrf={token}"), &[]).await;
        assert_eq!(a.status, 409, "{}", a.body);
        assert!(a.body.contains("built-in default"), "{}", a.body);
        let a = post(&lab, "/peers/tablet/remove", &format!("csrf={token}"), &[]).await;
        assert_eq!(a.status, 409, "{}", a.body);
        assert_eq!(lab.reloads.get(), 0);
    });
}

#[test]
fn events_stream_the_status_and_are_capped() {
    local(async {
        let lab = start("events", true, 1);
        let response = open(
            &lab,
            as_peer(&lab, Some(LAPTOP), "GET", "/events")
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["content-security-policy"], CSP);
        let mut body = response.into_body();
        let mut seen = String::new();
        while !seen.contains("\n\ndata: ") || !seen.ends_with("\n\n") {
            let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
                .await
                .expect("an event within 5 s")
                .unwrap()
                .unwrap();
            if let Ok(data) = frame.into_data() {
                seen.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
        assert!(seen.starts_with("retry: 3000\n\n"), "{seen}");
        let json = seen.split("data: ").nth(1).unwrap().trim();
        let event: Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            event["peers"]["laptop"],
            json!({"rx": 1, "tx": 2, "hs": 3, "endpoint": "10.99.0.1:5000"})
        );
        assert_eq!(event["routes"], json!([{"requests": 6, "errors": 1}]));
        assert!(event["t"].as_u64().unwrap() > 1_700_000_000_000);
        assert_eq!(lab.stats.event_streams.load(Ordering::Relaxed), 1);

        // One stream is the maximum here.
        let a = get(&lab, Some(LAPTOP), "/events").await;
        assert_eq!(a.status, 503);
        assert_eq!(lab.stats.event_streams_refused.load(Ordering::Relaxed), 1);

        // Closing the stream frees its slot.
        drop(body);
        tokio::time::timeout(Duration::from_secs(5), async {
            while lab.stats.event_streams.load(Ordering::Relaxed) != 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the stream's slot is freed");
    });
}
