//! `wingress peer add | list | remove` on config files, with no daemon
//! running: what is written, what is printed, what is refused.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

fn setup(dir: &TempDir, address: &str, extra: &str) -> String {
    let (key, _) = keypair(dir, "server");
    let text = format!(
        "# my node\n[node]\nip = \"10.99.0.7\"   # LAN\nstate_dir = \"{}\"\n\n[wireguard]\nprivate_key_file = \"{}\"\naddress = \"{address}\"\n{extra}",
        dir.path("state").display(),
        key.display()
    );
    let p = dir.write("w.toml", &text);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    p.display().to_string()
}

#[test]
fn add_writes_the_peer_and_prints_a_client_config() {
    let dir = TempDir::new("peer-add");
    let cfg = setup(&dir, "100.64.0.1/24", "");
    let before = std::fs::read_to_string(&cfg).unwrap();
    let (code, out, err) = wingress(
        &["peer", "add", "laptop", "--tags", "admin", "-c", &cfg],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no daemon answered on"), "{err}");
    assert!(
        err.contains("applies when it next starts (or on SIGHUP)"),
        "{err}"
    );
    // No routes: no DNS line. The node's address and its port formula.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "[Interface]");
    assert!(
        lines[1].starts_with("PrivateKey = ") && lines[1].len() == 57,
        "{out}"
    );
    assert_eq!(lines[2], "Address = 100.64.0.2/32");
    assert_eq!(lines[3], "");
    assert_eq!(lines[4], "[Peer]");
    assert_eq!(lines[6], "Endpoint = 10.99.0.7:41607");
    assert_eq!(lines[7], "AllowedIPs = 100.64.0.0/24");
    assert_eq!(lines[8], "PersistentKeepalive = 25");
    assert_eq!(lines.len(), 9);

    // The file: as before, plus the table; mode kept.
    let after = std::fs::read_to_string(&cfg).unwrap();
    assert!(after.starts_with(&before), "{after}");
    assert!(after[before.len()..].starts_with("\n[[peer]]\nname = \"laptop\"\npublic_key = \""));
    assert!(
        after.ends_with("allowed_ips = [\"100.64.0.2/32\"]\ntags = [\"admin\"]\n"),
        "{after}"
    );
    let mode = std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let (code, _, err) = wingress(&["check", "--config", &cfg], "");
    assert_eq!(code, 0, "{err}");

    // The second peer gets the next address; the private key printed is
    // the one whose public half was written.
    let (code, out2, _) = wingress(&["peer", "add", "phone", "-c", &cfg], "");
    assert_eq!(code, 0);
    assert!(out2.contains("Address = 100.64.0.3/32\n"), "{out2}");
    let private = out2
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("PrivateKey = ");
    let (_, public, _) = wingress(&["pubkey"], private);
    assert!(std::fs::read_to_string(&cfg)
        .unwrap()
        .contains(public.trim()));

    let (code, list, _) = wingress(&["peer", "list", "-c", &cfg], "");
    assert_eq!(code, 0);
    let rows: Vec<&str> = list.lines().collect();
    assert!(rows[0].starts_with("NAME") && rows.len() == 3, "{list}");
    assert!(
        rows[1].starts_with("laptop") && rows[1].ends_with("100.64.0.2/32  admin"),
        "{list}"
    );
    assert!(
        rows[2].starts_with("phone ") && rows[2].ends_with("100.64.0.3/32"),
        "{list}"
    );

    // Remove one, then the other: the original file comes back.
    let (code, _, err) = wingress(&["peer", "remove", "phone", "-c", &cfg], "");
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = wingress(&["peer", "remove", "laptop", "-c", &cfg], "");
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), before);
}

#[test]
fn refusals_are_clear_and_leave_the_file_alone() {
    let dir = TempDir::new("peer-refuse");
    let cfg = setup(&dir, "100.64.0.1/30", "");
    let (code, _, err) = wingress(&["peer", "add", "a", "-c", &cfg], "");
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read_to_string(&cfg).unwrap();
    let refused = |args: &[&str], needle: &str| {
        let (code, out, err) = wingress(args, "");
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.is_empty(), "nothing printed: {out}");
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), before);
    };
    refused(
        &["peer", "add", "a", "-c", &cfg],
        "a peer named `a` already exists (line",
    );
    // A /30 has two hosts: the node and `a`.
    refused(
        &["peer", "add", "b", "-c", &cfg],
        "no free address in the tunnel subnet 100.64.0.0/30: all 2 host addresses are taken",
    );
    refused(
        &["peer", "add", "my phone", "-c", &cfg],
        "is not a valid peer name",
    );
    refused(
        &["peer", "add", "c", "--tags", "Admin", "-c", &cfg],
        "--tags: `Admin` is not a valid tag",
    );
    refused(
        &["peer", "remove", "nobody", "-c", &cfg],
        "no peer named `nobody`",
    );
    let missing = dir.path("nope.toml").display().to_string();
    let (code, _, err) = wingress(&["peer", "list", "-c", &missing], "");
    assert_ne!(code, 0);
    assert!(err.contains("cannot read config"), "{err}");
}

#[test]
fn routes_turn_on_the_dns_line_and_endpoint_flags_win() {
    let dir = TempDir::new("peer-dns");
    let cfg = setup(
        &dir,
        "100.64.0.1/24",
        "[tls]\ninternal_ca = true\n[[route]]\nhost = \"grafana.home.arpa\"\nbackends = [\"http://127.0.0.1:3000\"]\n",
    );
    let (code, out, err) = wingress(
        &[
            "peer",
            "add",
            "phone",
            "--endpoint",
            "vpn.example.net:51820",
            "-c",
            &cfg,
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\nDNS = 100.64.0.1\n"), "{out}");
    assert!(
        out.contains("\nEndpoint = vpn.example.net:51820\n"),
        "{out}"
    );
    // A route that names the peer keeps it from being removed.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("backends = [", "allow = [\"peer:phone\"]\nbackends = [");
    std::fs::write(&cfg, &text).unwrap();
    let (code, _, err) = wingress(&["peer", "remove", "phone", "-c", &cfg], "");
    assert_ne!(code, 0);
    assert!(err.contains("would make the config invalid"), "{err}");
    assert!(err.contains("phone"), "{err}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), text);
}
