//! The few DNS messages dns-01 needs, in wire format (RFC 1035, RFC 2136):
//! an UPDATE that adds or deletes one TXT record, a TXT query, and a
//! parser for the answers. Sans-IO; every read of a response is bounds
//! checked, so nothing a server sends can panic.

use super::DnsError;

pub(crate) const TYPE_SOA: u16 = 6;
pub(crate) const TYPE_TXT: u16 = 16;
pub(crate) const TYPE_TSIG: u16 = 250;
pub(crate) const CLASS_IN: u16 = 1;
pub(crate) const CLASS_NONE: u16 = 254;
pub(crate) const CLASS_ANY: u16 = 255;
const OPCODE_QUERY: u16 = 0;
const OPCODE_UPDATE: u16 = 5;
const FLAG_QR: u16 = 0x8000;
const FLAG_AA: u16 = 0x0400;
const FLAG_TC: u16 = 0x0200;
pub(crate) const HEADER_LEN: usize = 12;
/// Pointers followed while reading one name; a loop of pointers ends here.
const MAX_POINTERS: usize = 32;

/// One change of an UPDATE (RFC 2136, section 2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    /// Adds `value` to the TXT RRset of `name`.
    AddTxt {
        name: &'a str,
        ttl: u32,
        value: &'a str,
    },
    /// Deletes exactly the TXT record `value` of `name`.
    DeleteTxt { name: &'a str, value: &'a str },
}

/// A DNS name in wire format: lowercase labels, root label included.
pub(crate) fn encode_name(out: &mut Vec<u8>, name: &str) -> Result<(), DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let start = out.len();
    if !name.is_empty() {
        for label in name.split('.') {
            let len = u8::try_from(label.len())
                .ok()
                .filter(|l| (1..=63).contains(l))
                .ok_or(DnsError::BadName)?;
            out.push(len);
            out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
        }
    }
    out.push(0);
    if out.len() - start > 255 {
        return Err(DnsError::BadName);
    }
    Ok(())
}

fn header(out: &mut Vec<u8>, id: u16, flags: u16, counts: [u16; 4]) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
}

fn txt_rdata(value: &str) -> Result<Vec<u8>, DnsError> {
    // One character-string per 255 bytes; ACME values are 43 bytes.
    let mut rdata = Vec::with_capacity(value.len() + 1);
    for chunk in value.as_bytes().chunks(255) {
        rdata.push(chunk.len() as u8);
        rdata.extend_from_slice(chunk);
    }
    if value.is_empty() {
        rdata.push(0);
    }
    u16::try_from(rdata.len()).map_err(|_| DnsError::BadName)?;
    Ok(rdata)
}

fn record(
    out: &mut Vec<u8>,
    name: &str,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: &[u8],
) -> Result<(), DnsError> {
    encode_name(out, name)?;
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let len = u16::try_from(rdata.len()).map_err(|_| DnsError::BadName)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(rdata);
    Ok(())
}

