//! `wingress forward`: a userspace WireGuard client. Listens on host sockets
//! and carries each connection or datagram flow through the tunnel to its
//! target, with no TUN device and no privileges (what onetun does).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::net::{TcpListener, UdpSocket};
use wingress_config::{ClientConfig, Protocol};
use wingress_netstack::{Accepted, TcpState, UdpDatagram};
use wingress_wg::PeerId;

use crate::dataplane::tcp_pump::pump;
use crate::dataplane::tunnel;
use crate::dataplane::udp_io::UdpIo;
use crate::dataplane::{Driver, Handler, NetCell, NetRef};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const UDP_IDLE: Duration = Duration::from_secs(60);

pub(crate) async fn run(cfg: ClientConfig) -> Result<()> {
    let (key, _) = tunnel::private_key(&cfg.wireguard, &cfg.state_dir)?;
    let public = key.public_key();
    let (mut dev, _peers) = tunnel::device(key, &cfg.peers).await?;
    dev.set_mtu(cfg.wireguard.mtu);
    // The client accepts no tunnel connections; its own connections are
    // bounded by the total buffer budget only.
    let stack = tunnel::stack(&cfg.wireguard, Default::default(), Instant::now());
    let port = cfg.wireguard.listen_port.unwrap_or(0);
    let io = UdpIo::bind(port).with_context(|| format!("cannot bind UDP port {port}"))?;
    let net = NetCell::new(dev, stack);
    let flows: UdpFlows = Rc::new(RefCell::new(HashMap::new()));

    for f in &cfg.forwards {
        match f.protocol {
            Protocol::Tcp => {
                let l = TcpListener::bind(f.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", f.listen))?;
                tokio::task::spawn_local(accept_loop(net.clone(), l, f.target));
            }
            Protocol::Udp => {
                let s = UdpSocket::bind(f.listen)
                    .await
                    .with_context(|| format!("cannot bind {}", f.listen))?;
                tokio::task::spawn_local(udp_loop(
                    net.clone(),
                    flows.clone(),
                    Rc::new(s),
                    f.target,
                ));
            }
        }
        tracing::info!(listen = %f.listen, target = %f.target, protocol = ?f.protocol, "forwarding");
    }
    tracing::info!(public_key = %public, udp_port = io.local_port()?, address = %cfg.wireguard.address, "wingress forward running");
    let mut driver = Driver::new(net, io, Forwarder { flows });
    driver.initiate_handshakes();
    driver.run().await;
    Ok(())
}

async fn accept_loop(net: NetRef, listener: TcpListener, target: SocketAddr) {
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let net = net.clone();
        tokio::task::spawn_local(async move {
            let id = net.act(|core| core.stack_mut().connect(target));
            let id = match id {
                Ok(id) => id,
                Err(e) => {
                    tracing::warn!(%from, %target, error = ?e, "cannot open tunnel connection");
                    return;
                }
            };
            let established = tokio::time::timeout(
                CONNECT_TIMEOUT,
                poll_fn(|cx| {
                    let mut n = net.borrow_mut();
                    let Some(s) = n.stack_mut().tcp(id) else {
                        return Poll::Ready(false);
                    };
                    match s.state() {
                        TcpState::Established | TcpState::CloseWait => Poll::Ready(true),
                        TcpState::Closed => Poll::Ready(false),
                        _ => {
                            s.register_send_waker(cx.waker());
                            Poll::Pending
                        }
                    }
                }),
            )
            .await
            .unwrap_or(false);
            if !established {
                tracing::info!(%from, %target, "tunnel connection refused or timed out");
                net.act(|core| core.stack_mut().abort(id));
                // Dropping `stream` closes the client's connection.
                return;
            }
            // The user's own forwards: no idle limit (the server may have one).
            let (end, up, down) = pump(&net, id, stream, None).await;
            tracing::debug!(%from, %target, ?end, bytes_in = up, bytes_out = down, "forwarded connection finished");
        });
    }
}

/// Tunnel-side port → (host socket, client address, last activity).
type UdpFlows = Rc<RefCell<HashMap<u16, (Rc<UdpSocket>, SocketAddr, Rc<Cell<Instant>>)>>>;

async fn udp_loop(net: NetRef, flows: UdpFlows, sock: Rc<UdpSocket>, target: SocketAddr) {
    let mut by_client: HashMap<SocketAddr, (u16, Rc<Cell<Instant>>)> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    let mut sweep = tokio::time::interval(UDP_IDLE);
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, client)) = r else { continue };
                let mut net = net.borrow_mut();
                let Some(local) = net.stack().local_addr(target.is_ipv6()) else { continue };
                let (port, last) = match by_client.get(&client) {
                    Some(f) => f.clone(),
                    None => {
                        let Some(port) = net.stack_mut().bind_udp_ephemeral() else { continue };
                        let last = Rc::new(Cell::new(Instant::now()));
                        flows.borrow_mut().insert(port, (sock.clone(), client, last.clone()));
                        by_client.insert(client, (port, last.clone()));
                        (port, last)
                    }
                };
                last.set(Instant::now());
                net.stack_mut().send_udp(SocketAddr::new(local, port), target, &buf[..n]);
                net.kick();
            }
            _ = sweep.tick() => {
                let mut net = net.borrow_mut();
                by_client.retain(|_, (port, last)| {
                    let keep = last.get().elapsed() < UDP_IDLE;
                    if !keep {
                        net.stack_mut().unbind_udp(*port);
                        flows.borrow_mut().remove(port);
                    }
                    keep
                });
            }
        }
    }
}

struct Forwarder {
    flows: UdpFlows,
}

impl Handler for Forwarder {
    fn accepted(&mut self, net: &NetRef, conn: Accepted, _peer: Option<PeerId>) {
        // The client listens on no tunnel ports; refuse anything that
        // arrives anyway.
        net.act(|core| core.stack_mut().abort(conn.id));
    }

    fn datagram(&mut self, _net: &NetRef, d: &UdpDatagram, _peer: PeerId) {
        if let Some((sock, client, last)) = self.flows.borrow().get(&d.dst.port()) {
            last.set(Instant::now());
            let _ = socket2::SockRef::from(sock.as_ref()).send_to(d.payload(), &(*client).into());
        }
    }
}
