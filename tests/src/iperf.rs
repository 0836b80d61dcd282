//! iperf3 servers and clients in namespaces, with the client's `-J` report
//! parsed into a throughput.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::netns::Netns;
use crate::process::{run_unchecked, Process};

// === impl Iperf3Server ===

/// A persistent `iperf3 -s` bound to one address and port (a one-off server
/// would need restarting between the runs of a benchmark).
#[derive(Debug)]
pub struct Iperf3Server {
    process: Process,
    pub bind: IpAddr,
    pub port: u16,
}

impl Iperf3Server {
    /// Starts the server and waits until its TCP control port listens.
    pub fn start(ns: &Netns, bind: IpAddr, port: u16) -> Result<Iperf3Server> {
        let args = ["-s", "-B", &bind.to_string(), "-p", &port.to_string()];
        let mut process = ns.spawn(&format!("iperf3-server-{port}"), "iperf3", &args)?;
        for _ in 0..500 {
            if ns.is_listening("tcp", port)? {
                return Ok(Iperf3Server {
                    process,
                    bind,
                    port,
                });
            }
            process.ensure_running()?;
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "iperf3 server on {bind}:{port} did not start listening; log:\n{}",
            process.log()
        )
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
}

// === impl Iperf3Client ===

/// One iperf3 client run: `iperf3 -c HOST -p PORT -t SECONDS -O OMIT -J`,
/// plus `-R` (server sends) and `-u -b RATE` (UDP) when set.
#[derive(Debug, Clone)]
pub struct Iperf3Client {
    pub seconds: u32,
    /// Seconds at the start left out of the result (slow start, handshakes).
    pub omit: u32,
    pub reverse: bool,
    /// UDP at this bitrate, e.g. `"500M"`; TCP when `None`.
    pub udp_bitrate: Option<String>,
    pub extra_args: Vec<String>,
}

impl Default for Iperf3Client {
    fn default() -> Self {
        Iperf3Client {
            seconds: 5,
            omit: 1,
            reverse: false,
            udp_bitrate: None,
            extra_args: Vec::new(),
        }
    }
}

impl Iperf3Client {
    pub fn seconds(mut self, seconds: u32) -> Self {
        self.seconds = seconds;
        self
    }

    pub fn reverse(mut self, reverse: bool) -> Self {
        self.reverse = reverse;
        self
    }

    pub fn udp(mut self, bitrate: &str) -> Self {
        self.udp_bitrate = Some(bitrate.to_string());
        self
    }

    /// The arguments after `iperf3`.
    pub fn args(&self, host: IpAddr, port: u16) -> Vec<String> {
        let mut a: Vec<String> = [
            "-c",
            &host.to_string(),
            "-p",
            &port.to_string(),
            "-J",
            "--connect-timeout",
            "5000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend([
            "-t".into(),
            self.seconds.to_string(),
            "-O".into(),
            self.omit.to_string(),
        ]);
        if self.reverse {
            a.push("-R".into());
        }
        if let Some(rate) = &self.udp_bitrate {
            a.extend(["-u".into(), "-b".into(), rate.clone()]);
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }

    /// Runs the client in `ns` against `host:port`. Killed if it takes much
    /// longer than it should (a broken tunnel can stall iperf3 for minutes).
    pub fn run(&self, ns: &Netns, host: IpAddr, port: u16) -> Result<Iperf3Result> {
        let limit = Duration::from_secs(u64::from(self.seconds + self.omit) + 30);
        let mut cmd = ns.command("iperf3");
        cmd.args(self.args(host, port));
        let out = run_unchecked(&mut cmd, limit)?;
        let json = String::from_utf8_lossy(&out.stdout);
        parse_report(&json, self.udp_bitrate.is_some()).with_context(|| {
            format!(
                "iperf3 to {host}:{port} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
    }
}

// === impl Iperf3Result ===

/// What one iperf3 run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iperf3Result {
    /// Goodput at the receiver (TCP), or the UDP rate the receiver saw.
    pub bits_per_second: f64,
    pub bytes: u64,
    /// TCP only: the sender's retransmissions.
    pub retransmits: Option<u64>,
    /// UDP only: the share of datagrams lost, in percent.
    pub lost_percent: Option<f64>,
}

impl Iperf3Result {
    pub fn gbps(&self) -> f64 {
        self.bits_per_second / 1e9
    }
}

/// Parses an `iperf3 -J` report. TCP uses `end.sum_received` (what actually
/// arrived, in either direction); UDP uses `end.sum`, which carries the loss.
pub fn parse_report(json: &str, udp: bool) -> Result<Iperf3Result> {
    let v: Value = serde_json::from_str(json)
        .map_err(|e| anyhow!("not an iperf3 JSON report ({e}): {json:.300}"))?;
    if let Some(err) = v.get("error").and_then(Value::as_str) {
        bail!("iperf3: {err}");
    }
    let end = v
        .get("end")
        .ok_or_else(|| anyhow!("iperf3 report has no \"end\""))?;
    let num = |sum: &Value, key: &str| sum.get(key).and_then(Value::as_f64);
    if udp {
        let sum = end
            .get("sum")
            .ok_or_else(|| anyhow!("iperf3 UDP report has no end.sum"))?;
        Ok(Iperf3Result {
            bits_per_second: num(sum, "bits_per_second")
                .ok_or_else(|| anyhow!("no end.sum.bits_per_second"))?,
            bytes: num(sum, "bytes").unwrap_or(0.0) as u64,
            retransmits: None,
            lost_percent: num(sum, "lost_percent"),
        })
    } else {
        let recv = end
            .get("sum_received")
            .ok_or_else(|| anyhow!("iperf3 TCP report has no end.sum_received"))?;
        Ok(Iperf3Result {
            bits_per_second: num(recv, "bits_per_second")
                .ok_or_else(|| anyhow!("no end.sum_received.bits_per_second"))?,
            bytes: num(recv, "bytes").unwrap_or(0.0) as u64,
            retransmits: end
                .get("sum_sent")
                .and_then(|s| num(s, "retransmits"))
                .map(|r| r as u64),
            lost_percent: None,
        })
    }
}

#[cfg(test)]
#[path = "iperf_tests.rs"]
mod tests;