/// An UPDATE of `zone` with `changes` and no prerequisites, unsigned.
pub(crate) fn update(id: u16, zone: &str, changes: &[Change<'_>]) -> Result<Vec<u8>, DnsError> {
    let count = u16::try_from(changes.len()).map_err(|_| DnsError::BadName)?;
    let mut out = Vec::with_capacity(128);
    header(&mut out, id, OPCODE_UPDATE << 11, [1, 0, count, 0]);
    encode_name(&mut out, zone)?;
    out.extend_from_slice(&TYPE_SOA.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    for change in changes {
        match *change {
            Change::AddTxt { name, ttl, value } => {
                record(&mut out, name, TYPE_TXT, CLASS_IN, ttl, &txt_rdata(value)?)?
            }
            Change::DeleteTxt { name, value } => {
                record(&mut out, name, TYPE_TXT, CLASS_NONE, 0, &txt_rdata(value)?)?
            }
        }
    }
    Ok(out)
}

/// A non-recursive TXT query: the configured server must answer from its
/// own zone data, not from a cache.
pub(crate) fn txt_query(id: u16, name: &str) -> Result<Vec<u8>, DnsError> {
    let mut out = Vec::with_capacity(64);
    header(&mut out, id, OPCODE_QUERY << 11, [1, 0, 0, 0]);
    encode_name(&mut out, name)?;
    out.extend_from_slice(&TYPE_TXT.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

/// One resource record of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// Lowercase, with the trailing dot.
    pub(crate) name: String,
    pub(crate) rtype: u16,
    pub(crate) class: u16,
    pub(crate) ttl: u32,
    /// Where the rdata starts in the message (names inside may point back).
    pub(crate) rdata_offset: usize,
    pub(crate) rdata: Vec<u8>,
    /// Where the record starts in the message.
    pub(crate) offset: usize,
}

/// The parts of a response dns-01 looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) id: u16,
    pub(crate) flags: u16,
    pub(crate) answers: Vec<Record>,
    pub(crate) additional: Vec<Record>,
}

impl Response {
    pub(crate) fn parse(msg: &[u8]) -> Result<Response, DnsError> {
        let mut r = Reader { msg, pos: 0 };
        let id = r.u16()?;
        let flags = r.u16()?;
        let [qd, an, ns, ar] = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        if flags & FLAG_QR == 0 {
            return Err(DnsError::Malformed("not a response"));
        }
        for _ in 0..qd {
            r.name()?;
            r.take(4)?;
        }
        let answers = (0..an).map(|_| r.record()).collect::<Result<Vec<_>, _>>()?;
        for _ in 0..ns {
            r.record()?;
        }
        let additional = (0..ar).map(|_| r.record()).collect::<Result<Vec<_>, _>>()?;
        Ok(Response {
            id,
            flags,
            answers,
            additional,
        })
    }

    /// RCODE (the header's four bits; no EDNS here, so no extension).
    pub(crate) fn rcode(&self) -> u16 {
        self.flags & 0x000f
    }

    pub(crate) fn truncated(&self) -> bool {
        self.flags & FLAG_TC != 0
    }

    pub(crate) fn authoritative(&self) -> bool {
        self.flags & FLAG_AA != 0
    }

    /// The values of the TXT answers for `name` (each record's strings
    /// joined, as RFC 8555 reads them).
    pub(crate) fn txt_values(&self, name: &str) -> Vec<String> {
        let want = absolute_lower(name);
        self.answers
            .iter()
            .filter(|a| a.rtype == TYPE_TXT && a.class == CLASS_IN && a.name == want)
            .filter_map(|a| txt_value(&a.rdata))
            .collect()
    }
}

/// `name` lowercased with the trailing dot.
pub(crate) fn absolute_lower(name: &str) -> String {
    let mut n = name.to_ascii_lowercase();
    if !n.ends_with('.') {
        n.push('.');
    }
    n
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

/// A cursor over a received message.
pub(crate) struct Reader<'a> {
    pub(crate) msg: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DnsError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.msg.len());
        let end = end.ok_or(DnsError::Malformed("message ends early"))?;
        let s = &self.msg[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DnsError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name, lowercased, with the trailing dot.
    pub(crate) fn name(&mut self) -> Result<String, DnsError> {
        let mut name = String::new();
        let mut pos = self.pos;
        let mut jumped = false;
        let mut pointers = 0;
        loop {
            let len = *self
                .msg
                .get(pos)
                .ok_or(DnsError::Malformed("name ends early"))?;
            match len {
                0 => {
                    pos += 1;
                    break;
                }
                l if l & 0xc0 == 0xc0 => {
                    let low = *self
                        .msg
                        .get(pos + 1)
                        .ok_or(DnsError::Malformed("name ends early"))?;
                    pointers += 1;
                    if pointers > MAX_POINTERS {
                        return Err(DnsError::Malformed("compression loop"));
                    }
                    if !jumped {
                        self.pos = pos + 2;
                        jumped = true;
                    }
                    pos = usize::from(u16::from_be_bytes([l & 0x3f, low]));
                }
                l if l & 0xc0 != 0 => return Err(DnsError::Malformed("bad label type")),
                l => {
                    let start = pos + 1;
                    let label = self
                        .msg
                        .get(start..start + usize::from(l))
                        .ok_or(DnsError::Malformed("label ends early"))?;
                    for &b in label {
                        // Names here are host names; anything else is shown escaped.
                        if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                            name.push(b.to_ascii_lowercase() as char);
                        } else {
                            name.push_str(&format!("\\{b:03}"));
                        }
                    }
                    name.push('.');
                    if name.len() > 1024 {
                        return Err(DnsError::Malformed("name too long"));
                    }
                    pos = start + usize::from(l);
                }
            }
        }
        if !jumped {
            self.pos = pos;
        }
        if name.is_empty() {
            name.push('.');
        }
        Ok(name)
    }

    fn record(&mut self) -> Result<Record, DnsError> {
        let offset = self.pos;
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = self.u16()?;
        let rdata_offset = self.pos;
        let rdata = self.take(usize::from(len))?.to_vec();
        Ok(Record {
            name,
            rtype,
            class,
            ttl,
            rdata_offset,
            rdata,
            offset,
        })
    }
}

/// The RCODE's name, for messages.
pub(crate) fn rcode_name(rcode: u16) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => "unknown rcode",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_encode_lowercase_with_the_root_label() {
        let mut out = Vec::new();
        encode_name(&mut out, "_ACME-challenge.App.example.").unwrap();
        assert_eq!(out, b"\x0f_acme-challenge\x03app\x07example\x00");
        let mut out = Vec::new();
        encode_name(&mut out, ".").unwrap();
        assert_eq!(out, b"\x00");
        assert!(encode_name(&mut Vec::new(), "a..b").is_err());
        assert!(encode_name(&mut Vec::new(), &"a".repeat(64)).is_err());
        assert!(encode_name(&mut Vec::new(), &["abc"; 70].join(".")).is_err());
    }

    #[test]
    fn update_adds_and_deletes_one_txt_record() {
        let msg = update(
            0x1234,
            "example.com.",
            &[
                Change::AddTxt {
                    name: "_acme-challenge.a.example.com",
                    ttl: 60,
                    value: "v",
                },
                Change::DeleteTxt {
                    name: "_acme-challenge.a.example.com",
                    value: "v",
                },
            ],
        )
        .unwrap();
        // id, opcode 5, ZOCOUNT 1, PRCOUNT 0, UPCOUNT 2, ADCOUNT 0
        assert_eq!(
            &msg[..12],
            b"\x12\x34\x28\x00\x00\x01\x00\x00\x00\x02\x00\x00"
        );
        let zone = b"\x07example\x03com\x00\x00\x06\x00\x01";
        assert_eq!(&msg[12..12 + zone.len()], zone);
        let owner = b"\x0f_acme-challenge\x01a\x07example\x03com\x00";
        let add = [&owner[..], b"\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x02\x01v"].concat();
        let del = [&owner[..], b"\x00\x10\x00\xfe\x00\x00\x00\x00\x00\x02\x01v"].concat();
        assert_eq!(&msg[12 + zone.len()..], [add, del].concat());
    }

    #[test]
    fn txt_answers_parse_with_compression() {
        let mut q = txt_query(7, "_acme-challenge.A.example.").unwrap();
        // Make it a response (QR, AA) with two answers pointing at the question name.
        q[2] = 0x84;
        q[7] = 2;
        for value in ["first", "second"] {
            q.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x3c");
            q.extend_from_slice(&(value.len() as u16 + 1).to_be_bytes());
            q.push(value.len() as u8);
            q.extend_from_slice(value.as_bytes());
        }
        let r = Response::parse(&q).unwrap();
        assert_eq!(
            (r.id, r.rcode(), r.authoritative(), r.truncated()),
            (7, 0, true, false)
        );
        assert_eq!(
            r.txt_values("_acme-challenge.a.example"),
            ["first", "second"]
        );
        assert!(r.txt_values("other.example").is_empty());
    }

    #[test]
    fn hostile_responses_are_errors_not_panics() {
        let good = {
            let mut q = txt_query(1, "a.example").unwrap();
            q[2] = 0x80;
            q
        };
        for cut in 0..good.len() {
            let _ = Response::parse(&good[..cut]);
        }
        // A pointer to itself.
        let mut looped = good.clone();
        looped[7] = 1;
        let at = looped.len();
        looped.extend_from_slice(&[0xc0, at as u8, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert!(Response::parse(&looped).is_err());
        // A query is not a response.
        assert!(Response::parse(&txt_query(1, "a.example").unwrap()).is_err());
        // Every single-byte corruption parses or fails cleanly.
        for i in 0..good.len() {
            for b in [0x00, 0x3f, 0x40, 0xc0, 0xff] {
                let mut m = good.clone();
                m[i] = b;
                let _ = Response::parse(&m);
            }
        }
    }
}
