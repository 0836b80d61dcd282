//! wingress's in-tunnel DNS: answers for the route hosts on the daemon's
//! tunnel address, NXDOMAIN for other names under the route domains, and
//! the bookkeeping of forwarding everything else upstream.
//!
//! Sans-IO: [`Responder::handle`] takes the bytes of one message (a UDP
//! datagram, or one length-prefixed TCP message) and returns an
//! [`Action`]: bytes to send back, a query to forward, or nothing. The
//! daemon owns the sockets, the upstream connections and the timeouts.
//!
//! The codec is written by hand rather than taken from hickory-proto: the
//! server needs one question, EDNS0 and four record types, and a small
//! parser whose every access is bounds-checked is easier to audit and
//! fuzz than a general DNS library (which would also add a large
//! dependency tree to a binary that aims to stay small).
#![forbid(unsafe_code)]

mod resolv;
pub mod wire;
mod zone;

pub use resolv::nameservers;
pub use wire::{relay_reply, reply_matches, servfail, with_id, Rcode, Response};
pub use zone::{Action, DnsStats, Forward, Lookup, Outside, Responder, Transport, Zone};

#[cfg(test)]
mod fuzz_tests;
