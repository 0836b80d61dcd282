//! `wingress`: a userspace WireGuard ingress daemon. The binary
//! (`src/main.rs`) parses the command line and calls [`cli::run`].
//!
//! The folders follow the architecture (see `docs/architecture.md`), and
//! each imports only the ones below it:
//!
//! - [`cli`]: the commands; starts the daemon or the client.
//! - `control`: `wingress run`'s start-up, reloads, admin API, status,
//!   metrics and shutdown.
//! - `kube`: Kubernetes discovery's connection to the API server: watches,
//!   snapshots, Ingress status and Events.
//! - `nat`: NAT traversal (STUN, port mapping) for the WireGuard port.
//! - `ingress`: what is served: forwards, HTTPS entrypoints, DNS.
//! - `dataplane`: the event loop (WireGuard + the userspace TCP/IP stack),
//!   its UDP socket and the byte pumps; also the `forward` client.
//! - [`platform`]: allocator, system calls, logging, node address, key
//!   files.
#![deny(unsafe_code)]
#![warn(unreachable_pub)]

pub mod cli;
mod control;
mod dataplane;
mod ingress;
mod kube;
mod nat;
pub mod platform;
