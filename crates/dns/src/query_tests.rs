use super::*;
use crate::wire::{TYPE_A, TYPE_AAAA, TYPE_OPT};

/// A query as dig sends it: ID, RD, one question, optionally an OPT record.
pub(crate) fn query(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    if let Some(size) = edns {
        m.push(0);
        m.extend_from_slice(&TYPE_OPT.to_be_bytes());
        m.extend_from_slice(&size.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
    m
}

#[test]
fn parses_a_query_with_edns() {
    let m = query(0x1234, "Grafana.Home.ARPA", TYPE_AAAA, Some(4096));
    let q = parse_query(&m).unwrap();
    assert_eq!(q.id, 0x1234);
    assert!(q.rd && !q.cd);
    assert_eq!(q.name, Name::from_dotted("grafana.home.arpa").unwrap());
    assert_eq!((q.qtype, q.qclass), (TYPE_AAAA, CLASS_IN));
    assert_eq!(
        q.edns,
        Some(Edns {
            udp_size: 4096,
            version: 0,
            dnssec_ok: false
        })
    );
    // The question is echoed as written, case included.
    assert_eq!(&q.question[1..8], b"Grafana");
    assert_eq!(q.question.len(), m.len() - HEADER_LEN - 11);
}

#[test]
fn malformed_queries_are_dropped_or_answered_formerr() {
    let good = query(7, "a.home.arpa", TYPE_A, None);
    // Too short for a header: dropped.
    assert_eq!(parse_query(&good[..11]), Err(Malformed::Drop));
    assert_eq!(parse_query(&[]), Err(Malformed::Drop));
    // A response: dropped, never answered.
    let mut resp = good.clone();
    resp[2] |= 0x80;
    assert_eq!(parse_query(&resp), Err(Malformed::Drop));
    let formerr = |m: &[u8]| match parse_query(m) {
        Err(Malformed::Answer { id, rcode, .. }) => (id, rcode),
        other => panic!("expected an answer, got {other:?}"),
    };
    // Cut inside the name, inside the type.
    assert_eq!(formerr(&good[..15]), (7, Rcode::FormErr));
    assert_eq!(formerr(&good[..good.len() - 1]), (7, Rcode::FormErr));
    // Trailing garbage.
    let mut long = good.clone();
    long.push(0);
    assert_eq!(formerr(&long), (7, Rcode::FormErr));
    // Two questions, an answer record in a query.
    let mut two = good.clone();
    two[5] = 2;
    assert_eq!(formerr(&two), (7, Rcode::FormErr));
    let mut an = good.clone();
    an[7] = 1;
    assert_eq!(formerr(&an), (7, Rcode::FormErr));
    // A compression pointer in the question.
    let mut ptr = good[..HEADER_LEN].to_vec();
    ptr.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(formerr(&ptr), (7, Rcode::FormErr));
    // A label longer than 63 bytes, a name longer than 255.
    let mut big = good[..HEADER_LEN].to_vec();
    big.push(64);
    big.extend_from_slice(&[b'a'; 64]);
    big.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(formerr(&big), (7, Rcode::FormErr));
    let long_name = vec!["a".repeat(63); 4].join(".");
    assert_eq!(
        formerr(&query(7, &long_name, TYPE_A, None)),
        (7, Rcode::FormErr)
    );
    // An opcode other than QUERY.
    let mut notify = good.clone();
    notify[2] = 0x20;
    assert_eq!(formerr(&notify), (7, Rcode::NotImp));
    // Two OPT records; an OPT with an owner name; an RR running past the end.
    let mut two_opt = query(7, "a", TYPE_A, Some(1232));
    let opt = two_opt[two_opt.len() - 11..].to_vec();
    two_opt.extend_from_slice(&opt);
    two_opt[11] = 2;
    assert_eq!(formerr(&two_opt), (7, Rcode::FormErr));
    let mut owned_opt = query(7, "a", TYPE_A, None);
    owned_opt[11] = 1;
    owned_opt.extend_from_slice(&[1, b'x', 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(formerr(&owned_opt), (7, Rcode::FormErr));
    let mut past = query(7, "a", TYPE_A, Some(1232));
    let n = past.len();
    past[n - 1] = 5;
    assert_eq!(formerr(&past), (7, Rcode::FormErr));
}

#[test]
fn bare_answers_keep_id_and_rd() {
    let r = Response::bare(0xbeef, 0x0100, Rcode::FormErr);
    assert_eq!(r, [0xbe, 0xef, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn oversized_responses_are_truncated_to_the_question() {
    let m = query(9, "a.home.arpa", TYPE_A, None);
    let q = parse_query(&m).unwrap();
    let mut r = Response::to(&q, Rcode::NoError, true, false);
    for _ in 0..40 {
        r.record_at_question(Section::Answer, TYPE_A, 60, &[100, 64, 0, 1]);
    }
    let out = r.finish(512);
    assert_eq!(out.len(), m.len());
    assert_eq!(out[2] & 0x02, 0x02, "TC set");
    assert_eq!(&out[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&out[12..], &m[12..]);
}

#[test]
fn edns_is_echoed_with_our_size_and_the_do_bit() {
    let mut m = query(9, "a", TYPE_A, Some(4096));
    let n = m.len();
    m[n - 4] = 0x80; // DO
    let q = parse_query(&m).unwrap();
    assert!(q.edns.unwrap().dnssec_ok);
    let out = Response::to(&q, Rcode::BadVers, false, false).finish(4096);
    let opt = &out[out.len() - 11..];
    assert_eq!(opt, [0, 0, 41, 0x04, 0xd0, 1, 0, 0x80, 0, 0, 0]);
    assert_eq!(
        out[3] & 0x0f,
        0,
        "BADVERS is 16: low bits 0, high bits in the OPT"
    );
    assert_eq!(&out[10..12], &[0, 1]);
}

#[test]
fn forwarding_helpers() {
    let sent = with_id(&query(1, "example.org", TYPE_A, None), 0xabcd);
    assert_eq!(&sent[..2], &[0xab, 0xcd]);
    let mut reply = sent.clone();
    reply[2] |= 0x80;
    reply[12 + 1] = b'E'; // 0x20 case randomization echoed back
    assert!(reply_matches(&sent, &reply));
    assert!(!reply_matches(&sent, &sent), "a query is not a reply");
    let mut other = reply.clone();
    other[1] ^= 1;
    assert!(!reply_matches(&sent, &other), "wrong id");
    let mut other_q = reply.clone();
    other_q[14] = b'z';
    assert!(!reply_matches(&sent, &other_q), "wrong question");
    assert!(!reply_matches(&sent, &reply[..20]));

    let q_len = sent.len() - HEADER_LEN;
    let mut big = reply.clone();
    big.extend_from_slice(&[0; 600]);
    let out = relay_reply(&big, 1, q_len, 512);
    assert_eq!(out.len(), sent.len());
    assert_eq!(&out[..2], &[0, 1]);
    assert_eq!(out[2] & 0x02, 0x02);
    let out = relay_reply(&big, 1, q_len, 4096);
    assert_eq!(out.len(), big.len());
}

#[test]
fn servfail_answers_the_question() {
    let q = query(3, "example.org", TYPE_A, None);
    let r = servfail(&q, 512).unwrap();
    assert_eq!(&r[..4], &[0, 3, 0x81, 0x82]);
    assert_eq!(&r[12..], &q[12..]);
    assert_eq!(servfail(b"junk", 512), None);
}
