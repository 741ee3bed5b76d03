//! The interface between the runtime and the primitives built on it.
//!
//! A primitive (in `racecheck-sync`) registers itself as an object, passes a
//! [`SchedulePoint`] before each visible operation, records the operation's
//! effect as an event, and, when it cannot proceed, records what it blocks on
//! and returns `Pending` with the task's waker stored; whoever unblocks it
//! wakes that waker. The runtime derives who is runnable, who holds what and
//! who waits for whom from exactly these calls.
//!
//! ```
//! use racecheck_runtime::rt::{self, SchedulePoint};
//! use racecheck_trace::{Location, ObjectKind, Op};
//! use std::future::poll_fn;
//!
//! racecheck_runtime::run_once(|| async {
//!     let object = rt::register(ObjectKind::Event, Some("ready".into()), Location::caller());
//!     let mut point = SchedulePoint::new();
//!     poll_fn(|_| point.poll_point()).await;
//!     object.record(Op::Set { object: object.id() }, Location::caller());
//! });
//! ```

use crate::execution::{self, BlockReason};
use racecheck_trace::{Location, ObjectId, ObjectInfo, ObjectKind, Op, TaskId, WaitTarget};
use std::borrow::Cow;
use std::task::Poll;

/// The event index [`ObjectRef::record`] returns when nothing was recorded.
pub const NO_EVENT: u32 = u32::MAX;

/// A handle on an object registered with the current execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    id: ObjectId,
    execution: u64,
    created_at: Location,
}

/// Registers an object (lock, channel, shared cell, ...) with the current
/// execution, so its events can name it.
///
/// # Panics
/// Outside an execution: racecheck primitives belong to one execution and
/// must be created inside the test's closure. (A destructor run while an
/// execution is torn down may create one; it records nothing.)
pub fn register(
    kind: ObjectKind,
    name: Option<Cow<'static, str>>,
    location: Location,
) -> ObjectRef {
    execution::with(|execution| {
        if execution.tearing_down && !execution.active {
            // Created by a destructor at the teardown: it records nothing, and
            // belongs to no execution that could still use it.
            return ObjectRef {
                id: ObjectId(u32::MAX),
                execution: execution.id,
                created_at: location,
            };
        }
        assert!(
            execution.active,
            "racecheck: {kind} created at {location} outside a racecheck execution; \
             create primitives inside the closure given to racecheck::check"
        );
        let location = execution.source_of(location);
        let id = ObjectId(execution.trace.objects.len() as u32);
        execution.trace.objects.push(ObjectInfo {
            kind,
            name,
            created_at: location,
        });
        ObjectRef {
            id,
            execution: execution.id,
            created_at: location,
        }
    })
}

impl ObjectRef {
    /// The object's id in the trace.
    #[inline]
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Records an event of the running task on this object and returns
    /// its index in the trace (for operations that name the event they
    /// synchronise with). Does nothing once the execution has ended (guards
    /// dropped during teardown) and returns [`NO_EVENT`].
    ///
    /// # Panics
    /// If the object belongs to another execution.
    #[inline]
    pub fn record(&self, op: Op, location: Location) -> u32 {
        execution::with_active(|execution| {
            self.check_execution(execution.id);
            execution.record(op, location)
        })
        .unwrap_or(NO_EVENT)
    }

    /// Records that the running task blocks on this object. The caller
    /// stores the task's waker and returns `Pending`.
    #[inline]
    pub fn block(&self, location: Location) {
        execution::with_active(|execution| {
            self.check_execution(execution.id);
            let on = WaitTarget::Object(self.id);
            execution.record(Op::Block { on }, location);
            let current = execution.current_task();
            execution.tasks[current.index()].block_reason = BlockReason::Wait(on);
        });
    }

    #[inline]
    fn check_execution(&self, current: u64) {
        if self.execution != current {
            self.used_in_another_execution();
        }
    }

