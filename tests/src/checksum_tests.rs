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
