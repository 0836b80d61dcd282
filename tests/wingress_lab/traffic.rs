//! The traffic of the wingress lab tests: backends in B (a hashing sink, a
//! source, a UDP echo) and the clients in A that check what arrives.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use wingress_lab::process::run_unchecked;
use wingress_lab::{eventually, pattern, sha256_hex, Iperf3Client, Netns};

use crate::{
    sock, B_TUNNEL, ECHO_PORT, FWD_PORT, FWD_SOURCE_PORT, IPERF_PORT, LOCALHOST, READY, SINK_PORT,
    SOURCE_PORT, STALL,
};

// === traffic through the forward ===

/// The backends in B, all on `ip`: a sink on 9000, a source of `len`
/// bytes (`pattern(len, seed)`) on 9001, a UDP echo on 9002.
pub(crate) struct Backends {
    len: usize,
    seed: u64,
    sink: TcpBackend,
    source: TcpBackend,
    _echo: UdpEcho,
}

impl Backends {
    pub(crate) fn start(b: &Netns, ip: Ipv4Addr, len: usize, seed: u64) -> Result<Backends> {
        Ok(Backends {
            len,
            seed,
            sink: TcpBackend::start(b, sock(ip, SINK_PORT), Serve::Sink)?,
            source: TcpBackend::start(b, sock(ip, SOURCE_PORT), Serve::Source { len, seed })?,
            _echo: UdpEcho::start(b, sock(ip, ECHO_PORT))?,
        })
    }
}

/// Through `wingress forward` in `a`: waits until the tunnel carries a
/// small request, then at the same time sends `len` bytes to the sink and
/// reads the source's `len` bytes; each direction must arrive
/// byte-identical and close cleanly within `limit`.
pub(crate) fn transfers(a: &Netns, backends: &Backends, limit: Duration) -> Result<()> {
    let sink = sock(LOCALHOST, FWD_PORT);
    // The forward accepts at once and closes the connection when the
    // tunnel cannot connect yet (e.g. the first handshake was lost).
    let t = Instant::now();
    eventually(READY, || {
        send_to_sink(a, sink, b"probe", Duration::from_secs(20))?.check(b"probe")
    })
    .context("a first request through the forward")?;
    eprintln!("first request answered after {:?}", t.elapsed());

    let len = backends.len;
    let data = pattern(len, backends.seed + 1);
    let expected = sha256_hex(&pattern(len, backends.seed));
    let report = |dir: &str, t: Instant| {
        let took = t.elapsed();
        eprintln!(
            "{dir}: {len} bytes intact, closed cleanly, in {took:?} ({:.1} Mbit/s)",
            mbits(len as u64, took)
        );
    };
    let (sink_before, source_before) = (backends.sink.moved(), backends.source.moved());
    // Both directions at once: half the wall time on a slow link, and the
    // tunnel carries data and ACKs of two connections both ways.
    let (up, down) = std::thread::scope(|s| {
        let up = s.spawn(|| -> Result<()> {
            let t = Instant::now();
            send_to_sink(a, sink, &data, limit)?.check(&data)?;
            report("A -> B", t);
            Ok(())
        });
        let down = s.spawn(|| -> Result<()> {
            let t = Instant::now();
            let (n, hash) = read_from_source(a, sock(LOCALHOST, FWD_SOURCE_PORT), limit)?;
            ensure!(n == len as u64, "{n} of {len} bytes arrived");
            ensure!(hash == expected, "the bytes differ");
            report("B -> A", t);
            Ok(())
        });
        (up.join(), down.join())
    });
    let up = up.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let down = down.unwrap_or_else(|p| std::panic::resume_unwind(p));
    // Where a failed direction got stuck: how much its backend saw.
    let up = up.with_context(|| {
        let n = backends.sink.moved() - sink_before;
        format!("A -> B (the sink in B has read {n} of {len} bytes)")
    });
    let down = down.with_context(|| {
        let n = backends.source.moved() - source_before;
        format!("B -> A (the source in B has written {n} of {len} bytes)")
    });
    match (up, down) {
        (Err(u), Err(d)) => bail!("{u:?}\n\n{d:?}"),
        (up, down) => up.and(down),
    }
}

pub(crate) fn mbits(len: u64, took: Duration) -> f64 {
    len as f64 * 8.0 / took.as_secs_f64().max(1e-9) / 1e6
}

/// A time limit for one whole exchange, applied to every blocking call on
/// its socket; an exchange that runs out says how far it got.
struct Limit {
    start: Instant,
    total: Duration,
}

impl Limit {
    fn new(total: Duration) -> Limit {
        Limit {
            start: Instant::now(),
            total,
        }
    }

    /// Sets the socket's timeouts to the time left; fails when none is.
    fn arm(&self, s: &TcpStream, done: u64, of: u64) -> Result<()> {
        let left = self.total.saturating_sub(self.start.elapsed());
        if left.is_zero() {
            bail!("{}", self.progress(done, of));
        }
        s.set_read_timeout(Some(left))?;
        s.set_write_timeout(Some(left))?;
        Ok(())
    }

