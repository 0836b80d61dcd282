//! The config loader as `wingress check` runs it: arbitrary text through
//! `parse_server` and `parse_client`, and the error report printed.
//!
//! Input: an environment byte (no node address, a valid one, or a bad
//! one), then the file's bytes (the rest; files that are not UTF-8 are
//! refused before parsing, so they are skipped).
//!
//! Checked: nothing panics; every error is located in the file (a line
//! that exists, or line 0 for errors from the environment) and renders.
#![no_main]

use std::path::Path;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wingress_config::{parse_client, parse_server, ConfigErrors, Env, EnvVar};

fn check_errors(errors: &ConfigErrors, text: &str) {
    assert!(!errors.is_empty(), "a failed parse with no error");
    let lines = text.split('\n').count();
    for e in errors.sorted() {
        assert!(
            e.line <= lines,
            "{}:{} is past the last line {lines}",
            e.line,
            e.col
        );
        assert!(e.line == 0 || e.col >= 1, "column 0 at line {}", e.line);
    }
    let _ = errors.to_string();
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let which: u8 = u.arbitrary().unwrap_or(0);
    let Ok(text) = std::str::from_utf8(u.take_rest()) else {
        return;
    };
    let node_ip = match which % 3 {
        0 => None,
        1 => Some(EnvVar::from("10.0.0.7")),
        _ => Some(EnvVar::from("10.0.0.256")),
    };
    let env = Env {
        node_ip,
        state_directory: (which & 4 != 0).then(|| "/var/lib/wingress".to_string()),
    };
    let path = Path::new("/etc/wingress/wingress.toml");
    match parse_server(path, text, &env) {
        Ok(cfg) => {
            let _ = cfg.listen_port();
        }
        Err(e) => check_errors(&e, text),
    }
    if let Err(e) = parse_client(path, text, &env) {
        check_errors(&e, text);
    }
});
