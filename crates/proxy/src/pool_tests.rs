use super::*;

fn addr(port: u16) -> BackendAddr {
    BackendAddr {
        host: "127.0.0.1".into(),
        port,
        scheme: BackendScheme::Http,
    }
}

fn settings(ms: u64) -> ConnSettings {
    ConnSettings {
        connect_timeout: Duration::from_millis(ms),
        tls: None,
        in_process: None,
    }
}

#[test]
fn equal_settings_share_a_list_and_unused_lists_are_forgotten() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, async {
        let a = idle_for(settings(1000), &addr(1));
        // A new route with the same settings (a reload) finds the same list.
        let again = idle_for(settings(1000), &addr(1));
        assert!(Arc::ptr_eq(&a, &again));
        let other = idle_for(settings(2000), &addr(1));
        assert!(!Arc::ptr_eq(&a, &other));
        let _third = idle_for(settings(1000), &addr(2));
        // Another transport (TLS configuration) never shares connections.
        let tls = ConnSettings {
            tls: Some(7),
            ..settings(1000)
        };
        let _fourth = idle_for(tls, &addr(1));
        assert!(!Arc::ptr_eq(&a, &_fourth));
        assert_eq!(lists(), 4);

        // Lists no client holds any more go at the next sweep; held ones stay.
        drop((other, _third, _fourth));
        sweep_once(Instant::now());
        assert_eq!(lists(), 1);
        drop((a, again));
        sweep_once(Instant::now());
        assert_eq!(lists(), 0);
    });
}
