//! The detector: every analysis over one execution's trace, configured
//! check by check, with the lock-order graph kept across executions.
//!
//! The checks that read the events one by one share one walk of the trace
//! (`Detector::walk`): the race check's clocks, and the counts of what the
//! tasks hold that tell the leak check whether anything is left held and
//! the lock-order check whether any lock was taken under another. The rest
//! runs only where it can find something: `explain` for a stuck execution,
//! the leaks' holders when a count stays positive, the lock-order graph
//! when a lock was nested.

use crate::finding::{Access, Finding, Leak, Race};
use crate::hb::{HappensBefore, Observe, RacePair};
use crate::lock_order::{LockOrder, LockOrderDelta};
use crate::stuck::{explain, Stuck};
use crate::waits::Holdings;
use racecheck_trace::{
    Event, EventIndex, ExecutionEnd, Holding, Location, ObjectId, ObjectKind, Operand, Order,
    ReadRow, Row, TaskId, Trace,
};
use std::collections::BTreeSet;

/// What to do with one kind of finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Fail the execution (the test fails with the report).
    Fail,
    /// Report it among the warnings, go on.
    Warn,
    /// Do not look.
    Off,
}

/// The configuration of every check.
///
/// ```
/// use racecheck_detect::{Check, Checks};
/// let checks = Checks::default();
/// assert_eq!(checks.races, Check::Fail);
/// assert_eq!(checks.potential_deadlocks, Check::Warn);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    /// Data races on tracked state.
    pub races: Check,
    /// Cycles of tasks waiting for each other.
    pub deadlocks: Check,
    /// Tasks blocked for good without a cycle.
    pub hangs: Check,
    /// Locks or permits still held at the end.
    pub leaks: Check,
    /// Lock-order cycles that could deadlock.
    pub potential_deadlocks: Check,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            races: Check::Fail,
            deadlocks: Check::Fail,
            hangs: Check::Fail,
            leaks: Check::Fail,
            potential_deadlocks: Check::Warn,
        }
    }
}

impl Checks {
    /// Every check set to `check`.
    pub fn all(check: Check) -> Checks {
        Checks {
            races: check,
            deadlocks: check,
            hangs: check,
            leaks: check,
            potential_deadlocks: check,
        }
    }

    fn of(&self, finding: &Finding) -> Check {
        match finding {
            Finding::Race(_) => self.races,
            Finding::Deadlock(_) => self.deadlocks,
            Finding::Hang(_) => self.hangs,
            Finding::PotentialDeadlock(_) => self.potential_deadlocks,
            Finding::Leak(_) => self.leaks,
        }
    }
}

/// The findings of one execution: those that fail it, and warnings not
/// reported before in this exploration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Findings whose check is [`Check::Fail`], most important first.
    pub failures: Vec<Finding>,
    /// Findings whose check is [`Check::Warn`], new in this exploration.
    pub warnings: Vec<Finding>,
    /// With [`Detector::deferring_lock_orders`]: the execution's lock
    /// orders, for [`Detector::apply_lock_orders`].
    pub lock_orders: Option<LockOrderDelta>,
}

/// Runs the checks over each execution of an exploration.
///
/// ```
/// use racecheck_detect::{Checks, Detector, ExecutionEnd};
/// use racecheck_trace::Trace;
///
/// let mut detector = Detector::new(Checks::default());
/// let end = ExecutionEnd { root_finished: true, ..ExecutionEnd::default() };
/// let verdict = detector.analyze(&Trace::default(), &end);
/// assert!(verdict.failures.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct Detector {
    checks: Checks,
    happens_before: HappensBefore,
    races: Vec<RacePair>,
    lock_order: LockOrder,
    warned: BTreeSet<String>,
    /// What the tasks hold, counted in the same walk; kept between
    /// executions.
    held: HeldCounts,
    /// Hand each execution's lock orders back instead of adding them.
    defer_lock_orders: bool,
}

impl Detector {
    /// A detector with the given checks.
    pub fn new(checks: Checks) -> Detector {
        Detector {
            checks,
            ..Detector::default()
        }
    }

