//! ACME servers for the lab, all inside a namespace the test created:
//! pebble (the CA, with its own HTTPS certificate made by openssl here),
//! pebble-challtestsrv (its DNS, answering 127.0.0.1 for every name) and
//! named (bind9, authoritative for a test zone and updated with TSIG).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::netns::Netns;
use crate::process::{run_command, Process};

pub const PEBBLE_DIRECTORY: &str = "https://127.0.0.1:14000/dir";
pub const CHALLTESTSRV_DNS: &str = "127.0.0.1:8053";
const CHALLTESTSRV_MANAGEMENT: &str = "127.0.0.1:8055";
pub const NAMED_ADDR: &str = "127.0.0.1:5300";
/// The secondary of [`Named::start_with_secondary`]: port 53, as for any
/// name server that is not the configured one.
pub const NAMED_SECONDARY: &str = "127.0.0.2:53";
const READY: Duration = Duration::from_secs(30);

/// A running pebble. Its CA (a new one on every start) is not the one that
/// signs its HTTPS endpoint: [`Pebble::https_ca`] is what ACME clients
/// trust for the directory, [`Pebble::issuing_root`] what TLS clients
/// trust for the certificates it issues.
pub struct Pebble {
    process: Process,
    ns: Netns,
    https_ca: PathBuf,
}

/// How to start pebble.
pub struct PebbleOptions<'a> {
    /// The DNS server pebble resolves (and validates dns-01) with.
    pub dns_server: &'a str,
    /// Lifetime of issued certificates (pebble's default is five years).
    pub validity_secs: Option<u64>,
}

