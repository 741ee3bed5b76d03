//! The contention profile of an exploration: for every lock, semaphore,
//! queue and channel, how often tasks took it, how long they waited for it
//! and held it, in virtual time and in steps, and whose critical sections
//! made the others wait.
//!
//! A wait starts at a task's `Block` on the object and ends at the task's
//! next event: the acquisition a releasing task recorded on its behalf
//! (`ObjectRef::record_for`), or its receive once a message came. While
//! tasks wait, each moment is blamed on the sites where the holders took
//! the object (the holder's side) and on the sites where the waiters
//! blocked (the waiters' side). Objects are known by their label, as
//! reports name them, so executions add up.

use crate::critical_path::critical_section_ns;
use crate::virtual_time::event_times_ns;
use racecheck_trace::{Location, ObjectId, ObjectKind, Order, TaskId, Trace};
use serde::Serialize;
use std::collections::BTreeMap;

/// Most sites a [`ContentionRow`] lists on each side of the blame.
pub const BLAME_SITES_MAX: usize = 5;

/// A duration in virtual nanoseconds and in steps.
///
/// ```
/// use racecheck_detect::Cost;
/// let cost = Cost { ns: 10, steps: 2 } + Cost { ns: 5, steps: 1 };
/// assert_eq!(cost, Cost { ns: 15, steps: 3 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Cost {
    /// Virtual time, in nanoseconds.
    pub ns: u64,
    /// Steps of the execution.
    pub steps: u64,
}

impl Cost {
    /// The larger of each unit: the longest wait in time and the longest
    /// in steps may be different waits.
    fn max_of_each(self, other: Cost) -> Cost {
        Cost {
            ns: self.ns.max(other.ns),
            steps: self.steps.max(other.steps),
        }
    }
}

impl std::ops::Add for Cost {
    type Output = Cost;

    fn add(self, other: Cost) -> Cost {
        Cost {
            ns: self.ns.saturating_add(other.ns),
            steps: self.steps.saturating_add(other.steps),
        }
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        *self = *self + other;
    }
}

/// The contention of every lock, semaphore, queue and channel over the
/// executions added to it, and the virtual time each critical section
/// spent on the executions' critical paths (for [`Contention::what_if`]).
///
/// ```
/// use racecheck_detect::Contention;
/// use racecheck_trace::{Event, Location, LockMode, Need, ObjectId, ObjectInfo, ObjectKind, Op, TaskId, Trace, WaitTarget};
///
/// let mut trace = Trace::default();
/// let at = Location::caller();
/// trace.objects.push(ObjectInfo { kind: ObjectKind::Mutex, name: Some("db".into()), created_at: at });
/// let (lock, mode) = (ObjectId(0), LockMode::Exclusive);
/// for (step, task, op) in [
///     (0, 1, Op::Lock { object: lock, mode }),
///     (0, 1, Op::Sleep { until_ns: 10 }),
///     (1, 2, Op::Block { on: WaitTarget::Object(lock), need: Need::Unstated }),
///     (2, 1, Op::Unlock { object: lock, mode }),
///     (2, 2, Op::Lock { object: lock, mode }), // granted by the unlock
/// ] {
///     trace.events.push(Event { step, task: TaskId(task), op, location: at });
/// }
/// let mut contention = Contention::default();
/// contention.add_execution(&trace);
/// let row = &contention.rows()[0];
/// assert_eq!(row.object, "Mutex 'db'");
/// assert_eq!((row.acquisitions, row.contended, row.wait_max.ns), (2, 1, 10));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contention {
    /// Executions added.
    pub executions: u64,
    /// Their virtual time, summed: each execution's clock at its last event.
    pub virtual_ns: u64,
    /// Their steps, summed.
    pub steps: u64,
    objects: BTreeMap<String, ObjectContention>,
    /// Per site where a lock or permits were taken: virtual time slept
    /// while holding them, on the executions' critical paths.
    sections: BTreeMap<Location, u64>,
}

