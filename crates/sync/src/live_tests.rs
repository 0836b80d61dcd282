use super::*;

#[test]
fn readers_see_stores_and_holders_keep_the_old_value() {
    let live = Live::new(Arc::new(1));
    let mut reader = live.reader();
    let held = reader.get().clone();
    live.store(Arc::new(2));
    assert_eq!(**reader.get(), 2);
    assert_eq!(*held, 1);
    let other = std::thread::spawn({
        let live = live.clone();
        move || {
            let mut r = live.reader();
            live.store(Arc::new(3));
            **r.get()
        }
    });
    assert_eq!(other.join().unwrap(), 3);
    assert_eq!(**reader.get(), 3);
}

#[test]
fn a_reader_never_keeps_a_stale_value_under_a_new_version() {
    // A reader racing a writer ends on the last value: it never pairs
    // an old value with the newest version (which would hide the
    // store for good).
    let live = Live::new(Arc::new(0u64));
    let writer = std::thread::spawn({
        let live = live.clone();
        move || {
            for i in 1..=20_000 {
                live.store(Arc::new(i));
            }
        }
    });
    let mut reader = live.reader();
    while !writer.is_finished() {
        reader.get();
    }
    writer.join().unwrap();
    assert_eq!(**reader.get(), 20_000);
}
