use super::*;

#[test]
fn labels_are_escaped_and_integers_stay_integers() {
    let mut m = Exposition::default();
    m.family("x_total", "counter", "Help.");
    m.sample("x_total", &[("a", "q\"b\\c\nd")], 3.0);
    m.sample("y", &[], 0.25);
    assert_eq!(
        m.finish(),
        "# HELP x_total Help.\n# TYPE x_total counter\nx_total{a=\"q\\\"b\\\\c\\nd\"} 3\ny 0.25\n"
    );
}
