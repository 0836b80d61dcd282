//! WireGuard device for wingress.
#![forbid(unsafe_code)]

pub mod keys;

pub use keys::{KeyError, PresharedKey, PrivateKey, PublicKey};
