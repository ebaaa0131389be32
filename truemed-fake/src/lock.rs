//! The one way the fake locks its mutexes.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks, ignoring poisoning: a panicking test thread must not break the fake for others.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
