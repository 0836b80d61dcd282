use std::path::Path;
use std::time::Duration;

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
fn drain_timeout_defaults_and_parses() {
    let c = parse_server(Path::new(PATH), &config(""), &Env::default()).unwrap();
    assert_eq!(c.shutdown.drain_timeout, DEFAULT_DRAIN_TIMEOUT);
    let text = config("[shutdown]\ndrain_timeout = \"1m30s\"\n");
    let c = parse_server(Path::new(PATH), &text, &Env::default()).unwrap();
    assert_eq!(c.shutdown.drain_timeout, Duration::from_secs(90));
}

#[test]
fn bad_values_name_their_place() {
    assert_eq!(
        errors(&config("[shutdown]\ndrain_timeout = 30\n")),
        ["5:17: drain_timeout: `30` has no unit; write e.g. \"30s\" (units: ms, s, m, h)"]
    );
    assert_eq!(
        errors(&config(
            "[shutdown]\ndrain_timeout = \"0s\"\ntimeout = \"1s\"\n"
        )),
        [
            "5:17: drain_timeout: `0s` is zero; give a positive duration",
            "6:1: unknown key `timeout` in [shutdown]; did you mean `drain_timeout`?",
        ]
    );
}
