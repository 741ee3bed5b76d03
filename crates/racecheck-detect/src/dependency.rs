//! Which steps conflict: the dependency relation that partial-order
//! reduction explores around. Two steps of different tasks are dependent
//! when running them in the other order could change what either does:
//! both touch the same object or task and at least one changes it.

use racecheck_trace::{Event, ObjectId, Op, TaskId, WaitTarget};

/// Something a step reads or changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A synchronisation object or tracked state.
    Object(ObjectId),
    /// A task's life: spawned, finished, joined.
    Task(TaskId),
}

/// What one step of one task read and changed.
///
/// ```
/// use racecheck_detect::Footprint;
/// use racecheck_trace::{Event, Location, ObjectId, Op, TaskId};
///
/// let read = |task| Event { step: 0, task: TaskId(task), op: Op::Read { object: ObjectId(0) }, location: Location::caller() };
/// let write = |task| Event { step: 0, task: TaskId(task), op: Op::Write { object: ObjectId(0) }, location: Location::caller() };
/// let reads = Footprint::of(TaskId(1), &[read(1)]);
/// assert!(!reads.conflicts_with(&Footprint::of(TaskId(2), &[read(2)])));
/// assert!(reads.conflicts_with(&Footprint::of(TaskId(2), &[write(2)])));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// `(key, changes it)`, sorted and merged: a key appears once, with
    /// `true` if any event of the step changed it.
    accesses: Vec<(Key, bool)>,
}

impl Footprint {
    /// The footprint of a step of `task` made of `events`. Every step reads
    /// its own task's key, so that it is ordered after its spawn and before
    /// a join of its task.
    pub fn of(task: TaskId, events: &[Event]) -> Footprint {
        let mut accesses = vec![(Key::Task(task), false)];
        for event in events {
            if event.op == Op::Finish {
                accesses.push((Key::Task(task), true));
            } else if let Some(access) = access(&event.op) {
                accesses.push(access);
            }
        }
        accesses.sort_unstable();
        accesses.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 |= later.1;
                true
            } else {
                false
            }
        });
        Footprint { accesses }
    }

    /// Adds `other`'s accesses: the footprint of either step, for a step
    /// that may do one or the other.
    ///
    /// ```
    /// use racecheck_detect::Footprint;
    /// use racecheck_trace::{Event, Location, ObjectId, Op, TaskId};
    ///
    /// let write = Event { step: 0, task: TaskId(1), op: Op::Write { object: ObjectId(0) }, location: Location::caller() };
    /// let mut either = Footprint::of(TaskId(1), &[]);
    /// either.add(&Footprint::of(TaskId(1), &[write]));
    /// let read = Event { step: 0, task: TaskId(2), op: Op::Read { object: ObjectId(0) }, location: Location::caller() };
    /// assert!(either.conflicts_with(&Footprint::of(TaskId(2), &[read])));
    /// ```
    pub fn add(&mut self, other: &Footprint) {
        self.accesses.extend_from_slice(&other.accesses);
        self.accesses.sort_unstable();
        self.accesses.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 |= later.1;
                true
            } else {
                false
            }
        });
    }

    /// The keys and whether the step changed them.
    pub fn accesses(&self) -> &[(Key, bool)] {
        &self.accesses
    }

    /// Whether the two steps touch a common key and one of them changes it.
    pub fn conflicts_with(&self, other: &Footprint) -> bool {
        let (mut mine, mut theirs) = (self.accesses.iter(), other.accesses.iter());
        let (mut a, mut b) = (mine.next(), theirs.next());
        while let (Some(&(key_a, write_a)), Some(&(key_b, write_b))) = (a, b) {
            match key_a.cmp(&key_b) {
                std::cmp::Ordering::Less => a = mine.next(),
                std::cmp::Ordering::Greater => b = theirs.next(),
                std::cmp::Ordering::Equal => {
                    if write_a || write_b {
                        return true;
                    }
                    a = mine.next();
                    b = theirs.next();
                }
            }
        }
        false
    }
}

/// The key an operation touches and whether it changes it.
fn access(op: &Op) -> Option<(Key, bool)> {
    match *op {
        // Observing a watch or broadcast value reads the channel; what it
        // changes (the receiver's own position) belongs to one task.
        Op::Read { object }
        | Op::TryFailed { object }
        | Op::Load { object, .. }
        | Op::Observe { object, .. } => Some((Key::Object(object), false)),
        // Blocking on an object queues the task there: the queue's order
        // decides who is served next, so it changes the object. Waiting for
        // a task to finish changes nothing anyone else sees, and the join
        // that follows reads the task's end: that attempt is independent of
        // everything.
        Op::Block { on } => match on {
            WaitTarget::Object(object) => Some((Key::Object(object), true)),
            WaitTarget::Task(_) | WaitTarget::Untracked => None,
        },
        Op::Spawn { child } => Some((Key::Task(child), true)),
        Op::Join { target } => Some((Key::Task(target), false)),
        Op::Yield | Op::Sleep { .. } | Op::TimedOut | Op::Finish => None,
        _ => op.object().map(|object| (Key::Object(object), true)),
    }
}
