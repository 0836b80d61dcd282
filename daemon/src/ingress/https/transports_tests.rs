use std::path::PathBuf;

use super::*;

fn transport(ca: Option<PathBuf>) -> config::TransportConfig {
    config::TransportConfig {
        name: "lab".into(),
        ca,
        server_name: Some("backend.lab".into()),
        insecure_skip_verify: false,
        client_cert: None,
        http2: false,
        location: (1, 1),
    }
}

#[test]
fn the_pool_key_follows_the_settings_and_the_files_contents() {
    let dir = std::env::temp_dir().join(format!("wingress-transport-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "first CA").unwrap();
    let t = transport(Some(ca.clone()));
    // Rebuilt unchanged (a reload): the same key, the connections stay.
    assert_eq!(key_of(&t), key_of(&t.clone()));
    // Another name is the same transport: the name is not a setting.
    let renamed = config::TransportConfig {
        name: "other".into(),
        location: (9, 1),
        ..t.clone()
    };
    assert_eq!(key_of(&t), key_of(&renamed));
    let before = key_of(&t);
    // The CA file rewritten in place: new connections only.
    std::fs::write(&ca, "second CA").unwrap();
    assert_ne!(key_of(&t), before);
    let h2 = config::TransportConfig {
        http2: true,
        ..t.clone()
    };
    assert_ne!(key_of(&h2), key_of(&t));
    assert_ne!(key_of(&transport(None)), key_of(&t));
    std::fs::remove_dir_all(&dir).unwrap();
}
