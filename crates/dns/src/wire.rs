//! The DNS message format (RFC 1035 §4), shared by the in-tunnel server
//! ([`crate::query`]) and the dns-01 client ([`crate::update`],
//! [`crate::tsig`]): header, questions and resource records, read by a
//! [`Reader`] into a [`Message`] and written by a [`MessageBuilder`].
//! Nothing here panics on any input; every slice access is checked.

pub use crate::error::WireError;
use crate::name::MAX_WIRE_LEN;
pub use crate::name::{absolute_lower, Name};

/// Header length.
pub const HEADER_LEN: usize = 12;
/// What a client without EDNS may receive over UDP (RFC 1035 §4.2.1).
pub const CLASSIC_UDP_MAX: usize = 512;

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_TSIG: u16 = 250;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;
/// RFC 2136 §2.5.4: "delete this record" in an UPDATE.
pub const CLASS_NONE: u16 = 254;
/// TSIG records and RFC 2136 RRset deletions.
pub const CLASS_ANY: u16 = 255;

pub const OPCODE_QUERY: u16 = 0;
pub const OPCODE_UPDATE: u16 = 5;
/// Where the opcode sits in the flags.
pub const OPCODE_SHIFT: u16 = 11;
pub const OPCODE_MASK: u16 = 0x7800;
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_RA: u16 = 0x0080;
pub const FLAG_CD: u16 = 0x0010;
const RCODE_MASK: u16 = 0x000f;

/// Response codes (RFC 1035 §4.1.1, RFC 2136 §2.2 for the UPDATE ones,
/// RFC 6891 §9 for BADVERS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    /// A name exists that an UPDATE's prerequisite says should not.
    YxDomain,
    YxRrset,
    NxRrset,
    /// The server is not authoritative for the zone, or the key may not
    /// update it.
    NotAuth,
    /// A name in an UPDATE is outside its zone.
    NotZone,
    /// Extended (12-bit) code 16: an EDNS version this server lacks.
    BadVers,
    /// Any other value.
    Other(u16),
}

impl Rcode {
    pub fn value(self) -> u16 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::YxDomain => 6,
            Rcode::YxRrset => 7,
            Rcode::NxRrset => 8,
            Rcode::NotAuth => 9,
            Rcode::NotZone => 10,
            Rcode::BadVers => 16,
            Rcode::Other(v) => v,
        }
    }

    pub fn from_value(v: u16) -> Rcode {
        match v {
            0 => Rcode::NoError,
            1 => Rcode::FormErr,
            2 => Rcode::ServFail,
            3 => Rcode::NxDomain,
            4 => Rcode::NotImp,
            5 => Rcode::Refused,
            6 => Rcode::YxDomain,
            7 => Rcode::YxRrset,
            8 => Rcode::NxRrset,
            9 => Rcode::NotAuth,
            10 => Rcode::NotZone,
            16 => Rcode::BadVers,
            v => Rcode::Other(v),
        }
    }

    /// The mnemonic, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Rcode::NoError => "NOERROR",
            Rcode::FormErr => "FORMERR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::NotImp => "NOTIMP",
            Rcode::Refused => "REFUSED",
            Rcode::YxDomain => "YXDOMAIN",
            Rcode::YxRrset => "YXRRSET",
            Rcode::NxRrset => "NXRRSET",
            Rcode::NotAuth => "NOTAUTH",
            Rcode::NotZone => "NOTZONE",
            Rcode::BadVers => "BADVERS",
            Rcode::Other(_) => "unknown rcode",
        }
    }
}

// === reading ===

/// A cursor over a received message; every read is bounds checked.
pub struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at `pos` in `msg`.
    pub fn new(msg: &'a [u8], pos: usize) -> Self {
        Reader { msg, pos }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.msg.len());
        let end = end.ok_or(WireError::Malformed("message ends early"))?;
        let s = &self.msg[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name (see `name.rs` for which pointers
    /// are followed).
    pub fn name(&mut self) -> Result<Name, WireError> {
        let (name, end) = read_name(self.msg, self.pos)?;
        self.pos = end;
        Ok(name)
    }

    pub fn question(&mut self) -> Result<Question, WireError> {
        Ok(Question {
            name: self.name()?,
            qtype: self.u16()?,
            qclass: self.u16()?,
        })
    }

    pub fn record(&mut self) -> Result<Record<'a>, WireError> {
        let offset = self.pos;
        let owner = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = self.u16()?;
        let rdata_offset = self.pos;
        let rdata = self.take(usize::from(len))?;
        Ok(Record {
            owner,
            rtype,
            class,
            ttl,
            rdata,
            rdata_offset,
            offset,
        })
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// One resource record of a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub owner: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: &'a [u8],
    /// Where the rdata starts in the message: names inside it may be
    /// compressed, so they are read with a [`Reader`] on the whole message.
    pub rdata_offset: usize,
    /// Where the record starts in the message.
    pub offset: usize,
}

/// A message read section by section, borrowing its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The whole message as received (a TSIG check needs it).
    pub bytes: &'a [u8],
    pub id: u16,
    pub flags: u16,
    pub questions: Vec<Question>,
    pub answers: Vec<Record<'a>>,
    pub authority: Vec<Record<'a>>,
    pub additional: Vec<Record<'a>>,
}

