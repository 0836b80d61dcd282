//! The host's resolvers, from the text of /etc/resolv.conf.

use std::net::{IpAddr, SocketAddr};

/// The `nameserver` addresses of a resolv.conf, in order, port 53. An
/// IPv6 link-local address with a zone (`fe80::1%eth0`) cannot be used
/// from a plain socket address without the interface index and is
/// skipped. Like glibc, a file that lists none means the local resolver,
/// 127.0.0.1.
pub fn nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = resolv_conf
        .lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next()?;
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect();
    out.dedup();
    if out.is_empty() {
        out.push(SocketAddr::from(([127, 0, 0, 1], 53)));
    }
    out
}

#[cfg(test)]
#[path = "resolv_tests.rs"]
mod tests;
