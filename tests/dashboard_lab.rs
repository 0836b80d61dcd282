//! Lab test of the web dashboard with a real browser: Debian's Chromium,
//! headless, driven through Debian's chromedriver by the selenium WebDriver
//! client (tests/dashboard/drive.py), inside a namespace whose only way to
//! the daemon is a wireguard-go tunnel (its resolver is the in-tunnel DNS,
//! which answers the dashboard's host; it trusts only the internal CA).
//!
//! - A (10.99.0.1, tunnel 100.64.0.3, tag `admin`) opens every page, then
//!   adds a device `phone` through the form. The QR code on the page is
//!   cut out of a screenshot and decoded by zbarimg, and must hold exactly
//!   the config shown beside it.
//! - C (10.99.1.1) runs wireguard-go from that decoded config as is, and the
//!   peers page shows `phone` with a handshake and a live graph.
//! - D (10.99.2.1, tunnel 100.64.0.4, no tag) gets 403 from the same host.
//! - A page on another origin posting the add form (with a valid token) is
//!   refused and the config file is unchanged.
//! - Removing `phone` on the page ends C's session.
//!
//! B runs wingress. Screenshots land in the lab directory (`dashboard/`);
//! `WINGRESS_DASHBOARD_SHOTS=<dir>` also copies them there (how
//! docs/dashboard/ is made). Root only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use wingress_lab::process::{run_command, run_unchecked, Process};
use wingress_lab::{
    lab_or_skip, python_module_or_skip, spawn_wingress, veth, write_private_key, KeyPair, Lab,
    Netns, WgGo, WgQuick,
};

const B_IP: &str = "10.99.0.2";
const WG_PORT: u16 = 41602;
const HOST: &str = "wingress.home.arpa";
const READY: Duration = Duration::from_secs(60);
const BROWSER: Duration = Duration::from_secs(180);

#[test]
fn dashboard_in_chromium_through_the_tunnel() -> Result<()> {
    let Some(lab) = lab_or_skip(&[
        "wireguard-go",
        "wg",
        "wg-quick",
        "curl",
        "dig",
        "zbarimg",
        "chromium",
        "chromedriver",
        "certutil",
        "ping",
        "unshare",
        "mount",
    ]) else {
        return Ok(());
    };
    if !python_module_or_skip("selenium") {
        return Ok(());
    }
    let result = run(&lab);
    if result.is_err() {
        lab.dump_logs();
    }
    result
}

