//! Vector clocks: one logical counter per task.
//!
//! The first [`HEAD_ENTRIES`] entries (the tasks of almost every test) live
//! inline, as a plain array, so that a small program pays nothing for the
//! rest. The entries beyond are stored in chunks of [`CHUNK_ENTRIES`] shared
//! copy-on-write between clocks: when a clock takes in another that knows
//! at least as much about a chunk's tasks, it takes that chunk instead of
//! copying its entries, and it merges entries only where each knows
//! something the other does not. With thousands of tasks most chunks of a
//! clock are shared with other clocks, so memory per clock is near one
//! pointer per chunk instead of one entry per task. A join still compares
//! the chunks the two clocks hold different copies of (it skips those they
//! share), so its cost grows with the number of tasks, 64 entries to a
//! vectorised comparison.
//!
//! Sharing is an optimisation only: two clocks that share a chunk hold the
//! same entries in it, so every answer is the one plain vectors give (the
//! unit test below checks it against plain vectors, and
//! `crates/racecheck-detect/tests/happens_before.rs` checks clocks of tasks
//! beyond the inline entries against graph reachability).

use racecheck_trace::TaskId;
use std::sync::Arc;

/// Entries stored inline in every clock.
pub const HEAD_ENTRIES: usize = 256;

/// Entries per shared chunk beyond the inline ones.
pub const CHUNK_ENTRIES: usize = 64;

type Chunk = [u32; CHUNK_ENTRIES];

/// A vector clock over task ids, growing as tasks appear. Missing entries
/// are zero.
///
/// ```
/// use racecheck_detect::VectorClock;
/// use racecheck_trace::TaskId;
///
/// let mut mine = VectorClock::default();
/// mine.tick(TaskId(0));
/// let mut yours = VectorClock::default();
/// yours.tick(TaskId(1));
/// yours.join(&mine);
/// assert_eq!(yours.get(TaskId(0)), 1);
/// assert!(mine.happens_before_or_equal(&yours));
/// ```
#[derive(Clone, Debug, Default)]
pub struct VectorClock {
    /// Entries of tasks `0..HEAD_ENTRIES`.
    head: Vec<u32>,
    /// Chunk `i` holds the entries of tasks from
    /// `HEAD_ENTRIES + i * CHUNK_ENTRIES` on; `None` is all zeros.
    tail: Vec<Option<Arc<Chunk>>>,
}

impl VectorClock {
    /// The entry of `task`.
    #[inline]
    pub fn get(&self, task: TaskId) -> u32 {
        let index = task.index();
        if let Some(&entry) = self.head.get(index) {
            return entry;
        }
        if index < HEAD_ENTRIES {
            return 0;
        }
        let (chunk, offset) = chunk_of(index);
        match self.tail.get(chunk) {
            Some(Some(entries)) => entries[offset],
            _ => 0,
        }
    }

    /// Advances `task`'s own entry by one and returns the new value.
    #[inline]
    pub fn tick(&mut self, task: TaskId) -> u32 {
        let index = task.index();
        if let Some(entry) = self.head.get_mut(index) {
            *entry += 1;
            return *entry;
        }
        if index < HEAD_ENTRIES {
            self.head.resize(index + 1, 0);
            self.head[index] = 1;
            return 1;
        }
        let (chunk, offset) = chunk_of(index);
        if self.tail.len() <= chunk {
            self.tail.resize(chunk + 1, None);
        }
        let entries = self.tail[chunk].get_or_insert_with(|| Arc::new([0; CHUNK_ENTRIES]));
        let entries = Arc::make_mut(entries);
        entries[offset] += 1;
        entries[offset]
    }

    /// Takes the entry-wise maximum with `other`.
    #[inline]
    pub fn join(&mut self, other: &VectorClock) {
        if self.head.len() < other.head.len() {
            self.head.resize(other.head.len(), 0);
        }
        for (mine, theirs) in self.head.iter_mut().zip(&other.head) {
            *mine = (*mine).max(*theirs);
        }
        if !other.tail.is_empty() {
            self.join_tail(other);
        }
    }

    /// [`join`](VectorClock::join) beyond the inline entries: share what
    /// `other` knows more of, merge only the chunks where each knows
    /// something the other does not.
    fn join_tail(&mut self, other: &VectorClock) {
        if self.tail.len() < other.tail.len() {
            self.tail.resize(other.tail.len(), None);
        }
        for (mine, theirs) in self.tail.iter_mut().zip(&other.tail) {
            let Some(theirs) = theirs else { continue };
            match mine {
                None => *mine = Some(Arc::clone(theirs)),
                Some(entries) if Arc::ptr_eq(entries, theirs) => {}
                Some(entries) => match compare(entries, theirs) {
                    (true, _) => *mine = Some(Arc::clone(theirs)),
                    (false, true) => {}
                    (false, false) => {
                        let entries = Arc::make_mut(entries);
                        for (mine, theirs) in entries.iter_mut().zip(theirs.iter()) {
                            *mine = (*mine).max(*theirs);
                        }
                    }
                },
            }
        }
    }

