use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::watcher::Event;
use serde_json::{json, Value};

use super::*;
use crate::kube::trim::Trimmed;

fn ingress(name: &str, rv: &str, status: Value) -> Ingress {
    serde_json::from_value::<Ingress>(json!({
        "metadata": { "name": name, "namespace": "apps", "resourceVersion": rv },
        "spec": {},
        "status": status
    }))
    .unwrap()
    .trim()
}

fn key(name: &str) -> ObjectKey {
    ("apps".into(), name.into())
}

fn stores_with(ingresses: Vec<Ingress>) -> Stores {
    let mut stores = Stores::new(1);
    stores.ingresses[0].handle(Event::Init);
    for i in ingresses {
        stores.ingresses[0].handle(Event::InitApply(i));
    }
    stores.ingresses[0].handle(Event::InitDone);
    stores
}

#[test]
fn address_parses_as_ip_or_hostname() {
    assert_eq!(
        StatusAddress::parse("192.0.2.7"),
        StatusAddress::Ip("192.0.2.7".parse().unwrap())
    );
    assert_eq!(
        StatusAddress::parse("Ingress.Example.COM"),
        StatusAddress::Hostname("ingress.example.com".into())
    );
}

#[test]
fn patch_bodies() {
    assert_eq!(
        patch_body(&StatusAddress::parse("fd00::1")),
        json!({ "status": { "loadBalancer": { "ingress": [{ "ip": "fd00::1" }] } } })
    );
    assert_eq!(
        patch_body(&StatusAddress::parse("lb.example.com")),
        json!({ "status": { "loadBalancer": { "ingress": [{ "hostname": "lb.example.com" }] } } })
    );
}

#[test]
fn needs_patch_unless_exactly_the_address() {
    let ip = StatusAddress::parse("192.0.2.7");
    let empty = ingress("a", "1", json!({ "loadBalancer": {} }));
    assert!(needs_patch(&empty, &ip));
    let none = ingress("a", "1", Value::Null);
    assert!(needs_patch(&none, &ip));
    let same = ingress(
        "a",
        "1",
        json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.7" }] } }),
    );
    assert!(!needs_patch(&same, &ip));
    let other = ingress(
        "a",
        "1",
        json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.8" }] } }),
    );
    assert!(needs_patch(&other, &ip));
    let two = ingress(
        "a",
        "1",
        json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.7" }, { "ip": "192.0.2.8" }] } }),
    );
    assert!(needs_patch(&two, &ip));
    let as_name = ingress(
        "a",
        "1",
        json!({ "loadBalancer": { "ingress": [{ "hostname": "192.0.2.7" }] } }),
    );
    assert!(needs_patch(&as_name, &ip));
}

#[test]
fn plans_accepted_differing_ingresses_once_per_version() {
    let addr = StatusAddress::parse("192.0.2.7");
    let done = json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.7" }] } });
    let mut stores = stores_with(vec![
        ingress("a", "1", Value::Null),
        ingress("b", "1", done.clone()),
        ingress("c", "1", Value::Null),
    ]);
    let mut planner = StatusPlanner::new(addr);
    planner.set_accepted([key("a"), key("b"), key("gone")]);
    let keys = planner.accepted();
    // c is not accepted, b already holds the address, gone is not stored.
    assert_eq!(planner.plan(&stores, &keys), [key("a")]);
    // Until the watch delivers a new version of a, it is not patched again.
    assert!(planner.plan(&stores, &keys).is_empty());
    // Our write's echo: equal now, nothing to do.
    stores.ingresses[0].handle(Event::Apply(ingress("a", "2", done)));
    assert!(planner.plan(&stores, &[key("a")]).is_empty());
    // Someone else overwrites it: written back.
    stores.ingresses[0].handle(Event::Apply(ingress("a", "3", Value::Null)));
    assert_eq!(planner.plan(&stores, &[key("a")]), [key("a")]);
    // A failed write is retried at the same version.
    planner.handle_failed(&key("a"));
    assert_eq!(planner.plan(&stores, &[key("a")]), [key("a")]);
}

#[test]
fn no_longer_accepted_is_forgotten() {
    let stores = stores_with(vec![ingress("a", "1", Value::Null)]);
    let mut planner = StatusPlanner::new(StatusAddress::parse("lb.example.com"));
    planner.set_accepted([key("a")]);
    assert_eq!(planner.plan(&stores, &[key("a")]), [key("a")]);
    planner.set_accepted([]);
    assert!(planner.plan(&stores, &[key("a")]).is_empty());
    planner.set_accepted([key("a")]);
    assert_eq!(planner.plan(&stores, &[key("a")]), [key("a")]);
}