    /// A detector for one thread of a parallel exploration: instead of
    /// adding each execution's lock orders to its own graph, it returns them
    /// in [`Verdict::lock_orders`], so that one detector can apply every
    /// thread's in iteration order ([`Detector::apply_lock_orders`]) and find
    /// the same potential deadlocks as a sequential exploration.
    ///
    /// ```
    /// use racecheck_detect::{Checks, Detector, ExecutionEnd};
    /// use racecheck_trace::Trace;
    ///
    /// let mut worker = Detector::deferring_lock_orders(Checks::default());
    /// let end = ExecutionEnd { root_finished: true, ..ExecutionEnd::default() };
    /// let verdict = worker.analyze(&Trace::default(), &end);
    /// assert!(verdict.lock_orders.is_none(), "no nested locks");
    /// ```
    pub fn deferring_lock_orders(checks: Checks) -> Detector {
        Detector {
            defer_lock_orders: true,
            ..Detector::new(checks)
        }
    }

    /// Adds one execution's lock orders (from a deferring detector) and
    /// returns the potential deadlocks they complete, as failures or
    /// warnings according to the checks.
    pub fn apply_lock_orders(&mut self, delta: &LockOrderDelta) -> Verdict {
        let findings = self
            .lock_order
            .apply(delta)
            .into_iter()
            .map(Finding::PotentialDeadlock)
            .collect();
        self.classify(findings)
    }

    /// Forgets what earlier executions taught it (lock orders, warnings
    /// already given), as if new: for analysing executions that are not
    /// part of one exploration, such as the minimiser's candidates.
    ///
    /// ```
    /// use racecheck_detect::{Checks, Detector};
    /// let mut detector = Detector::new(Checks::default());
    /// detector.forget_exploration();
    /// ```
    pub fn forget_exploration(&mut self) {
        self.lock_order = LockOrder::default();
        self.warned.clear();
    }

    /// Analyses one execution.
    pub fn analyze(&mut self, trace: &Trace, end: &ExecutionEnd) -> Verdict {
        let stuck = !end.failed && !end.blocked.is_empty();
        let check_leaks = !end.failed && !stuck && self.checks.leaks != Check::Off;
        let check_lock_orders = self.checks.potential_deadlocks != Check::Off;
        self.walk(trace, check_leaks || check_lock_orders);
        let mut findings = Vec::new();
        findings.extend(
            self.races
                .iter()
                .map(|pair| Finding::Race(describe_race(trace, pair))),
        );
        if stuck && (self.checks.deadlocks != Check::Off || self.checks.hangs != Check::Off) {
            match explain(trace, end) {
                Stuck::Deadlock(deadlock) => findings.push(Finding::Deadlock(deadlock)),
                // A sleeping task outlived the root and could still have
                // woken them: they are dropped at shutdown, not hung.
                Stuck::Hang(_) if end.root_finished && end.sleeping => {}
                Stuck::Hang(hang) => findings.push(Finding::Hang(hang)),
            }
        }
        if check_leaks {
            findings.extend(
                leaks(trace, &self.held.by_object)
                    .into_iter()
                    .map(Finding::Leak),
            );
        }
        let mut lock_orders = None;
        // Without a lock taken while holding another there is no edge.
        if check_lock_orders && self.held.nested {
            if self.defer_lock_orders {
                lock_orders = Some(LockOrder::observe(trace));
            } else {
                findings.extend(
                    self.lock_order
                        .add(trace)
                        .into_iter()
                        .map(Finding::PotentialDeadlock),
                );
            }
        }
        Verdict {
            lock_orders,
            ..self.classify(findings)
        }
    }

    /// Sorts findings into failures and new warnings.
    fn classify(&mut self, findings: Vec<Finding>) -> Verdict {
        let mut verdict = Verdict::default();
        for finding in findings {
            match self.checks.of(&finding) {
                Check::Fail => verdict.failures.push(finding),
                Check::Warn => {
                    if self.warned.insert(warning_key(&finding)) {
                        verdict.warnings.push(finding);
                    }
                }
                Check::Off => {}
            }
        }
        verdict
    }

