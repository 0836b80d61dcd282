use super::*;
use crate::wire::Rcode;

#[test]
fn update_adds_and_deletes_one_txt_record() {
    let msg = update(
        0x1234,
        "example.com.",
        &[
            Change::AddTxt {
                name: "_acme-challenge.a.example.com",
                ttl: 60,
                value: "v",
            },
            Change::DeleteTxt {
                name: "_acme-challenge.a.example.com",
                value: "v",
            },
        ],
    )
    .unwrap();
    // id, opcode 5, ZOCOUNT 1, PRCOUNT 0, UPCOUNT 2, ADCOUNT 0
    assert_eq!(
        &msg[..12],
        b"\x12\x34\x28\x00\x00\x01\x00\x00\x00\x02\x00\x00"
    );
    let zone = b"\x07example\x03com\x00\x00\x06\x00\x01";
    assert_eq!(&msg[12..12 + zone.len()], zone);
    let owner = b"\x0f_acme-challenge\x01a\x07example\x03com\x00";
    let add = [&owner[..], b"\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x02\x01v"].concat();
    let del = [&owner[..], b"\x00\x10\x00\xfe\x00\x00\x00\x00\x00\x02\x01v"].concat();
    assert_eq!(&msg[12 + zone.len()..], [add, del].concat());
}

#[test]
fn bad_names_and_values_are_errors() {
    let bad = |name| Change::AddTxt {
        name,
        ttl: 60,
        value: "v",
    };
    assert_eq!(
        update(1, "example.com", &[bad("a..example.com")]),
        Err(WireError::BadName)
    );
    assert_eq!(update(1, "a..com", &[]), Err(WireError::BadName));
    assert_eq!(txt_query(1, &"a".repeat(64)), Err(WireError::BadName));
    // A value too long for one record's 16-bit length.
    let huge = "x".repeat(70_000);
    let change = Change::AddTxt {
        name: "a.example.com",
        ttl: 60,
        value: &huge,
    };
    assert!(matches!(
        update(1, "example.com", &[change]),
        Err(WireError::TooLarge(_))
    ));
    // Long values are split into 255-byte strings and read back whole.
    let long = "y".repeat(300);
    let rdata = txt_rdata(&long);
    assert_eq!((rdata[0], rdata[256]), (255, 45));
    assert_eq!(txt_value(&rdata).as_deref(), Some(long.as_str()));
    assert_eq!(txt_rdata(""), [0]);
    assert_eq!(txt_value(&[5, b'a']), None, "string past the end");
}

#[test]
fn txt_answers_parse_with_compression() {
    let mut q = txt_query(7, "_acme-challenge.A.example.").unwrap();
    // Make it a response (QR, AA) with two answers pointing at the question name.
    q[2] = 0x84;
    q[7] = 2;
    for value in ["first", "second"] {
        q.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x3c");
        q.extend_from_slice(&(value.len() as u16 + 1).to_be_bytes());
        q.push(value.len() as u8);
        q.extend_from_slice(value.as_bytes());
    }
    let r = Message::parse_response(&q).unwrap();
    assert_eq!(
        (r.id, r.rcode(), r.authoritative(), r.truncated()),
        (7, Rcode::NoError, true, false)
    );
    assert_eq!(
        txt_values(&r, "_acme-challenge.a.example"),
        ["first", "second"]
    );
    assert!(txt_values(&r, "other.example").is_empty());
}
