//! Helpers for the daemon's end-to-end tests: temp dirs, keys, and the
//! `wingress` binary as a child process that dies with the test.

#![allow(
    dead_code,
    reason = "each test crate that includes this module uses a part of it"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_wingress");

pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "wingress-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `wingress ARGS` with `stdin`, returning (status code, stdout, stderr).
/// `read`, retried when a signal interrupts it: the test process does get
/// signals while it waits (seen as EINTR under load in the admin test), and
/// an interrupted read says nothing about the connection.
pub(crate) fn read_some(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            done => return done,
        }
    }
}

pub(crate) fn wingress(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut c = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A key pair written as `<name>.key` (0600); returns (path, public key).
pub(crate) fn keypair(dir: &TempDir, name: &str) -> (PathBuf, String) {
    let (_, private, _) = wingress(&["genkey"], "");
    let (_, public, _) = wingress(&["pubkey"], &private);
    let p = dir.write(&format!("{name}.key"), &private);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    (p, public.trim().to_string())
}

/// A free port on 127.0.0.1 (for UDP when `udp`, else TCP). Racy in
/// principle; fine for tests that bind it immediately.
pub(crate) fn free_port(udp: bool) -> u16 {
    if udp {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

/// A child process killed on drop; its stderr is kept for failure reports.
pub(crate) struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    pub(crate) fn spawn(dir: &TempDir, name: &str, args: &[&str]) -> Self {
        let log = dir.path(&format!("{name}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .args(args)
            .env("WINGRESS_LOG", "info,wingress=debug")
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends a signal by name (`HUP`, `TERM`).
    pub(crate) fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{name} failed");
    }

    /// Waits up to `limit` for the process to exit; its exit code.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub(crate) fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        // SIGTERM first so the daemon's shutdown path runs.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.is_running() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("---- log of {} ----\n{}", self.log.display(), self.log());
        }
    }
}

/// A TCP echo server on 127.0.0.1; returns its port.
pub(crate) fn tcp_echo() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
                let _ = s.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

/// A UDP echo server on 127.0.0.1; returns its port.
pub(crate) fn udp_echo() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n], from);
        }
    });
    port
}

/// A DNS query (RD set) for `name` and record type `qtype`.
pub(crate) fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, 0, qtype as u8, 0, 1]);
    m
}

