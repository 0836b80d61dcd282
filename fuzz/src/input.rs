//! Structured fuzz input. Targets read fields from an
//! [`arbitrary::Unstructured`] in a fixed order; integers are little-endian
//! (what `arbitrary` reads), a bool is the low bit of a byte, and a byte
//! string is a `u16` length followed by that many bytes (fewer at the end
//! of the input). [`Seed`] writes the same layout, so the generator's seeds
//! decode to exactly the messages it meant.

use arbitrary::Unstructured;

/// Reads a length-prefixed byte string of at most `max` bytes.
pub fn bytes<'a>(u: &mut Unstructured<'a>, max: usize) -> &'a [u8] {
    let len = usize::from(u.arbitrary::<u16>().unwrap_or(0)).min(max);
    let len = len.min(u.len());
    u.bytes(len).unwrap_or(&[])
}

/// Builds an input in the layout the targets read.
#[derive(Debug, Default, Clone)]
pub struct Seed(pub Vec<u8>);

impl Seed {
    pub fn new() -> Seed {
        Seed::default()
    }

    pub fn u8(mut self, v: u8) -> Seed {
        self.0.push(v);
        self
    }

    pub fn bool(self, v: bool) -> Seed {
        self.u8(u8::from(v))
    }

    pub fn u16(mut self, v: u16) -> Seed {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u32(mut self, v: u32) -> Seed {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A byte string as [`bytes`] reads it.
    ///
    /// # Panics
    /// If `b` is longer than 65535 bytes (seeds are small).
    pub fn bytes(self, b: &[u8]) -> Seed {
        let len = u16::try_from(b.len()).expect("seed field over 64 KiB");
        let mut s = self.u16(len);
        s.0.extend_from_slice(b);
        s
    }

    /// Bytes a target takes as the rest of its input.
    pub fn rest(mut self, b: &[u8]) -> Seed {
        self.0.extend_from_slice(b);
        self
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}
