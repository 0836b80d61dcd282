//! `soak`: iperf3, an initiation flood from 64 addresses and peer churn by
//! reload, all at once for many minutes (`wingress_lab::soak`); prints
//! the daemon's RSS and open fds (start, end, max, slope), throughput per
//! minute, whether the endpoint moved, and whether the daemon survived.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;
use wingress_lab::attack_lab::Topology;
use wingress_lab::soak::{self, SoakPlan};
use wingress_lab::Lab;

use crate::attack::load_average;
use crate::Binaries;

pub(crate) fn run(lab: &Lab, bins: &Binaries, minutes: f64, nice: i32) -> Result<ExitCode> {
    let duration = Duration::from_secs_f64((minutes * 60.0).max(5.0));
    let plan = SoakPlan {
        flood_nice: nice,
        ..SoakPlan::new(duration)
    };
    let mut t = Topology::start(lab, &bins.wingress, &bins.attack)?;
    let load0 = load_average();
    let started = Instant::now();
    eprintln!("soak: {:.1} min, load average {load0}", minutes);
    let r = soak::run(&mut t, &plan)?;
    let load1 = load_average();

    let mib = |kib: u64| kib as f64 / 1024.0;
    let opt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
    };
    let per_minute = r.per_minute_gbps();
    let (first_min, last_min) = (
        per_minute.first().copied().flatten(),
        per_minute.last().copied().flatten(),
    );
    let (first, last) = (r.first(), r.last());
    let moved = !r.endpoint_moved.is_empty();
    let what = format!(
        "{:.1} min after a {} s warm-up (samples every {} s); iperf3 single-stream TCP in back-to-back {} s runs; initiation flood from 64 \
         addresses answering cookies at nice {nice}; a throwaway peer added or removed + SIGHUP \
         every {} s; {} cores; load average {load0} at the start, {load1} at the end",
        r.duration.as_secs_f64() / 60.0,
        r.warmup.as_secs(),
        plan.sample_every.as_secs(),
        plan.iperf_seconds,
        plan.churn_every.as_secs(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
    );
    let rows: Vec<(&str, String)> = vec![
        ("flood pkt/s", format!("{:.0}", r.flood_pps())),
        (
            "VmRSS MiB / open fds before the load",
            format!(
                "{} / {}",
                opt(r.idle.map(|s| mib(s.rss_kib)), 1),
                opt(r.idle.map(|s| s.fds as f64), 0)
            ),
        ),
        (
            "VmRSS MiB after warm-up / end / max",
            format!(
                "{} / {} / {}",
                opt(first.map(|s| mib(s.rss_kib)), 1),
                opt(last.map(|s| mib(s.rss_kib)), 1),
                opt(r.max_rss_kib().map(mib), 1)
            ),
        ),
        ("VmRSS slope KiB/min", opt(r.rss_slope_kib_per_min(), 1)),
        (
            "open fds after warm-up / end / max",
            format!(
                "{} / {} / {}",
                opt(first.map(|s| s.fds as f64), 0),
                opt(last.map(|s| s.fds as f64), 0),
                opt(r.max_fds().map(|n| n as f64), 0)
            ),
        ),
        ("open fds slope per min", opt(r.fds_slope_per_min(), 2)),
        (
            "iperf3 Gbit/s first / last minute",
            format!("{} / {}", opt(first_min, 3), opt(last_min, 3)),
        ),
        (
            "iperf3 runs ok / failed",
            format!("{} / {}", r.runs.len(), r.failed_runs.len()),
        ),
        (
            "reloads sent / ok / failed",
            format!(
                "{} / {} / {}",
                r.reloads_sent, r.reloads_ok, r.reloads_failed
            ),
        ),
        (
            "endpoint moved",
            if moved {
                format!(
                    "YES ({} of {} reads)",
                    r.endpoint_moved.len(),
                    r.endpoint_reads
                )
            } else {
                format!("no ({} reads)", r.endpoint_reads)
            },
        ),
        (
            "daemon alive at the end",
            (if r.alive { "yes" } else { "NO" }).to_string(),
        ),
    ];

    println!("\nwingress run soak: {what}");
    for (k, v) in &rows {
        println!("{k:<40} {v}");
    }
    println!(
        "iperf3 Gbit/s per minute: {}",
        per_minute
            .iter()
            .map(|v| opt(*v, 3))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (at, e) in &r.failed_runs {
        println!("iperf3 at {:.0} s failed: {e}", at.as_secs_f64());
    }
    println!("\n<!-- wingress-lab-bench soak -->");
    println!("| soak | |\n|---|---:|");
    for (k, v) in &rows {
        println!("| {k} | {v} |");
    }
    let doc = json!({
        "bench": "soak",
        "conditions": what,
        "seconds": started.elapsed().as_secs_f64(),
        "flood": r.flood,
        "idle": r.idle.map(|s| json!([s.rss_kib, s.fds])),
        "samples": r.samples.iter().map(|s| json!([s.at.as_secs_f64(), s.rss_kib, s.fds])).collect::<Vec<_>>(),
        "rss_slope_kib_per_min": r.rss_slope_kib_per_min(),
        "fds_slope_per_min": r.fds_slope_per_min(),
        "iperf_runs": r.runs.iter().map(|(at, g)| json!([at.as_secs_f64(), g])).collect::<Vec<_>>(),
        "iperf_failed": r.failed_runs.len(),
        "gbps_per_minute": per_minute,
        "reloads": {"sent": r.reloads_sent, "ok": r.reloads_ok, "failed": r.reloads_failed},
        "endpoint_reads": r.endpoint_reads,
        "endpoint_moved": r.endpoint_moved,
        "status_errors": r.status_errors,
        "alive": r.alive,
    });
    println!("\n{doc}");
    Ok(if r.alive && !moved {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