/// Sends `q` from a fresh UDP socket and waits up to `limit` for one reply.
pub(crate) fn udp_ask(to: SocketAddr, q: &[u8], limit: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").ok()?;
    s.set_read_timeout(Some(limit)).ok()?;
    s.send_to(q, to).ok()?;
    let mut buf = [0u8; 1500];
    let n = s.recv(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// Retries `f` until it succeeds or `limit` passes.
pub(crate) fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One echo round trip over a fresh TCP connection.
pub(crate) fn tcp_round_trip(addr: SocketAddr, msg: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(msg).ok()?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).ok()?;
    Some(got)
}

/// Reads lines of `path` until one contains `needle`.
pub(crate) fn log_has(path: &Path, needle: &str) -> bool {
    std::fs::File::open(path)
        .map(|f| {
            BufReader::new(f)
                .lines()
                .map_while(Result::ok)
                .any(|l| l.contains(needle))
        })
        .unwrap_or(false)
}

/// One HTTP/1.1 request over the admin unix socket: (status, body).
pub(crate) fn admin(socket: &Path, method: &str, path: &str) -> (u16, String) {
    let mut s = std::os::unix::net::UnixStream::connect(socket)
        .unwrap_or_else(|e| panic!("admin socket {}: {e}", socket.display()));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response head");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// Writes `text` to `path` the way editors and deploy tools replace a
/// file: a temporary file beside it, renamed over it.
pub(crate) fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Writes `client.toml` for `wingress forward`: key `key`, the server with
/// public key `server_pub` on 127.0.0.1:`wg` (tunnel 100.64.0.0/24), and
/// each `(port, target)` forwarding 127.0.0.1:port to a tunnel address.
pub(crate) fn forward_config(
    dir: &TempDir,
    key: &Path,
    server_pub: &str,
    wg: u16,
    forwards: &[(u16, &str)],
) -> PathBuf {
    let tcp: Vec<(u16, &str, &str)> = forwards.iter().map(|(p, t)| (*p, *t, "tcp")).collect();
    client_config(dir, "client", key, "100.64.0.1", server_pub, wg, &tcp)
}

/// Writes `<name>.toml` for `wingress forward` with tunnel address
/// `address`: as [`forward_config`], each forward a
/// `(port, target, protocol)`.
pub(crate) fn client_config(
    dir: &TempDir,
    name: &str,
    key: &Path,
    address: &str,
    server_pub: &str,
    wg: u16,
    forwards: &[(u16, &str, &str)],
) -> PathBuf {
    let mut text = format!(
        "[wireguard]\nprivate_key_file = \"{}\"\naddress = \"{address}/32\"\n\
         [[peer]]\npublic_key = \"{server_pub}\"\nendpoint = \"127.0.0.1:{wg}\"\n\
         allowed_ips = [\"100.64.0.0/24\"]\n",
        key.display()
    );
    for (port, target, protocol) in forwards {
        text.push_str(&format!(
            "[[forward]]\nlisten = \"127.0.0.1:{port}\"\ntarget = \"{target}\"\nprotocol = \"{protocol}\"\n"
        ));
    }
    dir.write(&format!("{name}.toml"), &text)
}

/// Whether a test that needs `what` can run, `found` saying whether it is
/// there. A missing one skips the test, unless WINGRESS_LAB=require (CI),
/// where it fails: scripts/test.sh installs it.
pub(crate) fn required(found: bool, what: &str) -> bool {
    if !found {
        if std::env::var("WINGRESS_LAB").as_deref() == Ok("require") {
            panic!("{what} is missing and WINGRESS_LAB=require (bash scripts/test.sh installs it)");
        }
        eprintln!("test skipped: {what} is not installed");
    }
    found
}

/// Whether `program` is on PATH (see [`required`]).
pub(crate) fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    required(found, program)
}

/// A private CA, and what it signed, written as PEM files into a dir.
pub(crate) struct Pki {
    pub(crate) ca: PathBuf,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    pub(crate) fn new(dir: &TempDir) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "wingress test private CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ca = dir.write("private-ca.pem", &cert.pem());
        Pki {
            ca,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` (server or client use), as `<stem>.pem` and
    /// `<stem>.key`; `expired` puts its validity in the past.
    pub(crate) fn leaf(
        &self,
        dir: &TempDir,
        stem: &str,
        names: &[&str],
        client: bool,
        expired: bool,
    ) -> (PathBuf, PathBuf) {
        use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, stem);
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            dir.write(&format!("{stem}.pem"), &cert.pem()),
            dir.write(&format!("{stem}.key"), &key.serialize_pem()),
        )
    }
}

/// A server config written to `dir`: no STUN or port mapping, one host
/// entrypoint `lan` on 127.0.0.1:`https`, the internal CA for its own
/// certificates, then `rest` (transports and routes).
pub(crate) fn host_entrypoint_config(dir: &TempDir, https: u16, rest: &str) -> PathBuf {
    let (key, _) = keypair(dir, "server");
    dir.write(
        "server.toml",
        &format!(
            r#"
[node]
state_dir = "{state}"
[wireguard]
private_key_file = "{key}"
address = "100.64.0.2/24"
listen_port = {wg}
[nat]
stun_servers = []
port_mapping = false
[[entrypoint]]
name = "lan"
listen = "127.0.0.1:{https}"
[tls]
internal_ca = true
{rest}
"#,
            state = dir.path("state").display(),
            key = key.display(),
            wg = free_port(true),
        ),
    )
}

/// Waits (20 s at most) until something accepts on 127.0.0.1:`port`.
pub(crate) fn listening(port: u16) {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    eventually(Duration::from_secs(20), || TcpStream::connect(addr).ok())
        .unwrap_or_else(|| panic!("127.0.0.1:{port} listens"));
}

/// `wingress run --config cfg` once its host entrypoint on `https`
/// listens, and its internal CA's root exported to `own-ca.pem` (what
/// clients of that entrypoint trust).
pub(crate) fn serve_with_own_ca(dir: &TempDir, cfg: &str, https: u16) -> (Daemon, PathBuf) {
    let daemon = Daemon::spawn(dir, "server", &["run", "--config", cfg]);
    listening(https);
    let (code, own_ca, err) = wingress(&["ca", "export", "--config", cfg], "");
    assert_eq!(code, 0, "{err}");
    (daemon, dir.write("own-ca.pem", &own_ca))
}

/// `curl https://HOST:PORT/PATH` to 127.0.0.1:`port`, trusting `ca`, given
/// `max_time` seconds, with `extra` arguments (a client certificate, a
/// header, a form): (status, body followed by curl's stderr). Status `000`:
/// no HTTP answer (a refused handshake, a timeout).
pub(crate) fn curl_https(
    ca: &Path,
    port: u16,
    host: &str,
    path: &str,
    max_time: u32,
    extra: &[&str],
) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", &max_time.to_string(), "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .args(["-w", "\n%{http_code}"])
        .args(extra)
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        code.to_string(),
        format!("{body}{}", String::from_utf8_lossy(&out.stderr)),
    )
}
