//! The messages a dns-01 client needs (RFC 2136, RFC 8555 §8.4): an
//! UPDATE that adds or deletes one TXT record, and a TXT query with the
//! reading of its answer to see the change on the server. Sans-IO: bytes
//! out, [`Message`]s in; signing is [`crate::tsig`]'s.

use crate::wire::{
    Message, MessageBuilder, Name, Section, WireError, CLASS_IN, CLASS_NONE, OPCODE_SHIFT,
    OPCODE_UPDATE, TYPE_SOA, TYPE_TXT,
};

/// One change of an UPDATE (RFC 2136 §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    /// Adds `value` to the TXT RRset of `name`.
    AddTxt {
        name: &'a str,
        ttl: u32,
        value: &'a str,
    },
    /// Deletes exactly the TXT record `value` of `name` (§2.5.4: class
    /// NONE, TTL 0), leaving any other value there in place.
    DeleteTxt { name: &'a str, value: &'a str },
}

/// An UPDATE of `zone` with `changes` and no prerequisites, unsigned. The
/// zone section is one question: the zone's name, type SOA (§2.3).
pub fn update(id: u16, zone: &str, changes: &[Change<'_>]) -> Result<Vec<u8>, WireError> {
    let mut msg = MessageBuilder::new(id, OPCODE_UPDATE << OPCODE_SHIFT);
    msg.question(&Name::parse(zone)?, TYPE_SOA, CLASS_IN)?;
    for change in changes {
        // The update section is the third, where a response's authority
        // records go.
        let (name, class, ttl, value) = match *change {
            Change::AddTxt { name, ttl, value } => (name, CLASS_IN, ttl, value),
            Change::DeleteTxt { name, value } => (name, CLASS_NONE, 0, value),
        };
        let owner = Name::parse(name)?;
        msg.record(
            Section::Authority,
            &owner,
            TYPE_TXT,
            class,
            ttl,
            &txt_rdata(value),
        )?;
    }
    Ok(msg.finish())
}

/// A non-recursive TXT query: the configured server must answer from its
/// own zone data, not from a cache.
pub fn txt_query(id: u16, name: &str) -> Result<Vec<u8>, WireError> {
    crate::authority::query(id, name, TYPE_TXT)
}

/// The values of the TXT answers for `name` in `msg` (each record's
/// strings joined, as RFC 8555 §8.4 reads them). Records that are not
/// valid character-strings or not UTF-8 are skipped: they cannot be the
/// value looked for.
pub fn txt_values(msg: &Message<'_>, name: &str) -> Vec<String> {
    let Some(want) = Name::from_dotted(name) else {
        return Vec::new();
    };
    msg.answers
        .iter()
        .filter(|a| a.rtype == TYPE_TXT && a.class == CLASS_IN && a.owner == want)
        .filter_map(|a| txt_value(a.rdata))
        .collect()
}

fn txt_rdata(value: &str) -> Vec<u8> {
    // One character-string per 255 bytes; ACME values are 43 bytes.
    let mut rdata = Vec::with_capacity(value.len() + 1);
    for chunk in value.as_bytes().chunks(255) {
        rdata.push(chunk.len() as u8);
        rdata.extend_from_slice(chunk);
    }
    if value.is_empty() {
        rdata.push(0);
    }
    rdata
}

fn txt_value(rdata: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(rdata.len());
    let mut rest = rdata;
    while let Some((&len, tail)) = rest.split_first() {
        let (s, tail) = tail.split_at_checked(usize::from(len))?;
        out.extend_from_slice(s);
        rest = tail;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