impl Pebble {
    /// Starts pebble in `ns` with one nonce in five rejected
    /// (PEBBLE_WFE_NONCEREJECT=20) and no validation delay; its HTTPS
    /// certificate and config live in `dir`.
    pub fn start(ns: &Netns, dir: &Path, opts: &PebbleOptions<'_>) -> Result<Pebble> {
        std::fs::create_dir_all(dir)?;
        let sh = r#"set -e
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=pebble https CA" -keyout https-ca.key -out https-ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout https.key -out https.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > https.ext
openssl x509 -req -in https.csr -CA https-ca.pem -CAkey https-ca.key -CAcreateserial \
  -days 2 -extfile https.ext -out https.pem 2>/dev/null
"#;
        run_command(
            Command::new("sh").args(["-c", sh]).current_dir(dir),
            Duration::from_secs(30),
        )
        .context("openssl could not make pebble's HTTPS certificate")?;
        let validity = opts
            .validity_secs
            .map(|s| format!(",\n    \"certificateValidityPeriod\": {s}"))
            .unwrap_or_default();
        let config = format!(
            r#"{{
  "pebble": {{
    "listenAddress": "127.0.0.1:14000",
    "managementListenAddress": "127.0.0.1:15000",
    "certificate": "{dir}/https.pem",
    "privateKey": "{dir}/https.key",
    "httpPort": 5002,
    "tlsPort": 5001,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false{validity}
  }}
}}
"#,
            dir = dir.display()
        );
        let config_path = dir.join("pebble-config.json");
        std::fs::write(&config_path, config)?;
        let mut cmd = ns.command("pebble");
        cmd.arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", opts.dns_server])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "20");
        let mut process = Process::spawn("pebble", cmd, ns.log_dir())?;
        ns.wait_listening_by(&mut process, "tcp", 14000, READY)?;
        ns.wait_listening_by(&mut process, "tcp", 15000, READY)?;
        Ok(Pebble {
            process,
            ns: ns.clone(),
            https_ca: dir.join("https-ca.pem"),
        })
    }

    /// The CA file that verifies pebble's own HTTPS endpoints.
    pub fn https_ca(&self) -> &Path {
        &self.https_ca
    }

    /// The root that issued certificates chain to (management /roots/0).
    pub fn issuing_root(&self) -> Result<String> {
        let ca = self.https_ca.display().to_string();
        let pem = self.ns.exec(
            "curl",
            &[
                "-sS",
                "--fail",
                "--cacert",
                &ca,
                "https://127.0.0.1:15000/roots/0",
            ],
        )?;
        ensure!(
            pem.contains("BEGIN CERTIFICATE"),
            "no root from pebble: {pem}"
        );
        Ok(pem)
    }

    /// How many orders pebble has created so far (from its log).
    pub fn orders(&self) -> usize {
        self.process
            .log()
            .lines()
            .filter(|l| l.contains("Added order"))
            .count()
    }

    /// How many challenges pebble has started to validate (from its log:
    /// the validation authority logs each task it takes).
    pub fn validations(&self) -> usize {
        self.process
            .log()
            .lines()
            .filter(|l| l.contains("Pulled a task from the Tasks queue"))
            .count()
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// pebble-challtestsrv as pebble's DNS: every name is 127.0.0.1 unless
/// [`ChallTestSrv::add_a`] says otherwise.
pub struct ChallTestSrv {
    _process: Process,
    ns: Netns,
}

impl ChallTestSrv {
    pub fn start(ns: &Netns) -> Result<ChallTestSrv> {
        let mut cmd = ns.command("pebble-challtestsrv");
        cmd.args([
            "-dns01",
            CHALLTESTSRV_DNS,
            "-management",
            CHALLTESTSRV_MANAGEMENT,
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
        ]);
        let mut process = Process::spawn("challtestsrv", cmd, ns.log_dir())?;
        ns.wait_listening_by(&mut process, "udp", 8053, READY)?;
        ns.wait_listening_by(&mut process, "tcp", 8055, READY)?;
        Ok(ChallTestSrv {
            _process: process,
            ns: ns.clone(),
        })
    }

    /// Makes `host` resolve to `ip` (for pebble) instead of 127.0.0.1.
    pub fn add_a(&self, host: &str, ip: &str) -> Result<()> {
        let body = format!(r#"{{"host":"{host}","addresses":["{ip}"]}}"#);
        let url = format!("http://{CHALLTESTSRV_MANAGEMENT}/add-a");
        self.ns
            .exec("curl", &["-sS", "--fail", "-d", &body, &url])
            .map(drop)
    }
}

/// named, authoritative for `zone` on [`NAMED_ADDR`], accepting TXT updates
/// anywhere in the zone signed with the TSIG key `wingress.`. The zone's
/// NS record `ns.<zone>` has named's own address, so the dns-01 check finds
/// it through the NS set; [`Named::start_with_secondary`] adds a second
/// authoritative server.
pub struct Named {
    _process: Process,
    secondary: Option<Process>,
    ns: Netns,
    zone: String,
    /// The `key "wingress." { ... };` block tsig-keygen wrote.
    key_file: PathBuf,
}

impl Named {
    pub fn start(ns: &Netns, dir: &Path, zone: &str) -> Result<Named> {
        Named::start_inner(ns, dir, zone, false)
    }

    /// Like [`Named::start`], plus a second named on [`NAMED_SECONDARY`]
    /// (port 53 of another loopback address) as a secondary for the zone,
    /// listed in its NS set as `ns2.<zone>`: the primary notifies it after
    /// every update (no delay) and it transfers the change, authenticated
    /// with a second TSIG key, `transfer.`.
    pub fn start_with_secondary(ns: &Netns, dir: &Path, zone: &str) -> Result<Named> {
        Named::start_inner(ns, dir, zone, true)
    }

    fn start_inner(ns: &Netns, dir: &Path, zone: &str, with_secondary: bool) -> Result<Named> {
        std::fs::create_dir_all(dir)?;
        let key_file = tsig_key(dir, "tsig.key", "wingress.")?;
        let transfer_key = tsig_key(dir, "transfer.key", "transfer.")?;
        let (secondary_ip, secondary_port) = NAMED_SECONDARY.split_once(':').context("address")?;
        let zone_file = dir.join("zone.db");
        let mut zone_text = format!(
            "$TTL 60\n@ IN SOA ns.{zone}. hostmaster.{zone}. 1 60 60 600 60\n@ IN NS ns.{zone}.\nns IN A 127.0.0.1\n"
        );
        let mut primary_zone_options = String::new();
        if with_secondary {
            zone_text.push_str(&format!("@ IN NS ns2.{zone}.\nns2 IN A {secondary_ip}\n"));
            primary_zone_options = format!(
                "    notify explicit;\n    notify-delay 0;\n    also-notify {{ {secondary_ip} port {secondary_port}; }};\n    allow-transfer {{ key transfer.; }};\n"
            );
        }
        std::fs::write(&zone_file, zone_text)?;
        let (ip, port) = NAMED_ADDR.split_once(':').context("named address")?;
        let conf = dir.join("named.conf");
        std::fs::write(
            &conf,
            format!(
                r#"include "{key}";
include "{transfer_key}";
{options}
zone "{zone}" {{
    type primary;
    file "{zone_file}";
    update-policy {{ grant wingress. zonesub TXT; }};
{primary_zone_options}}};
"#,
                key = key_file.display(),
                transfer_key = transfer_key.display(),
                options = named_options(dir, ip, port),
                zone_file = zone_file.display(),
            ),
        )?;
        let mut cmd = ns.command("named");
        cmd.args(["-g", "-4", "-c"]).arg(&conf);
        let mut process = Process::spawn("named", cmd, ns.log_dir())?;
        process.wait_for_log("running", READY)?;
        ns.wait_listening_by(&mut process, "udp", port.parse()?, READY)?;
        let secondary = if with_secondary {
            Some(start_secondary(
                ns,
                &dir.join("secondary"),
                zone,
                &transfer_key,
            )?)
        } else {
            None
        };
        Ok(Named {
            _process: process,
            secondary,
            ns: ns.clone(),
            zone: zone.to_string(),
            key_file,
        })
    }

    /// The secondary's process (to freeze it with SIGSTOP), if started.
    pub fn secondary(&self) -> Option<&Process> {
        self.secondary.as_ref()
    }

    /// The namespace named runs in (for dig from another thread).
    pub fn netns_name(&self) -> &str {
        self.ns.name()
    }

    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// The key block (`tsig-keygen` output), mode 0600.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// The TXT values at `name`, asked of named itself with dig.
    pub fn dig_txt(&self, name: &str) -> Result<Vec<String>> {
        self.dig_txt_at(NAMED_ADDR, name)
    }

    /// The TXT values at `name`, asked of the server at `addr` with dig.
    pub fn dig_txt_at(&self, addr: &str, name: &str) -> Result<Vec<String>> {
        let (ip, port) = addr.split_once(':').context("server address")?;
        let out = self.ns.exec(
            "dig",
            &[
                &format!("@{ip}"),
                "-p",
                port,
                "+short",
                "+norecurse",
                "+time=1",
                "+tries=2",
                "TXT",
                name,
            ],
        )?;
        // A quoted string per TXT record; `;;` lines are dig's comments
        // (a timeout), not records.
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('"'))
            .map(|l| l.trim_matches('"').to_string())
            .collect())
    }
}

