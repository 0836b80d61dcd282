//! gRPC's `grpc-timeout` request header (the client's deadline), for
//! routes that let it replace their response timeout.

use std::time::Duration;

use http::HeaderMap;

/// Added to a client's deadline: the client gives up first and reports
/// `DEADLINE_EXCEEDED` itself, rather than getting the proxy's 504.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// The longest deadline honoured (`99999999H` is 11,000 years).
const MAX_DEADLINE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The response timeout for a request whose client set `deadline`.
pub fn with_grace(deadline: Duration) -> Duration {
    deadline.min(MAX_DEADLINE) + DEADLINE_GRACE
}

/// The deadline in `grpc-timeout`: 1 to 8 ASCII digits and a unit (`H`,
/// `M`, `S`, `m`, `u`, `n`), as the gRPC over HTTP/2 specification writes
/// it. Anything else, or several values: `None`.
pub fn timeout(headers: &HeaderMap) -> Option<Duration> {
    let mut values = headers.get_all("grpc-timeout").iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.as_bytes();
    let (unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "grpc_tests.rs"]
mod tests;
