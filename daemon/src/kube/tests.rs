use std::time::{Duration, Instant};

use super::*;

/// A kubeconfig for an API server at `server`, with a token.
fn kubeconfig(name: &str, server: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wingress-kube-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    token: t0ken
contexts:
- name: x
  context:
    cluster: c
    user: u
current-context: x
"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn options(kubeconfig: Option<PathBuf>) -> WatchOptions {
    WatchOptions {
        kubeconfig,
        namespaces: Vec::new(),
        debounce: Duration::from_millis(100),
        status_address: Some("192.0.2.7".into()),
        reporter_instance: None,
    }
}

#[test]
fn a_missing_kubeconfig_is_a_start_up_error() {
    let err = spawn(options(Some("/nonexistent/kubeconfig".into()))).unwrap_err();
    assert!(
        format!("{err:#}").contains("/nonexistent/kubeconfig"),
        "{err:#}"
    );
}

#[test]
fn outside_a_cluster_without_kubeconfig_is_a_start_up_error() {
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return;
    }
    let err = spawn(options(None)).unwrap_err();
    assert!(format!("{err:#}").contains("kubeconfig"), "{err:#}");
}

#[test]
fn an_unreachable_api_server_shows_in_the_health_and_stops_cleanly() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = kubeconfig("unreachable", &format!("https://127.0.0.1:{port}"));
    let watch = spawn(options(Some(path.clone()))).unwrap();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        let h = watch.health.get();
        if h.error.is_some() || Instant::now() > deadline {
            break h;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(health.error.is_some(), "{health:?}");
    assert!(health.broken_since.is_some());
    assert!(!health.synced);
    assert!(
        watch.snapshots.borrow().is_none(),
        "no snapshot before the lists"
    );
    // Outcomes can be reported at any time; nothing is written for them
    // before the Ingresses are known.
    watch.status.report(MappingOutcome {
        accepted: vec![("apps".into(), "web".into())],
        problems: vec![IngressProblem {
            ingress: ("apps".into(), "web".into()),
            reason: "RouteRejected".into(),
            message: "bad".into(),
        }],
    });
    watch.shutdown();
}
