//! The server's side of the message format: standard queries parsed into a
//! [`Query`] (parse, don't validate: what it holds is known good, EDNS0
//! from RFC 6891 included), responses built by [`Response`], and the
//! helpers a forwarder needs. Built on [`crate::wire`].

use crate::wire::{
    be16, MessageBuilder, Name, Rcode, Reader, Section, CLASSIC_UDP_MAX, CLASS_IN, FLAG_AA,
    FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_LEN, OPCODE_MASK, TYPE_OPT,
};

/// The UDP payload size this server advertises in its OPT record: the
/// DNS flag day 2020 value, which fits unfragmented in every common path.
pub const EDNS_UDP_SIZE: u16 = 1232;
/// The DO ("DNSSEC OK") bit in an OPT record's TTL field.
const EDNS_DO: u32 = 0x8000;

/// A query's EDNS0 OPT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// The requester's UDP payload size; values under 512 count as 512.
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A parsed standard query with exactly one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub id: u16,
    /// Recursion desired, copied into the response.
    pub rd: bool,
    /// Checking disabled, copied into the response.
    pub cd: bool,
    /// The question name, lowercased for matching.
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    /// The question section as received: name, type, class (echoed in the
    /// response with the client's case, for clients that randomize it).
    pub question: &'a [u8],
}

/// Why a message is not a query this server can parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not even a header, or a response (QR set): dropped, never answered
    /// (answering responses lets two servers loop).
    Drop,
    /// A header, then nonsense: answered with this code and the header's ID.
    Answer { id: u16, flags: u16, rcode: Rcode },
}

/// Parses a query; see [`Malformed`] for what a bad one gets.
pub fn parse_query(msg: &[u8]) -> Result<Query<'_>, Malformed> {
    let Some(header) = msg.get(..HEADER_LEN) else {
        return Err(Malformed::Drop);
    };
    let id = be16(header, 0).unwrap_or(0);
    let flags = be16(header, 2).unwrap_or(0);
    if flags & FLAG_QR != 0 {
        return Err(Malformed::Drop);
    }
    let answer = |rcode| Malformed::Answer { id, flags, rcode };
    let formerr = |_| answer(Rcode::FormErr);
    if flags & OPCODE_MASK != 0 {
        return Err(answer(Rcode::NotImp));
    }
    let counts = [4, 6, 8, 10].map(|at| be16(header, at).unwrap_or(0));
    let [qd, an, ns, ar] = counts;
    if qd != 1 || an != 0 || ns != 0 {
        return Err(answer(Rcode::FormErr));
    }
    // The question name is the message's first: no pointer can be valid
    // in it, so the shared reader refuses compression there.
    let mut r = Reader::new(msg, HEADER_LEN);
    let q = r.question().map_err(formerr)?;
    let question = msg.get(HEADER_LEN..r.pos()).ok_or(answer(Rcode::FormErr))?;
    let mut edns = None;
    for _ in 0..ar {
        let rr = r.record().map_err(formerr)?;
        if rr.rtype == TYPE_OPT {
            // One OPT, owned by the root (RFC 6891 §6.1.1).
            if edns.is_some() || !rr.owner.is_root() {
                return Err(answer(Rcode::FormErr));
            }
            edns = Some(Edns {
                udp_size: rr.class.max(CLASSIC_UDP_MAX as u16),
                version: ((rr.ttl >> 16) & 0xff) as u8,
                dnssec_ok: rr.ttl & EDNS_DO != 0,
            });
        }
    }
    if r.pos() != msg.len() {
        return Err(answer(Rcode::FormErr));
    }
    Ok(Query {
        id,
        rd: flags & FLAG_RD != 0,
        cd: flags & FLAG_CD != 0,
        name: q.name,
        qtype: q.qtype,
        qclass: q.qclass,
        edns,
        question,
    })
}

// === responses ===

/// A response under construction: header and question first, then records
/// in section order (answers, authority; the OPT record goes last).
pub struct Response {
    msg: MessageBuilder,
    /// The OPT record to add last, when the query had EDNS.
    edns: Option<Edns>,
    rcode: Rcode,
    question_len: usize,
}

impl Response {
    /// A response to `q`. `authoritative` sets AA; `recursion` sets RA (the
    /// server forwards names it does not own).
    pub fn to(q: &Query<'_>, rcode: Rcode, authoritative: bool, recursion: bool) -> Response {
        let mut flags = FLAG_QR;
        if authoritative {
            flags |= FLAG_AA;
        }
        if q.rd {
            flags |= FLAG_RD;
        }
        if recursion {
            flags |= FLAG_RA;
        }
        if q.cd {
            flags |= FLAG_CD;
        }
        flags |= rcode.value() & 0xf;
        let mut msg = MessageBuilder::new(q.id, flags);
        // One question into an empty message: the count cannot overflow.
        let _ = msg.question_bytes(q.question);
        Response {
            msg,
            edns: q.edns,
            rcode,
            question_len: q.question.len(),
        }
    }