/// What one object's row adds up.
#[derive(Clone, Debug, PartialEq)]
struct ObjectContention {
    kind: ObjectKind,
    acquisitions: u64,
    contended: u64,
    waits: Distribution,
    hold: Cost,
    hold_max: Cost,
    queue_max: u64,
    holder_sites: BTreeMap<Location, Cost>,
    waiter_sites: BTreeMap<Location, Cost>,
}

impl ObjectContention {
    fn new(kind: ObjectKind) -> ObjectContention {
        ObjectContention {
            kind,
            acquisitions: 0,
            contended: 0,
            waits: Distribution::default(),
            hold: Cost::default(),
            hold_max: Cost::default(),
            queue_max: 0,
            holder_sites: BTreeMap::new(),
            waiter_sites: BTreeMap::new(),
        }
    }

    fn merge(&mut self, other: ObjectContention) {
        self.acquisitions += other.acquisitions;
        self.contended += other.contended;
        self.waits.merge(&other.waits);
        self.hold += other.hold;
        self.hold_max = self.hold_max.max(other.hold_max);
        self.queue_max = self.queue_max.max(other.queue_max);
        add_sites(&mut self.holder_sites, other.holder_sites);
        add_sites(&mut self.waiter_sites, other.waiter_sites);
    }
}

fn add_sites(into: &mut BTreeMap<Location, Cost>, from: BTreeMap<Location, Cost>) {
    for (site, cost) in from {
        *into.entry(site).or_default() += cost;
    }
}

/// Waits, each rounded down to three significant digits in both units, so
/// that the distribution stays small (at most 900 values per decade)
/// however many executions add to it.
#[derive(Clone, Debug, Default, PartialEq)]
struct Distribution {
    ns: BTreeMap<u64, u64>,
    steps: BTreeMap<u64, u64>,
    count: u64,
    total: Cost,
    max: Cost,
}

impl Distribution {
    fn add(&mut self, wait: Cost) {
        *self.ns.entry(three_digits(wait.ns)).or_default() += 1;
        *self.steps.entry(three_digits(wait.steps)).or_default() += 1;
        self.count += 1;
        self.total += wait;
        self.max = self.max.max_of_each(wait);
    }

    fn merge(&mut self, other: &Distribution) {
        for (&value, &count) in &other.ns {
            *self.ns.entry(value).or_default() += count;
        }
        for (&value, &count) in &other.steps {
            *self.steps.entry(value).or_default() += count;
        }
        self.count += other.count;
        self.total += other.total;
        self.max = self.max.max_of_each(other.max);
    }

    /// The nearest-rank percentile `percent` in both units.
    fn percentile(&self, percent: u64) -> Cost {
        let rank = (self.count * percent).div_ceil(100).max(1);
        let pick = |values: &BTreeMap<u64, u64>| {
            let mut seen = 0;
            for (&value, &count) in values {
                seen += count;
                if seen >= rank {
                    return value;
                }
            }
            0
        };
        Cost {
            ns: pick(&self.ns),
            steps: pick(&self.steps),
        }
    }
}

/// `value` rounded down to three significant decimal digits.
fn three_digits(value: u64) -> u64 {
    let mut scale = 1;
    while value / scale >= 1000 {
        scale *= 10;
    }
    value / scale * scale
}

