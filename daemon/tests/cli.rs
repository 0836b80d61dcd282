//! The command line: keys, the port formula, config checking.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn genkey_and_pubkey_match_wg() {
    // RFC 7748 §6.1 key, as `wg pubkey` prints it.
    let (code, out, _) = wingress(
        &["pubkey"],
        "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n",
    );
    assert_eq!(code, 0);
    assert_eq!(out, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n");
    let (code, key, _) = wingress(&["genkey"], "");
    assert_eq!(code, 0);
    assert_eq!(key.trim().len(), 44);
    assert!(key.ends_with("=\n"));
    if std::process::Command::new("wg")
        .arg("--version")
        .output()
        .is_ok()
    {
        let mut c = std::process::Command::new("wg")
            .arg("pubkey")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(key.as_bytes()).unwrap();
        let wg = String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap();
        let (_, ours, _) = wingress(&["pubkey"], &key);
        assert_eq!(ours, wg);
    }
    let (code, _, err) = wingress(&["pubkey"], "garbage");
    assert_ne!(code, 0);
    assert!(err.contains("invalid private key"), "{err}");
}

/// `wingress port` with only the given node-address variables set:
/// (exit code, stdout, stderr).
fn port_with(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut c = std::process::Command::new(BIN);
    c.arg("port").args(args);
    for v in ["WINGRESS_NODE_IP", "K8S_NODE_IP", "HOST_IP"] {
        c.env_remove(v);
    }
    c.envs(env.iter().copied());
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn port_formula_from_flag_env_and_config() {
    // The port alone on stdout; where the address came from on stderr.
    let (code, out, err) = port_with(&[], &["--node-ip", "10.99.0.2"]);
    assert_eq!((code, out.as_str()), (0, "41602\n"));
    assert_eq!(err, "node address 10.99.0.2 (from --node-ip)\n");
    for var in ["WINGRESS_NODE_IP", "K8S_NODE_IP", "HOST_IP"] {
        let (code, out, err) = port_with(&[(var, "192.168.1.254")], &[]);
        assert_eq!((code, out.as_str()), (0, "41854\n"), "{var}: {err}");
        assert_eq!(err, format!("node address 192.168.1.254 (from {var})\n"));
    }
    // WINGRESS_NODE_IP wins over the Kubernetes names.
    let (_, out, err) = port_with(
        &[("HOST_IP", "10.0.0.3"), ("WINGRESS_NODE_IP", "10.0.0.1")],
        &[],
    );
    assert_eq!(out, "41601\n", "{err}");
    let (code, _, err) = port_with(&[("K8S_NODE_IP", "fd00::2")], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("K8S_NODE_IP") && err.contains("IPv6"), "{err}");
    // Nothing set: the host's own address, or a clear error on a host
    // without one.
    let (code, out, err) = port_with(&[], &[]);
    if code == 0 {
        let port: u16 = out.trim().parse().unwrap();
        assert!((41600..=41855).contains(&port), "{out}");
        assert!(err.contains("(from detected: "), "{err}");
    } else {
        assert!(err.contains("WINGRESS_NODE_IP"), "{err}");
    }
    let (code, _, err) = wingress(&["port", "--node-ip", "fd00::2"], "");
    assert_ne!(code, 0);
    assert!(err.contains("IPv6"), "{err}");
    let dir = TempDir::new("port");
    let cfg = dir.write(
        "c.toml",
        "[node]\nip = \"10.1.2.3\"\n[wireguard]\naddress = \"100.64.0.2/24\"\n",
    );
    let (code, out, err) = port_with(&[], &["--config", cfg.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (0, "41603\n"));
    assert_eq!(
        err,
        "node address 10.1.2.3 (from [node].ip in the config)\n"
    );
    let pinned = dir.write(
        "p.toml",
        "[node]\nip = \"10.1.2.3\"\n[wireguard]\naddress = \"100.64.0.2/24\"\nlisten_port = 51820\n",
    );
    let (code, out, err) = port_with(&[], &["--config", pinned.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (0, "51820\n"));
    assert_eq!(err, "port from [wireguard].listen_port\n");
}

#[test]
fn check_reports_every_error_with_location_and_exits_64() {
    let dir = TempDir::new("check");
    let cfg = dir.write(
        "bad.toml",
        "[node]\nip = \"10.99.0.2\"\n\n[wireguard]\naddress = \"100.64.0.300/24\"\n\n[[peer]]\nname = \"laptop\"\npublic_key = \"nope\"\nallowed_ips = [\"100.64.0.1/32\"]\n\n[[tcp]]\nlisten = 70000\nbackend = \"127.0.0.1:5201\"\n",
    );
    let (code, _, err) = wingress(&["check", "--config", cfg.to_str().unwrap()], "");
    assert_eq!(code, 64, "{err}");
    let path = cfg.display().to_string();
    assert!(
        err.contains(&format!("{path}:5:")),
        "address error location: {err}"
    );
    assert!(
        err.contains(&format!("{path}:9:")),
        "public_key error location: {err}"
    );
    assert!(
        err.contains(&format!("{path}:13:")),
        "listen error location: {err}"
    );
    let good = dir.write("good.toml", "[wireguard]\naddress = \"100.64.0.2/24\"\n");
    let (code, out, err) = wingress(&["check", "--config", good.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"));
}

#[test]
fn check_warns_about_insecure_skip_verify() {
    let dir = TempDir::new("check-insecure");
    let cfg = dir.write(
        "insecure.toml",
        "[wireguard]\naddress = \"100.64.0.2/24\"\n\n[[transport]]\nname = \"lab\"\n\
         insecure_skip_verify = true\n\n[[route]]\nhost = \"pve.home.arpa\"\n\
         backends = [\"https://10.0.0.5:8006\"]\ntransport = \"lab\"\n",
    );
    let (code, out, err) = wingress(&["check", "--config", cfg.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"), "{out}");
    let path = cfg.display().to_string();
    assert!(
        err.contains(&format!(
            "{path}:4:1: warning: [[transport]] `lab` has insecure_skip_verify = true"
        )),
        "{err}"
    );
}

#[test]
fn group_readable_private_key_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("perm");
    let (key, _) = keypair(&dir, "server");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let cfg = dir.write(
        "c.toml",
        &format!(
            "[node]\nstate_dir = \"{}\"\n[wireguard]\nprivate_key_file = \"{}\"\naddress = \"100.64.0.2/24\"\nlisten_port = {}\n",
            dir.path("state").display(),
            key.display(),
            free_port(true)
        ),
    );
    let (code, _, err) = wingress(&["run", "--config", cfg.to_str().unwrap()], "");
    assert_ne!(code, 0);
    assert!(
        err.contains("too open") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn embedded_default_creates_a_key_and_explains_how_to_add_a_peer() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("embedded");
    let state = dir.path("state");
    // An empty working directory: no ./wingress.toml. (/etc/wingress is
    // assumed absent on test machines; the test checks the log says so.)
    let mut d = {
        let log = dir.path("d.log");
        let f = std::fs::File::create(&log).unwrap();
        std::process::Command::new(BIN)
            .arg("run")
            .current_dir(&dir.0)
            .env("STATE_DIRECTORY", &state)
            .env("WINGRESS_NODE_IP", "127.0.0.77")
            .stderr(f)
            .spawn()
            .unwrap()
    };
    let key = state.join("private.key");
    let ok = eventually(std::time::Duration::from_secs(10), || {
        log_has(&dir.path("d.log"), "To add a peer").then_some(())
    });
    let _ = d.kill();
    let _ = d.wait();
    let log = std::fs::read_to_string(dir.path("d.log")).unwrap();
    if std::path::Path::new("/etc/wingress/wingress.toml").exists() {
        return;
    }
    assert!(ok.is_some(), "{log}");
    assert!(log.contains("41677"), "port from WINGRESS_NODE_IP: {log}");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (_, public, _) = wingress(&["pubkey"], &std::fs::read_to_string(&key).unwrap());
    assert!(log.contains(public.trim()), "{log}");
}

#[test]
fn kube_render_maps_manifests_offline() {
    let dir = TempDir::new("kube-render");
    let cfg = dir.write(
        "wingress.toml",
        "[wireguard]\naddress = \"100.64.0.1/24\"\n\n[kubernetes]\nbackends = \"service\"\n",
    );
    let manifests = include_str!("../../crates/kube/tests/manifests/tailscale.yaml");
    let cfg = cfg.to_str().unwrap();
    let (code, out, err) = wingress(&["kube", "render", "-f", "-", "--config", cfg], manifests);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("grafana.home.arpa  /     Prefix  tunnel  10.43.0.17:80"),
        "{out}"
    );
    let (code, out, err) = wingress(
        &["kube", "render", "-f", "-", "--config", cfg, "--json"],
        manifests,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"host\": \"grafana.home.arpa\""), "{out}");
    let (code, _, err) = wingress(&["kube", "render", "-f", "-", "--config", cfg], "kind: [");
    assert_ne!(code, 0);
    assert!(err.contains("-:"), "{err}");
}
