//! The process environment the config depends on, passed in as a value so
//! parsing stays a pure function of (path, text, env).

/// The variables that can carry the node's address, in order of precedence:
/// wingress's own, then the names Kubernetes manifests commonly give the
/// downward API's `status.hostIP`.
pub const NODE_IP_VARS: [&str; 3] = ["WINGRESS_NODE_IP", "K8S_NODE_IP", "HOST_IP"];

/// An environment variable's name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: &'static str,
    pub value: String,
}

/// A bare value is taken as `WINGRESS_NODE_IP` (tests, callers that only
/// know one variable).
impl From<&str> for EnvVar {
    fn from(value: &str) -> EnvVar {
        EnvVar {
            name: NODE_IP_VARS[0],
            value: value.to_string(),
        }
    }
}

impl From<String> for EnvVar {
    fn from(value: String) -> EnvVar {
        EnvVar {
            name: NODE_IP_VARS[0],
            value,
        }
    }
}

/// Environment variables that fill in what a config leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// The node's IPv4 address when `[node].ip` is not set: the first of
    /// [`NODE_IP_VARS`] that is set to something other than blanks.
    pub node_ip: Option<EnvVar>,
    /// `STATE_DIRECTORY`: set by systemd for units with `StateDirectory=`;
    /// used when `[node].state_dir` is not set.
    pub state_directory: Option<String>,
}

// === impl Env ===

impl Env {
    /// Reads the real environment. The only function in this crate that
    /// touches process globals.
    pub fn from_process() -> Env {
        Env {
            node_ip: Env::first_set(&NODE_IP_VARS, |name| std::env::var(name).ok()),
            state_directory: std::env::var("STATE_DIRECTORY").ok(),
        }
    }

    /// The first of `names` that `get` finds set to a non-blank value.
    fn first_set(names: &[&'static str], get: impl Fn(&str) -> Option<String>) -> Option<EnvVar> {
        names.iter().find_map(|&name| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .map(|value| EnvVar { name, value })
        })
    }

    /// The node address variable, if set to something other than blanks.
    pub(crate) fn node_ip(&self) -> Option<(&'static str, &str)> {
        self.node_ip
            .as_ref()
            .map(|v| (v.name, v.value.trim()))
            .filter(|(_, v)| !v.is_empty())
    }

    /// The first directory of `STATE_DIRECTORY` (systemd joins several with
    /// `:` when the unit lists more than one).
    pub(crate) fn state_directory(&self) -> Option<&str> {
        self.state_directory
            .as_deref()
            .and_then(|s| s.split(':').map(str::trim).find(|d| !d.is_empty()))
    }
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
