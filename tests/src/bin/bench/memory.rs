//! `memory`: the daemon's resident memory, idle and with many idle TCP
//! connections open through the tunnel.
//!
//! wireguard-go in A is the client; `wingress run` in B forwards tunnel TCP
//! port 7000 to a sink on 127.0.0.1:7000 in B. The sink and the client
//! connections are sockets of this process, created inside the namespaces
//! with `Netns::run`, so no helper program is needed.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use wingress_lab::{
    spawn_wingress, status_kib, veth, write_private_key, KeyPair, Lab, ServerConfig, ServerPeer,
};

use crate::setups::{wait_tunnel, wg_client, READY};

const SINK_PORT: u16 = 7000;
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const B_TUNNEL: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);

pub(crate) fn run(lab: &Lab, wingress: &Path, conns: usize) -> Result<()> {
    let a = lab.netns()?;
    let b = lab.netns()?;
    veth(&a, "10.99.0.1/24", &b, "10.99.0.2/24")?;
    let (ka, ks) = (KeyPair::generate()?, KeyPair::generate()?);

    let accepted = Arc::new(AtomicUsize::new(0));
    let listener = b.run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, SINK_PORT)))??;
    spawn_sink(listener, accepted.clone());

    let dir = lab.dir().join("memory");
    std::fs::create_dir_all(&dir)?;
    write_private_key(&dir, "server.key", &ks.private)?;
    let cfg = ServerConfig {
        node_ip: B_IP,
        state_dir: dir.join("state"),
        private_key_file: "server.key".into(),
        address: format!("{B_TUNNEL}/24"),
        peers: vec![ServerPeer {
            name: "bench".into(),
            public_key: ka.public.clone(),
            allowed_ips: vec!["100.64.0.1/32".into()],
            persistent_keepalive: Some(25),
        }],
        tcp: vec![(SINK_PORT, format!("127.0.0.1:{SINK_PORT}"))],
        udp: Vec::new(),
    };
    let path = dir.join("server.toml");
    std::fs::write(&path, cfg.to_toml())?;
    let path = path.display().to_string();
    let mut daemon = spawn_wingress(&b, wingress, "wingress-run", &["run", "--config", &path])
        .with_context(|| format!("cannot start {}", wingress.display()))?;
    b.wait_listening_by(&mut daemon, "udp", cfg.port(), READY)?;
    let wga = wg_client(&a, ka, &ks.public, SocketAddr::new(B_IP.into(), cfg.port()))?;
    wait_tunnel(&a, &wga, &ks.public)?;

    // Let start-up allocations and the first handshake settle.
    std::thread::sleep(Duration::from_secs(1));
    let pid = daemon.pid();
    let idle = rss_kib(pid)?;
    eprintln!("idle: VmRSS {idle} KiB; opening {conns} connections");

    let target = SocketAddr::new(B_TUNNEL.into(), SINK_PORT);
    let streams = a.run(|| open(target, conns))??;
    daemon.ensure_running()?;
    std::thread::sleep(Duration::from_secs(1));
    let loaded = rss_kib(pid)?;
    let hwm = status_kib(pid, "VmHWM")?;
    let per_conn = (loaded.saturating_sub(idle)) as f64 / conns.max(1) as f64;

    println!("\nwingress run: resident memory (VmRSS), idle TCP connections through the tunnel to a local sink");
    println!(
        "{:<40} {:>12}",
        "idle (1 peer, handshake done)",
        format!("{:.1} MiB", idle as f64 / 1024.0)
    );
    println!(
        "{:<40} {:>12}",
        format!("{} open connections", streams.len()),
        format!("{:.1} MiB", loaded as f64 / 1024.0)
    );
    println!(
        "{:<40} {:>12}",
        "per connection",
        format!("{per_conn:.1} KiB")
    );
    println!(
        "{:<40} {:>12}",
        "peak (VmHWM)",
        format!("{:.1} MiB", hwm as f64 / 1024.0)
    );
    println!("\n<!-- wingress-lab-bench memory -->");
    println!("| wingress run, VmRSS | MiB |\n|---|---:|");
    println!("| idle, 1 peer | {:.1} |", idle as f64 / 1024.0);
    println!(
        "| {} idle TCP connections | {:.1} |",
        streams.len(),
        loaded as f64 / 1024.0
    );
    println!("| per connection (KiB) | {per_conn:.1} |");
    drop(streams);
    Ok(())
}

/// Accepts connections on a thread; each gets its one byte echoed and is
/// then held open (by the thread's list) until the process exits.
fn spawn_sink(listener: TcpListener, accepted: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut byte = [0u8; 1];
            if s.read_exact(&mut byte)
                .and_then(|()| s.write_all(&byte))
                .is_ok()
            {
                accepted.fetch_add(1, Ordering::Relaxed);
                held.push(s);
            }
        }
    });
}

/// Opens `n` connections, each proven end to end by a one-byte round trip.
fn open(target: SocketAddr, n: usize) -> Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(10))
            .with_context(|| format!("connection {} of {n} to {target}", i + 1))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut byte = [0u8; 1];
        s.write_all(b"x")
            .and_then(|()| s.read_exact(&mut byte))
            .with_context(|| format!("round trip on connection {} of {n}", i + 1))?;
        streams.push(s);
    }
    Ok(streams)
}

fn rss_kib(pid: u32) -> Result<u64> {
    status_kib(pid, "VmRSS")
}
