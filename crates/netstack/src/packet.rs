//! Reading the headers of packets that arrive from the tunnel, before smoltcp
//! sees them, and writing the UDP packets that bypass it.

use std::net::{IpAddr, SocketAddr};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, TcpControl, TcpPacket,
    TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr,
};

/// What the classifier learned from an incoming packet's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header {
    Tcp {
        src: SocketAddr,
        dst: SocketAddr,
        syn_only: bool,
        /// For a pure ACK whose SACK blocks report data received above the
        /// acknowledged point: that ACK number (the first byte of a hole).
        hole_at: Option<u32>,
        /// The acknowledgement number of any segment with ACK set.
        ack: Option<u32>,
        /// Whether the segment is a pure ACK (no data, SYN, FIN or RST).
        pure_ack: bool,
        /// Payload bytes the segment carries.
        data: usize,
    },
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        payload: (usize, usize),
    },
    /// ICMP and anything else smoltcp answers or ignores by itself.
    Other { dst: IpAddr },
    /// A fragment: the stack does not reassemble.
    Fragment,
}

/// Parses IP and transport headers; `None` if anything is truncated or
/// inconsistent.
pub(crate) fn classify(buf: &[u8]) -> Option<Header> {
    match buf.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(buf).ok()?;
            if ip.more_frags() || ip.frag_offset() != 0 {
                return Some(Header::Fragment);
            }
            let src = IpAddr::V4(ip.src_addr());
            let dst = IpAddr::V4(ip.dst_addr());
            let start = usize::from(ip.header_len());
            let end = usize::from(ip.total_len());
            transport(ip.next_header(), src, dst, buf.get(start..end)?, start)
        }
        6 => {
            let ip = Ipv6Packet::new_checked(buf).ok()?;
            let src = IpAddr::V6(ip.src_addr());
            let dst = IpAddr::V6(ip.dst_addr());
            let start = ip.header_len();
            let end = start + usize::from(ip.payload_len());
            // Extension headers are rare inside tunnels; smoltcp handles the
            // ones it knows, and a UDP or TCP header behind one is passed on.
            transport(ip.next_header(), src, dst, buf.get(start..end)?, start)
        }
        _ => None,
    }
}

fn transport(proto: IpProtocol, src: IpAddr, dst: IpAddr, l4: &[u8], at: usize) -> Option<Header> {
    match proto {
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(l4).ok()?;
            Some(Header::Tcp {
                src: SocketAddr::new(src, tcp.src_port()),
                dst: SocketAddr::new(dst, tcp.dst_port()),
                // SYN with FIN or RST is no connection attempt: smoltcp
                // refuses it, so no listener is made for it.
                syn_only: tcp.syn() && !tcp.ack() && !tcp.fin() && !tcp.rst(),
                hole_at: sack_hole(&tcp),
                ack: tcp.ack().then(|| tcp.ack_number().0 as u32),
                pure_ack: is_pure_ack(&tcp),
                data: tcp.payload().len(),
            })
        }
        IpProtocol::Udp => {
            let udp = UdpPacket::new_checked(l4).ok()?;
            let len = usize::from(udp.len());
            if len < 8 || len > l4.len() {
                return None;
            }
            Some(Header::Udp {
                src: SocketAddr::new(src, udp.src_port()),
                dst: SocketAddr::new(dst, udp.dst_port()),
                payload: (at + 8, at + len),
            })
        }
        _ => Some(Header::Other { dst }),
    }
}

/// A pure ACK (no data, SYN, FIN or RST) whose SACK blocks start above
/// its acknowledgement number says the receiver is missing the bytes at
/// that number. Returns the number.
fn sack_hole(tcp: &TcpPacket<&[u8]>) -> Option<u32> {
    if !is_pure_ack(tcp) {
        return None;
    }
    let ack = tcp.ack_number();
    let ranges = tcp.selective_ack_ranges().ok()?;
    // Sequence numbers wrap: "above" is a positive signed distance.
    let above = ranges
        .iter()
        .flatten()
        .any(|&(left, _)| (left.wrapping_sub(ack.0 as u32) as i32) > 0);
    above.then_some(ack.0 as u32)
}

