use super::*;

fn keys(text: &str) -> Vec<KeyBlock> {
    match parse(text) {
        Ok(SecretFile::Keys(k)) => k,
        other => panic!("{other:?}"),
    }
}

/// What bind9's tsig-keygen prints, with the key named after the clause.
#[test]
fn tsig_keygen_output() {
    let k = keys("key \"acme-secret.\" {\n\talgorithm hmac-sha256;\n\tsecret \"AAECAw==\";\n};\n");
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].name, "acme-secret.");
    assert_eq!(k[0].algorithm.as_deref(), Some("hmac-sha256"));
    assert_eq!(k[0].secret, [0, 1, 2, 3]);
}

#[test]
fn comments_unquoted_names_other_statements_and_a_missing_last_semicolon() {
    let text = "/* secret \"notme\" */ # secret \"notme\"\n// secret \"notme\"\n\
                options { directory \"/x\"; };\n\
                key Upper.Example { algorithm HMAC-SHA512; secret ab//cd+/; }";
    let k = keys(text);
    assert_eq!(k[0].name, "upper.example.");
    assert_eq!(k[0].algorithm.as_deref(), Some("hmac-sha512"));
    assert_eq!(
        k[0].secret,
        base64::engine::general_purpose::STANDARD
            .decode("ab//cd+/")
            .unwrap()
    );
}

#[test]
fn a_bare_secret() {
    assert_eq!(
        parse("  AAECAw==\n"),
        Ok(SecretFile::Bare(vec![0, 1, 2, 3]))
    );
    assert_eq!(parse("AA=="), Ok(SecretFile::Bare(vec![0])));
    assert_eq!(parse("!!"), Err(KeyFileError::NotBase64));
    assert_eq!(parse(" \n# only a comment\n"), Err(KeyFileError::Empty));
}

#[test]
fn malformed_files_are_errors_that_never_quote_the_secret() {
    for (text, want) in [
        (
            "key \"k\" { secret \"AAECAw==; };",
            KeyFileError::Unterminated,
        ),
        ("/* open", KeyFileError::Unterminated),
        (
            "key \"k\" { algorithm hmac-sha256; };",
            KeyFileError::NoSecret("k.".into()),
        ),
        (
            "key k { secret \"AAECAw==\"; }; key K. { secret \"AAECAw==\"; };",
            KeyFileError::Duplicate("k.".into()),
        ),
        (
            "key k secret \"AAECAw==\";",
            KeyFileError::Syntax("a key statement is not `key NAME { ... };`"),
        ),
        (
            "key k { secret \"AAECAw==\" ",
            KeyFileError::Syntax("a statement does not end with `;`"),
        ),
        ("}; AAECAw==", KeyFileError::Syntax("a `}` without its `{`")),
        (
            "two words",
            KeyFileError::Syntax("a statement does not end with `;`"),
        ),
        ("options { };", KeyFileError::Syntax("no `key` statement")),
        ("key k { secret \"AAECA\"; };", KeyFileError::NotBase64),
    ] {
        let got = parse(text);
        assert_eq!(got, Err(want), "{text:?}");
        let shown = got.unwrap_err().to_string();
        assert!(!shown.contains("AAECA"), "{shown}");
    }
}

/// Anything at all: an answer or an error, never a panic.
#[test]
fn arbitrary_bytes_do_not_panic() {
    let samples = [
        "key",
        "key \"",
        "{",
        "}",
        ";",
        "key k {",
        "key k { secret",
        "key k { secret ; };",
        "\"",
        "/*",
        "/",
        "//",
        "#",
        "key k { { } };",
        "key { secret \"AA==\"; };",
        "é",
        "key é { secret \"AA==\"; };",
    ];
    for s in samples {
        let _ = parse(s);
    }
}
