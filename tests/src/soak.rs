//! The soak of issue 14, for the `soak` benchmark and a short lab test:
//! in the attack lab ([`Topology`]), for a while, all at once:
//!
//! - iperf3 from the real peer through the tunnel, in short back-to-back
//!   runs (throughput per minute);
//! - a flood of valid-mac1 handshake initiations from X's 64 extra
//!   addresses, answering the daemon's cookie replies, as fast as X can;
//! - peer churn: every few seconds the config gains or loses a throwaway
//!   `[[peer]]` and the daemon gets SIGHUP;
//! - the real peer's endpoint read from the status over and over, and the
//!   daemon's RSS and open file descriptors sampled every few seconds.
//!
//! [`run`] measures; it asserts nothing, so the caller decides what is
//! wrong (the lab test: the daemon died, the endpoint moved, memory grew).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use crate::attack_lab::{flood_summary, Topology, IPERF_PORT, S_TUNNEL, X_SOURCES};
use crate::iperf::Iperf3Client;
use crate::wggo::KeyPair;
use crate::wingress::ServerPeer;

/// What a soak does, and for how long.
#[derive(Debug, Clone)]
pub struct SoakPlan {
    pub duration: Duration,
    /// Seconds of each iperf3 run (plus one omitted).
    pub iperf_seconds: u32,
    /// How often a throwaway peer is added or removed, with a reload.
    pub churn_every: Duration,
    /// How often RSS and open fds are sampled.
    pub sample_every: Duration,
    /// Load before the first sample (and on top of `duration`): the
    /// daemon's first TCP connection and handshake flood allocate what
    /// they keep, which is not growth.
    pub warmup: Duration,
    /// The flooder's nice level.
    pub flood_nice: i32,
}

impl SoakPlan {
    /// The benchmark's plan for `duration`: 10 s of warm-up, 5 s iperf3
    /// runs, a reload every 10 s, a sample every 5 s, the flooder at
    /// nice 19.
    pub fn new(duration: Duration) -> SoakPlan {
        SoakPlan {
            duration,
            iperf_seconds: 5,
            churn_every: Duration::from_secs(10),
            sample_every: Duration::from_secs(5),
            warmup: Duration::from_secs(10),
            flood_nice: 19,
        }
    }
}

/// The daemon's RSS and open fds at one moment of the soak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: Duration,
    pub rss_kib: u64,
    pub fds: usize,
}

/// What a soak measured.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// The warm-up, and the measured time after it.
    pub warmup: Duration,
    pub duration: Duration,
    /// Before the flood and iperf3 started.
    pub idle: Option<Sample>,
    /// From the end of the warm-up on.
    pub samples: Vec<Sample>,
    /// Each iperf3 run that finished: when it ended, Gbit/s.
    pub runs: Vec<(Duration, f64)>,
    /// Each iperf3 run that failed: when, and why.
    pub failed_runs: Vec<(Duration, String)>,
    /// Reads of the real peer's endpoint, and every value other than the
    /// real peer's address seen.
    pub endpoint_reads: u64,
    pub endpoint_moved: Vec<String>,
    /// Status reads that failed (the admin API did not answer).
    pub status_errors: u64,
    /// SIGHUP reloads sent, and the daemon's count of reloads that
    /// succeeded and failed during the soak (it also reloads on the file
    /// change, so ok can exceed sent).
    pub reloads_sent: u64,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    /// The flooder's summary line.
    pub flood: Value,
    /// Whether the daemon was still running at the end.
    pub alive: bool,
}

impl SoakReport {
    pub fn first(&self) -> Option<Sample> {
        self.samples.first().copied()
    }

    pub fn last(&self) -> Option<Sample> {
        self.samples.last().copied()
    }

    pub fn max_rss_kib(&self) -> Option<u64> {
        self.samples.iter().map(|s| s.rss_kib).max()
    }

    pub fn max_fds(&self) -> Option<usize> {
        self.samples.iter().map(|s| s.fds).max()
    }

    /// RSS growth in KiB per minute (least squares over the samples).
    pub fn rss_slope_kib_per_min(&self) -> Option<f64> {
        slope(self.points(|s| s.rss_kib as f64))
    }

    /// Open fds per minute (least squares over the samples).
    pub fn fds_slope_per_min(&self) -> Option<f64> {
        slope(self.points(|s| s.fds as f64))
    }

    fn points(&self, y: impl Fn(&Sample) -> f64) -> Vec<(f64, f64)> {
        self.samples
            .iter()
            .map(|s| (s.at.as_secs_f64() / 60.0, y(s)))
            .collect()
    }

    /// The mean Gbit/s of the iperf3 runs that ended in each minute after
    /// the warm-up (a run that ended during the warm-up counts in the
    /// first, one after the end in the last; a minute without a finished
    /// run is `None`).
    pub fn per_minute_gbps(&self) -> Vec<Option<f64>> {
        let minutes = (self.duration.as_secs_f64() / 60.0).ceil().max(1.0) as usize;
        let mut sums = vec![(0.0, 0usize); minutes];
        for &(at, gbps) in &self.runs {
            let after = at.saturating_sub(self.warmup);
            let m = ((after.as_secs_f64() / 60.0) as usize).min(minutes - 1);
            sums[m].0 += gbps;
            sums[m].1 += 1;
        }
        sums.into_iter()
            .map(|(sum, n)| (n > 0).then(|| sum / n as f64))
            .collect()
    }