    fn progress(&self, done: u64, of: u64) -> String {
        let t = self.start.elapsed();
        format!(
            "{done} of {of} bytes after {t:?} ({:.2} Mbit/s; limit {:?})",
            mbits(done, t),
            self.total
        )
    }
}

/// What the sink answered: the byte count and SHA-256 of what it read.
#[derive(Debug)]
pub(crate) struct SinkReply {
    len: u64,
    sha256: String,
}

impl SinkReply {
    pub(crate) fn check(&self, sent: &[u8]) -> Result<()> {
        ensure!(
            self.len == sent.len() as u64,
            "the sink read {} of {} bytes",
            self.len,
            sent.len()
        );
        ensure!(
            self.sha256 == sha256_hex(sent),
            "the sink read different bytes"
        );
        Ok(())
    }
}

/// From inside `ns`: connects to `to`, writes `data`, half-closes, then
/// reads the sink's reply up to EOF, all within `limit`. A reset anywhere
/// is an error.
pub(crate) fn send_to_sink(
    ns: &Netns,
    to: SocketAddr,
    data: &[u8],
    limit: Duration,
) -> Result<SinkReply> {
    ns.run(|| -> Result<SinkReply> {
        let limit = Limit::new(limit);
        let of = data.len() as u64;
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(10))
            .with_context(|| format!("connecting to {to}"))?;
        let mut sent = 0u64;
        for chunk in data.chunks(256 * 1024) {
            limit.arm(&s, sent, of).context("sending")?;
            s.write_all(chunk)
                .with_context(|| format!("sending: {}", limit.progress(sent, of)))?;
            sent += chunk.len() as u64;
        }
        s.shutdown(Shutdown::Write).context("half-closing")?;
        let written = limit.start.elapsed();
        limit.arm(&s, sent, of).context("waiting for the reply")?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).with_context(|| {
            format!(
                "reading the sink's reply up to EOF ({of} bytes written and half-closed after {written:?}; gave up after {:?})",
                limit.start.elapsed()
            )
        })?;
        let (len, sha256) = reply
            .trim()
            .split_once(' ')
            .with_context(|| format!("no reply from the sink (got {reply:?})"))?;
        Ok(SinkReply {
            len: len.parse().with_context(|| format!("reply {reply:?}"))?,
            sha256: sha256.to_string(),
        })
    })?
}

/// From inside `ns`: connects to `from` and reads up to EOF within
/// `limit`; returns the byte count and SHA-256. A reset is an error.
fn read_from_source(ns: &Netns, from: SocketAddr, limit: Duration) -> Result<(u64, String)> {
    ns.run(|| -> Result<(u64, String)> {
        let limit = Limit::new(limit);
        let mut s = TcpStream::connect_timeout(&from, Duration::from_secs(10))
            .with_context(|| format!("connecting to {from}"))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            limit.arm(&s, total, 0).context("receiving")?;
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    h.update(&buf[..n]);
                    total += n as u64;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("receiving up to EOF: {}", limit.progress(total, 0))
                    })
                }
            }
        }
        Ok((total, hex(&h.finalize())))
    })?
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `s` up to EOF, counting into `moved`: (bytes, SHA-256).
fn hash_to_eof(s: &mut TcpStream, moved: &AtomicU64) -> std::io::Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        match s.read(&mut buf)? {
            0 => return Ok((total, hex(&h.finalize()))),
            n => {
                h.update(&buf[..n]);
                total += n as u64;
                moved.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Datagrams of several sizes, each sent once on one socket (one flow) to
/// the UDP echo behind `to` (from inside A), each answered with the same
/// bytes. No resends: every link here is lossless, so an unanswered
/// datagram was dropped by the software under test.
pub(crate) fn udp_round_trips(a: &Netns, to: SocketAddr) -> Result<()> {
    let c = a.run(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)))??;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    let sizes = [1usize, 64, 512, 1200];
    let mut unanswered = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let msg = pattern(size, 100 + i as u64);
        c.send_to(&msg, to)?;
        let mut buf = [0u8; 2048];
        match c.recv_from(&mut buf) {
            Ok((n, from)) => {
                ensure!(from == to, "answer from {from}, not {to}");
                ensure!(buf[..n] == msg[..], "echo of {size} bytes differs");
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                unanswered.push(format!("#{} ({size} bytes)", i + 1));
            }
            Err(e) => return Err(e).context(format!("UDP to {to}")),
        }
    }
    ensure!(
        unanswered.is_empty(),
        "UDP through {to}: datagram {} of {} sent on one new flow got no echo within 5 s; UDP counters in A:\n{}",
        unanswered.join(", "),
        sizes.len(),
        udp_counters(a)
    );
    eprintln!(
        "UDP round trips through {to}: {} of {} answered",
        sizes.len(),
        sizes.len()
    );
    Ok(())
}

