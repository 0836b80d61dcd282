//! The fake server's objects and their history, like etcd under the real
//! server: one resource version counter for every kind, each write gets
//! the next number, the history of writes is kept until compacted, and a
//! list is a snapshot at the counter's value.
//!
//! Call order: [`Store::put`] / [`Store::delete`] / [`Store::patch`]
//! change objects (each returns the new resource version); readers take
//! [`Store::list`] or [`Store::changes_since`] under the same lock, so a
//! watch's initial state and its later events never overlap or miss.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use super::resource::RESOURCES;
use super::selector::Selectors;

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EventType {
    /// An object was created.
    Added,
    /// An object was changed.
    Modified,
    /// An object was deleted (the event carries its last state).
    Deleted,
}

// === impl EventType ===

impl EventType {
    /// The wire name (`ADDED`).
    pub(super) fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One write, kept for watches.
#[derive(Clone, Debug)]
pub(super) struct Change {
    /// The resource version the write got.
    pub(super) rv: u64,
    /// The index into [`RESOURCES`].
    pub(super) resource: usize,
    /// What happened.
    pub(super) kind: EventType,
    /// The object after the write (before it, for a delete), without
    /// `kind` and `apiVersion`, as stored.
    pub(super) object: Value,
}

/// The key of one object: resource, namespace, name. Ordered as etcd's
/// keys are (`/registry/<resource>/<namespace>/<name>`), so lists come out
/// in the same order as from a real server.
type Key = (usize, String, String);

/// A list snapshot kept for its continue tokens.
#[derive(Debug)]
struct Pages {
    rv: u64,
    items: Vec<Value>,
}

/// Objects, history and compaction point.
#[derive(Debug, Default)]
pub(super) struct Store {
    rv: u64,
    /// Every resource version at or below this one has been compacted: a
    /// watch or continue token from before it gets `410 Gone`.
    compacted: u64,
    /// The highest resource version of a write the history no longer has.
    dropped: u64,
    objects: BTreeMap<Key, Value>,
    history: Vec<Change>,
    pages: HashMap<u64, Pages>,
    next_pages: u64,
    next_uid: u64,
}

// === impl Store ===

impl Store {
    /// The current resource version (of the last write anywhere).
    pub(super) fn rv(&self) -> u64 {
        self.rv
    }

    /// The compaction point.
    pub(super) fn compacted(&self) -> u64 {
        self.compacted
    }

    /// Whether a watch positioned at `rv` can no longer be served from the
    /// history (some write after `rv` was compacted away).
    pub(super) fn too_old(&self, rv: u64) -> bool {
        rv < self.compacted || rv < self.dropped
    }

    /// Whether some write after `rv` was compacted away before an open
    /// watch at `rv` sent it: that watch cannot go on and gets 410. (An
    /// open watch that has sent everything is not affected by a
    /// compaction, as the real server's watch cache is not.)
    pub(super) fn writes_lost_after(&self, rv: u64) -> bool {
        rv < self.dropped
    }

    /// Creates or replaces the object (without `kind`/`apiVersion`) of
    /// `resource`: keeps uid and creation time of an existing one, sets
    /// `metadata.resourceVersion`, and bumps `metadata.generation` when
    /// anything but `metadata` and `status` changed. Returns the stored
    /// object.
    pub(super) fn put(&mut self, resource: usize, mut object: Value) -> Value {
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        strip_type(&mut object);
        let key = (resource, ns.clone(), name);
        let old = self.objects.get(&key).cloned();
        self.rv += 1;
        let rv = self.rv;
        if !object["metadata"].is_object() {
            object["metadata"] = json!({});
        }
        object["metadata"]["namespace"] = json!(ns);
        match &old {
            Some(old) => {
                object["metadata"]["uid"] = old["metadata"]["uid"].clone();
                object["metadata"]["creationTimestamp"] =
                    old["metadata"]["creationTimestamp"].clone();
                let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
                let spec_changed = without_meta(old) != without_meta(&object);
                object["metadata"]["generation"] = json!(generation + i64::from(spec_changed));
            }
            None => {
                self.next_uid += 1;
                object["metadata"]["uid"] =
                    json!(format!("00000000-0000-4000-8000-{:012x}", self.next_uid));
                if object["metadata"]["creationTimestamp"].is_null() {
                    object["metadata"]["creationTimestamp"] = json!(now_rfc3339());
                }
                object["metadata"]["generation"] = json!(1);
            }
        }
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let kind = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.objects.insert(key, object.clone());
        self.history.push(Change {
            rv,
            resource,
            kind,
            object: object.clone(),
        });
        object
    }

    /// The stored object, if any.
    pub(super) fn get(&self, resource: usize, ns: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(resource, ns.to_owned(), name.to_owned()))
    }

