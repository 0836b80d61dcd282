//! The gate's budgets on a fake clock: every refusal has its reason, and a
//! source over its budget never takes another source's.

use super::*;
use crate::cookie::testing::{add_mac2, message};
use crate::keys::PrivateKey;

fn rate(per_second: u32, burst: u32) -> Rate {
    Rate { per_second, burst }
}

/// Small budgets so a test needs few messages.
fn small() -> HandshakeLimits {
    HandshakeLimits {
        under_load: 2,
        per_source: rate(2, 2),
        cookie_replies_per_source: rate(1, 1),
        cookie_replies: rate(10, 3),
        handshakes: rate(100, 8),
        quiet_reserve: rate(1, 1),
        sources: 4,
    }
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, i], 4000))
}

struct Sender {
    from: SocketAddr,
    msg: Vec<u8>,
}

/// A gate under load, and a way to give a sender a cookie.
struct Setup {
    public: PublicKey,
    gate: HandshakeGate,
    now: Instant,
}

impl Setup {
    fn new(limits: HandshakeLimits) -> Self {
        let public = PrivateKey::generate().public_key();
        let mut s = Self {
            gate: HandshakeGate::new(&public, limits),
            public,
            now: Instant::now(),
        };
        // Some other sender's messages put the gate under load.
        let filler = s.sender(addr(250));
        for _ in 0..limits.under_load {
            s.admit(&filler);
        }
        s
    }

    fn sender(&self, from: SocketAddr) -> Sender {
        Sender {
            from,
            msg: message(&self.public, 148, 9),
        }
    }

    fn admit(&mut self, s: &Sender) -> Verdict {
        let mut out = [0u8; 64];
        self.gate.admit(self.now, s.from, &s.msg, &mut out)
    }

    /// Sends without mac2, takes the cookie reply and sets mac2.
    fn get_cookie(&mut self, s: &mut Sender) {
        let mut out = [0u8; 64];
        match self.gate.admit(self.now, s.from, &s.msg, &mut out) {
            Verdict::CookieReply(64) => add_mac2(&self.public, &out, &mut s.msg),
            other => panic!("expected a cookie reply, got {other:?}"),
        }
    }
}

#[test]
fn bucket_allows_the_burst_then_the_rate() {
    let t0 = Instant::now();
    let r = rate(10, 3);
    let mut b = Bucket::full(t0, r);
    assert!((0..3).all(|_| b.take(t0, r)));
    assert!(!b.take(t0, r));
    assert!(!b.take(t0 + Duration::from_millis(99), r));
    assert!(b.take(t0 + Duration::from_millis(100), r));
    // A long pause refills only up to the burst.
    let later = t0 + Duration::from_secs(60);
    assert!((0..3).all(|_| b.take(later, r)));
    assert!(!b.take(later, r));
    // Zero means never.
    let mut none = Bucket::full(t0, rate(0, 5));
    assert!(!none.take(later, rate(0, 5)));
}

#[test]
fn a_full_source_table_refuses_new_sources_until_old_ones_idle() {
    let t0 = Instant::now();
    let mut t = SourceTable::new(rate(1, 1), 3);
    for i in 1..=3 {
        assert_eq!(
            t.take(t0, addr(i).ip()),
            Some(true),
            "new sources are quiet"
        );
    }
    assert_eq!(t.take(t0, addr(4).ip()), None, "full: refused, not grown");
    assert_eq!(t.len(), 3);
    // A second later the first three are idle and swept.
    assert!(t.take(t0 + Duration::from_secs(1), addr(4).ip()).is_some());
    assert_eq!(t.len(), 1);
    // An IPv6 /64 is one source; IPv4-mapped addresses are IPv4.
    let a: IpAddr = "2001:db8:0:1::1".parse().unwrap();
    let b: IpAddr = "2001:db8:0:1::2".parse().unwrap();
    assert_eq!(Source::of(a), Source::of(b));
    assert_eq!(
        Source::of("::ffff:198.51.100.1".parse().unwrap()),
        Source::of(addr(1).ip())
    );
}

#[test]
fn bad_mac1_is_refused_before_anything_else() {
    let mut s = Setup::new(small());
    let mut bad = s.sender(addr(1));
    bad.msg[20] ^= 1;
    assert_eq!(s.admit(&bad), Verdict::Refuse(DropReason::BadMac));
}

