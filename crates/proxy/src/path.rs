//! Request paths in one canonical form, the form requests are routed on and
//! sent to backends.
//!
//! Backends decode paths before they look at them, so the proxy must route
//! on what they will see, or `/%61dmin` reaches the backend's `/admin`
//! through a less protected route. [`normalize`] applies RFC 3986's
//! normalisations (section 6.2.2): percent-encoded unreserved characters are
//! decoded, other escapes get upper-case hex, dot segments are removed
//! (section 5.2.4) and repeated slashes merged (as Traefik and nginx do).
//! Characters that must be escaped on the wire but that clients send raw
//! (UTF-8, `{`, `|`, ...) are escaped. What backends disagree about is
//! refused instead: an encoded slash (some decode it into a separator),
//! backslashes (some treat them as slashes), control characters, escapes
//! that are not two hex digits, and double encodings (`%25` followed by two
//! hex digits, which a backend that decodes twice would read as the escape
//! behind it).
//!
//! The function is pure and allocates only when the path changes, which
//! ordinary paths never do: one pass over the bytes decides.

use std::borrow::Cow;

/// What to do with an encoded slash (`%2F`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodedSlash {
    /// Refuse the path ([`PathError::EncodedSlash`]).
    Refuse,
    /// Keep it encoded, as a character inside its segment.
    Keep,
    /// Decode it into a separator: the path as a backend that decodes
    /// slashes reads it.
    Decode,
}

/// Why a path was refused. Every variant is a `400` for the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("encoded slash in the path")]
    EncodedSlash,
    #[error("backslash in the path")]
    Backslash,
    #[error("control character in the path")]
    Control,
    #[error("`%` not followed by two hex digits")]
    BadEscape,
    #[error("double percent-encoding in the path")]
    DoubleEncoding,
    /// Read as backends commonly do (encoded slashes decoded, `;`
    /// parameters dropped), the path would select another route.
    #[error("the path selects another route as some backends read it")]
    Ambiguous,
}

/// How each byte may appear in a canonical path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Unreserved: decoded when escaped.
    Unreserved,
    /// `/`, sub-delims, `:` and `@`: kept as they are, raw or escaped.
    Kept,
    /// Must be escaped on the wire: escaped when raw.
    Escaped,
    /// `\` and controls.
    Refused,
    /// `%`.
    Percent,
}

const fn class(b: u8) -> Class {
    match b {
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => Class::Unreserved,
        b'/' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
        | b':' | b'@' => Class::Kept,
        b'%' => Class::Percent,
        b'\\' | 0..=0x1F | 0x7F => Class::Refused,
        _ => Class::Escaped,
    }
}

const CLASSES: [Class; 256] = {
    let mut t = [Class::Escaped; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class(i as u8);
        i += 1;
    }
    t
};

/// The canonical form of `path` (without its query), or why it is refused.
/// Paths that do not start with `/` (`*` of `OPTIONS *`) are returned as
/// they are. The result never contains `//`, a `.` or `..` segment, `%`
/// followed by anything but two upper-case hex digits, or a `%25` escape
/// followed by two hex digits, and normalising it again changes nothing.
pub fn normalize(path: &str, slash: EncodedSlash) -> Result<Cow<'_, str>, PathError> {
    if !path.starts_with('/') {
        return Ok(Cow::Borrowed(path));
    }
    if is_canonical(path.as_bytes()) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded;
    let source = if slash == EncodedSlash::Decode && has_encoded_slash(path) {
        decoded = path.replace("%2F", "/").replace("%2f", "/");
        decoded.as_str()
    } else {
        path
    };
    let cleaned = rebuild(source, slash)?;
    Ok(if cleaned == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(cleaned)
    })
}

/// Whether the path contains `%2F` in either case.
pub(crate) fn has_encoded_slash(path: &str) -> bool {
    path.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'2' && (w[2] == b'F' || w[2] == b'f'))
}

/// The fast path: only unreserved and kept bytes, no empty, `.` or `..`
/// segment (the leading `/` excepted).
fn is_canonical(path: &[u8]) -> bool {
    let mut segment_start = 1;
    for (i, &b) in path.iter().enumerate().skip(1) {
        match CLASSES[usize::from(b)] {
            Class::Unreserved => {}
            Class::Kept if b == b'/' => {
                if is_dot_or_empty(&path[segment_start..i]) {
                    return false;
                }
                segment_start = i + 1;
            }
            Class::Kept => {}
            _ => return false,
        }
    }
    // The last segment may be empty (a trailing slash), not a dot.
    !matches!(&path[segment_start..], b"." | b"..")
}

fn is_dot_or_empty(segment: &[u8]) -> bool {
    matches!(segment, b"" | b"." | b"..")
}

/// The slow path: every segment re-encoded, then dot segments removed.
fn rebuild(path: &str, slash: EncodedSlash) -> Result<String, PathError> {
    let bytes = path.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    let segments: Vec<&[u8]> = bytes[1..].split(|&b| b == b'/').collect();
    let last = segments.len() - 1;
    for (i, raw) in segments.iter().enumerate() {
        let segment = encode_segment(raw, slash)?;
        match segment.as_str() {
            "" | "." => trailing_slash = i == last,
            ".." => {
                out.pop();
                trailing_slash = i == last;
            }
            _ => {
                out.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut cleaned = String::with_capacity(path.len());
    for segment in &out {
        cleaned.push('/');
        cleaned.push_str(segment);
    }
    if trailing_slash || cleaned.is_empty() {
        cleaned.push('/');
    }
    if has_double_encoding(cleaned.as_bytes()) {
        // Also catches `%25` followed by escaped hex digits (`%25%32%46`),
        // which become double encodings once the digits are decoded.
        return Err(PathError::DoubleEncoding);
    }
    Ok(cleaned)
}

/// One segment in canonical form.
fn encode_segment(raw: &[u8], slash: EncodedSlash) -> Result<String, PathError> {
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match CLASSES[usize::from(b)] {
            Class::Unreserved | Class::Kept => out.push(char::from(b)),
            Class::Escaped => push_escaped(&mut out, b),
            Class::Refused if b == b'\\' => return Err(PathError::Backslash),
            Class::Refused => return Err(PathError::Control),
            Class::Percent => {
                let value = match (raw.get(i + 1), raw.get(i + 2)) {
                    (Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h << 4 | l),
                    _ => None,
                };
                let value = value.ok_or(PathError::BadEscape)?;
                i += 2;
                match CLASSES[usize::from(value)] {
                    Class::Unreserved => out.push(char::from(value)),
                    Class::Refused if value == b'\\' => return Err(PathError::Backslash),
                    Class::Refused => return Err(PathError::Control),
                    _ if value == b'/' && slash == EncodedSlash::Refuse => {
                        return Err(PathError::EncodedSlash)
                    }
                    _ => push_escaped(&mut out, value),
                }
            }
        }
        i += 1;
    }
    Ok(out)
}

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xF)]));
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `%25` followed by two hex digits.
fn has_double_encoding(path: &[u8]) -> bool {
    path.windows(5).any(|w| {
        w[0] == b'%' && w[1] == b'2' && w[2] == b'5' && hex(w[3]).is_some() && hex(w[4]).is_some()
    })
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