/// One object's contention over an exploration: a row of the table
/// `racecheck profile` prints.
///
/// ```
/// use racecheck_detect::{Contention, ContentionRow};
/// let rows: Vec<ContentionRow> = Contention::default().rows();
/// assert!(rows.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContentionRow {
    /// The object as reports name it: `Mutex 'db'`.
    pub object: String,
    /// Its kind as reports print it: `Mutex`, `Semaphore`, `Queue`, `mpsc`, ...
    pub kind: String,
    /// Locks and acquires of it; for a queue or channel, its sends and
    /// receives.
    pub acquisitions: u64,
    /// Those for which the task blocked first.
    pub contended: u64,
    /// Every wait for it, summed.
    pub wait_total: Cost,
    /// The median wait (three significant digits).
    pub wait_p50: Cost,
    /// The 99th percentile wait (three significant digits).
    pub wait_p99: Cost,
    /// The longest wait (in each unit: the longest in time and the longest
    /// in steps may be different waits).
    pub wait_max: Cost,
    /// Time it was held, summed over holders.
    pub hold_total: Cost,
    /// The longest hold.
    pub hold_max: Cost,
    /// The most tasks waiting for it at once.
    pub queue_max: u64,
    /// The holders' side: the sites where it was taken while others
    /// waited, with the waiting they caused, most first (at most
    /// [`BLAME_SITES_MAX`]).
    pub holder_sites: Vec<SiteCost>,
    /// The waiters' side: the sites where tasks blocked on it, with their
    /// waiting, most first (at most [`BLAME_SITES_MAX`]).
    pub waiter_sites: Vec<SiteCost>,
}

/// A site and the waiting blamed on it.
///
/// ```
/// use racecheck_detect::{Cost, SiteCost};
/// let site = SiteCost { site: "src/db.rs:4:9".into(), wait: Cost { ns: 5, steps: 1 } };
/// assert_eq!(site.wait.ns, 5);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SiteCost {
    /// `path:line:col`.
    pub site: String,
    /// The waiting blamed on it.
    pub wait: Cost,
}

/// A critical section and what the profile predicts removing its virtual
/// time would save.
///
/// ```
/// use racecheck_detect::Contention;
/// assert!(Contention::default().sections().is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    /// Where its lock or permits were taken, `path:line:col`.
    pub site: String,
    /// The site itself, for [`Contention::what_if`] and a re-simulation.
    #[serde(skip)]
    pub location: Location,
    /// Virtual time slept inside it on the executions' critical paths.
    pub critical_ns: u64,
    /// The predicted drop of total virtual time, in percent, if it took no
    /// time.
    pub predicted_drop_percent: f64,
}

/// A what-if's prediction beside its measurement: the exploration run again
/// with the section's virtual time removed.
///
/// ```
/// use racecheck_detect::WhatIf;
/// let what_if = WhatIf { site: "a.rs:1:1".into(), predicted_drop_percent: 50.0, measured_drop_percent: 48.0 };
/// assert!(what_if.error_percent() < 5.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhatIf {
    /// The section's site, `path:line:col`.
    pub site: String,
    /// What the profile predicted, in percent of the mean virtual time.
    pub predicted_drop_percent: f64,
    /// What the re-simulation measured.
    pub measured_drop_percent: f64,
}

impl WhatIf {
    /// How far the prediction is from the measurement, in percentage
    /// points.
    pub fn error_percent(&self) -> f64 {
        (self.predicted_drop_percent - self.measured_drop_percent).abs()
    }
}

impl Contention {
    /// Adds one execution's trace.
    pub fn add_execution(&mut self, trace: &Trace) {
        let times = event_times_ns(trace);
        self.executions += 1;
        self.virtual_ns += times.last().copied().unwrap_or(0);
        self.steps += trace.events.last().map_or(0, |event| event.step as u64 + 1);
        let objects = ExecutionPass::run(trace, &times);
        for (object, contention) in objects {
            let label = trace.object_label(object);
            match self.objects.get_mut(&label) {
                Some(row) => row.merge(contention),
                None => {
                    self.objects.insert(label, contention);
                }
            }
        }
        for (site, ns) in critical_section_ns(trace, &times) {
            *self.sections.entry(site).or_default() += ns;
        }
    }

    /// Adds another profile's executions (a parallel exploration's
    /// threads, merged in iteration order).
    pub fn merge(&mut self, other: Contention) {
        self.executions += other.executions;
        self.virtual_ns += other.virtual_ns;
        self.steps += other.steps;
        for (label, contention) in other.objects {
            match self.objects.get_mut(&label) {
                Some(row) => row.merge(contention),
                None => {
                    self.objects.insert(label, contention);
                }
            }
        }
        for (site, ns) in other.sections {
            *self.sections.entry(site).or_default() += ns;
        }
    }

