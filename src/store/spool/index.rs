//! What the segments say, in memory (no IO): every message with its entry and where its bytes
//! are, which are still waiting, and which segments hold nothing needed any more.
//!
//! Markers commute, so segments can be read in any order: `done` is final, and of two retry
//! states the one with more attempts wins. A segment is *dead* — deleted — once every message
//! in it is done and none of its `done` markers speaks of a message in a segment that still
//! exists (else deleting it would bring that message back after a crash). Retry states never
//! hold a segment: losing one only makes a retry come sooner.

use super::record::{MessageKey, Record, RetryState};
use super::SpoolEntry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where a message's bytes are in its segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub offset: u64,
    pub len: u64,
}

#[derive(Debug, Clone)]
pub struct Stored {
    pub entry: SpoolEntry,
    pub at: Location,
    pub done: bool,
}

#[derive(Debug, Default, Clone)]
struct SegmentInfo {
    size: u64,
    live: usize,
    live_bytes: u64,
    /// Segments named by this one's `done` markers.
    refers_to: BTreeSet<String>,
}

#[derive(Debug, Default)]
pub struct Index {
    segments: BTreeMap<String, SegmentInfo>,
    messages: HashMap<MessageKey, Stored>,
    live_by_id: HashMap<String, MessageKey>,
    /// Old copy → new copy of messages moved between segments: a delivery that started from
    /// the old copy finishes the new one.
    moved_to: HashMap<MessageKey, MessageKey>,
}

impl Index {
    /// Records a segment (before its records are applied) and its size so far.
    pub fn add_segment(&mut self, name: &str, size: u64) {
        self.segments.entry(name.to_string()).or_default().size = size;
    }

    pub fn has_segment(&self, name: &str) -> bool {
        self.segments.contains_key(name)
    }

    pub fn segment_names(&self) -> impl Iterator<Item = &str> {
        self.segments.keys().map(String::as_str)
    }

    /// A message record. Returns true if it waits (a second live copy of an id — a move
    /// between segments cut short by a crash — is counted done).
    pub fn insert_message(&mut self, key: MessageKey, entry: SpoolEntry, at: Location) -> bool {
        let live = !self.live_by_id.contains_key(&key.id);
        if let Some(segment) = self.segments.get_mut(&key.segment) {
            if live {
                segment.live += 1;
                segment.live_bytes += at.len;
            }
        }
        if live {
            self.live_by_id.insert(key.id.clone(), key.clone());
        }
        let done = !live;
        self.messages.insert(key, Stored { entry, at, done });
        live
    }

    /// A `done` marker found in (or written to) segment `in_segment`.
    pub fn apply_done(&mut self, in_segment: &str, key: &MessageKey) {
        if key.segment != in_segment && self.segments.contains_key(&key.segment) {
            if let Some(segment) = self.segments.get_mut(in_segment) {
                segment.refers_to.insert(key.segment.clone());
            }
        }
        self.mark_done_here(key);
    }

    /// The message is done in memory (its marker follows, or was already read). Returns the
    /// copy that was moved on from it, if that one is done now too (its marker is owed).
    pub fn mark_done(&mut self, key: &MessageKey) -> Option<MessageKey> {
        let stored = self.messages.get_mut(key)?;
        if stored.done {
            let moved = self.moved_to.get(key).cloned()?;
            return self.mark_done_here(&moved).then_some(moved);
        }
        self.mark_done_here(key);
        None
    }

    fn mark_done_here(&mut self, key: &MessageKey) -> bool {
        let Some(stored) = self.messages.get_mut(key) else {
            return false;
        };
        if stored.done {
            return false;
        }
        stored.done = true;
        let len = stored.at.len;
        if self.live_by_id.get(&key.id) == Some(key) {
            self.live_by_id.remove(&key.id);
        }
        if let Some(segment) = self.segments.get_mut(&key.segment) {
            segment.live = segment.live.saturating_sub(1);
            segment.live_bytes = segment.live_bytes.saturating_sub(len);
        }
        true
    }

    /// `new` is a copy of `old` (moved between segments).
    pub fn note_move(&mut self, old: MessageKey, new: MessageKey) {
        self.moved_to.insert(old, new);
    }

    /// True if the message is known and done.
    pub fn is_done(&self, key: &MessageKey) -> bool {
        self.messages.get(key).is_some_and(|s| s.done)
    }

    /// A retry state; kept if it has more attempts than the entry has.
    pub fn apply_state(&mut self, state: &RetryState) {
        if let Some(stored) = self.messages.get_mut(&state.key) {
            if state.attempts >= stored.entry.attempts {
                stored.entry.attempts = state.attempts;
                stored.entry.next_attempt = state.next_attempt;
                stored.entry.last_answer = state.last_answer.clone();
            }
        }
    }

    /// Applies a marker read from segment `in_segment` (messages are inserted first).
    pub fn apply_marker(&mut self, in_segment: &str, record: &Record<'_>) {
        match record {
            Record::Done(key) => self.apply_done(in_segment, key),
            Record::State(state) => self.apply_state(state),
            Record::Message { .. } => {}
        }
    }

    /// The waiting message with this id.
    pub fn live(&self, id: &str) -> Option<(&MessageKey, &Stored)> {
        let key = self.live_by_id.get(id)?;
        self.messages.get(key).map(|stored| (key, stored))
    }

