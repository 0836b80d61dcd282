//! Round trips through the impairment relay with no impairment: prints the
//! ones slower than 20 ms (a latency probe for the relay itself).
//!
//!     cargo run -p wingress-lab --example rt

use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let echo = UdpSocket::bind("127.0.0.1:0")?;
    let ea = echo.local_addr()?;
    std::thread::spawn(move || {
        let mut b = [0u8; 2048];
        while let Ok((n, f)) = echo.recv_from(&mut b) {
            let _ = echo.send_to(&b[..n], f);
        }
    });
    let relay = wingress_lab::Relay::start("127.0.0.1:0".parse()?, ea, Default::default(), 1)?;
    let c = UdpSocket::bind("127.0.0.1:0")?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    for i in 0..200 {
        let t = Instant::now();
        c.send_to(b"x", relay.local_addr())?;
        let mut b = [0u8; 10];
        let r = c.recv_from(&mut b);
        if t.elapsed() > Duration::from_millis(20) {
            println!("{i} {:?} {:?}", r.map(|x| x.0), t.elapsed());
        }
    }
    Ok(())
}