fn run(lab: &Lab) -> Result<()> {
    let (a, b, c, d) = (lab.netns()?, lab.netns()?, lab.netns()?, lab.netns()?);
    veth(&a, "10.99.0.1/24", &b, "10.99.0.2/24")?;
    veth(&c, "10.99.1.1/24", &b, "10.99.1.2/24")?;
    veth(&d, "10.99.2.1/24", &b, "10.99.2.2/24")?;
    // The configs the dashboard hands out name B's first address.
    c.ip(&["route", "add", "10.99.0.2/32", "via", "10.99.1.2"])?;
    let bin = wingress_lab::wingress_bin();
    let dir = lab.dir().join("dashboard");
    std::fs::create_dir_all(&dir)?;

    let (server, admin, guest) = (
        KeyPair::generate()?,
        KeyPair::generate()?,
        KeyPair::generate()?,
    );
    write_private_key(&dir, "server.key", &server.private)?;
    let config = dir.join("wingress.toml");
    std::fs::write(&config, server_config(&dir, &admin.public, &guest.public))?;
    let config_arg = config.display().to_string();
    run_command(
        Command::new(&bin).args(["check", "--config", &config_arg]),
        Duration::from_secs(30),
    )?;
    let (mut daemon, ca_file) = start_node(&b, &bin, &config_arg, &dir)?;

    // A: the admin's laptop, set up as wg-quick would be (DNS = the tunnel).
    let admin_conf = wg_quick(&admin.private, "100.64.0.3/32", &server.public);
    let _wg_a = WgGo::from_wg_quick(&a, &admin_conf)?;
    a.wait_ping("100.64.0.2", READY)?;
    let answer = a.exec("dig", &["+short", "+time=2", HOST])?;
    ensure!(
        answer.trim() == "100.64.0.2",
        "tunnel DNS for {HOST}: {answer:?}"
    );

    // D: a peer without the tag is refused by the route's access rule.
    let guest_conf = wg_quick(&guest.private, "100.64.0.4/32", &server.public).replace(
        &format!("{B_IP}:{WG_PORT}"),
        &format!("10.99.2.2:{WG_PORT}"),
    );
    let _wg_d = WgGo::from_wg_quick(&d, &guest_conf)?;
    d.wait_ping("100.64.0.2", READY)?;
    let out = curl_status(&d, &ca_file, "/")?;
    ensure!(out == "403", "a peer without tag:admin: {out}");

    // The browser: Chromium's NSS database trusts the internal CA.
    let home = browser_home(&dir, &ca_file)?;
    let shots = dir.join("shots");
    let before = std::fs::read_to_string(&config)?;

    let tour = drive(&a, &home, &shots, "tour", Some("phone"))?;
    ensure!(tour["whoami"] == "laptop", "signed-in peer shown: {tour}");
    eprintln!(
        "dashboard page loads over the tunnel (ms): {}",
        tour["load_ms"]
    );
    let conf = tour["conf"].as_str().context("no config on the page")?;
    ensure!(tour["download"] == "phone.conf", "{tour}");
    let q = WgQuick::parse(conf)?;
    ensure!(q.addresses == ["100.64.0.1/32"], "{conf}");
    ensure!(q.dns == ["100.64.0.2"], "{conf}");
    ensure!(
        conf.contains(&format!("Endpoint = {B_IP}:{WG_PORT}\n")),
        "{conf}"
    );
    let qr_png = tour["qr_png"].as_str().context("no QR screenshot")?;
    let decoded = zbarimg(Path::new(qr_png))?;
    ensure!(
        decoded == conf,
        "the QR code holds something else than the config:\n{decoded:?}\n{conf:?}"
    );
    // The same edit `peer add` makes: comments kept, the peer appended.
    let after = std::fs::read_to_string(&config)?;
    ensure!(
        after.starts_with(&before),
        "the config's text was kept:\n{after}"
    );
    ensure!(
        after.contains("[[peer]]\nname = \"phone\"") && after.contains("tags = [\"phone\"]"),
        "{after}"
    );
    daemon.wait_for_log("dashboard: added peer", READY)?;

    // C: the new phone, from the decoded QR code as is.
    let wg_c = WgGo::from_wg_quick(&c, &decoded)?;
    c.wait_ping("100.64.0.2", READY)?;
    wg_c.wait_for_handshake(&server.public, READY)?;
    // Some traffic from the phone, so its graph has something to draw.
    let traffic = c.spawn(
        "phone-ping",
        "ping",
        &["-q", "-i", "0.05", "-s", "1200", "-w", "30", "100.64.0.2"],
    )?;
    let seen = drive(&a, &home, &shots, "wait-connected", Some("phone"))?;
    drop(traffic);
    eprintln!("phone on the peers page: {seen}");

    // Another site posting the form, even with a stolen token: refused.
    let evil = drive(&a, &home, &shots, "cross-site", None)?;
    let body = evil["body"].as_str().unwrap_or_default();
    ensure!(body.contains("403"), "cross-site POST: {evil}");
    let text = std::fs::read_to_string(&config)?;
    ensure!(
        !text.contains("evil"),
        "the cross-site POST changed the config:\n{text}"
    );

    // Removing the device ends its session.
    let gone = drive(&a, &home, &shots, "remove", Some("phone"))?;
    ensure!(
        !gone["rows"]
            .as_array()
            .is_some_and(|r| r.iter().any(|p| p == "phone")),
        "{gone}"
    );
    let text = std::fs::read_to_string(&config)?;
    ensure!(!text.contains("name = \"phone\""), "{text}");
    ensure!(text.starts_with(&before[..before.len() - 1]), "{text}");
    wingress_lab::eventually(Duration::from_secs(20), || {
        ensure!(!pings(&c)?, "the removed phone still reaches the daemon");
        Ok(())
    })?;
    ensure!(!pings(&c)?, "the removed phone's session is over");
    // The admin's own session is untouched.
    a.wait_ping("100.64.0.2", Duration::from_secs(5))?;
    daemon.ensure_running()?;

    // The same node with its config on a read-only file system, as a
    // Kubernetes ConfigMap is mounted: the pages say why and offer no form.
    daemon.kill();
    wingress_lab::eventually(READY, || {
        ensure!(
            !b.is_listening("udp", WG_PORT)?,
            "the first daemon still listens"
        );
        Ok(())
    })?;
    let ro = dir.join("configmap");
    std::fs::create_dir_all(&ro)?;
    std::fs::copy(&config, ro.join("wingress.toml"))?;
    let mut cmd = b.command("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind -o ro \"$1\" \"$1\" && exec \"$2\" run --config \"$1/wingress.toml\"")
        .arg("sh")
        .arg(&ro)
        .arg(&bin)
        .env(
            "WINGRESS_LOG",
            std::env::var("WINGRESS_LOG").unwrap_or_else(|_| "info".into()),
        );
    let mut read_only = Process::spawn("wingress-read-only", cmd, b.log_dir())?;
    wait_up(&b, &mut read_only)?;
    a.wait_ping("100.64.0.2", READY)?;
    let seen = drive(&a, &home, &shots, "read-only", None)?;
    let banner = seen["banner"].as_str().unwrap_or_default();
    ensure!(banner.contains("read-only file system"), "{seen}");
    ensure!(seen["forms"] == 0, "forms on a read-only dashboard: {seen}");
    read_only.ensure_running()?;

    if let Ok(out) = std::env::var("WINGRESS_DASHBOARD_SHOTS") {
        copy_pngs(&shots, Path::new(&out))?;
    }
    Ok(())
}

