//! Which steps conflict: the dependency relation that partial-order
//! reduction explores around. Two steps of different tasks are dependent
//! when running them in the other order could change what either does:
//! both touch the same object or task and at least one changes it.
//!
//! Explicit yields take part too ([`Turns`]): the search lets a task that
//! yielded run again only after another task did something visible
//! (CHESS's fairness rule), and for that rule to hold in every reordering
//! the search considers equivalent, a yield and the step that resumes the
//! yielding task conflict with every visible step of the other tasks.

use racecheck_trace::{Event, Holding, LockMode, ObjectId, Operand, TaskId, Touch, WaitTarget};

/// Something a step reads or changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A synchronisation object or tracked state.
    Object(ObjectId),
    /// A task's life: spawned, finished, joined.
    Task(TaskId),
    /// Whose turn it is: an explicit yield and the step that resumes the
    /// yielding task change it; every other visible step reads it (see
    /// [`Turns`]).
    Turn,
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
    /// The object, when the step did nothing but block on it.
    blocked_on: Option<ObjectId>,
    /// The objects the step changed only by releasing them (an unlock,
    /// returned or added permits), sorted.
    released: Vec<ObjectId>,
    /// The objects the step handed to a waiting task for exclusive use
    /// (it recorded the waiter's `Lock`), sorted.
    handed_over: Vec<ObjectId>,
    /// The task of a failed join that ended the step, left out of
    /// `accesses` for as long as the step's task then blocks (see
    /// [`Footprint::went_on`]).
    last_failed_join: Option<TaskId>,
    /// How many joins the step failed (tasks it found still running).
    failed_joins: u32,
}