fn is_pure_ack(tcp: &TcpPacket<&[u8]>) -> bool {
    tcp.ack() && !tcp.syn() && !tcp.fin() && !tcp.rst() && tcp.payload().is_empty()
}

/// Lowers the window of a TCP segment in an IPv4 or IPv6 packet by one
/// unit (keeping the checksum valid). A replayed ACK with a changed window
/// counts as a window update, which restarts smoltcp's duplicate-ACK count.
/// `false` if the packet is not TCP or its window is already zero.
pub(crate) fn shrink_window(buf: &mut [u8]) -> bool {
    let start = match buf.first().map(|b| b >> 4) {
        Some(4) => match Ipv4Packet::new_checked(&buf[..]) {
            Ok(ip) if ip.next_header() == IpProtocol::Tcp => usize::from(ip.header_len()),
            _ => return false,
        },
        Some(6) => match Ipv6Packet::new_checked(&buf[..]) {
            Ok(ip) if ip.next_header() == IpProtocol::Tcp => ip.header_len(),
            _ => return false,
        },
        _ => return false,
    };
    let Some(tcp) = buf.get_mut(start..) else {
        return false;
    };
    let Ok(mut tcp) = TcpPacket::new_checked(tcp) else {
        return false;
    };
    let window = tcp.window_len();
    if window == 0 {
        return false;
    }
    tcp.set_window_len(window - 1);
    // One's-complement checksum update (RFC 1624): the window word went
    // down by one, so the checksum goes up by one.
    let sum = u32::from(tcp.checksum()) + 1;
    tcp.set_checksum(((sum & 0xffff) + (sum >> 16)) as u16);
    true
}

/// Where the TCP segment of an IPv4 or IPv6 packet carrying TCP directly
/// lies, and the packet's addresses.
struct TcpIn {
    start: usize,
    end: usize,
    src: IpAddress,
    dst: IpAddress,
}

fn tcp_in(buf: &[u8]) -> Option<TcpIn> {
    match buf.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(buf).ok()?;
            (ip.next_header() == IpProtocol::Tcp).then(|| TcpIn {
                start: usize::from(ip.header_len()),
                end: usize::from(ip.total_len()),
                src: ip.src_addr().into(),
                dst: ip.dst_addr().into(),
            })
        }
        6 => {
            let ip = Ipv6Packet::new_checked(buf).ok()?;
            (ip.next_header() == IpProtocol::Tcp).then(|| TcpIn {
                start: ip.header_len(),
                end: ip.header_len() + usize::from(ip.payload_len()),
                src: ip.src_addr().into(),
                dst: ip.dst_addr().into(),
            })
        }
        _ => None,
    }
}

/// Cuts the payload from a TCP segment, keeping its acknowledgement and
/// window: the stack refuses the data but must not lose the ACK, or bytes
/// it sent would never drain. FIN goes too (its sequence number follows the
/// payload). Lengths and checksums are rewritten. `false` if `buf` is not a
/// TCP segment with payload.
pub(crate) fn strip_payload(buf: &mut Vec<u8>) -> bool {
    let Some(TcpIn {
        start,
        end,
        src,
        dst,
    }) = tcp_in(buf)
    else {
        return false;
    };
    let Some(l4) = buf.get_mut(start..end) else {
        return false;
    };
    let Ok(mut tcp) = TcpPacket::new_checked(l4) else {
        return false;
    };
    let header = usize::from(tcp.header_len());
    if tcp.payload_mut().is_empty() {
        return false;
    }
    tcp.set_fin(false);
    let new_end = start + header;
    buf.truncate(new_end);
    match buf.first().map(|b| b >> 4) {
        Some(4) => {
            let mut ip = Ipv4Packet::new_unchecked(&mut buf[..]);
            // `new_end` is at most the old total length, a u16.
            ip.set_total_len(u16::try_from(new_end).unwrap_or(u16::MAX));
            ip.fill_checksum();
        }
        _ => {
            let mut ip = Ipv6Packet::new_unchecked(&mut buf[..]);
            ip.set_payload_len(u16::try_from(header).unwrap_or(u16::MAX));
        }
    }
    let mut tcp = TcpPacket::new_unchecked(&mut buf[start..]);
    tcp.fill_checksum(&src, &dst);
    true
}

