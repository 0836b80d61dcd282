use super::*;

#[test]
fn the_pool_keeps_packet_buffers_only() {
    let mut pool = BufferPool::new(1420);
    let mut b = pool.take();
    // A buffer that grew by the WireGuard overhead is still one.
    b.resize(1452, 0);
    pool.put(b);
    assert_eq!(pool.free.len(), 1);
    // One grown to a 64 KiB datagram is not: it is freed.
    let mut big = pool.take();
    big.resize(65_000, 0);
    pool.put(big);
    assert!(pool.free.is_empty());
    pool.put(Vec::with_capacity(100));
    assert!(pool.free.is_empty());
    assert!(pool.take().capacity() <= 2 * 1420);
}
