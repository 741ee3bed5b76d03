//! Happens-before, online: vector clocks maintained event by event, with
//! FastTrack-style epochs for tracked accesses (Flanagan & Freund, PLDI
//! 2009) so that the common access costs O(1).

use crate::clock::VectorClock;
use crate::sync::{role, Channel, Role};
use racecheck_trace::{
    Event, EventIndex, ObjectId, ObjectInfo, Operand, Order, ReadRow, Row, TaskId,
};
use std::collections::VecDeque;

/// Two accesses to the same tracked object, at least one a write, by
/// different tasks, not ordered by happens-before: indices into the trace's
/// events, the earlier first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RacePair {
    /// The tracked object.
    pub object: ObjectId,
    /// The earlier access.
    pub first: EventIndex,
    /// The later access.
    pub second: EventIndex,
}

/// An access remembered as an epoch: the task's own clock entry at the
/// access, and where it is in the trace.
#[derive(Clone, Copy, Debug)]
struct Epoch {
    task: TaskId,
    clock: u32,
    event: EventIndex,
}

impl Epoch {
    /// Whether this access happened before anything that knows `clock`.
    #[inline]
    fn happens_before(self, clock: &VectorClock) -> bool {
        self.clock <= clock.get(self.task)
    }
}

/// The clocks and access history of one object.
#[derive(Debug, Default)]
struct ObjectState {
    main: VectorClock,
    readers: VectorClock,
    /// Clocks of messages sent and not yet received, oldest first.
    messages: VecDeque<VectorClock>,
    last_write: Option<Epoch>,
    /// Reads since the last write that no later read is known to follow;
    /// usually one (the FastTrack epoch), more only while reads are
    /// concurrent.
    reads: Vec<Epoch>,
    /// A race on this object was already reported in this execution.
    raced: bool,
}

impl ObjectState {
    fn reset(&mut self, spare: &mut Vec<VectorClock>) {
        self.main.clear();
        self.readers.clear();
        spare.extend(self.messages.drain(..));
        self.last_write = None;
        self.reads.clear();
        self.raced = false;
    }
}

/// Happens-before over one execution, fed one event at a time.
///
/// Every event advances its task's own clock entry, so each event has a
/// unique epoch; acquires join the object's clocks, releases join into
/// them (the rules are in one table shared with [`HbGraph`](crate::HbGraph)).
/// Tracked reads and writes are checked against the last write and the
/// concurrent reads: a race is reported once per object per execution,
/// whichever order the execution happened to run the accesses in.
///
/// ```
/// use racecheck_detect::HappensBefore;
/// use racecheck_trace::{Event, EventIndex, Location, ObjectId, ObjectInfo, ObjectKind, Op, TaskId};
///
/// let objects = [ObjectInfo { kind: ObjectKind::Shared, name: None, created_at: Location::caller() }];
/// let write = |task| Event { step: 0, task: TaskId(task), op: Op::Write { object: ObjectId(0) }, location: Location::caller() };
/// let mut hb = HappensBefore::default();
/// let mut races = Vec::new();
/// hb.observe(EventIndex(0), &write(1), &objects, &mut races);
/// hb.observe(EventIndex(1), &write(2), &objects, &mut races);
/// assert_eq!(races.len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct HappensBefore {
    tasks: Vec<VectorClock>,
    /// Clocks of publishing events (notify, set), by event index, for the
    /// completions that name them.
    published: Vec<(EventIndex, VectorClock)>,
    finished: Vec<VectorClock>,
    objects: Vec<ObjectState>,
    spare_clocks: Vec<VectorClock>,
}

impl HappensBefore {
    /// Forgets everything, keeping allocations, for the next execution.
    pub fn reset(&mut self) {
        self.tasks.iter_mut().for_each(VectorClock::clear);
        self.spare_clocks
            .extend(self.published.drain(..).map(|(_, clock)| clock));
        self.finished.iter_mut().for_each(VectorClock::clear);
        let spare = &mut self.spare_clocks;
        self.objects
            .iter_mut()
            .for_each(|object| object.reset(spare));
    }

    /// The current clock of `task`.
    pub fn clock(&self, task: TaskId) -> VectorClock {
        self.tasks.get(task.index()).cloned().unwrap_or_default()
    }

