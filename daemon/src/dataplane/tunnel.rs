//! Setting up one side of a tunnel from config: keys, the peer table, the
//! stack, the UDP socket. Shared by `run` and `forward`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use wingress_config::{Cidr, Endpoint, InterfaceConfig, PeerConfig};
use wingress_netstack::{Stack, StackConfig, TcpLimits};
use wingress_wg::{Device, PeerId, PeerSpec, Prefix, PresharedKey, PrivateKey};

use crate::platform::keyfile;

/// What the daemon knows about a peer beyond the WireGuard device.
#[derive(Debug, Clone)]
pub(crate) struct PeerMeta {
    pub(crate) id: PeerId,
    pub(crate) name: String,
    /// What HTTP routes see: name, public key and tags.
    pub(crate) identity: std::sync::Arc<wingress_proxy::PeerIdentity>,
    /// The `[[peer]]` it was made from, for what a reload changes.
    pub(crate) config: PeerConfig,
    /// The preshared key as read then: a reload that finds other contents
    /// in the same file starts a new session.
    pub(crate) preshared_key: Option<PresharedKey>,
}

impl PeerMeta {
    pub(crate) fn new(id: PeerId, p: &PeerConfig, preshared_key: Option<PresharedKey>) -> Self {
        PeerMeta {
            id,
            name: p.name.clone(),
            identity: std::sync::Arc::new(wingress_proxy::PeerIdentity {
                name: p.name.clone(),
                public_key: p.public_key.to_base64(),
                tags: p.tags.clone(),
            }),
            config: p.clone(),
            preshared_key,
        }
    }
}

/// The private key: the configured file, else `state_dir/private.key`,
/// created on first start.
pub(crate) fn private_key(iface: &InterfaceConfig, state_dir: &Path) -> Result<(PrivateKey, bool)> {
    match &iface.private_key_file {
        Some(p) => Ok((keyfile::load(p)?, false)),
        None => keyfile::load_or_create(&state_dir.join("private.key")),
    }
}

fn prefix(c: &Cidr) -> Result<Prefix> {
    Prefix::new(c.addr, c.prefix_len).ok_or_else(|| anyhow!("bad prefix {c}"))
}

async fn resolve(ep: &Endpoint) -> Result<SocketAddr> {
    match ep {
        Endpoint::Addr(a) => Ok(*a),
        Endpoint::Host { host, port } => tokio::net::lookup_host((host.as_str(), *port))
            .await
            .with_context(|| format!("cannot resolve peer endpoint {host}:{port}"))?
            .next()
            .ok_or_else(|| anyhow!("peer endpoint {host}:{port} has no address")),
    }
}

/// Builds the WireGuard device with every configured peer.
pub(crate) async fn device(
    key: PrivateKey,
    peers: &[PeerConfig],
) -> Result<(Device, Vec<PeerMeta>)> {
    let mut dev = Device::new(key);
    let mut metas = Vec::new();
    for p in peers {
        let spec = peer_spec(p).await?;
        let psk = spec.preshared_key;
        let id = dev.add_peer(spec);
        metas.push(PeerMeta::new(id, p, psk));
    }
    Ok((dev, metas))
}

/// What the device needs for one `[[peer]]`: its preshared key read and
/// its endpoint resolved.
pub(crate) async fn peer_spec(p: &PeerConfig) -> Result<PeerSpec> {
    let preshared_key = match &p.preshared_key_file {
        Some(f) => Some(load_psk(f)?),
        None => None,
    };
    let endpoint = match &p.endpoint {
        Some(ep) => Some(resolve(ep).await?),
        None => None,
    };
    Ok(PeerSpec {
        public_key: p.public_key,
        preshared_key,
        allowed_ips: allowed_ips(p)?,
        endpoint,
        persistent_keepalive: p.persistent_keepalive,
    })
}

pub(crate) fn allowed_ips(p: &PeerConfig) -> Result<Vec<Prefix>> {
    p.allowed_ips.iter().map(prefix).collect()
}

fn load_psk(path: &Path) -> Result<PresharedKey> {
    // Same rules as the private key: secret, so never world-readable.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read preshared key {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(anyhow!(
            "permissions {:04o} for preshared key {p} are too open.\nFix with: chmod 600 {p}",
            mode & 0o777,
            p = path.display()
        ));
    }
    std::fs::read_to_string(path)?
        .trim()
        .parse()
        .map_err(|e| anyhow!("preshared key {}: {e}", path.display()))
}

/// The userspace stack on the interface address.
pub(crate) fn stack(iface: &InterfaceConfig, limits: TcpLimits, now: Instant) -> Stack {
    Stack::new(
        StackConfig {
            addresses: vec![(iface.address.addr, iface.address.prefix_len)],
            mtu: usize::from(iface.mtu),
            limits,
            ..StackConfig::default()
        },
        now,
    )
}