    #[cold]
    #[inline(never)]
    fn used_in_another_execution(&self) -> ! {
        panic!(
            "racecheck: an object created at {} is used in an execution other than the \
             one that created it; create primitives inside the closure given to \
             racecheck::check",
            self.created_at
        )
    }
}

/// The task running now.
///
/// # Panics
/// Outside a task of an execution.
pub fn current_task() -> TaskId {
    execution::with(|execution| execution.current_task())
}

/// A scheduling point, passed by polling it until it is ready: the first
/// poll returns `Pending` with the task still runnable, so the strategy
/// chooses who performs the next visible operation; the next poll returns
/// `Ready`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulePoint {
    state: PointState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum PointState {
    #[default]
    Fresh,
    Yielded,
    Passed,
}

impl SchedulePoint {
    /// A point not yet reached.
    #[inline]
    pub const fn new() -> SchedulePoint {
        SchedulePoint {
            state: PointState::Fresh,
        }
    }

    /// Polls the point: `Pending` once (the task stays runnable), then
    /// `Ready` forever.
    #[inline]
    pub fn poll_point(&mut self) -> Poll<()> {
        match self.state {
            PointState::Fresh => {
                execution::yield_current();
                self.state = PointState::Yielded;
                Poll::Pending
            }
            PointState::Yielded | PointState::Passed => {
                self.state = PointState::Passed;
                Poll::Ready(())
            }
        }
    }
}

/// A scheduling point before a *synchronous* visible operation (an atomic
/// access, an immediate `Shared` access): at
/// [`Granularity::Step`](crate::Granularity::Step) the running task is
/// suspended here, still runnable, and the strategy chooses who performs the
/// next operation. At await granularity it does nothing: the code between
/// two awaits runs without interruption.
///
/// ```
/// use racecheck_runtime::{rt, Executor, Granularity, Limits, Scheduler};
/// use racecheck_trace::TaskId;
///
/// struct First;
/// impl Scheduler for First {
///     fn new_execution(&mut self, _: u64) -> bool { true }
///     fn next_task(&mut self, runnable: &[TaskId], _: Option<TaskId>) -> Option<TaskId> {
///         runnable.first().copied()
///     }
/// }
/// let mut executor = Executor::new(Limits { granularity: Granularity::Step, ..Limits::default() });
/// let outcome = executor.run(&|| async {
///     rt::sync_point(); // a step boundary at Step granularity
/// }, &mut First);
/// assert_eq!(outcome.steps, 2);
/// ```
#[inline]
pub fn sync_point() {
    execution::sync_point();
}

/// Whether the running task can block inside a synchronous call: it is a
/// thread, or any task at [`Granularity::Step`](crate::Granularity::Step).
/// Blocking primitives use [`block_on`](crate::block_on) when it can, and
/// fall back to trying once when it cannot.
///
/// ```
/// racecheck_runtime::run_once(|| async {
///     assert!(!racecheck_runtime::rt::can_block());
///     racecheck_runtime::thread::spawn(|| assert!(racecheck_runtime::rt::can_block()));
/// });
/// ```
#[inline]
pub fn can_block() -> bool {
    crate::stackful::on_task_stack()
}

/// Attributes the running task's events (and the tasks and objects it
/// creates) to `source` instead of the Rust line that performs them, until
/// called again with `None`: for interpreters whose users' code is not
/// Rust, such as scenario files, so that reports name the scenario's line.
///
/// ```
/// use racecheck_trace::Location;
///
/// racecheck_runtime::run_once(|| async {
///     racecheck_runtime::rt::attribute_events_to(Some(Location::from_parts("bank.toml", 12, 5)));
///     racecheck_runtime::yield_now().await;
///     racecheck_runtime::rt::attribute_events_to(None);
/// });
/// ```
pub fn attribute_events_to(source: Option<Location>) {
    execution::with(|execution| {
        let task = execution.current_task();
        execution.tasks[task.index()].source = source;
        execution.source = source;
    });
}
