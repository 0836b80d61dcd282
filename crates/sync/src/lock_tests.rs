use super::*;

#[test]
fn a_panicked_holder_does_not_lock_others_out() {
    let m = Mutex::new(1);
    let l = RwLock::new(1);
    std::thread::scope(|s| {
        let _ = s
            .spawn(|| {
                let (mut m, mut l) = (m.lock().unwrap(), l.write().unwrap());
                (*m, *l) = (2, 3);
                panic!("a holder panics");
            })
            .join();
    });
    assert!(m.is_poisoned() && l.is_poisoned());
    assert_eq!(*lock(&m), 2);
    assert_eq!(*read(&l), 3);
    *write(&l) = 4;
    assert_eq!(*read(&l), 4);
}
