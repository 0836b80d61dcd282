//! [`Policy`]: what the mapping needs from the config, taken once per
//! config (the file's routes, peers and entrypoints, and `[kubernetes]`).

use wingress_config::{
    default_entrypoints, EntrypointProtocol, HostPattern, KubernetesConfig, ServerConfig,
};

/// The rules an Ingress is held to: `[kubernetes]`, and the parts of the
/// file config its values are checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `[kubernetes]` (classes, namespaces, host suffixes, access modes,
    /// client CAs, backend source).
    pub kubernetes: KubernetesConfig,
    /// The `(host, path_prefix)` of every `[[route]]` in the file. Their
    /// hosts are the file's: see [`Policy::reserves`].
    pub file_routes: Vec<(HostPattern, String)>,
    /// The `[[peer]]` names `wingress.dev/allow` may name.
    pub peer_names: Vec<String>,
    /// The entrypoints `wingress.dev/entrypoints` may name, with their
    /// protocol: those written, or the defaults.
    pub entrypoints: Vec<(String, Option<EntrypointProtocol>)>,
    /// Whether `entrypoints` were written in the file (else the defaults).
    pub entrypoints_written: bool,
    /// The `[[transport]]` names `wingress.dev/transport` may name.
    pub transports: Vec<String>,
}

// === impl Policy ===

impl Policy {
    /// The policy of a validated config.
    pub fn from_config(cfg: &ServerConfig) -> Policy {
        let written = !cfg.entrypoints.is_empty();
        let entrypoints = if written {
            cfg.entrypoints.clone()
        } else {
            default_entrypoints()
        };
        Policy {
            kubernetes: cfg.kubernetes.clone(),
            file_routes: cfg
                .routes
                .iter()
                .map(|r| (r.host.clone(), r.path_prefix.clone()))
                .collect(),
            peer_names: cfg.peers.iter().map(|p| p.name.clone()).collect(),
            entrypoints: entrypoints
                .into_iter()
                .map(|e| (e.name, Some(e.protocol)))
                .collect(),
            entrypoints_written: written,
            transports: cfg.transports.iter().map(|t| t.name.clone()).collect(),
        }
    }

    /// The file route whose host an Ingress may not claim `host` against:
    /// one with the same pattern, or an exact or wildcard one matching it.
    /// A whole host, not just a path, so that an Ingress cannot slip a
    /// longer path (`/login`) under a host the file serves. A file route
    /// for `*` reserves nothing: it is the fallback for hosts nobody
    /// claims.
    pub fn reserves(&self, host: &HostPattern) -> Option<&HostPattern> {
        self.file_routes
            .iter()
            .map(|(file, _)| file)
            .find(|file| match (file, host) {
                (HostPattern::Any, _) => false,
                (file, host) if *file == host => true,
                (file, HostPattern::Exact(name)) => file.matches(name),
                _ => false,
            })
    }
}
