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
