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
mod tests {
    use std::sync::Arc;

    use rustls_pki_types::CertificateDer;

    use super::*;
    use crate::spec::{BackendAddr, ClientCertCheck, ForwardAuthSpec, Scheme};

    struct FirstByteIsOne;

    impl ClientCertCheck for FirstByteIsOne {
        fn verify(&self, chain: &[CertificateDer<'_>]) -> bool {
            chain[0].as_ref().first() == Some(&1)
        }
        fn subject(&self, _: &[CertificateDer<'_>]) -> Option<String> {
            None
        }
    }

    fn conn(peer: Option<(&str, &[&str])>, cert: Option<u8>) -> ConnInfo {
        ConnInfo {
            remote: "10.0.0.2:1234".parse().unwrap(),
            entrypoint: "web".into(),
            scheme: Scheme::Https,
            peer: peer.map(|(name, tags)| {
                Arc::new(PeerIdentity {
                    name: name.into(),
                    public_key: "k".into(),
                    tags: tags.iter().map(|t| t.to_string()).collect(),
                })
            }),
            client_chain: cert.map(|b| Arc::new(vec![CertificateDer::from(vec![b])])),
            alpn_h2: false,
        }
    }

    #[test]
    fn tunnel_requires_an_admitted_peer() {
        let allow = [
            AllowRule::Peer("alice".into()),
            AllowRule::Tag("ops".into()),
        ];
        let access = Access::Tunnel;
        assert_eq!(
            decide(&access, &allow, &conn(Some(("alice", &[])), None)),
            Verdict::Allow
        );
        assert_eq!(
            decide(&access, &allow, &conn(Some(("bob", &["ops"])), None)),
            Verdict::Allow
        );
        assert_eq!(
            decide(&access, &allow, &conn(Some(("bob", &["dev"])), None)),
            Verdict::Deny
        );
        assert_eq!(decide(&access, &allow, &conn(None, None)), Verdict::Deny);
        assert_eq!(
            decide(&access, &[], &conn(Some(("bob", &[])), None)),
            Verdict::Allow
        );
        assert_eq!(decide(&access, &[], &conn(None, None)), Verdict::Deny);
    }

    #[test]
    fn mtls_does_not_exempt_peers() {
        let access = Access::Mtls(Arc::new(FirstByteIsOne));
        assert_eq!(decide(&access, &[], &conn(None, Some(1))), Verdict::Allow);
        assert_eq!(decide(&access, &[], &conn(None, Some(2))), Verdict::Deny);
        assert_eq!(
            decide(&access, &[], &conn(Some(("alice", &[])), None)),
            Verdict::Deny
        );
    }

    #[test]
    fn forward_auth_skipped_for_admitted_peers() {
        let access = Access::ForwardAuth(ForwardAuthSpec {
            url: BackendAddr {
                host: "auth".into(),
                port: 80,
            },
            path_and_query: "/".into(),
            copy_headers: vec![],
        });
        let allow = [AllowRule::Tag("family".into())];
        let fam = conn(Some(("alice", &["family"])), None);
        assert_eq!(decide(&access, &allow, &fam), Verdict::Allow);
        let other = conn(Some(("bob", &[])), None);
        assert_eq!(decide(&access, &allow, &other), Verdict::ForwardAuth);
        assert_eq!(
            decide(&access, &allow, &conn(None, None)),
            Verdict::ForwardAuth
        );
        assert_eq!(
            decide(&Access::Public, &allow, &conn(None, None)),
            Verdict::Allow
        );
    }
}
