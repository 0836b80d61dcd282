use super::*;

fn obj(ns: &str, name: &str, port: u16) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": {"port": port}})
}

#[test]
fn writes_get_versions_uids_and_generations() {
    let mut s = Store::default();
    let a = s.put(1, obj("x", "a", 80));
    assert_eq!(a["metadata"]["resourceVersion"], "1");
    assert_eq!(a["metadata"]["generation"], 1);
    assert!(a.get("kind").is_none() && a.get("apiVersion").is_none());
    let uid = a["metadata"]["uid"].clone();
    let mut changed = obj("x", "a", 81);
    changed["status"] = json!({"x": 1});
    let a2 = s.put(1, changed);
    assert_eq!(
        (
            a2["metadata"]["uid"].clone(),
            a2["metadata"]["generation"].clone()
        ),
        (uid, json!(2))
    );
    let mut status_only = a2.clone();
    status_only["status"] = json!({"x": 2});
    assert_eq!(s.put(1, status_only)["metadata"]["generation"], 2);
    assert_eq!(s.rv(), 3);
    let d = s.delete(1, "x", "a").unwrap();
    assert_eq!(d["metadata"]["resourceVersion"], "4");
    let kinds: Vec<_> = s
        .changes_since(0, 1, None, &Selectors::default())
        .iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventType::Added,
            EventType::Modified,
            EventType::Modified,
            EventType::Deleted
        ]
    );
    assert_eq!(s.changes_since(3, 1, None, &Selectors::default()).len(), 1);
}

#[test]
fn lists_in_key_order_and_pages_from_a_snapshot() {
    let mut s = Store::default();
    for (ns, name) in [("b", "z"), ("a", "y"), ("b", "a"), ("a", "x")] {
        s.put(1, obj(ns, name, 80));
    }
    let all = s.list(1, None, &Selectors::default());
    let names: Vec<_> = all
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["x", "y", "a", "z"]);
    assert_eq!(s.list(1, Some("b"), &Selectors::default()).len(), 2);
    let token = s.keep_pages(s.rv(), all[1..].to_vec());
    let (page, rv, next, remaining) = s.page(&token, Some(2)).unwrap();
    assert_eq!((page.len(), rv, remaining), (2, 4, 1));
    let (page, _, next, remaining) = s.page(&next.unwrap(), Some(2)).unwrap();
    assert_eq!((page.len(), next, remaining), (1, None, 0));
    assert_eq!(s.page("garbage", None), Err(false));
    s.compact();
    assert_eq!(s.page(&token, Some(2)), Err(true));
}

#[test]
fn compaction_makes_older_versions_too_old() {
    let mut s = Store::default();
    s.put(1, obj("a", "a", 80));
    s.put(1, obj("a", "b", 80));
    assert!(!s.too_old(1));
    s.compact();
    assert_eq!((s.rv(), s.compacted()), (3, 3));
    assert!(s.too_old(2) && !s.too_old(3));
    // A watch that had sent version 2 lost nothing; one at 1 did.
    assert!(!s.writes_lost_after(2) && s.writes_lost_after(1));
    s.wipe();
    assert!(s.list(1, None, &Selectors::default()).is_empty());
    assert!(s.too_old(3));
}

#[test]
fn timestamps_are_rfc3339() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(20_000), (2024, 10, 4));
    let now = now_rfc3339();
    assert_eq!((now.len(), &now[10..11], &now[19..]), (20, "T", "Z"));
}
