//! `wingress-lab-bench`: benchmarks in the namespace lab (root only, but
//! for `kube`).
//!
//! - `iperf3`: single-stream iperf3 TCP throughput, both directions, for
//!   wireguard-go ↔ wireguard-go (the baseline), wireguard-go → `wingress
//!   run`, `wingress forward` → `wingress run`, and onetun → wireguard-go.
//! - `memory`: the daemon's resident memory idle and with 1,000 open
//!   TCP connections through the tunnel.
//! - `fairness`: one peer's TCP connect time while another floods SYNs.
//! - `attack`: a real peer's throughput, a new handshake, the daemon's
//!   memory and fds, and its endpoint, during floods at the WireGuard port.
//! - `soak`: iperf3, an initiation flood and peer churn by reload for
//!   minutes; memory and fd slopes.
//! - `kube`: what Kubernetes discovery costs, against the in-process fake
//!   API server on loopback: memory per number of Ingress sets, Ingress
//!   change to first 200, CPU during EndpointSlice churn with keep-alive
//!   connections open, binary size. Needs neither root nor namespaces.
//!
//! Run through `benches/iperf3.sh`, `benches/attack.sh` and
//! `benches/kube.sh`, which build everything first.

mod attack;
mod fairness;
mod kube;
mod memory;
mod setups;
mod soak;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[derive(Parser, Debug)]
#[command(
    name = "wingress-lab-bench",
    about = "wingress benchmarks in network namespaces (needs root)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Single-stream iperf3 TCP throughput through each setup, both directions.
    Iperf3 {
        /// Runs per direction; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seconds per run (after one omitted warm-up second).
        #[arg(long, default_value_t = 5)]
        seconds: u32,
        /// Which setups, comma-separated: a (wireguard-go baseline), b
        /// (wireguard-go → wingress run), c (wingress forward → wingress
        /// run), d (onetun → wireguard-go).
        #[arg(long, value_delimiter = ',', default_value = "a,b,c,d")]
        setups: Vec<setups::Setup>,
        /// The wingress binary (default: WINGRESS_BIN, else next to this one).
        #[arg(long)]
        wingress: Option<PathBuf>,
        /// The onetun binary (default: `onetun` on PATH).
        #[arg(long, default_value = "onetun")]
        onetun: PathBuf,
    },
    /// wingress's VmRSS idle and with many idle TCP connections open.
    Memory {
        /// How many connections to hold open.
        #[arg(long, default_value_t = 1000)]
        conns: usize,
        #[arg(long)]
        wingress: Option<PathBuf>,
    },
    /// Peer b's TCP connect time (p50, p99) while peer a floods SYNs, and
    /// without the flood.
    Fairness {
        /// Connections b opens in each run.
        #[arg(long, default_value_t = 300)]
        connects: usize,
        /// SYNs per second from a.
        #[arg(long, default_value_t = 2000)]
        rate: u32,
        #[arg(long)]
        wingress: Option<PathBuf>,
    },
    /// The real peer's iperf3 throughput before, during and after each of
    /// four floods at the WireGuard port, a new handshake during it, RSS,
    /// open fds and the peer's endpoint.
    Attack {
        /// Rounds; each runs every flood once, medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Seconds per iperf3 run (after one omitted second).
        #[arg(long, default_value_t = 5)]
        seconds: u32,
        /// The flooder's nice level (19: it gets what the daemon leaves).
        #[arg(long, default_value_t = 19)]
        nice: i32,
        #[arg(long)]
        wingress: Option<PathBuf>,
        /// The wingress-attack binary (default: next to this one).
        #[arg(long)]
        attack: Option<PathBuf>,
    },
    /// iperf3, an initiation flood from 64 addresses and peer churn by
    /// reload, all at once; RSS and fd slopes, throughput per minute.
    Soak {
        /// How long, in minutes (fractions allowed: 0.5 for a quick check).
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        #[arg(long, default_value_t = 19)]
        nice: i32,
        #[arg(long)]
        wingress: Option<PathBuf>,
        #[arg(long)]
        attack: Option<PathBuf>,
    },
    /// Kubernetes discovery against the fake API server on loopback:
    /// VmRSS per number of Ingress+Service+EndpointSlice sets, Ingress
    /// host change to first 200 (p50, p99), CPU during EndpointSlice
    /// updates with keep-alive connections open, binary size.
    Kube {
        /// Rounds; medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// The set counts memory is measured at (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "0,50,1000,5000")]
        sets: Vec<usize>,
        /// Sets loaded while editing and churning.
        #[arg(long, default_value_t = 50)]
        base: usize,
        /// Ingress host changes per round.
        #[arg(long, default_value_t = 100)]
        edits: usize,
        /// EndpointSlice updates per second.
        #[arg(long, default_value_t = 50)]
        rate: u32,
        /// Seconds of EndpointSlice updates.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Keep-alive connections open during the updates.
        #[arg(long, default_value_t = 100)]
        conns: usize,
        #[arg(long)]
        wingress: Option<PathBuf>,
    },
}

