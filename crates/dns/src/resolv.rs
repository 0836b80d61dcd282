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
mod tests {
    use super::*;

    #[test]
    fn reads_nameserver_lines() {
        let text = "# generated\nsearch lan\nnameserver 10.0.0.1\n nameserver\t192.168.1.1 # router\n\
                    nameserver fe80::1%eth0\nnameserver 2001:db8::53\noptions edns0\nnameserver banana\n";
        let got: Vec<String> = nameservers(text).iter().map(|a| a.to_string()).collect();
        assert_eq!(got, ["10.0.0.1:53", "192.168.1.1:53", "[2001:db8::53]:53"]);
    }

    #[test]
    fn none_listed_means_localhost_as_in_glibc() {
        assert_eq!(
            nameservers("search example\n"),
            [SocketAddr::from(([127, 0, 0, 1], 53))]
        );
    }
}
