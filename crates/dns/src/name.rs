//! Domain names (RFC 1035 §3.1, §4.1.4): lowercased labels, built from
//! their dotted text or read from a message (`wire::read_name`). Every name held here is valid: labels of 1 to 63 bytes, at
//! most 255 bytes in wire form.

use crate::error::WireError;

/// The longest name in wire form, root label included (RFC 1035 §2.3.4).
pub(crate) const MAX_WIRE_LEN: usize = 255;

/// A name: its labels, lowercased, so that comparing names compares them
/// the way DNS does (case-insensitively, label by label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// Valid: `wire::read_name` builds names from messages with the same
    /// limits as [`Name::from_dotted`].
    pub(crate) labels: Vec<Vec<u8>>,
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

#[cfg(test)]
#[path = "name_tests.rs"]
mod tests;
