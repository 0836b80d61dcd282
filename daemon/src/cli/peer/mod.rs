//! `wingress peer add | list | remove`: onboarding clients by editing the
//! config file (comments and layout kept), then asking a running daemon to
//! reload. `add` prints the client's wg-quick config (and a QR code); the
//! client's private key is printed once and stored nowhere.

mod client_conf;
mod qr;

use std::io::IsTerminal;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use wingress_config::{
    is_tag, parse_peer_name, parse_server, Endpoint, Env, NewPeer, ServerConfig,
};
use wingress_wg::{PrivateKey, PublicKey};

use crate::cli::admin_client::{self, AdminError};
use crate::cli::config_file::{read, report};
use client_conf::ClientConf;

/// What `peer add` was asked for.
pub(crate) struct AddArgs {
    pub(crate) name: String,
    pub(crate) tags: Vec<String>,
    pub(crate) qr: bool,
    pub(crate) endpoint: Option<String>,
    pub(crate) config: Option<PathBuf>,
}

pub(crate) fn add(args: AddArgs) -> Result<ExitCode> {
    parse_peer_name(&args.name).map_err(|e| anyhow!("peer name: {e}"))?;
    if let Some(bad) = args.tags.iter().find(|t| !is_tag(t)) {
        bail!("--tags: `{bad}` is not a valid tag (1 to 63 of a-z, 0-9 and `-`)");
    }
    let file = ConfigFile::open(args.config)?;
    let cfg = match file.parse() {
        Ok(cfg) => cfg,
        Err(code) => return Ok(code),
    };
    // Everything that can fail comes before the file changes.
    wingress_config::check_new_name(&file.text, &args.name)?;
    let server_key = daemon_public_key(&cfg)?;
    let socket = admin_client::socket_path(&cfg, &file.text);
    let endpoint = endpoint(&cfg, &file.text, &socket, args.endpoint.as_deref())?;
    let address = wingress_config::next_free_address(&cfg, &file.text)?;
    let key = PrivateKey::generate();
    let peer = NewPeer {
        name: args.name.clone(),
        public_key: key.public_key(),
        allowed_ips: vec![address],
        tags: args.tags,
    };
    let edited = wingress_config::add_peer(&file.path, &file.text, &file.env, &peer)?;
    file.write(&edited)?;
    eprintln!(
        "wingress: added peer `{}` with address {address} to {}",
        args.name,
        file.path.display()
    );
    reload(&socket);

    let conf = ClientConf {
        private_key: &key,
        address,
        dns: cfg.dns.enabled.then_some(cfg.wireguard.address.addr),
        server_key,
        endpoint: &endpoint,
        allowed_ips: cfg.wireguard.address.network(),
    }
    .to_string();
    print!("{conf}");
    if args.qr {
        println!();
        print!("{}", qr::render(&conf, std::io::stdout().is_terminal())?);
    }
    eprintln!(
        "wingress: this is the only copy of the client's private key; wingress does not keep it"
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(config: Option<PathBuf>) -> Result<ExitCode> {
    let file = ConfigFile::open(config)?;
    let cfg = match file.parse() {
        Ok(cfg) => cfg,
        Err(code) => return Ok(code),
    };
    let rows: Vec<[String; 4]> = cfg
        .peers
        .iter()
        .map(|p| {
            let ips: Vec<String> = p.allowed_ips.iter().map(|c| c.to_string()).collect();
            [
                p.name.clone(),
                p.public_key.to_base64(),
                ips.join(","),
                p.tags.join(","),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["NAME", "PUBLIC KEY", "ALLOWED IPS", "TAGS"], &rows)
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn remove(name: &str, config: Option<PathBuf>) -> Result<ExitCode> {
    let file = ConfigFile::open(config)?;
    let cfg = match file.parse() {
        Ok(cfg) => cfg,
        Err(code) => return Ok(code),
    };
    let edited = wingress_config::remove_peer(&file.path, &file.text, &file.env, name)?;
    file.write(&edited)?;
    eprintln!(
        "wingress: removed peer `{name}` from {}",
        file.path.display()
    );
    reload(&admin_client::socket_path(&cfg, &file.text));
    Ok(ExitCode::SUCCESS)
}

/// Columns padded to their widest cell.
fn table(header: &[&str; 4], rows: &[[String; 4]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let header = header.map(str::to_string);
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

// === the config file ===

/// The config being edited: where it is and what it said when read.
struct ConfigFile {
    path: PathBuf,
    text: String,
    env: Env,
}

impl ConfigFile {
    /// `--config`, else ./wingress.toml, else /etc/wingress/wingress.toml.
    /// The built-in default cannot be edited.
    fn open(config: Option<PathBuf>) -> Result<ConfigFile> {
        let path = config
            .or_else(|| {
                ["wingress.toml", "/etc/wingress/wingress.toml"]
                    .into_iter()
                    .map(PathBuf::from)
                    .find(|p| p.exists())
            })
            .ok_or_else(|| {
                anyhow!(
                    "no config file: pass --config FILE, or create ./wingress.toml or \
                     /etc/wingress/wingress.toml (a daemon started without one runs a built-in \
                     default that cannot be edited)"
                )
            })?;
        let text = read(&path)?;
        Ok(ConfigFile {
            path,
            text,
            env: Env::from_process(),
        })
    }

    /// The config as the daemon reads it, or the exit code after printing
    /// its errors.
    fn parse(&self) -> std::result::Result<ServerConfig, ExitCode> {
        parse_server(&self.path, &self.text, &self.env).map_err(|e| report(&e))
    }

    /// Replaces the file with `text` atomically, keeping its mode (and its
    /// owner, as root), writing through a symlink to its target. Refuses
    /// if the file changed since it was read (another edit at the same
    /// time), so neither change is lost silently.
    fn write(&self, text: &str) -> Result<()> {
        let target = std::fs::canonicalize(&self.path)
            .with_context(|| format!("cannot resolve {}", self.path.display()))?;
        let meta = std::fs::metadata(&target)
            .with_context(|| format!("cannot read {}", target.display()))?;
        let now = read(&target)?;
        if now != self.text {
            bail!(
                "{} changed while it was being edited; nothing was written, run the command again",
                target.display()
            );
        }
        crate::platform::keyfile::write_atomic_mode(
            &target,
            text.as_bytes(),
            meta.permissions().mode(),
        )?;
        Ok(())
    }
}

// === what the client needs to know about this node ===

/// The daemon's public key, from its private key file.
fn daemon_public_key(cfg: &ServerConfig) -> Result<PublicKey> {
    let path = match &cfg.wireguard.private_key_file {
        Some(p) => p.clone(),
        None => cfg.node.state_dir.join("private.key"),
    };
    if !path.exists() {
        bail!(
            "the daemon's private key {} does not exist yet: start the daemon once (it creates \
             the key), or set [wireguard].private_key_file",
            path.display()
        );
    }
    Ok(crate::platform::keyfile::load(&path)?.public_key())
}

/// Where clients reach this node: `--endpoint`, else the public endpoint
/// the running daemon found (NAT traversal), else a fixed
/// `[nat].advertise`, else the node's address and UDP port.
fn endpoint(cfg: &ServerConfig, text: &str, socket: &Path, flag: Option<&str>) -> Result<Endpoint> {
    if let Some(e) = flag {
        return e.parse().map_err(|e| anyhow!("--endpoint: {e}"));
    }
    if let Some(e) = published_endpoint(socket) {
        return Ok(e);
    }
    if let Some(e) = advertised(text) {
        return Ok(e);
    }
    let detected = || crate::platform::node::detect().map(|a| a.ip);
    let ip = cfg.node.ip.or_else(detected).ok_or_else(|| {
        anyhow!(
            "no endpoint for clients: set [node].ip or WINGRESS_NODE_IP, or pass --endpoint HOST:PORT"
        )
    })?;
    let port = cfg
        .wireguard
        .listen_port
        .unwrap_or_else(|| wingress_config::port_for_node_ip(ip));
    Ok(Endpoint::Addr((ip, port).into()))
}

/// `public_endpoint` from a running daemon's `/status`: `{"address":
/// "203.0.113.7:41602", ...}` (or the address string itself), when known.
fn published_endpoint(socket: &Path) -> Option<Endpoint> {
    let r = admin_client::request(socket, "GET", "/status").ok()?;
    if r.status != 200 {
        return None;
    }
    let status: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    let public = status.get("public_endpoint")?;
    let address = public.get("address").unwrap_or(public).as_str()?;
    address.parse().ok()
}

/// `[nat].advertise` when it names a fixed `host:port` (not a mode such
/// as "auto"). Read from the text: the `[nat]` schema belongs to the NAT
/// subsystem, and any value that is an endpoint means the same here.
fn advertised(text: &str) -> Option<Endpoint> {
    let doc = text.parse::<toml_edit::DocumentMut>().ok()?;
    doc.get("nat")?.get("advertise")?.as_str()?.parse().ok()
}

/// Asks a running daemon to reload; says what happened.
fn reload(socket: &Path) {
    match admin_client::request(socket, "POST", "/reload") {
        Ok(r) if (200..300).contains(&r.status) => {
            eprintln!("wingress: the running daemon reloaded its config");
        }
        Ok(r) => eprintln!(
            "wingress: warning: the running daemon refused the reload ({}): {}\n\
             it keeps serving its previous config",
            r.status,
            admin_client::error_message(&r.body)
        ),
        Err(AdminError::NotRunning(p)) => eprintln!(
            "wingress: no daemon answered on {}; the change applies when it next starts (or on SIGHUP)",
            p.display()
        ),
        Err(e) => eprintln!(
            "wingress: warning: could not ask the daemon to reload: {e}\n\
             the change applies when it next starts (or on SIGHUP)"
        ),
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
