use nix::sys::socket::getsockopt;

use super::*;

#[test]
fn the_open_files_limit_is_raised_to_the_hard_limit() {
    let raised = raise_nofile_limit().unwrap();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert_eq!((raised, soft), (hard, hard));
}

#[test]
fn udp_buffers_grow_past_the_default() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let before = getsockopt(&sock, sockopt::RcvBuf).unwrap();
    set_socket_buffers(&sock, 4 << 20).unwrap();
    let (rcv, snd) = (
        getsockopt(&sock, sockopt::RcvBuf).unwrap(),
        getsockopt(&sock, sockopt::SndBuf).unwrap(),
    );
    // With CAP_NET_ADMIN the 4 MiB asked (the kernel doubles it for its
    // bookkeeping); without, up to net.core.rmem_max, at least the
    // default.
    let cap: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    assert!(rcv >= (4 << 20).min(cap) && rcv >= before, "{rcv}");
    assert!(snd >= 4 << 20 || snd >= before, "{snd}");
    assert!(monotonic_usec() > 0);
}
