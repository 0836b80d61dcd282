//! `attack`: the real peer's throughput and a new handshake while X floods
//! the WireGuard port (issue 14), in the attack lab
//! (`wingress_lab::attack_lab`).
//!
//! Four floods, each as fast as X can send (`wingress-attack --max`):
//! valid-mac1 initiations from one address; the same from 64 addresses
//! that answer the daemon's cookie replies; forged handshake responses at
//! the peer's slot; forged cookie replies at the peer's slot. Each round
//! runs every flood once (the order rotates between rounds), and one
//! flood is:
//!
//! 1. `before`: the iperf3 run just before (the previous flood's `after`);
//! 2. the flood starts; one second later iperf3 runs (`during`), then
//!    wireguard-go forgets the server and meets it again: the time from
//!    re-adding the peer to the first answered ping (`new handshake`);
//! 3. the flood stops (SIGTERM; it reports packets per second);
//! 4. `after`: iperf3 again.
//!
//! Meanwhile a thread reads the real peer's endpoint from the status every
//! 100 ms; the daemon's RSS and open fds are read at the start and end of
//! each flood, and its WireGuard drop counters (what the flood cost it,
//! by reason, in the JSON). Printed: a table of medians over the rounds, its markdown
//! form, and every round as JSON.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};
use wingress_lab::attack_lab::{flood_summary, Topology, C_ENDPOINT, IPERF_PORT, S_TUNNEL};
use wingress_lab::{Iperf3Client, Lab};

use crate::{median, Binaries};

/// The longest a new handshake is waited for: the bound is 10 s;
/// beyond this the round records a failure.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(20);
/// Flood duration given to the tool; it is stopped long before.
const FLOOD_FOR: &str = "300s";

/// One of the four floods.
struct FloodSpec {
    name: &'static str,
    kind: &'static str,
    args: &'static [&'static str],
}

const FLOODS: [FloodSpec; 4] = [
    FloodSpec {
        name: "initiations, 1 address",
        kind: "initiation",
        args: &["--pool", "256"],
    },
    FloodSpec {
        name: "initiations, 64 addresses + cookies",
        kind: "initiation",
        args: &[
            "--pool",
            "256",
            "--source",
            wingress_lab::attack_lab::X_SOURCES,
            "--source-count",
            "64",
            "--answer-cookies",
        ],
    },
    FloodSpec {
        name: "forged responses, peer slot",
        kind: "response",
        args: &["--slot", "0"],
    },
    FloodSpec {
        name: "forged cookie replies, peer slot",
        kind: "cookie-reply",
        args: &["--slot", "0"],
    },
];

/// What one flood did in one round.
#[derive(Debug, Clone, Default)]
struct Round {
    pps: Option<f64>,
    before: Option<f64>,
    during: Option<f64>,
    after: Option<f64>,
    handshake: Option<f64>,
    rss_kib: (u64, u64),
    fds: (usize, usize),
    endpoint_reads: u64,
    endpoint_moved: Vec<String>,
    /// What the daemon dropped during the flood, by reason
    /// (`drops.wireguard` in the status, the difference).
    drops: BTreeMap<String, u64>,
    errors: Vec<String>,
}

impl Round {
    fn ratio(&self, x: Option<f64>) -> Option<f64> {
        match (x, self.before) {
            (Some(x), Some(b)) if b > 0.0 => Some(x / b),
            _ => None,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "pps": self.pps,
            "before_gbps": self.before,
            "during_gbps": self.during,
            "after_gbps": self.after,
            "during_ratio": self.ratio(self.during),
            "after_ratio": self.ratio(self.after),
            "new_handshake_s": self.handshake,
            "rss_kib": [self.rss_kib.0, self.rss_kib.1],
            "fds": [self.fds.0, self.fds.1],
            "endpoint_reads": self.endpoint_reads,
            "endpoint_moved": self.endpoint_moved,
            "wireguard_drops": self.drops,
            "errors": self.errors,
        })
    }
}

pub(crate) struct AttackBench<'a> {
    pub lab: &'a Lab,
    pub bins: Binaries,
    pub rounds: usize,
    pub seconds: u32,
    pub nice: i32,
}

