//! The one thing we read from an X.509 `Name` ourselves: the common name.
//!
//! webpki hands out the subject as raw DER (the contents of the `Name`
//! SEQUENCE); x509-parser reads its relative distinguished names. Input
//! comes from client certificates: the result is refused if it could
//! smuggle control characters into logs or headers.

use x509_parser::asn1_rs::Tag;
use x509_parser::oid_registry::OID_X509_COMMON_NAME;
use x509_parser::prelude::FromDer;
use x509_parser::x509::RelativeDistinguishedName;

/// Longer than any sane CN (RFC 5280's upper bound is 64) yet small enough for a header.
const MAX_CN_LEN: usize = 256;

/// The first common name in `name` (contents of a DER `Name`, as
/// `webpki::Cert::subject` returns), if it is a printable string. A name
/// that does not parse up to its first common name has none.
pub(crate) fn common_name(name: &[u8]) -> Option<String> {
    let mut rdns = name;
    while !rdns.is_empty() {
        let (rest, rdn) = RelativeDistinguishedName::from_der(rdns).ok()?;
        rdns = rest;
        let Some(cn) = rdn.iter().find(|a| *a.attr_type() == OID_X509_COMMON_NAME) else {
            continue;
        };
        return match cn.attr_value().tag() {
            Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => printable(cn.as_str().ok()?),
            _ => None,
        };
    }
    None
}

fn printable(s: &str) -> Option<String> {
    let ok = !s.is_empty() && s.len() <= MAX_CN_LEN && !s.chars().any(char::is_control);
    ok.then(|| s.to_owned())
}

#[cfg(test)]
#[path = "x509_name_tests.rs"]
mod tests;
