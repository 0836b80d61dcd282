use std::path::Path;

use super::*;

/// Runs `walk` over the root table of `text` and returns the errors as
/// `line:col: message` strings.
fn errors_of(text: &str, walk: impl FnOnce(&mut Table<'_>, &mut Diagnostics<'_>)) -> Vec<String> {
    let doc = toml_edit::Document::parse(text).unwrap();
    let mut d = Diagnostics::new(Path::new("t.toml"), text);
    let mut root = Table::root(doc.as_table());
    walk(&mut root, &mut d);
    root.finish(&mut d);
    match d.finish(Some(())) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.located(),
    }
}

#[test]
fn wrong_types_name_both_types() {
    let errors = errors_of("s = 5\nn = \"x\"\na = [1, \"ok\"]\n", |t, d| {
        assert!(t.optional_str(d, "s").is_none());
        assert!(t.optional_u16(d, "n", 0..=10).is_none());
        assert_eq!(t.optional_str_array(d, "a").unwrap().len(), 1);
    });
    assert_eq!(
        errors,
        [
            "1:5: s: expected a string, found an integer",
            "2:5: n: expected an integer, found a string",
            "3:6: a: expected a string, found an integer",
        ]
    );
}

#[test]
fn missing_required_keys_point_at_the_header() {
    let errors = errors_of("x = 1\n\n[sec]\ny = 2\n", |t, d| {
        let mut sec = t.required_table(d, "sec").unwrap();
        assert!(sec.required_str(d, "name").is_none());
        sec.optional_u16(d, "y", 0..=5);
        sec.finish(d);
        t.optional_u16(d, "x", 0..=5);
        assert!(t.required_table(d, "other").is_none());
    });
    assert_eq!(
        errors,
        [
            "1:1: missing required table [other]",
            "3:1: missing required key `name` in [sec]",
        ]
    );
}

#[test]
fn integers_out_of_range() {
    let errors = errors_of("a = 70000\nb = -1\nc = 0\n", |t, d| {
        assert!(t.optional_u16(d, "a", 0..=u16::MAX).is_none());
        assert!(t.optional_u16(d, "b", 0..=u16::MAX).is_none());
        assert!(t.optional_u16(d, "c", 1..=u16::MAX).is_none());
    });
    assert_eq!(
        errors,
        [
            "1:5: a: must be between 0 and 65535, found 70000",
            "2:5: b: must be between 0 and 65535, found -1",
            "3:5: c: must be between 1 and 65535, found 0",
        ]
    );
}

#[test]
fn unknown_keys_are_reported_with_a_suggestion() {
    let errors = errors_of(
        "[[peer]]\nname = \"a\"\nallowed_ip = []\ncolour = 1\n",
        |t, d| {
            for mut peer in t.array_of_tables(d, "peer") {
                peer.optional_str(d, "name");
                peer.optional_str_array(d, "allowed_ips");
                peer.finish(d);
            }
        },
    );
    assert_eq!(
        errors,
        [
            "3:1: unknown key `allowed_ip` in [[peer]]; did you mean `allowed_ips`?",
            "4:1: unknown key `colour` in [[peer]]",
        ]
    );
}

#[test]
fn inline_and_dotted_tables_are_tables() {
    let text = "peer = [{ name = \"a\" }, 5]\nwireguard.mtu = 1400\nnode = { ip = \"x\", q = 1 }\n";
    let errors = errors_of(text, |t, d| {
        let peers = t.array_of_tables(d, "peer");
        assert_eq!(peers.len(), 1);
        for mut p in peers {
            assert_eq!(p.optional_str(d, "name").unwrap().value, "a");
            p.finish(d);
        }
        let mut wg = t.optional_table(d, "wireguard").unwrap();
        assert_eq!(wg.optional_u16(d, "mtu", 0..=9000).unwrap().value, 1400);
        wg.finish(d);
        let mut node = t.optional_table(d, "node").unwrap();
        node.optional_str(d, "ip");
        node.finish(d);
    });
    assert_eq!(
        errors,
        [
            "1:25: peer: expected a table, found an integer",
            "3:20: unknown key `q` in [node]",
        ]
    );
}

#[test]
fn table_shape_mistakes_get_a_hint() {
    let errors = errors_of("[peer]\nname = \"a\"\n[[wireguard]]\n", |t, d| {
        assert!(t.array_of_tables(d, "peer").is_empty());
        assert!(t.optional_table(d, "wireguard").is_none());
    });
    assert_eq!(
        errors,
        [
            "1:1: peer: expected an array of tables, found a table (write [[peer]], not [peer])",
            "3:1: wireguard: expected a table, found an array of tables (write [wireguard], not [[wireguard]])",
        ]
    );
}

#[test]
fn paths_resolve_against_the_base() {
    let errors = errors_of("a = \"k.key\"\nb = \"/abs/k.key\"\nc = \"\"\n", |t, d| {
        let base = Path::new("/etc/wingress");
        assert_eq!(
            t.optional_path(d, "a", base).unwrap().value,
            Path::new("/etc/wingress/k.key")
        );
        assert_eq!(
            t.optional_path(d, "b", base).unwrap().value,
            Path::new("/abs/k.key")
        );
        assert!(t.optional_path(d, "c", base).is_none());
    });
    assert_eq!(errors, ["3:5: c: path must not be empty"]);
}

#[test]
fn booleans_integer_arrays_and_list_spans() {
    let text = "b = true\nnb = \"true\"\nw = [3, \"1\", 2]\nl = []\n";
    let errors = errors_of(text, |t, d| {
        assert!(t.optional_bool(d, "b").unwrap().value);
        assert!(t.optional_bool(d, "nb").is_none());
        assert!(t.optional_bool(d, "absent").is_none());
        let w = t.optional_int_array(d, "w").unwrap();
        assert_eq!(w.span.start, text.find('[').unwrap());
        assert_eq!(w.value.iter().map(|n| n.value).collect::<Vec<_>>(), [3, 2]);
        let l = t.required_str_list(d, "l").unwrap();
        assert!(l.value.is_empty());
        assert_eq!(l.span.start, text.rfind('[').unwrap());
    });
    assert_eq!(
        errors,
        [
            "2:6: nb: expected a boolean, found a string",
            "3:9: w: expected an integer, found a string",
        ]
    );
}

#[test]
fn integers_where_strings_belong_get_the_hint() {
    let errors = errors_of("a = 5\nb = \"5s\"\nc = \"x\"\n", |t, d| {
        let hint = |n: i64| format!("write \"{n}s\"");
        assert!(t
            .optional_with_hint(d, "a", str::parse::<u8>, hint)
            .is_none());
        assert!(t
            .optional_with_hint(d, "b", str::parse::<u8>, hint)
            .is_none());
        let c = t.required_with_hint(d, "c", |s| Ok::<_, String>(s.len()), hint);
        assert_eq!(c.unwrap().value, 1);
        assert!(t
            .required_with_hint(d, "z", str::parse::<u8>, hint)
            .is_none());
        assert!(t.required_path(d, "y", Path::new("/etc")).is_none());
    });
    assert_eq!(
        errors,
        [
            "1:1: missing required key `z` at the top level",
            "1:1: missing required key `y` at the top level",
            "1:5: a: write \"5s\"",
            "2:5: b: invalid digit found in string",
        ]
    );
}