impl AttackBench<'_> {
    pub(crate) fn run(&self) -> Result<ExitCode> {
        let started = Instant::now();
        let mut t = Topology::start(self.lab, &self.bins.wingress, &self.bins.attack)?;
        let _server = t.iperf3_server()?;
        let client = Iperf3Client::default().seconds(self.seconds);
        // Warm-up: the first run pays for slow start into a cold path.
        let _ = self.iperf(&t, &Iperf3Client::default().seconds(2));
        let usage0 = t.daemon_usage()?;
        let mut quiet = self.iperf(&t, &client);
        let mut rounds: Vec<Vec<Round>> = vec![Vec::new(); FLOODS.len()];
        for r in 0..self.rounds {
            for k in 0..FLOODS.len() {
                let i = (k + r) % FLOODS.len();
                eprintln!(
                    "== round {} of {}: {} ==",
                    r + 1,
                    self.rounds,
                    FLOODS[i].name
                );
                let mut round = self.one(&t, &FLOODS[i], &client, quiet.clone());
                quiet = round.after.ok_or_else(|| "after failed".to_string());
                if round.after.is_none() && round.errors.is_empty() {
                    round.errors.push("no after run".into());
                }
                eprintln!("   {}", round.to_json());
                rounds[i].push(round);
            }
        }
        let usage1 = t.daemon_usage()?;
        let alive = t.daemon.is_running();
        self.report(&rounds, usage0, usage1, alive, started.elapsed());
        let moved = rounds
            .iter()
            .flatten()
            .any(|r| !r.endpoint_moved.is_empty());
        Ok(if alive && !moved {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    fn iperf(&self, t: &Topology, client: &Iperf3Client) -> Result<f64, String> {
        client
            .run(&t.c, S_TUNNEL.into(), IPERF_PORT)
            .map(|r| r.gbps())
            .map_err(|e| format!("{e:#}"))
    }

    /// One flood, one round; `before` is the quiet run just before.
    fn one(
        &self,
        t: &Topology,
        spec: &FloodSpec,
        client: &Iperf3Client,
        before: Result<f64, String>,
    ) -> Round {
        let mut round = Round {
            before: before.clone().ok(),
            ..Round::default()
        };
        if let Err(e) = before {
            round.errors.push(format!("before: {e}"));
        }
        match t.daemon_usage() {
            Ok((rss, fds)) => (round.rss_kib.0, round.fds.0) = (rss, fds),
            Err(e) => round.errors.push(format!("usage: {e:#}")),
        }
        let drops0 = wireguard_drops(t);
        let mut args = vec!["--max", "--duration", FLOOD_FOR];
        args.extend_from_slice(spec.args);
        let mut flood = match t.attack_niced(spec.kind, self.nice, &args) {
            Ok(f) => f,
            Err(e) => {
                round.errors.push(format!("flood: {e:#}"));
                return round;
            }
        };
        let stop = AtomicBool::new(false);
        let watch = t.watch();
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let (mut reads, mut moved) = (0u64, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(e) = watch.endpoint() {
                        reads += 1;
                        if e != C_ENDPOINT {
                            moved.push(e);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                (reads, moved)
            });
            // Let the flood reach its rate and the daemon its load first.
            std::thread::sleep(Duration::from_secs(1));
            match self.iperf(t, client) {
                Ok(g) => round.during = Some(g),
                Err(e) => round.errors.push(format!("during: {e}")),
            }
            match t.new_handshake_to_ping(HANDSHAKE_LIMIT) {
                Ok(d) => round.handshake = Some(d.as_secs_f64()),
                Err(e) => round.errors.push(format!("new handshake: {e:#}")),
            }
            flood.stop();
            stop.store(true, Ordering::Relaxed);
            (round.endpoint_reads, round.endpoint_moved) = reader.join().unwrap_or_default();
        });
        round.drops = wireguard_drops(t)
            .into_iter()
            .map(|(k, n)| (n.saturating_sub(drops0.get(&k).copied().unwrap_or(0)), k))
            .filter(|(n, _)| *n > 0)
            .map(|(n, k)| (k, n))
            .collect();
        match flood_summary(&flood) {
            Ok(v) => round.pps = v["pps"].as_f64(),
            Err(e) => round.errors.push(format!("flood summary: {e:#}")),
        }
        match t.daemon_usage() {
            Ok((rss, fds)) => (round.rss_kib.1, round.fds.1) = (rss, fds),
            Err(e) => round.errors.push(format!("usage: {e:#}")),
        }
        // The endpoint after the flood, once more (the real peer's pings
        // would move it back, but none is sent between here and the read).
        if let Ok(e) = t.endpoint() {
            round.endpoint_reads += 1;
            if e != C_ENDPOINT {
                round.endpoint_moved.push(e);
            }
        }
        match self.iperf(t, client) {
            Ok(g) => round.after = Some(g),
            Err(e) => round.errors.push(format!("after: {e}")),
        }
        round
    }

    fn report(
        &self,
        rounds: &[Vec<Round>],
        usage0: (u64, usize),
        usage1: (u64, usize),
        alive: bool,
        took: Duration,
    ) {
        let med = |rs: &[Round], f: &dyn Fn(&Round) -> Option<f64>| {
            median(rs.iter().filter_map(f).collect())
        };
        let num = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "failed".to_string(), |v| format!("{v:.digits$}"))
        };
        let mib = |kib: f64| kib / 1024.0;
        let what = format!(
            "median of {} round(s); iperf3 single-stream TCP {} s (+1 s omitted), wireguard-go -> wingress run; \
             flooder at nice {}; {} cores, load average {}",
            self.rounds,
            self.seconds,
            self.nice,
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            load_average()
        );
        struct Row {
            name: &'static str,
            cells: Vec<String>,
        }
        let rows: Vec<Row> = FLOODS
            .iter()
            .zip(rounds)
            .map(|(spec, rs)| {
                let moved: usize = rs.iter().map(|r| r.endpoint_moved.len()).sum();
                let reads: u64 = rs.iter().map(|r| r.endpoint_reads).sum();
                let handshakes: Vec<f64> = rs.iter().filter_map(|r| r.handshake).collect();
                let failed_hs = rs.len() - handshakes.len();
                let worst = handshakes.iter().copied().fold(f64::NAN, f64::max);
                let hs = match median(handshakes) {
                    Some(m) if failed_hs == 0 => format!("{m:.2} (max {worst:.2})"),
                    Some(m) => format!("{m:.2} ({failed_hs} failed)"),
                    None => "failed".into(),
                };
                let rss0 = med(rs, &|r| Some(mib(r.rss_kib.0 as f64)));
                let rss1 = med(rs, &|r| Some(mib(r.rss_kib.1 as f64)));
                let fd0 = med(rs, &|r| Some(r.fds.0 as f64));
                let fd1 = med(rs, &|r| Some(r.fds.1 as f64));
                Row {
                    name: spec.name,
                    cells: vec![
                        num(med(rs, &|r| r.pps), 0),
                        num(med(rs, &|r| r.before), 3),
                        num(med(rs, &|r| r.during), 3),
                        num(med(rs, &|r| r.after), 3),
                        num(med(rs, &|r| r.ratio(r.during)), 2),
                        num(med(rs, &|r| r.ratio(r.after)), 2),
                        hs,
                        format!("{} → {}", num(rss0, 1), num(rss1, 1)),
                        format!("{} → {}", num(fd0, 0), num(fd1, 0)),
                        if moved == 0 {
                            format!("no ({reads} reads)")
                        } else {
                            format!("YES ({moved} of {reads} reads)")
                        },
                    ],
                }
            })
            .collect();
        let heads = [
            "flood",
            "flood pkt/s",
            "before Gbit/s",
            "during Gbit/s",
            "after Gbit/s",
            "during/before",
            "after/before",
            "new handshake s",
            "RSS MiB",
            "fds",
            "endpoint moved",
        ];

        println!("\nwingress run under attack: {what}");
        println!("{}", heads.join(" | "));
        for row in &rows {
            println!("{} | {}", row.name, row.cells.join(" | "));
        }
        let summary =
            format!(
            "daemon over the whole bench ({:.0} s): VmRSS {:.1} → {:.1} MiB, open fds {} → {}, {}",
            took.as_secs_f64(),
            mib(usage0.0 as f64),
            mib(usage1.0 as f64),
            usage0.1,
            usage1.1,
            if alive { "alive at the end" } else { "DEAD at the end" }
        );
        println!("{summary}");
        for (spec, rs) in FLOODS.iter().zip(rounds) {
            for (i, r) in rs.iter().enumerate() {
                for e in &r.errors {
                    println!("{} round {}: {e}", spec.name, i + 1);
                }
            }
        }

        println!("\n<!-- wingress-lab-bench attack -->");
        println!("| {} |", heads.join(" | "));
        println!("|---|{}", "---:|".repeat(heads.len() - 1));
        for row in &rows {
            println!("| {} | {} |", row.name, row.cells.join(" | "));
        }

        let doc = json!({
            "bench": "attack",
            "conditions": what,
            "rounds": self.rounds,
            "iperf_seconds": self.seconds,
            "daemon": {
                "rss_kib": [usage0.0, usage1.0],
                "fds": [usage0.1, usage1.1],
                "alive": alive,
                "seconds": took.as_secs_f64(),
            },
            "floods": FLOODS.iter().zip(rounds).map(|(spec, rs)| json!({
                "name": spec.name,
                "kind": spec.kind,
                "args": spec.args,
                "rounds": rs.iter().map(Round::to_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        println!("\n{doc}");
    }
}

/// The daemon's WireGuard drop counters by reason (empty if the status
/// cannot be read).
fn wireguard_drops(t: &Topology) -> BTreeMap<String, u64> {
    let Ok(status) = t.status() else {
        return BTreeMap::new();
    };
    status["drops"]["wireguard"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// `/proc/loadavg`'s first three fields.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
