use super::*;

#[test]
fn guards_count_and_gauges_are_shared_by_name() {
    let open = OpenConns::default();
    let a = open.gauge("lan");
    let g1 = a.open();
    let g2 = open.gauge("lan").open();
    let _g3 = open.gauge("tcp:22").open();
    assert_eq!(a.get(), 2);
    assert_eq!(open.total(), 3);
    drop((g1, g2));
    assert_eq!(
        open.snapshot(),
        [("lan".to_string(), 0), ("tcp:22".to_string(), 1)]
    );
}
