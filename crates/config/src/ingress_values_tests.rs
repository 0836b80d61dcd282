use super::*;

fn listen(s: &str) -> Result<Listen, String> {
    s.parse()
}

fn host(s: &str) -> Result<HostPattern, String> {
    s.parse()
}

fn backend(s: &str) -> Result<BackendUrl, String> {
    s.parse()
}

fn auth(s: &str) -> Result<ForwardAuthUrl, String> {
    s.parse()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn listen_addresses() {
    assert_eq!(listen("tunnel:443"), Ok(Listen::Tunnel { port: 443 }));
    assert_eq!(
        listen("0.0.0.0:3443"),
        Ok(Listen::Host("0.0.0.0:3443".parse().unwrap()))
    );
    assert_eq!(
        listen("[::]:443"),
        Ok(Listen::Host("[::]:443".parse().unwrap()))
    );
    assert_eq!(listen("[::]:443").unwrap().to_string(), "[::]:443");
    assert_eq!(listen("tunnel:80").unwrap().to_string(), "tunnel:80");

    assert_eq!(
        listen("443").unwrap_err(),
        "a bare port does not say where to listen; write \"tunnel:443\" (the tunnel address) \
         or \"0.0.0.0:443\" (a host socket)"
    );
    assert!(listen("tunnel").unwrap_err().contains("needs a port"));
    assert_eq!(
        listen("tunnel:0").unwrap_err(),
        "`0` is not a port number (1-65535)"
    );
    assert!(listen("tunnel:+443").is_err());
    assert!(listen("tunnel:70000").is_err());
    assert!(listen("0.0.0.0:0").unwrap_err().contains("port 0"));
    assert!(listen("localhost:443")
        .unwrap_err()
        .contains("is not a listen address"));
    assert!(listen("").is_err());
}

#[test]
fn listen_clashes() {
    let l = |s: &str| listen(s).unwrap();
    assert!(l("tunnel:443").clashes_with(&l("tunnel:443")));
    assert!(!l("tunnel:443").clashes_with(&l("0.0.0.0:443")));
    assert!(l("0.0.0.0:443").clashes_with(&l("10.0.0.5:443")));
    assert!(l("10.0.0.5:443").clashes_with(&l("0.0.0.0:443")));
    assert!(!l("10.0.0.5:443").clashes_with(&l("10.0.0.6:443")));
    assert!(!l("0.0.0.0:443").clashes_with(&l("0.0.0.0:8443")));
    assert!(l("[::]:443").clashes_with(&l("[fd00::1]:443")));
    assert!(!l("[::]:443").clashes_with(&l("0.0.0.0:443")));
}

#[test]
fn host_patterns() {
    assert_eq!(
        host("Grafana.Home.ARPA"),
        Ok(HostPattern::Exact("grafana.home.arpa".into()))
    );
    assert_eq!(
        host("*.home.arpa"),
        Ok(HostPattern::Wildcard(".home.arpa".into()))
    );
    assert_eq!(host("*"), Ok(HostPattern::Any));
    assert_eq!(
        host("localhost"),
        Ok(HostPattern::Exact("localhost".into()))
    );
    assert_eq!(host("*.home.arpa").unwrap().to_string(), "*.home.arpa");
    assert_eq!(host("*").unwrap().to_string(), "*");
    let longest = format!("{}.{}", "a".repeat(63), "b".repeat(63));
    assert!(host(&longest).is_ok());
}

#[test]
fn host_pattern_errors() {
    let err = |s: &str| host(s).unwrap_err();
    assert!(err("grafana.home.arpa:443").contains("contains a port"));
    assert!(err("https://grafana.home.arpa").contains("is a URL"));
    assert!(err("grafana.home.arpa/x").contains("path_prefix"));
    assert!(err("a.*.arpa").contains("whole first label"));
    assert!(err("*grafana.arpa").contains("whole first label"));
    assert!(err("*.*.arpa").contains("whole first label"));
    assert!(err("").contains("empty"));
    assert!(err("*.").contains("empty"));
    assert!(err("a..b").contains("empty label"));
    assert!(err("grafana.").contains("empty label"));
    assert!(err("-x.arpa").contains("starts or ends with `-`"));
    assert!(err("x-.arpa").contains("starts or ends with `-`"));
    assert_eq!(
        err("my_app.arpa"),
        "`my_app.arpa` contains `_`; host names use only a-z, 0-9, `-` and `.`"
    );
    assert!(err(&"a".repeat(64)).contains("longer than 63"));
    let too_long = vec!["a".repeat(63); 4].join(".");
    assert!(err(&too_long).contains("longer than 253"));
    assert!(err("bücher.de").contains("xn--"));
}

#[test]
fn host_pattern_matching() {
    let exact = host("grafana.home.arpa").unwrap();
    assert!(exact.matches("grafana.home.arpa"));
    assert!(exact.matches("GRAFANA.home.arpa"));
    assert!(!exact.matches("x.grafana.home.arpa"));

    let wildcard = host("*.home.arpa").unwrap();
    assert!(wildcard.matches("grafana.home.arpa"));
    assert!(wildcard.matches("Grafana.Home.Arpa"));
    assert!(!wildcard.matches("home.arpa"));
    assert!(!wildcard.matches(".home.arpa"));
    assert!(!wildcard.matches("a.b.home.arpa"));
    assert!(!wildcard.matches("xhome.arpa"));

    assert!(HostPattern::Any.matches("anything.example"));
}

#[test]
fn backend_urls() {
    let b = |host: &str, port| BackendUrl {
        scheme: BackendScheme::Http,
        host: host.into(),
        port,
    };
    assert_eq!(
        backend("http://grafana.monitoring.svc.cluster.local:3000"),
        Ok(b("grafana.monitoring.svc.cluster.local", 3000))
    );
    assert_eq!(backend("http://10.0.0.5:3000"), Ok(b("10.0.0.5", 3000)));
    assert_eq!(backend("http://[fd00::1]:8080"), Ok(b("fd00::1", 8080)));
    assert_eq!(backend("http://10.0.0.5"), Ok(b("10.0.0.5", 80)));
    assert_eq!(backend("http://10.0.0.5/"), Ok(b("10.0.0.5", 80)));
    assert_eq!(backend("HTTP://web:81"), Ok(b("web", 81)));
    assert_eq!(backend("http://[fd00::1]").unwrap().port, 80);
    assert_eq!(
        backend("http://[fd00::1]:8080").unwrap().to_string(),
        "http://[fd00::1]:8080"
    );
    assert_eq!(backend("http://web").unwrap().to_string(), "http://web:80");
    let tls = backend("https://argocd.svc").unwrap();
    assert_eq!(tls.scheme, BackendScheme::Https);
    assert_eq!(tls.port, 443);
    assert_eq!(tls.to_string(), "https://argocd.svc:443");
    assert_eq!(backend("HTTPS://[fd00::1]:8443").unwrap().port, 8443);
    let h2c = backend("h2c://grpc.svc").unwrap();
    assert_eq!((h2c.scheme, h2c.port), (BackendScheme::H2c, 80));
    assert_eq!(h2c.to_string(), "h2c://grpc.svc:80");
}

#[test]
fn backend_url_errors() {
    let err = |s: &str| backend(s).unwrap_err();
    assert!(err("h2://10.0.0.5:3000").contains("unsupported scheme `h2`"));
    assert!(err("ftp://10.0.0.5").contains("unsupported scheme `ftp`"));
    assert_eq!(
        err("10.0.0.5:3000"),
        "`10.0.0.5:3000` is not a URL; write it with a scheme, e.g. \"http://10.0.0.5:3000\""
    );
    assert!(err("http://10.0.0.5:3000/api").contains("has a path or query"));
    assert!(err("http://10.0.0.5:3000?x=1").contains("has a path or query"));
    assert!(err("http://10.0.0.5#x").contains("fragment"));
    assert!(err("http://user:pw@10.0.0.5").contains("user info"));
    assert!(err("http://10.0.0.5:0").contains("not a port number"));
    assert!(err("http://10.0.0.5:99999").contains("not a port number"));
    assert!(err("http://10.0.0.5:").contains("not a port number"));
    assert!(err("http://fd00::1:8080").contains("in brackets"));
    assert!(err("http://[nope]:80").contains("not an IPv6 address"));
    assert!(err("http://[fd00::1").contains("unclosed"));
    assert!(err("http://[fd00::1]x").contains("not a valid URL"));
    assert!(err("http://").contains("no host"));
    assert!(err("http://:80").contains("no host"));
    assert!(err("http://bad host:80").contains("contains ' '"));
    assert!(err("http://-web:80").contains("not an IP address or host name"));
    assert!(err("http://10.0.0.256:80").contains("not an IP address or host name"));
}

#[test]
fn forward_auth_urls() {
    let url = auth("http://authentik.auth.svc:9000/outpost.goauthentik.io/auth/traefik").unwrap();
    assert_eq!(
        url,
        ForwardAuthUrl {
            scheme_https: false,
            host: "authentik.auth.svc".into(),
            port: 9000,
            path_and_query: "/outpost.goauthentik.io/auth/traefik".into(),
        }
    );
    assert_eq!(
        url.to_string(),
        "http://authentik.auth.svc:9000/outpost.goauthentik.io/auth/traefik"
    );
    let url = auth("https://auth.example.com").unwrap();
    assert!(url.scheme_https);
    assert_eq!(url.port, 443);
    assert_eq!(url.path_and_query, "/");
    let url = auth("http://[fd00::9]?rd=1").unwrap();
    assert_eq!((url.port, url.path_and_query.as_str()), (80, "/?rd=1"));
    assert_eq!(url.to_string(), "http://[fd00::9]:80/?rd=1");

    assert!(auth("ws://auth")
        .unwrap_err()
        .contains("unsupported scheme"));
    assert!(auth("auth.svc:9000/x").unwrap_err().contains("not a URL"));
    assert!(auth("http://auth/x#frag").unwrap_err().contains("fragment"));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("500ms"), Ok(ms(500)));
    assert_eq!(parse_duration("5s"), Ok(ms(5_000)));
    assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
    assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
    assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
    assert_eq!(parse_duration("1s500ms"), Ok(ms(1_500)));
    assert_eq!(parse_duration("0s1ms"), Ok(ms(1)));
}

#[test]
fn duration_errors() {
    let err = |s: &str| parse_duration(s).unwrap_err();
    assert_eq!(
        err("5"),
        "`5` has no unit; write e.g. \"5s\" (units: ms, s, m, h)"
    );
    assert_eq!(duration_unit_hint(30), err("30"));
    assert!(err("").contains("empty"));
    assert!(err("0s").contains("is zero"));
    assert!(err("0ms").contains("is zero"));
    assert!(err("5 s").contains("has no unit"));
    assert!(err("5s10").contains("`10` has no unit"));
    assert!(err("1.5s").contains("fractions are not supported"));
    assert!(err("-5s").contains("is not a duration"));
    assert!(err("s").contains("is not a duration"));
    assert!(err("5sec").contains("unknown unit `sec`"));
    assert!(err("5d").contains("unknown unit `d`"));
    assert!(err("99999999999999999999h").contains("too long"));
    assert!(err("18446744073709551615s").contains("too long"));
}
