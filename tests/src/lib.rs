//! `wingress-lab`: the network-namespace lab behind wingress's lab tests and
//! benchmarks.
//!
//! A lab test starts with a guard that decides, from `WINGRESS_LAB`, whether
//! the lab can and should run here:
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let Some(lab) = wingress_lab::lab_or_skip(&["wireguard-go", "wg", "iperf3"]) else {
//!     return Ok(());
//! };
//! let (a, b) = (lab.netns()?, lab.netns()?);
//! wingress_lab::veth(&a, "10.99.0.1/24", &b, "10.99.0.2/24")?;
//! # Ok(())
//! # }
//! ```
//!
//! Everything the lab creates is owned by a guard: namespaces are deleted
//! (with every process in them) on drop, spawned programs are killed on drop
//! and their output is kept in the lab's folder and printed when the test
//! panics. Errors are `anyhow` with context: this crate is test support whose
//! errors are read by a person, never matched on.

#![deny(unsafe_code)]

pub mod acme;
pub mod attack;
pub mod attack_lab;
pub mod checksum;
pub mod fairness;
pub mod impair;
pub mod iperf;
pub mod kube_api;
pub mod named;
pub mod netns;
pub mod process;
pub mod qr;
pub mod relay;
pub mod soak;
pub mod wggo;
pub mod wingress;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use anyhow::{Context, Result};

pub use checksum::{pattern, serve_hash_once, sha256_file, sha256_hex};
pub use impair::{ImpairStats, Impairer, Impairment};
pub use iperf::{Iperf3Client, Iperf3Result, Iperf3Server};
pub use netns::{veth, Netns, VethPair};
pub use process::{eventually, run_command, status_kib, Process};
pub use relay::{Relay, RelayStats};
pub use wggo::{KeyPair, WgGo, WgGoConfig, WgPeer, WgPeerStatus, WgQuick};
pub use wingress::{
    admin, metric, node_port, spawn_wingress, wait_ready, write_private_key, Forward,
    ForwardConfig, ServerConfig, ServerPeer,
};

// === impl LabMode ===

/// What `WINGRESS_LAB` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabMode {
    /// `require`: a lab test that cannot run is a failure (CI).
    Require,
    /// unset or `auto`: a lab test that cannot run is skipped with a note.
    Auto,
    /// `off`: lab tests never run.
    Off,
}

impl LabMode {
    /// Reads `WINGRESS_LAB`. An unknown value panics: a typo in CI must not
    /// silently turn into skipped tests.
    pub fn from_env() -> LabMode {
        match std::env::var("WINGRESS_LAB").as_deref().map(str::trim) {
            Err(_) | Ok("") | Ok("auto") => LabMode::Auto,
            Ok("require") => LabMode::Require,
            Ok("off") => LabMode::Off,
            Ok(other) => panic!("WINGRESS_LAB={other:?} is not one of require, auto, off"),
        }
    }
}

/// The guard at the top of every lab test: `Some(lab)` when the lab can run;
/// otherwise `None` after printing `lab test skipped: <reason>` (mode `auto`
/// or `off`), or a panic naming what is missing (mode `require`).
/// `needs` lists the programs the test runs, e.g. `["wireguard-go", "wg"]`.
pub fn lab_or_skip(needs: &[&str]) -> Option<Lab> {
    let mode = LabMode::from_env();
    if mode == LabMode::Off {
        eprintln!("lab test skipped: WINGRESS_LAB=off");
        return None;
    }
    let ready = preflight(needs)
        .and_then(|()| Lab::new().map_err(|e| format!("cannot create the lab: {e:#}")));
    match (ready, mode) {
        (Ok(lab), _) => Some(lab),
        (Err(why), LabMode::Require) => {
            panic!("lab test cannot run and WINGRESS_LAB=require: {why} (install with: bash scripts/test.sh, as root)")
        }
        (Err(why), _) => {
            eprintln!("lab test skipped: {why}");
            None
        }
    }
}

/// The guard of a test that runs programs but needs no root or namespaces
/// (systemd-analyze, python3, kubernetes-validate): `true` when every one
/// of `needs` is on PATH; otherwise "test skipped: …" (`auto`, `off`) or a
/// panic (`require`), as for [`lab_or_skip`].
pub fn tools_or_skip(needs: &[&str]) -> bool {
    let mode = LabMode::from_env();
    if mode == LabMode::Off {
        eprintln!("test skipped: WINGRESS_LAB=off");
        return false;
    }
    let missing: Vec<&str> = needs
        .iter()
        .copied()
        .filter(|p| find_program(p).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    cannot_run(
        mode,
        &format!("missing programs on PATH: {}", missing.join(", ")),
    )
}

/// The guard for a Python module a test imports (`grpc`, from PyPI's
/// grpcio): `true` when `python3 -c "import <module>"` succeeds; otherwise
/// "test skipped: …" or a panic (`require`), as for [`tools_or_skip`].
pub fn python_module_or_skip(module: &str) -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    found
        || cannot_run(
            LabMode::from_env(),
            &format!("python3 cannot import {module}"),
        )
}

