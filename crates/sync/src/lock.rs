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
#[path = "lock_tests.rs"]
mod tests;
