//! POST bodies: at most [`MAX_BODY`] bytes of
//! `application/x-www-form-urlencoded`, read within [`BODY_TIMEOUT`], parsed
//! into at most [`MAX_FIELDS`] fields. Anything else is a 4xx.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap};
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;

/// Our forms are a name, some tags and a token.
pub(crate) const MAX_BODY: usize = 8 * 1024;
pub(crate) const MAX_FIELDS: usize = 16;
/// To send a body of a few hundred bytes.
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a body was refused; each has its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Not `application/x-www-form-urlencoded`: 415.
    NotAForm,
    /// Over [`MAX_BODY`]: 413.
    TooLarge,
    /// Not sent in time: 408.
    TimedOut,
    /// Cut off, or too many fields: 400.
    Malformed,
}

impl BodyError {
    pub(crate) fn status(self) -> u16 {
        match self {
            BodyError::NotAForm => 415,
            BodyError::TooLarge => 413,
            BodyError::TimedOut => 408,
            BodyError::Malformed => 400,
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            BodyError::NotAForm => "the form was not sent as application/x-www-form-urlencoded",
            BodyError::TooLarge => "the form is larger than 8 KiB",
            BodyError::TimedOut => "the form was not sent in time",
            BodyError::Malformed => "the form could not be read",
        }
    }
}

/// A parsed form: its fields in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Parses an urlencoded body (`+` is a space, `%XX` a byte, invalid
    /// UTF-8 replaced).
    pub(crate) fn parse(body: &[u8]) -> Result<Form, BodyError> {
        let mut fields = Vec::new();
        for (k, v) in form_urlencoded::parse(body) {
            if fields.len() == MAX_FIELDS {
                return Err(BodyError::Malformed);
            }
            fields.push((k.into_owned(), v.into_owned()));
        }
        Ok(Form { fields })
    }

    /// The first value of field `name`; "" when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Reads the form of a request with `headers` and `body`.
pub(crate) async fn read<B>(headers: &HeaderMap, body: B) -> Result<Form, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(BodyError::NotAForm);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(BodyError::TooLarge);
    }
    let collected = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect());
    let bytes = match collected.await {
        Err(_) => return Err(BodyError::TimedOut),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(BodyError::TooLarge)
        }
        Ok(Err(_)) => return Err(BodyError::Malformed),
        Ok(Ok(c)) => c.to_bytes(),
    };
    Form::parse(&bytes)
}

/// Tags as typed in the form: separated by commas and/or spaces.
pub(crate) fn split_tags(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