impl<'a> Message<'a> {
    /// Reads every section. Bytes after the last record are ignored, as
    /// resolvers do.
    pub fn parse(msg: &'a [u8]) -> Result<Message<'a>, WireError> {
        let mut r = Reader::new(msg, 0);
        let id = r.u16()?;
        let flags = r.u16()?;
        let [qd, an, ns, ar] = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        let questions = (0..qd).map(|_| r.question()).collect::<Result<_, _>>()?;
        let mut section = |n: u16| (0..n).map(|_| r.record()).collect::<Result<Vec<_>, _>>();
        let answers = section(an)?;
        let authority = section(ns)?;
        let additional = section(ar)?;
        Ok(Message {
            bytes: msg,
            id,
            flags,
            questions,
            answers,
            authority,
            additional,
        })
    }

    /// Like [`Message::parse`], and refuses a message that is not a
    /// response (QR clear): a client must never take a query as an answer.
    pub fn parse_response(msg: &'a [u8]) -> Result<Message<'a>, WireError> {
        let m = Message::parse(msg)?;
        if m.flags & FLAG_QR == 0 {
            return Err(WireError::Malformed("not a response"));
        }
        Ok(m)
    }

    /// Whether this message is the response to `query`: QR set, the same
    /// ID and opcode, and the query's question (for UPDATE, its zone)
    /// echoed: names compare without case (resolvers may echo 0x20
    /// randomized names), type and class exactly. A matching ID alone
    /// would take a late answer to another query, or a blind spoof, for
    /// this one. A FORMERR may come without a question (the server could
    /// not read it); nothing else may.
    pub fn answers(&self, query: &Message<'_>) -> bool {
        let opcode = |flags: u16| flags & OPCODE_MASK;
        self.flags & FLAG_QR != 0
            && self.id == query.id
            && opcode(self.flags) == opcode(query.flags)
            && (self.questions == query.questions
                || (self.questions.is_empty() && self.rcode() == Rcode::FormErr))
    }

    /// RCODE: the header's four bits (an EDNS extension is not read; the
    /// dns-01 client sends no OPT, so its answers carry none).
    pub fn rcode(&self) -> Rcode {
        Rcode::from_value(self.flags & RCODE_MASK)
    }

    pub fn truncated(&self) -> bool {
        self.flags & FLAG_TC != 0
    }

    pub fn authoritative(&self) -> bool {
        self.flags & FLAG_AA != 0
    }

    /// The name that is the whole rdata of `record` (NS, CNAME, PTR),
    /// compression pointers followed into the rest of this message. The
    /// name must end exactly where the rdata does.
    pub fn rdata_name(&self, record: &Record<'_>) -> Result<Name, WireError> {
        let (name, end) = read_name(self.bytes, record.rdata_offset)?;
        if Some(end) != record.rdata_offset.checked_add(record.rdata.len()) {
            return Err(WireError::Malformed("name does not fill its record data"));
        }
        Ok(name)
    }
}

/// A big-endian u16 at `at`, if the bytes are there.
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

// === writing ===

/// The section a record goes to. An UPDATE (RFC 2136 §2) reuses them:
/// its prerequisites are the answer section, its changes the authority
/// section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// A message under construction: header, then questions, then records in
/// section order. Sections are only counts in the header, so an entry for
/// an earlier section after a later one would land in the wrong section:
/// it is refused.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    buf: Vec<u8>,
    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT, written by `finish`.
    counts: [u16; 4],
    /// The index in `counts` of the section written last.
    section: usize,
}

impl MessageBuilder {
    pub fn new(id: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0; 8]);
        MessageBuilder {
            buf,
            counts: [0; 4],
            section: 0,
        }
    }

    pub fn question(&mut self, name: &Name, qtype: u16, qclass: u16) -> Result<(), WireError> {
        self.count(0)?;
        name.to_wire(&mut self.buf);
        self.buf.extend_from_slice(&qtype.to_be_bytes());
        self.buf.extend_from_slice(&qclass.to_be_bytes());
        Ok(())
    }

    /// A question exactly as a query wrote it (name, type, class), so a
    /// response echoes the client's case (RFC 5452 §9.1 "0x20" clients
    /// check it).
    pub fn question_bytes(&mut self, question: &[u8]) -> Result<(), WireError> {
        self.count(0)?;
        self.buf.extend_from_slice(question);
        Ok(())
    }

    /// A record with its own (uncompressed) owner name.
    pub fn record(
        &mut self,
        section: Section,
        owner: &Name,
        rtype: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), WireError> {
        let len = rdata_len(rdata)?;
        self.count(section_index(section))?;
        owner.to_wire(&mut self.buf);
        push_rest(&mut self.buf, rtype, class, ttl, len, rdata);
        Ok(())
    }

    /// A record owned by the first question's name, written as a pointer
    /// to it (offset 12).
    pub fn record_at_question(
        &mut self,
        section: Section,
        rtype: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), WireError> {
        let len = rdata_len(rdata)?;
        self.count(section_index(section))?;
        self.buf.extend_from_slice(&[0xc0, HEADER_LEN as u8]);
        push_rest(&mut self.buf, rtype, class, ttl, len, rdata);
        Ok(())
    }

    /// Counts one more entry in section `i`, which must not come before
    /// the section written last.
    fn count(&mut self, i: usize) -> Result<(), WireError> {
        if i < self.section {
            return Err(WireError::Malformed("entry out of section order"));
        }
        self.counts[i] = self.counts[i]
            .checked_add(1)
            .ok_or(WireError::TooLarge("more than 65535 entries in a section"))?;
        self.section = i;
        Ok(())
    }

    /// The message, its counts filled in.
    pub fn finish(mut self) -> Vec<u8> {
        for (i, n) in self.counts.iter().enumerate() {
            let at = 4 + 2 * i;
            self.buf[at..at + 2].copy_from_slice(&n.to_be_bytes());
        }
        self.buf
    }
}

