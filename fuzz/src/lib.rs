//! What the fuzz targets in `fuzz_targets/` share: how an input is cut
//! into fields ([`input`]), the WireGuard fixtures ([`wg`]), the IP
//! packets the netstack target builds ([`ip`]), a TSIG signer ([`dns`])
//! and a certificate builder ([`x509`]). The seed generator
//! (`examples/seeds/`) writes its corpora with the same [`input::Seed`]
//! encoding, so every committed seed reads as the target expects.

pub mod dns;
pub mod input;
pub mod ip;
pub mod wg;
pub mod x509;