/// Writes into `out` (cleared first) the RST+ACK that refuses `syn`, a
/// TCP segment with SYN set: from the address it was sent to, acknowledging
/// its sequence space (RFC 9293 §3.10.7.1). `None` if `syn` is not TCP.
pub(crate) fn emit_rst(syn: &[u8], ident: u16, out: &mut Vec<u8>) -> Option<()> {
    let TcpIn {
        start,
        end,
        src,
        dst,
    } = tcp_in(syn)?;
    let tcp = TcpPacket::new_checked(syn.get(start..end)?).ok()?;
    let seg_len = tcp.payload().len() + usize::from(tcp.syn()) + usize::from(tcp.fin());
    let rst = TcpRepr {
        src_port: tcp.dst_port(),
        dst_port: tcp.src_port(),
        control: TcpControl::Rst,
        seq_number: TcpSeqNumber(0),
        ack_number: Some(tcp.seq_number() + seg_len),
        window_len: 0,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    // From the address the SYN was sent to.
    let at = emit_ip(
        dst.into(),
        src.into(),
        IpProtocol::Tcp,
        rst.buffer_len(),
        ident,
        out,
    )?;
    let mut pkt = TcpPacket::new_unchecked(&mut out[at..]);
    rst.emit(&mut pkt, &dst, &src, &ChecksumCapabilities::default());
    Some(())
}

/// Writes an IP+UDP packet carrying `payload` into `out`, which is cleared
/// first. `None` if the address families differ.
pub(crate) fn emit_udp(
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
    ident: u16,
    out: &mut Vec<u8>,
) -> Option<()> {
    let udp = UdpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
    };
    let at = emit_ip(
        src.ip(),
        dst.ip(),
        IpProtocol::Udp,
        8 + payload.len(),
        ident,
        out,
    )?;
    udp.emit(
        &mut UdpPacket::new_unchecked(&mut out[at..]),
        &IpAddress::from(src.ip()),
        &IpAddress::from(dst.ip()),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &ChecksumCapabilities::default(),
    );
    Some(())
}

/// Clears `out` and writes an IPv4 or IPv6 header for `payload_len` bytes
/// of `proto`, with room for them after it; returns where they start.
/// `None` if the address families differ.
fn emit_ip(
    src: IpAddr,
    dst: IpAddr,
    proto: IpProtocol,
    payload_len: usize,
    ident: u16,
    out: &mut Vec<u8>,
) -> Option<usize> {
    out.clear();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let ip = Ipv4Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len,
                hop_limit: 64,
            };
            out.resize(ip.buffer_len() + payload_len, 0);
            let mut pkt = Ipv4Packet::new_unchecked(&mut out[..]);
            ip.emit(&mut pkt, &ChecksumCapabilities::default());
            pkt.set_ident(ident);
            pkt.set_dont_frag(true);
            pkt.fill_checksum();
            Some(ip.buffer_len())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let ip = Ipv6Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len,
                hop_limit: 64,
            };
            out.resize(ip.buffer_len() + payload_len, 0);
            ip.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]));
            Some(ip.buffer_len())
        }
        _ => None,
    }
}

/// An IPv4 TCP segment with checksums, window 512 and no options, for tests.
#[cfg(test)]
pub(crate) fn tcp_segment(
    src: std::net::SocketAddrV4,
    dst: std::net::SocketAddrV4,
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: 512,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    let ip = Ipv4Repr {
        src_addr: *src.ip(),
        dst_addr: *dst.ip(),
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let sums = ChecksumCapabilities::default();
    let mut buf = vec![0u8; ip.buffer_len() + tcp.buffer_len()];
    let mut pkt = Ipv4Packet::new_unchecked(&mut buf[..]);
    ip.emit(&mut pkt, &sums);
    let (s, d) = (IpAddress::Ipv4(*src.ip()), IpAddress::Ipv4(*dst.ip()));
    tcp.emit(
        &mut TcpPacket::new_unchecked(pkt.payload_mut()),
        &s,
        &d,
        &sums,
    );
    buf
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
