//! [`WireError`]: what goes wrong reading or writing a DNS message or name.

/// Why a message could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("not a valid dns name")]
    BadName,
    #[error("malformed dns message: {0}")]
    Malformed(&'static str),
    /// A record or a section that does not fit its 16-bit length or count.
    #[error("dns message too large: {0}")]
    TooLarge(&'static str),
}
