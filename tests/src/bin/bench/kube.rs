//! `kube`: what Kubernetes discovery costs (issue 17, "Measure"), on
//! loopback: no namespace, no WireGuard peer, no root needed.
//!
//! The fake API server of `wingress_lab::kube_api` runs in this process
//! (HTTPS with its own CA, a kubeconfig with a token file), and so does a
//! plain HTTP/1.1 backend listening on 127.0.0.1 and 127.0.0.2. Each
//! `wingress run` (the binary given) gets a fresh state folder, the
//! internal CA, an HTTPS host entrypoint on 127.0.0.1 and
//! `[kubernetes] enabled = true` with the fake's kubeconfig and `public`
//! among the access modes; every Ingress asks for `wingress.dev/access:
//! public`, so requests to the host entrypoint need no tunnel. A "set" is
//! one Service, its EndpointSlice (127.0.0.1, ready) and an Ingress of
//! class `wingress` for `s<i>.bench.test` pointing at the Service.
//!
//! Call order, per round (medians over the rounds are reported):
//! 1. memory: a daemon without discovery, then one per set count (the
//!    order alternates between rounds), each started against the fake
//!    holding that many sets; VmRSS once `/metrics` shows the routes
//!    applied and one of them answered 200;
//! 2. edits: one daemon with the base sets; an Ingress's host is changed
//!    `edits` times, each time timing the change to the first 200 for
//!    the new host (a new TLS connection per try, verified against the
//!    daemon's CA, so the new host's certificate is part of it);
//! 3. churn: one daemon with the base sets and `conns` keep-alive HTTPS
//!    connections, each making a request a second; its CPU time (utime +
//!    stime) without and then with `rate` EndpointSlice updates a second
//!    (the endpoints of the base sets move between 127.0.0.1 and
//!    127.0.0.2) for `seconds`; failed requests and connections still
//!    answering at the end.
//!
//! Then the binary's size, unstripped and stripped (a `strip` copy). The
//! build time kube-rs adds is not measured here (it needs a from-scratch
//! build); the previous measurement is printed, labelled as such.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use wingress_lab::kube_api::{FakeApiServer, FakeConfig};
use wingress_lab::{admin, metric, status_kib, wait_ready, Process};

use crate::attack::load_average;
use crate::median;

/// The namespace every benchmark object lives in.
const NAMESPACE: &str = "bench";
/// Hosts are `<name>.DOMAIN`.
const DOMAIN: &str = "bench.test";
/// How long a daemon may take to list and apply the largest set count.
const SYNC_LIMIT: Duration = Duration::from_secs(120);
/// How long one edit may take before it counts as failed.
const EDIT_LIMIT: Duration = Duration::from_secs(10);
/// The pause between tries while waiting for a new host.
const POLL: Duration = Duration::from_millis(2);
/// The previous helper's measurement (not re-measured here): the release
/// binary stripped without and with the kube code reachable, in MB, and
/// the unit build time of the kube crates at load 6, in seconds.
const PREVIOUS_STRIPPED_MB: (f64, f64) = (10.33, 15.50);
const PREVIOUS_KUBE_BUILD_S: f64 = 168.0;

/// The `kube` subcommand's parameters.
pub(crate) struct KubeBench {
    /// The daemon under test.
    pub wingress: PathBuf,
    /// Rounds; medians are reported.
    pub rounds: usize,
    /// The set counts memory is measured at.
    pub sets: Vec<usize>,
    /// Sets loaded during the edit and churn phases.
    pub base: usize,
    /// Ingress edits per round.
    pub edits: usize,
    /// EndpointSlice updates per second during churn.
    pub rate: u32,
    /// Seconds of churn.
    pub seconds: u64,
    /// Keep-alive connections held during churn.
    pub conns: usize,
}

/// The fake API server, the backend and the working folder.
struct Env {
    /// Runs the fake's listener and watches; dropped after it.
    _runtime: tokio::runtime::Runtime,
    api: FakeApiServer,
    /// The backend's port, on 127.0.0.1 and 127.0.0.2.
    backend_port: u16,
    dir: PathBuf,
    /// Sets the fake holds now (`0..loaded`).
    loaded: usize,
    /// Daemons started so far (their folders are `d<n>`).
    started: usize,
}

