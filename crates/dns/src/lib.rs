//! wingress's DNS: one wire codec ([`wire`], [`Name`]) and the two things
//! built on it.
//!
//! - The in-tunnel server: answers for the route hosts on the daemon's
//!   tunnel address, NXDOMAIN for other names under the route domains,
//!   and the bookkeeping of forwarding everything else upstream.
//!   [`Responder::handle`] takes the bytes of one message (a UDP datagram,
//!   or one length-prefixed TCP message) and returns an [`Action`]: bytes
//!   to send back, a query to forward, or nothing ([`query`], [`Zone`]).
//! - The dns-01 client's messages: RFC 2136 UPDATEs adding and removing a
//!   TXT record and the TXT query that checks them ([`update`]), signed
//!   and verified with TSIG ([`tsig`], its secret file read by
//!   [`keyfile`]), and the NS and address queries
//!   that find the zone's authoritative servers to check them all
//!   ([`authority`]).
//!
//! Everything here is sans-IO: the daemon and wingress-tls's ACME driver
//! own the sockets, the retries, the timeouts and the clock (`now` is
//! passed in).
//!
//! The codec is written by hand rather than taken from hickory-proto: the
//! server needs one question, EDNS0 and four record types, the client a
//! TXT record and TSIG, and a small parser whose every access is
//! bounds-checked is easier to audit and fuzz than a general DNS library
//! (which would also add a large dependency tree to a binary that aims to
//! stay small).
#![forbid(unsafe_code)]

pub mod authority;
mod error;
pub mod keyfile;
mod name;
pub mod query;
mod resolv;
pub mod tsig;
pub mod update;
pub mod wire;
mod zone;

pub use query::{relay_reply, reply_matches, servfail, with_id, Response};
pub use resolv::nameservers;
pub use tsig::{TsigAlgorithm, TsigError, TsigKey};
pub use wire::{Message, Name, Rcode, WireError};
pub use zone::{Action, DnsStats, Forward, Lookup, Outside, Responder, Transport, Zone};

#[cfg(test)]
mod fuzz_tests;
