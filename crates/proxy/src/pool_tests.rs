use super::*;

fn addr(port: u16) -> BackendAddr {
    BackendAddr {
        host: "127.0.0.1".into(),
        port,
    }
}

fn settings(ms: u64) -> ConnSettings {
    ConnSettings {
        connect_timeout: Duration::from_millis(ms),
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
        assert_eq!(lists(), 3);

        // Lists no client holds any more go at the next sweep; held ones stay.
        drop((other, _third));
        sweep_once(Instant::now());
        assert_eq!(lists(), 1);
        drop((a, again));
        sweep_once(Instant::now());
        assert_eq!(lists(), 0);
    });
}