    /// One row per object, the most waited for first (by total virtual
    /// wait, then steps, then name).
    pub fn rows(&self) -> Vec<ContentionRow> {
        let mut rows: Vec<ContentionRow> = self
            .objects
            .iter()
            .map(|(label, contention)| ContentionRow {
                object: label.clone(),
                kind: contention.kind.to_string(),
                acquisitions: contention.acquisitions,
                contended: contention.contended,
                wait_total: contention.waits.total,
                wait_p50: contention.waits.percentile(50),
                wait_p99: contention.waits.percentile(99),
                wait_max: contention.waits.max,
                hold_total: contention.hold,
                hold_max: contention.hold_max,
                queue_max: contention.queue_max,
                holder_sites: most_first(&contention.holder_sites),
                waiter_sites: most_first(&contention.waiter_sites),
            })
            .collect();
        rows.sort_by(|a, b| {
            b.wait_total
                .cmp(&a.wait_total)
                .then(a.object.cmp(&b.object))
        });
        rows
    }

    /// The critical sections that slept on a critical path, the largest
    /// predicted drop first.
    pub fn sections(&self) -> Vec<Section> {
        let mut sections: Vec<Section> = self
            .sections
            .iter()
            .filter(|&(_, &ns)| ns > 0)
            .map(|(&location, &critical_ns)| Section {
                site: location.to_string(),
                location,
                critical_ns,
                predicted_drop_percent: self.percent_of_virtual_time(critical_ns),
            })
            .collect();
        sections.sort_by(|a, b| {
            b.critical_ns
                .cmp(&a.critical_ns)
                .then(a.location.cmp(&b.location))
        });
        sections
    }

    /// The mean virtual time of an execution, in nanoseconds.
    pub fn mean_virtual_ns(&self) -> f64 {
        if self.executions == 0 {
            return 0.0;
        }
        self.virtual_ns as f64 / self.executions as f64
    }

    /// The section at `site`'s prediction beside the drop measured by
    /// `without_section`, the profile of the same exploration run with that
    /// section's virtual time removed (`Limits::instant_section`).
    pub fn what_if(&self, site: Location, without_section: &Contention) -> WhatIf {
        let critical_ns = self.sections.get(&site).copied().unwrap_or(0);
        let before = self.mean_virtual_ns();
        let measured = if before > 0.0 {
            100.0 * (before - without_section.mean_virtual_ns()) / before
        } else {
            0.0
        };
        WhatIf {
            site: site.to_string(),
            predicted_drop_percent: self.percent_of_virtual_time(critical_ns),
            measured_drop_percent: measured,
        }
    }

    fn percent_of_virtual_time(&self, ns: u64) -> f64 {
        if self.virtual_ns == 0 {
            return 0.0;
        }
        100.0 * ns as f64 / self.virtual_ns as f64
    }
}

fn most_first(sites: &BTreeMap<Location, Cost>) -> Vec<SiteCost> {
    let mut sorted: Vec<(&Location, &Cost)> = sites.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    sorted
        .into_iter()
        .take(BLAME_SITES_MAX)
        .map(|(site, &wait)| SiteCost {
            site: site.to_string(),
            wait,
        })
        .collect()
}

/// Whether the profile has a row for objects of this kind: locks,
/// semaphores, queues and channels.
fn profiled(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::Mutex
            | ObjectKind::RwLock
            | ObjectKind::ReentrantMutex
            | ObjectKind::Semaphore
            | ObjectKind::Queue
            | ObjectKind::Channel
            | ObjectKind::Oneshot
            | ObjectKind::Broadcast
            | ObjectKind::Watch
    )
}

