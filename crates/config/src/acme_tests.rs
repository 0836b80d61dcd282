//! Tests of `[tls.acme]` and `[tls.acme.dns]`.

use std::path::{Path, PathBuf};

use super::*;
use crate::ingress::tests::{errors, messages, parse, with_base};
use crate::parse_server;

/// A route for `host`, then `rest`; the base is eleven lines, the route
/// three, so `rest` starts on line 15.
fn acme(host: &str, rest: &str) -> String {
    with_base(&format!(
        "[[route]]\nhost = \"{host}\"\nbackends = [\"http://10.0.0.5:3000\"]\n{rest}"
    ))
}

fn parsed(text: &str) -> AcmeConfig {
    parse(text).unwrap().tls.acme.expect("[tls.acme] parsed")
}

#[test]
fn the_issue_example_parses() {
    let text = acme(
        "app.example.com",
        r#"[tls.acme]
email = "ops@example.com"
directory = "https://acme-v02.api.letsencrypt.org/directory"   # the default; any RFC 8555 CA works
ca_root = "pebble.pem"             # optional extra trust for the directory's TLS (test CAs)
challenge = "tls-alpn-01"          # http-01 | tls-alpn-01 | dns-01
eab = { kid = "kid-1", hmac_key_file = "eab.key" }

[tls.acme.dns]                     # for dns-01
provider = "rfc2136"
server = "127.0.0.1:53"
zone = "example.com."
tsig_key_name = "wingress."
tsig_algorithm = "hmac-sha256"
tsig_secret_file = "tsig.secret"
"#,
    );
    assert_eq!(
        parsed(&text),
        AcmeConfig {
            email: Some("ops@example.com".into()),
            directory: LETS_ENCRYPT_DIRECTORY.into(),
            ca_root: Some(PathBuf::from("/etc/wingress/pebble.pem")),
            challenge: AcmeChallenge::TlsAlpn01,
            eab: Some(ExternalAccountBinding {
                kid: "kid-1".into(),
                hmac_key_file: PathBuf::from("/etc/wingress/eab.key"),
            }),
            dns: Some(AcmeDnsConfig {
                provider: DnsProvider::Rfc2136,
                server: "127.0.0.1:53".parse().unwrap(),
                zone: "example.com.".into(),
                tsig_key_name: "wingress.".into(),
                tsig_algorithm: TsigAlgorithm::HmacSha256,
                tsig_secret_file: PathBuf::from("/etc/wingress/tsig.secret"),
            }),
        }
    );
}

#[test]
fn defaults_are_lets_encrypt_and_tls_alpn_or_dns() {
    let a = parsed(&acme("app.example.com", "[tls.acme]\n"));
    assert_eq!(a.directory, LETS_ENCRYPT_DIRECTORY);
    assert_eq!(a.challenge, AcmeChallenge::TlsAlpn01);
    assert_eq!((a.email, a.ca_root, a.eab, a.dns), (None, None, None, None));

    // With a DNS provider and no challenge written, dns-01 (no port needed).
    let a = parsed(&acme(
        "app.example.com",
        "[tls.acme]\n[tls.acme.dns]\nserver = \"192.0.2.53\"\nzone = \"Example.COM\"\n\
         tsig_key_name = \"wingress\"\ntsig_secret_file = \"/run/secrets/tsig\"\n",
    ));
    assert_eq!(a.challenge, AcmeChallenge::Dns01);
    let dns = a.dns.unwrap();
    assert_eq!(dns.server, "192.0.2.53:53".parse().unwrap());
    assert_eq!(dns.zone, "example.com.");
    assert_eq!(dns.tsig_key_name, "wingress.");
    assert_eq!(dns.tsig_algorithm, TsigAlgorithm::HmacSha256);
    assert_eq!(dns.tsig_secret_file, PathBuf::from("/run/secrets/tsig"));

    // mailto: is accepted and dropped; http-01 and IPv6 servers parse.
    let a = parsed(&acme(
        "app.example.com",
        "[tls.acme]\nemail = \"mailto:a@b.example\"\nchallenge = \"http-01\"\n\
         [tls.acme.dns]\nserver = \"[fd00::53]:5353\"\nzone = \"b.example\"\n\
         tsig_key_name = \"k\"\ntsig_algorithm = \"hmac-sha512\"\ntsig_secret_file = \"t\"\n",
    ));
    assert_eq!(a.email.as_deref(), Some("a@b.example"));
    assert_eq!(a.challenge, AcmeChallenge::Http01);
    let dns = a.dns.unwrap();
    assert_eq!(dns.server, "[fd00::53]:5353".parse().unwrap());
    assert_eq!(dns.tsig_algorithm, TsigAlgorithm::HmacSha512);
}

