use super::*;
use crate::update::txt_query;

/// A response (QR set) to a TXT query for `a.example`, no records.
fn empty_response() -> Vec<u8> {
    let mut q = txt_query(1, "a.example").unwrap();
    q[2] = 0x80;
    q
}

#[test]
fn builder_writes_sections_in_order_and_the_parser_reads_them_back() {
    let name = Name::from_dotted("A.example").unwrap();
    let mut b = MessageBuilder::new(0xabcd, FLAG_QR | FLAG_AA | Rcode::NxDomain.value());
    b.question(&name, TYPE_A, CLASS_IN).unwrap();
    b.record_at_question(Section::Answer, TYPE_A, CLASS_IN, 60, &[192, 0, 2, 1])
        .unwrap();
    let soa_owner = Name::from_dotted("example").unwrap();
    b.record(Section::Authority, &soa_owner, TYPE_SOA, CLASS_IN, 30, b"x")
        .unwrap();
    b.record(Section::Additional, &Name::root(), TYPE_OPT, 1232, 0, &[])
        .unwrap();
    let bytes = b.finish();
    assert_eq!(
        &bytes[..12],
        b"\xab\xcd\x84\x03\x00\x01\x00\x01\x00\x01\x00\x01"
    );

    let m = Message::parse_response(&bytes).unwrap();
    assert_eq!(
        (m.id, m.rcode(), m.authoritative()),
        (0xabcd, Rcode::NxDomain, true)
    );
    assert_eq!(
        m.questions,
        [Question {
            name: name.clone(),
            qtype: TYPE_A,
            qclass: CLASS_IN
        }]
    );
    let a = &m.answers[0];
    assert_eq!(
        (&a.owner, a.rtype, a.ttl, a.rdata),
        (&name, TYPE_A, 60, &[192, 0, 2, 1][..])
    );
    assert_eq!(&bytes[a.rdata_offset..a.rdata_offset + 4], a.rdata);
    assert_eq!(m.authority[0].owner, soa_owner);
    assert!(m.additional[0].owner.is_root());
    assert_eq!(m.additional[0].class, 1232);

    // Record data over 16 bits is refused, and not counted.
    let mut b = MessageBuilder::new(1, 0);
    let huge = vec![0; 65_536];
    assert!(matches!(
        b.record(Section::Answer, &name, TYPE_TXT, CLASS_IN, 0, &huge),
        Err(WireError::TooLarge(_))
    ));
    assert_eq!(&b.finish()[4..12], &[0; 8]);

    // Sections go in order: nothing before what was written last.
    let mut b = MessageBuilder::new(1, 0);
    b.record(Section::Authority, &name, TYPE_TXT, CLASS_IN, 0, b"")
        .unwrap();
    assert!(b
        .record(Section::Answer, &name, TYPE_TXT, CLASS_IN, 0, b"")
        .is_err());
    assert!(b.question(&name, TYPE_A, CLASS_IN).is_err());
    assert_eq!(&b.finish()[4..12], &[0, 0, 0, 0, 0, 1, 0, 0]);
}

#[test]
fn appended_records_are_counted() {
    let mut m = empty_response();
    append_additional(&mut m, &Name::root(), TYPE_OPT, 512, 0, &[]).unwrap();
    assert_eq!(&m[10..12], &[0, 1]);
    assert_eq!(Message::parse(&m).unwrap().additional.len(), 1);
    assert!(append_additional(&mut vec![0; 11], &Name::root(), TYPE_OPT, 512, 0, &[]).is_err());
}

#[test]
fn rcodes_round_trip_and_have_names() {
    for v in 0..=24 {
        assert_eq!(Rcode::from_value(v).value(), v);
    }
    assert_eq!(Rcode::from_value(9), Rcode::NotAuth);
    assert_eq!(Rcode::NotZone.name(), "NOTZONE");
    assert_eq!(Rcode::from_value(13).name(), "unknown rcode");
}