    /// A response that only says `rcode`, for a query that did not parse
    /// past its header: no question is echoed.
    pub fn bare(id: u16, query_flags: u16, rcode: Rcode) -> Vec<u8> {
        let flags = FLAG_QR | (query_flags & (FLAG_RD | FLAG_CD | OPCODE_MASK)) | rcode.value();
        MessageBuilder::new(id, flags).finish()
    }

    // The server's records are addresses and SOAs, a few per response: far
    // from the builder's 64 KiB and 65535-record limits, so its errors
    // cannot happen here; were one to, the record would be left out and
    // the message would still be well formed.

    /// A record whose owner is the question name (written as a pointer to
    /// it, offset 12).
    pub fn record_at_question(&mut self, section: Section, rtype: u16, ttl: u32, rdata: &[u8]) {
        let _ = self
            .msg
            .record_at_question(section, rtype, CLASS_IN, ttl, rdata);
    }

    /// A record with its own (uncompressed) owner name.
    pub fn record(&mut self, section: Section, owner: &Name, rtype: u16, ttl: u32, rdata: &[u8]) {
        let _ = self.msg.record(section, owner, rtype, CLASS_IN, ttl, rdata);
    }

    /// The finished message. When it would exceed `max` bytes (a UDP
    /// limit), only header and question are sent, with TC set, so the
    /// client retries over TCP.
    pub fn finish(mut self, max: usize) -> Vec<u8> {
        if let Some(e) = self.edns {
            // The OPT's TTL carries the rcode's upper 8 bits (BADVERS is
            // 16) and the DO bit echoed.
            let ext = u32::from(self.rcode.value() >> 4) << 24;
            let ttl = ext | if e.dnssec_ok { EDNS_DO } else { 0 };
            let root = Name::root();
            let _ = self.msg.record(
                Section::Additional,
                &root,
                TYPE_OPT,
                EDNS_UDP_SIZE,
                ttl,
                &[],
            );
        }
        let buf = self.msg.finish();
        if buf.len() > max {
            return truncate(&buf, HEADER_LEN + self.question_len);
        }
        buf
    }
}

/// `msg` cut to its first `keep` bytes (header and question), with TC set
/// and no records: "ask again over TCP".
fn truncate(msg: &[u8], keep: usize) -> Vec<u8> {
    let mut out = msg.get(..keep).unwrap_or(msg).to_vec();
    if out.len() >= HEADER_LEN {
        out[2] |= (FLAG_TC >> 8) as u8;
        out[6..HEADER_LEN].fill(0);
    }
    out
}

// === forwarding ===

/// `msg` with its ID replaced: a forwarded query gets a fresh random ID so
/// that replies cannot be matched by guessing the client's.
pub fn with_id(msg: &[u8], id: u16) -> Vec<u8> {
    let mut out = msg.to_vec();
    if let Some(h) = out.get_mut(..2) {
        h.copy_from_slice(&id.to_be_bytes());
    }
    out
}

/// Whether `reply` answers `sent`: a response, same ID, same question
/// (compared without case: resolvers may echo 0x20-randomized names).
pub fn reply_matches(sent: &[u8], reply: &[u8]) -> bool {
    let (Ok(q), Some(h)) = (parse_query(sent), reply.get(..HEADER_LEN)) else {
        return false;
    };
    let flags = be16(h, 2).unwrap_or(0);
    let qd = be16(h, 4).unwrap_or(0);
    be16(h, 0) == Some(q.id)
        && flags & FLAG_QR != 0
        && qd == 1
        && reply
            .get(HEADER_LEN..HEADER_LEN + q.question.len())
            .is_some_and(|echo| echo.eq_ignore_ascii_case(q.question))
}

/// SERVFAIL for `query` (a forwarded query no upstream answered), or
/// `None` if it does not parse (it did when it was forwarded).
pub fn servfail(query: &[u8], max: usize) -> Option<Vec<u8>> {
    let q = parse_query(query).ok()?;
    Some(Response::to(&q, Rcode::ServFail, false, true).finish(max))
}

/// An upstream reply made ready for the client: its ID restored, and cut
/// to header and question with TC set when it exceeds `max` (UDP).
pub fn relay_reply(reply: &[u8], client_id: u16, question_len: usize, max: usize) -> Vec<u8> {
    let out = with_id(reply, client_id);
    if out.len() > max {
        truncate(&out, HEADER_LEN + question_len)
    } else {
        out
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
pub(crate) mod tests;
