//! The admin API's bearer token for TCP clients (`[admin] token_file`):
//! read once at start-up from a file only its owner may read, compared in
//! constant time, never logged.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ring::hmac;
use ring::rand::SystemRandom;

/// Shorter tokens are refused: the TCP port may be reachable by every local
/// user, and nothing slows down guessing.
const MIN_LEN: usize = 16;

/// A token, kept only as an HMAC under a random key: checking a guess is
/// ring's constant-time comparison of two tags, and the token itself is
/// not in memory.
pub(crate) struct Token {
    key: hmac::Key,
    tag: hmac::Tag,
}

impl Token {
    /// Reads `path`: refused when group or others may read it (as the
    /// private key is), and unless it holds 16 or more visible ASCII
    /// characters (surrounding whitespace ignored).
    pub(crate) fn load(path: &Path) -> Result<Token> {
        let text = wingress_tls::read_secret(path).context("[admin] token_file")?;
        Token::new(text.trim()).with_context(|| format!("[admin] token_file {}", path.display()))
    }

    fn new(token: &str) -> Result<Token> {
        if token.len() < MIN_LEN {
            bail!(
                "the token is shorter than {MIN_LEN} characters (make one with `openssl rand -hex 32`)"
            );
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            bail!("the token must be visible ASCII characters without spaces");
        }
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("no randomness for the token's key"))?;
        let tag = hmac::sign(&key, token.as_bytes());
        Ok(Token { key, tag })
    }

    /// Whether an `Authorization` header value is `Bearer <this token>`.
    pub(crate) fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, given)) = value.split_at_checked(7) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(b"bearer ")
            && hmac::verify(&self.key, given.trim_ascii(), self.tag.as_ref()).is_ok()
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
