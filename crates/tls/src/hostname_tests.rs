use super::*;

#[test]
fn accepts_and_lowercases_dns_names() {
    let n = HostName::parse("App.Example.COM.").unwrap();
    assert_eq!(n, HostName::Dns("app.example.com".into()));
    assert_eq!(n.wildcard().as_deref(), Some("*.example.com"));
    assert_eq!(
        HostName::parse("localhost"),
        Some(HostName::Dns("localhost".into()))
    );
    assert_eq!(HostName::parse("localhost").unwrap().wildcard(), None);
    assert!(HostName::parse("_acme.x-y.example").is_some());
}

#[test]
fn accepts_ip_literals() {
    assert_eq!(
        HostName::parse("100.64.0.2"),
        Some(HostName::Ip("100.64.0.2".parse().unwrap()))
    );
    let v6 = HostName::parse("fd00::1").unwrap();
    assert_eq!(v6.file_stem(), "fd00::1");
    assert_eq!(v6.wildcard(), None);
}

#[test]
fn rejects_everything_unsafe_or_malformed() {
    let long_label = "a".repeat(64);
    let long_name = ["a"; 150].join(".");
    for bad in [
        "",
        ".",
        "..",
        "../../etc/passwd",
        "a/b",
        "a\\b",
        ".hidden",
        "a..b",
        "-a.com",
        "a-.com",
        "*.example.com",
        "a b",
        "a\0b",
        "é.com",
        "1.2.3",
        long_label.as_str(),
        long_name.as_str(),
        &"x".repeat(300),
    ] {
        assert_eq!(HostName::parse(bad), None, "{bad:?}");
    }
}
