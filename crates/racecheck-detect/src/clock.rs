//! Vector clocks: one counter per entry, an entry per task (or per slot:
//! the race detector gives entries only to tasks it may still be asked
//! about, see [`HappensBefore`](crate::HappensBefore)).
//!
//! The first [`NEAR_ENTRIES`] entries live in the clock itself, with a
//! count of how many may be non-zero, so that the clocks of a small program
//! (and the race check's clocks, which have that many slots before they
//! first collect) join and copy a few entries with no allocation and no
//! indirection. The entries up to [`HEAD_ENTRIES`] (the tasks of almost
//! every test) follow in a plain vector. The entries beyond are stored in
//! chunks of [`CHUNK_ENTRIES`] shared
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
//! unit tests below check it against plain vectors, one a proptest over
//! random raises, joins, copies and clears of tasks up to 20,000, and
//! `crates/racecheck-detect/tests/happens_before.rs` checks clocks of tasks
//! beyond the inline entries against graph reachability).

use std::sync::Arc;

/// Entries stored in the clock itself.
pub const NEAR_ENTRIES: usize = 16;

/// Entries stored in the clock or its plain vector, before the chunks.
pub const HEAD_ENTRIES: usize = 256;

/// Entries per shared chunk beyond the head.
pub const CHUNK_ENTRIES: usize = 64;

type Chunk = [u32; CHUNK_ENTRIES];

/// A vector clock over entry indices, growing as entries appear. Missing
/// entries are zero.
///
/// ```
/// use racecheck_detect::VectorClock;
///
/// let mut mine = VectorClock::default();
/// mine.raise(0, 1);
/// let mut yours = VectorClock::default();
/// yours.raise(1, 2);
/// yours.join(&mine);
/// assert_eq!(yours.get(0), 1);
/// assert!(mine.happens_before_or_equal(&yours));
/// ```
#[derive(Clone, Debug, Default)]
pub struct VectorClock {
    /// Entries `0..NEAR_ENTRIES`; those from `near_len` on are zero.
    near: [u32; NEAR_ENTRIES],
    /// How many of the near entries may be non-zero.
    near_len: usize,
    /// `head` or `tail` is not empty: one test instead of four where
    /// the near entries are all there is (every clock of a small program).
    far: bool,
    /// Entries `NEAR_ENTRIES..HEAD_ENTRIES`, from `NEAR_ENTRIES` on.
    head: Vec<u32>,
    /// Chunk `i` holds the entries of tasks from
    /// `HEAD_ENTRIES + i * CHUNK_ENTRIES` on; `None` is all zeros.
    tail: Vec<Option<Arc<Chunk>>>,
}

impl VectorClock {
    /// The entry at `index`.
    #[inline]
    pub fn get(&self, index: usize) -> u32 {
        match self.near.get(index) {
            Some(&entry) => entry,
            None => self.get_far(index),
        }
    }

    /// [`get`](Self::get) beyond the near entries.
    #[inline(never)]
    fn get_far(&self, index: usize) -> u32 {
        if index < HEAD_ENTRIES {
            return self.head.get(index - NEAR_ENTRIES).copied().unwrap_or(0);
        }
        let (chunk, offset) = chunk_of(index);
        match self.tail.get(chunk) {
            Some(Some(entries)) => entries[offset],
            _ => 0,
        }
    }

    /// Raises the entry at `index` to `value` if it is below it.
    #[inline(always)]
    pub fn raise(&mut self, index: usize, value: u32) {
        match self.near.get_mut(index) {
            Some(entry) => {
                *entry = (*entry).max(value);
                self.near_len = self.near_len.max(index + 1);
            }
            None => self.raise_far(index, value),
        }
    }

    /// [`raise`](Self::raise) beyond the near entries.
    #[cold]
    #[inline(never)]
    fn raise_far(&mut self, index: usize, value: u32) {
        self.far = true;
        if index < HEAD_ENTRIES {
            let offset = index - NEAR_ENTRIES;
            if self.head.len() <= offset {
                self.head.resize(offset + 1, 0);
            }
            self.head[offset] = self.head[offset].max(value);
            return;
        }
        let (chunk, offset) = chunk_of(index);
        if self.tail.len() <= chunk {
            self.tail.resize(chunk + 1, None);
        }
        let entries = self.tail[chunk].get_or_insert_with(|| Arc::new([0; CHUNK_ENTRIES]));
        if entries[offset] < value {
            Arc::make_mut(entries)[offset] = value;
        }
    }

    /// Takes the entry-wise maximum with `other`.
    #[inline(always)]
    pub fn join(&mut self, other: &VectorClock) {
        // Entries from `other.near_len` on are zero in `other`.
        for index in 0..other.near_len.min(NEAR_ENTRIES) {
            self.near[index] = self.near[index].max(other.near[index]);
        }
        self.near_len = self.near_len.max(other.near_len);
        if other.far {
            self.join_far(other);
        }
    }

