use std::path::Path;
use std::time::Duration;

use super::*;
use crate::{parse_server, Env};

const PATH: &str = "/etc/wingress/wingress.toml";

/// `[wireguard]` takes three lines; `rest` starts on line 4.
fn config(rest: &str) -> String {
    format!("[wireguard]\naddress = \"100.64.0.1/24\"\n\n{rest}")
}

fn parsed(rest: &str) -> HttpConfig {
    parse_server(Path::new(PATH), &config(rest), &Env::default())
        .unwrap()
        .http
}

fn errors(rest: &str) -> Vec<String> {
    match parse_server(Path::new(PATH), &config(rest), &Env::default()) {
        Ok(c) => panic!("expected errors, got {c:#?}"),
        Err(e) => e.located(),
    }
}

#[test]
fn defaults_and_every_key() {
    assert_eq!(parsed(""), HttpConfig::default());
    assert_eq!(parsed("[http]\n"), HttpConfig::default());
    let all = parsed(
        "[http]\nheader_timeout = \"5s\"\nidle_timeout = \"2m\"\nbody_timeout = \"30s\"\n\
         send_timeout = \"45s\"\nmax_streams = 50\nmax_backend_connections = 8\n\
         upgrade_idle_timeout = \"10m\"\n",
    );
    assert_eq!(
        all,
        HttpConfig {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(120),
            body_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(45),
            max_streams: 50,
            max_backend_connections: 8,
            upgrade_idle_timeout: Duration::from_secs(600),
        }
    );
}

#[test]
fn bad_values_name_their_place() {
    assert_eq!(
        errors(
            "[http]\nbody_timeout = 30\nsend_timeout = \"0s\"\nmax_streams = 0\n\
             max_backend_connections = 100000\nbody_timout = \"1s\"\n"
        ),
        [
            "5:16: body_timeout: `30` has no unit; write e.g. \"30s\" (units: ms, s, m, h)",
            "6:16: send_timeout: `0s` is zero; give a positive duration",
            "7:15: max_streams: must be between 1 and 10000, found 0",
            "8:27: max_backend_connections: must be between 1 and 10000, found 100000",
            "9:1: unknown key `body_timout` in [http]; did you mean `body_timeout`?",
        ]
    );
}
