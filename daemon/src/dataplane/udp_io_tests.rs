use super::*;

/// Sends everything `batch` holds from `b`, waiting for the socket
/// exactly as the event loop does (a fresh socket's write readiness is
/// unknown until the reactor has seen it).
async fn flush_all(batch: &mut TxBatch, b: &UdpIo) {
    while let Err(e) = batch.flush(b) {
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
        b.writable().await.unwrap();
    }
    assert!(batch.is_empty());
}

async fn receive(a: &mut UdpIo, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while got.len() < n {
        a.readable().await.unwrap();
        a.recv_batch(|_, d| got.push(d.to_vec())).unwrap();
    }
    got
}

fn datagram(i: u32, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i as usize * 7 + j) as u8).collect()
}

#[tokio::test]
async fn batches_cross_loopback_intact() {
    let mut a = UdpIo::bind(0).unwrap();
    let b = UdpIo::bind(0).unwrap();
    let to: SocketAddr = ([127, 0, 0, 1], a.local_port().unwrap()).into();
    let mut batch = TxBatch::default();
    let mut want = Vec::new();
    for i in 0..100u32 {
        // Mostly full-size datagrams with a few odd ones, as a bulk flow
        // interleaved with ACKs looks.
        let d = datagram(i, if i % 17 == 0 { 60 } else { 1452 });
        batch.push(to, &d);
        want.push(d);
    }
    flush_all(&mut batch, &b).await;
    assert_eq!(receive(&mut a, want.len()).await, want);
}

/// `push` (replies, keepalives, STUN) and `push_with` (encrypted
/// packets, written in place into more room than they use, or not at
/// all) in one batch, with equal-sized runs that GSO joins: exactly
/// the queued datagrams arrive.
#[tokio::test]
async fn mixed_pushes_deliver_exactly_what_was_queued() {
    let mut a = UdpIo::bind(0).unwrap();
    let b = UdpIo::bind(0).unwrap();
    let to: SocketAddr = ([127, 0, 0, 1], a.local_port().unwrap()).into();
    let mut batch = TxBatch::default();
    let mut want = Vec::new();
    for i in 0..60u32 {
        let d = datagram(i, if i % 10 == 9 { 60 } else { 1200 });
        match i % 3 {
            0 => batch.push(to, &d),
            1 => batch.push_with(d.len() + 148, |out| {
                out[..d.len()].copy_from_slice(&d);
                Some((to, d.len()))
            }),
            _ => {
                batch.push_with(500, |_| None);
                batch.push(to, &d);
            }
        }
        want.push(d);
    }
    flush_all(&mut batch, &b).await;
    assert_eq!(receive(&mut a, want.len()).await, want);
}

/// A socket that stays blocked: new datagrams are dropped and counted
/// once [`MAX_QUEUED`] bytes wait.
#[test]
fn a_blocked_socket_does_not_grow_the_queue() {
    let to: SocketAddr = ([127, 0, 0, 1], 9).into();
    let mut batch = TxBatch::default();
    for i in 0..100_000u32 {
        batch.push(to, &datagram(i, 92));
    }
    assert!(batch.buf.len() <= MAX_QUEUED);
    assert!(batch.dropped > 70_000, "{}", batch.dropped);
}

/// A flood answered one reply at a time: the buffer does not keep
/// what it sent.
#[tokio::test]
async fn push_flush_cycles_keep_memory_bounded() {
    let a = UdpIo::bind(0).unwrap();
    let b = UdpIo::bind(0).unwrap();
    let to: SocketAddr = ([127, 0, 0, 1], a.local_port().unwrap()).into();
    let mut batch = TxBatch::default();
    for i in 0..20_000u32 {
        batch.push(to, &datagram(i, 92));
        if i % 4 == 3 {
            flush_all(&mut batch, &b).await;
        }
    }
    assert!(
        batch.buf.capacity() < 64 * 1024,
        "{} bytes kept after 20,000 replies",
        batch.buf.capacity()
    );
}
