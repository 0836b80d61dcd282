use super::*;

const KEY_A: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
const KEY_B: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

fn node(name: &str, endpoint: &str, key: &str, address: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        endpoint: endpoint.into(),
        key: key.parse().unwrap(),
        address: address.parse().unwrap(),
    }
}

fn client() -> ClientSpec {
    ClientSpec {
        name: "phone".into(),
        // RFC 7748 §6.1: its public key is KEY_A.
        private_key: "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
            .parse()
            .unwrap(),
        address: Ipv4Addr::new(100, 64, 1, 10),
        dns: Vec::new(),
        keepalive: Some(25),
        endpoint_host: None,
    }
}

#[test]
fn node_lines_round_trip() {
    let a = node("a", "10.0.0.21:41621", KEY_A, "100.64.0.21");
    let parsed = parse_nodes("nodes.txt", &format!("# cluster\n{}\n\n", a.line())).unwrap();
    assert_eq!(parsed, [a]);
    // Order-free fields, a /32 suffix, a default name, trailing comments.
    let parsed = parse_nodes(
        "x",
        &format!("address=100.64.0.22/32, key={KEY_B} ,endpoint=[fd00::2]:41622 # b\n"),
    )
    .unwrap();
    assert_eq!(parsed[0].name, "[fd00::2]:41622");
    assert_eq!(parsed[0].address, "100.64.0.22".parse::<IpAddr>().unwrap());
}

#[test]
fn bad_node_lines_name_the_line() {
    let text = format!(
        "endpoint=10.0.0.21:41621,key={KEY_A},address=100.64.0.21\n\
         endpoint=10.0.0.22,key={KEY_A},address=100.64.0.22\n\
         endpoint=10.0.0.23:41623,key=nope,address=100.64.0.23\n\
         endpoint=10.0.0.24:41624,key={KEY_A},addr=100.64.0.24\n\
         endpoint=10.0.0.25:41625,address=100.64.0.25\n"
    );
    let e = parse_nodes("nodes.txt", &text).unwrap_err().to_string();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 4, "{e}");
    assert!(
        lines[0].starts_with("nodes.txt:2: endpoint `10.0.0.22` has no port"),
        "{e}"
    );
    assert!(lines[1].starts_with("nodes.txt:3: key:"), "{e}");
    assert!(
        lines[2].starts_with("nodes.txt:4: unknown field `addr`"),
        "{e}"
    );
    assert!(lines[3].starts_with("nodes.txt:5: no key="), "{e}");
}

#[test]
fn client_config_lists_every_node_with_its_own_address() {
    let nodes = [
        node("a", "10.0.0.21:41621", KEY_A, "100.64.0.21"),
        node("b", "10.0.0.22:41622", KEY_B, "100.64.0.22"),
    ];
    let conf = client_config(&client(), &nodes).unwrap();
    assert_eq!(
        conf,
        format!(
            "# wingress: client `phone` for 2 node(s)\n[Interface]\n\
             PrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nAddress = 100.64.1.10/32\n\
             \n# node a\n[Peer]\nPublicKey = {KEY_A}\nEndpoint = 10.0.0.21:41621\nAllowedIPs = 100.64.0.21/32\nPersistentKeepalive = 25\n\
             \n# node b\n[Peer]\nPublicKey = {KEY_B}\nEndpoint = 10.0.0.22:41622\nAllowedIPs = 100.64.0.22/32\nPersistentKeepalive = 25\n"
        )
    );
    let mut c = client();
    c.endpoint_host = Some("203.0.113.5".into());
    c.dns = vec![
        "100.64.0.21".parse().unwrap(),
        "100.64.0.22".parse().unwrap(),
    ];
    c.keepalive = None;
    let conf = client_config(&c, &nodes).unwrap();
    assert!(conf.contains("DNS = 100.64.0.21, 100.64.0.22\n"), "{conf}");
    assert!(conf.contains("Endpoint = 203.0.113.5:41621\n"), "{conf}");
    assert!(conf.contains("Endpoint = 203.0.113.5:41622\n"), "{conf}");
    assert!(!conf.contains("PersistentKeepalive"), "{conf}");
}

#[test]
fn overlapping_nodes_are_refused() {
    let a = node("a", "10.0.0.21:41621", KEY_A, "100.64.0.21");
    let same_addr = node("b", "10.0.0.22:41622", KEY_B, "100.64.0.21");
    let e = client_config(&client(), &[a.clone(), same_addr]).unwrap_err();
    assert!(e.to_string().contains("same tunnel address"), "{e}");
    let same_key = node("b", "10.0.0.22:41622", KEY_A, "100.64.0.22");
    let e = client_config(&client(), &[a.clone(), same_key]).unwrap_err();
    assert!(e.to_string().contains("same public key"), "{e}");
    let mut c = client();
    c.address = Ipv4Addr::new(100, 64, 0, 21);
    let e = client_config(&c, &[a]).unwrap_err();
    assert!(e.to_string().contains("node `a`'s tunnel address"), "{e}");
    assert!(client_config(&client(), &[]).is_err());
}

#[test]
fn server_peer_names_the_client_key_and_address() {
    assert_eq!(
        server_peer(&client()),
        format!("[[peer]]\nname = \"phone\"\npublic_key = \"{KEY_A}\"\nallowed_ips = [\"100.64.1.10/32\"]\n")
    );
}

#[test]
fn node_from_config_uses_ip_port_and_octet_address() {
    let env = Env {
        node_ip: Some("10.0.0.21".into()),
        state_directory: None,
    };
    let cfg = wingress_config::parse_server(
        Path::new("w.toml"),
        "[wireguard]\naddress = \"100.64.0.{octet}/16\"\n",
        &env,
    )
    .unwrap();
    let key: PublicKey = KEY_A.parse().unwrap();
    let n = NodeSpec::from_config(&cfg, key, Some("a"), None).unwrap();
    assert_eq!(n, node("a", "10.0.0.21:41621", KEY_A, "100.64.0.21"));
    let n = NodeSpec::from_config(&cfg, key, Some("a"), Some("203.0.113.5:41621")).unwrap();
    assert_eq!(n.endpoint, "203.0.113.5:41621");
    assert!(NodeSpec::from_config(&cfg, key, Some("a,b"), None).is_err());
}
