//! `[tls.acme]` mistakes the daemon refuses before anything starts: a
//! readable TSIG secret, and a wildcard route host that needs dns-01 when
//! the static certificates (read at start-up) do not cover it. Needs no
//! network: nothing reaches the CA.
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;

/// A config with an https host entrypoint, `[tls.acme]` plus `extra`, and
/// one route for `host`.
fn config(dir: &TempDir, key: &std::path::Path, host: &str, extra: &str) -> std::path::PathBuf {
    dir.write(
        "wingress.toml",
        &format!(
            "[node]\nstate_dir = \"{state}\"\n\
             [wireguard]\nprivate_key_file = \"{key}\"\naddress = \"100.64.0.2/24\"\nlisten_port = {udp}\n\
             [[entrypoint]]\nname = \"lan\"\nlisten = \"127.0.0.1:{tcp}\"\n\
             {extra}\n\
             [[route]]\nhost = \"{host}\"\nbackends = [\"http://127.0.0.1:9\"]\naccess = \"public\"\n\
             [nat]\nstun_servers = []\nport_mapping = false\n",
            state = dir.path("state").display(),
            key = key.display(),
            udp = free_port(true),
            tcp = free_port(false),
        ),
    )
}

#[test]
fn a_tsig_secret_readable_by_others_is_refused_with_the_fix() {
    let dir = TempDir::new("acme-tsig");
    let (key, _) = keypair(&dir, "server");
    let secret = dir.write("tsig.secret", "c2VjcmV0IHNlY3JldCBzZWNyZXQ=\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let acme = format!(
        "[tls.acme]\ndirectory = \"https://127.0.0.1:9/dir\"\n[tls.acme.dns]\nserver = \"127.0.0.1:9\"\n\
         zone = \"example.com\"\ntsig_key_name = \"wingress\"\ntsig_secret_file = \"{}\"\n",
        secret.display()
    );
    let cfg = config(&dir, &key, "app.example.com", &acme);
    let (code, _, err) = wingress(&["run", "--config", cfg.to_str().unwrap()], "");
    assert_ne!(code, 0);
    assert!(err.contains("tsig_secret_file"), "{err}");
    assert!(
        err.contains("too open") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(
        !err.contains("c2VjcmV0"),
        "the secret is never printed: {err}"
    );

    // Tightened, the same config gets past the secret (and then needs the
    // name to be in the zone).
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = config(&dir, &key, "app.other.org", &acme);
    let (code, _, err) = wingress(&["run", "--config", cfg.to_str().unwrap()], "");
    assert_ne!(code, 0);
    assert!(
        err.contains("`app.other.org`") && err.contains("not in the dns-01 zone example.com."),
        "{err}"
    );
}

#[test]
fn a_wildcard_no_static_certificate_covers_needs_dns_01_with_its_location() {
    let dir = TempDir::new("acme-wildcard");
    let (key, _) = keypair(&dir, "server");
    // A static certificate for another name: the config parser cannot
    // know it misses the wildcard; the daemon does once it has read it.
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "2", "-subj", "/CN=other.example.com"])
        .args(["-addext", "subjectAltName=DNS:other.example.com"])
        .arg("-keyout")
        .arg(dir.path("other.key"))
        .arg("-out")
        .arg(dir.path("other.pem"))
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let acme = format!(
        "[[tls.certificate]]\ncert_file = \"{}\"\nkey_file = \"{}\"\n[tls.acme]\ndirectory = \"https://127.0.0.1:9/dir\"\n",
        dir.path("other.pem").display(),
        dir.path("other.key").display()
    );
    let cfg = config(&dir, &key, "*.apps.example.com", &acme);
    let (code, _, err) = wingress(&["run", "--config", cfg.to_str().unwrap()], "");
    assert_ne!(code, 0);
    // The [[route]] header is on line 16 of the file.
    let want = format!(
        "{}:16:1: error: route host `*.apps.example.com` needs",
        cfg.display()
    );
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("add [tls.acme.dns]"), "{err}");
}