    /// Walks the events once for every check that reads them one by one:
    /// the race check's happens-before into `races` (when races are
    /// checked and there is tracked state) and what the tasks hold into
    /// `held` (always along with the clocks, otherwise when `count_held`).
    /// One walk instead of one per check: each walk costs its loop and a
    /// dispatch on the operation per event (`docs/architecture.md`, "The
    /// detector walks each trace once").
    fn walk(&mut self, trace: &Trace, count_held: bool) {
        // Races are between accesses to tracked state: without any, there
        // is nothing to order.
        let check_races = self.checks.races != Check::Off
            && trace
                .objects
                .iter()
                .any(|info| info.kind == ObjectKind::Shared);
        self.races.clear();
        if check_races {
            // Counting along with the clocks even when no check reads the
            // counts keeps one loop with no test per event, and one
            // `match` per event for both readers.
            self.happens_before.reset();
            self.held.reset(trace);
            // Counted in the index's own type: no conversion per event.
            let indices = (0..).map(EventIndex);
            for (index, event) in indices.zip(&trace.events) {
                event.op.with_row(WalkRow {
                    clocks: Observe {
                        happens_before: &mut self.happens_before,
                        index,
                        task: event.task,
                        objects: &trace.objects,
                        races: &mut self.races,
                    },
                    held: &mut self.held,
                });
            }
        } else if count_held {
            self.held.reset(trace);
            for event in &trace.events {
                self.held.count(event);
            }
        }
    }
}

/// Warnings repeat across executions; one per distinct text is enough.
fn warning_key(finding: &Finding) -> String {
    match finding {
        // Steps and the order of the two accesses differ between
        // executions; the places do not.
        Finding::Race(race) => {
            let mut places = [race.first.location, race.second.location];
            places.sort();
            format!("race {} {} {}", race.object_label, places[0], places[1])
        }
        other => other.to_string(),
    }
}

fn describe_race(trace: &Trace, pair: &RacePair) -> Race {
    let info = &trace.objects[pair.object.index()];
    let first = access(trace, pair.first);
    let second = access(trace, pair.second);
    let explanation = explain_race(trace, &first, &second);
    Race {
        object: pair.object,
        object_label: trace.object_label(pair.object),
        created_at: info.created_at,
        first,
        second,
        explanation,
    }
}

fn access(trace: &Trace, index: EventIndex) -> Access {
    let event = &trace.events[index.index()];
    Access {
        task: event.task,
        task_name: trace.task_label(event.task),
        write: event.op.order() == Order::Access { write: true },
        location: event.location,
        step: event.step,
        event: index,
        locks_held: locks_held(trace, event.task, index.index())
            .into_iter()
            .map(|object| trace.object_label(object))
            .collect(),
    }
}

/// The locks `task` held just before event `index`.
fn locks_held(trace: &Trace, task: TaskId, index: usize) -> Vec<ObjectId> {
    let mut held: Vec<(ObjectId, u32)> = Vec::new();
    for event in trace.events[..index]
        .iter()
        .filter(|event| event.task == task)
    {
        let op = event.op;
        let Some(object) = op.object() else {
            continue;
        };
        match op.holding() {
            Holding::Lock(_) => match held.iter_mut().find(|(held, _)| *held == object) {
                Some((_, count)) => *count += 1,
                None => held.push((object, 1)),
            },
            Holding::Unlock(_) => {
                if let Some(position) = held.iter().position(|(held, _)| *held == object) {
                    held[position].1 -= 1;
                    if held[position].1 == 0 {
                        held.remove(position);
                    }
                }
            }
            _ => {}
        }
    }
    held.into_iter().map(|(object, _)| object).collect()
}

/// Why nothing orders the two accesses, in the words of the program.
fn explain_race(trace: &Trace, first: &Access, second: &Access) -> String {
    let holding = |access: &Access| {
        if access.locks_held.is_empty() {
            format!("'{}' held nothing", access.task_name)
        } else {
            format!(
                "'{}' held {}",
                access.task_name,
                access.locks_held.join(", ")
            )
        }
    };
    let mut reasons = vec![format!(
        "no common lock: {}, {}",
        holding(first),
        holding(second)
    )];
    let sleeps: Vec<String> = trace.events[first.event.index()..second.event.index()]
        .iter()
        .filter_map(|event| match event.op.operand() {
            Operand::Until(_) if event.task == first.task || event.task == second.task => {
                Some(format!(
                    "'{}' {}",
                    trace.task_label(event.task),
                    trace.describe(&event.op).replacen("sleep", "slept", 1)
                ))
            }
            _ => None,
        })
        .collect();
    if sleeps.is_empty() {
        reasons.push(
            "no spawn, join, lock, event, notification or message orders one before the other"
                .to_string(),
        );
    } else {
        reasons.push(format!(
            "ordered only by virtual time ({}), and timers create no order",
            sleeps.join(", ")
        ));
    }
    format!("why: {}", reasons.join("; "))
}