fn server_config(dir: &Path, admin: &str, guest: &str) -> String {
    let d = dir.display();
    format!(
        "# wingress for the dashboard lab\n[node]\nip = \"{B_IP}\"\nstate_dir = \"{d}/state\"\n\n\
         [wireguard]\nprivate_key_file = \"{d}/server.key\"\naddress = \"100.64.0.2/24\"\n\n\
         [tls]\ninternal_ca = true\n\n\
         [nat]\nstun_servers = []\nport_mapping = false\n\n\
         [dns]\nforward = \"refuse\"\n\n\
         # The page, for tag:admin only (the default).\n\
         [dashboard]\nenabled = true\nhost = \"{HOST}\"\n\n\
         # A service whose backend is down, for the routes page.\n\
         [[route]]\nhost = \"photos.home.arpa\"\nbackends = [\"http://127.0.0.1:2342\"]\n\
         health_check = {{ path = \"/api/v1/status\" }}\n\n\
         [[peer]]\nname = \"laptop\"\npublic_key = \"{admin}\"\nallowed_ips = [\"100.64.0.3/32\"]\ntags = [\"admin\"]\n\n\
         [[peer]]\nname = \"tablet\"\npublic_key = \"{guest}\"\nallowed_ips = [\"100.64.0.4/32\"]\n"
    )
}

fn wg_quick(private: &str, address: &str, server: &str) -> String {
    format!(
        "[Interface]\nPrivateKey = {private}\nAddress = {address}\nDNS = 100.64.0.2\n\n\
         [Peer]\nPublicKey = {server}\nAllowedIPs = 100.64.0.0/24\nEndpoint = {B_IP}:{WG_PORT}\nPersistentKeepalive = 25\n"
    )
}

/// A HOME whose NSS database (what Chromium on Linux reads) trusts `ca`.
fn browser_home(dir: &Path, ca: &Path) -> Result<PathBuf> {
    let home = dir.join("browser-home");
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db)?;
    let db_arg = format!("sql:{}", db.display());
    run_command(
        Command::new("certutil").args(["-N", "--empty-password", "-d", &db_arg]),
        Duration::from_secs(30),
    )?;
    run_command(
        Command::new("certutil")
            .args([
                "-A",
                "-n",
                "wingress-internal-ca",
                "-t",
                "C,,",
                "-d",
                &db_arg,
                "-i",
            ])
            .arg(ca),
        Duration::from_secs(30),
    )?;
    Ok(home)
}

