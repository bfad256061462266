//! The containers of the directory index, in two layers: a large base shared by every copy of
//! the directory (`Arc`), and a small persistent delta (`imbl`) that only a patched copy has.
//!
//! A file load or a full resynchronisation owns its base alone and writes straight into it, so a
//! directory that was never patched is a plain `HashMap` and `Vec` with an empty delta (a lookup
//! checks `is_empty` first). A live source patches a copy of the directory in force: the copy
//! shares the base, its writes go to its own delta, and copying the delta is O(1) whatever its
//! size. A change then costs the size of the account that changed, not of the directory. When
//! the delta has grown large, [`LayeredMap::merged`] and [`LayeredVec`]'s owner build a new base
//! once (the `patch` module decides when).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// A map: `base` overlaid with `delta`, where `None` in `delta` hides a base entry.
#[derive(Debug, Clone)]
pub(super) struct LayeredMap<K: Hash + Eq + Clone, V: Clone> {
    base: Arc<HashMap<K, V>>,
    delta: imbl::HashMap<K, Option<V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Default for LayeredMap<K, V> {
    fn default() -> Self {
        LayeredMap::with_capacity(0)
    }
}

impl<K: Hash + Eq + Clone, V: Clone> LayeredMap<K, V> {
    pub fn with_capacity(capacity: usize) -> Self {
        LayeredMap {
            base: Arc::new(HashMap::with_capacity(capacity)),
            delta: imbl::HashMap::new(),
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.delta.is_empty() {
            if let Some(entry) = self.delta.get(key) {
                return entry.as_ref();
            }
        }
        self.base.get(key)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: K, value: V) {
        match Arc::get_mut(&mut self.base) {
            Some(base) => {
                if !self.delta.is_empty() {
                    self.delta.remove(&key);
                }
                base.insert(key, value);
            }
            None => {
                self.delta.insert(key, Some(value));
            }
        }
    }

    pub fn remove(&mut self, key: &K) {
        if let Some(base) = Arc::get_mut(&mut self.base) {
            if !self.delta.is_empty() {
                self.delta.remove(key);
            }
            base.remove(key);
        } else if self.base.contains_key(key) {
            self.delta.insert(key.clone(), None);
        } else {
            self.delta.remove(key);
        }
    }

    /// Replaces the value of `key` with `change(current)`; `None` removes it.
    pub fn update(&mut self, key: K, change: impl FnOnce(Option<V>) -> Option<V>) {
        if let Some(base) = Arc::get_mut(&mut self.base) {
            if self.delta.is_empty() {
                match change(base.remove(&key)) {
                    Some(value) => base.insert(key, value),
                    None => None,
                };
                return;
            }
        }
        match change(self.get(&key).cloned()) {
            Some(value) => self.insert(key, value),
            None => self.remove(&key),
        }
    }

    /// Every entry, base entries that the delta replaces or hides left out.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let hidden = &self.delta;
        self.base
            .iter()
            .filter(move |(key, _)| hidden.is_empty() || !hidden.contains_key(*key))
            .chain(
                self.delta
                    .iter()
                    .filter_map(|(key, value)| value.as_ref().map(|value| (key, value))),
            )
    }

    /// Entries held in the delta: what a patched copy carries beyond its base.
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }

    pub fn base_len(&self) -> usize {
        self.base.len()
    }

    /// A single-layer map of every entry, each value passed through `keep` (false drops it).
    /// The base is cloned as a table (no rehashing), then the delta applied to it.
    pub fn merged(&self, keep: impl FnMut(&K, &mut V) -> bool) -> LayeredMap<K, V> {
        let mut base = (*self.base).clone();
        for (key, value) in self.delta.iter() {
            match value {
                Some(value) => base.insert(key.clone(), value.clone()),
                None => base.remove(key),
            };
        }
        base.retain(keep);
        LayeredMap {
            base: Arc::new(base),
            delta: imbl::HashMap::new(),
        }
    }

    /// Frees unused capacity of a base this copy owns alone (after a load).
    pub fn shrink_to_fit(&mut self) {
        if let Some(base) = Arc::get_mut(&mut self.base) {
            base.shrink_to_fit();
        }
    }
}