/// What the tasks hold after an execution's events, counted event by
/// event in the detector's walk: for the leak check, the locks and permits
/// held of each object; for the lock-order check, whether some task took a
/// lock, or blocked trying to, while it held another.
#[derive(Debug, Default)]
struct HeldCounts {
    /// Locks or permits taken of each object, less those given back or
    /// forgotten: positive when someone still holds some.
    by_object: Vec<i64>,
    /// Locks each task holds.
    locks_by_task: Vec<u32>,
    /// Some task took or tried a lock while holding one.
    nested: bool,
}

impl HeldCounts {
    /// Forgets the last execution, keeping allocations.
    fn reset(&mut self, trace: &Trace) {
        self.by_object.clear();
        self.by_object.resize(trace.objects.len(), 0);
        self.locks_by_task.clear();
        self.nested = false;
    }

    /// Counts what `event` does to what its task holds.
    #[inline]
    fn count(&mut self, event: &Event) {
        event.op.with_row(CountHeld {
            counts: self,
            task: event.task.index(),
        });
    }

    /// The locks `task` holds, growing the table to it.
    #[inline]
    fn locks_of(&mut self, task: usize) -> &mut u32 {
        if self.locks_by_task.len() <= task {
            self.locks_by_task.resize(task + 1, 0);
        }
        &mut self.locks_by_task[task]
    }
}

/// Counts what one event of `task` does to what it holds into `counts`.
/// The count is made inside the row's arm, so each arm keeps only its own
/// work (as a hand-written `match` would) and an operation that holds
/// nothing costs only the dispatch.
struct CountHeld<'a> {
    counts: &'a mut HeldCounts,
    task: usize,
}

impl ReadRow for CountHeld<'_> {
    type Output = ();

    #[inline(always)]
    fn read(self, row: Row) {
        let CountHeld { counts, task } = self;
        if let Operand::Wait(..) = row.operand {
            // A blocked attempt while holding a lock may be a nested one.
            counts.nested |= *counts.locks_of(task) > 0;
            return;
        }
        match row.holding {
            Holding::Lock(_) => {
                let locks = counts.locks_of(task);
                let nested = *locks > 0;
                *locks += 1;
                counts.nested |= nested;
            }
            Holding::Unlock(_) => {
                let locks = counts.locks_of(task);
                *locks = locks.saturating_sub(1);
            }
            _ => {}
        }
        let Operand::Object(object) = row.operand else {
            return;
        };
        if let Some(taken) = row.holding.taken() {
            counts.by_object[object.index()] += i64::from(taken);
        } else if let Some(given_up) = row.holding.given_up() {
            counts.by_object[object.index()] -= i64::from(given_up);
        }
    }
}

/// One event of the walk with the clocks: what [`HappensBefore::observe`]
/// and [`HeldCounts::count`] do, inside each arm of one `match` on the
/// operation.
struct WalkRow<'a> {
    clocks: Observe<'a, false>,
    held: &'a mut HeldCounts,
}

impl ReadRow for WalkRow<'_> {
    type Output = ();

    #[inline(always)]
    fn read(self, row: Row) {
        let task = self.clocks.task.index();
        self.clocks.read(row);
        CountHeld {
            counts: self.held,
            task,
        }
        .read(row);
    }
}

