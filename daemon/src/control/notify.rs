//! systemd service notifications: the `sd_notify` datagram protocol, spoken
//! directly (no libsystemd).
//!
//! Under a `Type=notify` unit, systemd passes `NOTIFY_SOCKET` (a filesystem
//! path, or an abstract socket name written with a leading `@`) and waits
//! for `READY=1` before it calls the service started. Each message is one
//! datagram of newline-separated `KEY=VALUE` assignments. Without
//! `NOTIFY_SOCKET` (not under systemd, or `Type=simple`) every call here is
//! a no-op, so callers never check.
//!
//! The daemon sends:
//! - [`ready`] once its UDP socket and host listeners are bound;
//! - [`reloading`] when a reload starts and [`ready`] again when it is done
//!   (applied or rejected: the service is serving either way), so
//!   `systemctl reload` waits for the reload instead of returning at once;
//! - [`stopping`] when shutdown begins.
//!
//! Failures to notify are logged, never fatal: a lost READY makes systemd
//! time the start out, which says more than a daemon that refuses to serve.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::OnceLock;

/// Where notifications go: the socket named by `NOTIFY_SOCKET`.
#[derive(Debug)]
pub(crate) struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
}

// === impl Notifier ===

impl Notifier {
    /// A notifier for `NOTIFY_SOCKET`'s value: `/run/systemd/notify`, or
    /// `@name` for an abstract socket (Linux). `None` for an empty value.
    pub(crate) fn new(target: &str) -> io::Result<Option<Notifier>> {
        let target = target.trim();
        if target.is_empty() {
            return Ok(None);
        }
        let addr = parse_target(target)?;
        let sock = UnixDatagram::unbound()?;
        Ok(Some(Notifier { sock, addr }))
    }

    /// Sends one message, e.g. `"READY=1\nSTATUS=serving"`.
    pub(crate) fn send(&self, message: &str) -> io::Result<()> {
        let n = self.sock.send_to_addr(message.as_bytes(), &self.addr)?;
        if n != message.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "notification datagram truncated",
            ));
        }
        Ok(())
    }
}

fn parse_target(target: &str) -> io::Result<SocketAddr> {
    if let Some(name) = target.strip_prefix('@') {
        return abstract_addr(name.as_bytes());
    }
    if !target.starts_with('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("NOTIFY_SOCKET `{target}` is neither an absolute path nor an @abstract name"),
        ));
    }
    SocketAddr::from_pathname(target)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> io::Result<SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract NOTIFY_SOCKET names exist only on Linux",
    ))
}

// === the process's notifier ===

/// The notifier for this process's `NOTIFY_SOCKET`, read once.
fn process_notifier() -> Option<&'static Notifier> {
    static NOTIFIER: OnceLock<Option<Notifier>> = OnceLock::new();
    NOTIFIER
        .get_or_init(|| {
            let target = std::env::var("NOTIFY_SOCKET").ok()?;
            match Notifier::new(&target) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "NOTIFY_SOCKET unusable; systemd will not hear from us");
                    None
                }
            }
        })
        .as_ref()
}

fn notify(message: &str) {
    let Some(n) = process_notifier() else {
        return;
    };
    match n.send(message) {
        Ok(()) => tracing::debug!(message, "notified systemd"),
        Err(e) => tracing::warn!(error = %e, message, "cannot notify systemd"),
    }
}

/// `READY=1` with a one-line `STATUS=` for `systemctl status`.
pub(crate) fn ready(status: &str) {
    notify(&format!("READY=1\nSTATUS={}", one_line(status)));
}

/// `RELOADING=1` with the `MONOTONIC_USEC=` systemd ≥ 253 requires beside it
/// (it tells this reload from an older one). Follow it with [`ready`].
pub(crate) fn reloading() {
    notify(&reloading_message(crate::platform::sys::monotonic_usec()));
}

/// `STOPPING=1`: shutdown has begun.
pub(crate) fn stopping() {
    notify("STOPPING=1\nSTATUS=stopping");
}

fn reloading_message(monotonic_usec: u64) -> String {
    format!("RELOADING=1\nMONOTONIC_USEC={monotonic_usec}\nSTATUS=reloading")
}

/// A status text that cannot inject further assignments.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