/// The kernel's UDP counters in `ns` (`/proc/net/snmp`): a datagram with a
/// bad checksum is counted in InCsumErrors and never delivered.
fn udp_counters(ns: &Netns) -> String {
    ns.exec("cat", &["/proc/net/snmp"])
        .map(|t| {
            t.lines()
                .filter(|l| l.starts_with("Udp:"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_else(|e| format!("(unreadable: {e:#})"))
}

// === iperf3 UDP ===

#[derive(Debug)]
pub(crate) struct UdpRun {
    pub(crate) packets: u64,
    pub(crate) received: u64,
    pub(crate) lost_percent: f64,
}

/// One iperf3 UDP run from `a` to the tunnel address; what the receiver counted.
pub(crate) fn iperf3_udp(a: &Netns, client: &Iperf3Client) -> Result<UdpRun> {
    let mut cmd = a.command("iperf3");
    cmd.args(client.args(B_TUNNEL.into(), IPERF_PORT));
    let out = run_unchecked(
        &mut cmd,
        Duration::from_secs(u64::from(client.seconds) + 30),
    )?;
    let json = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&json)
        .with_context(|| format!("iperf3 UDP ({}): {json:.500}", out.status))?;
    if let Some(e) = v["error"].as_str() {
        bail!("iperf3 UDP: {e}");
    }
    let sum = &v["end"]["sum_received"];
    let num = |k: &str| {
        sum[k]
            .as_f64()
            .with_context(|| format!("no end.sum_received.{k}: {json:.500}"))
    };
    let (packets, lost) = (num("packets")? as u64, num("lost_packets")? as u64);
    Ok(UdpRun {
        packets,
        received: packets.saturating_sub(lost),
        lost_percent: num("lost_percent")?,
    })
}

// === backends ===

/// What a [`TcpBackend`] does with each connection.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Serve {
    /// Reads up to EOF, then answers "<bytes> <sha256>\n" and closes.
    Sink,
    /// Sends `pattern(len, seed)`, half-closes, reads up to EOF and closes.
    Source { len: usize, seed: u64 },
}

/// A TCP server in a namespace, one thread per connection, until dropped.
pub(crate) struct TcpBackend {
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    /// Bytes read (sink) or written (source) so far, over all connections.
    moved: Arc<AtomicU64>,
}

impl TcpBackend {
    pub(crate) fn start(ns: &Netns, addr: SocketAddr, serve: Serve) -> Result<TcpBackend> {
        let listener = ns
            .run(|| TcpListener::bind(addr))?
            .with_context(|| format!("cannot listen on {addr} in {}", ns.name()))?;
        listener.set_nonblocking(true)?;
        let payload = match serve {
            Serve::Sink => Arc::new(Vec::new()),
            Serve::Source { len, seed } => Arc::new(pattern(len, seed)),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let moved = Arc::new(AtomicU64::new(0));
        let (stopped, counter) = (stop.clone(), moved.clone());
        let accept = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let (payload, counter) = (payload.clone(), counter.clone());
                        std::thread::spawn(move || {
                            if let Err(e) = serve_one(s, serve, &payload, &counter) {
                                eprintln!("backend {addr}: {e}");
                            }
                        });
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => {
                        eprintln!("backend {addr}: accept: {e}");
                        return;
                    }
                }
            }
        });
        Ok(TcpBackend {
            stop,
            accept: Some(accept),
            moved,
        })
    }

    fn moved(&self) -> u64 {
        self.moved.load(Ordering::Relaxed)
    }
}

fn serve_one(
    mut s: TcpStream,
    serve: Serve,
    payload: &[u8],
    moved: &AtomicU64,
) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(STALL))?;
    s.set_write_timeout(Some(STALL))?;
    match serve {
        Serve::Sink => {
            let (n, hash) = hash_to_eof(&mut s, moved)?;
            s.write_all(format!("{n} {hash}\n").as_bytes())?;
        }
        Serve::Source { .. } => {
            for chunk in payload.chunks(256 * 1024) {
                s.write_all(chunk)?;
                moved.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            s.shutdown(Shutdown::Write)?;
            hash_to_eof(&mut s, &AtomicU64::new(0))?;
        }
    }
    Ok(())
}

impl Drop for TcpBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// A UDP echo server in a namespace, until dropped.
pub(crate) struct UdpEcho {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpEcho {
    pub(crate) fn start(ns: &Netns, addr: SocketAddr) -> Result<UdpEcho> {
        let s = ns
            .run(|| UdpSocket::bind(addr))?
            .with_context(|| format!("cannot bind {addr} in {}", ns.name()))?;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    let _ = s.send_to(&buf[..n], from);
                }
            }
        });
        Ok(UdpEcho {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for UdpEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
