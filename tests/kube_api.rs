//! The fake Kubernetes API server (`wingress_lab::kube_api`) checked with
//! kube-rs as the client, configured from the kubeconfig the server writes
//! (its CA, its URL, a token file): paginated lists, the watcher through
//! adds, changes, deletes, bookmarks, streaming lists and a `410 Gone`
//! relist, token rotation through the token file, 403 outside the
//! packaging's ClusterRole, restarts; and the RBAC check: every request a
//! discovery-shaped client makes is allowed by that ClusterRole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{ObjectReference, Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::Client;
use serde_json::{json, Value};
use wingress_lab::kube_api::{ClusterRole, FakeApiServer, FakeConfig, RecordedRequest};

/// The kustomize component whose ClusterRole discovery runs under.
const DISCOVERY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../packaging/kubernetes/discovery"
);
const WAIT: Duration = Duration::from_secs(10);

fn scratch() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "wingress-kube-api-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn role() -> ClusterRole {
    ClusterRole::from_dir(Path::new(DISCOVERY)).expect("the discovery component's ClusterRole")
}

async fn start(with_role: bool) -> Result<FakeApiServer> {
    let mut config = FakeConfig::new(scratch());
    config.role = with_role.then(role);
    FakeApiServer::start(config).await
}

/// A client from the server's kubeconfig file, as `--kubeconfig` would
/// make one.
async fn client_from(kubeconfig: &Path) -> Result<Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    Ok(Client::try_from(config)?)
}

async fn client(server: &FakeApiServer) -> Result<Client> {
    client_from(&server.kubeconfig()).await
}

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..ObjectMeta::default()
    }
}

fn service(ns: &str, name: &str, port: i32) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                port,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn ingress_yaml(name: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: apps
spec:
  ingressClassName: wingress
  rules:
    - host: {host}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 80
"
    )
}

/// The next item of `stream` within [`WAIT`].
async fn next<S, T>(stream: &mut S) -> Result<T>
where
    S: Stream<Item = T> + Unpin,
{
    tokio::time::timeout(WAIT, stream.next())
        .await
        .context("nothing within the wait")?
        .context("the stream ended")
}

/// Watcher events until `want` holds for one (errors are kept in `seen`).
async fn until<S, K>(
    stream: &mut S,
    seen: &mut Vec<String>,
    want: impl Fn(&watcher::Event<K>) -> bool,
) -> Result<()>
where
    S: Stream<Item = watcher::Result<watcher::Event<K>>> + Unpin,
    K: kube::Resource,
{
    loop {
        match next(stream).await? {
            Ok(ev) => {
                let label = match &ev {
                    watcher::Event::Apply(o) => {
                        format!("apply {}", o.meta().name.clone().unwrap_or_default())
                    }
                    watcher::Event::Delete(o) => {
                        format!("delete {}", o.meta().name.clone().unwrap_or_default())
                    }
                    watcher::Event::Init => "init".into(),
                    watcher::Event::InitApply(o) => {
                        format!("initapply {}", o.meta().name.clone().unwrap_or_default())
                    }
                    watcher::Event::InitDone => "initdone".into(),
                };
                seen.push(label);
                if want(&ev) {
                    return Ok(());
                }
            }
            Err(e) => seen.push(format!("error {e}")),
        }
    }
}

fn count(requests: &[RecordedRequest], verb: &str, resource: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.verb.as_deref() == Some(verb) && r.resource.as_deref() == Some(resource))
        .count()
}