/// One pass over one execution's events.
struct ExecutionPass<'a> {
    trace: &'a Trace,
    times: &'a [u64],
    objects: BTreeMap<ObjectId, ObjectContention>,
    /// Per object: who waits (task → the index of its block), who holds
    /// (task → the indices of its acquisitions), and when they last changed.
    waiting: BTreeMap<ObjectId, BTreeMap<TaskId, usize>>,
    holding: BTreeMap<ObjectId, BTreeMap<TaskId, Vec<usize>>>,
    changed_at: BTreeMap<ObjectId, usize>,
    /// What each waiting task waits for.
    waits_for: BTreeMap<TaskId, ObjectId>,
}

impl<'a> ExecutionPass<'a> {
    fn run(trace: &'a Trace, times: &'a [u64]) -> BTreeMap<ObjectId, ObjectContention> {
        let mut pass = ExecutionPass {
            trace,
            times,
            objects: BTreeMap::new(),
            waiting: BTreeMap::new(),
            holding: BTreeMap::new(),
            changed_at: BTreeMap::new(),
            waits_for: BTreeMap::new(),
        };
        for index in 0..trace.events.len() {
            pass.event(index);
        }
        pass.finish();
        pass.objects
    }

    fn cost_between(&self, from: usize, to: usize) -> Cost {
        let step = |index: usize| {
            self.trace
                .events
                .get(index)
                .map_or(0, |event| u64::from(event.step))
        };
        Cost {
            ns: self.times[to].saturating_sub(self.times[from]),
            steps: step(to).saturating_sub(step(from)),
        }
    }

    fn event(&mut self, index: usize) {
        let event = self.trace.events[index];
        let Some(object) = event.op.object() else {
            self.end_wait(event.task, index, false);
            return;
        };
        let Some(kind) = self.trace.objects.get(object.index()).map(|info| info.kind) else {
            return;
        };
        if !profiled(kind) {
            self.end_wait(event.task, index, false);
            return;
        }
        self.objects
            .entry(object)
            .or_insert_with(|| ObjectContention::new(kind));
        let operation = event.op;
        if operation.waits_for().is_some() {
            if self.waits_for.get(&event.task) != Some(&object) {
                self.end_wait(event.task, index, false);
                self.blame(object, index);
                self.waiting
                    .entry(object)
                    .or_default()
                    .insert(event.task, index);
                self.waits_for.insert(event.task, object);
                let queue = self.waiting[&object].len() as u64;
                let row = self.row(object);
                row.queue_max = row.queue_max.max(queue);
            }
            return;
        }
        let takes = operation.holding().taken().is_some();
        let passes = matches!(operation.order(), Order::Send | Order::Receive);
        self.end_wait(event.task, index, takes || passes);
        if takes {
            self.blame(object, index);
            self.row(object).acquisitions += 1;
            let holders = self.holding.entry(object).or_default();
            holders.entry(event.task).or_default().push(index);
        } else if passes {
            self.row(object).acquisitions += 1;
        } else if operation.holding().given_up().is_some() {
            self.blame(object, index);
            self.end_hold(object, event.task, index);
        }
    }

    fn row(&mut self, object: ObjectId) -> &mut ObjectContention {
        self.objects
            .get_mut(&object)
            .expect("a profiled object has its row before its first event")
    }

    /// Ends `task`'s wait, if it waits, at event `index`; `acquired` when
    /// that event took the object waited for.
    fn end_wait(&mut self, task: TaskId, index: usize, acquired: bool) {
        let Some(object) = self.waits_for.remove(&task) else {
            return;
        };
        self.blame(object, index);
        let Some(blocked) = self
            .waiting
            .get_mut(&object)
            .and_then(|tasks| tasks.remove(&task))
        else {
            return;
        };
        let wait = self.cost_between(blocked, index);
        let site = self.trace.events[blocked].location;
        let took = acquired && self.trace.events[index].op.object() == Some(object);
        let row = self.row(object);
        row.waits.add(wait);
        *row.waiter_sites.entry(site).or_default() += wait;
        if took {
            row.contended += 1;
        }
    }

