//! gRPC's `grpc-timeout` request header, read by routes with
//! `grpc_deadline = true` (`wingress_proxy::fuzzing::grpc_timeout`): the
//! client's deadline, which then replaces the route's response timeout.
//!
//! Input: one to three header values, separated by `\n` (each must be a
//! valid header value, as hyper would have refused the request otherwise).
//!
//! Checked: a deadline is read only from exactly one value of 1 to 8
//! ASCII digits and a unit the specification names, is that many units,
//! and the timeout made of it (`grpc_with_grace`) is at most 30 days and a
//! second, whatever the client sent.
#![no_main]

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use wingress_proxy::fuzzing::{grpc_timeout, grpc_with_grace};

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for part in data.split(|&b| b == b'\n').take(3) {
        let Ok(value) = HeaderValue::from_bytes(part) else {
            return;
        };
        headers.append("grpc-timeout", value);
    }
    let Some(deadline) = grpc_timeout(&headers) else {
        return;
    };
    let values: Vec<&[u8]> = headers
        .get_all("grpc-timeout")
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    assert_eq!(values.len(), 1, "a deadline from several values");
    let (unit, digits) = values[0].split_last().expect("a deadline from nothing");
    assert!(
        (1..=8).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit),
        "a deadline from {:?}",
        values[0]
    );
    let n: u64 = std::str::from_utf8(digits)
        .expect("digits")
        .parse()
        .expect("a number");
    let want = match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => panic!("a deadline with the unit {unit}"),
    };
    assert_eq!(deadline, want);
    assert!(grpc_with_grace(deadline) <= Duration::from_secs(30 * 24 * 3600 + 1));
});