// === lists ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_with_limit_and_continue() -> Result<()> {
    let server = start(true).await?;
    for (i, ns) in ["a", "b", "b", "c", "d"].iter().enumerate() {
        server.apply(&service(ns, &format!("svc{i}"), 80))?;
    }
    let api: Api<Service> = Api::all(client(&server).await?);
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(2);
    let mut pages = 0;
    let mut versions = Vec::new();
    loop {
        let page = api.list(&lp).await?;
        pages += 1;
        ensure!(page.items.len() <= 2, "a page of {}", page.items.len());
        versions.push(page.metadata.resource_version.clone());
        names.extend(
            page.items
                .iter()
                .map(|s| s.metadata.name.clone().unwrap_or_default()),
        );
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp = lp.continue_token(&token),
            _ => break,
        }
        // Writes between pages do not show in the rest of the list: the
        // pages are one snapshot, as etcd's.
        server.apply(&service("a", "late", 81))?;
    }
    ensure!(pages == 3, "{pages} pages");
    ensure!(
        names == ["svc0", "svc1", "svc2", "svc3", "svc4"],
        "{names:?}"
    );
    ensure!(versions.windows(2).all(|w| w[0] == w[1]), "{versions:?}");
    let lists: Vec<RecordedRequest> = server
        .requests()
        .into_iter()
        .filter(|r| r.verb.as_deref() == Some("list"))
        .collect();
    ensure!(
        lists.len() == 3 && lists.iter().all(|r| r.query.contains("limit=2")),
        "{lists:?}"
    );
    ensure!(
        lists[1..].iter().all(|r| r.query.contains("continue=")),
        "{lists:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_answers_as_the_real_server_does() -> Result<()> {
    let server = start(true).await?;
    let client = client(&server).await?;
    server.apply(&service("apps", "web", 80))?;
    server.apply_yaml(
        "apiVersion: v1
kind: Secret
metadata: {name: web-tls, namespace: apps}
type: kubernetes.io/tls
data: {tls.crt: '', tls.key: ''}
---
apiVersion: v1
kind: Secret
metadata: {name: password, namespace: apps}
type: Opaque
data: {password: aHVudGVyMg==}
",
    )?;
    let raw = client
        .request_text(http::Request::get("/api/v1/namespaces/apps/services?limit=10").body(vec![])?)
        .await?;
    let list: Value = serde_json::from_str(&raw)?;
    ensure!(
        list["kind"] == "ServiceList" && list["apiVersion"] == "v1",
        "{list}"
    );
    ensure!(list["metadata"]["resourceVersion"].is_string(), "{list}");
    let item = &list["items"][0];
    ensure!(
        item.get("kind").is_none() && item.get("apiVersion").is_none(),
        "{item}"
    );
    ensure!(
        item["metadata"]["uid"].is_string() && item["metadata"]["resourceVersion"].is_string(),
        "{item}"
    );
    // Only kubernetes.io/tls Secrets, as discovery asks.
    let secrets: Api<Secret> = Api::all(client.clone());
    let tls = secrets
        .list(&ListParams::default().fields("type=kubernetes.io/tls"))
        .await?;
    let names: Vec<_> = tls
        .items
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    ensure!(names == ["web-tls"], "{names:?}");
    // One object, with its type; a missing one is the real 404 Status.
    let svc: Api<Service> = Api::namespaced(client.clone(), "apps");
    ensure!(svc.get("web").await?.metadata.name.as_deref() == Some("web"));
    match svc.get("nope").await {
        Err(kube::Error::Api(s)) => ensure!(s.code == 404 && s.reason == "NotFound", "{s:?}"),
        other => bail!("{other:?}"),
    }
    Ok(())
}

