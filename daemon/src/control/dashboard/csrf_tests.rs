use http::HeaderValue;

use super::*;

#[test]
fn tokens_are_per_viewer_and_per_secret() {
    let csrf = Csrf::from_secret(b"secret");
    let t = csrf.token("KEY-A");
    assert_eq!(t.len(), 64);
    assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(csrf.accepts("KEY-A", &t));
    assert!(csrf.accepts("KEY-A", &t.to_uppercase()));
    assert!(!csrf.accepts("KEY-B", &t));
    assert!(!Csrf::from_secret(b"other").accepts("KEY-A", &t));
    assert!(!csrf.accepts("KEY-A", ""));
    assert!(!csrf.accepts("KEY-A", &t[..62]));
    assert!(!csrf.accepts("KEY-A", &format!("{}zz", &t[..62])));
    assert!(!csrf.accepts("KEY-A", &format!("{t}00")));
    // Multi-byte text of the right length is refused, not sliced.
    assert!(!csrf.accepts("KEY-A", &"é".repeat(32)));
    assert_ne!(
        Csrf::random().unwrap().token("K"),
        Csrf::random().unwrap().token("K")
    );
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn same_origin_posts_pass() {
    let host = ("host", "wingress.home.arpa");
    assert_eq!(check_origin(&headers(&[host])), Ok(()));
    assert_eq!(
        check_origin(&headers(&[
            host,
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://wingress.home.arpa"),
        ])),
        Ok(())
    );
    assert_eq!(
        check_origin(&headers(&[("sec-fetch-site", "none"), host])),
        Ok(())
    );
    assert_eq!(
        check_origin(&headers(&[
            ("host", "wingress.home.arpa:443"),
            ("origin", "https://Wingress.Home.Arpa"),
        ])),
        Ok(())
    );
}

#[test]
fn cross_site_posts_are_refused() {
    let host = ("host", "wingress.home.arpa");
    for site in ["cross-site", "same-site", ""] {
        let mut h = headers(&[host]);
        h.insert("sec-fetch-site", HeaderValue::from_static(site));
        assert_eq!(check_origin(&h), Err(CrossSite::FetchSite), "{site}");
    }
    for origin in [
        "http://127.0.0.1:8000",
        "http://wingress.home.arpa",
        "https://wingress.home.arpa.evil.example",
        "https://evil.example",
        "null",
    ] {
        let mut h = headers(&[host]);
        h.insert("origin", HeaderValue::from_str(origin).unwrap());
        assert_eq!(check_origin(&h), Err(CrossSite::Origin), "{origin}");
    }
    // An Origin with no Host to compare with is not ours.
    assert_eq!(
        check_origin(&headers(&[("origin", "https://wingress.home.arpa")])),
        Err(CrossSite::Origin)
    );
}
