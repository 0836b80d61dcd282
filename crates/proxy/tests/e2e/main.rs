//! End-to-end tests: real hyper backends and clients on loopback, the proxy
//! in between, each connection described by a test-made `ConnInfo`.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod access;
mod backend_h2;
mod balancing;
mod hardening;
mod in_process;
mod limits;
mod live;
mod pooling;
mod protocol;
mod routing;
mod smuggling;
mod smuggling_corpus;
mod support;