// === watches ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_adds_changes_and_deletes() -> Result<()> {
    let server = start(true).await?;
    server.apply_yaml(&ingress_yaml("first", "a.example"))?;
    let api: Api<Ingress> = Api::all(client(&server).await?);
    let mut stream = watcher(api, watcher::Config::default()).boxed();
    let mut seen = Vec::new();
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::InitDone)
    })
    .await?;
    ensure!(seen == ["init", "initapply first", "initdone"], "{seen:?}");

    server.apply_yaml(&ingress_yaml("second", "b.example"))?;
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::Apply(_))
    })
    .await?;
    server.apply_yaml(&ingress_yaml("second", "c.example"))?;
    let host = loop {
        if let watcher::Event::Apply(i) = next(&mut stream).await?? {
            break i.spec.and_then(|s| s.rules).and_then(|r| r[0].host.clone());
        }
    };
    ensure!(host.as_deref() == Some("c.example"), "{host:?}");
    server.delete("networking.k8s.io/v1", "Ingress", "apps", "first")?;
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::Delete(_))
    })
    .await?;
    ensure!(
        seen.last().map(String::as_str) == Some("delete first"),
        "{seen:?}"
    );
    // A status patch is a MODIFIED like any write.
    let namespaced: Api<Ingress> = Api::namespaced(client(&server).await?, "apps");
    let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": "100.64.0.9"}]}}});
    namespaced
        .patch_status("second", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    let ip = loop {
        if let watcher::Event::Apply(i) = next(&mut stream).await?? {
            break i
                .status
                .and_then(|s| s.load_balancer)
                .and_then(|l| l.ingress)
                .and_then(|i| i[0].ip.clone());
        }
    };
    ensure!(ip.as_deref() == Some("100.64.0.9"), "{ip:?}");
    // The same patch again changes nothing: no new version, no event.
    let rv = server.resource_version();
    namespaced
        .patch_status("second", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    ensure!(server.resource_version() == rv);
    // kube-rs's watcher lists then watches from the list's version, with
    // bookmarks.
    let reqs = server.requests();
    let watch = reqs
        .iter()
        .find(|r| r.verb.as_deref() == Some("watch"))
        .context("no watch")?;
    ensure!(
        watch.query.contains("watch=true") && watch.query.contains("allowWatchBookmarks=true"),
        "{watch:?}"
    );
    ensure!(count(&reqs, "list", "ingresses") == 1, "{reqs:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_chunked_json_with_bookmarks() -> Result<()> {
    let server = start(true).await?;
    server.apply(&service("apps", "web", 80))?;
    let client = client(&server).await?;
    // The raw answer: 200, JSON, chunked.
    let resp = client
        .send(
            http::Request::get(
                "/api/v1/services?watch=1&allowWatchBookmarks=true&timeoutSeconds=1",
            )
            .body(kube::client::Body::empty())?,
        )
        .await?;
    ensure!(resp.status() == 200, "{resp:?}");
    ensure!(
        resp.headers()["content-type"] == "application/json",
        "{resp:?}"
    );
    ensure!(resp.headers()["transfer-encoding"] == "chunked", "{resp:?}");

    let api: Api<Service> = Api::all(client);
    let rv = server.resource_version().to_string();
    let mut stream = api.watch(&WatchParams::default(), &rv).await?.boxed();
    server.apply(&service("apps", "api", 81))?;
    match next(&mut stream).await?? {
        WatchEvent::Added(s) => ensure!(s.metadata.name.as_deref() == Some("api")),
        other => bail!("{other:?}"),
    }
    server.bookmark();
    match next(&mut stream).await?? {
        WatchEvent::Bookmark(b) => {
            ensure!(b.metadata.resource_version == server.resource_version().to_string())
        }
        other => bail!("{other:?}"),
    }
    // A compaction does not break an open watch that has sent everything.
    server.compact();
    server.apply(&service("apps", "late", 82))?;
    match next(&mut stream).await?? {
        WatchEvent::Added(s) => ensure!(s.metadata.name.as_deref() == Some("late")),
        other => bail!("{other:?}"),
    }
    server.delete("v1", "Service", "apps", "late")?;
    // resourceVersion 0: the current objects first, as ADDED.
    let mut from_zero = api.watch(&WatchParams::default(), "0").await?.boxed();
    let mut names = Vec::new();
    for _ in 0..2 {
        if let WatchEvent::Added(s) = next(&mut from_zero).await?? {
            names.extend(s.metadata.name);
        }
    }
    ensure!(names == ["api", "web"], "{names:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_list_ends_with_the_initial_events_bookmark() -> Result<()> {
    let server = start(true).await?;
    for name in ["a", "b", "c"] {
        server.apply_yaml(&ingress_yaml(name, &format!("{name}.example")))?;
    }
    let api: Api<Ingress> = Api::namespaced(client(&server).await?, "apps");
    let mut stream = watcher(api, watcher::Config::default().streaming_lists()).boxed();
    let mut seen = Vec::new();
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::InitDone)
    })
    .await?;
    ensure!(
        seen == [
            "init",
            "initapply a",
            "initapply b",
            "initapply c",
            "initdone"
        ],
        "{seen:?}"
    );
    server.apply_yaml(&ingress_yaml("d", "d.example"))?;
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::Apply(_))
    })
    .await?;
    let reqs = server.requests();
    ensure!(count(&reqs, "list", "ingresses") == 0, "{reqs:?}");
    let first = reqs
        .iter()
        .find(|r| r.verb.as_deref() == Some("watch"))
        .context("no watch")?;
    ensure!(
        first.query.contains("sendInitialEvents=true")
            && first.query.contains("resourceVersionMatch=NotOlderThan"),
        "{first:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_after_compaction_makes_the_watcher_relist() -> Result<()> {
    let mut config = FakeConfig::new(scratch());
    config.role = Some(role());
    // No periodic bookmark may move the client past the compaction point.
    config.bookmark_interval = Duration::from_secs(3600);
    let server = FakeApiServer::start(config).await?;
    server.apply(&service("apps", "web", 80))?;
    let api: Api<Service> = Api::all(client(&server).await?);
    let mut stream = watcher(api, watcher::Config::default()).boxed();
    let mut seen = Vec::new();
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::InitDone)
    })
    .await?;
    ensure!(count(&server.requests(), "list", "services") == 1);

    // A write, then a compaction: the open watch goes on (it has sent
    // the write, or gets 410 if the compaction took it first); ending it
    // makes kube-rs watch again from its version, now too old.
    server.apply(&service("apps", "api", 81))?;
    server.compact();
    server.end_watches();
    // The re-watch from the old version gets ERROR 410; kube-rs starts
    // over with a new list, which has both Services.
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::InitDone)
    })
    .await?;
    ensure!(
        seen.iter()
            .any(|s| s.contains("410") || s.contains("too old")),
        "{seen:?}"
    );
    ensure!(
        seen.ends_with(&[
            "init".into(),
            "initapply api".into(),
            "initapply web".into(),
            "initdone".into()
        ]),
        "{seen:?}"
    );
    let reqs = server.requests();
    ensure!(count(&reqs, "list", "services") == 2, "{reqs:?}");
    Ok(())
}

