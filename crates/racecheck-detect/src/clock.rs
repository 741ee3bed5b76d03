//! Vector clocks: one logical counter per task.

use racecheck_trace::TaskId;

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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VectorClock {
    entries: Vec<u32>,
}

impl VectorClock {
    /// The entry of `task`.
    #[inline]
    pub fn get(&self, task: TaskId) -> u32 {
        self.entries.get(task.index()).copied().unwrap_or(0)
    }

    /// Advances `task`'s own entry by one and returns the new value.
    #[inline]
    pub fn tick(&mut self, task: TaskId) -> u32 {
        if self.entries.len() <= task.index() {
            self.entries.resize(task.index() + 1, 0);
        }
        self.entries[task.index()] += 1;
        self.entries[task.index()]
    }

    /// Takes the entry-wise maximum with `other`.
    #[inline]
    pub fn join(&mut self, other: &VectorClock) {
        if self.entries.len() < other.entries.len() {
            self.entries.resize(other.entries.len(), 0);
        }
        for (mine, theirs) in self.entries.iter_mut().zip(&other.entries) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// Becomes a copy of `other`, reusing the allocation.
    #[inline]
    pub fn assign(&mut self, other: &VectorClock) {
        self.entries.clear();
        self.entries.extend_from_slice(&other.entries);
    }

    /// Resets every entry to zero, keeping the allocation.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Whether every entry is at most the other's: `self` happened before
    /// (or is) `other`.
    pub fn happens_before_or_equal(&self, other: &VectorClock) -> bool {
        self.entries
            .iter()
            .enumerate()
            .all(|(task, &mine)| mine <= other.get(TaskId(task as u32)))
    }
}
