//! Domain names (RFC 1035 §3.1, §4.1.4): lowercased labels, built from
//! their dotted text or read from a message with compression pointers
//! followed. Every name held here is valid: labels of 1 to 63 bytes, at
//! most 255 bytes in wire form.

use crate::wire::{WireError, HEADER_LEN};

/// The longest name in wire form, root label included (RFC 1035 §2.3.4).
const MAX_WIRE_LEN: usize = 255;

/// A name: its labels, lowercased, so that comparing names compares them
/// the way DNS does (case-insensitively, label by label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    labels: Vec<Vec<u8>>,
}

impl Name {
    /// The root, `.`.
    pub fn root() -> Name {
        Name { labels: Vec::new() }
    }

    /// A name from its dotted text form (`grafana.home.arpa`, trailing dot
    /// optional), for zone data and configured names; `None` for an empty
    /// label, a label over 63 bytes or a name over 255.
    pub fn from_dotted(s: &str) -> Option<Name> {
        let s = s.strip_suffix('.').unwrap_or(s);
        if s.is_empty() {
            return Some(Name::root());
        }
        let labels: Vec<Vec<u8>> = s
            .split('.')
            .map(|l| l.to_ascii_lowercase().into())
            .collect();
        let ok =
            labels.iter().all(|l| (1..=63).contains(&l.len())) && wire_len(&labels) <= MAX_WIRE_LEN;
        ok.then_some(Name { labels })
    }

    /// Like [`Name::from_dotted`], for names a message is built from.
    pub fn parse(s: &str) -> Result<Name, WireError> {
        Name::from_dotted(s).ok_or(WireError::BadName)
    }

    pub fn labels(&self) -> &[Vec<u8>] {
        &self.labels
    }

    pub fn is_root(&self) -> bool {
        self.labels.is_empty()
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

    /// The uncompressed wire form (lowercase: TSIG hashes names in this
    /// canonical form, and the server echoes questions from the raw bytes).
    pub fn to_wire(&self, out: &mut Vec<u8>) {
        for l in &self.labels {
            // Labels are 1..=63 bytes: from_dotted and read_name check.
            out.push(l.len() as u8);
            out.extend_from_slice(l);
        }
        out.push(0);
    }
}

fn wire_len(labels: &[Vec<u8>]) -> usize {
    labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1
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

/// `name` in the text form messages and configs are compared in:
/// lowercase, with the trailing dot (`example.com.`).
pub fn absolute_lower(name: &str) -> String {
    let mut n = name.to_ascii_lowercase();
    if !n.ends_with('.') {
        n.push('.');
    }
    n
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
pub(crate) fn read_name(msg: &[u8], mut at: usize) -> Result<(Name, usize), WireError> {
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
mod tests {
    use super::*;

    fn wire(name: &str) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        Name::parse(name)?.to_wire(&mut out);
        Ok(out)
    }

    #[test]
    fn names() {
        let n = Name::from_dotted("a.b.home.arpa.").unwrap();
        let d = Name::from_dotted("home.arpa").unwrap();
        assert!(n.is_below(&d) && n.is_at_or_below(&d));
        assert!(d.is_at_or_below(&d) && !d.is_below(&d));
        assert!(!d.is_below(&n));
        assert_eq!(n.parent().to_string(), "b.home.arpa");
        assert_eq!(Name::from_dotted("").unwrap().to_string(), ".");
        assert!(Name::from_dotted("a..b").is_none());
        assert!(Name::from_dotted(&"a".repeat(64)).is_none());
        // "xhome.arpa" is not below "home.arpa": labels, not characters.
        assert!(!Name::from_dotted("xhome.arpa").unwrap().is_below(&d));
    }

    #[test]
    fn names_encode_lowercase_with_the_root_label() {
        assert_eq!(
            wire("_ACME-challenge.App.example.").unwrap(),
            b"\x0f_acme-challenge\x03app\x07example\x00"
        );
        assert_eq!(wire(".").unwrap(), b"\x00");
        assert!(wire("a..b").is_err());
        assert!(wire(&"a".repeat(64)).is_err());
        assert!(wire(&["abc"; 70].join(".")).is_err());
        assert_eq!(absolute_lower("Example.COM"), "example.com.");
        assert_eq!(absolute_lower("example.com."), "example.com.");
    }

    #[test]
    fn compressed_names_follow_earlier_names_only() {
        // A header's worth of zeros, then `a.example` at 12 and
        // `www` + pointer to `example` (offset 14) at 23.
        let mut m = vec![0; HEADER_LEN];
        m.extend_from_slice(b"\x01a\x07example\x00");
        m.extend_from_slice(b"\x03WWW\xc0\x0e");
        let (n, end) = read_name(&m, 23).unwrap();
        assert_eq!(n, Name::from_dotted("www.example").unwrap());
        assert_eq!(end, m.len(), "after the pointer, not after the target");
        let (n, end) = read_name(&m, 12).unwrap();
        assert_eq!((n.to_string().as_str(), end), ("a.example", 23));

        // Pointers to themselves, forward, into the header, and chains
        // that do not go strictly backwards are all refused.
        let bad = |tail: &[u8], at: usize| {
            let mut m = m.clone();
            m.extend_from_slice(tail);
            read_name(&m, at).is_err()
        };
        assert!(bad(b"\xc0\x1d", 29), "to itself");
        assert!(bad(b"\xc0\x1f\x00", 29), "forward");
        assert!(bad(b"\xc0\x02", 29), "into the header");
        // 29: pointer to 31, which points back to 29: a loop.
        assert!(bad(b"\xc0\x1f\xc0\x1d", 31));
        assert!(bad(b"\x40", 29), "label type 0b01");
        assert!(bad(b"\x05ab", 29), "label past the end");
        assert!(bad(b"\xc0", 29), "half a pointer");
        // A question name (offset 12) cannot be compressed at all.
        let mut q = vec![0; HEADER_LEN];
        q.extend_from_slice(&[0xc0, 12]);
        assert!(read_name(&q, 12).is_err());
    }

    #[test]
    fn names_over_255_bytes_are_refused_even_through_pointers() {
        // Four 63-byte labels: 4 * 64 + 1 = 257 bytes.
        let mut m = vec![0; HEADER_LEN];
        for _ in 0..2 {
            m.push(63);
            m.extend_from_slice(&[b'a'; 63]);
        }
        m.push(0);
        let second = m.len();
        for _ in 0..2 {
            m.push(63);
            m.extend_from_slice(&[b'b'; 63]);
        }
        m.extend_from_slice(&[0xc0, 12]);
        assert!(read_name(&m, 12).is_ok());
        assert!(read_name(&m, second).is_err());
    }
}
