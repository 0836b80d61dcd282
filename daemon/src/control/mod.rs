//! The control plane of `wingress run`: start-up ([`server`]), the state
//! it holds ([`state`]), reloads, the admin API, status and metrics,
//! graceful shutdown and systemd notifications. It builds what the data
//! plane and ingress run and swaps it on reload; nothing below it imports
//! it.

pub(crate) mod admin;
pub(crate) mod dashboard;
pub(crate) mod file_stamp;
pub(crate) mod kube_wiring;
pub(crate) mod metrics;
pub(crate) mod nat_wiring;
pub(crate) mod notify;
pub(crate) mod ready;
pub(crate) mod registry;
pub(crate) mod reload;
pub(crate) mod server;
pub(crate) mod shutdown;
pub(crate) mod state;
pub(crate) mod status;