/// What a guard does when a test cannot run for `why`: a panic under
/// `require`, otherwise a "test skipped" line; returns `false`.
fn cannot_run(mode: LabMode, why: &str) -> bool {
    if mode == LabMode::Require {
        panic!("test cannot run and WINGRESS_LAB=require: {why} (install with: bash scripts/test.sh, as root)");
    }
    eprintln!("test skipped: {why}");
    false
}

/// Checks what a lab test needs: root, /dev/net/tun, `ip` and the listed
/// programs on PATH, and that a network namespace can actually be created.
pub fn preflight(needs: &[&str]) -> std::result::Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("not running as root (network namespaces need it)".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun is missing".into());
    }
    let missing: Vec<&str> = ["ip", "ss"]
        .iter()
        .chain(needs)
        .copied()
        .filter(|p| find_program(p).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing programs on PATH: {}", missing.join(", ")));
    }
    // Creating a namespace is the real test (containers may forbid it);
    // done once per process.
    static NETNS_WORKS: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    NETNS_WORKS
        .get_or_init(|| {
            netns::remove_stale();
            Netns::new(&std::env::temp_dir())
                .map(drop)
                .map_err(|e| format!("cannot create a network namespace: {e:#}"))
        })
        .clone()
}

/// The full path of `program` if it is an executable file on PATH.
pub fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

// === impl Lab ===

/// One lab run: a private folder (mode 0700) for keys, configs and logs, and
/// the factory for namespaces whose processes log there. The folder is
/// removed on drop unless the test panicked or `WINGRESS_LAB_KEEP=1`.
#[derive(Debug)]
pub struct Lab {
    dir: PathBuf,
}

impl Lab {
    /// A lab without the `WINGRESS_LAB` checks (for the benchmark binary).
    pub fn new() -> Result<Lab> {
        use std::os::unix::fs::DirBuilderExt;
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wingress-lab-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Lab { dir })
    }

    /// The lab's private folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new network namespace whose spawned processes log into the lab's folder.
    pub fn netns(&self) -> Result<Netns> {
        Netns::new(&self.dir)
    }

    /// Writes `name` in the lab's folder with mode 0600 (keys, configs).
    pub fn write_file(&self, name: &str, contents: &str) -> Result<PathBuf> {
        write_private_file(&self.dir.join(name), contents)
    }

    /// Prints every `*.log` in the lab's folder to stderr.
    pub fn dump_logs(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut logs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!("---- {} ----\n{}", log.display(), process::tail(&text, 200));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var("WINGRESS_LAB_KEEP").is_ok_and(|v| v == "1") {
            eprintln!("lab folder kept: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Writes `contents` to `path` created with mode 0600. Setting the mode at
/// creation has the effect of `umask 077` without changing the process-wide
/// umask under other test threads.
pub fn write_private_file(path: &Path, contents: &str) -> Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// A plain HTTP/1.1 backend on `listener`: every request, whatever it
/// asks, gets `hello from the backend\n` and the connection closes. One
/// thread per connection; it runs until the test process exits.
pub fn hello_backend(listener: std::net::TcpListener) {
    use std::io::{BufRead, Write};
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stream.try_clone()?);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                    break;
                }
            }
            let body = "hello from the backend\n";
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )?;
            std::io::Result::Ok(())
        });
    }
}

/// The `wingress` binary: `WINGRESS_BIN` if set; else the `wingress` next to
/// the running executable (a bench binary in `target/<profile>/`) or one
/// folder up (a test binary in `target/<profile>/deps/`); else
/// `<workspace>/target/{release|debug}/wingress`. Integration tests inside
/// the daemon package should pass `env!("CARGO_BIN_EXE_wingress")` instead.
pub fn wingress_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WINGRESS_BIN") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        let found = exe
            .ancestors()
            .skip(1)
            .take(2)
            .map(|d| d.join("wingress"))
            .find(|p| p.is_file());
        if let Some(p) = found {
            return p;
        }
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join(profile).join("wingress")
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