/// Locks and permits still held, one finding per holder and object, from
/// the walk's count of what is held of each object (`held_by_object`).
fn leaks(trace: &Trace, held_by_object: &[i64]) -> Vec<Leak> {
    debug_assert_eq!(
        held_by_object.len(),
        trace.objects.len(),
        "counted this trace"
    );
    // The common case, nothing held, without maps.
    if held_by_object.iter().all(|&held| held <= 0) {
        return Vec::new();
    }
    let holdings = Holdings::from_trace(trace);
    let mut leaks = Vec::new();
    for (index, info) in trace.objects.iter().enumerate() {
        let object = ObjectId(index as u32);
        for holder in holdings.holders(object) {
            let taken_at: Option<Location> = trace
                .events
                .iter()
                .rev()
                .find(|event| {
                    let op = event.op;
                    event.task == holder
                        && op.object() == Some(object)
                        && op.holding().taken().is_some()
                })
                .map(|event| event.location);
            leaks.push(Leak {
                object_label: trace.object_label(object),
                created_at: info.created_at,
                holder_name: trace.task_label(holder),
                count: holdings.count(object, holder),
                taken_at,
            });
        }
    }
    leaks
}

#[cfg(test)]
mod tests {
    use super::HeldCounts;
    use racecheck_trace::{
        Event, Location, LockMode, Need, ObjectId, ObjectInfo, ObjectKind, Op, TaskId, Trace,
        WaitTarget,
    };

    const A: ObjectId = ObjectId(0);
    const B: ObjectId = ObjectId(1);
    const PERMITS: ObjectId = ObjectId(2);

    fn lock(object: ObjectId) -> Op {
        Op::Lock {
            object,
            mode: LockMode::Exclusive,
        }
    }

    fn unlock(object: ObjectId) -> Op {
        Op::Unlock {
            object,
            mode: LockMode::Exclusive,
        }
    }

    fn block_on(on: WaitTarget) -> Op {
        Op::Block {
            on,
            need: Need::Unstated,
        }
    }

    /// Counts `events` (task, operation) over two mutexes and a semaphore.
    fn counted(events: &[(u32, Op)]) -> HeldCounts {
        let info = |kind| ObjectInfo {
            kind,
            name: None,
            created_at: Location::caller(),
        };
        let trace = Trace {
            tasks: Vec::new(),
            objects: vec![
                info(ObjectKind::Mutex),
                info(ObjectKind::Mutex),
                info(ObjectKind::Semaphore),
            ],
            events: events
                .iter()
                .map(|&(task, op)| Event {
                    step: 0,
                    task: TaskId(task),
                    op,
                    location: Location::caller(),
                })
                .collect(),
        };
        let mut counts = HeldCounts::default();
        // Twice on the same scratch space: what the first walk left must
        // not show in the second.
        for _ in 0..2 {
            counts.reset(&trace);
            trace.events.iter().for_each(|event| counts.count(event));
        }
        counts
    }

    #[test]
    fn a_lock_counts_as_nested_only_when_its_task_holds_another() {
        // The name of the case, its events (task, operation), and whether
        // they take a lock under another.
        type Case = (&'static str, Vec<(u32, Op)>, bool);
        let cases: [Case; 6] = [
            ("one lock", vec![(1, lock(A)), (1, unlock(A))], false),
            (
                "one after the other",
                vec![(1, lock(A)), (1, unlock(A)), (1, lock(B))],
                false,
            ),
            (
                "two tasks, one lock each",
                vec![(1, lock(A)), (2, lock(B))],
                false,
            ),
            (
                "one inside the other",
                vec![(1, lock(A)), (1, lock(B))],
                true,
            ),
            (
                "blocked while holding",
                vec![(1, lock(A)), (1, block_on(WaitTarget::Object(B)))],
                true,
            ),
            (
                "a join while holding",
                vec![(1, lock(A)), (1, block_on(WaitTarget::Task(TaskId(2))))],
                true,
            ),
        ];
        for (name, events, nested) in cases {
            assert_eq!(counted(&events).nested, nested, "{name}");
        }
    }

    #[test]
    fn permits_and_locks_held_at_the_end_count_per_object() {
        let acquire = |permits| Op::Acquire {
            object: PERMITS,
            permits,
        };
        let events = [
            (1, lock(A)),
            (1, acquire(3)),
            (2, acquire(1)),
            (
                1,
                Op::Release {
                    object: PERMITS,
                    permits: 2,
                },
            ),
            (
                2,
                Op::Forget {
                    object: PERMITS,
                    permits: 1,
                },
            ),
            (
                1,
                Op::AddPermits {
                    object: PERMITS,
                    permits: 5,
                },
            ),
            (1, lock(B)),
            (1, unlock(B)),
        ];
        assert_eq!(counted(&events).by_object, vec![1, 0, 1]);
    }
}
