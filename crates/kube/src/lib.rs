//! Kubernetes discovery, sans-IO: what the watchers in the daemon have seen
//! of the cluster ([`Snapshot`]) and, from it, the routes, certificates and
//! problems that the daemon serves and reports. No client, no socket, no
//! clock: the daemon's `kube/` folder owns the API connection and hands a
//! complete snapshot here after every (debounced) change.
//!
//! Call order: build a [`Policy`] from the config (again after each
//! reload), then [`map`] each new snapshot to a [`Mapping`]. Offline,
//! [`Snapshot::add_object`] fills a snapshot from manifests (`wingress kube
//! render`).
//!
//! Values go through the parsers and rules of `[[route]]`
//! (`wingress_config`), so an Ingress is held to what a file route is.

#![forbid(unsafe_code)]

mod annotations;
mod backends;
#[doc(hidden)]
pub mod fuzzing;
mod map;
mod mapping;
mod policy;
mod snapshot;

pub use annotations::ANNOTATION_PREFIX;
pub use map::{map, CLASS_ANNOTATION};
pub use mapping::{Certificate, KubeRoute, Mapping, ObjectRef, Problem};
pub use policy::Policy;
pub use snapshot::Snapshot;
