//! Cross-site request checks for every POST.
//!
//! Two independent guards, both required:
//! - a token in the form: HMAC-SHA256 of the viewer's public key under a
//!   secret made at start-up, so it needs no server-side session, differs
//!   per viewer, and a page on another site cannot read it;
//! - the browser's own word on where the request comes from:
//!   `Sec-Fetch-Site` (when sent) must be `same-origin` or `none`, and
//!   `Origin` (when sent) must be this host over HTTPS. This refuses a
//!   cross-site POST even when the token leaked.

use http::{header, HeaderMap};
use ring::hmac;

/// Makes and checks the form tokens of this process.
pub(crate) struct Csrf {
    key: hmac::Key,
}

impl Csrf {
    /// A fresh random secret: tokens last as long as the process. Fails
    /// only without a system random source.
    pub(crate) fn random() -> Result<Csrf, ring::error::Unspecified> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)?;
        Ok(Csrf { key })
    }

    #[cfg(test)]
    pub(crate) fn from_secret(secret: &[u8]) -> Csrf {
        Csrf {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The token for the viewer with public key `viewer_key`, in hex.
    pub(crate) fn token(&self, viewer_key: &str) -> String {
        let tag = hmac::sign(&self.key, viewer_key.as_bytes());
        let mut out = String::with_capacity(64);
        for b in tag.as_ref() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }

    /// Whether `token` is the viewer's, compared in constant time.
    pub(crate) fn accepts(&self, viewer_key: &str, token: &str) -> bool {
        match decode_hex(token) {
            Some(tag) => hmac::verify(&self.key, viewer_key.as_bytes(), &tag).is_ok(),
            None => false,
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let nibble = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    s.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// Why a POST's origin is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrossSite {
    /// `Sec-Fetch-Site` says another site (or a sibling) sent it.
    FetchSite,
    /// `Origin` is not `https://<Host>`.
    Origin,
}

/// Checks the browser's headers on a POST; `Ok` when they are absent (a
/// browser that sends neither, or a script) or say this origin.
pub(crate) fn check_origin(headers: &HeaderMap) -> Result<(), CrossSite> {
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return Err(CrossSite::FetchSite);
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.strip_suffix(":443").unwrap_or(h));
        let same = match (origin.to_str().ok(), host) {
            (Some(o), Some(h)) if !h.is_empty() => o
                .strip_prefix("https://")
                .is_some_and(|o| o.eq_ignore_ascii_case(h)),
            _ => false,
        };
        if !same {
            return Err(CrossSite::Origin);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "csrf_tests.rs"]
mod tests;
