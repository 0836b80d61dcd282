//! `wingress`: a userspace WireGuard ingress daemon. The binary
//! (`src/main.rs`) parses the command line and calls [`cli::run`].
#![deny(unsafe_code)]
#![warn(unreachable_pub)]

mod acme;
mod admin;
mod admin_client;
pub mod alloc;
mod backend;
pub mod cli;
mod client;
mod cluster;
mod dataplane;
mod dns;
mod forwarding;
mod host_pool;
mod https;
mod keyfile;
mod limits;
mod live;
mod logging;
mod metrics;
mod nat;
mod node;
mod notify;
mod open_conns;
mod peer;
mod reload;
mod server;
mod shutdown;
mod side_channel;
mod state;
mod status;
mod status_cli;
mod sys;
mod tcp_pump;
mod tunnel;
mod tunnel_stream;
mod udp_io;