/// `wingress run --config CONFIG` in `b`, up (the WireGuard port and the
/// tunnel DNS), and its internal CA's root written to `DIR/ca.pem`.
fn start_node(b: &Netns, bin: &Path, config: &str, dir: &Path) -> Result<(Process, PathBuf)> {
    let mut daemon = spawn_wingress(b, bin, "wingress-run", &["run", "--config", config])?;
    wait_up(b, &mut daemon)?;
    daemon.wait_for_log("dns serving", READY)?;
    let ca = run_command(
        Command::new(bin).args(["ca", "export", "--config", config]),
        Duration::from_secs(30),
    )?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca.stdout)?;
    Ok((daemon, ca_file))
}

/// Until `daemon` listens on the WireGuard port in `b` (failing if it exits).
fn wait_up(b: &Netns, daemon: &mut Process) -> Result<()> {
    wingress_lab::eventually(READY, || {
        daemon.ensure_running()?;
        ensure!(b.is_listening("udp", WG_PORT)?, "daemon not listening yet");
        Ok(())
    })
}

/// tests/dashboard/drive.py `STEP [ARG]` against the dashboard, in `ns`,
/// with the browser's HOME (its NSS database) and screenshots to `shots`.
fn drive_command(ns: &Netns, home: &Path, shots: &Path, step: &str, arg: Option<&str>) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboard/drive.py");
    let mut cmd = ns.command("python3");
    cmd.arg(&script)
        .arg(format!("https://{HOST}"))
        .arg(shots)
        .arg(step)
        .args(arg)
        .env("HOME", home)
        .env("SE_OFFLINE", "true");
    cmd
}

/// One step of tests/dashboard/drive.py in `ns`; its last line of output.
fn drive(ns: &Netns, home: &Path, shots: &Path, step: &str, arg: Option<&str>) -> Result<Value> {
    let mut cmd = drive_command(ns, home, shots, step, arg);
    let started = Instant::now();
    let out: Output = run_unchecked(&mut cmd, BROWSER)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "drive.py {step} failed ({}):\n{}{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().context("drive.py printed nothing")?;
    eprintln!("drive.py {step}: {:?}", started.elapsed());
    serde_json::from_str(last).with_context(|| format!("drive.py {step}: {last}"))
}

/// The HTTP status of a GET of `path` on the dashboard host from `ns`.
fn curl_status(ns: &Netns, ca: &Path, path: &str) -> Result<String> {
    let ca = ca.display().to_string();
    let out = ns.exec(
        "curl",
        &[
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
            "--cacert",
            &ca,
            &format!("https://{HOST}{path}"),
        ],
    )?;
    Ok(out.trim().to_string())
}

fn zbarimg(png: &Path) -> Result<String> {
    let out = run_command(
        Command::new("zbarimg")
            .args(["--quiet", "--raw", "-Sbinary"])
            .arg(png),
        Duration::from_secs(30),
    )?;
    Ok(String::from_utf8(out.stdout)?)
}

fn pings(ns: &Netns) -> Result<bool> {
    let out = run_unchecked(
        ns.command("ping")
            .args(["-c", "1", "-W", "1", "100.64.0.2"]),
        Duration::from_secs(10),
    )?;
    Ok(out.status.success())
}

fn copy_pngs(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "png") {
            let name = path.file_name().context("file name")?;
            std::fs::copy(&path, to.join(name))?;
        }
    }
    Ok(())
}

