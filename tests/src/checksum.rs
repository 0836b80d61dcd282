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
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn pattern_is_reproducible() {
        assert_eq!(pattern(1000, 7), pattern(1000, 7));
        assert_ne!(pattern(1000, 7), pattern(1000, 8));
        assert_eq!(pattern(13, 1).len(), 13);
    }

    #[test]
    fn file_digest_matches_bytes() {
        let p = std::env::temp_dir().join(format!("wgl-sha-{}", std::process::id()));
        let data = pattern(100_000, 3);
        std::fs::write(&p, &data).unwrap();
        assert_eq!(sha256_file(&p).unwrap(), sha256_hex(&data));
        let _ = std::fs::remove_file(p);
    }

    #[test]
    fn serves_and_hashes_one_connection() {
        use std::io::Write;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = serve_hash_once(l);
        let data = pattern(300_000, 9);
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(&data).unwrap();
        drop(s);
        assert_eq!(
            h.join().unwrap().unwrap(),
            (data.len() as u64, sha256_hex(&data))
        );
    }
}