/// One running `wingress run`.
struct Daemon {
    process: Process,
    socket: PathBuf,
    /// The host entrypoint's port on 127.0.0.1.
    port: u16,
    /// Trusts this daemon's internal CA.
    tls: Arc<rustls::ClientConfig>,
}

/// One round's memory numbers: (set count or `None` without discovery,
/// VmRSS KiB, seconds from spawn to the routes applied).
type MemoryRow = (Option<usize>, u64, f64);

/// One round's edit latencies (ms) and failures.
struct Edits {
    ms: Vec<f64>,
    failed: usize,
}

/// One round's churn numbers.
struct Churn {
    /// CPU % of one core with the connections' requests only.
    idle_cpu: f64,
    /// CPU % of one core during the updates.
    churn_cpu: f64,
    /// Updates written, and the seconds they took.
    updates: u64,
    update_secs: f64,
    /// Snapshots the daemon applied during the updates.
    snapshots: f64,
    requests_ok: u64,
    requests_failed: u64,
    /// Connections that answered a last request after the updates.
    alive: usize,
    /// VmRSS after the updates, KiB.
    rss_kib: u64,
    /// Requests each backend address answered during the updates.
    backend_split: (u64, u64),
}

// === impl KubeBench ===

impl KubeBench {
    /// Runs every round, then prints the tables and the JSON.
    pub(crate) fn run(&self) -> Result<std::process::ExitCode> {
        let started = Instant::now();
        let load_before = load_average();
        let mut env = Env::start()?;
        let mut memory: Vec<Vec<MemoryRow>> = Vec::new();
        let mut edits: Vec<Edits> = Vec::new();
        let mut churns: Vec<Churn> = Vec::new();
        for round in 0..self.rounds {
            eprintln!("kube round {}/{}: memory", round + 1, self.rounds);
            let mut order: Vec<Option<usize>> = std::iter::once(None)
                .chain(self.sets.iter().copied().map(Some))
                .collect();
            if round % 2 == 1 {
                order.reverse();
            }
            let mut rows = Vec::new();
            for sets in order {
                let row = env.memory(&self.wingress, sets)?;
                eprintln!(
                    "  {}: VmRSS {:.1} MiB, routes applied {:.2} s after spawn",
                    label(row.0),
                    mib(row.1),
                    row.2
                );
                rows.push(row);
            }
            memory.push(rows);

            eprintln!(
                "kube round {}/{}: {} edits",
                round + 1,
                self.rounds,
                self.edits
            );
            let e = env.edits(&self.wingress, self.base, self.edits, round)?;
            eprintln!(
                "  p50 {:.0} ms, p99 {:.0} ms, {} failed",
                percentile(&e.ms, 0.5).unwrap_or(f64::NAN),
                percentile(&e.ms, 0.99).unwrap_or(f64::NAN),
                e.failed
            );
            edits.push(e);

            eprintln!(
                "kube round {}/{}: churn, {}/s for {} s with {} connections",
                round + 1,
                self.rounds,
                self.rate,
                self.seconds,
                self.conns
            );
            let c = env.churn(self)?;
            eprintln!(
                "  CPU {:.1} % idle, {:.1} % during; {} requests failed; {}/{} connections alive",
                c.idle_cpu, c.churn_cpu, c.requests_failed, c.alive, self.conns
            );
            churns.push(c);
        }
        let size = binary_size(&self.wingress, &env.dir)?;
        let load_after = load_average();
        self.report(
            &memory,
            &edits,
            &churns,
            size,
            (&load_before, &load_after),
            started.elapsed(),
        );
        let failed = edits.iter().any(|e| e.failed > 0)
            || churns
                .iter()
                .any(|c| c.requests_failed > 0 || c.alive < self.conns);
        Ok(if failed {
            std::process::ExitCode::FAILURE
        } else {
            std::process::ExitCode::SUCCESS
        })
    }

