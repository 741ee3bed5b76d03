//! Happens-before, online: vector clocks maintained event by event, with
//! FastTrack-style epochs for tracked accesses (Flanagan & Freund, PLDI
//! 2009) so that the common access costs O(1).
//!
//! The race check only ever asks one question of a clock: does it know the
//! access epoch (task `u`, event `e`) that an object still remembers (its
//! last write, its concurrent reads)? So the clocks give an entry (a
//! *slot*) only to tasks that make tracked accesses. Up to 16 slots, each
//! such task keeps its own; beyond, the live epochs in each slot are
//! counted, and a slot whose epochs are all forgotten (written over, or
//! subsumed by a later read) is taken back from its owner when another
//! task needs one: a pop from a list, with no scan. Entries hold
//! *stamps* of accesses, the event index plus one, not per-task counters,
//! written into the task's own clock at each access: whatever a clock
//! holds in a slot from its earlier owner stamps an event before the new
//! owner took the slot, so it is below every epoch of the new owner and
//! answers "not known", as the full vector clock would; a clock's entry at
//! or above a live epoch stamps that access or a later one of the same
//! task, which the clock knows, so it knows the epoch too. Every
//! race answer is exact, other events write nothing, and the clocks are
//! never wider than the most epochs live at once plus one (or 16), not
//! the number of tasks: at 10,000 tasks over 16 locked objects a join
//! costs about 17 entries instead of thousands, and a program of 16 tasks
//! never counts.
//! [`event_clocks`] gives every task its own slot and stamps every event.

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

/// An access remembered as an epoch: its task, the slot that task holds
/// while the epoch lives, and where the access is in the trace.
#[derive(Clone, Copy, Debug)]
struct Epoch {
    task: TaskId,
    slot: u32,
    event: EventIndex,
}

impl Epoch {
    /// Whether this access happened before anything that knows `clock`.
    #[inline]
    fn happens_before(self, clock: &VectorClock) -> bool {
        stamp(self.event) <= clock.get(self.slot as usize)
    }
}

/// Stamps event `index` into `clock`, its task's, in [`event_clocks`]'
/// mode (see [`HappensBefore::stamp_event`]); nothing otherwise.
#[inline(always)]
fn stamp_into<const EVERY_TASK: bool>(clock: &mut VectorClock, index: EventIndex, task: TaskId) {
    if EVERY_TASK {
        clock.raise(task.index(), stamp(index));
    }
}

/// Reports `earlier` and `access` to `object` as a race if they are by
/// different tasks and unordered (`clock` is the clock of `access`'s task),
/// and if the object has not raced in this execution yet.
#[inline(always)]
fn report_race(
    object: ObjectId,
    earlier: Epoch,
    access: Epoch,
    clock: &VectorClock,
    raced: &mut bool,
    races: &mut Vec<RacePair>,
) {
    if earlier.task != access.task && !*raced && !earlier.happens_before(clock) {
        *raced = true;
        races.push(RacePair {
            object,
            first: earlier.event,
            second: access.event,
        });
    }
}

/// The stamp of event `index` in the clocks: never zero, so that a zero
/// entry knows no event.
#[inline]
fn stamp(index: EventIndex) -> u32 {
    index.0.saturating_add(1)
}

/// A task without a slot.
const NO_SLOT: u32 = u32::MAX;

/// Slots handed out freely, one for good to each task that asks: clocks
/// this wide cost little, and small programs never count epochs.
const SLOTS_BEFORE_COUNTING: usize = 16;

