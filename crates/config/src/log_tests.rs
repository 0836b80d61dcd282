use std::path::Path;

use super::*;
use crate::{parse_server, Env};

const PATH: &str = "/etc/wingress/wingress.toml";

/// `[wireguard]` takes three lines; `rest` starts on line 4.
fn config(rest: &str) -> String {
    format!("[wireguard]\naddress = \"100.64.0.1/24\"\n\n{rest}")
}

fn errors(text: &str) -> Vec<String> {
    match parse_server(Path::new(PATH), text, &Env::default()) {
        Ok(c) => panic!("expected errors, got {c:#?}"),
        Err(e) => e.located(),
    }
}

#[test]
fn defaults_to_text_without_a_level() {
    let c = parse_server(Path::new(PATH), &config(""), &Env::default()).unwrap();
    assert_eq!(c.log, LogConfig::default());
    assert_eq!(c.log.format, LogFormat::Text);
}

#[test]
fn reads_format_and_level() {
    let text = config("[log]\nformat = \"json\"\nlevel = \"warn, wingress::access=info\"\n");
    let c = parse_server(Path::new(PATH), &text, &Env::default()).unwrap();
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.log.level.as_deref(), Some("warn, wingress::access=info"));
}

#[test]
fn level_syntax_is_checked() {
    assert!(check_level("info").is_ok());
    assert!(check_level("wingress=debug,INFO").is_ok());
    assert!(check_level("wingress_proxy").is_ok());
    assert_eq!(
        check_level("wingress=loud").unwrap_err(),
        "`wingress=loud`: `loud` is not a level (use trace, debug, info, warn, error or off)"
    );
    assert!(check_level(" , ").is_err());
    assert!(check_level("a b=info").is_err());
}

#[test]
fn bad_values_name_their_place() {
    let text = config("[log]\nformat = \"yaml\"\nlevel = \"x=y\"\nfromat = 1\n");
    assert_eq!(
        errors(&text),
        [
            "5:10: format: `yaml` is not a log format (expected \"text\" or \"json\")",
            "6:9: level: `x=y`: `y` is not a level (use trace, debug, info, warn, error or off)",
            "7:1: unknown key `fromat` in [log]; did you mean `format`?",
        ]
    );
}