    /// The human table, the markdown table and the JSON document.
    fn report(
        &self,
        memory: &[Vec<MemoryRow>],
        edits: &[Edits],
        churns: &[Churn],
        size: (u64, Option<u64>),
        load: (&str, &str),
        took: Duration,
    ) {
        let keys: Vec<Option<usize>> = std::iter::once(None)
            .chain(self.sets.iter().copied().map(Some))
            .collect();
        let mem_of = |key: Option<usize>| -> (Option<f64>, Option<f64>) {
            let rows: Vec<&MemoryRow> = memory.iter().flatten().filter(|r| r.0 == key).collect();
            (
                median(rows.iter().map(|r| r.1 as f64).collect()),
                median(rows.iter().map(|r| r.2).collect()),
            )
        };
        let p50 = median(
            edits
                .iter()
                .filter_map(|e| percentile(&e.ms, 0.5))
                .collect(),
        );
        let p99 = median(
            edits
                .iter()
                .filter_map(|e| percentile(&e.ms, 0.99))
                .collect(),
        );
        let max = edits
            .iter()
            .flat_map(|e| e.ms.iter().copied())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let edit_failed: usize = edits.iter().map(|e| e.failed).sum();
        let idle_cpu = median(churns.iter().map(|c| c.idle_cpu).collect());
        let churn_cpu = median(churns.iter().map(|c| c.churn_cpu).collect());
        let achieved = median(
            churns
                .iter()
                .map(|c| c.updates as f64 / c.update_secs.max(1e-9))
                .collect(),
        );
        let snapshots = median(churns.iter().map(|c| c.snapshots).collect());
        let req_failed: u64 = churns.iter().map(|c| c.requests_failed).sum();
        let req_ok: u64 = churns.iter().map(|c| c.requests_ok).sum();
        let alive_min = churns.iter().map(|c| c.alive).min();
        let churn_rss = median(churns.iter().map(|c| c.rss_kib as f64).collect());
        let fmt = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
        };
        let what = format!(
            "{} round(s); fake API server and backend in this process, HTTPS host entrypoint on 127.0.0.1; load average {} before, {} after; {:.0} s",
            self.rounds,
            load.0,
            load.1,
            took.as_secs_f64()
        );

        let mut rows: Vec<(String, String)> = Vec::new();
        for key in &keys {
            let (rss, sync) = mem_of(*key);
            rows.push((
                format!("VmRSS MiB, {}", label(*key)),
                format!(
                    "{} (routes applied {} s after spawn)",
                    fmt(rss.map(|k| k / 1024.0), 1),
                    fmt(sync, 2)
                ),
            ));
        }
        rows.push((
            format!(
                "Ingress host change → first 200, {} edits/round ({} base sets)",
                self.edits, self.base
            ),
            format!(
                "p50 {} ms, p99 {} ms, max {} ms, {} failed",
                fmt(p50, 0),
                fmt(p99, 0),
                fmt(max, 0),
                edit_failed
            ),
        ));
        rows.push((
            format!(
                "CPU % of one core, {} keep-alive connections (1 req/s each)",
                self.conns
            ),
            fmt(idle_cpu, 1).to_string(),
        ));
        rows.push((
            format!(
                "CPU % of one core, + {} EndpointSlice updates/s for {} s",
                self.rate, self.seconds
            ),
            format!(
                "{} (updates/s achieved {}, snapshots applied {})",
                fmt(churn_cpu, 1),
                fmt(achieved, 1),
                fmt(snapshots, 0)
            ),
        ));
        rows.push((
            "requests failed during churn / connections alive after".to_string(),
            format!(
                "{req_failed} of {} / {} of {}",
                req_ok + req_failed,
                alive_min.map_or_else(|| "-".into(), |a| a.to_string()),
                self.conns
            ),
        ));
        rows.push((
            "VmRSS MiB after churn".to_string(),
            fmt(churn_rss.map(|k| k / 1024.0), 1),
        ));
        rows.push((
            "binary MB (10^6 bytes), unstripped / stripped".to_string(),
            format!(
                "{:.2} / {}",
                size.0 as f64 / 1e6,
                fmt(size.1.map(|s| s as f64 / 1e6), 2)
            ),
        ));
        rows.push((
            "previous measurement (not re-measured): stripped without / with kube; kube crates' build time".to_string(),
            format!(
                "{:.2} / {:.2} MB (+{:.1}); ≈{:.0} s at load 6",
                PREVIOUS_STRIPPED_MB.0,
                PREVIOUS_STRIPPED_MB.1,
                PREVIOUS_STRIPPED_MB.1 - PREVIOUS_STRIPPED_MB.0,
                PREVIOUS_KUBE_BUILD_S
            ),
        ));

