use super::*;

fn strict(path: &str) -> Result<Cow<'_, str>, PathError> {
    normalize(path, EncodedSlash::Refuse)
}

#[test]
fn ordinary_paths_are_borrowed() {
    for path in [
        "/",
        "/a/b",
        "/a/b/",
        "/api/v1;x=1",
        "/.well-known/x",
        "/a..b/c.",
        "/~user/@me:1",
        "*",
    ] {
        assert!(
            matches!(strict(path), Ok(Cow::Borrowed(p)) if p == path),
            "{path}"
        );
    }
}

#[test]
fn dot_segments_and_slashes_are_cleaned() {
    for (path, want) in [
        ("//admin", "/admin"),
        ("/public/../admin", "/admin"),
        ("/public/%2e%2E/admin", "/admin"),
        ("/public/.%2e/admin", "/admin"),
        ("/a/./b/", "/a/b/"),
        ("/a/..", "/"),
        ("/a/.", "/a/"),
        ("/../../x", "/x"),
        ("/.", "/"),
        ("///", "/"),
        ("/a//b//", "/a/b/"),
    ] {
        assert_eq!(strict(path).unwrap(), want, "{path}");
    }
}

#[test]
fn unreserved_escapes_are_decoded_and_others_canonical() {
    for (path, want) in [
        ("/%61dmin", "/admin"),
        ("/%7euser/%41%2D%5f", "/~user/A-_"),
        ("/a%20b", "/a%20b"),
        ("/a%3bb%3Ac", "/a%3Bb%3Ac"),
        ("/caf\u{e9}", "/caf%C3%A9"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/{a}|^[b]\"", "/%7Ba%7D%7C%5E%5Bb%5D%22"),
        ("/50%25off", "/50%25off"),
    ] {
        assert_eq!(strict(path).unwrap(), want, "{path}");
    }
}

#[test]
fn what_backends_read_differently_is_refused() {
    for (path, error) in [
        ("/%2fadmin", PathError::EncodedSlash),
        ("/public%2F..%2Fadmin", PathError::EncodedSlash),
        ("/a\\b", PathError::Backslash),
        ("/a%5cb", PathError::Backslash),
        ("/a%00", PathError::Control),
        ("/a%0A", PathError::Control),
        ("/a%7f", PathError::Control),
        ("/a%", PathError::BadEscape),
        ("/a%2", PathError::BadEscape),
        ("/a%zz", PathError::BadEscape),
        ("/a%%32%65", PathError::BadEscape),
        ("/%252e%252e/admin", PathError::DoubleEncoding),
        ("/%2561dmin", PathError::DoubleEncoding),
        ("/%25%32%46", PathError::DoubleEncoding),
        ("/a%252F", PathError::DoubleEncoding),
    ] {
        assert_eq!(strict(path), Err(error), "{path}");
    }
}

#[test]
fn encoded_slashes_kept_or_decoded_on_request() {
    let keep = |p| normalize(p, EncodedSlash::Keep);
    let decode = |p| normalize(p, EncodedSlash::Decode);
    assert_eq!(keep("/repo/a%2fb").unwrap(), "/repo/a%2Fb");
    assert_eq!(
        keep("/public%2F..%2Fadmin").unwrap(),
        "/public%2F..%2Fadmin"
    );
    assert_eq!(decode("/public%2F..%2Fadmin").unwrap(), "/admin");
    assert_eq!(decode("/repo/a%2fb").unwrap(), "/repo/a/b");
    assert_eq!(keep("/a%5Cb"), Err(PathError::Backslash));
    assert_eq!(decode("/a%252Fb"), Err(PathError::DoubleEncoding));
}

/// What the fuzz target also checks: the result is canonical and stable.
#[test]
fn normalising_twice_changes_nothing() {
    for path in [
        "/a/%2e%2e/%62/./c//%7e",
        "/x/%C3%a9/{}/",
        "/..%2f..",
        "/a%2Fb/../c",
        "/%41%2F%42",
    ] {
        for mode in [EncodedSlash::Keep, EncodedSlash::Decode] {
            let Ok(once) = normalize(path, mode) else {
                continue;
            };
            let twice = normalize(&once, mode).unwrap();
            assert_eq!(once, twice, "{path} {mode:?}");
            assert!(!once.contains("//") && !once.contains("/./"), "{once}");
            assert!(!once.ends_with("/.") && !once.contains("/../"), "{once}");
        }
    }
}