/// The daemon and the flooder a benchmark runs.
pub struct Binaries {
    pub wingress: PathBuf,
    pub attack: PathBuf,
}

impl Binaries {
    fn new(wingress: Option<PathBuf>, attack: Option<PathBuf>) -> Binaries {
        let next_to_me = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("wingress-attack")))
            .unwrap_or_else(|| Path::new("wingress-attack").to_path_buf());
        Binaries {
            wingress: wingress.unwrap_or_else(wingress_lab::wingress_bin),
            attack: attack.unwrap_or(next_to_me),
        }
    }
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wingress-lab-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<std::process::ExitCode> {
    // `kube` runs on loopback: no lab, no root.
    let command = match cli.command {
        Command::Kube {
            rounds,
            sets,
            base,
            edits,
            rate,
            seconds,
            conns,
            wingress,
        } => {
            raise_fd_limit()?;
            return kube::KubeBench {
                wingress: wingress.unwrap_or_else(wingress_lab::wingress_bin),
                rounds: rounds.max(1),
                sets,
                base: base.max(1),
                edits,
                rate: rate.max(1),
                seconds: seconds.max(1),
                conns,
            }
            .run();
        }
        other => other,
    };
    let needs: &[&str] = match &command {
        Command::Iperf3 { .. } => &["wireguard-go", "wg", "iperf3", "ping"],
        Command::Memory { .. } => &["wireguard-go", "wg", "ping"],
        Command::Fairness { .. } => &["wireguard-go", "wg", "ping", "python3", "nft"],
        Command::Attack { .. } | Command::Soak { .. } => {
            &["wireguard-go", "wg", "iperf3", "ping", "nice"]
        }
        Command::Kube { .. } => bail!("kube runs without the lab"),
    };
    if let Err(why) = wingress_lab::preflight(needs) {
        bail!("the lab cannot run here: {why}");
    }
    cleanup_on_signal()?;
    raise_fd_limit()?;
    let lab = wingress_lab::Lab::new()?;
    match command {
        Command::Iperf3 {
            runs,
            seconds,
            setups,
            wingress,
            onetun,
        } => {
            let bench = setups::Bench {
                lab: &lab,
                runs: runs.max(1),
                seconds: seconds.max(1),
                wingress: wingress.unwrap_or_else(wingress_lab::wingress_bin),
                onetun,
            };
            bench.run(&setups)
        }
        Command::Memory { conns, wingress } => {
            memory::run(
                &lab,
                &wingress.unwrap_or_else(wingress_lab::wingress_bin),
                conns,
            )?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Fairness {
            connects,
            rate,
            wingress,
        } => {
            fairness::run(
                &lab,
                &wingress.unwrap_or_else(wingress_lab::wingress_bin),
                connects.max(1),
                rate,
            )?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Attack {
            rounds,
            seconds,
            nice,
            wingress,
            attack,
        } => attack::AttackBench {
            lab: &lab,
            bins: Binaries::new(wingress, attack),
            rounds: rounds.max(1),
            seconds: seconds.max(1),
            nice,
        }
        .run(),
        Command::Soak {
            minutes,
            nice,
            wingress,
            attack,
        } => soak::run(&lab, &Binaries::new(wingress, attack), minutes, nice),
        Command::Kube { .. } => bail!("kube runs without the lab"),
    }
}

/// Guards do not run when the process is interrupted (and release builds
/// abort on panic), so a signal removes this process's namespaces, which
/// kills every peer and server inside them, before exiting.
fn cleanup_on_signal() -> Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            eprintln!("\nwingress-lab-bench: signal {sig}; removing the lab's namespaces");
            wingress_lab::netns::remove_all_of(std::process::id());
            std::process::exit(130);
        }
    });
    Ok(())
}

/// One process holds 1,000 client sockets and the daemon 1,000 backend
/// sockets; children inherit the raised soft limit.
fn raise_fd_limit() -> Result<()> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit")?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit RLIMIT_NOFILE")?;
    }
    Ok(())
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
