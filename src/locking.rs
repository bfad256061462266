//! The one way the gateway takes a `std::sync::Mutex`: a lock poisoned by a panic on another
//! thread is taken anyway. What these mutexes guard (queues of requests, the spool's index,
//! counts, collected log lines, a test target's record) stays usable after a panic elsewhere,
//! and a gateway that stopped serving over it would lose more than it protects.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// `mutex.lock()`, poison ignored.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
