use super::*;

#[test]
fn positions_are_one_based_and_count_chars() {
    let text = "a = 1\nné = \"x\"\n";
    assert_eq!(position(text, 0), (1, 1));
    assert_eq!(position(text, 4), (1, 5));
    assert_eq!(position(text, 6), (2, 1));
    // "né " is 4 bytes but 3 chars: the '=' after it is the 4th char.
    assert_eq!(position(text, 10), (2, 4));
    assert_eq!(position(text, text.len()), (3, 1));
    assert_eq!(position(text, 1000), (3, 1));
    // Inside the two-byte 'é': rounds down to its start.
    assert_eq!(position(text, 8), (2, 2));
}

#[test]
fn display_is_one_line_per_error_sorted_by_position() {
    let e = |line, col, message: &str| ConfigError {
        path: PathBuf::from("/etc/wingress.toml"),
        line,
        col,
        message: message.to_string(),
    };
    let errors = ConfigErrors(vec![e(7, 2, "second"), e(3, 9, "first"), e(0, 0, "env")]);
    assert_eq!(
        errors.to_string(),
        "/etc/wingress.toml: error: env\n\
             /etc/wingress.toml:3:9: error: first\n\
             /etc/wingress.toml:7:2: error: second"
    );
}

#[test]
fn finish_sorts_and_never_returns_none_silently() {
    let mut d = Diagnostics::new(Path::new("c.toml"), "x\ny\n");
    d.error(&(2..3), "b");
    d.error(&(0..1), "a");
    let errors = d.finish(Some(())).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "c.toml:1:1: error: a\nc.toml:2:1: error: b"
    );

    let d = Diagnostics::new(Path::new("c.toml"), "");
    assert_eq!(d.finish::<()>(None).unwrap_err().len(), 1);
}