#[test]
fn hostile_responses_are_errors_not_panics() {
    let good = empty_response();
    for cut in 0..good.len() {
        assert!(Message::parse_response(&good[..cut]).is_err());
    }
    // A pointer to itself.
    let mut looped = good.clone();
    looped[7] = 1;
    let at = looped.len();
    looped.extend_from_slice(&[0xc0, at as u8, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert!(Message::parse_response(&looped).is_err());
    // A query is not a response.
    assert!(Message::parse_response(&txt_query(1, "a.example").unwrap()).is_err());
    // Every single-byte corruption parses or fails cleanly, of an empty
    // response and of one with compressed answers.
    let mut full = good.clone();
    full[7] = 2;
    for rdata in [&b"\x03abc"[..], b"\x00"] {
        full.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x3c");
        full.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        full.extend_from_slice(rdata);
    }
    assert_eq!(Message::parse_response(&full).unwrap().answers.len(), 2);
    for msg in [&good, &full] {
        for i in 0..msg.len() {
            for b in [0x00, 0x3f, 0x40, 0xc0, 0xff] {
                let mut m = msg.clone();
                m[i] = b;
                let _ = Message::parse_response(&m);
            }
        }
    }
}

/// A response answers a query only with the same ID, opcode and question
/// (the name in any case), or as a FORMERR without a question.
#[test]
fn a_response_answers_the_query_whose_question_it_echoes() {
    let query_bytes = txt_query(7, "_acme-challenge.app.example").unwrap();
    let query = Message::parse(&query_bytes).unwrap();
    let reply = |id: u16, flags: u16, question: Option<(&str, u16)>| {
        let mut b = MessageBuilder::new(id, flags);
        if let Some((name, qtype)) = question {
            b.question(&Name::parse(name).unwrap(), qtype, CLASS_IN)
                .unwrap();
        }
        b.finish()
    };
    let check = |bytes: Vec<u8>| Message::parse(&bytes).unwrap().answers(&query);
    let name = "_acme-challenge.app.example";
    assert!(check(reply(7, FLAG_QR, Some((name, TYPE_TXT)))));
    assert!(check(reply(
        7,
        FLAG_QR,
        Some(("_ACME-Challenge.APP.example", TYPE_TXT))
    )));
    assert!(!check(reply(8, FLAG_QR, Some((name, TYPE_TXT)))), "id");
    assert!(!check(reply(7, 0, Some((name, TYPE_TXT)))), "a query");
    assert!(!check(reply(
        7,
        FLAG_QR,
        Some(("_acme-challenge.other.example", TYPE_TXT))
    )));
    assert!(!check(reply(7, FLAG_QR, Some((name, TYPE_A)))), "type");
    let update = FLAG_QR | (OPCODE_UPDATE << OPCODE_SHIFT);
    assert!(!check(reply(7, update, Some((name, TYPE_TXT)))), "opcode");
    assert!(!check(reply(7, FLAG_QR, None)), "no question");
    assert!(check(reply(7, FLAG_QR | Rcode::FormErr.value(), None)));

    // An UPDATE's answer echoes its zone section.
    let change = crate::update::Change::AddTxt {
        name: "_acme-challenge.app.example.",
        ttl: 60,
        value: "v",
    };
    let sent = crate::update::update(9, "example.", &[change]).unwrap();
    let sent = Message::parse(&sent).unwrap();
    let ok = reply(9, update, Some(("example.", TYPE_SOA)));
    assert!(Message::parse(&ok).unwrap().answers(&sent));
    let other_zone = reply(9, update, Some(("example.org.", TYPE_SOA)));
    assert!(!Message::parse(&other_zone).unwrap().answers(&sent));
}

#[test]
fn compressed_names_follow_earlier_names_only() {
    // A header's worth of zeros, then `a.example` at 12 and
    // `www` + pointer to `example` (offset 14) at 23.
    let mut m = vec![0; HEADER_LEN];
    m.extend_from_slice(b"\x01a\x07example\x00");
    m.extend_from_slice(b"\x03WWW\xc0\x0e");
    let (n, end) = read_name(&m, 23).unwrap();
    assert_eq!(n, Name::from_dotted("www.example").unwrap());
    assert_eq!(end, m.len(), "after the pointer, not after the target");
    let (n, end) = read_name(&m, 12).unwrap();
    assert_eq!((n.to_string().as_str(), end), ("a.example", 23));

    // Pointers to themselves, forward, into the header, and chains
    // that do not go strictly backwards are all refused.
    let bad = |tail: &[u8], at: usize| {
        let mut m = m.clone();
        m.extend_from_slice(tail);
        read_name(&m, at).is_err()
    };
    assert!(bad(b"\xc0\x1d", 29), "to itself");
    assert!(bad(b"\xc0\x1f\x00", 29), "forward");
    assert!(bad(b"\xc0\x02", 29), "into the header");
    // 29: pointer to 31, which points back to 29: a loop.
    assert!(bad(b"\xc0\x1f\xc0\x1d", 31));
    assert!(bad(b"\x40", 29), "label type 0b01");
    assert!(bad(b"\x05ab", 29), "label past the end");
    assert!(bad(b"\xc0", 29), "half a pointer");
    // A question name (offset 12) cannot be compressed at all.
    let mut q = vec![0; HEADER_LEN];
    q.extend_from_slice(&[0xc0, 12]);
    assert!(read_name(&q, 12).is_err());
}

#[test]
fn names_over_255_bytes_are_refused_even_through_pointers() {
    // Four 63-byte labels: 4 * 64 + 1 = 257 bytes.
    let mut m = vec![0; HEADER_LEN];
    for _ in 0..2 {
        m.push(63);
        m.extend_from_slice(&[b'a'; 63]);
    }
    m.push(0);
    let second = m.len();
    for _ in 0..2 {
        m.push(63);
        m.extend_from_slice(&[b'b'; 63]);
    }
    m.extend_from_slice(&[0xc0, 12]);
    assert!(read_name(&m, 12).is_ok());
    assert!(read_name(&m, second).is_err());
}
