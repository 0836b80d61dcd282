use std::path::Path;
use std::time::Duration;

use super::*;
use crate::{parse_server, Env};

const PATH: &str = "/etc/wingress/wingress.toml";

/// `[wireguard]` takes three lines; `rest` starts on line 4.
fn config(rest: &str) -> String {
    format!("[wireguard]\naddress = \"100.64.0.1/24\"\n\n{rest}")
}

fn limits(rest: &str) -> LimitsConfig {
    parse_server(Path::new(PATH), &config(rest), &Env::default())
        .unwrap()
        .limits
}

fn errors(rest: &str) -> Vec<String> {
    match parse_server(Path::new(PATH), &config(rest), &Env::default()) {
        Ok(c) => panic!("expected errors, got {:#?}", c.limits),
        Err(e) => e.located(),
    }
}

#[test]
fn no_section_means_the_defaults() {
    let l = limits("");
    assert_eq!(l, LimitsConfig::default());
    assert_eq!(l.peer_tcp_half_open, 64);
    assert_eq!(l.peer_buffer, 32 << 20);
    assert_eq!(l.buffer_total, 256 << 20);
    assert_eq!(l.tcp_handshake_timeout, Duration::from_secs(15));
    // Every per-peer count stays under its daemon-wide ceiling.
    assert!(l.peer_tcp_half_open < MAX_TCP_HALF_OPEN);
    assert!(l.peer_udp_flows < MAX_UDP_FLOWS);
    assert!(l.peer_dns_forwards < MAX_DNS_FORWARDS);
    assert!(l.peer_dns_tcp < MAX_DNS_TCP);
}

#[test]
fn the_documented_example_is_the_defaults() {
    let start = include_str!("limits.rs")
        .lines()
        .skip_while(|l| !l.starts_with("//! [limits]"))
        .take_while(|l| l.starts_with("//! ") && !l.starts_with("//! ```"))
        .map(|l| l.trim_start_matches("//! "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(start.starts_with("[limits]"), "{start}");
    assert_eq!(limits(&start), LimitsConfig::default());
}

#[test]
fn every_key_parses() {
    let l = limits(
        "[limits]\npeer_tcp_half_open = 8\npeer_tcp_connections = 20\npeer_udp_flows = 2\n\
         peer_dns_forwards = 3\npeer_dns_tcp = 1\npeer_buffer = \"512KiB\"\n\
         buffer_total = \"1GiB\"\ntcp_handshake_timeout = \"3s\"\nsend_stall_timeout = \"1m30s\"\n",
    );
    assert_eq!(
        l,
        LimitsConfig {
            peer_tcp_half_open: 8,
            peer_tcp_connections: 20,
            peer_udp_flows: 2,
            peer_dns_forwards: 3,
            peer_dns_tcp: 1,
            peer_buffer: 512 << 10,
            buffer_total: 1 << 30,
            tcp_handshake_timeout: Duration::from_secs(3),
            send_stall_timeout: Duration::from_secs(90),
        }
    );
}

#[test]
fn sizes_take_binary_units() {
    assert_eq!(parse_size("4096B"), Ok(4096));
    assert_eq!(parse_size("64KiB"), Ok(64 << 10));
    assert_eq!(parse_size("32MiB"), Ok(32 << 20));
    assert_eq!(parse_size("2GiB"), Ok(2 << 30));
    assert_eq!(
        parse_size("32MB"),
        Err("`32MB`: unknown unit `MB` (use B, KiB, MiB or GiB) (did you mean MiB?)".into())
    );
    assert_eq!(
        parse_size("32"),
        Err("`32` has no unit (use B, KiB, MiB or GiB)".into())
    );
    assert_eq!(
        parse_size("MiB"),
        Err("`MiB` is not a size (write e.g. \"32MiB\")".into())
    );
    assert_eq!(
        parse_size("99999999999GiB"),
        Err("`99999999999GiB` is too large".into())
    );
    assert_eq!(show_size(32 << 20), "32MiB");
    assert_eq!(show_size(1536), "1536B");
    assert_eq!(show_size(3 << 10), "3KiB");
}

#[test]
fn mistakes_name_file_line_and_column() {
    assert_eq!(
        errors("[limits]\npeer_tcp_half_open = 0\npeer_udp_flows = 5000\npeer_dns_tcp = \"8\"\n"),
        [
            "5:22: peer_tcp_half_open: must be between 1 and 1024, found 0",
            "6:18: peer_udp_flows: must be between 1 and 4096, found 5000",
            "7:16: peer_dns_tcp: expected an integer, found a string",
        ]
    );
    assert_eq!(
        errors("[limits]\npeer_buffer = 1048576\nbuffer_total = \"1KiB\"\n"),
        [
            "5:15: peer_buffer: `1048576` has no unit; write e.g. \"1048576MiB\" (units: B, KiB, MiB, GiB)",
            "6:16: buffer_total: 1KiB is too small (at least 64KiB)",
        ]
    );
    assert_eq!(
        errors("[limits]\npeer_buffer = \"512MiB\"\n"),
        ["5:15: peer_buffer (512MiB) is larger than buffer_total (256MiB): one peer could take every buffer"]
    );
    assert_eq!(
        errors("[limits]\nbuffer_total = \"16MiB\"\n"),
        ["5:16: peer_buffer (32MiB) is larger than buffer_total (16MiB): one peer could take every buffer"]
    );
    assert_eq!(
        errors("[limits]\ntcp_handshake_timeout = \"500ms\"\nsend_stall_timeout = 60\n"),
        [
            "5:25: tcp_handshake_timeout: 500ms is out of range (between 1s and 1h)",
            "6:22: send_stall_timeout: `60` has no unit; write e.g. \"60s\" (units: ms, s, m, h)",
        ]
    );
    assert_eq!(
        errors("[limits]\npeer_udp_flow = 3\n"),
        ["5:1: unknown key `peer_udp_flow` in [limits]; did you mean `peer_udp_flows`?"]
    );
    assert_eq!(
        errors("[[limits]]\npeer_udp_flows = 3\n"),
        ["4:1: limits: expected a table, found an array of tables (write [limits], not [[limits]])"]
    );
}