// === authentication and authorization ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_file_is_read_again() -> Result<()> {
    let server = start(true).await?;
    let client = client(&server).await?;
    let api: Api<Service> = Api::all(client);
    api.list(&ListParams::default()).await?;
    let old = server.token();
    server.rotate_token("wingress-token-2", Duration::from_secs(300))?;
    // kube-rs keeps a token file's contents for a minute (re-reading it
    // when less than ten seconds are left), so the new token shows within
    // about 50 s; meanwhile the old one is in its grace.
    let began = Instant::now();
    loop {
        api.list(&ListParams::default()).await?;
        let last = server.requests().pop().context("no request")?;
        if !last.old_token {
            break;
        }
        ensure!(
            began.elapsed() < Duration::from_secs(75),
            "the token file was not read again"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    eprintln!("the new token in use after {:?}", began.elapsed());
    // The old token's grace ends; the client goes on with the new one.
    server.expire_old_tokens();
    api.list(&ListParams::default()).await?;
    // A client still holding the old token gets 401.
    let stale = server.dir().join("stale-token");
    std::fs::write(&stale, &old)?;
    let kc = server.dir().join("stale-kubeconfig");
    wingress_lab::kube_api::write_kubeconfig(&kc, &server.url(), server.ca_pem(), &stale)?;
    let stale_api: Api<Service> = Api::all(client_from(&kc).await?);
    match stale_api.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => ensure!(s.code == 401 && s.reason == "Unauthorized", "{s:?}"),
        other => bail!("{other:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_outside_the_cluster_role_get_403() -> Result<()> {
    let server = start(true).await?;
    let client = client(&server).await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "apps");
    let secret = Secret {
        metadata: meta("apps", "stolen"),
        ..Secret::default()
    };
    match secrets.create(&PostParams::default(), &secret).await {
        Err(kube::Error::Api(s)) => {
            ensure!(s.code == 403 && s.reason == "Forbidden", "{s:?}");
            ensure!(
                s.message.contains("cannot create resource \"secrets\" in API group \"\" in the namespace \"apps\""),
                "{}",
                s.message
            );
        }
        other => bail!("{other:?}"),
    }
    // Patching an Ingress itself, not its status, is outside the role too.
    server.apply_yaml(&ingress_yaml("web", "a.example"))?;
    let ingresses: Api<Ingress> = Api::namespaced(client, "apps");
    let patch = json!({"metadata": {"labels": {"x": "y"}}});
    match ingresses
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(s)) => ensure!(s.code == 403, "{s:?}"),
        other => bail!("{other:?}"),
    }
    let outside = server.requests_outside(&role());
    ensure!(
        outside.len() == 2 && outside.iter().all(|r| r.code == 403),
        "{outside:?}"
    );
    Ok(())
}

