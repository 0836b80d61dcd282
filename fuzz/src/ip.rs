//! IP packets built from a few fields, for the netstack target (which
//! steers a TCP connection through its states) and the seed generator.
//! Checksums are filled in although the stack does not check them on
//! receive (WireGuard authenticated the packet already).

use std::net::{IpAddr, SocketAddr};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    IpAddress, IpProtocol, IpRepr, Ipv4Packet, Ipv6Packet, TcpControl, TcpPacket, TcpRepr,
    TcpSeqNumber, UdpPacket, UdpRepr,
};

/// A zeroed packet of `l4_len` bytes of `proto` behind an IPv4 or IPv6
/// header (by the addresses' family, `None` if they differ), and where
/// the `proto` part starts.
fn ip_header(
    src: IpAddr,
    dst: IpAddr,
    proto: IpProtocol,
    l4_len: usize,
) -> Option<(Vec<u8>, usize)> {
    if src.is_ipv4() != dst.is_ipv4() {
        return None;
    }
    let ip = IpRepr::new(src.into(), dst.into(), proto, l4_len, 64);
    let mut out = vec![0u8; ip.buffer_len()];
    ip.emit(&mut out[..], &ChecksumCapabilities::default());
    Some((out, ip.header_len()))
}

/// The TCP header fields the netstack target varies.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub seq: u32,
    pub ack: Option<u32>,
    pub window: u16,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub sack: [Option<(u32, u32)>; 3],
    pub payload: &'a [u8],
}

/// The segment as an IPv4 or IPv6 packet (by `src`'s family; `None` when
/// `dst` is of the other family).
pub fn tcp(s: &Segment<'_>) -> Option<Vec<u8>> {
    let control = match (s.syn, s.fin, s.rst) {
        (true, _, _) => TcpControl::Syn,
        (_, true, _) => TcpControl::Fin,
        (_, _, true) => TcpControl::Rst,
        _ => TcpControl::None,
    };
    let repr = TcpRepr {
        src_port: s.src.port(),
        dst_port: s.dst.port(),
        control,
        seq_number: TcpSeqNumber(s.seq as i32),
        ack_number: s.ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: s.window,
        window_scale: s.window_scale,
        max_seg_size: s.syn.then_some(1380),
        sack_permitted: s.sack_permitted,
        sack_ranges: s.sack,
        timestamp: None,
        payload: s.payload,
    };
    let (mut out, at) = ip_header(s.src.ip(), s.dst.ip(), IpProtocol::Tcp, repr.buffer_len())?;
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut out[at..]),
        &IpAddress::from(s.src.ip()),
        &IpAddress::from(s.dst.ip()),
        &ChecksumCapabilities::default(),
    );
    Some(out)
}

/// A UDP datagram as an IPv4 or IPv6 packet (`None` when the families
/// differ).
pub fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let repr = UdpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
    };
    let udp_len = repr.header_len() + payload.len();
    let (mut out, at) = ip_header(src.ip(), dst.ip(), IpProtocol::Udp, udp_len)?;
    repr.emit(
        &mut UdpPacket::new_unchecked(&mut out[at..]),
        &IpAddress::from(src.ip()),
        &IpAddress::from(dst.ip()),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &ChecksumCapabilities::default(),
    );
    Some(out)
}

/// What the netstack target tracks of a TCP segment the stack sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// The remote end (the packet's destination).
    pub peer: SocketAddr,
    pub local_port: u16,
    pub seq: u32,
    /// Sequence numbers it takes: payload, plus one each for SYN and FIN.
    pub len: u32,
}

/// Parses a packet the stack sent. `Err` if it is not a well-formed IPv4
/// or IPv6 packet (the stack must never send one); `Ok(None)` if it is
/// not TCP.
pub fn sent(packet: &[u8]) -> Result<Option<Sent>, &'static str> {
    let (proto, dst, payload) = match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let ip = Ipv4Packet::new_checked(packet).map_err(|_| "bad ipv4 header")?;
            if usize::from(ip.total_len()) != packet.len() {
                return Err("ipv4 length does not match the packet");
            }
            (ip.next_header(), IpAddr::V4(ip.dst_addr()), ip.payload())
        }
        Some(6) => {
            let ip = Ipv6Packet::new_checked(packet).map_err(|_| "bad ipv6 header")?;
            if ip.header_len() + usize::from(ip.payload_len()) != packet.len() {
                return Err("ipv6 length does not match the packet");
            }
            (ip.next_header(), IpAddr::V6(ip.dst_addr()), ip.payload())
        }
        _ => return Err("not an ip packet"),
    };
    if proto != IpProtocol::Tcp {
        return Ok(None);
    }
    let tcp = TcpPacket::new_checked(payload).map_err(|_| "bad tcp header")?;
    let len = tcp.payload().len() as u32 + u32::from(tcp.syn()) + u32::from(tcp.fin());
    Ok(Some(Sent {
        peer: SocketAddr::new(dst, tcp.dst_port()),
        local_port: tcp.src_port(),
        seq: tcp.seq_number().0 as u32,
        len,
    }))
}