    fn end_hold(&mut self, object: ObjectId, task: TaskId, index: usize) {
        let Some(taken) = self
            .holding
            .get_mut(&object)
            .and_then(|holders| holders.get_mut(&task))
            .and_then(Vec::pop)
        else {
            return;
        };
        let hold = self.cost_between(taken, index);
        let row = self.row(object);
        row.hold += hold;
        row.hold_max = row.hold_max.max(hold);
    }

    /// Blames the waiting on `object` since it last changed on the sites
    /// where its holders took it, shared among them.
    fn blame(&mut self, object: ObjectId, index: usize) {
        let since = self.changed_at.insert(object, index).unwrap_or(index);
        let waiters = self.waiting.get(&object).map_or(0, BTreeMap::len) as u64;
        if waiters == 0 {
            return;
        }
        let sites: Vec<Location> = self
            .holding
            .get(&object)
            .into_iter()
            .flat_map(|holders| holders.values())
            .filter_map(|taken| taken.last())
            .map(|&taken| self.trace.events[taken].location)
            .collect();
        if sites.is_empty() {
            return;
        }
        let elapsed = self.cost_between(since, index);
        let share = sites.len() as u64;
        let blamed = Cost {
            ns: elapsed.ns * waiters / share,
            steps: elapsed.steps * waiters / share,
        };
        let row = self.row(object);
        for site in sites {
            *row.holder_sites.entry(site).or_default() += blamed;
        }
    }

