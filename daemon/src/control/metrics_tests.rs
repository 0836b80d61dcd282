use super::*;

#[test]
fn kube_families_render_every_number() {
    let mut m = Exposition::default();
    kube_families(
        &mut m,
        &KubeMetrics {
            synced: true,
            routes: 3,
            problems: 1,
            last_contact_age_secs: Some(2.5),
            stale: false,
            snapshots_applied: 7,
            snapshots_failed: 2,
        },
    );
    let text = m.finish();
    for line in [
        "# TYPE wingress_kube_synced gauge",
        "wingress_kube_synced 1",
        "wingress_kube_routes 3",
        "wingress_kube_problems 1",
        "wingress_kube_last_contact_age_seconds 2.5",
        "wingress_kube_stale 0",
        "# TYPE wingress_kube_snapshots_total counter",
        "wingress_kube_snapshots_total{result=\"applied\"} 7",
        "wingress_kube_snapshots_total{result=\"failed\"} 2",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
}

#[test]
fn no_contact_age_before_the_api_server_answered() {
    let mut m = Exposition::default();
    kube_families(
        &mut m,
        &KubeMetrics {
            synced: false,
            routes: 0,
            problems: 0,
            last_contact_age_secs: None,
            stale: true,
            snapshots_applied: 0,
            snapshots_failed: 0,
        },
    );
    let text = m.finish();
    assert!(!text.contains("wingress_kube_last_contact_age_seconds"));
    assert!(text.lines().any(|l| l == "wingress_kube_stale 1"), "{text}");
}
