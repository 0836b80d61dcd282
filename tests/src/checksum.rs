//! Checksums for comparing what was sent with what arrived, and
//! reproducible test payloads.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::impair::SplitMix64;

/// Lowercase hex SHA-256 of `bytes` (the format `sha256sum` prints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex SHA-256 of a file's contents.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex(&h.finalize()))
}

/// `len` pseudo-random bytes, the same for the same `seed`: incompressible
/// and position-dependent, so reordered or duplicated data changes the hash.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Accepts one connection on `listener` and reads it to EOF on a thread,
/// returning (bytes read, SHA-256 hex). Create the listener inside a
/// namespace with [`crate::Netns::run`].
pub fn serve_hash_once(listener: TcpListener) -> JoinHandle<std::io::Result<(u64, String)>> {
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept()?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = match stream.read(&mut buf) {
                // A signal, not the stream: read again.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => r?,
            };
            if n == 0 {
                return Ok((total, hex(&h.finalize())));
            }
            h.update(&buf[..n]);
            total += n as u64;
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "checksum_tests.rs"]
mod tests;
