//! Lab test of per-peer fairness with two real wireguard-go peers (see
//! `wingress_lab::fairness` for the namespaces): peer `a` floods SYNs, more
//! than the daemon has handshake slots in all, and peer `b` still connects
//! and is served; a reload lowers `a`'s connection cap and shortens the
//! handshake timeout, `a`'s connection past the cap is refused, and `b`
//! still gets in. Every refusal shows in `/metrics` under `a`.
//!
//! The first part runs with the default `[limits]` (no section), so the
//! same config shows what a daemon without per-peer caps does: its global
//! table of half-open connections fills and `b`'s SYN is dropped.
//! Root only; see `wingress_lab::lab_or_skip`.

use std::io::ErrorKind;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use wingress_lab::fairness::{echo_round_trip, TwoPeers};
use wingress_lab::{admin, eventually, lab_or_skip, metric, Lab};

/// SYNs the flood sends: more than the daemon's 1,024 handshake slots.
const FLOOD: u32 = 1200;
/// SYNs per second.
const FLOOD_RATE: u32 = 2000;
/// How long `b` may take to connect: far longer than a SYN-ACK takes, far
/// shorter than a flood's half-open connections lived without the caps
/// (300 s).
const CONNECT: Duration = Duration::from_secs(20);

#[test]
fn a_peer_over_its_caps_does_not_keep_another_out() -> Result<()> {
    let Some(lab) = lab_or_skip(&["wireguard-go", "wg", "ping", "python3", "nft"]) else {
        return Ok(());
    };
    let result = run(&lab);
    if result.is_err() {
        lab.dump_logs();
    }
    result
}

fn hits(body: &str, peer: &str, reason: &str) -> f64 {
    metric(
        body,
        "wingress_limit_hits_total",
        &format!("peer=\"{peer}\",reason=\"{reason}\""),
    )
    .unwrap_or(0.0)
}

fn gauge(body: &str, name: &str, peer: &str) -> f64 {
    metric(body, name, &format!("peer=\"{peer}\"")).unwrap_or(-1.0)
}

fn run(lab: &Lab) -> Result<()> {
    let bin = wingress_lab::wingress_bin();
    let mut t = TwoPeers::start(lab, &bin, "")?;
    let mut b = t.connect(&t.c, CONNECT).context("b before the flood")?;
    echo_round_trip(&mut b, b"before")?;
    drop(b);

    t.drop_flood_resets()?;
    // Paced: wireguard-go drops what its per-peer queue cannot hold, and
    // every SYN must reach the daemon.
    let mut flood = t.flood(FLOOD, FLOOD_RATE)?;
    eventually(Duration::from_secs(60), || {
        ensure!(!flood.is_running(), "the flood is still sending");
        Ok(())
    })?;
    let sent: u32 = flood.log().trim().parse().context("the flooder's count")?;
    ensure!(sent == FLOOD, "the flooder sent {sent}");

    let mut b = t
        .connect(&t.c, CONNECT)
        .context("b connects while a's flood holds its half-open slots")?;
    echo_round_trip(&mut b, b"during")?;
    let m = t.metrics()?;
    let refused = hits(&m, "a", "tcp_half_open");
    eprintln!(
        "a: {refused} SYNs refused, {} half-open",
        gauge(&m, "wingress_peer_tcp_half_open", "a")
    );
    let half_open = gauge(&m, "wingress_peer_tcp_half_open", "a");
    ensure!(
        refused + half_open >= f64::from(FLOOD) * 0.95,
        "the flood did not reach the daemon: {refused} refused, {half_open} half-open\n{m}"
    );
    ensure!(half_open <= 64.0, "{m}");
    ensure!(hits(&m, "b", "tcp_half_open") == 0.0, "{m}");
    t.daemon.ensure_running()?;

    // A lower connection cap and a short handshake timeout, live.
    let text = std::fs::read_to_string(&t.config)?
        + "[limits]\npeer_tcp_connections = 20\ntcp_handshake_timeout = \"1s\"\n";
    std::fs::write(&t.config, text)?;
    let (code, body) = admin(&t.socket, "POST", "/reload")?;
    ensure!(
        code == 200 && body.contains("[limits] changed"),
        "reload: {code} {body}"
    );
    eventually(Duration::from_secs(20), || {
        let m = t.metrics()?;
        ensure!(
            gauge(&m, "wingress_peer_tcp_half_open", "a") == 0.0,
            "a's half-open connections are still there"
        );
        Ok(())
    })?;
    // b holds one connection; a may hold 20.
    let mut held = Vec::new();
    let refusal = loop {
        match t.connect(&t.a, CONNECT) {
            Ok(s) => held.push(s),
            Err(e) => break e,
        }
        if held.len() > 20 {
            bail!("a opened {} connections past its cap of 20", held.len());
        }
    };
    let kind = refusal
        .downcast_ref::<std::io::Error>()
        .map(std::io::Error::kind);
    ensure!(
        held.len() == 20 && kind == Some(ErrorKind::ConnectionRefused),
        "a got {} connections, then {refusal:#}",
        held.len()
    );
    for s in held.iter_mut().take(3) {
        echo_round_trip(s, b"a is served")?;
    }
    let mut b2 = t.connect(&t.c, CONNECT).context("b past a's cap")?;
    echo_round_trip(&mut b2, b"after")?;
    echo_round_trip(&mut b, b"still")?;
    let m = t.metrics()?;
    ensure!(hits(&m, "a", "tcp_connections") >= 1.0, "{m}");
    ensure!(hits(&m, "a", "tcp_handshake_timeout") >= 1.0, "{m}");
    ensure!(
        gauge(&m, "wingress_peer_tcp_connections", "a") == 20.0,
        "{m}"
    );
    ensure!(
        gauge(&m, "wingress_peer_tcp_connections", "b") == 2.0,
        "{m}"
    );
    for reason in ["tcp_half_open", "tcp_connections"] {
        ensure!(hits(&m, "b", reason) == 0.0, "{m}");
    }
    t.daemon.ensure_running()?;
    Ok(())
}
