//! What the watchers have seen, sans-IO: one [`Store`] per watch stream
//! (one kind, cluster-wide or one namespace), fed the stream's events in
//! order with [`Store::handle`], and [`Stores`], all of them together,
//! which says when every initial list has completed (the barrier before
//! the first snapshot) and builds a [`Snapshot`].
//!
//! A (re)list replaces a store's contents only when it completes
//! (`InitDone`): while a relist after `410 Gone` runs, the last complete
//! contents stay what snapshots are built from.
//!
//! Objects are stored behind [`Arc`] and shared with the snapshots: a
//! snapshot copies pointers, and an object replaced by a watch event is
//! freed once the last snapshot holding it is dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::watcher::Event;
use kube::Resource;
use wingress_kube::Snapshot;

use super::trim::Trimmed;

/// An object's key in a store: namespace (empty for cluster-scoped
/// objects) and name.
pub(crate) type ObjectKey = (String, String);

/// The key of `obj`.
pub(crate) fn key_of<K: Resource>(obj: &K) -> ObjectKey {
    let meta = obj.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// The objects of one watch stream, as last listed and watched.
#[derive(Debug)]
pub(crate) struct Store<K> {
    /// The current contents, by namespace and name.
    objects: BTreeMap<ObjectKey, Arc<K>>,
    /// A (re)list in progress: what it has delivered so far.
    listing: Option<BTreeMap<ObjectKey, Arc<K>>>,
    /// Whether an initial list has completed at least once.
    listed: bool,
}

impl<K> Default for Store<K> {
    fn default() -> Store<K> {
        Store {
            objects: BTreeMap::new(),
            listing: None,
            listed: false,
        }
    }
}

impl<K: Resource + Trimmed> Store<K> {
    /// Applies one watch event (objects already trimmed). Returns whether
    /// anything the mapping reads changed: an update that touched only
    /// dropped fields, or a relist that found what was there, changes
    /// nothing.
    pub(crate) fn handle(&mut self, event: Event<K>) -> bool {
        match event {
            Event::Init => {
                self.listing = Some(BTreeMap::new());
                false
            }
            Event::InitApply(obj) => {
                self.listing
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key_of(&obj), Arc::new(obj));
                false
            }
            Event::InitDone => {
                let listed = self.listing.take().unwrap_or_default();
                let changed = !self.listed || !same_contents(&self.objects, &listed);
                self.objects = listed;
                self.listed = true;
                changed
            }
            Event::Apply(obj) => {
                let key = key_of(&obj);
                let changed = self
                    .objects
                    .get(&key)
                    .is_none_or(|old| !old.same_for_mapping(&obj));
                // Stored even when unchanged for the mapping: the status
                // writer reads the newest status and resource version.
                self.objects.insert(key, Arc::new(obj));
                changed && self.listed
            }
            Event::Delete(obj) => self.objects.remove(&key_of(&obj)).is_some() && self.listed,
        }
    }

    /// Whether an initial list has completed at least once.
    pub(crate) fn listed(&self) -> bool {
        self.listed
    }

    /// The object stored under `key`.
    pub(crate) fn get(&self, key: &ObjectKey) -> Option<&K> {
        self.objects.get(key).map(|obj| &**obj)
    }

    /// How many objects the store holds.
    pub(crate) fn len(&self) -> usize {
        self.objects.len()
    }

    /// Shared pointers to every object, in key order (no object is
    /// copied).
    fn shared(&self) -> impl Iterator<Item = Arc<K>> + '_ {
        self.objects.values().cloned()
    }
}

/// Whether two listings hold the same objects, equal for the mapping.
fn same_contents<K: Trimmed>(
    a: &BTreeMap<ObjectKey, Arc<K>>,
    b: &BTreeMap<ObjectKey, Arc<K>>,
) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && va.same_for_mapping(vb))
}

/// The stores of every watch stream: for each kind, one per watched
/// namespace (or one for the whole cluster), in the order of
/// [`super::WatchOptions::namespaces`].
#[derive(Debug)]
pub(crate) struct Stores {
    /// Ingress streams.
    pub(crate) ingresses: Vec<Store<Ingress>>,
    /// Service streams.
    pub(crate) services: Vec<Store<Service>>,
    /// EndpointSlice streams.
    pub(crate) endpoint_slices: Vec<Store<EndpointSlice>>,
    /// `kubernetes.io/tls` Secret streams.
    pub(crate) secrets: Vec<Store<Secret>>,
}

impl Stores {
    /// Empty stores for `streams` streams of each kind (at least one).
    pub(crate) fn new(streams: usize) -> Stores {
        let n = streams.max(1);
        Stores {
            ingresses: (0..n).map(|_| Store::default()).collect(),
            services: (0..n).map(|_| Store::default()).collect(),
            endpoint_slices: (0..n).map(|_| Store::default()).collect(),
            secrets: (0..n).map(|_| Store::default()).collect(),
        }
    }

    /// The barrier: whether the initial list of every stream has
    /// completed, so that a snapshot has no holes.
    pub(crate) fn all_listed(&self) -> bool {
        self.ingresses.iter().all(Store::listed)
            && self.services.iter().all(Store::listed)
            && self.endpoint_slices.iter().all(Store::listed)
            && self.secrets.iter().all(Store::listed)
    }

    /// The Ingress stored under `key`, in whichever stream holds it.
    pub(crate) fn ingress(&self, key: &ObjectKey) -> Option<&Ingress> {
        self.ingresses.iter().find_map(|s| s.get(key))
    }

    /// How many objects of each kind are stored: Ingresses, Services,
    /// EndpointSlices, Secrets.
    pub(crate) fn counts(&self) -> [usize; 4] {
        [
            self.ingresses.iter().map(Store::len).sum(),
            self.services.iter().map(Store::len).sum(),
            self.endpoint_slices.iter().map(Store::len).sum(),
            self.secrets.iter().map(Store::len).sum(),
        ]
    }

    /// A snapshot of everything stored: the trimmed objects, shared (one
    /// pointer copied per object).
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            ingresses: self.ingresses.iter().flat_map(Store::shared).collect(),
            services: self.services.iter().flat_map(Store::shared).collect(),
            endpoint_slices: self
                .endpoint_slices
                .iter()
                .flat_map(Store::shared)
                .collect(),
            secrets: self.secrets.iter().flat_map(Store::shared).collect(),
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
