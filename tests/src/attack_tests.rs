//! The forged messages checked against boringtun, an implementation this
//! module did not write: mac1 verifies, an initiation decrypts to the
//! static key it carries, and a cookie from boringtun's rate limiter turns
//! into a mac2 that it accepts.

use std::net::{Ipv4Addr, UdpSocket};

use boringtun::noise::handshake::parse_handshake_anon;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Packet, Tunn, TunnResult};

use super::*;

fn server() -> (StaticSecret, [u8; 32]) {
    let secret = StaticSecret::random_from_rng(OsRng);
    let public = *PublicKey::from(&secret).as_bytes();
    (secret, public)
}

#[test]
fn initiation_decrypts_to_its_static_key() {
    let (secret, public) = server();
    let (msg, static_pub) = initiation(&public, 7);
    let Ok(Packet::HandshakeInit(init)) = Tunn::parse_incoming_packet(&msg) else {
        panic!("not an initiation");
    };
    let half = parse_handshake_anon(&secret, &PublicKey::from(public), &init).unwrap();
    assert_eq!(half.peer_static_public, static_pub);
    assert_eq!(half.peer_index, 7);
}

#[test]
fn mac1_verifies_and_a_cookie_becomes_an_accepted_mac2() {
    let (_, public) = server();
    // Limit 0: every handshake message needs a cookie.
    let limiter = RateLimiter::new(&PublicKey::from(public), 0);
    let addr = Some(IpAddr::from([10, 99, 0, 66]));
    let mut rng = SplitMix64::new(1);
    for mut msg in [
        initiation(&public, 3).0.to_vec(),
        forged_response(&public, 3, 0x0102, &mut rng).to_vec(),
    ] {
        let mut out = [0u8; 64];
        let reply = match limiter.verify_packet(addr, &msg, &mut out) {
            Err(TunnResult::WriteToNetwork(reply)) => reply.to_vec(),
            other => panic!("expected a cookie reply, got {other:?}"),
        };
        assert_eq!(receiver_index(&reply), Some(3));
        let cookie = open_cookie_reply(&public, &reply, mac1_of(&msg)).unwrap();
        // A cookie for another mac1 does not open.
        assert!(open_cookie_reply(&public, &reply, &[0; 16]).is_none());
        set_mac2(&mut msg, &cookie);
        assert!(limiter.verify_packet(addr, &msg, &mut out).is_ok());
        // From another address the same mac2 is worthless.
        let elsewhere = Some(IpAddr::from([10, 99, 0, 67]));
        assert!(matches!(
            limiter.verify_packet(elsewhere, &msg, &mut out),
            Err(TunnResult::WriteToNetwork(_))
        ));
    }
    // A wrong server key gives a mac1 the limiter refuses.
    let (_, other) = server();
    let mut out = [0u8; 64];
    assert!(matches!(
        limiter.verify_packet(addr, &initiation(&other, 1).0, &mut out),
        Err(TunnResult::Err(_))
    ));
}

#[test]
fn pools_aim_at_the_slot() {
    let (_, public) = server();
    for kind in [Kind::Response, Kind::CookieReply] {
        let pool = kind.pool(&public, 5, 300);
        assert_eq!(pool.len(), 300);
        let idx: Vec<u32> = pool
            .iter()
            .map(|p| match Tunn::parse_incoming_packet(p) {
                Ok(Packet::HandshakeResponse(r)) => r.receiver_idx,
                Ok(Packet::PacketCookieReply(c)) => c.receiver_idx,
                other => panic!("{kind:?}: {other:?}"),
            })
            .collect();
        assert_eq!(idx[0], 5 << 8);
        assert_eq!(idx[255], 5 << 8 | 255);
        assert_eq!(idx[256], 5 << 8);
    }
}

/// The sender on loopback: every packet arrives, pacing holds a count,
/// and two sources are both used.
#[test]
fn flood_sends_what_it_counts() {
    let (_, public) = server();
    let sink = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    sink.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let flood = Flood {
        kind: Kind::Response,
        server_key: public,
        target: sink.local_addr().unwrap(),
        sources: vec![
            IpAddr::from(Ipv4Addr::LOCALHOST),
            IpAddr::from([127, 0, 0, 2]),
        ],
        rate: Some(2000),
        duration: Duration::from_secs(10),
        count: Some(200),
        slot: 0,
        pool: 16,
        answer_cookies: false,
    };
    let report = flood.run(&AtomicBool::new(false), |_| {}).unwrap();
    assert_eq!(report.sent, 200);
    let mut from = std::collections::HashSet::new();
    let mut buf = [0u8; 256];
    for _ in 0..200 {
        let (n, a) = sink.recv_from(&mut buf).unwrap();
        assert_eq!(n, RESPONSE_LEN);
        assert_eq!(buf[0], 2);
        from.insert(a.ip());
    }
    assert_eq!(from.len(), 2, "{from:?}");
}