#[test]
fn bad_values_are_located() {
    let text = acme(
        "app.example.com",
        "[tls.acme]\nemail = \"ops\"\ndirectory = \"http://ca.example/dir\"\n\
         challenge = \"dns-02\"\neab = { kid = \"\" }\ncontact = \"x\"\n\
         [tls.acme.dns]\nprovider = \"route53\"\nserver = \"ns1.example.com\"\nzone = \"a..b\"\n\
         tsig_key_name = \"k\"\ntsig_algorithm = \"hmac-md5\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            "16:9: email: `ops` is not an email address",
            "17:13: directory: `http://ca.example/dir` is not an https:// URL (ACME directories are served over HTTPS)",
            "18:13: challenge: `dns-02` is not an ACME challenge (expected \"http-01\", \"tls-alpn-01\" or \"dns-01\")",
            "19:7: missing required key `hmac_key_file` in [tls.acme.eab]",
            "19:15: kid: must not be empty",
            "20:1: unknown key `contact` in [tls.acme]",
            "21:1: missing required key `tsig_secret_file` in [tls.acme.dns]",
            "22:12: provider: `route53` is not a DNS provider (expected \"rfc2136\")",
            "23:10: server: `ns1.example.com` is not an IP address with an optional port (e.g. \"192.0.2.53:53\"); names are not resolved",
            "24:8: zone: `a..b` is not a valid DNS zone",
            "26:18: tsig_algorithm: `hmac-md5` is not a supported TSIG algorithm (expected \"hmac-sha256\", \"hmac-sha384\" or \"hmac-sha512\")",
        ]
    );
}

#[test]
fn dns_01_needs_a_dns_provider() {
    assert_eq!(
        errors(&acme(
            "app.example.com",
            "[tls.acme]\nchallenge = \"dns-01\"\n"
        )),
        ["16:13: challenge: \"dns-01\" needs [tls.acme.dns] (where to publish the TXT records)"]
    );
}

#[test]
fn wildcard_hosts_need_dns_01_unless_a_static_certificate_may_cover_them() {
    assert_eq!(
        errors(&acme("*.example.com", "[tls.acme]\n")),
        [
            "12:1: route host `*.example.com` needs a wildcard certificate, which ACME CAs issue \
          only through dns-01: add [tls.acme.dns], or a [[tls.certificate]] that covers it"
        ]
    );
    // With static certificates the daemon decides, once it has read them.
    let text = acme(
        "*.example.com",
        "[tls]\n[[tls.certificate]]\ncert_file = \"w.pem\"\nkey_file = \"w.key\"\n[tls.acme]\n",
    );
    assert!(parse(&text).is_ok());
    // Without [tls.acme] the wildcard is the static certificates' business.
    assert!(parse(&acme("*.example.com", "")).is_ok());
}

#[test]
fn acme_must_be_a_table() {
    assert_eq!(
        messages(&acme("app.example.com", "[tls]\nacme = true\n")),
        ["acme: expected a table, found a boolean"]
    );
}

/// The commented `[tls.acme]` block of config/https.toml works uncommented.
#[test]
fn the_https_example_acme_block_parses_uncommented() {
    let text = include_str!("../../../config/https.toml");
    let mut out = String::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.starts_with("# [tls.acme]") {
            in_block = true;
        }
        if in_block && !line.starts_with('#') {
            in_block = false;
        }
        let line = if in_block {
            line.strip_prefix("# ").unwrap_or(line)
        } else {
            line
        };
        out.push_str(line);
        out.push('\n');
    }
    let config =
        parse_server(Path::new("config/https.toml"), &out, &crate::Env::default()).unwrap();
    let acme = config.tls.acme.expect("[tls.acme] uncommented");
    assert_eq!(acme.challenge, AcmeChallenge::TlsAlpn01);
    assert_eq!(acme.dns.unwrap().zone, "example.com.");
}
