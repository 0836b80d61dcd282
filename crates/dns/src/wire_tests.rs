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
