//! Child processes that die with the test and whose output is kept, and
//! commands run to completion with a time limit.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long a stopped process gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

// === impl Process ===

/// A spawned program, killed on drop. Its stdout and stderr go to
/// `<log_dir>/<name>.log`; when dropped during a panic the log's tail is
/// printed, so a failing test shows what its peers said.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Spawns `cmd` with stdin closed and output appended to the log file.
    pub fn spawn(name: &str, mut cmd: Command, log_dir: &Path) -> Result<Process> {
        let log = unique_log_path(log_dir, name);
        let out = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot spawn {name}: {cmd:?}"))?;
        Ok(Process {
            name: name.to_string(),
            child,
            log,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id (with `ip netns exec`, the program's own pid: it execs).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until the log contains `needle`; fails early if the process exits.
    pub fn wait_for_log(&mut self, needle: &str, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.log().contains(needle) {
                return Ok(());
            }
            if !self.is_running() {
                bail!(
                    "{} exited before logging {needle:?}; log:\n{}",
                    self.name,
                    tail(&self.log(), 50)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not log {needle:?} within {limit:?}; log:\n{}",
                    self.name,
                    tail(&self.log(), 50)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Fails with the log's tail if the process has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let status = self.child.try_wait().ok().flatten();
        Err(anyhow!(
            "{} exited ({status:?}); log:\n{}",
            self.name,
            tail(&self.log(), 50)
        ))
    }

    /// Sends `signal` (e.g. SIGTERM to let a program print its statistics).
    pub fn signal(&self, signal: Signal) -> Result<()> {
        kill(self.pid_t(), signal).with_context(|| format!("cannot signal {}", self.name))
    }

    /// SIGTERM, up to five seconds to exit, then SIGKILL. Returns the exit
    /// status (None if it could not be collected).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = kill(self.pid_t(), Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn pid_t(&self) -> Pid {
        // Linux pids fit in i32 (pid_max is at most 2^22).
        Pid::from_raw(self.child.id() as i32)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- {} ({}) ----\n{}",
                self.name,
                self.log.display(),
                tail(&self.log(), 100)
            );
        }
    }
}

/// A `kB` field of /proc/PID/status, e.g. `VmRSS` or `VmHWM`.
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))
}

/// `<dir>/<name>.log`, or `<name>-2.log`, … when a process of that name
/// already logged there.
fn unique_log_path(dir: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (1..)
        .map(|i| {
            if i == 1 {
                dir.join(format!("{safe}.log"))
            } else {
                dir.join(format!("{safe}-{i}.log"))
            }
        })
        .find(|p| !p.exists())
        .expect("an unused log name exists")
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> &str {
    if lines == 0 {
        return "";
    }
    // A trailing newline ends the last line; it does not start another.
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut start = body.len();
    for _ in 0..lines {
        match body[..start].rfind('\n') {
            Some(i) => start = i,
            None => return text,
        }
    }
    &text[start + 1..]
}

// === run to completion ===

/// Runs `cmd` to completion within `limit` (killed after it), capturing
/// output. A non-zero exit is an error that quotes the command and its stderr.
pub fn run_command(cmd: &mut Command, limit: Duration) -> Result<Output> {
    let out = run_unchecked(cmd, limit)?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(out)
}

/// Like [`run_command`] but returns the output whatever the exit status
/// (programs such as `iperf3 -J` report errors on stdout).
pub fn run_unchecked(cmd: &mut Command, limit: Duration) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    // Pipes are drained on threads so a chatty program cannot block on a
    // full pipe while we wait for it.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Calls `f` every 50 ms until it returns `Ok`, or returns its last error
/// once `limit` has passed. For readiness checks, never for assertions
/// about speed.
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let deadline = Instant::now() + limit;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!("still failing after {limit:?}")))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
