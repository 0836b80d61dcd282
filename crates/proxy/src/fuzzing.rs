//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): the router
//! and the path and host normalisation are crate-private, and the fuzzer
//! calls them without a connection, a runtime or a backend. Not an API:
//! hidden from the documentation, and changed with the code it calls.

use crate::router::{self, RouteKey, Router};
use crate::spec::HostMatch;

/// The path the router matches and the backend receives.
pub fn normalize_path(path: &str) -> String {
    router::normalize_path(path).into_owned()
}

/// The host the router matches.
pub fn normalize_host(host: &str) -> String {
    router::normalize_host(host)
}

/// A route table of (host, path prefix, entrypoints), in config order.
#[derive(Debug)]
pub struct Routes(Router);

impl Routes {
    pub fn new(routes: &[(HostMatch, &str, &[String])]) -> Routes {
        Routes(Router::new(
            routes
                .iter()
                .map(|(host, prefix, eps)| RouteKey::new(host, prefix, eps)),
        ))
    }

    /// The config index of the route for an already normalised host and
    /// path, as the request path asks the router.
    pub fn find(&self, host: &str, path: &str, entrypoint: &str) -> Option<usize> {
        self.0.find(host, path, entrypoint)
    }
}
