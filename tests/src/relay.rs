//! The UDP impairment relay's driver: sockets, threads and the clock around
//! two [`Impairer`]s, one per direction.
//!
//! One client (learned from the datagrams arriving on the listen socket,
//! re-learned when it changes) is relayed to one upstream through a
//! connected socket. Each direction is one thread that owns its impairer, so
//! there is no lock on the packet path; at loopback speeds a thread relays
//! well over 1 Gbit/s of 1420-byte datagrams.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;
use socket2::{Domain, Protocol, Socket, Type};

use crate::impair::{ImpairStats, Impairer, Impairment};

/// Socket buffers big enough that the relay, not the kernel, decides losses.
const SOCKET_BUFFER: usize = 8 << 20;
/// Datagrams received before due ones are sent, so a flood in one
/// direction cannot starve the delay line.
const BATCH: usize = 64;
/// The longest a thread sleeps before checking whether to stop.
const IDLE: Duration = Duration::from_millis(100);

/// Counters of both directions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayStats {
    pub to_upstream: ImpairStats,
    pub to_client: ImpairStats,
    /// The client datagrams currently go back to.
    pub client: Option<SocketAddr>,
    /// How often the client's address was (re-)learned.
    pub client_changes: u64,
    /// Datagrams the kernel refused to send, or with no client to go to.
    pub send_errors: u64,
}

impl std::fmt::Display for RelayStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dir = |f: &mut std::fmt::Formatter<'_>, name: &str, s: &ImpairStats| {
            write!(
                f,
                "{name}: received={} sent={} dropped={} duplicated={} reordered={}",
                s.received, s.sent, s.dropped, s.duplicated, s.reordered
            )
        };
        dir(f, "client->upstream", &self.to_upstream)?;
        f.write_str("; ")?;
        dir(f, "upstream->client", &self.to_client)?;
        write!(
            f,
            "; client_changes={} send_errors={}",
            self.client_changes, self.send_errors
        )
    }
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    client: Mutex<Option<SocketAddr>>,
    client_changes: AtomicU64,
    send_errors: AtomicU64,
    /// Published by each thread after every batch: [to_upstream, to_client].
    stats: Mutex<[ImpairStats; 2]>,
}

// === impl Relay ===

/// A running relay; its threads stop when it is dropped.
#[derive(Debug)]
pub struct Relay {
    local: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Binds `listen` (port 0 picks one) and relays to `upstream`, impairing
    /// both directions alike with RNG streams derived from `seed`.
    pub fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        impairment: Impairment,
        seed: u64,
    ) -> std::io::Result<Relay> {
        impairment
            .validate()
            .map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))?;
        let client_side = udp_socket(listen)?;
        let unspecified: SocketAddr = if upstream.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .expect("valid");
        let upstream_side = udp_socket(unspecified)?;
        upstream_side.connect(upstream)?;
        let local = client_side.local_addr()?;
        let (client_side, upstream_side) = (Arc::new(client_side), Arc::new(upstream_side));
        let shared = Arc::new(Shared::default());

        let up = Pump {
            rx: client_side.clone(),
            tx: upstream_side.clone(),
            dir: Dir::ToUpstream,
            imp: Impairer::new(impairment.clone(), seed),
            shared: shared.clone(),
        };
        let down = Pump {
            rx: upstream_side,
            tx: client_side,
            dir: Dir::ToClient,
            // A different stream, so both directions do not lose in lockstep.
            imp: Impairer::new(impairment, seed ^ 0x5bd1_e995_a5a5_a5a5),
            shared: shared.clone(),
        };
        let threads = vec![
            std::thread::Builder::new()
                .name("impair-up".into())
                .spawn(move || up.run())?,
            std::thread::Builder::new()
                .name("impair-down".into())
                .spawn(move || down.run())?,
        ];
        Ok(Relay {
            local,
            shared,
            threads,
        })
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn stats(&self) -> RelayStats {
        let [to_upstream, to_client] = *self.shared.stats.lock().expect("stats lock");
        RelayStats {
            to_upstream,
            to_client,
            client: *self.shared.client.lock().expect("client lock"),
            client_changes: self.shared.client_changes.load(Ordering::Relaxed),
            send_errors: self.shared.send_errors.load(Ordering::Relaxed),
        }
    }

    /// Stops both threads and returns the final counters.
    pub fn stop(mut self) -> RelayStats {
        self.halt();
        self.stats()
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.halt();
    }
}

