//! The DNS message format (RFC 1035 §4, EDNS0 from RFC 6891), as much of it
//! as a small authoritative server with a forwarder needs: queries are
//! parsed into a [`Query`] (parse, don't validate: what it holds is known
//! good), responses are built by [`Response`]. Nothing here panics on any
//! input; every slice access is checked.

/// Header length.
pub const HEADER_LEN: usize = 12;
/// What a client without EDNS may receive over UDP (RFC 1035 §4.2.1).
pub const CLASSIC_UDP_MAX: usize = 512;
/// The UDP payload size this server advertises in its OPT record: the
/// DNS flag day 2020 value, which fits unfragmented in every common path.
pub const EDNS_UDP_SIZE: u16 = 1232;

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;

const FLAG_QR: u16 = 0x8000;
const FLAG_AA: u16 = 0x0400;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const FLAG_RA: u16 = 0x0080;
const FLAG_CD: u16 = 0x0010;
const OPCODE_MASK: u16 = 0x7800;
/// The DO ("DNSSEC OK") bit in an OPT record's TTL field.
const EDNS_DO: u32 = 0x8000;

/// Response codes (RFC 1035 §4.1.1, RFC 6891 §9 for BADVERS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    /// Extended (12-bit) code 16: an EDNS version this server lacks.
    BadVers,
}

impl Rcode {
    fn value(self) -> u16 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::BadVers => 16,
        }
    }
}

/// A query's EDNS0 OPT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// The requester's UDP payload size; values under 512 count as 512.
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A query name: its labels, lowercased for matching, and its wire form as
/// the client wrote it (echoed in the question, case preserved for
/// clients that randomize case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    labels: Vec<Vec<u8>>,
}

impl Name {
    /// A name from its dotted text form (`grafana.home.arpa`), for zone
    /// data; `None` for an empty label or a label over 63 bytes.
    pub fn from_dotted(s: &str) -> Option<Name> {
        let s = s.strip_suffix('.').unwrap_or(s);
        if s.is_empty() {
            return Some(Name { labels: Vec::new() });
        }
        let labels: Vec<Vec<u8>> = s
            .split('.')
            .map(|l| l.to_ascii_lowercase().into())
            .collect();
        let wire_len: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
        let ok = labels.iter().all(|l| (1..=63).contains(&l.len())) && wire_len <= 255;
        ok.then_some(Name { labels })
    }

    pub fn labels(&self) -> &[Vec<u8>] {
        &self.labels
    }

    /// Whether `self` is `other` or below it (`a.home.arpa` is below
    /// `home.arpa`; every name is below the root).
    pub fn is_at_or_below(&self, other: &Name) -> bool {
        self.labels.len() >= other.labels.len()
            && self.labels[self.labels.len() - other.labels.len()..] == other.labels[..]
    }

    /// Whether `self` is strictly below `other`.
    pub fn is_below(&self, other: &Name) -> bool {
        self.labels.len() > other.labels.len() && self.is_at_or_below(other)
    }

    /// The name without its first label; the root stays the root.
    pub fn parent(&self) -> Name {
        Name {
            labels: self.labels.iter().skip(1).cloned().collect(),
        }
    }

    /// The uncompressed wire form.
    pub fn to_wire(&self, out: &mut Vec<u8>) {
        for l in &self.labels {
            // Labels are 1..=63 bytes: from_dotted and parse_name check.
            out.push(l.len() as u8);
            out.extend_from_slice(l);
        }
        out.push(0);
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.labels.is_empty() {
            return f.write_str(".");
        }
        for (i, l) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&String::from_utf8_lossy(l))?;
        }
        Ok(())
    }
}

/// A parsed standard query with exactly one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub id: u16,
    /// Recursion desired, copied into the response.
    pub rd: bool,
    /// Checking disabled, copied into the response.
    pub cd: bool,
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    /// The question section as received: name, type, class.
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
    if flags & OPCODE_MASK != 0 {
        return Err(answer(Rcode::NotImp));
    }
    let counts = [4, 6, 8, 10].map(|at| be16(header, at).unwrap_or(0));
    let [qd, an, ns, ar] = counts;
    if qd != 1 || an != 0 || ns != 0 {
        return Err(answer(Rcode::FormErr));
    }
    let (name, after_name) = parse_name(msg, HEADER_LEN).ok_or(answer(Rcode::FormErr))?;
    let qtype = be16(msg, after_name).ok_or(answer(Rcode::FormErr))?;
    let qclass = be16(msg, after_name + 2).ok_or(answer(Rcode::FormErr))?;
    let question_end = after_name + 4;
    let question = msg
        .get(HEADER_LEN..question_end)
        .ok_or(answer(Rcode::FormErr))?;
    let mut at = question_end;
    let mut edns = None;
    for _ in 0..ar {
        let rr = skip_record(msg, at).ok_or(answer(Rcode::FormErr))?;
        if rr.rtype == TYPE_OPT {
            // One OPT, owned by the root (RFC 6891 §6.1.1).
            if edns.is_some() || !rr.root_owner {
                return Err(answer(Rcode::FormErr));
            }
            edns = Some(Edns {
                udp_size: rr.class.max(CLASSIC_UDP_MAX as u16),
                version: ((rr.ttl >> 16) & 0xff) as u8,
                dnssec_ok: rr.ttl & EDNS_DO != 0,
            });
        }
        at = rr.end;
    }
    if at != msg.len() {
        return Err(answer(Rcode::FormErr));
    }
    Ok(Query {
        id,
        rd: flags & FLAG_RD != 0,
        cd: flags & FLAG_CD != 0,
        name,
        qtype,
        qclass,
        edns,
        question,
    })
}

