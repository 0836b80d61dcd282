use std::path::Path;

use super::*;
use crate::{parse_server, ConfigErrors, Env, ServerConfig};

const PATH: &str = "/etc/wingress/wingress.toml";
const BASE: &str = "[wireguard]\naddress = \"100.64.0.1/24\"\n";

fn parse(section: &str) -> Result<ServerConfig, ConfigErrors> {
    parse_server(
        Path::new(PATH),
        &format!("{BASE}{section}"),
        &Env::default(),
    )
}

fn kube(text: &str) -> KubernetesConfig {
    parse(text).unwrap().kubernetes
}

/// `line:col: message` of each error, lines counted in the whole file.
fn errors(text: &str) -> Vec<String> {
    parse(text).unwrap_err().located()
}

#[test]
fn no_section_means_off_with_the_defaults() {
    let k = kube("");
    assert_eq!(k, KubernetesConfig::default());
    assert!(!k.enabled);
    assert_eq!(k.ingress_classes, ["wingress"]);
    assert!(k.namespaces.is_empty());
    assert_eq!(k.backends, BackendSource::Endpoints);
    assert!(k.host_suffixes.is_empty());
    assert_eq!(
        k.access_modes,
        [Access::Tunnel, Access::Mtls, Access::ForwardAuth]
    );
    assert_eq!(k.status_address, None);
    assert_eq!(k.kubeconfig, None);
    assert_eq!(k.debounce, Duration::from_millis(100));
}

#[test]
fn every_key() {
    let k = kube(
        r#"
[kubernetes]
enabled = true
ingress_classes = ["wingress", "tailscale"]
namespaces = ["default", "argocd"]
backends = "service"
host_suffixes = ["home.arpa", ".lab.example", "*.Test.Example"]
access_modes = ["tunnel", "public"]
client_cas = { home = "ca/home.pem", ops = "/etc/ops.pem" }
status_address = "192.168.1.10"
kubeconfig = "kube/config"
debounce = "250ms"
"#,
    );
    assert!(k.enabled);
    assert_eq!(k.ingress_classes, ["wingress", "tailscale"]);
    assert_eq!(k.namespaces, ["default", "argocd"]);
    assert_eq!(k.backends, BackendSource::Service);
    assert_eq!(
        k.host_suffixes,
        ["home.arpa", "lab.example", "test.example"]
    );
    assert_eq!(k.access_modes, [Access::Tunnel, Access::Public]);
    assert_eq!(
        k.client_cas,
        [
            (
                "home".to_string(),
                PathBuf::from("/etc/wingress/ca/home.pem")
            ),
            ("ops".to_string(), PathBuf::from("/etc/ops.pem")),
        ]
    );
    assert_eq!(k.client_ca("ops"), Some(&PathBuf::from("/etc/ops.pem")));
    assert_eq!(k.client_ca("nope"), None);
    assert_eq!(
        k.status_address,
        Some(StatusAddress::Ip("192.168.1.10".parse().unwrap()))
    );
    assert_eq!(
        k.kubeconfig,
        Some(PathBuf::from("/etc/wingress/kube/config"))
    );
    assert_eq!(k.debounce, Duration::from_millis(250));
}

#[test]
fn status_address_may_be_a_host_name() {
    let k = kube("[kubernetes]\nstatus_address = \"Node1.Home.Arpa\"\n");
    assert_eq!(
        k.status_address,
        Some(StatusAddress::Hostname("node1.home.arpa".into()))
    );
}

#[test]
fn host_suffixes_match_on_label_boundaries() {
    let k = kube("[kubernetes]\nhost_suffixes = [\"home.arpa\"]\n");
    assert!(k.admits_host("home.arpa"));
    assert!(k.admits_host("grafana.home.arpa"));
    assert!(k.admits_host("a.b.home.arpa"));
    assert!(!k.admits_host("evilhome.arpa"));
    assert!(!k.admits_host("arpa"));
    assert!(!k.admits_host("grafana.example.com"));
    assert!(KubernetesConfig::default().admits_host("anything.example"));
}

#[test]
fn unknown_key_suggests() {
    assert_eq!(
        errors("[kubernetes]\nnamespace = [\"a\"]\n"),
        ["4:1: unknown key `namespace` in [kubernetes]; did you mean `namespaces`?"]
    );
}

#[test]
fn bad_values_are_located() {
    let errs = errors(
        r#"[kubernetes]
backends = "pods"
access_modes = ["tunnel", "open", "tunnel"]
namespaces = ["Default"]
host_suffixes = ["home..arpa"]
status_address = "not an address"
debounce = 100
ingress_classes = []
client_cas = { Home = "a.pem", b = "", c = 3 }
"#,
    );
    let expected = [
        "4:12: backends: `pods` is not a backend source (expected \"endpoints\" or \"service\")",
        "5:27: access_modes: `open` is not an access mode (expected \"tunnel\", \"mtls\", \"forward-auth\" or \"public\")",
        "5:35: access_modes: `tunnel` is listed twice",
        "6:15: namespaces: `Default` is not a namespace name (1 to 63 of a-z, 0-9 and `-`, not starting or ending with `-`)",
        "7:18: host_suffixes: `home..arpa` has an empty label",
        "8:18: status_address: `not an address` contains ` `; host names use only a-z, 0-9, `-` and `.`; write an IP address or a host name",
        "9:12: debounce: `100` has no unit; write e.g. \"100s\" (units: ms, s, m, h)",
        "10:19: ingress_classes: the list is empty; no Ingress would be served (set enabled = false instead)",
        "11:16: client_cas: `Home` is not a CA name (1 to 63 of a-z, 0-9 and `-`)",
        "11:36: client_cas.b: path must not be empty",
        "11:44: client_cas.c: expected a string, found an integer",
    ];
    assert_eq!(errs, expected);
}

#[test]
fn debounce_has_a_ceiling() {
    assert_eq!(
        errors("[kubernetes]\ndebounce = \"1m\"\n"),
        ["4:12: debounce: 60s is longer than 10s"]
    );
}
