//! A rogue UPnP "gateway" on the node's LAN: it answers every SSDP search
//! at once, pointing first at 127.0.0.1 (the node's own loopback) and then
//! at itself, and serves a device description and SOAP answers that would
//! report a made-up external address. A daemon that believed it would
//! fetch from those places and publish that address; the counters say
//! whether anything came.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use wingress_lab::Netns;

use super::topology::LAN_HOST_IP;

/// The external address the rogue's SOAP answers claim.
pub(crate) const ROGUE_EXTERNAL: &str = "198.51.100.66";
const HTTP_PORT: u16 = 5000;
const SSDP_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);

/// The running responder; it stops when dropped.
pub(crate) struct Rogue {
    stop: Arc<AtomicBool>,
    /// SSDP answers sent.
    pub answers: Arc<AtomicUsize>,
    /// HTTP requests to the rogue itself.
    pub own_hits: Arc<AtomicUsize>,
    /// HTTP requests to 127.0.0.1:5000 in the node's namespace.
    pub loopback_hits: Arc<AtomicUsize>,
}

impl Rogue {
    /// The SSDP responder and an HTTP server in `lan_host`, and an HTTP
    /// server on 127.0.0.1:5000 in `node`.
    pub(crate) fn start(lan_host: &Netns, node: &Netns) -> Result<Rogue> {
        let rogue = Rogue {
            stop: Arc::new(AtomicBool::new(false)),
            answers: Arc::default(),
            own_hits: Arc::default(),
            loopback_hits: Arc::default(),
        };
        let own_ip: Ipv4Addr = LAN_HOST_IP.parse()?;
        let (ssdp, own_http) = lan_host.run(|| -> std::io::Result<_> {
            let ssdp = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 1900))?;
            ssdp.join_multicast_v4(&SSDP_GROUP, &own_ip)?;
            Ok((ssdp, TcpListener::bind((own_ip, HTTP_PORT))?))
        })??;
        let loopback_http = node.run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, HTTP_PORT)))??;
        ssdp.set_read_timeout(Some(Duration::from_millis(100)))?;
        let (stop, answers) = (rogue.stop.clone(), rogue.answers.clone());
        std::thread::spawn(move || answer_searches(&ssdp, &stop, &answers));
        for (listener, hits) in [
            (own_http, rogue.own_hits.clone()),
            (loopback_http, rogue.loopback_hits.clone()),
        ] {
            listener.set_nonblocking(true)?;
            let stop = rogue.stop.clone();
            std::thread::spawn(move || serve_http(&listener, &stop, &hits));
        }
        Ok(rogue)
    }

    pub(crate) fn answers(&self) -> usize {
        self.answers.load(Ordering::Relaxed)
    }

    /// HTTP requests that reached the rogue or the node's loopback.
    pub(crate) fn hits(&self) -> (usize, usize) {
        (
            self.own_hits.load(Ordering::Relaxed),
            self.loopback_hits.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Rogue {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer_searches(sock: &UdpSocket, stop: &AtomicBool, answers: &AtomicUsize) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if !buf[..n].starts_with(b"M-SEARCH") {
            continue;
        }
        for host in ["127.0.0.1", LAN_HOST_IP] {
            let answer = format!(
                "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n\
                 ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
                 USN: uuid:00000000-0000-0000-0000-000000000bad::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
                 EXT:\r\nLOCATION: http://{host}:{HTTP_PORT}/rootDesc.xml\r\n\r\n"
            );
            if sock.send_to(answer.as_bytes(), from).is_ok() {
                answers.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn serve_http(listener: &TcpListener, stop: &AtomicBool, hits: &AtomicUsize) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((s, _)) => {
                hits.fetch_add(1, Ordering::Relaxed);
                let _ = answer_http(s);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// One request: the description (its control URL relative, so on this
/// host), or a SOAP answer granting whatever is asked.
fn answer_http(s: TcpStream) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let (mut length, mut action) = (0usize, String::new());
    let mut line = String::new();
    r.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        } else if lower.starts_with("soapaction:") {
            action = h.to_string();
        }
    }
    let mut body = vec![0u8; length.min(64 * 1024)];
    r.read_exact(&mut body)?;
    let service = "urn:schemas-upnp-org:service:WANIPConnection:1";
    let reply = if action.contains("GetExternalIPAddress") {
        soap(
            "GetExternalIPAddress",
            &format!("<NewExternalIPAddress>{ROGUE_EXTERNAL}</NewExternalIPAddress>"),
        )
    } else if action.contains("#") {
        let name = action
            .rsplit('#')
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches('"');
        soap(name, "")
    } else {
        format!(
            "<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\"><device><serviceList><service>\
             <serviceType>{service}</serviceType><controlURL>/ctl/IPConn</controlURL></service></serviceList></device></root>"
        )
    };
    let mut s = s;
    write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )
}

fn soap(action: &str, args: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
         <u:{action}Response xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">{args}</u:{action}Response>\
         </s:Body></s:Envelope>"
    )
}
