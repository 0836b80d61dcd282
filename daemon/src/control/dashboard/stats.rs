//! The dashboard's counters for `/metrics`, kept by the admin thread and
//! rendered on the data plane's (atomics: either thread may read them).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::control::registry::Exposition;

/// Why a request got 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forbidden {
    /// No identity headers: it did not come through the proxy's route.
    Identity,
    /// `Sec-Fetch-Site` named another site.
    FetchSite,
    /// `Origin` was not this host.
    Origin,
    /// The form's token was missing or wrong.
    Token,
}

impl Forbidden {
    const ALL: [Forbidden; 4] = [
        Forbidden::Identity,
        Forbidden::FetchSite,
        Forbidden::Origin,
        Forbidden::Token,
    ];

    fn label(self) -> &'static str {
        match self {
            Forbidden::Identity => "identity",
            Forbidden::FetchSite => "sec_fetch_site",
            Forbidden::Origin => "origin",
            Forbidden::Token => "token",
        }
    }
}

/// A device change, for `wingress_dashboard_changes_total{change}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Add,
    Remove,
}

#[derive(Debug, Default)]
pub(crate) struct DashboardStats {
    pub(crate) requests: AtomicU64,
    forbidden: [AtomicU64; 4],
    changes: [AtomicU64; 2],
    pub(crate) event_streams: AtomicI64,
    pub(crate) event_streams_refused: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
}

impl DashboardStats {
    pub(crate) fn forbidden(&self, why: Forbidden) {
        self.forbidden[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn changed(&self, change: Change) {
        self.changes[change as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn render(&self, m: &mut Exposition) {
        let counter = |m: &mut Exposition, name: &str, help: &str, v: u64| {
            m.family(name, "counter", help);
            m.sample(name, &[], v as f64);
        };
        counter(
            m,
            "wingress_dashboard_requests_total",
            "Requests to the web dashboard.",
            self.requests.load(Ordering::Relaxed),
        );
        let name = "wingress_dashboard_forbidden_total";
        m.family(
            name,
            "counter",
            "Dashboard requests refused with 403, by reason.",
        );
        for why in Forbidden::ALL {
            let v = self.forbidden[why as usize].load(Ordering::Relaxed);
            m.sample(name, &[("reason", why.label())], v as f64);
        }
        let name = "wingress_dashboard_changes_total";
        m.family(
            name,
            "counter",
            "Devices added or removed on the dashboard.",
        );
        for (change, label) in [(Change::Add, "add"), (Change::Remove, "remove")] {
            let v = self.changes[change as usize].load(Ordering::Relaxed);
            m.sample(name, &[("change", label)], v as f64);
        }
        let name = "wingress_dashboard_event_streams";
        m.family(name, "gauge", "Open /events streams of the dashboard.");
        m.sample(name, &[], self.event_streams.load(Ordering::Relaxed) as f64);
        counter(
            m,
            "wingress_dashboard_event_streams_refused_total",
            "Dashboard /events streams refused (503) because max_event_streams were open.",
            self.event_streams_refused.load(Ordering::Relaxed),
        );
        counter(
            m,
            "wingress_dashboard_connections_refused_total",
            "Dashboard connections closed at once because the maximum were open.",
            self.connections_refused.load(Ordering::Relaxed),
        );
    }
}