    /// Becomes a copy of `other`, reusing the allocation.
    #[inline]
    pub fn assign(&mut self, other: &VectorClock) {
        self.head.clear();
        self.head.extend_from_slice(&other.head);
        if !(self.tail.is_empty() && other.tail.is_empty()) {
            self.assign_tail(other);
        }
    }

    /// [`assign`](VectorClock::assign) beyond the inline entries: a lock
    /// released by the task that acquired it mostly gets back the chunks it
    /// lent, so only the chunks held in another copy change hands (each
    /// change is two reference-count updates).
    fn assign_tail(&mut self, other: &VectorClock) {
        self.tail.truncate(other.tail.len());
        for (mine, theirs) in self.tail.iter_mut().zip(&other.tail) {
            let same = match (&*mine, theirs) {
                (Some(mine), Some(theirs)) => Arc::ptr_eq(mine, theirs),
                (None, None) => true,
                _ => false,
            };
            if !same {
                mine.clone_from(theirs);
            }
        }
        let kept = self.tail.len();
        self.tail.extend_from_slice(&other.tail[kept..]);
    }

    /// Resets every entry to zero, keeping the inline allocation.
    pub fn clear(&mut self) {
        self.head.clear();
        self.tail.clear();
    }

    /// The number of entries that may be non-zero.
    fn width(&self) -> usize {
        if self.tail.is_empty() {
            self.head.len()
        } else {
            HEAD_ENTRIES + self.tail.len() * CHUNK_ENTRIES
        }
    }

    /// Whether every entry is at most the other's: `self` happened before
    /// (or is) `other`.
    pub fn happens_before_or_equal(&self, other: &VectorClock) -> bool {
        (0..self.width()).all(|task| {
            let task = TaskId(task as u32);
            self.get(task) <= other.get(task)
        })
    }
}

/// Equal entries, however they are stored: missing entries are zero.
///
/// ```
/// use racecheck_detect::VectorClock;
/// use racecheck_trace::TaskId;
///
/// let mut far = VectorClock::default();
/// far.tick(TaskId(500));
/// let mut copy = VectorClock::default();
/// copy.join(&far);
/// assert_eq!(far, copy);
/// assert_ne!(far, VectorClock::default());
/// ```
impl PartialEq for VectorClock {
    fn eq(&self, other: &VectorClock) -> bool {
        self.happens_before_or_equal(other) && other.happens_before_or_equal(self)
    }
}

impl Eq for VectorClock {}

/// The chunk of the tail and the offset in it of entry `index`
/// (`index >= HEAD_ENTRIES`).
#[inline]
fn chunk_of(index: usize) -> (usize, usize) {
    let beyond = index - HEAD_ENTRIES;
    (beyond / CHUNK_ENTRIES, beyond % CHUNK_ENTRIES)
}

/// Whether every entry of `mine` is at most the one of `theirs`, and
/// whether every one is at least it: one branch-free pass the compiler
/// vectorises.
#[inline]
fn compare(mine: &Chunk, theirs: &Chunk) -> (bool, bool) {
    let (mut at_most, mut at_least) = (true, true);
    for index in 0..CHUNK_ENTRIES {
        at_most &= mine[index] <= theirs[index];
        at_least &= mine[index] >= theirs[index];
    }
    (at_most, at_least)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entry-wise maximum of plain vectors: what the clock must compute.
    fn plain_join(mine: &mut Vec<u32>, theirs: &[u32]) {
        if mine.len() < theirs.len() {
            mine.resize(theirs.len(), 0);
        }
        for (mine, theirs) in mine.iter_mut().zip(theirs) {
            *mine = (*mine).max(*theirs);
        }
    }

    #[test]
    fn shared_chunks_answer_like_plain_vectors() {
        // Three clocks over 600 tasks, ticked and joined in a fixed
        // pseudo-random pattern, against plain vectors doing the same.
        let width = 600usize;
        let mut clocks = vec![VectorClock::default(); 3];
        let mut plain = vec![Vec::<u32>::new(); 3];
        let mut state = 12345u64;
        let mut next = |bound: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % bound
        };
        for _ in 0..5_000 {
            let (first, second) = (next(3), next(3));
            match next(4) {
                0 | 1 => {
                    let task = next(width);
                    let ticked = clocks[first].tick(TaskId(task as u32));
                    if plain[first].len() <= task {
                        plain[first].resize(task + 1, 0);
                    }
                    plain[first][task] += 1;
                    assert_eq!(ticked, plain[first][task]);
                }
                2 => {
                    let theirs = clocks[second].clone();
                    clocks[first].join(&theirs);
                    let theirs = plain[second].clone();
                    plain_join(&mut plain[first], &theirs);
                }
                _ => {
                    let theirs = clocks[second].clone();
                    clocks[first].assign(&theirs);
                    plain[first] = plain[second].clone();
                }
            }
            for task in 0..width {
                let expected = plain[first].get(task).copied().unwrap_or(0);
                assert_eq!(clocks[first].get(TaskId(task as u32)), expected);
            }
        }
    }
}
