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
/// anywhere in the zone signed with the TSIG key `wingress.`.
pub struct Named {
    _process: Process,
    ns: Netns,
    zone: String,
    /// The `key "wingress." { ... };` block tsig-keygen wrote.
    key_file: PathBuf,
}

impl Named {
    pub fn start(ns: &Netns, dir: &Path, zone: &str) -> Result<Named> {
        std::fs::create_dir_all(dir)?;
        let key = run_command(
            Command::new("tsig-keygen").args(["-a", "hmac-sha256", "wingress."]),
            Duration::from_secs(30),
        )?;
        let key_file = crate::write_private_file(
            &dir.join("tsig.key"),
            &String::from_utf8_lossy(&key.stdout),
        )?;
        let zone_file = dir.join("zone.db");
        std::fs::write(
            &zone_file,
            format!(
                "$TTL 60\n@ IN SOA ns.{zone}. hostmaster.{zone}. 1 60 60 600 60\n@ IN NS ns.{zone}.\nns IN A 127.0.0.1\n"
            ),
        )?;
        let (ip, port) = NAMED_ADDR.split_once(':').context("named address")?;
        let conf = dir.join("named.conf");
        std::fs::write(
            &conf,
            format!(
                r#"include "{key}";
options {{
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
controls {{ }};
zone "{zone}" {{
    type primary;
    file "{zone_file}";
    update-policy {{ grant wingress. zonesub TXT; }};
}};
"#,
                key = key_file.display(),
                dir = dir.display(),
                zone_file = zone_file.display(),
            ),
        )?;
        let mut cmd = ns.command("named");
        cmd.args(["-g", "-4", "-c"]).arg(&conf);
        let mut process = Process::spawn("named", cmd, ns.log_dir())?;
        process.wait_for_log("running", READY)?;
        ns.wait_listening_by(&mut process, "udp", port.parse()?, READY)?;
        Ok(Named {
            _process: process,
            ns: ns.clone(),
            zone: zone.to_string(),
            key_file,
        })
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
        let (ip, port) = NAMED_ADDR.split_once(':').context("named address")?;
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
        Ok(out
            .lines()
            .map(|l| l.trim().trim_matches('"').to_string())
            .filter(|l| !l.is_empty())
            .collect())
    }
}
