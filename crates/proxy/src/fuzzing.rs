//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): the router is
//! crate-private, and the fuzzer calls it without a connection, a runtime
//! or a backend, through the same code requests take (`Router::select`
//! after [`normalize_host`]). Not an API: hidden from the documentation,
//! and changed with the code it calls.

pub use crate::grpc::{timeout as grpc_timeout, with_grace as grpc_with_grace};
pub use crate::host::normalize_host;
pub use crate::path::{normalize as normalize_path, EncodedSlash, PathError};
use crate::proxy::RequestError;
use crate::router::{RouteKey, Router};
use crate::spec::HostMatch;

/// A route table of (host, path prefix, entrypoints, encoded slashes kept),
/// in config order.
#[derive(Debug)]
pub struct Routes(Router);

impl Routes {
    pub fn new(routes: &[(HostMatch, &str, &[String], bool)]) -> Routes {
        Routes(Router::new(routes.iter().map(
            |(host, prefix, eps, encoded_slashes)| {
                RouteKey::new(host, prefix, eps, *encoded_slashes)
            },
        )))
    }

    /// The config index of the route for a request's `Host` and raw path
    /// on `entrypoint`, with the path its backend receives: what a request
    /// gets. `Ok(None)`: no route (404); `Err`: refused (400).
    pub fn route(
        &self,
        host: &str,
        path: &str,
        entrypoint: &str,
    ) -> Result<Option<(usize, String)>, RequestError> {
        let host = normalize_host(host)?;
        let selected = self.0.select(&host, path, entrypoint)?;
        Ok(selected.map(|s| (s.index, s.path.into_owned())))
    }
}