    /// Every waiting message.
    pub fn waiting(&self) -> impl Iterator<Item = (&MessageKey, &Stored)> {
        self.live_by_id
            .values()
            .filter_map(|key| self.messages.get(key).map(|stored| (key, stored)))
    }

    pub fn waiting_count(&self) -> usize {
        self.live_by_id.len()
    }

    /// Segments that can be deleted now, following the chain (one deleted may free another).
    pub fn dead_segments(&self) -> Vec<String> {
        let mut gone: BTreeSet<&str> = BTreeSet::new();
        loop {
            let before = gone.len();
            for (name, info) in &self.segments {
                let needed = info.refers_to.iter().any(|t| {
                    t != name && self.segments.contains_key(t) && !gone.contains(t.as_str())
                });
                if info.live == 0 && !needed {
                    gone.insert(name);
                }
            }
            if gone.len() == before {
                return gone.into_iter().map(str::to_string).collect();
            }
        }
    }

    /// Segments other than `current` whose waiting messages are less than a quarter of their
    /// size: worth moving those messages on, so that the rest of the file can go.
    pub fn sparse_segments(&self, current: Option<&str>) -> Vec<String> {
        self.segments
            .iter()
            .filter(|(name, info)| {
                Some(name.as_str()) != current && info.live > 0 && info.live_bytes * 4 < info.size
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The waiting messages of one segment.
    pub fn waiting_in(&self, segment: &str) -> Vec<(MessageKey, Stored)> {
        self.waiting()
            .filter(|(key, _)| key.segment == segment)
            .map(|(key, stored)| (key.clone(), stored.clone()))
            .collect()
    }

    /// Forgets a deleted segment and its messages.
    pub fn remove_segment(&mut self, name: &str) {
        self.segments.remove(name);
        self.messages.retain(|key, _| key.segment != name);
        self.live_by_id.retain(|_, key| key.segment != name);
        self.moved_to
            .retain(|old, new| old.segment != name && new.segment != name);
    }

    /// Notes that a segment grew (a batch was written to it).
    pub fn grow_segment(&mut self, name: &str, size: u64) {
        if let Some(info) = self.segments.get_mut(name) {
            info.size = size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::spool::tests::entry;

    fn key(segment: &str, id: &str) -> MessageKey {
        MessageKey {
            segment: segment.into(),
            id: id.into(),
        }
    }

    const AT: Location = Location {
        offset: 8,
        len: 100,
    };

    #[test]
    fn done_is_final_and_the_most_attempts_win_whatever_the_order() {
        let mut index = Index::default();
        index.add_segment("S1", 1000);
        index.add_segment("S2", 1000);
        index.insert_message(key("S1", "A"), entry("A"), AT);
        index.insert_message(key("S1", "B"), entry("B"), AT);
        let state = |attempts| RetryState {
            key: key("S1", "B"),
            attempts,
            next_attempt: 100 * u64::from(attempts),
            last_answer: Some(format!("try {attempts}")),
        };
        index.apply_state(&state(3));
        index.apply_state(&state(2));
        index.apply_done("S2", &key("S1", "A"));
        index.apply_done("S2", &key("S1", "A"));
        assert!(index.live("A").is_none());
        let (_, b) = index.live("B").unwrap();
        assert_eq!((b.entry.attempts, b.entry.next_attempt), (3, 300));
        assert_eq!(index.waiting_count(), 1);
    }

    #[test]
    fn a_segment_goes_only_once_the_messages_its_markers_name_are_gone() {
        let mut index = Index::default();
        for s in ["S1", "S2"] {
            index.add_segment(s, 1000);
        }
        index.insert_message(key("S1", "A"), entry("A"), AT);
        index.insert_message(key("S1", "B"), entry("B"), AT);
        index.insert_message(key("S2", "C"), entry("C"), AT);
        // C delivered, A delivered (its marker in S2), B still waiting.
        index.apply_done("S2", &key("S2", "C"));
        index.apply_done("S2", &key("S1", "A"));
        assert!(
            index.dead_segments().is_empty(),
            "S2 holds A's marker while S1 exists"
        );
        index.apply_done("S2", &key("S1", "B"));
        assert_eq!(index.dead_segments(), ["S1", "S2"]);
        index.remove_segment("S1");
        assert_eq!(index.dead_segments(), ["S2"]);
    }

    #[test]
    fn a_second_live_copy_of_an_id_is_not_delivered_twice() {
        let mut index = Index::default();
        index.add_segment("S1", 1000);
        index.add_segment("S2", 1000);
        assert!(index.insert_message(key("S1", "A"), entry("A"), AT));
        assert!(!index.insert_message(key("S2", "A"), entry("A"), AT));
        assert_eq!(index.waiting_count(), 1);
        assert_eq!(index.dead_segments(), ["S2"]);
    }

    #[test]
    fn sparse_segments_are_those_mostly_done() {
        let mut index = Index::default();
        index.add_segment("S1", 1000);
        index.add_segment("S2", 1000);
        index.insert_message(key("S1", "A"), entry("A"), AT);
        for n in 0..5 {
            index.insert_message(key("S2", &format!("B{n}")), entry("B"), AT);
        }
        assert_eq!(index.sparse_segments(Some("S3")), ["S1"]);
        assert!(index.sparse_segments(Some("S1")).is_empty());
        assert_eq!(index.waiting_in("S1").len(), 1);
    }
}