        println!("\nwingress run with Kubernetes discovery: {what}");
        let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        for (k, v) in &rows {
            println!("{k:<width$}  {v}");
        }
        println!("\n<!-- wingress-lab-bench kube -->");
        println!("| measure | value |\n|---|---|");
        for (k, v) in &rows {
            println!("| {k} | {v} |");
        }

        let doc = json!({
            "bench": "kube",
            "conditions": what,
            "rounds": self.rounds,
            "load_average": [load.0, load.1],
            "memory": keys.iter().map(|key| {
                let (rss, sync) = mem_of(*key);
                json!({
                    "sets": key,
                    "discovery": key.is_some(),
                    "rss_kib_median": rss,
                    "sync_secs_median": sync,
                    "rss_kib": memory.iter().flatten().filter(|r| r.0 == *key).map(|r| r.1).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
            "edits": {
                "per_round": self.edits,
                "base_sets": self.base,
                "p50_ms": p50,
                "p99_ms": p99,
                "max_ms": max,
                "failed": edit_failed,
                "rounds": edits.iter().map(|e| json!({
                    "p50_ms": percentile(&e.ms, 0.5),
                    "p99_ms": percentile(&e.ms, 0.99),
                    "failed": e.failed,
                })).collect::<Vec<_>>(),
            },
            "churn": {
                "rate": self.rate,
                "seconds": self.seconds,
                "conns": self.conns,
                "base_sets": self.base,
                "idle_cpu_pct": idle_cpu,
                "churn_cpu_pct": churn_cpu,
                "requests_failed": req_failed,
                "requests_ok": req_ok,
                "rounds": churns.iter().map(|c| json!({
                    "idle_cpu_pct": c.idle_cpu,
                    "churn_cpu_pct": c.churn_cpu,
                    "updates": c.updates,
                    "update_secs": c.update_secs,
                    "snapshots_applied": c.snapshots,
                    "requests_ok": c.requests_ok,
                    "requests_failed": c.requests_failed,
                    "alive": c.alive,
                    "rss_kib": c.rss_kib,
                    "backend_split": [c.backend_split.0, c.backend_split.1],
                })).collect::<Vec<_>>(),
            },
            "binary": {
                "path": self.wingress.display().to_string(),
                "bytes": size.0,
                "stripped_bytes": size.1,
                "previous_stripped_mb": [PREVIOUS_STRIPPED_MB.0, PREVIOUS_STRIPPED_MB.1],
                "previous_kube_build_secs": PREVIOUS_KUBE_BUILD_S,
            },
        });
        println!("\n{doc}");
    }
}

// === impl Env ===

impl Env {
    /// Starts the fake API server and the backend in a new folder under
    /// the temporary directory.
    fn start() -> Result<Env> {
        let dir = std::env::temp_dir().join(format!("wingress-kube-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let api = runtime.block_on(FakeApiServer::start(FakeConfig::new(dir.join("api"))))?;
        let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let backend_port = first.local_addr()?.port();
        let second = TcpListener::bind((Ipv4Addr::new(127, 0, 0, 2), backend_port))
            .context("bind the backend on 127.0.0.2")?;
        spawn_backend(first, served_counter(0));
        spawn_backend(second, served_counter(1));
        Ok(Env {
            _runtime: runtime,
            api,
            backend_port,
            dir,
            loaded: 0,
            started: 0,
        })
    }

    /// Makes the fake hold exactly sets `0..n`.
    fn ensure_sets(&mut self, n: usize) -> Result<()> {
        for i in self.loaded..n {
            self.api.apply(&service(i))?;
            self.api
                .apply(&slice(i, Ipv4Addr::LOCALHOST, self.backend_port))?;
            self.api
                .apply(&ingress(&format!("s{i}"), &host(&format!("s{i}")), i))?;
        }
        for i in n..self.loaded {
            self.api.delete(
                "networking.k8s.io/v1",
                "Ingress",
                NAMESPACE,
                &format!("s{i}"),
            )?;
            self.api.delete(
                "discovery.k8s.io/v1",
                "EndpointSlice",
                NAMESPACE,
                &slice_name(i),
            )?;
            self.api
                .delete("v1", "Service", NAMESPACE, &format!("s{i}"))?;
        }
        self.loaded = n;
        Ok(())
    }

    /// Starts `wingress run`, with discovery when `kube`, and waits until
    /// it is ready.
    fn daemon(&mut self, wingress: &Path, kube: bool) -> Result<Daemon> {
        self.started += 1;
        let dir = self.dir.join(format!("d{}", self.started));
        let state = dir.join("state");
        std::fs::create_dir_all(&state)?;
        let port = free_tcp_port()?;
        let udp = free_udp_port()?;
        let mut toml = format!(
            "[node]\nip = \"127.0.0.1\"\nstate_dir = {state:?}\n\n\
             [wireguard]\naddress = \"100.64.0.1/24\"\nlisten_port = {udp}\n\n\
             [tls]\ninternal_ca = true\n\n\
             [[entrypoint]]\nname = \"bench\"\nlisten = \"127.0.0.1:{port}\"\n\
             max_connections_per_source = 100000\nmax_connections = 100000\n",
            state = state.display().to_string(),
        );
        if kube {
            toml.push_str(&format!(
                "\n[kubernetes]\nenabled = true\nkubeconfig = {:?}\naccess_modes = [\"tunnel\", \"public\"]\n",
                self.api.kubeconfig().display().to_string()
            ));
        }
        let config = dir.join("wingress.toml");
        std::fs::write(&config, toml)?;
        let mut cmd = Command::new(wingress);
        cmd.args(["run", "--config"]).arg(&config).env(
            "WINGRESS_LOG",
            std::env::var("WINGRESS_LOG").unwrap_or_else(|_| "warn".into()),
        );
        let name = if kube {
            "wingress-kube"
        } else {
            "wingress-plain"
        };
        let mut process = Process::spawn(name, cmd, &dir)
            .with_context(|| format!("cannot start {}", wingress.display()))?;
        let socket = state.join("admin.sock");
        wait_ready(&mut process, &socket, Duration::from_secs(60)).with_context(|| {
            format!(
                "{} not ready; log in {}",
                name,
                process.log_path().display()
            )
        })?;
        let tls = client_config(&state.join("ca").join("ca.pem"))?;
        Ok(Daemon {
            process,
            socket,
            port,
            tls,
        })
    }

    /// One memory row: a daemon (with discovery when `sets` is `Some`)
    /// against the fake holding that many sets.
    fn memory(&mut self, wingress: &Path, sets: Option<usize>) -> Result<MemoryRow> {
        if let Some(n) = sets {
            self.ensure_sets(n)?;
        }
        let spawned = Instant::now();
        let mut d = self.daemon(wingress, sets.is_some())?;
        let mut sync = spawned.elapsed().as_secs_f64();
        if let Some(n) = sets {
            d.wait_routes(n, 1.0)?;
            sync = spawned.elapsed().as_secs_f64();
            if n > 0 {
                let code = d.get(&host(&format!("s{}", n - 1)))?;
                ensure!(code == 200, "s{}: {code}, not 200", n - 1);
            }
        }
        // Let start-up and the first requests' allocations settle.
        std::thread::sleep(Duration::from_secs(1));
        d.process.ensure_running()?;
        let rss = status_kib(d.process.pid(), "VmRSS")?;
        d.process.stop();
        Ok((sets, rss, sync))
    }

    /// Times `edits` host changes of one Ingress, each to the first 200.
    fn edits(&mut self, wingress: &Path, base: usize, edits: usize, round: usize) -> Result<Edits> {
        self.ensure_sets(base.max(1))?;
        let first = host(&format!("edit-{round}-0"));
        self.api.apply(&ingress("edit", &first, 0))?;
        let mut d = self.daemon(wingress, true)?;
        d.wait_routes(base.max(1) + 1, 1.0)?;
        let mut out = Edits {
            ms: Vec::with_capacity(edits),
            failed: 0,
        };
        for i in 1..=edits {
            let h = host(&format!("edit-{round}-{i}"));
            let t0 = Instant::now();
            self.api.apply(&ingress("edit", &h, i % base.max(1)))?;
            loop {
                if matches!(d.get(&h), Ok(200)) {
                    out.ms.push(t0.elapsed().as_secs_f64() * 1e3);
                    break;
                }
                if t0.elapsed() > EDIT_LIMIT {
                    d.process.ensure_running()?;
                    eprintln!("  edit {i}: no 200 for {h} within {EDIT_LIMIT:?}");
                    out.failed += 1;
                    break;
                }
                std::thread::sleep(POLL);
            }
        }
        self.api
            .delete("networking.k8s.io/v1", "Ingress", NAMESPACE, "edit")?;
        d.process.stop();
        Ok(out)
    }

    /// The churn phase (see the module documentation).
    fn churn(&mut self, b: &KubeBench) -> Result<Churn> {
        let base = b.base.max(1);
        self.ensure_sets(base)?;
        let mut d = self.daemon(&b.wingress, true)?;
        d.wait_routes(base, 1.0)?;
        let targets = base.min(10);
        let mut conns = Vec::with_capacity(b.conns);
        for i in 0..b.conns {
            let h = host(&format!("s{}", i % targets));
            let mut c = KeepAlive::open(&d, &h)
                .with_context(|| format!("keep-alive connection {} of {}", i + 1, b.conns))?;
            let code = c.request()?;
            ensure!(code == 200, "{h}: {code} on a new keep-alive connection");
            conns.push(c);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let traffic = {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || keep_talking(conns, &stop, &ok, &failed))
        };
        let pid = d.process.pid();
        let idle_secs = (b.seconds / 6).clamp(5, 10);
        let (t0, c0) = (Instant::now(), cpu_ticks(pid)?);
        std::thread::sleep(Duration::from_secs(idle_secs));
        let (t1, c1) = (Instant::now(), cpu_ticks(pid)?);
        let applied0 = d.snapshots_applied()?;
        let split0 = served();
        let ok0 = ok.load(Ordering::Relaxed);

        let total = b.seconds * u64::from(b.rate.max(1));
        let slices = base.min(50);
        let mut flips = vec![false; slices];
        let started = Instant::now();
        for k in 0..total {
            let due = started + Duration::from_secs_f64(k as f64 / f64::from(b.rate.max(1)));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let i = (k as usize) % slices;
            flips[i] = !flips[i];
            let addr = if flips[i] {
                Ipv4Addr::new(127, 0, 0, 2)
            } else {
                Ipv4Addr::LOCALHOST
            };
            self.api.apply(&slice(i, addr, self.backend_port))?;
        }
        let update_secs = started.elapsed().as_secs_f64();
        let (t2, c2) = (Instant::now(), cpu_ticks(pid)?);
        // Let the last debounced snapshot land before counting.
        std::thread::sleep(Duration::from_millis(500));
        let snapshots = d.snapshots_applied()? - applied0;
        let split1 = served();
        stop.store(true, Ordering::Relaxed);
        let mut conns = traffic
            .join()
            .map_err(|_| anyhow!("the traffic thread panicked"))?;
        let requests_ok = ok.load(Ordering::Relaxed).saturating_sub(ok0);
        let requests_failed = failed.load(Ordering::Relaxed);
        let mut alive = 0;
        for c in conns.iter_mut().filter(|c| !c.dead) {
            if matches!(c.request(), Ok(200)) {
                alive += 1;
            }
        }
        d.process.ensure_running()?;
        let rss_kib = status_kib(pid, "VmRSS")?;
        d.process.stop();
        let tck = clock_ticks()?;
        let pct = |ticks: u64, took: Duration| ticks as f64 / tck / took.as_secs_f64() * 100.0;
        Ok(Churn {
            idle_cpu: pct(c1 - c0, t1 - t0),
            churn_cpu: pct(c2 - c1, t2 - t1),
            updates: total,
            update_secs,
            snapshots,
            requests_ok,
            requests_failed,
            alive,
            rss_kib,
            backend_split: (split1.0 - split0.0, split1.1 - split0.1),
        })
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// === impl Daemon ===

impl Daemon {
    /// The daemon's `/metrics`.
    fn metrics(&self) -> Result<String> {
        let (code, body) = admin(&self.socket, "GET", "/metrics")?;
        ensure!(code == 200, "/metrics: {code}");
        Ok(body)
    }

    /// `wingress_kube_snapshots_total{result="applied"}`.
    fn snapshots_applied(&self) -> Result<f64> {
        metric(
            &self.metrics()?,
            "wingress_kube_snapshots_total",
            "result=\"applied\"",
        )
        .context("no wingress_kube_snapshots_total in /metrics")
    }

    /// Waits until discovery is synced and `routes` routes from Ingresses
    /// are in effect (for 0, until a snapshot was applied), at least
    /// `applied` snapshots in.
    fn wait_routes(&mut self, routes: usize, applied: f64) -> Result<()> {
        let deadline = Instant::now() + SYNC_LIMIT;
        loop {
            self.process.ensure_running()?;
            let m = self.metrics()?;
            let synced = metric(&m, "wingress_kube_synced", "");
            let have = metric(&m, "wingress_kube_routes", "");
            let done = metric(&m, "wingress_kube_snapshots_total", "result=\"applied\"");
            let problems = metric(&m, "wingress_kube_problems", "");
            if synced == Some(1.0) && have == Some(routes as f64) && done >= Some(applied) {
                ensure!(
                    problems == Some(0.0),
                    "the mapping reported {problems:?} problems; see `wingress status`"
                );
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{routes} routes not applied within {SYNC_LIMIT:?} \
                     (synced {synced:?}, routes {have:?}, applied {done:?})"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One request for `/` on `host` over a new TLS connection: the status.
    fn get(&self, host: &str) -> Result<u16> {
        let mut c = KeepAlive::open(self, host)?;
        c.request()
    }
}

/// A keep-alive HTTPS connection to the host entrypoint for one host.
struct KeepAlive {
    stream: BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
    host: String,
    /// Set once a request on it failed; it is not used again.
    dead: bool,
}

// === impl KeepAlive ===

impl KeepAlive {
    /// Connects and starts TLS with `host` as the server name.
    fn open(d: &Daemon, host: &str) -> Result<KeepAlive> {
        let tcp = TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, d.port)),
            Duration::from_secs(5),
        )?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        tcp.set_write_timeout(Some(Duration::from_secs(10)))?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(host.to_string())?;
        let conn = rustls::ClientConnection::new(d.tls.clone(), name)?;
        Ok(KeepAlive {
            stream: BufReader::new(rustls::StreamOwned::new(conn, tcp)),
            host: host.to_string(),
            dead: false,
        })
    }

    /// `GET /` and its whole response: the status code.
    fn request(&mut self) -> Result<u16> {
        let req = format!(
            "GET / HTTP/1.1\r\nhost: {}\r\nuser-agent: wingress-lab-bench\r\n\r\n",
            self.host
        );
        let s = self.stream.get_mut();
        s.write_all(req.as_bytes())?;
        s.flush()?;
        let mut line = String::new();
        ensure!(self.stream.read_line(&mut line)? > 0, "connection closed");
        let code: u16 = line
            .split_whitespace()
            .nth(1)
            .context("no status line")?
            .parse()?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            ensure!(
                self.stream.read_line(&mut line)? > 0,
                "connection closed in the head"
            );
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "content-length" {
                    length = Some(v.parse::<u64>()?);
                } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
            }
        }
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line)?;
                let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)?;
                let mut skip = vec![0u8; usize::try_from(size)? + 2];
                self.stream.read_exact(&mut skip)?;
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            std::io::copy(&mut (&mut self.stream).take(n), &mut std::io::sink())?;
        }
        Ok(code)
    }
}

/// Makes one request on every connection in turn, spreading each pass
/// over a second, until `stop`; returns the connections.
fn keep_talking(
    mut conns: Vec<KeepAlive>,
    stop: &AtomicBool,
    ok: &AtomicU64,
    failed: &AtomicU64,
) -> Vec<KeepAlive> {
    let gap = Duration::from_secs(1) / u32::try_from(conns.len().max(1)).unwrap_or(u32::MAX);
    while !stop.load(Ordering::Relaxed) {
        for c in conns.iter_mut().filter(|c| !c.dead) {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let t = Instant::now();
            match c.request() {
                Ok(200) => {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                Ok(code) => {
                    eprintln!("  {}: {code} on a keep-alive connection", c.host);
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    eprintln!("  {}: keep-alive connection failed: {e:#}", c.host);
                    failed.fetch_add(1, Ordering::Relaxed);
                    c.dead = true;
                }
            }
            if let Some(rest) = gap.checked_sub(t.elapsed()) {
                std::thread::sleep(rest);
            }
        }
    }
    conns
}

/// A client config trusting the CA in `ca_pem` (the daemon's internal CA,
/// written at start-up).
fn client_config(ca_pem: &Path) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem)
        .with_context(|| format!("read {}", ca_pem.display()))?
    {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Requests the backend answered on 127.0.0.1 and on 127.0.0.2.
static SERVED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

fn served_counter(i: usize) -> &'static AtomicU64 {
    &SERVED[i]
}

fn served() -> (u64, u64) {
    (
        SERVED[0].load(Ordering::Relaxed),
        SERVED[1].load(Ordering::Relaxed),
    )
}

/// A keep-alive HTTP/1.1 backend: `200 ok` to every request (bodies are
/// not expected), one thread per connection.
fn spawn_backend(listener: TcpListener, served: &'static AtomicU64) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = serve(stream, served);
            });
        }
    });
}

