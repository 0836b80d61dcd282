use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use super::*;
use crate::dataplane::udp_io::UdpIo;

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// Feeds `per_second` counted datagrams a second for `seconds`, ticking
/// every 100 ms; returns the filter changes in order.
fn run(shed: &mut Shed, now: &mut Instant, per_second: u64, seconds: u64) -> Vec<Option<Filter>> {
    let mut changes = Vec::new();
    for _ in 0..seconds * 10 {
        // Only a sampled share reaches the thread while a filter is on.
        let one_in = u64::from(shed.one_in().unwrap_or(1));
        for _ in 0..per_second / 10 / one_in {
            shed.count();
        }
        *now += Duration::from_millis(100);
        shed.tick(*now, || vec![PEER]);
        changes.extend(shed.poll_filter());
    }
    changes
}

#[test]
fn a_flood_engages_the_filter_with_the_peers_allowed_and_calm_releases_it() {
    let mut now = Instant::now();
    let mut shed = Shed::new(now);
    // Normal life: handshakes and STUN, far below the threshold.
    assert_eq!(run(&mut shed, &mut now, 200, 30), []);
    assert_eq!(shed.one_in(), None);

    // 680,000 a second: engaged within the first window, sampling so that
    // about BUDGET a second pass.
    let changes = run(&mut shed, &mut now, 680_000, 5);
    let Some(Some(first)) = changes.first() else {
        panic!("no filter: {changes:?}");
    };
    assert_eq!(first.allow, [PEER]);
    assert_eq!(
        first.one_in, 256,
        "680,000 / 4,096 rounded up to a power of two"
    );
    assert_eq!(changes.len(), 1, "steady flood, steady filter: {changes:?}");
    assert_eq!(shed.engaged(), 1);

    // The flood stops: the filter stays for CALM_FOR, then comes off
    // (within two more windows: the first calm window may still hold the
    // end of the flood).
    let changes = run(&mut shed, &mut now, 0, CALM_FOR.as_secs() - 1);
    assert_eq!(changes, []);
    let changes = run(&mut shed, &mut now, 0, 3);
    assert_eq!(changes, [None]);
    assert_eq!(shed.one_in(), None);
}

#[test]
fn a_flood_engages_the_filter_within_milliseconds_not_at_the_end_of_the_window() {
    // A window has just begun when the flood starts: waiting for its end
    // would leave the socket queue overflowing for up to a second.
    let mut now = Instant::now();
    let mut shed = Shed::new(now);
    let mut engaged_after = None;
    for ms in 1..=1000u64 {
        for _ in 0..600 {
            shed.count();
        }
        now += Duration::from_millis(1);
        shed.tick(now, || vec![PEER]);
        if let Some(Some(f)) = shed.poll_filter() {
            engaged_after = Some((ms, f));
            break;
        }
    }
    let Some((ms, f)) = engaged_after else {
        panic!("a 600,000/s flood did not engage the filter within the window");
    };
    assert!(ms <= 20, "engaged after {ms} ms");
    assert_eq!(f.allow, [PEER]);
    assert_eq!(
        f.one_in, 256,
        "600,000 / 4,096 rounded up to a power of two"
    );
    // Below the threshold nothing engages early: 8,000 in one window is
    // under ENGAGE a second.
    let mut shed = Shed::new(now);
    for _ in 0..8_000 {
        shed.count();
    }
    shed.tick(now + Duration::from_millis(500), Vec::new);
    assert_eq!(shed.poll_filter(), None);
}

#[test]
fn the_sampling_follows_the_flood_and_the_allow_list_follows_the_endpoints() {
    let mut now = Instant::now();
    let mut shed = Shed::new(now);
    let changes = run(&mut shed, &mut now, 20_000, 2);
    assert_eq!(changes.len(), 1);
    assert_eq!(shed.one_in(), Some(8));
    // The flood grows 16 times: the sampling follows.
    let _ = run(&mut shed, &mut now, 320_000, 2);
    assert_eq!(shed.one_in(), Some(128));
    // A peer roams: the next window lists its new address.
    now += Duration::from_secs(1);
    for _ in 0..320_000 / 128 {
        shed.count();
    }
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 9).to_ipv6_mapped());
    shed.tick(now, || vec![v6, mapped, PEER, PEER]);
    let Some(Some(f)) = shed.poll_filter() else {
        panic!("no new filter");
    };
    // Sorted, deduplicated, IPv4-mapped as IPv4.
    assert_eq!(f.allow, ["10.0.0.9".parse().unwrap(), PEER, v6]);
}