/// The options block of a private named listening on `ip` port `port`.
fn named_options(dir: &Path, ip: &str, port: &str) -> String {
    format!(
        r#"options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ {ip}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    allow-query {{ any; }};
}};
controls {{ }};"#,
        dir = dir.display(),
    )
}

/// A new TSIG key `name` in `dir/file` (mode 0600).
fn tsig_key(dir: &Path, file: &str, name: &str) -> Result<PathBuf> {
    let key = run_command(
        Command::new("tsig-keygen").args(["-a", "hmac-sha256", name]),
        Duration::from_secs(30),
    )?;
    crate::write_private_file(&dir.join(file), &String::from_utf8_lossy(&key.stdout))
}

/// named as a secondary for `zone` on [`NAMED_SECONDARY`], transferring
/// from the primary on [`NAMED_ADDR`] with the `transfer.` key. Returns
/// once it has the zone. named only listens on addresses an interface
/// has, so the namespace's loopback gets this one first.
fn start_secondary(ns: &Netns, dir: &Path, zone: &str, transfer_key: &Path) -> Result<Process> {
    std::fs::create_dir_all(dir)?;
    let (ip, port) = NAMED_SECONDARY.split_once(':').context("address")?;
    ns.ip(&["addr", "add", &format!("{ip}/8"), "dev", "lo"])?;
    let (primary_ip, primary_port) = NAMED_ADDR.split_once(':').context("address")?;
    let conf = dir.join("named.conf");
    std::fs::write(
        &conf,
        format!(
            r#"include "{key}";
{options}
zone "{zone}" {{
    type secondary;
    file "{dir}/zone.db";
    primaries {{ {primary_ip} port {primary_port} key transfer.; }};
    allow-notify {{ {primary_ip}; }};
    notify no;
}};
"#,
            key = transfer_key.display(),
            options = named_options(dir, ip, port),
            dir = dir.display(),
        ),
    )?;
    let mut cmd = ns.command("named");
    cmd.args(["-g", "-4", "-c"]).arg(&conf);
    let mut process = Process::spawn("named-secondary", cmd, ns.log_dir())?;
    process.wait_for_log(&format!("zone {zone}/IN: transferred serial"), READY)?;
    ns.wait_listening_by(&mut process, "udp", port.parse()?, READY)?;
    Ok(process)
}