#[test]
fn under_load_a_source_over_its_budget_does_not_starve_another() {
    let mut s = Setup::new(small());
    let (mut flood, mut real) = (s.sender(addr(1)), s.sender(addr(2)));
    s.get_cookie(&mut flood);
    s.get_cookie(&mut real);
    // The flooding source gets its burst of two, then nothing.
    assert_eq!(s.admit(&flood), Verdict::Pass);
    assert_eq!(s.admit(&flood), Verdict::Pass);
    for _ in 0..50 {
        assert_eq!(
            s.admit(&flood),
            Verdict::Refuse(DropReason::SourceRateLimited)
        );
    }
    assert_eq!(s.admit(&real), Verdict::Pass);
    // Half a second later the flood has one more (2 per second).
    s.now += Duration::from_millis(500);
    assert_eq!(s.admit(&flood), Verdict::Pass);
    assert_eq!(
        s.admit(&flood),
        Verdict::Refuse(DropReason::SourceRateLimited)
    );
}

#[test]
fn cookie_replies_are_budgeted_per_source_and_in_total() {
    let mut s = Setup::new(small());
    let flood = s.sender(addr(1));
    assert!(matches!(s.admit(&flood), Verdict::CookieReply(64)));
    for _ in 0..100 {
        assert_eq!(
            s.admit(&flood),
            Verdict::Refuse(DropReason::CookieReplyLimited)
        );
    }
    // Other sources still get theirs, until the device-wide three are spent.
    assert!(matches!(
        s.admit(&s.sender(addr(2))),
        Verdict::CookieReply(_)
    ));
    assert!(matches!(
        s.admit(&s.sender(addr(3))),
        Verdict::CookieReply(_)
    ));
    assert_eq!(
        s.admit(&s.sender(addr(4))),
        Verdict::Refuse(DropReason::CookieReplyLimited)
    );
}

#[test]
fn the_device_wide_handshake_budget_holds_across_sources() {
    let limits = HandshakeLimits {
        per_source: rate(100, 100),
        sources: 64,
        cookie_replies: rate(100, 100),
        handshakes: rate(10, 5),
        quiet_reserve: rate(0, 0),
        ..small()
    };
    let mut s = Setup::new(limits);
    let mut passed = 0;
    for i in 1..=10 {
        let mut x = s.sender(addr(i));
        s.get_cookie(&mut x);
        match s.admit(&x) {
            Verdict::Pass => passed += 1,
            Verdict::Refuse(DropReason::HandshakeBusy) => {}
            other => panic!("{other:?}"),
        }
    }
    // The filler's two used two of the five.
    assert_eq!(passed, 3);
    s.now += Duration::from_millis(100);
    let mut x = s.sender(addr(20));
    s.get_cookie(&mut x);
    assert_eq!(s.admit(&x), Verdict::Pass);
}

#[test]
fn load_ends_with_the_second() {
    let mut s = Setup::new(small());
    let x = s.sender(addr(1));
    assert!(matches!(s.admit(&x), Verdict::CookieReply(_)));
    s.now += Duration::from_secs(1);
    assert_eq!(s.admit(&x), Verdict::Pass, "no cookie needed again");
    assert!(s.gate.tracked_sources() > 0);
    s.gate.sweep(s.now + Duration::from_secs(5));
    assert_eq!(s.gate.tracked_sources(), 0);
}

/// Flooders with cookies for many addresses spend the device-wide budget;
/// a real peer that has been quiet still gets its handshake from the
/// reserve, which flooders (never quiet) cannot touch.
#[test]
fn a_quiet_source_draws_on_the_reserve_when_flooders_spent_the_budget() {
    let limits = HandshakeLimits {
        per_source: rate(20, 5),
        sources: 64,
        cookie_replies: rate(100, 100),
        handshakes: rate(10, 5),
        quiet_reserve: rate(2, 2),
        ..small()
    };
    let mut s = Setup::new(limits);
    let mut flooders: Vec<Sender> = (1..=20).map(|i| s.sender(addr(i))).collect();
    for f in &mut flooders {
        s.get_cookie(f);
    }
    // Two seconds of flooding: each flooder's first handshake came from a
    // quiet source, none after that, and the budget stays spent.
    for _ in 0..20 {
        s.now += Duration::from_millis(100);
        for _ in 0..3 {
            for f in &flooders {
                s.admit(f);
            }
        }
    }
    // A flooder with a token again is still not quiet: the reserve is
    // not for it.
    s.now += Duration::from_millis(50);
    assert_eq!(
        s.admit(&flooders[1]),
        Verdict::Refuse(DropReason::HandshakeBusy)
    );
    let mut real = s.sender(addr(100));
    s.get_cookie(&mut real);
    assert_eq!(s.admit(&real), Verdict::Pass, "from the reserve");
}
