use super::*;

#[test]
fn normalizes_hosts() {
    let ok = |raw| normalize_host(raw).unwrap();
    assert_eq!(ok("Example.COM:8443"), "example.com");
    assert_eq!(ok("example.com."), "example.com");
    assert_eq!(ok("example.com.:80"), "example.com");
    assert_eq!(ok("example.com:"), "example.com");
    assert_eq!(ok("[::1]:443"), "[::1]");
    assert_eq!(ok("[FE80::1]"), "[fe80::1]");
    assert_eq!(ok("10.0.0.1:80"), "10.0.0.1");
    assert_eq!(ok("x_y.home.arpa"), "x_y.home.arpa");
    assert_eq!(ok(""), "");
}

#[test]
fn refuses_what_no_dns_name_has() {
    for raw in [
        "a b",
        "a/b",
        "a\\b",
        "a%62",
        "u@a",
        "a..b",
        ".a",
        ".",
        "a:80x",
        "a:123456",
        "a:65536",
        "a:1:2",
        "[::1",
        "[::1]x",
        "[nope]",
        "a,b",
        "\u{e4}.example",
        "a\tb",
    ] {
        assert_eq!(normalize_host(raw), Err(HostError::Invalid), "{raw:?}");
    }
    let long = format!("{}.example", "a".repeat(64));
    assert_eq!(normalize_host(&long), Err(HostError::Invalid));
}

#[test]
fn one_host_per_request() {
    let uri: Uri = "/".parse().unwrap();
    let mut headers = HeaderMap::new();
    assert_eq!(request_host(&uri, &headers, true), Err(HostError::Missing));
    assert_eq!(
        request_host(&uri, &headers, false),
        Ok(RequestHost::default())
    );
    headers.append(header::HOST, "a.example:8443".parse().unwrap());
    let host = request_host(&uri, &headers, true).unwrap();
    assert_eq!(host.raw.as_deref(), Some("a.example:8443"));
    assert_eq!(host.name, "a.example");
    headers.append(header::HOST, "b.example".parse().unwrap());
    assert_eq!(request_host(&uri, &headers, true), Err(HostError::Repeated));
    let absolute: Uri = "http://c.example/x".parse().unwrap();
    headers.remove(header::HOST);
    headers.append(header::HOST, "a.example".parse().unwrap());
    assert_eq!(
        request_host(&absolute, &headers, true).unwrap().name,
        "c.example"
    );
}
