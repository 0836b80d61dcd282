use super::*;

fn wire(name: &str) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::new();
    Name::parse(name)?.to_wire(&mut out);
    Ok(out)
}

#[test]
fn names() {
    let n = Name::from_dotted("a.b.home.arpa.").unwrap();
    let d = Name::from_dotted("home.arpa").unwrap();
    assert!(n.is_below(&d) && n.is_at_or_below(&d));
    assert!(d.is_at_or_below(&d) && !d.is_below(&d));
    assert!(!d.is_below(&n));
    assert_eq!(n.parent().to_string(), "b.home.arpa");
    assert_eq!(Name::from_dotted("").unwrap().to_string(), ".");
    assert!(Name::from_dotted("a..b").is_none());
    assert!(Name::from_dotted(&"a".repeat(64)).is_none());
    // "xhome.arpa" is not below "home.arpa": labels, not characters.
    assert!(!Name::from_dotted("xhome.arpa").unwrap().is_below(&d));
}

#[test]
fn names_encode_lowercase_with_the_root_label() {
    assert_eq!(
        wire("_ACME-challenge.App.example.").unwrap(),
        b"\x0f_acme-challenge\x03app\x07example\x00"
    );
    assert_eq!(wire(".").unwrap(), b"\x00");
    assert!(wire("a..b").is_err());
    assert!(wire(&"a".repeat(64)).is_err());
    assert!(wire(&["abc"; 70].join(".")).is_err());
    assert_eq!(absolute_lower("Example.COM"), "example.com.");
    assert_eq!(absolute_lower("example.com."), "example.com.");
}
