//! The TSIG secret file: the base64 secret alone, or the `key` statements
//! `tsig-keygen` (and `rndc-confgen`, `ddns-confgen`) write, in named.conf
//! syntax:
//!
//! ```text
//! key "acme-secret." {
//!     algorithm hmac-sha256;
//!     secret "AAECAw==";
//! };
//! ```
//!
//! The file is tokenized (quoted strings, `{`, `}`, `;`, words, and `#`,
//! `//` and `/* */` comments) and the statements are read as such, so a key
//! whose name contains "secret" or a comment mentioning it changes
//! nothing. A file with several keys is fine: the configured key name
//! chooses. Errors never quote the secret.

use base64::Engine;

use crate::wire::absolute_lower;

/// One `key` statement.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBlock {
    /// Lowercase, with the trailing dot.
    pub name: String,
    /// As written (`hmac-sha256`), lowercase; `None` when absent.
    pub algorithm: Option<String>,
    /// The decoded secret.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for KeyBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyBlock")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// What a secret file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFile {
    /// Only a base64 secret.
    Bare(Vec<u8>),
    /// `key` statements, in file order.
    Keys(Vec<KeyBlock>),
}

/// Why a secret file was not understood. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    #[error("the file is empty")]
    Empty,
    #[error("the secret is not base64")]
    NotBase64,
    #[error("the secret is empty")]
    EmptySecret,
    #[error("a quoted string or /* comment is not closed")]
    Unterminated,
    #[error("not a base64 secret or `key` statements: {0}")]
    Syntax(&'static str),
    #[error("key {0} has no secret")]
    NoSecret(String),
    #[error("key {0} appears twice")]
    Duplicate(String),
    #[error("no key named {name} in the file (it has {found})")]
    NoSuchKey { name: String, found: String },
    #[error("key {name} uses {file} in the file, not the configured {configured}")]
    Algorithm {
        name: String,
        file: String,
        configured: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Quoted(&'a str),
    Open,
    Close,
    Semi,
}

/// Reads a secret file's text.
pub fn parse(text: &str) -> Result<SecretFile, KeyFileError> {
    let tokens = tokenize(text)?;
    match tokens.as_slice() {
        [] => Err(KeyFileError::Empty),
        [Token::Word(b64)] => decode(b64).map(SecretFile::Bare),
        _ => statements(&tokens).map(SecretFile::Keys),
    }
}

fn decode(b64: &str) -> Result<Vec<u8>, KeyFileError> {
    let secret = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| KeyFileError::NotBase64)?;
    if secret.is_empty() {
        return Err(KeyFileError::EmptySecret);
    }
    Ok(secret)
}

fn tokenize(text: &str) -> Result<Vec<Token<'_>>, KeyFileError> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else {
            return Ok(out);
        };
        if c == '#' || rest.starts_with("//") {
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
        } else if let Some(body) = rest.strip_prefix("/*") {
            let end = body.find("*/").ok_or(KeyFileError::Unterminated)?;
            rest = &body[end + 2..];
        } else if let Some(body) = rest.strip_prefix('"') {
            // named.conf strings have no escapes but `\"`; secrets and key
            // names never contain either.
            let end = body.find('"').ok_or(KeyFileError::Unterminated)?;
            out.push(Token::Quoted(&body[..end]));
            rest = &body[end + 1..];
        } else if let Some(punct) = match c {
            '{' => Some(Token::Open),
            '}' => Some(Token::Close),
            ';' => Some(Token::Semi),
            _ => None,
        } {
            out.push(punct);
            rest = &rest[1..];
        } else {
            // Base64 has `/`: a word ends at whitespace or punctuation only,
            // and `//` or `/*` start a comment only where a token would.
            let end = rest
                .find(|c: char| c.is_whitespace() || "{};\"#".contains(c))
                .unwrap_or(rest.len())
                .max(c.len_utf8());
            out.push(Token::Word(&rest[..end]));
            rest = &rest[end..];
        }
    }
}

/// Top-level statements; `key` ones are read, others skipped whole.
fn statements(tokens: &[Token<'_>]) -> Result<Vec<KeyBlock>, KeyFileError> {
    let mut keys: Vec<KeyBlock> = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        let end = statement_end(tokens, at)?;
        let statement = &tokens[at..end];
        if let [Token::Word(kw), name, Token::Open, body @ .., Token::Close] = statement {
            if kw.eq_ignore_ascii_case("key") {
                let name = match name {
                    Token::Word(n) | Token::Quoted(n) => absolute_lower(n),
                    _ => return Err(KeyFileError::Syntax("a key without a name")),
                };
                if keys.iter().any(|k| k.name == name) {
                    return Err(KeyFileError::Duplicate(name));
                }
                keys.push(key_block(name, body)?);
            }
        } else if matches!(statement.first(), Some(Token::Word(kw)) if kw.eq_ignore_ascii_case("key"))
        {
            return Err(KeyFileError::Syntax(
                "a key statement is not `key NAME { ... };`",
            ));
        }
        at = end + 1;
    }
    if keys.is_empty() {
        return Err(KeyFileError::Syntax("no `key` statement"));
    }
    Ok(keys)
}

/// The index of the `;` that ends the statement starting at `at` (outside
/// braces), or the end of the tokens after a closing brace.
fn statement_end(tokens: &[Token<'_>], at: usize) -> Result<usize, KeyFileError> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(at) {
        match t {
            Token::Open => depth += 1,
            Token::Close => {
                depth = depth
                    .checked_sub(1)
                    .ok_or(KeyFileError::Syntax("a `}` without its `{`"))?;
            }
            Token::Semi if depth == 0 => return Ok(i),
            _ => {}
        }
    }
    if depth == 0 && matches!(tokens.last(), Some(Token::Close)) {
        // `};` with the `;` missing at the end of the file.
        return Ok(tokens.len());
    }
    Err(KeyFileError::Syntax("a statement does not end with `;`"))
}

fn key_block(name: String, body: &[Token<'_>]) -> Result<KeyBlock, KeyFileError> {
    let (mut algorithm, mut secret) = (None, None);
    for clause in body.split(|t| *t == Token::Semi) {
        match clause {
            [] => {}
            [Token::Word(kw), Token::Word(v) | Token::Quoted(v)]
                if kw.eq_ignore_ascii_case("algorithm") =>
            {
                algorithm = Some(v.to_ascii_lowercase());
            }
            [Token::Word(kw), Token::Word(v) | Token::Quoted(v)]
                if kw.eq_ignore_ascii_case("secret") =>
            {
                secret = Some(decode(v)?);
            }
            // Other clauses (none that matter to TSIG) are skipped.
            [Token::Word(_), ..] => {}
            _ => return Err(KeyFileError::Syntax("a clause in a key block")),
        }
    }
    let secret = secret.ok_or_else(|| KeyFileError::NoSecret(name.clone()))?;
    Ok(KeyBlock {
        name,
        algorithm,
        secret,
    })
}

#[cfg(test)]
#[path = "keyfile_tests.rs"]
mod tests;