fn section_index(section: Section) -> usize {
    match section {
        Section::Answer => 1,
        Section::Authority => 2,
        Section::Additional => 3,
    }
}

fn rdata_len(rdata: &[u8]) -> Result<u16, WireError> {
    u16::try_from(rdata.len()).map_err(|_| WireError::TooLarge("record data over 65535 bytes"))
}

fn push_rest(out: &mut Vec<u8>, rtype: u16, class: u16, ttl: u32, len: u16, rdata: &[u8]) {
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(rdata);
}

/// Appends one record to a finished message and counts it in ARCOUNT: for
/// a record that signs everything before it (TSIG).
pub fn append_additional(
    msg: &mut Vec<u8>,
    owner: &Name,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: &[u8],
) -> Result<(), WireError> {
    let len = rdata_len(rdata)?;
    let arcount = be16(msg, 10).ok_or(WireError::Malformed("message shorter than a header"))?;
    let arcount = arcount
        .checked_add(1)
        .ok_or(WireError::TooLarge("more than 65535 additional records"))?;
    msg[10..12].copy_from_slice(&arcount.to_be_bytes());
    owner.to_wire(msg);
    push_rest(msg, rtype, class, ttl, len, rdata);
    Ok(())
}

/// Reads the name at `at` in `msg`, following compression pointers.
/// Returns the name and the offset just after it where it was written
/// (after the first pointer, if any).
///
/// A pointer must point strictly before the previous one (or, for the
/// first, before the name itself) and past the header: compression only
/// ever refers to names written earlier, and requiring that makes a loop
/// of pointers impossible rather than merely bounded. It also means a
/// question name, the first name of a message, cannot be compressed.
fn read_name(msg: &[u8], mut at: usize) -> Result<(Name, usize), WireError> {
    let mut labels = Vec::new();
    let mut wire = 1;
    // Pointers must go below this offset.
    let mut limit = at;
    let mut end = None;
    loop {
        let len = *msg.get(at).ok_or(WireError::Malformed("name ends early"))?;
        match len {
            0 => {
                return Ok((Name { labels }, end.unwrap_or(at + 1)));
            }
            1..=63 => {
                let len = usize::from(len);
                wire += len + 1;
                if wire > MAX_WIRE_LEN {
                    return Err(WireError::Malformed("name longer than 255 bytes"));
                }
                let label = msg
                    .get(at + 1..at + 1 + len)
                    .ok_or(WireError::Malformed("label ends early"))?;
                labels.push(label.to_ascii_lowercase());
                at += 1 + len;
            }
            0xc0..=0xff => {
                let low = *msg
                    .get(at + 1)
                    .ok_or(WireError::Malformed("name ends early"))?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                if target >= limit || target < HEADER_LEN {
                    return Err(WireError::Malformed(
                        "compression pointer not to an earlier name",
                    ));
                }
                end.get_or_insert(at + 2);
                limit = target;
                at = target;
            }
            // 0b01 and 0b10 label types are obsolete or unassigned.
            _ => return Err(WireError::Malformed("bad label type")),
        }
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
