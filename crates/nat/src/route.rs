//! The default IPv4 gateway, from the text of Linux's `/proc/net/route`
//! (the caller reads the file; this only parses it).

use std::net::Ipv4Addr;

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

/// The route packets to the internet take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRoute {
    pub interface: String,
    pub gateway: Ipv4Addr,
}

/// The default route with the lowest metric, if any. Lines that do not
/// parse are skipped.
///
/// Addresses in the file are 32-bit numbers printed in hexadecimal in the
/// host's byte order, so `0100A8C0` is 192.168.0.1 on a little-endian host.
pub fn default_route(proc_net_route: &str) -> Option<DefaultRoute> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    proc_net_route
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let (dest, gateway, flags) = (hex(f[1])?, hex(f[2])?, hex(f[3])?);
            let (metric, mask) = (f[6].parse::<u32>().ok()?, hex(f[7])?);
            let is_default =
                dest == 0 && mask == 0 && flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY;
            is_default.then(|| {
                (
                    metric,
                    DefaultRoute {
                        interface: f[0].to_string(),
                        gateway: Ipv4Addr::from(gateway.to_ne_bytes()),
                    },
                )
            })
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, r)| r)
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
