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
            scheme: crate::spec::BackendScheme::Http,
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
