//! The UPnP IGD parsers (`wingress_nat::upnp`): the SSDP search answer,
//! the device description XML (with the URL resolution it does) and the
//! SOAP answers.
//!
//! Input: a selector byte, then the message:
//! - 0: an SSDP answer (bytes), whose LOCATION is then parsed as a URL;
//! - 1: a device description fetched from `http://192.168.1.1:5000/desc.xml`;
//! - 2: a SOAP answer: status u16 (mapped onto 200 and a few errors), body;
//! - 3: a URL, and a reference joined to it.
//!
//! Checked: nothing panics; a URL that parses prints as text that parses
//! to the same URL; the control URL of a description is an http URL.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wingress_fuzz::input;
use wingress_nat::upnp::{self, HttpUrl};

const ACTIONS: [&str; 4] = [
    "GetExternalIPAddress",
    "AddPortMapping",
    "GetSpecificPortMappingEntry",
    "DeletePortMapping",
];

fn round_trip(url: &HttpUrl) {
    let text = url.to_string();
    match HttpUrl::parse(&text) {
        Ok(again) => assert_eq!(&again, url, "{text}"),
        // A path with spaces or another `http://` inside prints as text
        // that reads differently: only the address must survive.
        Err(_) => assert!(
            url.path.chars().any(|c| c.is_whitespace() || c == ':'),
            "{text}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let kind: u8 = u.arbitrary().unwrap_or(0);
    match kind % 4 {
        0 => {
            let answer = u.take_rest();
            if let Some(location) = upnp::parse_search_response(answer) {
                if let Ok(url) = HttpUrl::parse(&location) {
                    round_trip(&url);
                }
            }
        }
        1 => {
            let xml = String::from_utf8_lossy(u.take_rest());
            let location = HttpUrl::parse("http://192.168.1.1:5000/desc.xml").expect("url");
            if let Ok(service) = upnp::parse_description(&xml, &location) {
                round_trip(&service.control);
                let _ = upnp::get_external_ip(&service);
            }
        }
        2 => {
            let status: u16 = u.arbitrary().unwrap_or(0);
            let status = [200, 500, 501, 401, 404][usize::from(status % 5)];
            let action = ACTIONS[usize::from(kind / 4) % ACTIONS.len()];
            let body = String::from_utf8_lossy(u.take_rest());
            if let Ok(args) = upnp::parse_soap_response(status, &body, action) {
                assert_eq!(status, 200);
                let _ = upnp::argument(&args, "NewExternalIPAddress");
            }
        }
        _ => {
            let base = String::from_utf8_lossy(input::bytes(&mut u, 512)).into_owned();
            let reference = String::from_utf8_lossy(u.take_rest());
            if let Ok(url) = HttpUrl::parse(&base) {
                round_trip(&url);
                if let Ok(joined) = url.join(&reference) {
                    round_trip(&joined);
                }
            }
        }
    }
});
