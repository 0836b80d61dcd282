use super::*;

#[test]
fn blank_values_count_as_unset() {
    let env = Env {
        node_ip: Some("  ".into()),
        state_directory: Some(":".into()),
    };
    assert_eq!(env.node_ip(), None);
    assert_eq!(env.state_directory(), None);
}

#[test]
fn first_state_directory_wins() {
    let env = Env {
        node_ip: Some(" 10.0.0.2\n".into()),
        state_directory: Some("/var/lib/wingress:/var/lib/other".into()),
    };
    assert_eq!(env.node_ip(), Some(("WINGRESS_NODE_IP", "10.0.0.2")));
    assert_eq!(env.state_directory(), Some("/var/lib/wingress"));
}

#[test]
fn node_ip_variables_in_order() {
    let vars = |set: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            set.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let pick = |set| Env::first_set(&NODE_IP_VARS, vars(set)).map(|v| (v.name, v.value));
    assert_eq!(
        pick(&[("HOST_IP", "10.0.0.3"), ("K8S_NODE_IP", "10.0.0.2")]),
        Some(("K8S_NODE_IP", "10.0.0.2".to_string()))
    );
    assert_eq!(
        pick(&[("HOST_IP", "10.0.0.3"), ("WINGRESS_NODE_IP", " ")]),
        Some(("HOST_IP", "10.0.0.3".to_string()))
    );
    assert_eq!(
        pick(&[("WINGRESS_NODE_IP", "10.0.0.1"), ("HOST_IP", "10.0.0.3")]),
        Some(("WINGRESS_NODE_IP", "10.0.0.1".to_string()))
    );
    assert_eq!(pick(&[]), None);
}
