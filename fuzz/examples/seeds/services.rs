//! Seeds for the service targets: request paths, DNS queries and answers
//! (signed by the target), and certificate names.

use wingress_dns::authority;
use wingress_dns::wire::{TYPE_A, TYPE_AAAA, TYPE_NS, TYPE_SOA, TYPE_TXT};
use wingress_fuzz::input::Seed;
use wingress_fuzz::x509;

use crate::Corpus;

pub(crate) fn http_path(c: &mut Corpus) {
    for (name, host, path) in [
        ("admin", "app.example", "/admin"),
        ("admin-dot", "App.Example.:443", "/./admin/"),
        ("double-slash", "app.example", "//admin//x"),
        ("parent", "app.example", "/public/../admin/public/x?y=1"),
        ("encoded-dots", "app.example", "/api/%2e%2E/admin"),
        ("wildcard-api", "x.example", "/api/v1/items"),
        ("any-host", "[::1]:8443", "/.well-known/acme-challenge/t"),
        ("percent-space", "app.example", "/a%20b/c"),
    ] {
        c.seed(
            name,
            Seed::new()
                .u8(0)
                .bytes(host.as_bytes())
                .rest(path.as_bytes()),
        );
    }
}

// === DNS ===

pub(crate) fn dns_query(name: &str, qtype: u16) -> Vec<u8> {
    let mut q = authority::query(0x1234, name, qtype).expect("query");
    q[2] |= 1; // RD, as stub resolvers send
    q
}

/// `query` with an EDNS0 OPT record advertising `size`.
fn with_edns(mut q: Vec<u8>, size: u16) -> Vec<u8> {
    q[11] += 1;
    q.extend_from_slice(&[0, 0, 41]);
    q.extend_from_slice(&size.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    q
}

/// An answer to `query` with one A record pointing back at its question.
fn dns_answer(query: &[u8]) -> Vec<u8> {
    let mut r = query.to_vec();
    r[2] |= 0x80;
    r[7] = 1;
    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
    r
}

pub(crate) fn dns_server(c: &mut Corpus) {
    c.seed(
        "a-host",
        Seed::new()
            .u8(0)
            .bytes(&dns_query("grafana.home.arpa", TYPE_A)),
    );
    c.seed(
        "aaaa-wildcard-edns",
        Seed::new()
            .u8(1)
            .bytes(&with_edns(dns_query("x.apps.home.arpa", TYPE_AAAA), 1232)),
    );
    c.seed(
        "soa-apex-tcp",
        Seed::new().u8(3).bytes(&dns_query("home.arpa", TYPE_SOA)),
    );
    c.seed(
        "nxdomain",
        Seed::new()
            .u8(2)
            .bytes(&dns_query("nope.home.arpa", TYPE_TXT)),
    );
    let outside = dns_query("example.org", TYPE_A);
    let mut upstream = dns_answer(&outside);
    upstream[..2].copy_from_slice(&0x5a5au16.to_be_bytes());
    c.seed(
        "forwarded-and-answered",
        Seed::new().u8(0).bytes(&outside).rest(&upstream),
    );
    c.seed("outside-refused", Seed::new().u8(0x80).bytes(&outside));
}

pub(crate) fn dns_tsig(c: &mut Corpus) {
    // The TXT check's answer, the NS answer with glue, and the UPDATE's
    // answer, each signed by the target (mode 1), one left unsigned.
    let txt = {
        let mut r = dns_query("_acme-challenge.example.com", TYPE_TXT);
        r[2] |= 0x84;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 6, 5]);
        r.extend_from_slice(b"token");
        r
    };
    c.seed("txt-answer", Seed::new().u8(1).u16(7).u8(1).rest(&txt));
    let ns = {
        let mut r = dns_query("example.com", TYPE_NS);
        r[2] |= 0x84;
        r[7] = 1;
        r[11] = 1;
        r.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 0, 60, 0, 6, 3]);
        r.extend_from_slice(b"ns1\xc0\x0c");
        let at = (r.len() - 6) as u8;
        r.extend_from_slice(&[0xc0, at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2]);
        r
    };
    c.seed(
        "ns-answer-with-glue",
        Seed::new().u8(1).u16(30).u8(0x20).rest(&ns),
    );
    c.seed(
        "ns-answer-unsigned",
        Seed::new().u8(0).u16(0).u8(0).rest(&ns),
    );
    let mut update_answer = vec![0, 9, 0xa8, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    update_answer.extend_from_slice(b"\x07example\x03com\x00\x00\x06\x00\x01");
    c.seed(
        "update-answer",
        Seed::new().u8(1).u16(3).u8(0x80).rest(&update_answer),
    );
}

// === TLS ===

fn cn(tag: u8, value: &[u8]) -> Vec<u8> {
    x509::tlv(
        0x31,
        &x509::seq(&[
            &x509::tlv(0x06, &[0x55, 0x04, 0x03]),
            &x509::tlv(tag, value),
        ]),
    )
}

pub(crate) fn x509_name(c: &mut Corpus) {
    let org = x509::tlv(
        0x31,
        &x509::seq(&[
            &x509::tlv(0x06, &[0x55, 0x04, 0x0a]),
            &x509::tlv(0x13, b"Example Org"),
        ]),
    );
    let alice = [org.clone(), cn(0x0c, b"alice@example.com")].concat();
    c.seed("subject-org-cn", Seed::new().u8(1).bytes(&alice));
    c.seed(
        "subject-printable",
        Seed::new().u8(1).bytes(&cn(0x13, b"bob")),
    );
    let dns_san = x509::tlv(0x82, b"laptop.home.arpa");
    c.seed(
        "no-cn-dns-san",
        Seed::new().u8(1).bytes(&org).rest(&dns_san),
    );
    c.add(
        "whole-certificate",
        [&[0u8][..], &x509::certificate(&alice, Some(&dns_san))].concat(),
    );
    // The template must parse, or no input would reach the name readers.
    let name = |subject: &[u8], san: Option<&[u8]>| {
        let der = rustls_pki_types::CertificateDer::from(x509::certificate(subject, san));
        wingress_tls::ClientCaVerifier::subject_of(&[der])
    };
    assert_eq!(name(&alice, None).as_deref(), Some("alice@example.com"));
    assert_eq!(
        name(&org, Some(&dns_san)).as_deref(),
        Some("laptop.home.arpa")
    );
}
