//! Active health checks: one task per checked backend, GET `path` every
//! `interval`; 2xx and 3xx within `timeout` mean up, anything else down.

use std::sync::{Arc, Weak};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::Request;

use crate::body::empty_body;
use crate::client::Chain;
use crate::table::RouteTable;

/// Floor for the check interval, so a zero in the config cannot spin.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

pub(crate) fn spawn_all(table: &Arc<RouteTable>) {
    for (route, spec) in table.routes.iter().map(|r| &r.spec).enumerate() {
        let Some(check) = &spec.health_check else {
            continue;
        };
        let path = PathAndQuery::try_from(check.path.as_str()).unwrap_or_else(|_| {
            tracing::warn!(path = %check.path, "invalid health check path, checking / instead");
            PathAndQuery::from_static("/")
        });
        for backend in 0..spec.backends.len() {
            let task = run(
                Arc::downgrade(table),
                route,
                backend,
                path.clone(),
                check.interval,
            );
            tokio::task::spawn_local(task);
        }
    }
}

async fn run(
    table: Weak<RouteTable>,
    route: usize,
    backend: usize,
    path: PathAndQuery,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval.max(MIN_INTERVAL));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // Hold the table only while checking, so dropping the proxy ends
        // the loop.
        let Some(table) = table.upgrade() else { return };
        check_once(&table, route, backend, &path).await;
    }
}

async fn check_once(table: &RouteTable, route: usize, backend: usize, path: &PathAndQuery) {
    let route = &table.routes[route];
    let Some(spec) = &route.spec.health_check else {
        return;
    };
    let target = &route.upstream.backends[backend];
    let probe = async {
        let mut req = Request::new(empty_body());
        *req.uri_mut() = path.clone().into();
        if let Ok(host) = HeaderValue::from_str(&target.addr.to_string()) {
            req.headers_mut().insert(header::HOST, host);
        }
        req.headers_mut().insert(
            header::USER_AGENT,
            HeaderValue::from_static("wingress-health-check"),
        );
        let response = route
            .client
            .send(&target.addr, req, Duration::ZERO, None)
            .await
            .map_err(|e| Chain(&e).to_string())?;
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            Ok(())
        } else {
            Err(format!("status {status}"))
        }
    };
    let result = match tokio::time::timeout(spec.timeout.max(MIN_INTERVAL), probe).await {
        Ok(result) => result,
        Err(_) => Err("timed out".to_owned()),
    };
    let healthy = result.is_ok();
    if route.upstream.set_healthy(backend, healthy) {
        match result {
            Ok(()) => {
                tracing::info!(route_host = %route.spec.host, backend = %target.addr, "backend up")
            }
            Err(reason) => {
                tracing::info!(route_host = %route.spec.host, backend = %target.addr, reason, "backend down")
            }
        }
    }
}