/// Which clock entry each task has. Up to [`SLOTS_BEFORE_COUNTING`] slots,
/// each task that makes an access gets its own for the execution. From the
/// first hand-out beyond, the live epochs in each slot are counted (one
/// scan of the live epochs, then kept event by event), and a slot whose
/// count fell to zero is taken back from its owner when another task needs
/// one: clocks stay as wide as the most epochs live at once, a hand-out
/// costs a pop, and nothing is ever scanned again. For [`event_clocks`],
/// every task keeps its own index for good.
#[derive(Debug)]
struct Slots {
    /// Per task: its slot, or [`NO_SLOT`].
    of_task: Vec<u32>,
    /// Per slot handed out: its task.
    owner: Vec<TaskId>,
    /// Live epochs are counted (see the type's documentation).
    counting: bool,
    /// Per slot, while counting: the live epochs in it.
    epochs: Vec<u32>,
    /// Slots whose count fell to zero, last first; one listed may have
    /// live epochs again (its owner made an access), and is skipped.
    idle: Vec<u32>,
    /// Per slot, while counting: it is in `idle`.
    listed: Vec<bool>,
    /// Slots handed out before counting: [`SLOTS_BEFORE_COUNTING`] (the
    /// tests take it lower to count from the start).
    counting_from: usize,
    /// Every task keeps its own index as its slot.
    every_task: bool,
}

impl Default for Slots {
    fn default() -> Slots {
        Slots {
            of_task: Vec::new(),
            owner: Vec::new(),
            counting: false,
            epochs: Vec::new(),
            idle: Vec::new(),
            listed: Vec::new(),
            counting_from: SLOTS_BEFORE_COUNTING,
            every_task: false,
        }
    }
}

impl Slots {
    fn reset(&mut self) {
        if !self.every_task {
            self.of_task.fill(NO_SLOT);
        }
        self.owner.clear();
        self.counting = false;
        self.epochs.clear();
        self.idle.clear();
        self.listed.clear();
    }

    /// Makes room for tasks up to `task`.
    fn grow(&mut self, task: TaskId) {
        let index = task.index();
        if self.of_task.len() <= index {
            if self.every_task {
                let from = self.of_task.len() as u32;
                self.of_task.extend(from..=task.0);
            } else {
                self.of_task.resize(index + 1, NO_SLOT);
            }
        }
    }

    /// `task`'s slot, or `None`.
    #[inline]
    fn of(&self, task: TaskId) -> Option<u32> {
        match self.of_task[task.index()] {
            NO_SLOT => None,
            slot => Some(slot),
        }
    }

    /// A new epoch lives in `slot` (while counting).
    #[inline(always)]
    fn retain(&mut self, slot: u32) {
        self.epochs[slot as usize] += 1;
    }

    /// An epoch in `slot` is forgotten (while counting).
    #[inline(always)]
    fn release(&mut self, slot: u32) {
        let epochs = &mut self.epochs[slot as usize];
        *epochs -= 1;
        if *epochs == 0 && !self.listed[slot as usize] {
            self.listed[slot as usize] = true;
            self.idle.push(slot);
        }
    }

    /// Whether the next hand-out counts first.
    #[inline]
    fn counts_next(&self) -> bool {
        !self.counting && self.owner.len() >= self.counting_from
    }

    /// Starts counting, given the slots of the live epochs.
    fn start_counting(&mut self, live_epochs: impl Iterator<Item = u32>) {
        self.counting = true;
        self.epochs.clear();
        self.epochs.resize(self.owner.len(), 0);
        for slot in live_epochs {
            self.epochs[slot as usize] += 1;
        }
        self.listed.clear();
        self.listed.resize(self.owner.len(), false);
        self.idle.clear();
        // Lowest slots last, so handed out first: clocks stay narrow.
        for slot in (0..self.owner.len()).rev() {
            if self.epochs[slot] == 0 {
                self.listed[slot] = true;
                self.idle.push(slot as u32);
            }
        }
    }

