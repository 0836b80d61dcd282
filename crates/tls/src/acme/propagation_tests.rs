use super::*;

fn ns(name: &str, ips: &[&str]) -> (Name, Vec<IpAddr>) {
    let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
    (Name::from_dotted(name).unwrap(), ips)
}

fn show(servers: &[AuthServer]) -> Vec<String> {
    servers.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_configured_address_keeps_its_port_others_get_53() {
    let configured: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    let set = server_set(
        configured,
        &[
            ns("ns.acme.test", &["127.0.0.1"]),
            ns("ns2.acme.test", &["127.0.0.2", "2001:db8::2"]),
            // A second name for an address already listed.
            ns("alias.acme.test", &["127.0.0.2"]),
            ns("noaddr.acme.test", &[]),
        ],
    );
    assert_eq!(
        show(&set),
        [
            "ns.acme.test (127.0.0.1:5300)",
            "ns2.acme.test (127.0.0.2:53)",
            "ns2.acme.test ([2001:db8::2]:53)",
        ]
    );
}

#[test]
fn the_configured_server_is_asked_even_when_no_ns_lists_it() {
    let configured: SocketAddr = "192.0.2.1:53".parse().unwrap();
    assert_eq!(
        show(&server_set(configured, &[])),
        ["192.0.2.1:53 (the configured server)"]
    );
    let set = server_set(configured, &[ns("ns1.provider.example", &["192.0.2.53"])]);
    assert_eq!(
        show(&set),
        [
            "192.0.2.1:53 (the configured server)",
            "ns1.provider.example (192.0.2.53:53)"
        ]
    );
}

#[test]
fn waiting_servers_are_described_with_their_last_answer() {
    let waiting = [Waiting {
        server: AuthServer {
            name: Some("ns2.acme.test".into()),
            addr: "127.0.0.2:53".parse().unwrap(),
        },
        last: "dns server 127.0.0.2:53 did not answer".into(),
    }];
    assert_eq!(
        describe(&waiting),
        "ns2.acme.test (127.0.0.2:53): dns server 127.0.0.2:53 did not answer"
    );
}
