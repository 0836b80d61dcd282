//! `wingress-impair`: a UDP relay that loses, duplicates, delays and
//! reorders datagrams, because this kernel has no netem.
//!
//! ```text
//! wingress-impair --listen 127.0.0.1:40000 --upstream 10.99.0.2:51820 --loss 0.02 --reorder 0.05
//! ```
//!
//! Prints its counters on SIGTERM or SIGINT (and every `--stats-every`
//! seconds when set), then exits 0.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use wingress_lab::{Impairment, Relay};

#[derive(Parser, Debug)]
#[command(
    name = "wingress-impair",
    about = "UDP relay with seeded loss, duplication, delay and reordering"
)]
struct Args {
    /// Where the client sends (its address is learned from what arrives).
    #[arg(long)]
    listen: SocketAddr,
    /// Where datagrams are relayed to.
    #[arg(long)]
    upstream: SocketAddr,
    /// Probability of dropping a datagram.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Probability of holding a datagram back until later ones have passed.
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    /// A held datagram is released after 1..=GAP later ones.
    #[arg(long, default_value_t = 3)]
    reorder_gap: u32,
    /// Probability of sending a datagram twice.
    #[arg(long, default_value_t = 0.0)]
    duplicate: f64,
    /// Delay added to every datagram, in milliseconds.
    #[arg(long, default_value_t = 0.0)]
    delay_ms: f64,
    /// Up to this much extra delay, uniformly, in milliseconds.
    #[arg(long, default_value_t = 0.0)]
    jitter_ms: f64,
    /// RNG seed: the same seed makes the same decisions for the same traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also print the counters every this many seconds.
    #[arg(long)]
    stats_every: Option<u64>,
}

fn millis(ms: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0)
        .with_context(|| format!("--{what} must be a non-negative number"))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let impairment = Impairment {
        loss: args.loss,
        reorder: args.reorder,
        duplicate: args.duplicate,
        delay: millis(args.delay_ms, "delay-ms")?,
        jitter: millis(args.jitter_ms, "jitter-ms")?,
        reorder_gap: args.reorder_gap,
        ..Impairment::default()
    };
    // Registered before the relay starts so no early SIGTERM is missed.
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
    let relay = Relay::start(args.listen, args.upstream, impairment.clone(), args.seed)
        .with_context(|| format!("cannot relay {} -> {}", args.listen, args.upstream))?;
    eprintln!(
        "wingress-impair: relaying {} -> {} (loss={} reorder={} duplicate={} delay={:?} jitter={:?} seed={})",
        relay.local_addr(),
        args.upstream,
        impairment.loss,
        impairment.reorder,
        impairment.duplicate,
        impairment.delay,
        impairment.jitter,
        args.seed
    );
    let relay = std::sync::Arc::new(relay);
    if let Some(secs) = args.stats_every {
        let reporter = relay.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(secs.max(1)));
            eprintln!("wingress-impair: stats: {}", reporter.stats());
        });
    }
    if let Some(sig) = signals.forever().next() {
        eprintln!("wingress-impair: got signal {sig}; stopping");
    }
    // The counters are read while the relay threads still run: the process
    // exits right after, and in-flight datagrams are of no interest.
    eprintln!("wingress-impair: final stats: {}", relay.stats());
    Ok(())
}
