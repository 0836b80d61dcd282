use wingress_netstack::StackConfig;
use wingress_wg::PrivateKey;

use super::*;
use crate::dataplane::tunnel_stream::TunnelStream;

struct Nothing;

impl Handler for Nothing {
    fn accepted(&mut self, _: &NetRef, _: Accepted, _: Option<PeerId>) {}
    fn datagram(&mut self, _: &NetRef, _: &UdpDatagram, _: PeerId) {}
}

/// A stream dropped while the stack is borrowed (inside a callback of
/// the loop, say) is released on the loop's next turn, not leaked.
#[tokio::test]
async fn a_stream_dropped_while_the_stack_is_borrowed_is_released() {
    let config = StackConfig {
        addresses: vec![("100.64.0.2".parse().unwrap(), 24)],
        ..StackConfig::default()
    };
    let stack = Stack::new(config, Instant::now());
    let net = NetCell::new(Device::new(PrivateKey::generate()), stack);
    let id = net
        .borrow_mut()
        .stack_mut()
        .connect("100.64.0.1:80".parse().unwrap())
        .unwrap();
    let stream = TunnelStream::new(net.clone(), id);
    let held = net.borrow_mut();
    drop(stream);
    drop(held);
    let mut driver = Driver::new(net.clone(), UdpIo::bind(0).unwrap(), Nothing);
    driver.turn();
    assert!(
        net.borrow_mut().stack_mut().tcp(id).is_none(),
        "the connection is still owned by a stream that no longer exists"
    );
}
