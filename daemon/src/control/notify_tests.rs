use super::*;
use std::time::Duration;

fn receive(sock: &UnixDatagram) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn sends_to_a_path_socket() {
    let dir = std::env::temp_dir().join(format!("wingress-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let server = UnixDatagram::bind(&path).unwrap();
    let n = Notifier::new(path.to_str().unwrap()).unwrap().unwrap();
    n.send("READY=1\nSTATUS=serving").unwrap();
    assert_eq!(receive(&server), "READY=1\nSTATUS=serving");
    n.send("STOPPING=1").unwrap();
    assert_eq!(receive(&server), "STOPPING=1");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn sends_to_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("wingress-notify-test-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let server = UnixDatagram::bind_addr(&addr).unwrap();
    let n = Notifier::new(&format!("@{name}")).unwrap().unwrap();
    n.send(&reloading_message(1234)).unwrap();
    assert_eq!(
        receive(&server),
        "RELOADING=1\nMONOTONIC_USEC=1234\nSTATUS=reloading"
    );
}

#[test]
fn bad_targets_are_errors_and_empty_is_none() {
    assert!(Notifier::new("").unwrap().is_none());
    assert!(Notifier::new("  ").unwrap().is_none());
    let e = Notifier::new("relative/notify").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    // A socket nobody listens on: sending fails, it does not panic.
    let n = Notifier::new("/nonexistent-wingress-dir/notify")
        .unwrap()
        .unwrap();
    assert!(n.send("READY=1").is_err());
}

#[test]
fn status_stays_one_assignment() {
    assert_eq!(one_line("a\nREADY=1\r"), "a READY=1 ");
}

#[test]
fn monotonic_clock_moves_forward() {
    let a = crate::platform::sys::monotonic_usec();
    std::thread::sleep(Duration::from_millis(2));
    assert!(crate::platform::sys::monotonic_usec() > a);
}