/// What discovery does (kube-watch's part), made with kube-rs: watchers
/// over the four kinds (TLS Secrets only), the status address patched
/// both ways kube-rs can, an Event through the Recorder, twice (the
/// second is a patch of a series). Every request must be inside the
/// packaging's ClusterRole: the fake's 403s would fail the calls, and the
/// recorded requests are checked against the role as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_requests_are_inside_the_cluster_role() -> Result<()> {
    let server = start(true).await?;
    server.apply_yaml(&ingress_yaml("web", "a.example"))?;
    server.apply(&service("apps", "web", 80))?;
    server.apply(&EndpointSlice {
        metadata: meta("apps", "web-abcde"),
        address_type: "IPv4".into(),
        endpoints: Vec::new(),
        ports: None,
    })?;
    let client = client(&server).await?;
    let watchers = vec![
        watcher(
            Api::<Ingress>::all(client.clone()),
            watcher::Config::default(),
        )
        .map(|e| e.map(|ev| matches!(ev, watcher::Event::InitDone)))
        .boxed(),
        watcher(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
        )
        .map(|e| e.map(|ev| matches!(ev, watcher::Event::InitDone)))
        .boxed(),
        watcher(
            Api::<EndpointSlice>::all(client.clone()),
            watcher::Config::default(),
        )
        .map(|e| e.map(|ev| matches!(ev, watcher::Event::InitDone)))
        .boxed(),
        watcher(
            Api::<Secret>::all(client.clone()),
            watcher::Config::default().fields("type=kubernetes.io/tls"),
        )
        .map(|e| e.map(|ev| matches!(ev, watcher::Event::InitDone)))
        .boxed(),
    ];
    for mut w in watchers {
        // Init, the objects, InitDone: the list; then the watch, from a
        // task that keeps the watcher going.
        while !next(&mut w).await?? {}
        tokio::spawn(async move { while w.next().await.is_some() {} });
    }
    let began = Instant::now();
    while count(&server.requests(), "watch", "secrets") == 0 {
        ensure!(began.elapsed() < WAIT, "no watch of secrets");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "apps");
    let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": "100.64.0.1"}]}}});
    ingresses
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    let applied = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "status": {"loadBalancer": {"ingress": [{"ip": "100.64.0.2"}]}},
    });
    let after = ingresses
        .patch_status(
            "web",
            &PatchParams::apply("wingress").force(),
            &Patch::Apply(&applied),
        )
        .await?;
    let ip = after
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|l| l.ingress)
        .and_then(|i| i[0].ip.clone());
    ensure!(ip.as_deref() == Some("100.64.0.2"), "{ip:?}");
    let stored = server
        .object("networking.k8s.io/v1", "Ingress", "apps", "web")
        .context("the Ingress")?;
    ensure!(stored["metadata"]["generation"] == 1, "{stored}");

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "wingress".into(),
            instance: Some("node-a".into()),
        },
    );
    let reference = ObjectReference {
        api_version: Some("networking.k8s.io/v1".into()),
        kind: Some("Ingress".into()),
        name: Some("web".into()),
        namespace: Some("apps".into()),
        ..ObjectReference::default()
    };
    let event = KubeEvent {
        type_: EventType::Warning,
        reason: "BadAnnotation".into(),
        note: Some("wingress.dev/access: unknown mode".into()),
        action: "Skip".into(),
        secondary: None,
    };
    recorder.publish(&event, &reference).await?;
    recorder.publish(&event, &reference).await?;
    // Core v1 Events, as older tooling writes them.
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "apps");
    core.create(
        &PostParams::default(),
        &k8s_openapi::api::core::v1::Event {
            metadata: ObjectMeta {
                generate_name: Some("web.".into()),
                ..ObjectMeta::default()
            },
            involved_object: reference.clone(),
            reason: Some("BadAnnotation".into()),
            ..k8s_openapi::api::core::v1::Event::default()
        },
    )
    .await?;
    let mut events = server.events();
    ensure!(events.len() == 2, "{events:?}");
    ensure!(
        events[0]["apiVersion"] == "v1"
            && events[0]["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("web.")),
        "{}",
        events[0]
    );
    events.remove(0);
    ensure!(
        events[0]["apiVersion"] == "events.k8s.io/v1" && events[0]["reason"] == "BadAnnotation",
        "{}",
        events[0]
    );
    ensure!(events[0]["series"]["count"] == 2, "{}", events[0]);

    let reqs = server.requests();
    let mut verbs: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reqs {
        *verbs
            .entry(format!(
                "{} {}{}",
                r.verb.clone().unwrap_or_default(),
                r.resource.clone().unwrap_or_default(),
                r.subresource
                    .as_ref()
                    .map(|s| format!("/{s}"))
                    .unwrap_or_default()
            ))
            .or_default() += 1;
    }
    eprintln!("requests: {verbs:?}");
    ensure!(reqs.iter().all(|r| r.code < 400), "{reqs:?}");
    let outside = server.requests_outside(&role());
    ensure!(outside.is_empty(), "outside the ClusterRole: {outside:?}");
    // Secrets only ever asked for by type, list and watch alike.
    let secret_reqs: Vec<_> = reqs
        .iter()
        .filter(|r| r.resource.as_deref() == Some("secrets"))
        .collect();
    ensure!(
        secret_reqs
            .iter()
            .all(|r| r.query.contains("fieldSelector=type%3Dkubernetes.io%2Ftls")),
        "{secret_reqs:?}"
    );
    for want in [
        "list ingresses",
        "watch ingresses",
        "watch services",
        "watch endpointslices",
        "watch secrets",
        "patch ingresses/status",
        "create events",
        "patch events",
    ] {
        ensure!(verbs.contains_key(want), "no {want}: {verbs:?}");
    }
    Ok(())
}

