use super::*;
use crate::route::file_key;

#[test]
fn modes_need_their_keys() {
    let mtls = AccessKeys {
        access: Some(Access::Mtls),
        ..AccessKeys::default()
    };
    assert_eq!(
        access_problems(&mtls, file_key),
        [(
            RouteKey::Access,
            "access: \"mtls\" needs `client_ca`, the CA that signs client certificates".to_string()
        )]
    );
    let forward_auth = AccessKeys {
        access: Some(Access::ForwardAuth),
        forward_auth: true,
        ..AccessKeys::default()
    };
    assert!(access_problems(&forward_auth, file_key).is_empty());
}

#[test]
fn keys_of_other_modes_and_allow_on_public_are_refused() {
    let keys = AccessKeys {
        access: Some(Access::Public),
        client_ca: true,
        forward_auth: true,
        forward_auth_headers: false,
        allow: true,
    };
    let blamed: Vec<RouteKey> = access_problems(&keys, file_key)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        blamed,
        [RouteKey::ClientCa, RouteKey::ForwardAuth, RouteKey::Allow]
    );
    // Without `access`, the route is `tunnel`: a client CA means nothing.
    let keys = AccessKeys {
        client_ca: true,
        ..AccessKeys::default()
    };
    assert_eq!(
        access_problems(&keys, file_key)[0].1,
        "client_ca: only used with access = \"mtls\""
    );
}

#[test]
fn allow_rules() {
    let peers = vec!["laptop".to_string()];
    assert_eq!(
        parse_allow_rule("peer:laptop", &peers),
        Ok(AllowRule::Peer("laptop".into()))
    );
    assert_eq!(
        parse_allow_rule("tag:ops", &peers),
        Ok(AllowRule::Tag("ops".into()))
    );
    assert_eq!(
        parse_allow_rule("peer:laptp", &peers),
        Err("no [[peer]] is named `laptp`; did you mean `peer:laptop`?".into())
    );
    assert!(parse_allow_rule("laptop", &peers).is_err());
    assert!(parse_allow_rule("tag:Ops", &peers).is_err());
}

#[test]
fn route_entrypoints_are_https_ones() {
    let declared = vec![
        ("web".to_string(), Some(EntrypointProtocol::Https)),
        ("redirect".to_string(), Some(EntrypointProtocol::Http)),
    ];
    assert_eq!(check_route_entrypoint("web", &declared, true), Ok(()));
    assert!(check_route_entrypoint("redirect", &declared, true)
        .is_err_and(|e| e.contains("only redirects")));
    assert_eq!(
        check_route_entrypoint("admin", &declared, true),
        Err("no entrypoint is named `admin`".into())
    );
}

#[test]
fn health_checks() {
    assert!(check_health_interval(Duration::from_millis(99)).is_err());
    assert!(check_health_interval(Duration::from_millis(100)).is_ok());
    let check = HealthCheck::with_defaults("/healthz".into(), None, None);
    assert_eq!(check.interval, DEFAULT_HEALTH_INTERVAL);
    assert_eq!(check.timeout, DEFAULT_HEALTH_TIMEOUT);
}
