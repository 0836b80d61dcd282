//! The smoltcp device: two queues of IP packets in pooled buffers. It never
//! refuses a transmit, so smoltcp never drops silently; the caller drains the
//! transmit queue after every poll.

use std::collections::VecDeque;

use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Recycles packet buffers so the data path does not allocate per packet.
#[derive(Debug, Default)]
pub struct BufferPool {
    free: Vec<Vec<u8>>,
    capacity: usize,
}

/// Buffers kept for reuse at most; beyond this they are freed.
const POOL_MAX: usize = 4096;

impl BufferPool {
    pub fn new(capacity: usize) -> Self {
        Self {
            free: Vec::new(),
            capacity,
        }
    }

    /// An empty buffer with room for one packet.
    pub fn take(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.capacity))
    }

    /// Keeps `buf` for reuse if it is a packet buffer: big enough for a
    /// packet, and not grown far beyond one (by junk from the network, say),
    /// so the pool's memory stays bounded by `POOL_MAX` packets.
    pub fn put(&mut self, mut buf: Vec<u8>) {
        let size = self.capacity..=self.capacity.saturating_mul(2);
        if self.free.len() < POOL_MAX && size.contains(&buf.capacity()) {
            buf.clear();
            self.free.push(buf);
        }
    }
}

#[derive(Debug)]
pub(crate) struct QueueDevice {
    pub(crate) rx: VecDeque<Vec<u8>>,
    pub(crate) tx: VecDeque<Vec<u8>>,
    pub(crate) pool: BufferPool,
    /// Buffers of consumed rx packets. smoltcp may hold a tx token (for a
    /// reply) while an rx token is alive, so rx tokens cannot borrow the pool;
    /// [`QueueDevice::recycle`] merges these back after each poll.
    spent: Vec<Vec<u8>>,
    mtu: usize,
}

impl QueueDevice {
    pub(crate) fn new(mtu: usize) -> Self {
        Self {
            rx: VecDeque::new(),
            tx: VecDeque::new(),
            pool: BufferPool::new(mtu),
            spent: Vec::new(),
            mtu,
        }
    }

    /// Queues `n` copies of `pkt` for reception, in pooled buffers.
    pub(crate) fn receive_copies(&mut self, pkt: &[u8], n: usize) {
        for _ in 0..n {
            let mut copy = self.pool.take();
            copy.extend_from_slice(pkt);
            self.rx.push_back(copy);
        }
    }

    pub(crate) fn recycle(&mut self) {
        for buf in self.spent.drain(..) {
            self.pool.put(buf);
        }
    }
}

pub(crate) struct RxToken<'a> {
    buf: Vec<u8>,
    spent: &'a mut Vec<Vec<u8>>,
}

pub(crate) struct TxToken<'a> {
    tx: &'a mut VecDeque<Vec<u8>>,
    pool: &'a mut BufferPool,
}

impl phy::Device for QueueDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let buf = self.rx.pop_front()?;
        Some((
            RxToken {
                buf,
                spent: &mut self.spent,
            },
            TxToken {
                tx: &mut self.tx,
                pool: &mut self.pool,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken {
            tx: &mut self.tx,
            pool: &mut self.pool,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        // Everything that reaches the stack was authenticated by WireGuard's
        // AEAD, which is far stronger than the Internet checksum: skip
        // verifying on receive, compute on transmit.
        let mut sums = ChecksumCapabilities::default();
        sums.ipv4 = Checksum::Tx;
        sums.tcp = Checksum::Tx;
        sums.udp = Checksum::Tx;
        sums.icmpv4 = Checksum::Tx;
        sums.icmpv6 = Checksum::Tx;
        caps.checksum = sums;
        caps
    }
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = f(&self.buf);
        self.spent.push(self.buf);
        r
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = self.pool.take();
        buf.resize(len, 0);
        let r = f(&mut buf);
        self.tx.push_back(buf);
        r
    }
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