    /// Processes event number `index` of a trace whose objects are
    /// `objects`; pushes any race it completes onto `races`.
    #[inline]
    pub fn observe(
        &mut self,
        index: EventIndex,
        event: &Event,
        objects: &[ObjectInfo],
        races: &mut Vec<RacePair>,
    ) {
        let task = event.task;
        self.ensure_task(task);
        let step = event.op.with_row(ClockStepOf { objects });
        // Learn before the tick: the event itself knows what it learned.
        match step {
            ClockStep::Object(object, role) => {
                self.ensure_object(object);
                self.learn(task, role, object);
            }
            ClockStep::Join(target) => {
                if let Some(finished) = self.finished.get(target.index()) {
                    self.tasks[task.index()].join(finished);
                }
            }
            ClockStep::Spawn(_) | ClockStep::Finish | ClockStep::None => {}
        }
        let epoch = self.tasks[task.index()].tick(task);
        match step {
            ClockStep::Object(object, role) => {
                self.teach(index, task, role, object, epoch, races);
            }
            ClockStep::Spawn(child) => self.spawn(task, child),
            ClockStep::Finish => self.finish(task),
            ClockStep::Join(_) | ClockStep::None => {}
        }
    }

    /// What `task` learns from the event's object, by its role.
    #[inline]
    fn learn(&mut self, task: TaskId, role: Role, object: ObjectId) {
        match role {
            Role::Acquire { with_readers } => {
                let state = &self.objects[object.index()];
                self.tasks[task.index()].join(&state.main);
                if with_readers {
                    self.tasks[task.index()].join(&state.readers);
                }
            }
            Role::ReadModifyWrite { acquires: true, .. } => {
                let state = &self.objects[object.index()];
                self.tasks[task.index()].join(&state.main);
            }
            Role::AcquireFrom(source) => {
                let found = self
                    .published
                    .binary_search_by_key(&source, |&(index, _)| index);
                if let Ok(position) = found {
                    self.tasks[task.index()].join(&self.published[position].1);
                }
            }
            Role::ReceiveMessage => {
                if let Some(message) = self.objects[object.index()].messages.pop_front() {
                    self.tasks[task.index()].join(&message);
                    self.spare_clocks.push(message);
                }
            }
            _ => {}
        }
    }

    /// What the event publishes to the object (its role), and the race
    /// check of a tracked access, after the task's tick.
    #[inline]
    fn teach(
        &mut self,
        index: EventIndex,
        task: TaskId,
        role: Role,
        object: ObjectId,
        epoch: u32,
        races: &mut Vec<RacePair>,
    ) {
        match role {
            Role::Release(channel) => {
                let clock = &self.tasks[task.index()];
                let state = &mut self.objects[object.index()];
                match channel {
                    Channel::Main => state.main.join(clock),
                    Channel::Last => state.main.assign(clock),
                    Channel::Readers => state.readers.join(clock),
                }
            }
            Role::ReadModifyWrite { releases: true, .. } => {
                let clock = &self.tasks[task.index()];
                self.objects[object.index()].main.join(clock);
            }
            Role::Overwrite => self.objects[object.index()].main.clear(),
            Role::Publish => {
                let mut clock = self.spare_clocks.pop().unwrap_or_default();
                clock.assign(&self.tasks[task.index()]);
                // Events arrive in index order: `published` stays sorted.
                self.published.push((index, clock));
            }
            Role::SendMessage => {
                let mut message = self.spare_clocks.pop().unwrap_or_default();
                message.assign(&self.tasks[task.index()]);
                self.objects[object.index()].messages.push_back(message);
            }
            Role::Access { write } => {
                let access = Epoch {
                    task,
                    clock: epoch,
                    event: index,
                };
                self.check_access(object, access, write, races);
            }
            _ => {}
        }
    }

    /// A spawn passes the parent's clock to the child.
    #[inline]
    fn spawn(&mut self, task: TaskId, child: TaskId) {
        self.ensure_task(child);
        let (parent, child) = pick_two(&mut self.tasks, task.index(), child.index());
        if let Some(child) = child {
            child.join(parent);
        }
    }

    /// A finish keeps the task's clock for the joins to come.
    #[inline]
    fn finish(&mut self, task: TaskId) {
        if self.finished.len() <= task.index() {
            self.finished
                .resize_with(task.index() + 1, VectorClock::default);
        }
        let (tasks, finished) = (&self.tasks, &mut self.finished);
        finished[task.index()].assign(&tasks[task.index()]);
    }