    /// The flood's packets per second.
    pub fn flood_pps(&self) -> f64 {
        self.flood["pps"].as_f64().unwrap_or(0.0)
    }
}

/// The slope of the least-squares line through `points` (`None` for fewer
/// than two distinct x).
pub fn slope(points: Vec<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Runs the soak on a started topology (iperf3's server is started here).
pub fn run(t: &mut Topology, plan: &SoakPlan) -> Result<SoakReport> {
    let _server = t.iperf3_server()?;
    let (ok0, failed0) = t.reloads()?;
    let (rss_kib, fds) = t.daemon_usage()?;
    let idle = Sample {
        at: Duration::ZERO,
        rss_kib,
        fds,
    };
    let total = plan.warmup + plan.duration;
    let flood_secs = format!("{}s", total.as_secs() + 120);
    let mut flood = t.attack_niced(
        "initiation",
        plan.flood_nice,
        &[
            "--max",
            "--duration",
            &flood_secs,
            "--pool",
            "256",
            "--source",
            X_SOURCES,
            "--source-count",
            "64",
            "--answer-cookies",
        ],
    )?;
    let mut report = SoakReport {
        warmup: plan.warmup,
        duration: plan.duration,
        idle: Some(idle),
        ..SoakReport::default()
    };
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let (c, watch) = (t.c.clone(), t.watch());
    let client = Iperf3Client::default().seconds(plan.iperf_seconds);

    let (runs, reads) = std::thread::scope(|scope| -> Result<_> {
        let iperf = scope.spawn(|| {
            let (mut ok, mut failed) = (Vec::new(), Vec::new());
            while start.elapsed() < total && !stop.load(Ordering::Relaxed) {
                match client.run(&c, S_TUNNEL.into(), IPERF_PORT) {
                    Ok(r) => ok.push((start.elapsed(), r.gbps())),
                    Err(e) => {
                        failed.push((start.elapsed(), format!("{e:#}")));
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            }
            (ok, failed)
        });
        let reader = scope.spawn(|| {
            let (mut reads, mut moved, mut errors) = (0u64, Vec::new(), 0u64);
            while !stop.load(Ordering::Relaxed) {
                match watch.endpoint() {
                    Ok(e) => {
                        reads += 1;
                        if e != crate::attack_lab::C_ENDPOINT {
                            moved.push(e);
                        }
                    }
                    Err(_) => errors += 1,
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            (reads, moved, errors)
        });
        let churned = churn_and_sample(t, plan, start, &mut report);
        stop.store(true, Ordering::Relaxed);
        let runs = iperf.join().unwrap_or_default();
        let reads = reader.join().unwrap_or_default();
        churned?;
        Ok((runs, reads))
    })?;
    flood.stop();
    report.flood = flood_summary(&flood).unwrap_or(Value::Null);
    (report.runs, report.failed_runs) = runs;
    (
        report.endpoint_reads,
        report.endpoint_moved,
        report.status_errors,
    ) = reads;
    report.alive = t.daemon.is_running();
    if report.alive {
        // The last SIGHUP may still be in progress: wait (a little) until
        // the daemon has counted as many reloads as were sent.
        let counted = crate::eventually(Duration::from_secs(10), || {
            let (ok, failed) = t.reloads()?;
            let counted = (ok.saturating_sub(ok0), failed.saturating_sub(failed0));
            anyhow::ensure!(counted.0 + counted.1 >= report.reloads_sent, "{counted:?}");
            Ok(counted)
        });
        (report.reloads_ok, report.reloads_failed) = match counted {
            Ok(c) => c,
            Err(_) => {
                let (ok, failed) = t.reloads()?;
                (ok.saturating_sub(ok0), failed.saturating_sub(failed0))
            }
        };
    }
    Ok(report)
}

/// The main thread of the soak: churn and samples until the end (or the
/// daemon's death).
fn churn_and_sample(
    t: &mut Topology,
    plan: &SoakPlan,
    start: Instant,
    report: &mut SoakReport,
) -> Result<()> {
    let mut next_churn = plan.churn_every;
    let mut next_sample = plan.warmup;
    let end = plan.warmup + plan.duration;
    let mut throwaway: Option<ServerPeer> = None;
    loop {
        let now = start.elapsed();
        if !t.daemon.is_running() {
            return Ok(());
        }
        if now >= next_sample {
            let (rss_kib, fds) = t.daemon_usage()?;
            report.samples.push(Sample {
                at: now,
                rss_kib,
                fds,
            });
            next_sample += plan.sample_every;
        }
        if now >= end {
            return Ok(());
        }
        if now >= next_churn {
            throwaway = match throwaway {
                Some(_) => None,
                None => Some(ServerPeer {
                    name: format!("churn-{}", report.reloads_sent),
                    public_key: KeyPair::generate()?.public,
                    allowed_ips: vec![format!("100.64.0.{}/32", 10 + report.reloads_sent % 200)],
                    persistent_keepalive: None,
                }),
            };
            t.reload_with(throwaway.as_slice())?;
            report.reloads_sent += 1;
            next_churn += plan.churn_every;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
#[path = "soak_tests.rs"]
mod tests;
