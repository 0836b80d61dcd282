//! The process environment the config depends on, passed in as a value so
//! parsing stays a pure function of (path, text, env).

/// Environment variables that fill in what a config leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// `WINGRESS_NODE_IP`: the node's IPv4 address when `[node].ip` is not
    /// set (Kubernetes passes `status.hostIP` through the downward API).
    pub node_ip: Option<String>,
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
            node_ip: std::env::var("WINGRESS_NODE_IP").ok(),
            state_directory: std::env::var("STATE_DIRECTORY").ok(),
        }
    }

    /// `WINGRESS_NODE_IP`, if set to something other than blanks.
    pub(crate) fn node_ip(&self) -> Option<&str> {
        self.node_ip
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
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
mod tests {
    use super::*;

    #[test]
    fn blank_values_count_as_unset() {
        let env = Env {
            node_ip: Some("  ".into()),
            state_directory: Some(":".into()),
        };
        assert_eq!(env.node_ip(), None);
        assert_eq!(env.state_directory(), None);
    }

    #[test]
    fn first_state_directory_wins() {
        let env = Env {
            node_ip: Some(" 10.0.0.2\n".into()),
            state_directory: Some("/var/lib/wingress:/var/lib/other".into()),
        };
        assert_eq!(env.node_ip(), Some("10.0.0.2"));
        assert_eq!(env.state_directory(), Some("/var/lib/wingress"));
    }
}
