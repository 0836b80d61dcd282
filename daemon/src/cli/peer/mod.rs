//! `wingress peer add | list | remove`: onboarding clients by editing the
//! config file (comments and layout kept), then asking a running daemon to
//! reload. `add` prints the client's wg-quick config (and a QR code); the
//! client's private key is printed once and stored nowhere. The edit
//! itself is `control::devices`, shared with the dashboard.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use wingress_config::{is_tag, parse_peer_name, Endpoint, ServerConfig};

use crate::cli::admin_client::{self, AdminError};
use crate::cli::config_file::report;
use crate::control::devices::{self, ConfigFile, NewDevice, Node};

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
    let file = open(args.config)?;
    let cfg = match parse(&file) {
        Ok(cfg) => cfg,
        Err(code) => return Ok(code),
    };
    // Everything that can fail comes before the file changes.
    wingress_config::check_new_name(&file.text, &args.name)?;
    let server_key = devices::daemon_public_key(&cfg)?;
    let socket = admin_client::socket_path(&cfg, &file.text);
    let endpoint = endpoint(&cfg, &file.text, &socket, args.endpoint.as_deref())?;
    let device = NewDevice {
        name: args.name.clone(),
        tags: args.tags,
    };
    let node = Node {
        server_key,
        endpoint,
    };
    let added = devices::add(&file, &cfg, &device, &node)?;
    eprintln!(
        "wingress: added peer `{}` with address {} to {}",
        args.name,
        added.address,
        file.path.display()
    );
    reload(&socket);

    let conf = added.conf;
    print!("{conf}");
    if args.qr {
        println!();
        print!(
            "{}",
            devices::qr_terminal(&conf, std::io::stdout().is_terminal())?
        );
    }
    eprintln!(
        "wingress: this is the only copy of the client's private key; wingress does not keep it"
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(config: Option<PathBuf>) -> Result<ExitCode> {
    let file = open(config)?;
    let cfg = match parse(&file) {
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
    let file = open(config)?;
    let cfg = match parse(&file) {
        Ok(cfg) => cfg,
        Err(code) => return Ok(code),
    };
    devices::remove(&file, name)?;
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
    ConfigFile::read(path)
}

/// The config as the daemon reads it, or the exit code after printing its
/// errors.
fn parse(file: &ConfigFile) -> std::result::Result<ServerConfig, ExitCode> {
    file.parse().map_err(|e| report(&e))
}

// === what the client needs to know about this node ===

/// Where clients reach this node: `--endpoint`, else what
/// `devices::endpoint` decides with the running daemon's public endpoint.
fn endpoint(cfg: &ServerConfig, text: &str, socket: &Path, flag: Option<&str>) -> Result<Endpoint> {
    if let Some(e) = flag {
        return e.parse().map_err(|e| anyhow!("--endpoint: {e}"));
    }
    devices::endpoint(cfg, text, published_endpoint(socket))
}

/// The public endpoint in a running daemon's `/status`, when known.
fn published_endpoint(socket: &Path) -> Option<Endpoint> {
    let r = admin_client::request(socket, "GET", "/status").ok()?;
    if r.status != 200 {
        return None;
    }
    let status: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    devices::published_endpoint(&status)
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