// === restarts ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_refuses_and_restarts_with_or_without_state() -> Result<()> {
    let mut server = start(true).await?;
    server.apply(&service("apps", "web", 80))?;
    let api: Api<Service> = Api::all(client(&server).await?);
    ensure!(api.list(&ListParams::default()).await?.items.len() == 1);
    server.stop().await;
    ensure!(
        std::net::TcpStream::connect_timeout(&server.addr(), Duration::from_secs(1)).is_err(),
        "still listening"
    );
    ensure!(
        api.list(&ListParams::default()).await.is_err(),
        "answered while stopped"
    );
    server.restart(true).await?;
    let api: Api<Service> = Api::all(client(&server).await?);
    ensure!(api.list(&ListParams::default()).await?.items.len() == 1);
    // A watcher across a restart that keeps the state: its watch breaks,
    // it watches again from its version and sees what came after.
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    let mut seen = Vec::new();
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::InitDone)
    })
    .await?;
    server.restart(true).await?;
    server.apply(&service("apps", "after", 80))?;
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::Apply(_))
    })
    .await?;
    ensure!(
        seen.last().map(String::as_str) == Some("apply after"),
        "{seen:?}"
    );
    // Without the state, everything is gone and the old version is too
    // old: the watcher relists and finds nothing.
    server.restart(false).await?;
    until(&mut stream, &mut seen, |e| {
        matches!(e, watcher::Event::InitDone)
    })
    .await?;
    ensure!(
        seen.ends_with(&["init".into(), "initdone".into()]),
        "{seen:?}"
    );
    let api: Api<Service> = Api::all(client(&server).await?);
    ensure!(api.list(&ListParams::default()).await?.items.is_empty());
    Ok(())
}
