//! The impairment relay in-process over loopback (no root, no lab).
// Test code: a failed unwrap is a failed test (clippy.toml allows it
// in #[test] functions; this covers the helpers beside them too).
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Result};
use wingress_lab::{eventually, Impairment, Relay};

const WAIT: Duration = Duration::from_secs(20);

/// A UDP echo server on 127.0.0.1 (on a thread that lives as long as the test binary).
fn udp_echo() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n], from);
        }
    });
    addr
}

fn client() -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c
}

fn round_trip(c: &UdpSocket, to: SocketAddr, msg: &[u8]) -> Vec<u8> {
    c.send_to(msg, to).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = c.recv_from(&mut buf).expect("echo through the relay");
    buf[..n].to_vec()
}

#[test]
fn relays_both_ways_and_relearns_the_client() {
    let relay = Relay::start(
        "127.0.0.1:0".parse().unwrap(),
        udp_echo(),
        Impairment::default(),
        1,
    )
    .unwrap();
    let to = relay.local_addr();
    let (first, second) = (client(), client());
    for i in 0..50u32 {
        assert_eq!(round_trip(&first, to, &i.to_be_bytes()), i.to_be_bytes());
    }
    // A new source address (a roaming peer) takes over the return path.
    assert_eq!(round_trip(&second, to, b"moved"), b"moved");
    let stats = relay.stop();
    assert_eq!(stats.client, Some(second.local_addr().unwrap()));
    assert_eq!(stats.client_changes, 2);
    assert_eq!(
        (stats.to_upstream.received, stats.to_upstream.sent),
        (51, 51)
    );
    assert_eq!((stats.to_client.received, stats.to_client.sent), (51, 51));
    assert_eq!(stats.send_errors, 0);
}

#[test]
fn impaired_traffic_is_accounted_for() -> Result<()> {
    // Upstream is a sink that records every datagram's id as it arrives
    // (an unread socket's small default buffer would drop some).
    let sink = UdpSocket::bind("127.0.0.1:0")?;
    let sink_addr = sink.local_addr()?;
    let ids = Arc::new(Mutex::new(Vec::new()));
    let recorder = ids.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        while let Ok((n, _)) = sink.recv_from(&mut buf) {
            assert_eq!(n, 4);
            recorder
                .lock()
                .unwrap()
                .push(u32::from_be_bytes(buf[..4].try_into().unwrap()));
        }
    });
    let cfg = Impairment {
        loss: 0.2,
        duplicate: 0.1,
        reorder: 0.1,
        delay: Duration::from_millis(1),
        jitter: Duration::from_millis(1),
        ..Impairment::default()
    };
    let relay = Relay::start("127.0.0.1:0".parse()?, sink_addr, cfg, 42)?;
    let sender = client();
    const N: u32 = 2000;
    for batch in (0..N).collect::<Vec<_>>().chunks(50) {
        for i in batch {
            sender.send_to(&i.to_be_bytes(), relay.local_addr())?;
        }
        // Pace the sender so the kernel's (small default) socket buffers
        // never drop: only the relay may lose datagrams here.
        let sent_so_far = u64::from(batch[batch.len() - 1] + 1);
        eventually(WAIT, || {
            ensure!(
                relay.stats().to_upstream.received == sent_so_far,
                "relay still receiving"
            );
            Ok(())
        })?;
    }
    // Everything not dropped leaves the delay line eventually.
    let stats = eventually(WAIT, || {
        let s = relay.stats().to_upstream;
        ensure!(
            s.sent == s.received - s.dropped + s.duplicated,
            "delay line not empty: {s:?}"
        );
        Ok(s)
    })?;
    let ids = eventually(WAIT, || {
        let ids = ids.lock().unwrap().clone();
        ensure!(
            ids.len() as u64 == stats.sent,
            "{} of {} datagrams arrived",
            ids.len(),
            stats.sent
        );
        Ok(ids)
    })?;
    assert_eq!(stats.received, u64::from(N));
    assert!(
        stats.dropped > 0 && stats.duplicated > 0 && stats.reordered > 0,
        "{stats:?}"
    );
    let distinct: HashSet<u32> = ids.iter().copied().collect();
    assert!(distinct.iter().all(|&i| i < N), "no invented datagrams");
    assert_eq!(distinct.len() as u64, u64::from(N) - stats.dropped);
    assert!(
        ids.windows(2).any(|w| w[1] < w[0]),
        "some datagrams arrived out of order"
    );
    Ok(())
}

#[test]
fn rejects_bad_probabilities() {
    let bad = Impairment {
        loss: 2.0,
        ..Impairment::default()
    };
    assert!(Relay::start(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:9".parse().unwrap(),
        bad,
        1
    )
    .is_err());
}
