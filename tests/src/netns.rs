//! Network namespaces (`ip netns`) owned by a guard, and veth pairs between them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::process::{run_command, Process};

/// Every lab name starts with this, followed by the creating process's pid,
/// so leftovers of a killed run can be recognised and removed.
const PREFIX: &str = "wgl-";

/// Time limit for `ip`, `ss` and other quick configuration commands.
const QUICK: Duration = Duration::from_secs(30);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A number unique within this process, for namespace and interface names.
pub(crate) fn next_id() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

// === impl Netns ===

/// A network namespace named `wgl-<pid>-<n>` with `lo` up. Clones share it;
/// when the last clone is dropped every process inside is killed and the
/// namespace is deleted.
#[derive(Debug, Clone)]
pub struct Netns {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    log_dir: PathBuf,
}

impl Netns {
    /// Creates a namespace; processes spawned in it log into `log_dir`.
    pub fn new(log_dir: &Path) -> Result<Netns> {
        let name = format!("{PREFIX}{}-{}", std::process::id(), next_id());
        ip(&["netns", "add", &name])?;
        // From here on the guard owns the namespace, even if `lo` fails.
        let ns = Netns {
            inner: Arc::new(Inner {
                name,
                log_dir: log_dir.to_path_buf(),
            }),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Where processes spawned in this namespace log.
    pub fn log_dir(&self) -> &Path {
        &self.inner.log_dir
    }

    /// `ip netns exec <name> <program>`: add arguments and environment, then
    /// run or spawn it. `ip netns exec` execs the program, so the child's pid
    /// is the program's.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.name()]).arg(program);
        c
    }

    /// Runs `program args` inside the namespace to completion (30 s limit)
    /// and returns its stdout; a failure quotes its stderr.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        let out = run_command(self.command(program).args(args), QUICK)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ip -n <name> ARGS`.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", self.name()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Spawns `program args` inside the namespace as a [`Process`] logging
    /// to `<log_dir>/<name>.log`.
    pub fn spawn<S: AsRef<OsStr>>(
        &self,
        name: &str,
        program: impl AsRef<OsStr>,
        args: &[S],
    ) -> Result<Process> {
        let mut cmd = self.command(program);
        cmd.args(args);
        Process::spawn(name, cmd, self.log_dir())
    }

    /// Runs `f` on a thread that has entered the namespace. Sockets belong to
    /// the namespace they were created in, so `f` can create listeners and
    /// connections that are then used from any thread:
    /// `let l = b.run(|| TcpListener::bind("100.64.0.2:9000"))??;`
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let path = Path::new("/var/run/netns").join(self.name());
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        std::thread::scope(|s| {
            let handle = s.spawn(move || -> Result<T> {
                // setns with CLONE_NEWNET changes only the calling thread.
                setns(&file, CloneFlags::CLONE_NEWNET).context("setns")?;
                Ok(f())
            });
            match handle.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Whether something listens on `port` (`tcp` or `udp`) in the namespace.
    pub fn is_listening(&self, proto: &str, port: u16) -> Result<bool> {
        let flag = if proto == "udp" { "-Hlun" } else { "-Hltn" };
        let out = self.exec("ss", &[flag, &format!("sport = :{port}")])?;
        Ok(!out.trim().is_empty())
    }

    /// Waits until something listens on `port`; fails after `limit`.
    pub fn wait_listening(&self, proto: &str, port: u16, limit: Duration) -> Result<()> {
        self.wait_until_listening(None, proto, port, limit)
    }

    /// Like [`Netns::wait_listening`], for the program `p` that should open
    /// the port: fails at once if it exits first, and with its log.
    pub fn wait_listening_by(
        &self,
        p: &mut Process,
        proto: &str,
        port: u16,
        limit: Duration,
    ) -> Result<()> {
        self.wait_until_listening(Some(p), proto, port, limit)
    }

    fn wait_until_listening(
        &self,
        mut p: Option<&mut Process>,
        proto: &str,
        port: u16,
        limit: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(p) = p.as_deref_mut() {
                p.ensure_running()?;
            }
            if self.is_listening(proto, port)? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let log = p
                    .map(|p| format!("; {} log:\n{}", p.name(), p.log()))
                    .unwrap_or_default();
                return Err(anyhow!(
                    "nothing listens on {proto} port {port} in {} after {limit:?}{log}",
                    self.name()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Gives programs in the namespace their own /etc/resolv.conf: `ip
    /// netns exec` bind-mounts `/etc/netns/<name>/resolv.conf` over it (what
    /// wg-quick's `DNS =` does for a whole host). Removed with the
    /// namespace. Also keeps the namespace off the host's resolver.
    pub fn set_resolv_conf(&self, text: &str) -> Result<()> {
        let dir = etc_dir(self.name());
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("resolv.conf");
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    /// `ping -c 1` until a reply arrives or `limit` passes.
    pub fn wait_ping(&self, addr: &str, limit: Duration) -> Result<()> {
        crate::eventually(limit, || {
            self.exec("ping", &["-c", "1", "-W", "1", "-n", addr])
                .map(drop)
        })
        .with_context(|| format!("{addr} does not answer ping from {}", self.name()))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        remove(&self.name);
    }
}

/// Kills every process in namespace `name` and deletes it. Best effort:
/// used from Drop and from signal handlers.
fn remove(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = pids_in(name);
        if pids.is_empty() || Instant::now() >= deadline {
            break;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // Killed processes release their TUN devices and sockets only once
        // they are gone; deleting the namespace before that leaks them.
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
    let _ = std::fs::remove_dir_all(etc_dir(name));
}

/// The per-namespace /etc overlay of `ip netns exec`.
fn etc_dir(name: &str) -> PathBuf {
    Path::new("/etc/netns").join(name)
}

fn pids_in(name: &str) -> Vec<i32> {
    let out = Command::new("ip").args(["netns", "pids", name]).output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

fn lab_namespaces() -> Vec<(String, u32)> {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|name| {
            let pid = name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()?;
            Some((name.to_string(), pid))
        })
        .collect()
}

/// Removes namespaces (and wireguard-go sockets) left behind by lab
/// processes that no longer exist, e.g. a benchmark stopped with SIGKILL.
pub fn remove_stale() {
    for (name, pid) in lab_namespaces() {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            remove(&name);
        }
    }
    // /etc overlays of lab namespaces that are gone.
    if let Ok(entries) = std::fs::read_dir("/etc/netns") {
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix(PREFIX)
                .and_then(|r| r.split('-').next()?.parse::<u32>().ok());
            if let Some(pid) = pid {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    crate::wggo::remove_stale_sockets();
}

/// Removes every namespace created by process `pid` (for a signal handler
/// in the benchmark: its guards do not run when it is interrupted).
pub fn remove_all_of(pid: u32) {
    for (name, owner) in lab_namespaces() {
        if owner == pid {
            remove(&name);
        }
    }
}

// === veth ===

/// The interface names of a veth pair: `a` lives in the first namespace.
#[derive(Debug, Clone)]
pub struct VethPair {
    pub a: String,
    pub b: String,
}

/// Joins `a` and `b` with a veth pair, addresses them (`"10.99.0.1/24"`)
/// and brings both ends up. Removed with the namespaces.
pub fn veth(a: &Netns, a_addr: &str, b: &Netns, b_addr: &str) -> Result<VethPair> {
    let n = next_id();
    let pair = VethPair {
        a: format!("vl{n}a"),
        b: format!("vl{n}b"),
    };
    a.ip(&[
        "link",
        "add",
        &pair.a,
        "type",
        "veth",
        "peer",
        "name",
        &pair.b,
        "netns",
        b.name(),
    ])?;
    a.ip(&["addr", "add", a_addr, "dev", &pair.a])?;
    b.ip(&["addr", "add", b_addr, "dev", &pair.b])?;
    a.ip(&["link", "set", &pair.a, "up"])?;
    b.ip(&["link", "set", &pair.b, "up"])?;
    Ok(pair)
}

fn ip(args: &[&str]) -> Result<String> {
    let out = run_command(Command::new("ip").args(args), QUICK)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
