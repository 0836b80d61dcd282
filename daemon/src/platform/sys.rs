//! The few system calls the standard library and socket2 do not wrap, made
//! through nix where it has a safe wrapper. This is the only module with
//! `unsafe`: glibc's `mallopt`, which nix does not wrap.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsFd;

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::socket::{setsockopt, sockopt};
use nix::time::{clock_gettime, ClockId};

/// Sets SO_RCVBUF/SO_SNDBUF past the `net.core.{r,w}mem_max` caps when the
/// process may (CAP_NET_ADMIN), else as far as the caps allow. Large UDP
/// buffers absorb bursts that a single-threaded event loop cannot drain the
/// instant they arrive.
pub(crate) fn set_socket_buffers(sock: &impl AsFd, bytes: usize) -> io::Result<()> {
    // The kernel takes a C int; larger asks mean "as much as allowed".
    let bytes = bytes.min(libc::c_int::MAX as usize);
    if setsockopt(sock, sockopt::RcvBufForce, &bytes).is_err() {
        setsockopt(sock, sockopt::RcvBuf, &bytes)?;
    }
    if setsockopt(sock, sockopt::SndBufForce, &bytes).is_err() {
        setsockopt(sock, sockopt::SndBuf, &bytes)?;
    }
    Ok(())
}

/// Pins glibc's mmap threshold at [`crate::platform::alloc::LARGE`], the size from
/// which blocks come from glibc. TCP socket buffers are allocated zeroed and
/// large; served by mmap, their pages are committed only when written, so
/// an idle connection costs kilobytes, not megabytes. glibc otherwise raises
/// the threshold after the first large free and serves later buffers from
/// the heap, where calloc must touch every page.
pub(crate) fn pin_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called once at
    // start-up before other threads exist.
    unsafe {
        libc::mallopt(
            libc::M_MMAP_THRESHOLD,
            crate::platform::alloc::LARGE as libc::c_int,
        );
    }
}

/// Raises the soft open-files limit to the hard limit, as servers do: every
/// client and backend connection is a descriptor, and the usual soft limit
/// (1024) would refuse connections long before memory runs out. Returns the
/// new soft limit.
pub(crate) fn raise_nofile_limit() -> io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(soft.max(hard))
}

/// CLOCK_MONOTONIC in microseconds: the clock systemd's `MONOTONIC_USEC=`
/// is read against (`std::time::Instant` does not expose its value).
pub(crate) fn monotonic_usec() -> u64 {
    let Ok(ts) = clock_gettime(ClockId::CLOCK_MONOTONIC) else {
        return 0;
    };
    let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec()).unwrap_or(0);
    secs.saturating_mul(1_000_000).saturating_add(nanos / 1_000)
}

#[cfg(test)]
#[path = "sys_tests.rs"]
mod tests;