#[test]
fn detaching_without_a_filter_is_not_an_error() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let io = UdpIo::bind(0).unwrap();
        io.set_filter(None).unwrap();
    });
}

/// Sends `n` datagrams from `from` to `port`; returns how many arrived.
async fn sent_and_received(io: &mut UdpIo, from: IpAddr, port: u16, n: usize) -> usize {
    let to: SocketAddr = match from {
        IpAddr::V4(_) => (Ipv4Addr::LOCALHOST, port).into(),
        IpAddr::V6(_) => (Ipv6Addr::LOCALHOST, port).into(),
    };
    let sender = UdpSocket::bind(SocketAddr::new(from, 0)).unwrap();
    for i in 0..n {
        // Shaped like a handshake initiation (type 1, 148 bytes): the
        // filter does not look at the contents.
        let mut d = vec![0u8; 148];
        d[0] = 1;
        d[4..8].copy_from_slice(&u32::try_from(i).unwrap().to_le_bytes());
        sender.send_to(&d, to).unwrap();
    }
    // Loopback delivers synchronously; a short wait covers the rest.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut got = 0;
    while let Ok(k) = io.recv_batch(|src, _| assert_eq!(src.ip(), from)) {
        if k == 0 {
            break;
        }
        got += k;
    }
    got
}

#[tokio::test]
async fn in_the_kernel_peers_pass_and_strangers_are_sampled() {
    let mut io = UdpIo::bind(0).unwrap();
    let port = io.local_port().unwrap();
    // No filter: everything arrives.
    assert_eq!(sent_and_received(&mut io, STRANGER, port, 200).await, 200);

    let filter = Filter {
        allow: vec![PEER],
        one_in: MAX_ONE_IN,
    };
    io.set_filter(Some(&filter)).unwrap();
    assert_eq!(sent_and_received(&mut io, PEER, port, 200).await, 200);
    let strangers = sent_and_received(&mut io, STRANGER, port, 2000).await;
    assert!(strangers <= 2, "{strangers} of 2000 passed at 1 in 65,536");

    // One in two: about half.
    io.set_filter(Some(&Filter {
        allow: vec![PEER],
        one_in: 2,
    }))
    .unwrap();
    let half = sent_and_received(&mut io, STRANGER, port, 2000).await;
    assert!(
        (800..=1200).contains(&half),
        "{half} of 2000 passed at 1 in 2"
    );

    // IPv6 sources: allowed by address, else sampled.
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let other_v6: IpAddr = "2001:db8::1".parse().unwrap();
    io.set_filter(Some(&Filter {
        allow: vec![PEER, other_v6, v6],
        one_in: MAX_ONE_IN,
    }))
    .unwrap();
    assert_eq!(sent_and_received(&mut io, v6, port, 200).await, 200);
    io.set_filter(Some(&Filter {
        allow: vec![PEER, other_v6],
        one_in: MAX_ONE_IN,
    }))
    .unwrap();
    assert!(sent_and_received(&mut io, v6, port, 2000).await <= 2);

    // Detached: everything again.
    io.set_filter(None).unwrap();
    assert_eq!(sent_and_received(&mut io, STRANGER, port, 200).await, 200);
}

#[test]
fn a_long_allow_list_still_fits_the_kernels_limit() {
    let allow: Vec<IpAddr> = (0..MAX_ALLOWED)
        .map(|i| {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0,
                0,
                0,
                0,
                0,
                u16::try_from(i).unwrap(),
            ))
        })
        .collect();
    let p = program(&Filter { allow, one_in: 2 });
    assert!(p.len() <= 4096, "{} instructions", p.len());
}