impl Footprint {
    /// The footprint of a step of `task` made of `events`. Every step reads
    /// its own task's key, so that it is ordered after its spawn and before
    /// a join of its task. An event of another task is an operation this
    /// step completed on its behalf (a lock handed to a waiter): it also
    /// changes that task, which runs on from it.
    pub fn of(task: TaskId, events: &[Event]) -> Footprint {
        let mut accesses = vec![(Key::Task(task), false)];
        let last_failed_join = lone_failed_join(task, events);
        let mut failed_joins = 0;
        for (position, event) in events.iter().enumerate() {
            if let Some(target) = failed_join(task, event) {
                failed_joins += 1;
                if last_failed_join != Some((position, target)) {
                    accesses.push((Key::Task(target), false));
                }
            }
            let op = event.op;
            if op.touch() == Touch::Finish {
                accesses.push((Key::Task(task), true));
            } else if let Some(access) = access(op.operand(), op.touch()) {
                accesses.push(access);
            }
            if event.task != task {
                accesses.push((Key::Task(event.task), true));
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
        let blocked_on = match events {
            [event] => match event.op.waits_for() {
                Some(WaitTarget::Object(object)) => Some(object),
                _ => None,
            },
            _ => None,
        };
        Footprint {
            accesses,
            blocked_on,
            released: released(task, events),
            handed_over: handed_over(task, events),
            last_failed_join: last_failed_join.map(|(_, target)| target),
            failed_joins,
        }
    }

    /// How many joins the step failed: its task found that many tasks
    /// still running.
    ///
    /// ```
    /// use racecheck_detect::Footprint;
    /// use racecheck_trace::{Event, Location, Need, Op, TaskId, WaitTarget};
    ///
    /// let on = |target| WaitTarget::Task(TaskId(target));
    /// let op = |target| Op::Block { on: on(target), need: Need::Unstated };
    /// let waits = |target| Event { step: 0, task: TaskId(1), op: op(target), location: Location::caller() };
    /// assert_eq!(Footprint::of(TaskId(1), &[waits(2), waits(3)]).failed_joins(), 2);
    /// ```
    pub fn failed_joins(&self) -> u32 {
        self.failed_joins
    }

    /// The step's task did not block after the step (it was suspended at a
    /// scheduling point inside a poll, or woken meanwhile), or the step
    /// goes on a poll that already failed a join: a failed join that ended
    /// the step was not the end of what the task did on seeing that task
    /// still run, so it reads that task after all.
    ///
    /// ```
    /// use racecheck_detect::Footprint;
    /// use racecheck_trace::{Event, Location, Need, Op, TaskId, WaitTarget};
    ///
    /// let event = |task, op| Event { step: 0, task: TaskId(task), op, location: Location::caller() };
    /// let waits = event(1, Op::Block { on: WaitTarget::Task(TaskId(2)), need: Need::Unstated });
    /// let finish = Footprint::of(TaskId(2), &[event(2, Op::Finish)]);
    /// let mut join = Footprint::of(TaskId(1), &[waits]);
    /// assert!(!join.conflicts_with(&finish), "a join that blocks waits for nothing else");
    /// join.went_on();
    /// assert!(join.conflicts_with(&finish));
    /// ```
    pub fn went_on(&mut self) {
        if let Some(target) = self.last_failed_join.take() {
            self.add(&Footprint {
                accesses: vec![(Key::Task(target), false)],
                ..Footprint::default()
            });
        }
    }

    /// Whether the step handed `object` to a waiting task for exclusive
    /// use: after it, another attempt to take the object blocks.
    ///
    /// ```
    /// use racecheck_detect::Footprint;
    /// use racecheck_trace::{Event, Location, LockMode, ObjectId, Op, TaskId};
    ///
    /// let lock = ObjectId(0);
    /// let event = |task, op| Event { step: 0, task: TaskId(task), op, location: Location::caller() };
    /// let unlock = event(1, Op::Unlock { object: lock, mode: LockMode::Exclusive });
    /// let granted = event(2, Op::Lock { object: lock, mode: LockMode::Exclusive });
    /// assert!(Footprint::of(TaskId(1), &[unlock, granted]).hands_over(lock));
    /// assert!(!Footprint::of(TaskId(1), &[unlock]).hands_over(lock));
    /// ```
    pub fn hands_over(&self, object: ObjectId) -> bool {
        self.handed_over.binary_search(&object).is_ok()
    }

    /// Whether this step and `other` conflict on no key but `key`.
    fn conflicts_only_on(&self, other: &Footprint, key: Key) -> bool {
        self.accesses.iter().all(|&(mine, changes)| {
            mine == key
                || !other
                    .accesses
                    .iter()
                    .any(|&(theirs, their_changes)| theirs == mine && (changes || their_changes))
        })
    }

    /// The object, when the step did nothing but block on it.
    pub fn blocked_on(&self) -> Option<ObjectId> {
        self.blocked_on
    }

    /// Whether a task asleep on this step, an attempt that blocked on an
    /// object, stays covered after `step`: the two meet on that object
    /// alone, and `step` only released it. The task's attempt now would
    /// take the object (or queue behind whoever `step` handed it to), which
    /// an execution already explored covers: the one where it blocked and
    /// was served in turn. Its next step is then the one it took once
    /// served.
    ///
    /// ```
    /// use racecheck_detect::Footprint;
    /// use racecheck_trace::{Event, LockMode, Location, Need, ObjectId, Op, TaskId, WaitTarget};
    ///
    /// let event = |task, op| Event { step: 0, task: TaskId(task), op, location: Location::caller() };
    /// let lock = ObjectId(0);
    /// let blocked = Footprint::of(TaskId(1), &[event(1, Op::Block { on: WaitTarget::Object(lock), need: Need::Unstated })]);
    /// let unlock = Footprint::of(TaskId(2), &[event(2, Op::Unlock { object: lock, mode: LockMode::Exclusive })]);
    /// let relock = Footprint::of(TaskId(2), &[event(2, Op::Lock { object: lock, mode: LockMode::Exclusive })]);
    /// assert!(blocked.conflicts_with(&unlock) && blocked.is_released_by(&unlock));
    /// assert!(!blocked.is_released_by(&relock));
    /// ```
    pub fn is_released_by(&self, step: &Footprint) -> bool {
        let Some(object) = self.blocked_on else {
            return false;
        };
        step.released.binary_search(&object).is_ok()
            && self.conflicts_only_on(step, Key::Object(object))
    }

    /// The same footprint, also reading or changing [`Key::Turn`].
    fn with_turn(mut self, changes: bool) -> Footprint {
        // `Turn` sorts after every object and task key.
        self.accesses.push((Key::Turn, changes));
        self
    }

    /// Whether the step of `task` touched nothing another task can see: it
    /// only read its own task (and the turn), as a step that only reaches a
    /// scheduling point, or an attempt to join that blocked.
    ///
    /// ```
    /// use racecheck_detect::Footprint;
    /// use racecheck_trace::{Event, Location, ObjectId, Op, TaskId};
    ///
    /// let write = Event { step: 0, task: TaskId(1), op: Op::Write { object: ObjectId(0) }, location: Location::caller() };
    /// assert!(Footprint::of(TaskId(1), &[]).is_private(TaskId(1)));
    /// assert!(!Footprint::of(TaskId(1), &[write]).is_private(TaskId(1)));
    /// ```
    pub fn is_private(&self, task: TaskId) -> bool {
        self.accesses
            .iter()
            .all(|&access| access == (Key::Task(task), false) || access == (Key::Turn, false))
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

/// The footprints of an execution's steps, in order, with their access to
/// [`Key::Turn`]: a step that yields explicitly, and the next step of the
/// task that yielded, change it; every other step that is not
/// [private](Footprint::is_private) reads it. So a visible step of another
/// task that ran between a yield and the resumption is ordered between them
/// in every equivalent execution, and whether a schedule keeps the fairness
/// rule (a task that yielded runs again only after another task did
/// something visible, unless none can run) depends on its partial order
/// alone. Programs without yields only read it, which changes nothing.
///
/// ```
/// use racecheck_detect::Turns;
/// use racecheck_trace::{Event, Location, ObjectId, Op, TaskId};
///
/// let event = |task, op| Event { step: 0, task: TaskId(task), op, location: Location::caller() };
/// let mut turns = Turns::default();
/// let yields = turns.footprint(TaskId(1), &[event(1, Op::Yield)]);
/// let other = turns.footprint(TaskId(2), &[event(2, Op::Write { object: ObjectId(0) })]);
/// let resumes = turns.footprint(TaskId(1), &[]);
/// assert!(yields.conflicts_with(&other) && other.conflicts_with(&resumes));
/// // Steps that neither yield nor resume at most read the turn.
/// let first = turns.footprint(TaskId(2), &[event(2, Op::Write { object: ObjectId(1) })]);
/// let second = turns.footprint(TaskId(3), &[event(3, Op::Write { object: ObjectId(2) })]);
/// assert!(!first.conflicts_with(&second));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Turns {
    /// Per task, whether its last step yielded.
    yielded: Vec<bool>,
}

impl Turns {
    /// The footprint of the next step, by `task`, made of `events`.
    pub fn footprint(&mut self, task: TaskId, events: &[Event]) -> Footprint {
        if self.yielded.len() <= task.index() {
            self.yielded.resize(task.index() + 1, false);
        }
        let yields = events.iter().any(|event| event.op.touch() == Touch::Yield);
        let resumes = std::mem::replace(&mut self.yielded[task.index()], yields);
        let footprint = Footprint::of(task, events);
        if yields || resumes {
            footprint.with_turn(true)
        } else if footprint.is_private(task) {
            footprint
        } else {
            footprint.with_turn(false)
        }
    }

    /// Forgets every task: a new execution starts.
    pub fn clear(&mut self) {
        self.yielded.clear();
    }
}

/// The objects `events`, a step of `task`, changed only by releasing them
/// once (and handing them to waiters, whose acquisitions are events of
/// theirs). Once: a waiter served by a step that releases twice takes the
/// object between the two releases, an order an attempt after the step
/// never has (adding two permits, say; the oracle found it).
fn released(task: TaskId, events: &[Event]) -> Vec<ObjectId> {
    let releases = |event: &Event| event.op.holding().returns();
    let mut released: Vec<ObjectId> = events
        .iter()
        .filter(|event| releases(event))
        .filter_map(|event| event.op.object())
        .collect();
    released.sort_unstable();
    released.dedup();
    released.retain(|&object| {
        let mut own = events
            .iter()
            .filter(|event| event.task == task && event.op.object() == Some(object));
        own.next().is_some_and(releases) && own.next().is_none()
    });
    released
}

/// The objects `events`, a step of `task`, handed to another task for
/// exclusive use.
fn handed_over(task: TaskId, events: &[Event]) -> Vec<ObjectId> {
    let mut handed_over: Vec<ObjectId> = events
        .iter()
        .filter(|event| event.task != task)
        .filter(|event| event.op.holding() == Holding::Lock(LockMode::Exclusive))
        .filter_map(|event| event.op.object())
        .collect();
    handed_over.sort_unstable();
    handed_over.dedup();
    handed_over
}

/// The task `event` of `task` failed to join: it found it running.
fn failed_join(task: TaskId, event: &Event) -> Option<TaskId> {
    match event.op.waits_for() {
        Some(WaitTarget::Task(target)) if event.task == task => Some(target),
        _ => None,
    }
}

/// A failed join that ends the step and is the step's only one: the task
/// saw a task still running and did nothing more, so, if it then blocks,
/// the attempt changes nothing anyone sees (the join that follows, once
/// woken, reads the task's end) and is left out of the footprint, as if
/// the task had not run. Any other failed join reads the task it found
/// running: when one poll awaits two handles, what the poll does next
/// depends on which has finished.
fn lone_failed_join(task: TaskId, events: &[Event]) -> Option<(usize, TaskId)> {
    let mut failed = events
        .iter()
        .enumerate()
        .filter_map(|(position, event)| Some((position, failed_join(task, event)?)));
    let first = failed.next()?;
    let ends_the_step = events[first.0 + 1..].iter().all(|later| later.task != task);
    (failed.next().is_none() && ends_the_step).then_some(first)
}

/// The key an operation on `operand` touches (its row's `touch`) and
/// whether it changes it. A blocked attempt touches the object it queues
/// at; a failed join is read in `Footprint::of` (`lone_failed_join`).
fn access(operand: Operand, touch: Touch) -> Option<(Key, bool)> {
    let changes = match touch {
        Touch::Read => false,
        Touch::Change => true,
        Touch::None | Touch::Finish | Touch::Yield => return None,
    };
    match operand {
        Operand::Object(object) | Operand::Wait(WaitTarget::Object(object), _) => {
            Some((Key::Object(object), changes))
        }
        Operand::Task(task) => Some((Key::Task(task), changes)),
        Operand::None | Operand::Until(_) | Operand::Wait(..) => None,
    }
}
