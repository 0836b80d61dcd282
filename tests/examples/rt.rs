use std::net::UdpSocket;
use std::time::{Duration, Instant};
fn main() {
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ea = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut b = [0u8; 2048];
        while let Ok((n, f)) = echo.recv_from(&mut b) {
            let _ = echo.send_to(&b[..n], f);
        }
    });
    let relay =
        wingress_lab::Relay::start("127.0.0.1:0".parse().unwrap(), ea, Default::default(), 1)
            .unwrap();
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for i in 0..200 {
        let t = Instant::now();
        c.send_to(b"x", relay.local_addr()).unwrap();
        let mut b = [0u8; 10];
        let r = c.recv_from(&mut b);
        if t.elapsed() > Duration::from_millis(20) {
            println!("{i} {:?} {:?}", r.map(|x| x.0), t.elapsed());
        }
    }
}
