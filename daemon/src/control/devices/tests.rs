use super::*;

#[test]
fn advertise_is_used_only_when_it_is_an_endpoint() {
    let e = advertised("[nat]\nadvertise = \"vpn.example.net:41602\"\n").unwrap();
    assert_eq!(e.to_string(), "vpn.example.net:41602");
    assert!(advertised("[nat]\nadvertise = \"auto\"\n").is_none());
    assert!(advertised("[wireguard]\naddress = \"100.64.0.1/24\"\n").is_none());
}

const CONFIG: &str = "# the household's node\n[node]\nip = \"192.0.2.10\"\n\n\
    [wireguard]\naddress = \"100.64.0.1/24\"\nlisten_port = 41602\n\n\
    # Alice's laptop\n[[peer]]\nname = \"laptop\"\n\
    public_key = \"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\"\n\
    allowed_ips = [\"100.64.0.2/32\"]\ntags = [\"admin\"]\n";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wingress-devices-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wingress.toml");
    std::fs::write(&path, CONFIG).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn node() -> Node {
    Node {
        server_key: PrivateKey::generate().public_key(),
        endpoint: "192.0.2.10:41602".parse().unwrap(),
    }
}

#[test]
fn add_then_remove_keeps_the_rest_of_the_file() {
    let path = scratch("add");
    let file = ConfigFile::read(path.clone()).unwrap();
    let cfg = file.parse().unwrap();
    let device = NewDevice {
        name: "phone".into(),
        tags: vec!["phone".into()],
    };
    let added = add(&file, &cfg, &device, &node()).unwrap();
    assert_eq!(added.address.to_string(), "100.64.0.3/32");
    assert!(
        added.conf.starts_with("[Interface]\nPrivateKey = "),
        "{}",
        added.conf
    );
    assert!(added.conf.contains("Endpoint = 192.0.2.10:41602\n"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(CONFIG), "{text}");
    assert!(text.contains("[[peer]]\nname = \"phone\""), "{text}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // The same name again, bad names and tags: the asker's mistake.
    let file = ConfigFile::read(path.clone()).unwrap();
    let cfg = file.parse().unwrap();
    let again = add(&file, &cfg, &device, &node());
    assert!(matches!(again, Err(DeviceError::Input(ref e)) if e.contains("already exists")));
    for (name, tags) in [("Bad Name", vec![]), ("ok", vec!["Admin".to_string()])] {
        let bad = NewDevice {
            name: name.into(),
            tags,
        };
        assert!(matches!(
            add(&file, &cfg, &bad, &node()),
            Err(DeviceError::Input(_))
        ));
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    remove(&file, "phone").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), CONFIG);
    let file = ConfigFile::read(path.clone()).unwrap();
    assert!(matches!(
        remove(&file, "phone"),
        Err(DeviceError::Input(ref e)) if e.contains("no peer named")
    ));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn an_edit_racing_another_writes_nothing() {
    let path = scratch("race");
    let file = ConfigFile::read(path.clone()).unwrap();
    std::fs::write(&path, format!("{CONFIG}# edited meanwhile\n")).unwrap();
    let e = remove(&file, "laptop").unwrap_err();
    assert!(
        e.to_string().contains("changed while it was being edited"),
        "{e}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn the_endpoint_is_published_then_advertised_then_the_node() {
    let cfg = parse_server(Path::new("w.toml"), CONFIG, &Env::default()).unwrap();
    let published: Endpoint = "203.0.113.7:5000".parse().unwrap();
    let e = endpoint(&cfg, CONFIG, Some(published.clone())).unwrap();
    assert_eq!(e.to_string(), "203.0.113.7:5000");
    let advertising = format!("{CONFIG}\n[nat]\nadvertise = \"vpn.example.net:41602\"\n");
    assert_eq!(
        endpoint(&cfg, &advertising, None).unwrap().to_string(),
        "vpn.example.net:41602"
    );
    assert_eq!(
        endpoint(&cfg, CONFIG, None).unwrap().to_string(),
        "192.0.2.10:41602"
    );
    let status =
        serde_json::json!({"public_endpoint": {"address": "203.0.113.7:5000", "source": "stun"}});
    assert_eq!(published_endpoint(&status), Some(published));
    let bare = serde_json::json!({"public_endpoint": "203.0.113.7:5000"});
    assert!(published_endpoint(&bare).is_some());
    assert_eq!(
        published_endpoint(&serde_json::json!({"public_endpoint": null})),
        None
    );
}
