use super::*;

#[test]
fn bearer_tokens_are_checked_exactly() {
    let t = Token::new("0123456789abcdef-xyz").unwrap();
    assert!(t.accepts(Some(b"Bearer 0123456789abcdef-xyz")));
    assert!(t.accepts(Some(b"bearer 0123456789abcdef-xyz ")));
    for bad in [
        &b"Bearer 0123456789abcdef-xy"[..],
        b"Bearer 0123456789abcdef-xyzz",
        b"Basic 0123456789abcdef-xyz",
        b"0123456789abcdef-xyz",
        b"Bearer",
        b"",
    ] {
        assert!(!t.accepts(Some(bad)), "{:?}", String::from_utf8_lossy(bad));
    }
    assert!(!t.accepts(None));
}

#[test]
fn weak_tokens_are_refused() {
    assert!(Token::new("short").is_err());
    assert!(Token::new("has a space in it, long enough").is_err());
    assert!(Token::new("0123456789abcdef").is_ok());
}