    /// Waits and holds still open at the end last until the last event.
    fn finish(&mut self) {
        let Some(last) = self.trace.events.len().checked_sub(1) else {
            return;
        };
        let waiting: Vec<TaskId> = self.waits_for.keys().copied().collect();
        for task in waiting {
            self.end_wait(task, last, false);
        }
        let holds: Vec<(ObjectId, TaskId)> = self
            .holding
            .iter()
            .flat_map(|(&object, holders)| {
                holders
                    .iter()
                    .flat_map(move |(&task, taken)| taken.iter().map(move |_| (object, task)))
            })
            .collect();
        for (object, task) in holds {
            self.end_hold(object, task, last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use racecheck_trace::{Event, LockMode, Need, ObjectInfo, Op, WaitTarget};

    const MODE: LockMode = LockMode::Exclusive;
    const LOCK: ObjectId = ObjectId(0);

    fn site(line: u32) -> Location {
        Location::from_parts("scraper.rs", line, 5)
    }

    /// A trace of `(step, task, op, line)` over one Mutex 'db'.
    fn trace(events: &[(u32, u32, Op, u32)]) -> Trace {
        let mut trace = Trace::default();
        trace.objects.push(ObjectInfo {
            kind: ObjectKind::Mutex,
            name: Some("db".into()),
            created_at: site(1),
        });
        for &(step, task, op, line) in events {
            trace.events.push(Event {
                step,
                task: TaskId(task),
                op,
                location: site(line),
            });
        }
        trace
    }

    /// Task 1 takes the lock at line 10 and sleeps 10 ns in it; task 2
    /// blocks at line 20 and is granted the lock by the unlock; task 3
    /// blocks at line 30 while 1 and then 2 hold it.
    fn three_tasks_queue() -> Trace {
        let block = Op::Block {
            on: WaitTarget::Object(LOCK),
            need: Need::Lock(MODE),
        };
        let lock = Op::Lock {
            object: LOCK,
            mode: MODE,
        };
        let unlock = Op::Unlock {
            object: LOCK,
            mode: MODE,
        };
        trace(&[
            (0, 1, lock, 10),
            (0, 1, Op::Sleep { until_ns: 10 }, 11),
            (1, 2, block, 20),
            (2, 3, block, 30),
            (3, 1, unlock, 12),
            (3, 2, lock, 20),
            (4, 2, Op::Sleep { until_ns: 15 }, 21),
            (5, 2, unlock, 22),
            (5, 3, lock, 30),
            (6, 3, unlock, 31),
            (7, 3, Op::Finish, 32),
        ])
    }

    #[test]
    fn waits_holds_and_queues_add_up() {
        let mut contention = Contention::default();
        contention.add_execution(&three_tasks_queue());
        let rows = contention.rows();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.object, "Mutex 'db'");
        assert_eq!((row.acquisitions, row.contended, row.queue_max), (3, 2, 2));
        // Task 2 waits 10 ns (steps 1..3), task 3 15 ns (steps 2..5).
        assert_eq!(row.wait_total, Cost { ns: 25, steps: 5 });
        assert_eq!(row.wait_p50, Cost { ns: 10, steps: 2 });
        assert_eq!(row.wait_max, Cost { ns: 15, steps: 3 });
        assert_eq!(row.hold_total, Cost { ns: 15, steps: 6 });
        assert_eq!(row.hold_max, Cost { ns: 10, steps: 3 });
        assert_eq!((contention.virtual_ns, contention.steps), (15, 8));
    }

    #[test]
    fn holders_are_blamed_for_the_time_others_waited_under_them() {
        let mut contention = Contention::default();
        contention.add_execution(&three_tasks_queue());
        let row = &contention.rows()[0];
        // Under task 1's hold (taken at line 10) two tasks waited 10 ns
        // each; under task 2's (line 20), one task waited 5 ns: together,
        // every wait.
        assert_eq!(
            blamed(&row.holder_sites),
            [
                ("scraper.rs:10:5".to_string(), 20),
                ("scraper.rs:20:5".to_string(), 5)
            ]
        );
        assert_eq!(
            blamed(&row.waiter_sites),
            [
                ("scraper.rs:30:5".to_string(), 15),
                ("scraper.rs:20:5".to_string(), 10)
            ]
        );
    }

    fn blamed(sites: &[SiteCost]) -> Vec<(String, u64)> {
        sites
            .iter()
            .map(|site| (site.site.clone(), site.wait.ns))
            .collect()
    }

    #[test]
    fn the_critical_path_runs_through_every_hand_off() {
        let mut contention = Contention::default();
        contention.add_execution(&three_tasks_queue());
        let sections: Vec<(String, u64)> = contention
            .sections()
            .into_iter()
            .map(|section| (section.site, section.critical_ns))
            .collect();
        // Task 3 finishes last; its lock came from task 2's unlock, whose
        // lock came from task 1's: both sleeps are on the path.
        assert_eq!(
            sections,
            [
                ("scraper.rs:10:5".to_string(), 10),
                ("scraper.rs:20:5".to_string(), 5)
            ]
        );
        let before = contention.clone();
        let what_if = before.what_if(site(10), &Contention::default());
        assert_eq!(what_if.predicted_drop_percent, 100.0 * 10.0 / 15.0);
    }

    #[test]
    fn executions_add_up_and_merge_alike() {
        let mut added = Contention::default();
        added.add_execution(&three_tasks_queue());
        added.add_execution(&three_tasks_queue());
        let mut merged = Contention::default();
        let mut one = Contention::default();
        one.add_execution(&three_tasks_queue());
        merged.merge(one.clone());
        merged.merge(one);
        assert_eq!(added, merged);
        assert_eq!(added.rows()[0].wait_total, Cost { ns: 50, steps: 10 });
        assert_eq!(added.mean_virtual_ns(), 15.0);
    }

    #[test]
    fn waits_keep_three_significant_digits() {
        let cases = [
            (0, 0),
            (7, 7),
            (999, 999),
            (1_234, 1_230),
            (10_000_000, 10_000_000),
            (10_123_456, 10_100_000),
        ];
        for (value, rounded) in cases {
            assert_eq!(three_digits(value), rounded, "{value}");
        }
        let mut waits = Distribution::default();
        for ns in 1..=100 {
            waits.add(Cost { ns, steps: 1 });
        }
        assert_eq!(waits.percentile(50).ns, 50);
        assert_eq!(waits.percentile(99).ns, 99);
        assert_eq!(waits.max.ns, 100);
    }
}