    /// [`join`](Self::join) beyond the near entries.
    #[inline(never)]
    fn join_far(&mut self, other: &VectorClock) {
        self.far = true;
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

    /// [`join`](VectorClock::join) beyond the head: share what
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
    #[inline(always)]
    pub fn assign(&mut self, other: &VectorClock) {
        // Sixty-four bytes: a few vector moves, cheaper than copying only
        // the entries in use.
        self.near = other.near;
        self.near_len = other.near_len;
        if self.far || other.far {
            self.assign_far(other);
        }
    }

    /// [`assign`](Self::assign) beyond the near entries.
    #[inline(never)]
    fn assign_far(&mut self, other: &VectorClock) {
        self.far = other.far;
        self.head.clear();
        self.head.extend_from_slice(&other.head);
        if !(self.tail.is_empty() && other.tail.is_empty()) {
            self.assign_tail(other);
        }
    }

    /// [`assign`](VectorClock::assign) beyond the head: a lock
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

    /// Resets every entry to zero, keeping the allocations.
    #[inline]
    pub fn clear(&mut self) {
        self.near = [0; NEAR_ENTRIES];
        self.near_len = 0;
        self.far = false;
        self.head.clear();
        self.tail.clear();
    }

    /// The number of entries that may be non-zero.
    fn width(&self) -> usize {
        if !self.tail.is_empty() {
            HEAD_ENTRIES + self.tail.len() * CHUNK_ENTRIES
        } else if !self.head.is_empty() {
            NEAR_ENTRIES + self.head.len()
        } else {
            self.near_len
        }
    }

    /// Whether every entry is at most the other's: `self` happened before
    /// (or is) `other`.
    pub fn happens_before_or_equal(&self, other: &VectorClock) -> bool {
        (0..self.width()).all(|index| self.get(index) <= other.get(index))
    }
}

/// Equal entries, however they are stored: missing entries are zero.
///
/// ```
/// use racecheck_detect::VectorClock;
///
/// let mut far = VectorClock::default();
/// far.raise(500, 7);
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
    use proptest::prelude::*;

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
        // Three clocks over 600 tasks, raised by one and joined in a fixed
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
                    if plain[first].len() <= task {
                        plain[first].resize(task + 1, 0);
                    }
                    plain[first][task] += 1;
                    clocks[first].raise(task, plain[first][task]);
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
                assert_eq!(clocks[first].get(task), expected);
            }
        }
    }

    /// One operation on four clocks (or plain vectors), named by index:
    /// raise an entry of one (perhaps to less than it holds), join or copy
    /// a second into a first, clear one.
    #[derive(Clone, Debug)]
    enum Step {
        Raise(usize, u32, u32),
        Join(usize, usize),
        Assign(usize, usize),
        Clear(usize),
    }

    /// Task ids in the inline entries, around their end, in the first
    /// chunks and beyond 10,000.
    fn task_id() -> impl Strategy<Value = u32> {
        let head = HEAD_ENTRIES as u32;
        let near = NEAR_ENTRIES as u32;
        prop_oneof![
            0..8u32,
            near - 3..near + 3,
            head - 4..head + 4,
            head..head + 3 * CHUNK_ENTRIES as u32,
            9_990..10_010u32,
            10_000..20_000u32,
        ]
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let step = prop_oneof![
            3 => (0..4usize, task_id(), 1..40u32)
                .prop_map(|(clock, task, value)| Step::Raise(clock, task, value)),
            2 => (0..4usize, 0..4usize).prop_map(|(mine, theirs)| Step::Join(mine, theirs)),
            1 => (0..4usize, 0..4usize).prop_map(|(mine, theirs)| Step::Assign(mine, theirs)),
            1 => (0..4usize).prop_map(Step::Clear),
        ];
        prop::collection::vec(step, 0..120)
    }

    /// Whether every entry of `mine` is at most the one of `theirs`.
    fn plain_at_most(mine: &[u32], theirs: &[u32]) -> bool {
        mine.iter()
            .enumerate()
            .all(|(task, &entry)| entry <= theirs.get(task).copied().unwrap_or(0))
    }

    proptest! {
        #[test]
        fn clocks_answer_like_plain_vectors(steps in steps()) {
            let mut clocks = vec![VectorClock::default(); 4];
            let mut plain = vec![Vec::<u32>::new(); 4];
            let mut seen = std::collections::BTreeSet::new();
            for step in steps {
                match step {
                    Step::Raise(clock, task, value) => {
                        seen.insert(task);
                        let index = task as usize;
                        if plain[clock].len() <= index {
                            plain[clock].resize(index + 1, 0);
                        }
                        plain[clock][index] = plain[clock][index].max(value);
                        clocks[clock].raise(index, value);
                    }
                    Step::Join(mine, theirs) => {
                        let other = clocks[theirs].clone();
                        clocks[mine].join(&other);
                        let other = plain[theirs].clone();
                        plain_join(&mut plain[mine], &other);
                    }
                    Step::Assign(mine, theirs) => {
                        let other = clocks[theirs].clone();
                        clocks[mine].assign(&other);
                        plain[mine] = plain[theirs].clone();
                    }
                    Step::Clear(clock) => {
                        clocks[clock].clear();
                        plain[clock].clear();
                    }
                }
                for (clock, plain_clock) in clocks.iter().zip(&plain) {
                    for &task in &seen {
                        let expected = plain_clock.get(task as usize).copied().unwrap_or(0);
                        prop_assert_eq!(clock.get(task as usize), expected);
                    }
                }
            }
            // Orders compare every entry: once, at the end.
            for mine in 0..4 {
                for theirs in 0..4 {
                    let expected = plain_at_most(&plain[mine], &plain[theirs]);
                    prop_assert_eq!(clocks[mine].happens_before_or_equal(&clocks[theirs]), expected);
                    let equal = expected && plain_at_most(&plain[theirs], &plain[mine]);
                    prop_assert_eq!(clocks[mine] == clocks[theirs], equal);
                }
            }
        }
    }
}