    /// Deletes the object; its last state, with the deletion's resource
    /// version, goes to the history. `None` if there was none.
    pub(super) fn delete(&mut self, resource: usize, ns: &str, name: &str) -> Option<Value> {
        let mut object = self
            .objects
            .remove(&(resource, ns.to_owned(), name.to_owned()))?;
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.history.push(Change {
            rv: self.rv,
            resource,
            kind: EventType::Deleted,
            object: object.clone(),
        });
        Some(object)
    }

    /// Every object of `resource` in `ns` (all namespaces for `None`) that
    /// `selectors` match, in key order.
    pub(super) fn list(
        &self,
        resource: usize,
        ns: Option<&str>,
        selectors: &Selectors,
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((r, n, _), o)| {
                *r == resource && ns.is_none_or(|ns| ns == n) && selectors.matches(o)
            })
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// The writes after `rv` of `resource` in `ns` that `selectors` match.
    pub(super) fn changes_since(
        &self,
        rv: u64,
        resource: usize,
        ns: Option<&str>,
        selectors: &Selectors,
    ) -> Vec<Change> {
        let start = self.history.partition_point(|c| c.rv <= rv);
        self.history[start..]
            .iter()
            .filter(|c| {
                c.resource == resource
                    && ns.is_none_or(|ns| c.object["metadata"]["namespace"] == ns)
                    && selectors.matches(&c.object)
            })
            .cloned()
            .collect()
    }

    /// Compacts: the counter moves on by one (a write elsewhere in the
    /// cluster, as etcd's revision is shared), the history up to it is
    /// dropped, and any resource version before it becomes too old.
    pub(super) fn compact(&mut self) {
        self.rv += 1;
        self.compacted = self.rv;
        if let Some(last) = self.history.last() {
            self.dropped = self.dropped.max(last.rv);
        }
        self.history.clear();
        self.pages.retain(|_, p| p.rv >= self.compacted);
    }

    /// Forgets every object (a server whose etcd was wiped): the counter
    /// stays monotonic and everything before now is compacted.
    pub(super) fn wipe(&mut self) {
        self.objects.clear();
        self.compact();
    }

    /// Keeps `items` (the rest of a list) for a continue token; returns
    /// the token.
    pub(super) fn keep_pages(&mut self, rv: u64, items: Vec<Value>) -> String {
        self.next_pages += 1;
        self.pages.insert(self.next_pages, Pages { rv, items });
        continue_token(rv, self.next_pages, 0)
    }

    /// The next page of at most `limit` items after a continue token, the
    /// list's resource version, the next token and the remaining count.
    /// `Err(true)` when the token's list was compacted away,
    /// `Err(false)` when the token is not one of this server's.
    #[allow(clippy::type_complexity)]
    pub(super) fn page(
        &self,
        token: &str,
        limit: Option<usize>,
    ) -> Result<(Vec<Value>, u64, Option<String>, usize), bool> {
        let (rv, id, offset) = parse_continue(token).ok_or(false)?;
        if rv < self.compacted {
            return Err(true);
        }
        let pages = self.pages.get(&id).ok_or(true)?;
        let rest = pages.items.get(offset..).ok_or(false)?;
        let n = limit.unwrap_or(rest.len()).min(rest.len());
        let next = (n < rest.len()).then(|| continue_token(rv, id, offset + n));
        Ok((rest[..n].to_vec(), pages.rv, next, rest.len() - n))
    }
}

/// Removes `kind` and `apiVersion`: stored objects and list items have
/// neither, as from the real server.
pub(super) fn strip_type(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.remove("kind");
        map.remove("apiVersion");
    }
}

/// The object with `kind` and `apiVersion` of `resource` first, as in
/// watch events and single-object answers.
pub(super) fn with_type(resource: usize, object: &Value) -> Value {
    let api = &RESOURCES[resource];
    let mut map = Map::new();
    map.insert("kind".into(), json!(api.kind));
    map.insert("apiVersion".into(), json!(api.api_version()));
    if let Some(fields) = object.as_object() {
        for (k, v) in fields {
            map.insert(k.clone(), v.clone());
        }
    }
    Value::Object(map)
}

fn without_meta(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    o
}

/// Continue tokens are opaque to clients; the real server's are base64 of
/// JSON with the list's resource version and the next key. Here: the list
/// snapshot's id and the offset into it.
fn continue_token(rv: u64, id: u64, offset: usize) -> String {
    use base64::Engine as _;
    let raw = json!({"v": "meta.k8s.io/v1", "rv": rv, "id": id, "start": offset}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn parse_continue(token: &str) -> Option<(u64, u64, usize)> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    Some((
        v["rv"].as_u64()?,
        v["id"].as_u64()?,
        usize::try_from(v["start"].as_u64()?).ok()?,
    ))
}

/// Now as RFC 3339 in UTC with seconds, as `metadata.creationTimestamp`.
pub(super) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or_default());
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil conversion.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
