//! The DNS answer caches that mail-auth consults before asking the resolver: each entry lives
//! until the TTL of the answer it came from (mail-auth passes `valid_until`).

use crate::locking::lock;
use mail_auth::ResolverCache;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// A bounded map whose entries expire; at capacity the expired entries go first, then all.
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic while holding the lock leaves a usable map: entries are whole values.
        lock(&self.entries)
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.lock();
        match entries.get(name) {
            Some((value, until)) if *until > Instant::now() => Some(value.clone()),
            Some(_) => {
                entries.remove(name);
                None
            }
            None => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(name).map(|(value, _)| value)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let now = Instant::now();
        if valid_until <= now {
            return; // TTL 0: not to be cached.
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (value, valid_until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_live_until_their_ttl() {
        let cache: TtlCache<Box<str>, u32> = TtlCache::new(2);
        let now = Instant::now();
        cache.insert("a".into(), 1, now + Duration::from_secs(60));
        cache.insert("gone".into(), 2, now);
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get("gone"), None);
        cache.insert("b".into(), 3, now + Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get("b"), None, "expired");
        cache.insert("c".into(), 4, now + Duration::from_secs(60));
        cache.insert("d".into(), 5, now + Duration::from_secs(60));
        assert!(cache.len() <= 2, "bounded");
    }
}