fn serve(stream: TcpStream, served: &AtomicU64) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line.trim_end().is_empty() {
            served.fetch_add(1, Ordering::Relaxed);
            out.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-type: text/plain\r\n\r\nok\n",
            )?;
        }
    }
}

/// `<name>.bench.test`.
fn host(name: &str) -> String {
    format!("{name}.{DOMAIN}")
}

fn slice_name(i: usize) -> String {
    format!("s{i}-abcde")
}

/// Service `s<i>`: port 80 named `http`, target port 8080.
fn service(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": format!("s{i}"), "namespace": NAMESPACE},
        "spec": {
            "clusterIP": format!("10.96.{}.{}", (i / 250) % 250, i % 250 + 1),
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    })
}

/// The EndpointSlice of Service `s<i>`: one ready endpoint at `addr`,
/// port `http` = the backend's.
fn slice(i: usize, addr: Ipv4Addr, port: u16) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": slice_name(i),
            "namespace": NAMESPACE,
            "labels": {"kubernetes.io/service-name": format!("s{i}")},
        },
        "addressType": "IPv4",
        "endpoints": [{
            "addresses": [addr.to_string()],
            "conditions": {"ready": true, "serving": true, "terminating": false},
        }],
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
    })
}

/// Ingress `name` of class `wingress`, public, `host` → Service `s<svc>`.
fn ingress(name: &str, host: &str, svc: usize) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "annotations": {"wingress.dev/access": "public"},
        },
        "spec": {
            "ingressClassName": "wingress",
            "rules": [{
                "host": host,
                "http": {"paths": [{
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": {"service": {"name": format!("s{svc}"), "port": {"number": 80}}},
                }]},
            }],
        },
    })
}

