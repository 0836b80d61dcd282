//! Adding and removing devices (peers) by editing the config file, with
//! comments and layout kept: the one code path behind `wingress peer add |
//! remove` and the dashboard's forms. Each caller then asks the daemon to
//! reload its own way (the CLI over the admin socket, the dashboard on the
//! admin thread); nothing here talks to a daemon.
//!
//! A new device gets the next free tunnel address and a fresh key pair;
//! its private key exists only in the returned [`Added::conf`], which the
//! caller shows once and stores nowhere.

mod client_conf;
mod qr;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use wingress_config::{
    is_tag, parse_peer_name, parse_server, Cidr, ConfigErrors, EditError, Endpoint, Env, NewPeer,
    ServerConfig,
};
use wingress_wg::{PrivateKey, PublicKey};

pub(crate) use client_conf::ClientConf;
pub(crate) use qr::{render as qr_terminal, svg as qr_svg};

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeviceError {
    /// What was asked for is wrong (a bad name or tag, a duplicate name,
    /// an unknown peer): the asker can fix it.
    #[error("{0}")]
    Input(String),
    /// Anything else: the config, the file, the subnet.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// A device to add.
#[derive(Debug, Clone)]
pub(crate) struct NewDevice {
    pub(crate) name: String,
    pub(crate) tags: Vec<String>,
}

/// What a client needs to know about this node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) server_key: PublicKey,
    pub(crate) endpoint: Endpoint,
}

/// A device that was added: its address and its wg-quick config (with
/// its private key: the only copy).
#[derive(Debug, Clone)]
pub(crate) struct Added {
    pub(crate) address: Cidr,
    pub(crate) conf: String,
}

/// A name and tags a peer may have.
pub(crate) fn check_request(device: &NewDevice) -> Result<(), DeviceError> {
    parse_peer_name(&device.name).map_err(|e| DeviceError::Input(format!("peer name: {e}")))?;
    if let Some(bad) = device.tags.iter().find(|t| !is_tag(t)) {
        return Err(DeviceError::Input(format!(
            "tags: `{bad}` is not a valid tag (1 to 63 of a-z, 0-9 and `-`)"
        )));
    }
    Ok(())
}

/// Adds `device` to `file` (whose parsed config is `cfg`): everything that
/// can fail comes before the file changes.
pub(crate) fn add(
    file: &ConfigFile,
    cfg: &ServerConfig,
    device: &NewDevice,
    node: &Node,
) -> Result<Added, DeviceError> {
    check_request(device)?;
    wingress_config::check_new_name(&file.text, &device.name).map_err(edit_error)?;
    let address = wingress_config::next_free_address(cfg, &file.text).map_err(|e| anyhow!(e))?;
    let key = PrivateKey::generate();
    let peer = NewPeer {
        name: device.name.clone(),
        public_key: key.public_key(),
        allowed_ips: vec![address],
        tags: device.tags.clone(),
    };
    let edited =
        wingress_config::add_peer(&file.path, &file.text, &file.env, &peer).map_err(edit_error)?;
    file.write(&edited)?;
    let conf = ClientConf {
        private_key: &key,
        address,
        dns: cfg.dns.enabled.then_some(cfg.wireguard.address.addr),
        server_key: node.server_key,
        endpoint: &node.endpoint,
        allowed_ips: cfg.wireguard.address.network(),
    }
    .to_string();
    Ok(Added { address, conf })
}

/// Removes the peer `name` from `file`.
pub(crate) fn remove(file: &ConfigFile, name: &str) -> Result<(), DeviceError> {
    let edited = wingress_config::remove_peer(&file.path, &file.text, &file.env, name)
        .map_err(edit_error)?;
    file.write(&edited)?;
    Ok(())
}

fn edit_error(e: EditError) -> DeviceError {
    match e {
        EditError::Duplicate { .. } | EditError::NotFound(_) => DeviceError::Input(e.to_string()),
        other => DeviceError::Failed(anyhow!(other)),
    }
}

// === impl ConfigFile ===

/// The config being edited: where it is and what it said when read.
pub(crate) struct ConfigFile {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
    pub(crate) env: Env,
}

impl ConfigFile {
    pub(crate) fn read(path: PathBuf) -> Result<ConfigFile> {
        let text = read_text(&path)?;
        Ok(ConfigFile {
            path,
            text,
            env: Env::from_process(),
        })
    }

    /// The config as the daemon reads it.
    pub(crate) fn parse(&self) -> Result<ServerConfig, ConfigErrors> {
        parse_server(&self.path, &self.text, &self.env)
    }

    /// Replaces the file with `text` atomically, keeping its mode (and its
    /// owner, as root), writing through a symlink to its target. Refuses
    /// if the file changed since it was read (another edit at the same
    /// time), so neither change is lost silently.
    pub(crate) fn write(&self, text: &str) -> Result<()> {
        let target = std::fs::canonicalize(&self.path)
            .with_context(|| format!("cannot resolve {}", self.path.display()))?;
        let meta = std::fs::metadata(&target)
            .with_context(|| format!("cannot read {}", target.display()))?;
        let now = read_text(&target)?;
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

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))
}

// === what the client needs to know about this node ===

/// The daemon's public key, from its private key file.
pub(crate) fn daemon_public_key(cfg: &ServerConfig) -> Result<PublicKey> {
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

/// Where clients reach this node: the public endpoint the running daemon
/// found (NAT traversal; `published`), else a fixed `[nat].advertise`,
/// else the node's address and UDP port.
pub(crate) fn endpoint(
    cfg: &ServerConfig,
    text: &str,
    published: Option<Endpoint>,
) -> Result<Endpoint> {
    if let Some(e) = published {
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

/// `public_endpoint` from a status document (`GET /status`): `{"address":
/// "203.0.113.7:41602", ...}` (or the address string itself), when known.
pub(crate) fn published_endpoint(status: &serde_json::Value) -> Option<Endpoint> {
    let public = status.get("public_endpoint")?;
    let address = public.get("address").unwrap_or(public).as_str()?;
    address.parse().ok()
}

/// `[nat].advertise` when it names a fixed `host:port` (not a mode such
/// as "auto"). Read from the text: the `[nat]` schema belongs to the NAT
/// subsystem, and any value that is an endpoint means the same here.
pub(crate) fn advertised(text: &str) -> Option<Endpoint> {
    let doc = text.parse::<toml_edit::DocumentMut>().ok()?;
    doc.get("nat")?.get("advertise")?.as_str()?.parse().ok()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
