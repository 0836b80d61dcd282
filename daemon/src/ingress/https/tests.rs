use std::collections::HashMap;

use super::*;

/// The routes requests use now.
fn routes_now(service: &HttpsService) -> Arc<Proxy> {
    service.proxy.current().proxy.clone()
}

#[test]
fn a_generation_is_installed_whole() {
    // A new connection takes its certificates from `current` and then
    // routes with the live table. Reading the table first and the
    // certificates second while reloads run, the certificates must
    // never be older than the routes: that would be a half-installed
    // generation (new routes, old certificates).
    let stats = ProxyStats::new();
    let gens: Vec<Arc<HttpsGen>> = (0..100_000)
        .map(|_| Arc::new(HttpsGen::empty(&stats)))
        .collect();
    let index: HashMap<*const Proxy, usize> = gens
        .iter()
        .enumerate()
        .map(|(i, g)| (Arc::as_ptr(&g.proxy), i))
        .collect();
    let service = HttpsService::new(HttpsGen::empty(&stats));
    let mut half_installed = 0;
    let observing = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let installer = s.spawn(|| {
            // Only once the reads run, so they overlap the installs.
            while !observing.load(std::sync::atomic::Ordering::Acquire) {
                std::hint::spin_loop();
            }
            for gen in &gens {
                service.install(gen.clone());
            }
        });
        observing.store(true, std::sync::atomic::Ordering::Release);
        while !installer.is_finished() {
            let routes = routes_now(&service);
            let certs = service.current.load();
            let of = |p: &Arc<Proxy>| index.get(&Arc::as_ptr(p)).copied();
            if let (Some(r), Some(c)) = (of(&routes), of(&certs.proxy)) {
                if c < r {
                    half_installed += 1;
                }
            }
        }
    });
    assert_eq!(
        half_installed, 0,
        "reads saw new routes with old certificates"
    );
    assert!(Arc::ptr_eq(&routes_now(&service), &gens[99_999].proxy));
}

/// A self-signed certificate for `name`, as a Secret would hold it.
fn secret(id: &str, name: &str) -> MemoryCert {
    let generated = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    MemoryCert {
        id: id.into(),
        names: vec![name.into()],
        cert_pem: generated.cert.pem().into_bytes(),
        key_pem: generated.signing_key.serialize_pem().into_bytes(),
    }
}

fn leaf(cert: &MemoryCert) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(&cert.cert_pem)
        .unwrap()
        .to_vec()
}

/// A generation with a store of its own (no files, no internal CA).
fn gen_with_store(stats: &Arc<ProxyStats>) -> (Arc<HttpsGen>, Arc<CertStore>) {
    let store = CertStore::new(
        std::path::Path::new("/nonexistent/wingress-https-tests"),
        false,
        &[],
    )
    .unwrap();
    let gen = HttpsGen {
        store: Some(store.clone()),
        ..HttpsGen::empty(stats)
    };
    (Arc::new(gen), store)
}

fn served(store: &CertStore, name: &str) -> Option<Vec<u8>> {
    store.resolve_sni(Some(name)).map(|k| k.cert[0].to_vec())
}

#[test]
fn certificates_from_memory_follow_the_set_and_outlive_generations() {
    let stats = ProxyStats::new();
    let service = HttpsService::new(HttpsGen::empty(&stats));
    // Before any store: kept for the first one.
    let a = secret("default/a", "a.example.com");
    assert!(service.set_memory_certs(vec![a.clone()]).is_empty());
    let (first, store) = gen_with_store(&stats);
    service.install(first.clone());
    assert_eq!(served(&store, "a.example.com"), Some(leaf(&a)));

    // A Secret rotates: the next handshake gets the new certificate.
    let rotated = secret("default/a", "a.example.com");
    let b = secret("default/b", "b.example.com");
    assert!(service
        .set_memory_certs(vec![rotated.clone(), b.clone()])
        .is_empty());
    assert_eq!(served(&store, "a.example.com"), Some(leaf(&rotated)));

    // A reload that keeps the store keeps the set; one with a new store
    // hands it over.
    let kept = HttpsGen {
        store: Some(store.clone()),
        ..HttpsGen::empty(&stats)
    };
    service.install(Arc::new(kept));
    assert_eq!(served(&store, "b.example.com"), Some(leaf(&b)));
    let (second, new_store) = gen_with_store(&stats);
    service.install(second);
    assert_eq!(served(&new_store, "a.example.com"), Some(leaf(&rotated)));
    assert_eq!(served(&new_store, "b.example.com"), Some(leaf(&b)));

    // A bad Secret is reported; the others still serve.
    let mut bad = secret("default/bad", "bad.example.com");
    bad.key_pem = b"not a key".to_vec();
    let errors = service.set_memory_certs(vec![bad, b.clone()]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].id, "default/bad");
    assert_eq!(served(&new_store, "b.example.com"), Some(leaf(&b)));
    assert_eq!(served(&new_store, "a.example.com"), None);
    assert_eq!(served(&new_store, "bad.example.com"), None);
}

/// The dashboard's routes: the tunnel one on the tunnel entrypoints, an
/// mtls one (the `[[route]]` mtls path) on the host ones, and never a
/// route with no entrypoints (it would serve on all of them).
#[test]
fn dashboard_routes_per_entrypoint_kind() {
    let dir = std::env::temp_dir().join(format!("wingress-dash-specs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    std::fs::write(&ca, params.self_signed(&key).unwrap().pem()).unwrap();

    let mut cfg = config::DashboardConfig {
        enabled: true,
        host: Some("wingress.home.arpa".into()),
        entrypoints: vec!["wg".into(), "lan".into()],
        host_entrypoints: vec!["lan".into()],
        client_ca: Some(ca.clone()),
        ..config::DashboardConfig::default()
    };
    let specs = dashboard_specs(&cfg, None).unwrap();
    assert_eq!(specs.len(), 2);
    assert!(matches!(specs[0].access, proxy::Access::Tunnel));
    assert_eq!(specs[0].entrypoints, ["wg"]);
    assert_eq!(specs[0].allow.len(), 1);
    assert!(matches!(specs[1].access, proxy::Access::Mtls(_)));
    assert_eq!(specs[1].entrypoints, ["lan"]);
    assert!(specs[1].allow.is_empty());
    for s in &specs {
        assert_eq!(s.path_prefix, "/");
        assert!(matches!(&s.host, proxy::HostMatch::Exact(h) if h == "wingress.home.arpa"));
    }

    cfg.entrypoints = vec!["lan".into()];
    let specs = dashboard_specs(&cfg, None).unwrap();
    assert_eq!(specs.len(), 1);
    assert!(matches!(specs[0].access, proxy::Access::Mtls(_)));

    cfg.client_ca = Some(dir.join("missing.pem"));
    let err = format!("{:#}", dashboard_specs(&cfg, None).unwrap_err());
    assert!(
        err.starts_with("[dashboard]: cannot load client_ca"),
        "{err}"
    );

    cfg.enabled = false;
    assert!(dashboard_specs(&cfg, None).unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