fn udp_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.[rw]mem_max.
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.bind(&addr.into())?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

// === impl Pump ===

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToUpstream,
    ToClient,
}

/// One direction: receive from `rx`, impair, send on `tx`.
struct Pump {
    rx: Arc<UdpSocket>,
    tx: Arc<UdpSocket>,
    dir: Dir,
    imp: Impairer,
    shared: Arc<Shared>,
}

impl Pump {
    fn run(mut self) {
        let mut buf = vec![0u8; 65_536];
        let mut client: Option<SocketAddr> = None;
        while !self.shared.stop.load(Ordering::Relaxed) {
            let mut drained = false;
            for _ in 0..BATCH {
                match self.rx.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        if self.dir == Dir::ToUpstream && client != Some(from) {
                            client = Some(from);
                            *self.shared.client.lock().expect("client lock") = client;
                            self.shared.client_changes.fetch_add(1, Ordering::Relaxed);
                        }
                        self.imp.handle_datagram(Instant::now(), buf[..n].to_vec());
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        drained = true;
                        break;
                    }
                    // ICMP errors (port unreachable) surface on the next
                    // receive; they are about earlier datagrams, not this one.
                    Err(_) => continue,
                }
            }
            self.transmit();
            self.publish_stats();
            if drained {
                self.wait();
            }
        }
    }

    /// In its own function so the lock is released before `wait`: a guard
    /// bound by `let` lives to the end of the block, and the other thread
    /// would block on it for a whole `IDLE`.
    fn publish_stats(&self) {
        let mut both = self.shared.stats.lock().expect("stats lock");
        let i = match self.dir {
            Dir::ToUpstream => 0,
            Dir::ToClient => 1,
        };
        both[i] = self.imp.stats();
    }

    fn transmit(&mut self) {
        let now = Instant::now();
        let to = match self.dir {
            Dir::ToUpstream => None,
            Dir::ToClient => *self.shared.client.lock().expect("client lock"),
        };
        while let Some(p) = self.imp.poll_transmit(now) {
            let sent = match (self.dir, to) {
                (Dir::ToUpstream, _) => self.tx.send(&p),
                (Dir::ToClient, Some(to)) => self.tx.send_to(&p, to),
                (Dir::ToClient, None) => Err(ErrorKind::NotConnected.into()),
            };
            if sent.is_err() {
                self.shared.send_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Sleeps until a datagram arrives, one is due, or `IDLE` passes.
    /// ppoll, unlike SO_RCVTIMEO, has sub-millisecond resolution.
    fn wait(&self) {
        let timeout = match self.imp.poll_timeout() {
            Some(t) => t.saturating_duration_since(Instant::now()).min(IDLE),
            None => IDLE,
        };
        if timeout.is_zero() {
            return;
        }
        let mut fds = [PollFd::new(self.rx.as_fd(), PollFlags::POLLIN)];
        let _ = ppoll(&mut fds, Some(TimeSpec::from_duration(timeout)), None);
    }
}

/// (received, dropped, reordered) of one direction (`"client->upstream:"` or
/// `"upstream->client:"`) in the last "final stats" line that the
/// `wingress-impair` binary prints when it stops.
pub fn final_counters(log: &str, direction: &str) -> Option<(u64, u64, u64)> {
    let line = log.lines().rev().find(|l| l.contains("final stats"))?;
    let part = line.split(direction).nth(1)?.split(';').next()?;
    let field = |name: &str| -> Option<u64> {
        part.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    Some((field("received")?, field("dropped")?, field("reordered")?))
}
