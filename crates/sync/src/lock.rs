//! Locking that ignores poisoning.
//!
//! A lock is poisoned when a thread panicked while holding it. Everywhere
//! wingress locks, each critical section leaves the data consistent at
//! every step (one insert, one swap, one counter bump), so the data is as
//! good after such a panic as before, and refusing it would turn one
//! failed task into a process that cannot serve. Release builds abort on
//! panic anyway; this matters in tests and debug builds.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `mutex`, poisoned or not.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks `lock`, poisoned or not.
pub fn read<T: ?Sized>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks `lock`, poisoned or not.
pub fn write<T: ?Sized>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
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
}