/// A name in a question: labels only, no compression (nothing precedes the
/// question for a pointer to point at). Returns the name and the offset
/// after it.
fn parse_name(msg: &[u8], mut at: usize) -> Option<(Name, usize)> {
    let mut labels = Vec::new();
    let mut wire_len = 1;
    loop {
        let len = usize::from(*msg.get(at)?);
        at += 1;
        if len == 0 {
            return Some((Name { labels }, at));
        }
        // 0b11 is a pointer, 0b01/0b10 are obsolete or unassigned types.
        if len > 63 {
            return None;
        }
        wire_len += len + 1;
        if wire_len > 255 {
            return None;
        }
        labels.push(msg.get(at..at + len)?.to_ascii_lowercase());
        at += len;
    }
}

/// What skipping one resource record learned.
struct Record {
    rtype: u16,
    class: u16,
    ttl: u32,
    root_owner: bool,
    end: usize,
}

fn skip_record(msg: &[u8], mut at: usize) -> Option<Record> {
    let owner_start = at;
    // The owner name may be compressed here; it is skipped, not followed.
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => {
                at += 1;
                break;
            }
            1..=63 => at += 1 + usize::from(len),
            0xc0..=0xff => {
                msg.get(at + 1)?;
                at += 2;
                break;
            }
            _ => return None,
        }
        if at - owner_start > 255 {
            return None;
        }
    }
    let root_owner = at == owner_start + 1;
    let rtype = be16(msg, at)?;
    let class = be16(msg, at + 2)?;
    let ttl = (u32::from(be16(msg, at + 4)?) << 16) | u32::from(be16(msg, at + 6)?);
    let rdlen = usize::from(be16(msg, at + 8)?);
    let end = at + 10 + rdlen;
    if end > msg.len() {
        return None;
    }
    Some(Record {
        rtype,
        class,
        ttl,
        root_owner,
        end,
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

// === responses ===

/// A response under construction: header and question first, then records
/// in section order (answers, authority, additional).
pub struct Response {
    buf: Vec<u8>,
    counts: [u16; 3],
    /// The OPT record to add last, when the query had EDNS.
    edns: Option<Edns>,
    rcode: Rcode,
    question_len: usize,
}

/// The section a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
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
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&q.id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        buf.extend_from_slice(q.question);
        Response {
            buf,
            counts: [0; 3],
            edns: q.edns,
            rcode,
            question_len: q.question.len(),
        }
    }

    /// A response that only says `rcode`, for a query that did not parse
    /// past its header: no question is echoed.
    pub fn bare(id: u16, query_flags: u16, rcode: Rcode) -> Vec<u8> {
        let flags = FLAG_QR | (query_flags & (FLAG_RD | FLAG_CD | OPCODE_MASK)) | rcode.value();
        let mut buf = Vec::with_capacity(HEADER_LEN);
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0; 8]);
        buf
    }

    /// A record whose owner is the question name (written as a pointer to
    /// it, offset 12).
    pub fn record_at_question(&mut self, section: Section, rtype: u16, ttl: u32, rdata: &[u8]) {
        self.buf.extend_from_slice(&[0xc0, HEADER_LEN as u8]);
        self.rest_of_record(section, rtype, ttl, rdata);
    }

    /// A record with its own (uncompressed) owner name.
    pub fn record(&mut self, section: Section, owner: &Name, rtype: u16, ttl: u32, rdata: &[u8]) {
        owner.to_wire(&mut self.buf);
        self.rest_of_record(section, rtype, ttl, rdata);
    }

    fn rest_of_record(&mut self, section: Section, rtype: u16, ttl: u32, rdata: &[u8]) {
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        // Our records are addresses and SOAs: far below 64 KiB.
        let len = u16::try_from(rdata.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(rdata);
        let i = match section {
            Section::Answer => 0,
            Section::Authority => 1,
        };
        self.counts[i] += 1;
    }

    /// The finished message. When it would exceed `max` bytes (a UDP
    /// limit), only header and question are sent, with TC set, so the
    /// client retries over TCP.
    pub fn finish(mut self, max: usize) -> Vec<u8> {
        if let Some(e) = self.edns {
            let ext = u32::from(self.rcode.value() >> 4) << 24;
            let ttl = ext | if e.dnssec_ok { EDNS_DO } else { 0 };
            self.buf.push(0);
            self.buf.extend_from_slice(&TYPE_OPT.to_be_bytes());
            self.buf.extend_from_slice(&EDNS_UDP_SIZE.to_be_bytes());
            self.buf.extend_from_slice(&ttl.to_be_bytes());
            self.buf.extend_from_slice(&[0, 0]);
        }
        let [an, ns, _] = self.counts;
        let ar = u16::from(self.edns.is_some());
        for (at, n) in [(6, an), (8, ns), (10, ar)] {
            self.buf[at..at + 2].copy_from_slice(&n.to_be_bytes());
        }
        if self.buf.len() > max {
            return truncate(&self.buf, HEADER_LEN + self.question_len);
        }
        self.buf
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
#[path = "wire_tests.rs"]
pub(crate) mod tests;
