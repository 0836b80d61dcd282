//! BIND's `named` as a small authoritative DNS server inside a namespace:
//! the upstream resolver a DNS forwarder under test talks to.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::netns::Netns;
use crate::process::Process;

/// A running `named` (foreground, IPv4 only, no recursion), killed on drop
/// with its namespace's other processes.
#[derive(Debug)]
pub struct Named {
    process: Process,
}

impl Named {
    /// Serves `zone` with the given `A` records (`("www", 192.0.2.80)`) on
    /// 127.0.0.1:53 of `ns`, from files in `dir`. Runs as root: the lab's
    /// folder is private to root, and the namespace is the sandbox.
    pub fn start(
        ns: &Netns,
        dir: &Path,
        zone: &str,
        records: &[(&str, Ipv4Addr)],
    ) -> Result<Named> {
        std::fs::create_dir_all(dir)?;
        let d = dir.display();
        let mut zone_text = format!(
            "$TTL 60\n@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n@ IN NS ns.{zone}.\nns IN A 127.0.0.1\n"
        );
        for (name, ip) in records {
            zone_text.push_str(&format!("{name} IN A {ip}\n"));
        }
        std::fs::write(dir.join("zone.db"), zone_text)?;
        let conf = format!(
            "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  session-keyfile \"{d}/session.key\";\n  \
             listen-on port 53 {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  recursion no;\n  dnssec-validation no;\n}};\n\
             controls {{ }};\n\
             zone \"{zone}\" {{ type primary; file \"{d}/zone.db\"; }};\n"
        );
        let conf_path = dir.join("named.conf");
        std::fs::write(&conf_path, conf)?;
        let mut cmd = ns.command("named");
        cmd.args(["-g", "-4", "-c"]).arg(&conf_path);
        let mut process = Process::spawn("named", cmd, ns.log_dir())?;
        process.wait_for_log("running", Duration::from_secs(30))?;
        Ok(Named { process })
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
}
