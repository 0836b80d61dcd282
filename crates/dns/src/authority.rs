//! How the dns-01 client finds a zone's authoritative servers, asking only
//! the server it was configured with (never the host's resolver): the
//! zone's NS records, and each name server's addresses, from the NS
//! answer's additional section or from A and AAAA queries. Sans-IO: the
//! queries are bytes out, the answers [`Message`]s in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::wire::{
    Message, MessageBuilder, Name, Record, WireError, CLASS_IN, OPCODE_QUERY, OPCODE_SHIFT, TYPE_A,
    TYPE_AAAA, TYPE_NS,
};

/// A non-recursive query for `qtype` at `name`: the server must answer
/// from its own zone data, not from a cache or by asking others.
pub fn query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, WireError> {
    let mut msg = MessageBuilder::new(id, OPCODE_QUERY << OPCODE_SHIFT);
    msg.question(&Name::parse(name)?, qtype, CLASS_IN)?;
    Ok(msg.finish())
}

/// The name servers the answer section of `msg` lists for `zone`, in
/// order, without repeats. NS records owned by another name, of another
/// class, or whose name does not parse exactly within its record are
/// skipped: nothing a server sends can make this fail.
pub fn ns_names(msg: &Message<'_>, zone: &str) -> Vec<Name> {
    let Some(zone) = Name::from_dotted(zone) else {
        return Vec::new();
    };
    let mut out: Vec<Name> = Vec::new();
    for record in msg.answers.iter().filter(|r| is_in(r, TYPE_NS, &zone)) {
        match msg.rdata_name(record) {
            Ok(name) if !out.contains(&name) => out.push(name),
            _ => {}
        }
    }
    out
}

/// The addresses `msg` gives for `name`: A and AAAA records owned by it in
/// the answer and additional sections (glue comes in the latter), in
/// order, without repeats. Records of the wrong length are skipped.
pub fn addresses(msg: &Message<'_>, name: &Name) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for record in msg.answers.iter().chain(&msg.additional) {
        let ip = if is_in(record, TYPE_A, name) {
            <[u8; 4]>::try_from(record.rdata)
                .ok()
                .map(|b| IpAddr::V4(Ipv4Addr::from(b)))
        } else if is_in(record, TYPE_AAAA, name) {
            <[u8; 16]>::try_from(record.rdata)
                .ok()
                .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
        } else {
            None
        };
        match ip {
            Some(ip) if !out.contains(&ip) => out.push(ip),
            _ => {}
        }
    }
    out
}

fn is_in(record: &Record<'_>, rtype: u16, owner: &Name) -> bool {
    record.rtype == rtype && record.class == CLASS_IN && record.owner == *owner
}

#[cfg(test)]
#[path = "authority_tests.rs"]
mod tests;
