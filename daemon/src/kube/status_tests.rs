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

/// The keys of a plan, each checked to carry the address's patch.
fn published(plan: Vec<(ObjectKey, Value)>, address: &StatusAddress) -> Vec<ObjectKey> {
    plan.into_iter()
        .map(|(key, body)| {
            assert_eq!(body, patch_body(address), "{key:?}");
            key
        })
        .collect()
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
    let mut planner = StatusPlanner::new(addr.clone());
    planner.set_accepted([key("a"), key("b"), key("gone")]);
    let keys = planner.keys();
    // c is not accepted, b already holds the address, gone is not stored.
    assert_eq!(published(planner.plan(&stores, &keys), &addr), [key("a")]);
    // Until the watch delivers a new version of a, it is not patched again.
    assert!(planner.plan(&stores, &keys).is_empty());
    // Our write's echo: equal now, nothing to do.
    stores.ingresses[0].handle(Event::Apply(ingress("a", "2", done)));
    assert!(planner.plan(&stores, &[key("a")]).is_empty());
    // Someone else overwrites it: written back.
    stores.ingresses[0].handle(Event::Apply(ingress("a", "3", Value::Null)));
    assert_eq!(
        published(planner.plan(&stores, &[key("a")]), &addr),
        [key("a")]
    );
    // A failed write is retried at the same version.
    planner.handle_failed(&key("a"));
    assert_eq!(
        published(planner.plan(&stores, &[key("a")]), &addr),
        [key("a")]
    );
}

#[test]
fn no_longer_accepted_is_forgotten() {
    let stores = stores_with(vec![ingress("a", "1", Value::Null)]);
    let addr = StatusAddress::parse("lb.example.com");
    let mut planner = StatusPlanner::new(addr.clone());
    planner.set_accepted([key("a")]);
    assert_eq!(
        published(planner.plan(&stores, &[key("a")]), &addr),
        [key("a")]
    );
    // Withdrawn while its status holds no address: nothing to take out.
    planner.set_accepted([]);
    assert!(planner.plan(&stores, &[key("a")]).is_empty());
    planner.set_accepted([key("a")]);
    assert_eq!(
        published(planner.plan(&stores, &[key("a")]), &addr),
        [key("a")]
    );
}

#[test]
fn clear_bodies_keep_others_entries_or_remove_the_list() {
    let addr = StatusAddress::parse("192.0.2.7");
    let mixed = ingress(
        "a",
        "1",
        json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.7" }, { "hostname": "lb.other" }] } }),
    );
    let rest = without_address(&mixed, &addr).unwrap();
    assert_eq!(
        clear_body(&rest),
        json!({ "status": { "loadBalancer": { "ingress": [{ "hostname": "lb.other" }] } } })
    );
    let ours = ingress(
        "a",
        "1",
        json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.7" }] } }),
    );
    let rest = without_address(&ours, &addr).unwrap();
    assert_eq!(
        clear_body(&rest),
        json!({ "status": { "loadBalancer": { "ingress": null } } })
    );
    let other = ingress(
        "a",
        "1",
        json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.8" }] } }),
    );
    assert_eq!(without_address(&other, &addr), None);
    assert_eq!(
        without_address(&ingress("a", "1", Value::Null), &addr),
        None
    );
}

#[test]
fn no_longer_served_loses_the_address_once() {
    let addr = StatusAddress::parse("192.0.2.7");
    let done = json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.7" }] } });
    let mut stores = stores_with(vec![
        ingress("a", "1", done.clone()),
        ingress("b", "1", done.clone()),
    ]);
    let mut planner = StatusPlanner::new(addr.clone());
    planner.set_accepted([key("a"), key("b")]);
    assert!(planner.plan(&stores, &planner.keys()).is_empty());
    // b is rejected now (or its class changed): its address is taken out,
    // a keeps it.
    planner.set_accepted([key("a")]);
    assert_eq!(planner.keys(), [key("a"), key("b")]);
    let cleared = json!({ "status": { "loadBalancer": { "ingress": null } } });
    assert_eq!(
        planner.plan(&stores, &planner.keys()),
        [(key("b"), cleared.clone())]
    );
    assert!(planner.plan(&stores, &planner.keys()).is_empty());
    // The clear failed: taken out again.
    planner.handle_failed(&key("b"));
    assert_eq!(
        planner.plan(&stores, &planner.keys()),
        [(key("b"), cleared)]
    );
    // Our write's echo; then a node that still serves b writes the address
    // back: it stays, so the two nodes do not take turns.
    stores.ingresses[0].handle(Event::Apply(ingress("b", "2", Value::Null)));
    assert!(planner.plan(&stores, &[key("b")]).is_empty());
    stores.ingresses[0].handle(Event::Apply(ingress("b", "3", done)));
    assert!(planner.plan(&stores, &[key("b")]).is_empty());
    assert_eq!(planner.keys(), [key("a")]);
    // Served again: the address is written (it already is: nothing to do).
    planner.set_accepted([key("a"), key("b")]);
    assert!(planner.plan(&stores, &planner.keys()).is_empty());
}

#[test]
fn withdrawn_before_the_echo_of_its_write_is_cleared_on_the_echo() {
    let addr = StatusAddress::parse("192.0.2.7");
    let done = json!({ "loadBalancer": { "ingress": [{ "ip": "192.0.2.7" }] } });
    let mut stores = stores_with(vec![ingress("a", "1", Value::Null)]);
    let mut planner = StatusPlanner::new(addr.clone());
    planner.set_accepted([key("a")]);
    assert_eq!(
        published(planner.plan(&stores, &planner.keys()), &addr),
        [key("a")]
    );
    planner.set_accepted([]);
    assert!(planner.plan(&stores, &planner.keys()).is_empty());
    stores.ingresses[0].handle(Event::Apply(ingress("a", "2", done)));
    assert_eq!(planner.plan(&stores, &[key("a")]).len(), 1);
}

#[test]
fn a_deleted_withdrawn_ingress_is_forgotten() {
    let addr = StatusAddress::parse("192.0.2.7");
    let mut stores = stores_with(vec![ingress("a", "1", Value::Null)]);
    let mut planner = StatusPlanner::new(addr);
    planner.set_accepted([key("a")]);
    let _ = planner.plan(&stores, &planner.keys());
    stores.ingresses[0].handle(Event::Delete(ingress("a", "2", Value::Null)));
    planner.set_accepted([]);
    assert_eq!(planner.keys(), [key("a")]);
    assert!(planner.plan(&stores, &planner.keys()).is_empty());
    assert!(planner.keys().is_empty());
}
