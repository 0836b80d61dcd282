//! Per-route access decisions. Pure functions of the route and the
//! connection; forward-auth itself (the network part) lives in
//! `forward_auth`.

use crate::spec::{Access, AllowRule, ConnInfo, PeerIdentity};

/// What to do with a request before it may reach a backend.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    /// 403 without contacting anything.
    Deny,
    /// Ask the route's authentication service.
    ForwardAuth,
}

pub(crate) fn decide(access: &Access, allow: &[AllowRule], conn: &ConnInfo) -> Verdict {
    let admitted_peer = conn
        .peer
        .as_deref()
        .is_some_and(|peer| peer_allowed(allow, peer));
    match access {
        Access::Public => Verdict::Allow,
        Access::Tunnel if admitted_peer => Verdict::Allow,
        Access::Tunnel => Verdict::Deny,
        Access::Mtls(check) => match conn.client_chain.as_deref() {
            Some(chain) if !chain.is_empty() && check.verify(chain) => Verdict::Allow,
            _ => Verdict::Deny,
        },
        Access::ForwardAuth(_) if admitted_peer => Verdict::Allow,
        Access::ForwardAuth(_) => Verdict::ForwardAuth,
    }
}

/// Whether a tunnel peer passes an allow list. An empty list admits every
/// tunnel peer.
pub(crate) fn peer_allowed(allow: &[AllowRule], peer: &PeerIdentity) -> bool {
    allow.is_empty()
        || allow.iter().any(|rule| match rule {
            AllowRule::Peer(name) => *name == peer.name,
            AllowRule::Tag(tag) => peer.tags.iter().any(|t| t == tag),
        })
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
