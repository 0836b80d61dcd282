use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::watcher::Event;
use serde_json::json;

use super::*;
use crate::kube::trim::Trimmed;

fn ingress(name: &str, host: &str, rv: &str) -> Ingress {
    serde_json::from_value::<Ingress>(json!({
        "metadata": { "name": name, "namespace": "apps", "resourceVersion": rv },
        "spec": { "rules": [{ "host": host }] }
    }))
    .unwrap()
    .trim()
}

fn service(name: &str) -> Service {
    serde_json::from_value::<Service>(json!({
        "metadata": { "name": name, "namespace": "apps" },
        "spec": { "clusterIP": "10.96.0.1" }
    }))
    .unwrap()
}

/// Lists `objs` into `store` as the watcher does; returns InitDone's
/// answer.
fn list<K: Resource + Trimmed + Clone>(store: &mut Store<K>, objs: Vec<K>) -> bool {
    assert!(!store.handle(Event::Init));
    for o in objs {
        assert!(!store.handle(Event::InitApply(o)));
    }
    store.handle(Event::InitDone)
}

#[test]
fn first_list_is_a_change_even_when_empty() {
    let mut store = Store::<Ingress>::default();
    assert!(!store.listed());
    assert!(list(&mut store, vec![]));
    assert!(store.listed());
}

#[test]
fn relist_replaces_contents_only_when_done() {
    let mut store = Store::default();
    list(
        &mut store,
        vec![
            ingress("a", "a.example", "1"),
            ingress("b", "b.example", "1"),
        ],
    );
    // A 410 Gone: the watcher lists again. Until InitDone, the old
    // contents stay.
    store.handle(Event::Init);
    store.handle(Event::InitApply(ingress("a", "a.example", "5")));
    assert_eq!(store.len(), 2);
    assert!(
        store.handle(Event::InitDone),
        "b went away while the watch was gone"
    );
    assert_eq!(store.len(), 1);
    assert!(store.get(&("apps".into(), "b".into())).is_none());
}

#[test]
fn relist_of_the_same_objects_changes_nothing() {
    let mut store = Store::default();
    list(&mut store, vec![ingress("a", "a.example", "1")]);
    assert!(!list(&mut store, vec![ingress("a", "a.example", "9")]));
    // The newest resource version is kept all the same.
    let a = store.get(&("apps".into(), "a".into())).unwrap();
    assert_eq!(a.metadata.resource_version.as_deref(), Some("9"));
}

#[test]
fn apply_and_delete() {
    let mut store = Store::default();
    list(&mut store, vec![]);
    assert!(store.handle(Event::Apply(ingress("a", "a.example", "1"))));
    // Same for the mapping (only the version moved): stored, no change.
    assert!(!store.handle(Event::Apply(ingress("a", "a.example", "2"))));
    let key = ("apps".to_string(), "a".to_string());
    assert_eq!(
        store
            .get(&key)
            .unwrap()
            .metadata
            .resource_version
            .as_deref(),
        Some("2")
    );
    assert!(store.handle(Event::Apply(ingress("a", "other.example", "3"))));
    assert!(store.handle(Event::Delete(ingress("a", "other.example", "4"))));
    assert!(!store.handle(Event::Delete(ingress("a", "other.example", "4"))));
    assert_eq!(store.len(), 0);
}

#[test]
fn barrier_waits_for_every_stream_of_every_kind() {
    let mut stores = Stores::new(2);
    assert!(!stores.all_listed());
    list(
        &mut stores.ingresses[0],
        vec![ingress("a", "a.example", "1")],
    );
    list(&mut stores.ingresses[1], vec![]);
    list(&mut stores.services[0], vec![service("web")]);
    list(&mut stores.services[1], vec![]);
    list(&mut stores.endpoint_slices[0], vec![]);
    list(&mut stores.endpoint_slices[1], vec![]);
    list(&mut stores.secrets[0], vec![]);
    assert!(
        !stores.all_listed(),
        "one namespace's Secrets are not listed yet"
    );
    list(&mut stores.secrets[1], vec![]);
    assert!(stores.all_listed());
    let snap = stores.snapshot();
    assert_eq!(snap.ingresses.len(), 1);
    assert_eq!(snap.services.len(), 1);
    assert_eq!(stores.counts(), [1, 1, 0, 0]);
    assert!(stores.ingress(&("apps".into(), "a".into())).is_some());
}

#[test]
fn cluster_wide_is_one_stream() {
    let stores = Stores::new(0);
    assert_eq!(stores.ingresses.len(), 1);
    assert_eq!(stores.secrets.len(), 1);
}

#[test]
fn snapshots_share_objects_with_the_store() {
    let mut stores = Stores::new(1);
    list(
        &mut stores.ingresses[0],
        vec![
            ingress("a", "a.example", "1"),
            ingress("b", "b.example", "1"),
        ],
    );
    let first = stores.snapshot();
    let second = stores.snapshot();
    // The same objects, not copies of them.
    assert!(Arc::ptr_eq(&first.ingresses[0], &second.ingresses[0]));
    assert!(Arc::ptr_eq(&first.ingresses[1], &second.ingresses[1]));
    // An edit replaces one object; the others stay shared, and the old
    // snapshot keeps what it was built from.
    assert!(stores.ingresses[0].handle(Event::Apply(ingress("b", "c.example", "2"))));
    let third = stores.snapshot();
    assert!(Arc::ptr_eq(&first.ingresses[0], &third.ingresses[0]));
    assert!(!Arc::ptr_eq(&first.ingresses[1], &third.ingresses[1]));
    assert_eq!(
        Arc::strong_count(&first.ingresses[1]),
        2,
        "first and second"
    );
}
