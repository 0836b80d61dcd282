//! The UDP exchange against a fake server on loopback.

use tokio::net::UdpSocket;
use wingress_dns::wire::{MessageBuilder, Section, CLASS_IN, FLAG_AA, FLAG_QR, TYPE_TXT};

use super::*;

/// A TXT answer with the query's ID and `question` as its question, an
/// answer at `owner` carrying `value`.
fn txt_reply(id: u16, question: &str, owner: &str, value: &str) -> Vec<u8> {
    let mut b = MessageBuilder::new(id, FLAG_QR | FLAG_AA);
    b.question(&Name::parse(question).unwrap(), TYPE_TXT, CLASS_IN)
        .unwrap();
    let mut rdata = vec![value.len() as u8];
    rdata.extend_from_slice(value.as_bytes());
    b.record(
        Section::Answer,
        &Name::parse(owner).unwrap(),
        TYPE_TXT,
        CLASS_IN,
        60,
        &rdata,
    )
    .unwrap();
    b.finish()
}

/// A reply with the right ID but another question (a late answer to
/// another query, or a blind spoof) is not the answer: the one that
/// echoes the question is.
#[tokio::test]
async fn a_reply_to_another_question_is_not_the_answer() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let name = "_acme-challenge.app.example.";
    let fake = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        let (_, client) = server.recv_from(&mut buf).await.unwrap();
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let other = txt_reply(id, "_acme-challenge.other.example.", name, "spoofed");
        server.send_to(&other, client).await.unwrap();
        let right = txt_reply(id, name, name, "good");
        server.send_to(&right, client).await.unwrap();
    });
    let values = txt_values(addr, name).await.unwrap();
    assert_eq!(values, ["good"]);
    fake.await.unwrap();
}