/// "no discovery" or "discovery, N sets".
fn label(sets: Option<usize>) -> String {
    match sets {
        None => "no discovery".to_string(),
        Some(n) => format!("discovery, {n} sets"),
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The `q` quantile of `v` by nearest rank (`None` when empty).
pub(crate) fn percentile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    Some(s[rank - 1])
}

/// utime + stime of `pid`, in clock ticks (/proc/PID/stat fields 14, 15).
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; fields after it are plain.
    let rest = stat.rsplit_once(')').context("/proc/PID/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15.
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    Ok(utime + stime)
}

/// Clock ticks per second (`_SC_CLK_TCK`).
fn clock_ticks() -> Result<f64> {
    let t = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.context("no _SC_CLK_TCK")?;
    Ok(t as f64)
}

fn free_tcp_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn free_udp_port() -> Result<u16> {
    Ok(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The binary's size, and its size stripped (`strip` on a copy in `dir`;
/// `None` without `strip`).
fn binary_size(bin: &Path, dir: &Path) -> Result<(u64, Option<u64>)> {
    let bytes = std::fs::metadata(bin)
        .with_context(|| format!("{}", bin.display()))?
        .len();
    let out = dir.join("wingress.stripped");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(bin)
        .status()
        .ok()
        .filter(std::process::ExitStatus::success)
        .and_then(|_| std::fs::metadata(&out).ok())
        .map(|m| m.len());
    Ok((bytes, stripped))
}
