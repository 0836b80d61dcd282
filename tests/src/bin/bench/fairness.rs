//! `fairness`: how long peer `b` waits for a TCP connection to be accepted
//! while peer `a` floods SYNs, against without the flood.
//!
//! The setup is `wingress_lab::fairness` (two wireguard-go peers,
//! `wingress run` with its default `[limits]`, an echo backend). `b`
//! connects `connects` times one after the other, each time through to one
//! echo round trip, first quietly, then while the flooder in A sends SYNs
//! at `rate` per second (A drops its kernel's RSTs, so every SYN the daemon
//! admits stays half-open until it times out). Printed: p50, p99 and the
//! worst connect time of both runs, the ratios, and what the daemon
//! counted for `a`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wingress_lab::fairness::{echo_round_trip, TwoPeers};
use wingress_lab::{metric, Lab};

/// One connection attempt of `b` gives up after this.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);
/// A run stops after this many failures in a row (a daemon whose table is
/// full would otherwise cost `connects` × the limit).
const GIVE_UP_AFTER: usize = 3;

/// The connect times of one run, sorted, and how many attempts failed.
struct Run {
    millis: Vec<f64>,
    failed: usize,
}

impl Run {
    fn quantile(&self, q: f64) -> Option<f64> {
        let last = self.millis.len().checked_sub(1)?;
        let i = ((last as f64) * q).round() as usize;
        self.millis.get(i).copied()
    }
}

pub(crate) fn run(lab: &Lab, wingress: &Path, connects: usize, rate: u32) -> Result<()> {
    let t = TwoPeers::start(lab, wingress, "")?;
    // Warm-up: ARP, the first handshakes, the backend's threads.
    measure(&t, 20)?;
    let quiet = measure(&t, connects)?;
    t.drop_flood_resets()?;
    let mut flood = t.flood(0, rate)?;
    // Let the flood fill a's half-open slots before measuring.
    std::thread::sleep(Duration::from_secs(2));
    let loaded = measure(&t, connects)?;
    // SIGTERM: the flooder prints its count and exits.
    flood.stop();
    let sent = flood.log().trim().parse::<u64>().unwrap_or(0);
    let m = t.metrics()?;
    let a = |name: &str, labels: &str| metric(&m, name, labels).unwrap_or(0.0);

    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
    println!(
        "\nwingress run: peer b's TCP connect time (SYN to accepted, one echo round trip), \
         {connects} connections, while peer a floods SYNs at {rate}/s"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>8}",
        "", "p50 ms", "p99 ms", "max ms", "failed"
    );
    for (name, r) in [("no flood", &quiet), ("a floods SYNs", &loaded)] {
        println!(
            "{:<28} {:>10} {:>10} {:>10} {:>8}",
            name,
            ms(r.quantile(0.5)),
            ms(r.quantile(0.99)),
            ms(r.millis.last().copied()),
            r.failed
        );
    }
    let ratio = |q| {
        loaded
            .quantile(q)
            .zip(quiet.quantile(q))
            .map_or_else(|| "-".to_string(), |(l, q)| format!("{:.2}x", l / q))
    };
    println!(
        "ratio flood / no flood: p50 {}, p99 {}",
        ratio(0.5),
        ratio(0.99)
    );
    println!(
        "flood: {sent} SYNs sent; daemon: a refused {} (tcp_half_open), a half-open {}, \
         b refused {}",
        a(
            "wingress_limit_hits_total",
            "peer=\"a\",reason=\"tcp_half_open\""
        ),
        a("wingress_peer_tcp_half_open", "peer=\"a\""),
        a(
            "wingress_limit_hits_total",
            "peer=\"b\",reason=\"tcp_half_open\""
        ),
    );
    println!("\n<!-- wingress-lab-bench fairness -->");
    println!("| peer b, connect time | p50 ms | p99 ms | failed |\n|---|---:|---:|---:|");
    for (name, r) in [("no flood", &quiet), ("peer a floods SYNs", &loaded)] {
        println!(
            "| {name} | {} | {} | {} |",
            ms(r.quantile(0.5)),
            ms(r.quantile(0.99)),
            r.failed
        );
    }
    println!("| ratio | {} | {} | |", ratio(0.5), ratio(0.99));
    Ok(())
}

/// `n` connections from b, one after the other.
fn measure(t: &TwoPeers, n: usize) -> Result<Run> {
    let mut run = Run {
        millis: Vec::with_capacity(n),
        failed: 0,
    };
    let mut in_a_row = 0;
    for _ in 0..n {
        let started = Instant::now();
        let ok = t
            .connect(&t.c, CONNECT_LIMIT)
            .and_then(|mut s| echo_round_trip(&mut s, b"x"));
        match ok {
            Ok(()) => {
                run.millis.push(started.elapsed().as_secs_f64() * 1e3);
                in_a_row = 0;
            }
            Err(e) => {
                run.failed += 1;
                in_a_row += 1;
                if in_a_row >= GIVE_UP_AFTER {
                    eprintln!("giving up after {in_a_row} failures in a row: {e:#}");
                    break;
                }
            }
        }
    }
    run.millis.sort_by(f64::total_cmp);
    if run.millis.is_empty() && run.failed == 0 {
        return Err(anyhow::anyhow!("no connection measured")).context("fairness");
    }
    Ok(run)
}