/// The dashboard's cost, for benches/dashboard.sh (not run by `cargo test`):
/// the binary's size; the daemon's RSS idle and with 5 dashboards open on
/// the peers page (live graphs of 100 peers, one event a second each);
/// page loads over the tunnel; and single-stream iperf3 through the tunnel
/// with 0 and with 5 dashboards open, in interleaved rounds (`ROUNDS`,
/// default 3; medians), with the daemon's CPU share over each window.
#[test]
#[ignore = "a benchmark: bash benches/dashboard.sh"]
fn dashboard_bench() -> Result<()> {
    let Some(lab) = lab_or_skip(&[
        "wireguard-go",
        "wg",
        "wg-quick",
        "iperf3",
        "chromium",
        "chromedriver",
        "certutil",
    ]) else {
        return Ok(());
    };
    if !python_module_or_skip("selenium") {
        return Ok(());
    }
    let result = bench(&lab);
    if result.is_err() {
        lab.dump_logs();
    }
    result
}

fn bench(lab: &Lab) -> Result<()> {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use wingress_lab::iperf::{Iperf3Client, Iperf3Server};
    use wingress_lab::process::status_kib;

    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let (a, b) = (lab.netns()?, lab.netns()?);
    veth(&a, "10.99.0.1/24", &b, "10.99.0.2/24")?;
    let bin = wingress_lab::wingress_bin();
    let dir = lab.dir().join("dashboard-bench");
    std::fs::create_dir_all(&dir)?;
    let (server, admin, guest) = (
        KeyPair::generate()?,
        KeyPair::generate()?,
        KeyPair::generate()?,
    );
    write_private_key(&dir, "server.key", &server.private)?;
    // 100 more peers (never connected), so every event carries 102 peers.
    let mut config = server_config(&dir, &admin.public, &guest.public);
    for i in 0..100 {
        let key = KeyPair::generate()?;
        config.push_str(&format!(
            "\n[[peer]]\nname = \"device-{i}\"\npublic_key = \"{}\"\nallowed_ips = [\"100.64.{}.{}/32\"]\n",
            key.public,
            1 + i / 200,
            10 + i % 200
        ));
    }
    config = config.replace("address = \"100.64.0.2/24\"", "address = \"100.64.0.2/16\"");
    config.push_str("\n[[tcp]]\nlisten = 5201\nbackend = \"127.0.0.1:5201\"\n");
    let config_path = dir.join("wingress.toml");
    std::fs::write(&config_path, &config)?;
    let config_arg = config_path.display().to_string();
    let _iperf = Iperf3Server::start(&b, "127.0.0.1".parse()?, 5201)?;
    // The same config without the dashboard first: what it costs idle.
    let off_path = dir.join("wingress-off.toml");
    std::fs::write(
        &off_path,
        config.replace("enabled = true", "enabled = false"),
    )?;
    let off_arg = off_path.display().to_string();
    let off_rss = {
        let mut off = spawn_wingress(&b, &bin, "wingress-off", &["run", "--config", &off_arg])?;
        off.wait_for_log("dns serving", READY)?;
        std::thread::sleep(Duration::from_secs(5));
        status_kib(off.pid(), "VmRSS")?
    };
    let (daemon, ca_file) = start_node(&b, &bin, &config_arg, &dir)?;
    let _wg = WgGo::from_wg_quick(
        &a,
        &wg_quick(&admin.private, "100.64.0.3/32", &server.public)
            .replace("100.64.0.0/24", "100.64.0.0/16"),
    )?;
    a.wait_ping("100.64.0.2", READY)?;
    let home = browser_home(&dir, &ca_file)?;
    let shots = dir.join("shots");
    let pid = daemon.pid();

    std::thread::sleep(Duration::from_secs(5));
    let size = std::fs::metadata(&bin)?.len();
    let stripped_path = dir.join("wingress-stripped");
    run_command(
        Command::new("strip")
            .arg("-o")
            .arg(&stripped_path)
            .arg(&bin),
        Duration::from_secs(60),
    )?;
    let stripped = std::fs::metadata(&stripped_path)?.len();
    let idle_rss = status_kib(pid, "VmRSS")?;
    // utime + stime of /proc/<pid>/stat or of one thread's
    // /proc/<pid>/task/<tid>/stat, in clock ticks (1/100 s).
    let cpu_ticks = |stat: &str| -> Result<u64> {
        let stat = std::fs::read_to_string(stat)?;
        let rest = stat.rsplit_once(')').context("stat")?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        Ok(f.get(11).context("utime")?.parse::<u64>()?
            + f.get(12).context("stime")?.parse::<u64>()?)
    };
    // CPU share (percent of one core) over `secs` of the whole daemon and
    // of its data-plane thread (the main thread: `wingress run` drives the
    // tunnel on a current-thread runtime; the dashboard runs on the admin
    // thread).
    let (whole, main) = (
        format!("/proc/{pid}/stat"),
        format!("/proc/{pid}/task/{pid}/stat"),
    );
    let cpu_share = |secs: u64| -> Result<(f64, f64)> {
        let (w0, m0) = (cpu_ticks(&whole)?, cpu_ticks(&main)?);
        std::thread::sleep(Duration::from_secs(secs));
        let (w1, m1) = (cpu_ticks(&whole)?, cpu_ticks(&main)?);
        Ok((
            (w1 - w0) as f64 / secs as f64,
            (m1 - m0) as f64 / secs as f64,
        ))
    };
    let idle_cpu = cpu_share(10)?;

    let open_dashboards = || -> Result<(std::process::Child, Value)> {
        let mut child = drive_command(&a, &home, &shots, "load", Some("5"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let v: Value = serde_json::from_str(line.trim())
            .with_context(|| format!("drive.py load: {line:?}"))?;
        Ok((child, v))
    };
    let close = |mut child: std::process::Child| -> Result<()> {
        drop(child.stdin.take());
        child.wait()?;
        Ok(())
    };

    let (child, loads) = open_dashboards()?;
    std::thread::sleep(Duration::from_secs(5));
    let open_rss = status_kib(pid, "VmRSS")?;
    let open_cpu = cpu_share(10)?;
    close(child)?;

    let client = Iperf3Client::default().seconds(5);
    let tunnel: std::net::IpAddr = "100.64.0.2".parse()?;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let r = client.run(&a, tunnel, 5201)?;
        eprintln!("round {round}: 0 dashboards {:.2} Gbit/s", r.gbps());
        without.push(r.gbps());
        let (child, _) = open_dashboards()?;
        std::thread::sleep(Duration::from_secs(2));
        let r = client.run(&a, tunnel, 5201)?;
        eprintln!("round {round}: 5 dashboards {:.2} Gbit/s", r.gbps());
        with.push(r.gbps());
        close(child)?;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (w0, w5) = (median(&mut without), median(&mut with));
    println!("\nwingress dashboard cost ({rounds} rounds, medians; 102 peers; 2 cores shared with Chromium)");
    println!("| measure | value |\n|---|---:|");
    println!(
        "| binary size, unstripped / stripped | {:.1} / {:.1} MiB |",
        size as f64 / 1048576.0,
        stripped as f64 / 1048576.0
    );
    println!(
        "| RSS idle, same config, dashboard off | {:.1} MiB |",
        off_rss as f64 / 1024.0
    );
    println!(
        "| RSS idle, dashboard on, nobody viewing | {:.1} MiB |",
        idle_rss as f64 / 1024.0
    );
    println!(
        "| RSS with 5 dashboards open on the peers page | {:.1} MiB |",
        open_rss as f64 / 1024.0
    );
    println!(
        "| daemon CPU, idle / 5 dashboards open (whole process) | {:.1} % / {:.1} % |",
        idle_cpu.0, open_cpu.0
    );
    println!(
        "| data-plane thread CPU, idle / 5 dashboards open | {:.1} % / {:.1} % |",
        idle_cpu.1, open_cpu.1
    );
    println!(
        "| page load over the tunnel, 5 tabs (ms) | {} |",
        loads["load_ms"]
    );
    println!("| iperf3 through the tunnel, 0 dashboards | {w0:.2} Gbit/s |");
    println!("| iperf3 through the tunnel, 5 dashboards open | {w5:.2} Gbit/s |");
    println!("| ratio (5 open / none) | {:.2}x |", w5 / w0);
    Ok(())
}
