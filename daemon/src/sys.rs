//! The few system calls the standard library and socket2 do not wrap. This
//! is the only module with `unsafe`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

/// Sets SO_RCVBUF/SO_SNDBUF past the `net.core.{r,w}mem_max` caps when the
/// process may (CAP_NET_ADMIN), else as far as the caps allow. Large UDP
/// buffers absorb bursts that a single-threaded event loop cannot drain the
/// instant they arrive.
pub fn set_socket_buffers(sock: &impl AsRawFd, bytes: usize) -> io::Result<()> {
    let fd = sock.as_raw_fd();
    let val = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if setsockopt_int(fd, force, val).is_err() {
            setsockopt_int(fd, plain, val)?;
        }
    }
    Ok(())
}

fn setsockopt_int(fd: libc::c_int, opt: libc::c_int, val: libc::c_int) -> io::Result<()> {
    // SAFETY: `fd` is an open socket borrowed for the duration of the call;
    // the option value points at a live c_int and its exact size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&val as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Pins glibc's mmap threshold at [`crate::alloc::LARGE`], the size from
/// which blocks come from glibc. TCP socket buffers are allocated zeroed and
/// large; served by mmap, their pages are committed only when written, so
/// an idle connection costs kilobytes, not megabytes. glibc otherwise raises
/// the threshold after the first large free and serves later buffers from
/// the heap, where calloc must touch every page.
pub fn pin_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called once at
    // start-up before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, crate::alloc::LARGE as libc::c_int);
    }
}

/// Raises the soft open-files limit to the hard limit, as servers do: every
/// client and backend connection is a descriptor, and the usual soft limit
/// (1024) would refuse connections long before memory runs out. Returns the
/// new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the live struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads one rlimit from the live struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// CLOCK_MONOTONIC in microseconds: the clock systemd's `MONOTONIC_USEC=`
/// is read against (`std::time::Instant` does not expose its value).
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the live struct we
    // pass; CLOCK_MONOTONIC exists on every platform we build for.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000).saturating_add(nanos / 1_000)
}
