use std::path::{Path, PathBuf};

use crate::{parse_server, Env};

const PATH: &str = "/etc/wingress/wingress.toml";

/// `[node]` and `[wireguard]` take five lines; `rest` starts on line 6.
fn config(rest: &str) -> String {
    format!(
        "[node]\nstate_dir = \"/var/lib/w\"\n[wireguard]\naddress = \"100.64.0.1/24\"\n\n{rest}"
    )
}

fn errors(text: &str) -> Vec<String> {
    match parse_server(Path::new(PATH), text, &Env::default()) {
        Ok(c) => panic!("expected errors, got {c:#?}"),
        Err(e) => e.located(),
    }
}

#[test]
fn defaults_to_a_socket_in_the_state_dir() {
    let c = parse_server(Path::new(PATH), &config(""), &Env::default()).unwrap();
    assert_eq!(c.admin.socket, PathBuf::from("/var/lib/w/admin.sock"));
    assert_eq!(c.admin.listen, None);
    assert_eq!(c.admin.token_file, None);
}

#[test]
fn token_file_resolves_and_needs_listen() {
    let text = config("[admin]\nlisten = \"127.0.0.1:9180\"\ntoken_file = \"admin.token\"\n");
    let c = parse_server(Path::new(PATH), &text, &Env::default()).unwrap();
    assert_eq!(
        c.admin.token_file,
        Some(PathBuf::from("/etc/wingress/admin.token"))
    );
    assert_eq!(
        errors(&config("[admin]\ntoken_file = \"admin.token\"\n")),
        ["7:14: token_file: the token is for the TCP listener; set `listen` too (the unix socket needs none)"]
    );
}

#[test]
fn socket_resolves_against_the_config_folder_and_listen_parses() {
    let text = config("[admin]\nsocket = \"run/admin.sock\"\nlisten = \"[::1]:9180\"\n");
    let c = parse_server(Path::new(PATH), &text, &Env::default()).unwrap();
    assert_eq!(
        c.admin.socket,
        PathBuf::from("/etc/wingress/run/admin.sock")
    );
    assert_eq!(c.admin.listen, Some("[::1]:9180".parse().unwrap()));
}

#[test]
fn bad_values_name_their_place() {
    let text = config("[admin]\nsocket = \"\"\nlisten = \"localhost\"\nlisen = 1\n");
    assert_eq!(
        errors(&text),
        [
            "7:10: socket: path must not be empty",
            "8:10: listen: `localhost` is not an address and port (write e.g. \"127.0.0.1:9180\" or \"[::1]:9180\")",
            "9:1: unknown key `lisen` in [admin]; did you mean `listen`?",
        ]
    );
    assert_eq!(
        errors(&config("[admin]\nlisten = 9180\n")),
        ["7:10: listen: expected a string, found an integer"]
    );
    assert_eq!(
        errors(&config("[[admin]]\nsocket = \"a\"\n")),
        ["6:1: admin: expected a table, found an array of tables (write [admin], not [[admin]])"]
    );
}