    /// Hands a slot out to `task`, which has none: an idle one taken back
    /// from its owner if counting, else a new one.
    fn hand_out(&mut self, task: TaskId) -> u32 {
        while let Some(slot) = self.idle.pop() {
            self.listed[slot as usize] = false;
            if self.epochs[slot as usize] > 0 {
                continue;
            }
            let previous = self.owner[slot as usize];
            if self.of_task[previous.index()] == slot {
                self.of_task[previous.index()] = NO_SLOT;
            }
            self.owner[slot as usize] = task;
            self.of_task[task.index()] = slot;
            return slot;
        }
        let slot = self.owner.len() as u32;
        self.owner.push(task);
        if self.counting {
            self.epochs.push(0);
            self.listed.push(false);
        }
        self.of_task[task.index()] = slot;
        slot
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
    /// Forgets the execution (the slots are reset with it).
    fn reset(&mut self, spare: &mut Vec<VectorClock>) {
        self.main.clear();
        self.readers.clear();
        if !self.messages.is_empty() {
            spare.extend(self.messages.drain(..));
        }
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
    /// Each task's clock, over slots.
    tasks: Vec<VectorClock>,
    slots: Slots,
    /// Objects accessed in this execution, in the order of their first
    /// access: where the live epochs are.
    accessed: Vec<ObjectId>,
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
        self.slots.reset();
        self.accessed.clear();
        if !self.published.is_empty() {
            self.spare_clocks
                .extend(self.published.drain(..).map(|(_, clock)| clock));
        }
        self.finished.iter_mut().for_each(VectorClock::clear);
        let spare = &mut self.spare_clocks;
        self.objects
            .iter_mut()
            .for_each(|object| object.reset(spare));
    }

    /// Tracks every task in its own slot (its index), for
    /// [`event_clocks`].
    fn for_every_task() -> HappensBefore {
        HappensBefore {
            slots: Slots {
                every_task: true,
                ..Slots::default()
            },
            ..HappensBefore::default()
        }
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
        let (task, happens_before) = (event.task, self);
        if happens_before.slots.every_task {
            event.op.with_row(Observe::<true> {
                happens_before,
                index,
                task,
                objects,
                races,
            });
        } else {
            event.op.with_row(Observe::<false> {
                happens_before,
                index,
                task,
                objects,
                races,
            });
        }
    }

    /// [`observe`](Self::observe), given the event's row (read through
    /// [`Observe`], which the detector's walk reads in the same arm as its
    /// held counts, so that one `match` on the operation serves both).
    /// `EVERY_TASK` is the mode of [`event_clocks`]
    /// (every event stamps its task's own entry); the race check's mode
    /// writes clocks only where order is created and at accesses, so an
    /// event that does neither (a yield, a block, a wake) costs nothing
    /// here.
    #[inline(always)]
    fn observe_row<const EVERY_TASK: bool>(
        &mut self,
        index: EventIndex,
        task: TaskId,
        row: Row,
        objects: &[ObjectInfo],
        races: &mut Vec<RacePair>,
    ) {
        // One `match`, each arm in order: learn, then stamp the event
        // (the event itself knows what it learned), then publish.
        let step = ClockStepOf { objects }.read(row);
        match step {
            ClockStep::Object(object, role) => {
                if role == Role::None && !EVERY_TASK {
                    return;
                }
                self.ensure_task(task);
                self.ensure_object(object);
                self.object_step::<EVERY_TASK>(index, task, object, role, races);
            }
            ClockStep::Spawn(child) => {
                self.ensure_task(task);
                self.stamp_event::<EVERY_TASK>(index, task);
                self.spawn(task, child);
            }
            ClockStep::Join(target) => {
                self.ensure_task(task);
                if let Some(finished) = self.finished.get(target.index()) {
                    self.tasks[task.index()].join(finished);
                }
                self.stamp_event::<EVERY_TASK>(index, task);
            }
            ClockStep::Finish => {
                self.ensure_task(task);
                self.stamp_event::<EVERY_TASK>(index, task);
                self.finish(task);
            }
            ClockStep::None => {
                if EVERY_TASK {
                    self.ensure_task(task);
                    self.stamp_event::<EVERY_TASK>(index, task);
                }
            }
        }
    }

    /// In [`event_clocks`]' mode, every event knows itself: its stamp in
    /// its task's own entry. The race check needs only the accesses'
    /// stamps, which `check_access` writes.
    #[inline(always)]
    fn stamp_event<const EVERY_TASK: bool>(&mut self, index: EventIndex, task: TaskId) {
        stamp_into::<EVERY_TASK>(&mut self.tasks[task.index()], index, task);
    }

    /// What an event whose object plays `role` does to the clocks.
    #[inline(always)]
    fn object_step<const EVERY_TASK: bool>(
        &mut self,
        index: EventIndex,
        task: TaskId,
        object: ObjectId,
        role: Role,
        races: &mut Vec<RacePair>,
    ) {
        if let Role::Access { write } = role {
            self.stamp_event::<EVERY_TASK>(index, task);
            self.check_access(object, task, index, write, races);
            return;
        }
        let clock = &mut self.tasks[task.index()];
        let state = &mut self.objects[object.index()];
        // Learn, stamp, publish.
        match role {
            Role::Acquire { with_readers } => {
                clock.join(&state.main);
                if with_readers {
                    clock.join(&state.readers);
                }
            }
            Role::ReadModifyWrite { acquires: true, .. } => clock.join(&state.main),
            Role::AcquireFrom(source) => {
                let found = self
                    .published
                    .binary_search_by_key(&source, |&(index, _)| index);
                if let Ok(position) = found {
                    clock.join(&self.published[position].1);
                }
            }
            Role::ReceiveMessage => {
                if let Some(message) = state.messages.pop_front() {
                    clock.join(&message);
                    self.spare_clocks.push(message);
                }
            }
            _ => {}
        }
        stamp_into::<EVERY_TASK>(clock, index, task);
        match role {
            Role::ReadModifyWrite { releases: true, .. } => state.main.join(clock),
            Role::Release(Channel::Main) => state.main.join(clock),
            Role::Release(Channel::Last) => state.main.assign(clock),
            Role::Release(Channel::Readers) => state.readers.join(clock),
            Role::Overwrite => state.main.clear(),
            Role::Publish => {
                let mut published = self.spare_clocks.pop().unwrap_or_default();
                published.assign(clock);
                // Events arrive in index order: `published` stays sorted.
                self.published.push((index, published));
            }
            Role::SendMessage => {
                let mut message = self.spare_clocks.pop().unwrap_or_default();
                message.assign(clock);
                state.messages.push_back(message);
            }
            _ => {}
        }
    }

    /// A spawn passes the parent's clock to the child.
    #[inline(always)]
    fn spawn(&mut self, task: TaskId, child: TaskId) {
        self.ensure_task(child);
        let (parent, child) = pick_two(&mut self.tasks, task.index(), child.index());
        if let Some(child) = child {
            child.join(parent);
        }
    }

    /// A finish keeps the task's clock for the joins to come.
    #[inline(always)]
    fn finish(&mut self, task: TaskId) {
        if self.finished.len() <= task.index() {
            self.finished
                .resize_with(task.index() + 1, VectorClock::default);
        }
        let (tasks, finished) = (&self.tasks, &mut self.finished);
        finished[task.index()].assign(&tasks[task.index()]);
    }

    /// Checks the access of `task` at event `index` against what the
    /// object remembers, then remembers it in their place: the access
    /// holds a slot for its task while it lives.
    #[inline(always)]
    fn check_access(
        &mut self,
        object: ObjectId,
        task: TaskId,
        index: EventIndex,
        write: bool,
        races: &mut Vec<RacePair>,
    ) {
        let slot = match self.slots.of(task) {
            Some(slot) => slot,
            None => self.hand_out_slot(task),
        };
        if self.slots.counting {
            self.remember_access::<true>(object, task, slot, index, write, races);
        } else {
            self.remember_access::<false>(object, task, slot, index, write, races);
        }
    }

    /// [`check_access`](Self::check_access) once `task` has its slot:
    /// raises its clock, checks the access and remembers it. `COUNTING`
    /// is the slots' mode: epochs are counted only from the first hand-out
    /// beyond the free ones, so small programs pay nothing for it.
    #[inline(always)]
    fn remember_access<const COUNTING: bool>(
        &mut self,
        object: ObjectId,
        task: TaskId,
        slot: u32,
        index: EventIndex,
        write: bool,
        races: &mut Vec<RacePair>,
    ) {
        let HappensBefore {
            tasks,
            slots,
            objects,
            accessed,
            ..
        } = self;
        let clock = &mut tasks[task.index()];
        clock.raise(slot as usize, stamp(index));
        let access = Epoch {
            task,
            slot,
            event: index,
        };
        let state = &mut objects[object.index()];
        if state.last_write.is_none() && state.reads.is_empty() {
            accessed.push(object);
        }
        let clock = &*clock;
        if let Some(last_write) = state.last_write {
            report_race(object, last_write, access, clock, &mut state.raced, races);
        }
        // The new epoch first: it may share its slot with those it
        // replaces.
        if COUNTING {
            slots.retain(slot);
        }
        if write {
            if !state.reads.is_empty() {
                for &read in &state.reads {
                    report_race(object, read, access, clock, &mut state.raced, races);
                    if COUNTING {
                        slots.release(read.slot);
                    }
                }
                state.reads.clear();
            }
            let replaced = state.last_write.replace(access);
            if let (true, Some(replaced)) = (COUNTING, replaced) {
                slots.release(replaced.slot);
            }
        } else {
            // Reads the new one follows are subsumed by it; in the common
            // case this leaves a single epoch.
            state.reads.retain(|read| {
                let subsumed = read.task == access.task || read.happens_before(clock);
                if COUNTING && subsumed {
                    slots.release(read.slot);
                }
                !subsumed
            });
            state.reads.push(access);
        }
    }

    /// Gives `task`, about to make an access, a slot; counts the live
    /// epochs first when the slots handed out freely are all out.
    #[cold]
    #[inline(never)]
    fn hand_out_slot(&mut self, task: TaskId) -> u32 {
        if self.slots.counts_next() {
            let objects = &self.objects;
            let live_epochs = self.accessed.iter().flat_map(|object| {
                let state = &objects[object.index()];
                state
                    .last_write
                    .iter()
                    .chain(&state.reads)
                    .map(|epoch| epoch.slot)
            });
            self.slots.start_counting(live_epochs);
        }
        self.slots.hand_out(task)
    }

    /// Makes room for `task`: every table per task grows with `tasks`.
    #[inline]
    fn ensure_task(&mut self, task: TaskId) {
        if self.tasks.len() <= task.index() {
            self.grow_tasks(task);
        }
    }

    #[cold]
    #[inline(never)]
    fn grow_tasks(&mut self, task: TaskId) {
        self.tasks
            .resize_with(task.index() + 1, VectorClock::default);
        self.slots.grow(task);
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

/// [`HappensBefore::observe`] of one event as a [`ReadRow`]: copied into
/// each arm of [`Op::with_row`], where the row is constant, so that the
/// matches on the clock step and the role fold into the arm. The
/// detector's walk reads it in the same arm as its held counts.
///
/// [`Op::with_row`]: racecheck_trace::Op::with_row
pub(crate) struct Observe<'a, const EVERY_TASK: bool> {
    pub(crate) happens_before: &'a mut HappensBefore,
    pub(crate) index: EventIndex,
    pub(crate) task: TaskId,
    pub(crate) objects: &'a [ObjectInfo],
    pub(crate) races: &'a mut Vec<RacePair>,
}

impl<const EVERY_TASK: bool> ReadRow for Observe<'_, EVERY_TASK> {
    type Output = ();

    #[inline(always)]
    fn read(self, row: Row) {
        let Observe {
            happens_before,
            index,
            task,
            objects,
            races,
        } = self;
        happens_before.observe_row::<EVERY_TASK>(index, task, row, objects, races);
    }
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

/// The clock of every event of `trace`, as [`HappensBefore`] computes it
/// with an entry for every task (indexed by task id, holding stamps: event
/// index plus one): event `a` happens before event `b` exactly when
/// `a != b` and `clocks[b].get(task of a) >= clocks[a].get(task of a)`.
///
/// ```
/// use racecheck_detect::event_clocks;
/// assert!(event_clocks(&racecheck_trace::Trace::default()).is_empty());
/// ```
pub fn event_clocks(trace: &racecheck_trace::Trace) -> Vec<VectorClock> {
    let mut hb = HappensBefore::for_every_task();
    let mut races = Vec::new();
    trace
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            hb.observe(EventIndex::new(index), event, &trace.objects, &mut races);
            hb.tasks[event.task.index()].clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use racecheck_trace::{Location, LockMode, ObjectKind, Op};

    const TASKS: u32 = 40;
    const LOCKS: u32 = 3;
    const SHARED: u32 = 8;

    /// Events of [`TASKS`] tasks (all spawned by task 0 first) over
    /// [`LOCKS`] mutexes and [`SHARED`] tracked objects: accesses under
    /// the lock of the object (`i % LOCKS`), and unguarded ones where the
    /// choice's variant is above `unguarded_above`; finishes and joins.
    fn events_of(choices: &[(u32, u32, u8)], unguarded_above: u8) -> Vec<Event> {
        let mut ops: Vec<(u32, Op)> = (1..TASKS)
            .map(|child| {
                (
                    0,
                    Op::Spawn {
                        child: TaskId(child),
                    },
                )
            })
            .collect();
        let mut held: Vec<Option<u32>> = vec![None; LOCKS as usize];
        let mut finished = vec![false; TASKS as usize];
        for &(task, pick, variant) in choices {
            if finished[task as usize] {
                continue;
            }
            let op = match variant % 4 {
                0 => {
                    let lock = pick % LOCKS;
                    let object = ObjectId(lock);
                    let mode = LockMode::Exclusive;
                    match held[lock as usize] {
                        None => {
                            held[lock as usize] = Some(task);
                            Op::Lock { object, mode }
                        }
                        Some(holder) if holder == task => {
                            held[lock as usize] = None;
                            Op::Unlock { object, mode }
                        }
                        Some(_) => Op::Yield,
                    }
                }
                1 | 2 => {
                    let shared = pick % SHARED;
                    let guarded = held[(shared % LOCKS) as usize] == Some(task);
                    let object = ObjectId(LOCKS + shared);
                    match (guarded || variant > unguarded_above, variant % 8 < 4) {
                        (false, _) => Op::Yield,
                        (true, true) => Op::Write { object },
                        (true, false) => Op::Read { object },
                    }
                }
                _ if task != 0 && variant > 200 && !held.contains(&Some(task)) => {
                    finished[task as usize] = true;
                    Op::Finish
                }
                _ if finished[(pick % TASKS) as usize] => Op::Join {
                    target: TaskId(pick % TASKS),
                },
                _ => Op::Yield,
            };
            ops.push((task, op));
        }
        ops.into_iter()
            .enumerate()
            .map(|(step, (task, op))| Event {
                step: step as u32,
                task: TaskId(task),
                op,
                location: Location::caller(),
            })
            .collect()
    }

    fn races_of(mut hb: HappensBefore, events: &[Event], objects: &[ObjectInfo]) -> Vec<RacePair> {
        let mut races = Vec::new();
        for (index, event) in events.iter().enumerate() {
            hb.observe(EventIndex::new(index), event, objects, &mut races);
        }
        races
    }

    proptest! {
        /// Slots taken back and handed out again as soon as their epochs
        /// are forgotten answer as a slot per task does (whose clocks
        /// agree with graph reachability: `tests/happens_before.rs`), in
        /// programs that mostly lock and in programs that mostly race;
        /// and the clocks are never wider than the most epochs live at
        /// once, plus the one being handed out.
        #[test]
        fn reused_slots_find_the_races_a_slot_per_task_finds(
            choices in prop::collection::vec((0..TASKS, 0..64u32, any::<u8>()), 0..400),
            unguarded_above in prop::sample::select(vec![240u8, 100, 0]),
        ) {
            let objects: Vec<ObjectInfo> = (0..LOCKS + SHARED)
                .map(|object| ObjectInfo {
                    kind: if object < LOCKS { ObjectKind::Mutex } else { ObjectKind::Shared },
                    name: None,
                    created_at: Location::caller(),
                })
                .collect();
            let events = events_of(&choices, unguarded_above);
            let mut reusing = HappensBefore::default();
            reusing.slots.counting_from = 1;
            reusing.reset();
            let mut reused = Vec::new();
            let mut live_most = 0;
            for (index, event) in events.iter().enumerate() {
                reusing.observe(EventIndex::new(index), event, &objects, &mut reused);
                let live: usize = reusing
                    .objects
                    .iter()
                    .map(|state| usize::from(state.last_write.is_some()) + state.reads.len())
                    .sum();
                live_most = live_most.max(live);
                prop_assert!(reusing.slots.owner.len() <= live_most + 1);
            }
            let every_task = races_of(HappensBefore::for_every_task(), &events, &objects);
            prop_assert_eq!(reused, every_task);
        }
    }
}