/// A vector that only grows: `base` followed by `appended`.
#[derive(Debug, Clone)]
pub(super) struct LayeredVec<T: Clone> {
    base: Arc<Vec<T>>,
    appended: imbl::Vector<T>,
}

impl<T: Clone> Default for LayeredVec<T> {
    fn default() -> Self {
        LayeredVec::with_capacity(0)
    }
}

impl<T: Clone> LayeredVec<T> {
    pub fn with_capacity(capacity: usize) -> Self {
        LayeredVec {
            base: Arc::new(Vec::with_capacity(capacity)),
            appended: imbl::Vector::new(),
        }
    }

    pub fn from_vec(items: Vec<T>) -> Self {
        LayeredVec {
            base: Arc::new(items),
            appended: imbl::Vector::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.base.len() + self.appended.len()
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        match index.checked_sub(self.base.len()) {
            None => self.base.get(index),
            Some(appended) => self.appended.get(appended),
        }
    }

    pub fn push(&mut self, item: T) {
        match Arc::get_mut(&mut self.base) {
            Some(base) if self.appended.is_empty() => base.push(item),
            _ => self.appended.push_back(item),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.base.iter().chain(self.appended.iter())
    }

    /// Items pushed beyond the base.
    pub fn appended_len(&self) -> usize {
        self.appended.len()
    }

    pub fn shrink_to_fit(&mut self) {
        if let Some(base) = Arc::get_mut(&mut self.base) {
            base.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(map: &LayeredMap<u32, u32>) -> Vec<(u32, u32)> {
        let mut entries: Vec<_> = map.iter().map(|(k, v)| (*k, *v)).collect();
        entries.sort();
        entries
    }

    #[test]
    fn an_owned_base_is_written_in_place() {
        let mut map = LayeredMap::default();
        map.insert(1, 10);
        map.update(1, |v| v.map(|v| v + 1));
        map.insert(2, 20);
        map.remove(&2);
        assert_eq!(map.delta_len(), 0);
        assert_eq!(sorted(&map), vec![(1, 11)]);
    }

    #[test]
    fn a_shared_base_is_overlaid_and_never_changed() {
        let mut original = LayeredMap::default();
        for k in 0..5 {
            original.insert(k, k * 10);
        }
        let mut copy = original.clone();
        copy.insert(1, 11);
        copy.remove(&2);
        copy.remove(&99);
        copy.insert(7, 70);
        copy.update(3, |_| None);
        copy.update(4, |v| v.map(|v| v + 4));
        assert_eq!(sorted(&copy), vec![(0, 0), (1, 11), (4, 44), (7, 70)]);
        assert_eq!(copy.get(&2), None);
        assert_eq!(copy.get(&0), Some(&0));
        assert_eq!(
            sorted(&original),
            vec![(0, 0), (1, 10), (2, 20), (3, 30), (4, 40)]
        );
        // A copy of the copy keeps its delta; merging gives one layer with the same entries.
        let merged = copy.clone().merged(|_, _| true);
        assert_eq!(merged.delta_len(), 0);
        assert_eq!(sorted(&merged), sorted(&copy));
        // Once the original is gone the copy owns the base: writes go there, and an entry the
        // delta held is not shadowed by a stale one.
        drop(original);
        copy.insert(1, 12);
        assert_eq!(copy.get(&1), Some(&12));
        copy.remove(&7);
        assert_eq!(copy.get(&7), None);
    }

    #[test]
    fn a_vector_grows_over_a_shared_base() {
        let mut original = LayeredVec::default();
        original.push("a");
        original.push("b");
        let mut copy = original.clone();
        copy.push("c");
        assert_eq!(copy.len(), 3);
        assert_eq!(copy.get(2), Some(&"c"));
        assert_eq!(copy.get(3), None);
        assert_eq!(copy.appended_len(), 1);
        assert_eq!(original.len(), 2);
        assert_eq!(copy.iter().copied().collect::<Vec<_>>(), ["a", "b", "c"]);
    }
}