    fn check_access(
        &mut self,
        object: ObjectId,
        access: Epoch,
        write: bool,
        races: &mut Vec<RacePair>,
    ) {
        let clock = &self.tasks[access.task.index()];
        let state = &mut self.objects[object.index()];
        let mut race = |earlier: Epoch, state_raced: &mut bool| {
            if earlier.task != access.task && !earlier.happens_before(clock) && !*state_raced {
                *state_raced = true;
                races.push(RacePair {
                    object,
                    first: earlier.event,
                    second: access.event,
                });
            }
        };
        if let Some(last_write) = state.last_write {
            race(last_write, &mut state.raced);
        }
        if write {
            for &read in &state.reads {
                race(read, &mut state.raced);
            }
            state.last_write = Some(access);
            state.reads.clear();
        } else {
            // Reads the new one follows are subsumed by it; in the common
            // case this leaves a single epoch.
            state
                .reads
                .retain(|read| read.task != access.task && !read.happens_before(clock));
            state.reads.push(access);
        }
    }

    fn ensure_task(&mut self, task: TaskId) {
        if self.tasks.len() <= task.index() {
            self.tasks
                .resize_with(task.index() + 1, VectorClock::default);
        }
    }

    fn ensure_object(&mut self, object: ObjectId) {
        if self.objects.len() <= object.index() {
            self.objects
                .resize_with(object.index() + 1, ObjectState::default);
        }
    }
}

/// What the clocks do with one event, read from its row: an object's
/// role there, or the task order of a spawn, a join or a finish. A blocked
/// task waits (its operand is a wait, not an object): it has not
/// synchronised with anything yet.
#[derive(Clone, Copy, Debug)]
enum ClockStep {
    Object(ObjectId, Role),
    Spawn(TaskId),
    Join(TaskId),
    Finish,
    None,
}

/// Reads an event's [`ClockStep`] from its row, in a trace whose objects
/// are `objects`. Copied into each arm of [`Op::with_row`], so that the
/// role's `match` on the order folds to one on the object's kind.
///
/// [`Op::with_row`]: racecheck_trace::Op::with_row
struct ClockStepOf<'a> {
    objects: &'a [ObjectInfo],
}

impl ReadRow for ClockStepOf<'_> {
    type Output = ClockStep;

    #[inline(always)]
    fn read(self, row: Row) -> ClockStep {
        match (row.operand, row.order) {
            (Operand::Object(object), order) => {
                let role = match self.objects.get(object.index()) {
                    Some(info) => role(info.kind, order),
                    None => Role::None,
                };
                ClockStep::Object(object, role)
            }
            (Operand::Task(child), Order::Spawn) => ClockStep::Spawn(child),
            (Operand::Task(target), Order::Join) => ClockStep::Join(target),
            (_, Order::Finish) => ClockStep::Finish,
            _ => ClockStep::None,
        }
    }
}

/// Mutable access to two distinct clocks (`second` is `None` if it is the
/// same as the first).
fn pick_two(
    clocks: &mut [VectorClock],
    first: usize,
    second: usize,
) -> (&VectorClock, Option<&mut VectorClock>) {
    if first < second {
        let (low, high) = clocks.split_at_mut(second);
        (&low[first], Some(&mut high[0]))
    } else if second < first {
        let (low, high) = clocks.split_at_mut(first);
        (&high[0], Some(&mut low[second]))
    } else {
        (&clocks[first], None)
    }
}

/// The clock of every event of `trace`, as [`HappensBefore`] computes it:
/// event `a` happens before event `b` exactly when `a != b` and
/// `clocks[b].get(task of a) >= clocks[a].get(task of a)`.
///
/// ```
/// use racecheck_detect::event_clocks;
/// assert!(event_clocks(&racecheck_trace::Trace::default()).is_empty());
/// ```
pub fn event_clocks(trace: &racecheck_trace::Trace) -> Vec<VectorClock> {
    let mut hb = HappensBefore::default();
    let mut races = Vec::new();
    trace
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            hb.observe(EventIndex::new(index), event, &trace.objects, &mut races);
            hb.clock(event.task)
        })
        .collect()
}
