//! The detector: every analysis over one execution's trace, configured
//! check by check, with the lock-order graph kept across executions.

use crate::finding::{Access, Finding, Leak, Race};
use crate::hb::{HappensBefore, RacePair};
use crate::lock_order::{LockOrder, LockOrderDelta};
use crate::stuck::{explain, Stuck};
use crate::waits::Holdings;
use racecheck_trace::{
    EventIndex, ExecutionEnd, Holding, Location, ObjectId, ObjectKind, Operand, Order, ReadRow,
    Row, TaskId, Trace,
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
    /// Scratch space of the leak check, kept between executions.
    balance: Vec<i64>,
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
        let mut findings = Vec::new();
        if self.checks.races != Check::Off {
            self.find_races(trace, &mut findings);
        }
        let stuck = !end.failed && !end.blocked.is_empty();
        if stuck && (self.checks.deadlocks != Check::Off || self.checks.hangs != Check::Off) {
            match explain(trace, end) {
                Stuck::Deadlock(deadlock) => findings.push(Finding::Deadlock(deadlock)),
                // A sleeping task outlived the root and could still have
                // woken them: they are dropped at shutdown, not hung.
                Stuck::Hang(_) if end.root_finished && end.sleeping => {}
                Stuck::Hang(hang) => findings.push(Finding::Hang(hang)),
            }
        }
        if !end.failed && !stuck && self.checks.leaks != Check::Off {
            findings.extend(
                leaks(trace, &mut self.balance)
                    .into_iter()
                    .map(Finding::Leak),
            );
        }
        let mut lock_orders = None;
        if self.checks.potential_deadlocks != Check::Off {
            if self.defer_lock_orders {
                lock_orders = self.lock_order.observe(trace);
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

    fn find_races(&mut self, trace: &Trace, findings: &mut Vec<Finding>) {
        // Races are between accesses to tracked state: without any, there
        // is nothing to order.
        let tracked = trace
            .objects
            .iter()
            .any(|info| info.kind == ObjectKind::Shared);
        if !tracked {
            return;
        }
        self.happens_before.reset();
        self.races.clear();
        // Counted in the index's own type: no conversion per event.
        let indices = (0..).map(EventIndex);
        for (index, event) in indices.zip(&trace.events) {
            self.happens_before
                .observe(index, event, &trace.objects, &mut self.races);
        }
        findings.extend(
            self.races
                .iter()
                .map(|pair| Finding::Race(describe_race(trace, pair))),
        );
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

/// Counts what an operation does to what its task holds of its object
/// into `balance`: locks or permits taken count up, given back or
/// forgotten count down. The count is made inside the row's arm, so each
/// arm adds its own constant (as a hand-written `match` did) instead of
/// all of them meeting at one addition.
struct CountHeld<'a> {
    balance: &'a mut [i64],
}

impl ReadRow for CountHeld<'_> {
    type Output = ();

    #[inline(always)]
    fn read(self, row: Row) {
        let Operand::Object(object) = row.operand else {
            return;
        };
        if let Some(taken) = row.holding.taken() {
            self.balance[object.index()] += i64::from(taken);
        } else if let Some(given_up) = row.holding.given_up() {
            self.balance[object.index()] -= i64::from(given_up);
        }
    }
}

/// Locks and permits still held, one finding per holder and object.
fn leaks(trace: &Trace, balance: &mut Vec<i64>) -> Vec<Leak> {
    // The common case, nothing held, in one pass without maps.
    balance.clear();
    balance.resize(trace.objects.len(), 0);
    let counts = balance.as_mut_slice();
    for event in &trace.events {
        event.op.with_row(CountHeld { balance: counts });
    }
    if balance.iter().all(|&held| held <= 0) {
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
