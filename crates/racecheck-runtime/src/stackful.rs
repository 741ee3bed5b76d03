//! Tasks on their own stacks, so that a synchronous operation deep inside a
//! call (an atomic load, a blocking `lock`) can suspend its task at a
//! scheduling point and resume there later.
//!
//! A stackful task is an ordinary task future, [`StackfulTask`], whose poll
//! resumes a coroutine (`corosensei`) running the task's body. The body
//! suspends the coroutine with [`suspend`]: the poll returns `Pending`, and
//! whether the task stays runnable is decided exactly as for an async task
//! (the scheduling-point flag, or the block reason a primitive recorded). So
//! the executor, the strategies and the detector see no difference between
//! a thread and an async task.
//!
//! **A module with `unsafe`** (with `scoped.rs`). The coroutine hands its body a
//! `&Yielder` that lives on the coroutine's own stack; code deep inside the
//! body has no way to reach it but through a thread-local. The thread-local
//! holds a raw pointer to the running body's [`Frame`], set while (and only
//! while) that coroutine runs. Every dereference is in this file, each with
//! its argument. Stacks are pooled per OS thread and reused across
//! executions.
//!
//! **Stack overflow.** Every task gets a stack of `Limits::stack_size`
//! bytes ([`STACK_SIZE_DEFAULT`] unless raised with `Builder::stack_size`;
//! a thread spawned with `thread::Builder::stack_size` gets at least what
//! it asks), ending in a guard page. Stacks are pooled by size. On Linux (x86_64 and aarch64), a task that
//! overflows it fails its execution with a panic, "racecheck: stack
//! overflow in a task (stack size N bytes; raise it with
//! Builder::stack_size)", reported like any other panic of the task; the
//! [`overflow`] submodule catches the fault. The overflowing body's frames
//! are abandoned, not unwound: their destructors never run, and whatever
//! they held (a lock, a `RefCell` borrow, a node pinned on the stack and
//! linked into a shared structure, a lock inside the allocator if the
//! overflow hit there) stays held. The execution is over by then, so only
//! its teardown can notice; the exploration stops at the failure as usual.
//! On other platforms an overflow kills the process with `SIGSEGV`, as a
//! stack overflow on any thread does.

#![allow(unsafe_code)]

mod overflow;

use crate::local::set_cell;
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use overflow::{Exit, Trap};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{pin, Pin};
use std::ptr;
use std::task::{Context, Poll, Waker};

/// The default size of a task's stack: 256 KiB. Stacks are mapped lazily by
/// the kernel, so only the pages a task touches cost memory. Raise it with
/// `Builder::stack_size` (`Limits::stack_size`) for deeply recursive code; on
/// Linux a task that overflows its stack fails the execution with a panic
/// saying so.
///
/// ```
/// let limits = racecheck_runtime::Limits {
///     stack_size: 4 * racecheck_runtime::STACK_SIZE_DEFAULT,
///     ..Default::default()
/// };
/// # let _ = limits;
/// ```
pub const STACK_SIZE_DEFAULT: usize = 256 * 1024;

type TaskCoroutine = Coroutine<Resume, (), Exit, DefaultStack>;

/// How a suspended body goes on when it is resumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    /// From where it was suspended; `outermost` when resumed from a stack
    /// that is no task's (the executor's), not from inside another
    /// coroutine (a `thread::main` awaited by a task on its own stack).
    Run { outermost: bool },
    /// By unwinding from there, as a panic would: the teardown ends it.
    Cancel,
}

/// The payload of the unwinding that cancels a body.
struct Cancelled;

/// Whether a panic payload is the unwinding of a cancelled body, not a
/// panic of the program.
pub(crate) fn is_cancellation(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<Cancelled>()
}

/// What the body of a running coroutine keeps on its own stack for the code
/// it calls: the way back to the executor, and the task's waker.
struct Frame {
    yielder: *const Yielder<Resume, ()>,
    waker: Waker,
    /// The last resume came from a stack that is no task's (see
    /// [`Resume::Run`]): a suspension may end the step in place.
    outermost: Cell<bool>,
}

thread_local! {
    /// The frame of the coroutine running on this thread; null when the
    /// thread is on its own stack.
    static CURRENT: Cell<*const Frame> = const { Cell::new(ptr::null()) };
    /// Stacks of finished tasks with their sizes, for the next ones.
    static STACKS: RefCell<Vec<(usize, DefaultStack)>> = const { RefCell::new(Vec::new()) };
    /// The size of stacks created from now on.
    static STACK_SIZE: Cell<usize> = const { Cell::new(STACK_SIZE_DEFAULT) };
    /// Set while the executor ends the tasks an execution left (see
    /// [`ending`]).
    static ENDING: Cell<bool> = const { Cell::new(false) };
    /// Set from an execution's start to its end (see [`set_in_execution`]).
    static IN_EXECUTION: Cell<bool> = const { Cell::new(false) };
}

/// Set `on` from an execution's start to its end: outside one, `block_on`
/// off a task stack parks the OS thread instead of failing.
pub(crate) fn set_in_execution(on: bool) {
    set_cell(&IN_EXECUTION, on);
}

/// Whether an execution is under way on this thread (teardown excluded).
#[inline]
pub(crate) fn in_execution() -> bool {
    IN_EXECUTION.get()
}

/// Set `on` while the executor ends the tasks an execution left (at the
/// runtime's shutdown or the teardown), when only destructors run. Polling
/// a stackful task then ends it instead of running it: the first poll
/// unwinds its body from where it is suspended, running its destructors;
/// `Ready` once it is done. A destructor that blocks (on a lock another task
/// still holds) suspends the body again, and the poll returns `Pending`:
/// polled again after the other tasks ended, it goes on. A task never
/// started is done at once. And [`block_on`] off a task stack, in the
/// destructor of an async task, polls its future once.
pub(crate) fn ending(on: bool) {
    set_cell(&ENDING, on);
}

/// Sets the size of the stacks this thread creates from now on, and drops
/// the pooled stacks if it changed.
pub(crate) fn set_stack_size(bytes: usize) {
    if STACK_SIZE.replace(bytes) != bytes {
        STACKS.with_borrow_mut(Vec::clear);
    }
}

/// A stack of `bytes` bytes: a pooled one if there is one.
fn take_stack(bytes: usize) -> DefaultStack {
    let pooled = STACKS.with_borrow_mut(|stacks| {
        let index = stacks.iter().rposition(|&(size, _)| size == bytes)?;
        Some(stacks.swap_remove(index).1)
    });
    pooled.unwrap_or_else(|| new_stack(bytes))
}

/// A task whose body runs on its own stack.
pub(crate) struct StackfulTask {
    body: Option<Box<dyn FnOnce()>>,
    coroutine: Option<TaskCoroutine>,
    /// What the overflow handler needs while the coroutine runs.
    trap: Option<Trap>,
    /// The size of the coroutine's stack; before it starts, the least size
    /// asked for it.
    stack_bytes: usize,
    /// The body was told to unwind (see [`ending`]).
    cancelled: bool,
}

impl StackfulTask {
    /// A task that will run `body` on a stack of the exploration's size.
    pub(crate) fn new(body: Box<dyn FnOnce()>) -> StackfulTask {
        StackfulTask::with_stack_at_least(body, 0)
    }

    /// A task that will run `body` on a stack of at least `bytes` bytes
    /// (and at least the exploration's size), as
    /// `thread::Builder::stack_size` asks.
    pub(crate) fn with_stack_at_least(body: Box<dyn FnOnce()>, bytes: usize) -> StackfulTask {
        StackfulTask {
            body: Some(body),
            coroutine: None,
            trap: None,
            stack_bytes: bytes,
            cancelled: false,
        }
    }

    /// Wraps an async task: its future is polled on the stack, so that
    /// synchronous operations inside a poll can suspend it too.
    pub(crate) fn from_future(
        future: Pin<Box<dyn Future<Output = ()>>>,
        poll_edge: fn(bool),
    ) -> StackfulTask {
        let caller = std::panic::Location::caller();
        StackfulTask::new(Box::new(move || block_on_with(future, poll_edge, caller)))
    }

    fn start(&mut self, body: Box<dyn FnOnce()>, waker: Waker) {
        overflow::prepare_thread();
        self.stack_bytes = self.stack_bytes.max(STACK_SIZE.get());
        let stack = take_stack(self.stack_bytes);
        let stack_limit = Trap::stack_limit(&stack);
        let coroutine =
            Coroutine::with_stack(stack, move |yielder: &Yielder<Resume, ()>, first| {
                let frame = Frame {
                    yielder: yielder as *const _,
                    waker,
                    outermost: Cell::new(first == Resume::Run { outermost: true }),
                };
                set_cell(&CURRENT, &frame as *const Frame);
                body();
                Exit::Returned
            });
        self.trap = Some(Trap::new(&coroutine, stack_limit));
        self.coroutine = Some(coroutine);
    }

    fn recycle(&mut self) {
        if let Some(mut coroutine) = self.coroutine.take() {
            // Unwinds a suspended body, running its destructors; the
            // execution is over by then, so they record nothing.
            coroutine.force_unwind();
            let stack = coroutine.into_stack();
            STACKS.with_borrow_mut(|stacks| stacks.push((self.stack_bytes, stack)));
        }
    }
}

/// The panic of a task that overflowed its stack, raised on the poller's
/// stack once the coroutine has been abandoned. Without the panic hook: a
/// location here would point into racecheck, not at the task's code.
#[cold]
#[inline(never)]
fn stack_overflow(stack_bytes: usize) -> ! {
    std::panic::resume_unwind(Box::new(format!(
        "racecheck: stack overflow in a task (stack size {stack_bytes} bytes; raise it with \
         Builder::stack_size)"
    )))
}

#[cold]
fn new_stack(bytes: usize) -> DefaultStack {
    DefaultStack::new(bytes).unwrap_or_else(|error| {
        panic!("racecheck: cannot allocate a {bytes}-byte task stack: {error}")
    })
}

/// Restores [`CURRENT`] and the overflow handler's running coroutine when
/// control is back on the resuming stack (the executor's, or the task's
/// that polls a nested stackful future), also when the body panicked.
struct Resumer {
    frame: *const Frame,
    trap: Option<Trap>,
}

impl Resumer {
    /// Makes `trap` the running coroutine's, for the resume to come.
    #[inline]
    fn enter(trap: Option<Trap>) -> Resumer {
        Resumer {
            frame: CURRENT.get(),
            trap: Trap::enter(trap),
        }
    }
}

impl Drop for Resumer {
    fn drop(&mut self) {
        set_cell(&CURRENT, self.frame);
        Trap::leave(self.trap);
    }
}

impl Future for StackfulTask {
    type Output = ();

    // Inlined into `thread::MainThread`'s poll: one frame less to return
    // through after each switch back (see `suspend`).
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let cancel = ENDING.get();
        if this.coroutine.is_none() {
            if cancel {
                return Poll::Ready(());
            }
            let body = this
                .body
                .take()
                .expect("racecheck internal error: a stackful task polled after completion");
            this.start(body, cx.waker().clone());
        }
        let cancel = cancel && !std::mem::replace(&mut this.cancelled, true);
        let coroutine = this.coroutine.as_mut().expect("started above");
        let result = {
            let resumer = Resumer::enter(this.trap);
            let resume = if cancel {
                Resume::Cancel
            } else {
                Resume::Run {
                    outermost: resumer.frame.is_null(),
                }
            };
            coroutine.resume(resume)
        };
        match result {
            CoroutineResult::Yield(()) => Poll::Pending,
            CoroutineResult::Return(Exit::Returned) => {
                this.recycle();
                Poll::Ready(())
            }
            CoroutineResult::Return(Exit::StackOverflow) => {
                // The coroutine is done; its stack is unmapped rather than
                // pooled, so nothing the abandoned frames pointed into is
                // ever reused.
                this.coroutine = None;
                this.trap = None;
                stack_overflow(this.stack_bytes)
            }
        }
    }
}

impl Drop for StackfulTask {
    fn drop(&mut self) {
        self.recycle();
    }
}

/// Whether the caller runs on a task's own stack, where it can [`suspend`].
#[inline]
pub(crate) fn on_task_stack() -> bool {
    !CURRENT.get().is_null()
}

/// `block_on` off a task stack: in a destructor run while the execution is
/// torn down or the runtime shuts down (see [`ending`]), the future gets
/// one poll (nothing can wake it later); outside any execution (an
/// OS thread of a plain test, with untracked primitives) the thread parks
/// until the future's waker is woken; inside an execution, in an async task
/// that cannot be suspended, it is a mistake, reported at the caller's line.
#[cold]
#[inline(never)]
#[track_caller]
fn block_off_task<F: Future>(future: Pin<&mut F>, caller: &std::panic::Location<'_>) -> F::Output {
    if !ENDING.get() && !in_execution() {
        return park_on(future);
    }
    if !ENDING.get() {
        // tokio's words first: tests match on them.
        panic!(
            "Cannot block the current thread from within a runtime (racecheck: block_on or a \
             blocking primitive called at {caller} in an async task; use \
             racecheck::thread::spawn (tokio: spawn_blocking), or Granularity::Step to run \
             async tasks on stacks)"
        );
    }
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!(
            "racecheck: block_on at {caller}, in a destructor run while the runtime ends its \
             tasks, would block: nothing runs any more to unblock it"
        ),
    }
}

/// Polls `future` on this OS thread, parking it while the future is
/// pending, until its waker unparks it: a plain blocking executor for code
/// outside any execution.
fn park_on<F: Future>(mut future: Pin<&mut F>) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        std::thread::park();
    }
}

/// Suspends the running stackful task: its poll returns `Pending`, and this
/// returns when the task is next polled. Returns `false`, doing nothing, off
/// a task stack.
///
/// Inlined into its callers: every frame between the switch and the code
/// the task goes on with is a return the CPU mispredicts after the switch
/// (its return stack holds the executor's addresses), at several
/// nanoseconds each.
#[inline]
pub(crate) fn suspend() -> bool {
    let frame = CURRENT.get();
    if frame.is_null() {
        return false;
    }
    // SAFETY: `CURRENT` is non-null only while the coroutine whose body owns
    // `frame` runs (the body sets it on entry and after every resume; the
    // executor clears it whenever control returns to its stack). We are
    // that coroutine, inside its body, so `frame` and the yielder it points
    // to (the body's argument, on the same stack) are alive.
    let frame_ref = unsafe { &*frame };
    if frame_ref.outermost.get() && step_in_place() {
        // The strategy chose this task again: no switch.
        return true;
    }
    // SAFETY: as above, the yielder is the body's argument, alive.
    let yielder = unsafe { &*frame_ref.yielder };
    match yielder.suspend(()) {
        Resume::Run { outermost } => {
            set_cell(&CURRENT, frame);
            frame_ref.outermost.set(outermost);
        }
        Resume::Cancel => {
            set_cell(&CURRENT, frame);
            cancel();
        }
    }
    true
}

/// What the executor does at a suspension of a task's own coroutine,
/// before switching back to it: end the step and choose the next task, and
/// say whether that is the same task, to go on without a switch.
pub(crate) trait StepInPlace {
    /// Ends the running task's step and chooses the next; `true` when the
    /// running task was chosen and its next step has begun. `false` leaves
    /// the switch to happen (having chosen another task, or done nothing).
    fn step_in_place(&mut self) -> bool;
}

/// The executor lent to the coroutines while it runs steps (see [`Lent`]).
#[derive(Clone, Copy)]
struct Lender {
    target: ptr::NonNull<()>,
    step: unsafe fn(ptr::NonNull<()>) -> bool,
}

thread_local! {
    /// The executor lent by [`Lent`], if any, while no step in place runs.
    static LENDER: Cell<Option<Lender>> = const { Cell::new(None) };
}

/// `target`'s [`StepInPlace::step_in_place`].
///
/// # Safety
/// `target` is a `&mut T` lent by a live [`Lent`], not otherwise borrowed.
unsafe fn step_lent<T: StepInPlace>(target: ptr::NonNull<()>) -> bool {
    // SAFETY: per the contract, and `T` is the lent type (`Lent::new`
    // pairs the pointer with this instance).
    unsafe { target.cast::<T>().as_mut() }.step_in_place()
}

/// Lends `T` (the executor's step loop) to the suspensions of tasks'
/// coroutines while it lives, so that a task the strategy chooses again
/// goes on without two stack switches: the issue of the step is decided on
/// the task's stack, and only a switch to another task leaves it. The
/// lender reaches the loop through [`Lent::get`] meanwhile; a suspension
/// reaches it only while the lender is inside a poll, never both at once.
pub(crate) struct Lent<'a, T: StepInPlace> {
    target: ptr::NonNull<T>,
    previous: Option<Lender>,
    _borrow: std::marker::PhantomData<&'a mut T>,
}

impl<'a, T: StepInPlace> Lent<'a, T> {
    /// Lends `target` until the result is dropped.
    pub(crate) fn new(target: &'a mut T) -> Lent<'a, T> {
        let target = ptr::NonNull::from(target);
        let lender = Lender {
            target: target.cast(),
            step: step_lent::<T>,
        };
        let previous = LENDER.replace(Some(lender));
        Lent {
            target,
            previous,
            _borrow: std::marker::PhantomData,
        }
    }

    /// The lent value, for the lender between polls.
    #[inline]
    pub(crate) fn get(&mut self) -> &mut T {
        // SAFETY: the pointer comes from a `&'a mut T`; a step in place
        // uses it only from inside a poll, when no reference this returned
        // is in use (`&mut self` ends with the caller's use of it).
        unsafe { self.target.as_mut() }
    }
}

impl<T: StepInPlace> Drop for Lent<'_, T> {
    fn drop(&mut self) {
        LENDER.set(self.previous);
    }
}

/// Steps in place through the lent executor, if any. The lender is taken
/// for the call, so that nothing inside it reaches the executor twice.
/// Out of line: [`suspend`] is inlined into every blocking operation and
/// scheduling point, and stays small.
#[inline(never)]
fn step_in_place() -> bool {
    #[cfg(test)]
    if tests::IN_PLACE_OFF.get() {
        return false;
    }
    let Some(lender) = LENDER.take() else {
        return false;
    };
    // SAFETY: a lender is set only by a live `Lent`, whose owner is inside
    // a poll (the only way to reach a suspension) and not using its `get`.
    let stepped = unsafe { (lender.step)(lender.target) };
    set_cell(&LENDER, Some(lender));
    stepped
}

/// Unwinds the body from its suspension point, running its destructors; the
/// poll that cancelled it sees the payload.
#[cold]
#[inline(never)]
fn cancel() -> ! {
    std::panic::resume_unwind(Box::new(Cancelled))
}

/// Runs `future` to completion on the current stackful task, suspending the
/// task whenever the future is pending (the public form is
/// `crate::block_on`). `poll_edge(begins)` brackets each poll: called with
/// `true` before it and with `false` after a `Pending`, so that the
/// execution can keep the task runnable if it was woken while the poll was
/// suspended at scheduling points inside it.
///
/// Inline, so that the caller builds `future` where it is polled (rather
/// than copying it into this frame), and one frame less lies between the
/// switch in [`suspend`] and the code the task goes on with.
#[inline]
pub(crate) fn block_on_with<F: Future>(
    future: F,
    poll_edge: fn(bool),
    caller: &'static std::panic::Location<'static>,
) -> F::Output {
    let mut future = pin!(future);
    loop {
        let frame = CURRENT.get();
        if frame.is_null() {
            return block_off_task(future, caller);
        }
        // SAFETY: as in `suspend`: a non-null `CURRENT` is the running
        // body's frame, alive for the whole poll.
        let waker = unsafe { &(*frame).waker };
        poll_edge(true);
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(waker)) {
            return output;
        }
        poll_edge(false);
        suspend();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::rc::Rc;

    thread_local! {
        /// Set, steps never end in place: every suspension switches back
        /// to the executor, as before steps in place existed.
        pub(crate) static IN_PLACE_OFF: Cell<bool> = const { Cell::new(false) };
    }

    fn poll_once(task: &mut StackfulTask) -> Poll<()> {
        Pin::new(task).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_body_suspends_and_resumes_where_it_left_off() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut task = StackfulTask::new(Box::new({
            let log = log.clone();
            move || {
                log.borrow_mut().push(1);
                assert!(suspend());
                log.borrow_mut().push(2);
                assert!(suspend());
                log.borrow_mut().push(3);
            }
        }));
        assert!(!on_task_stack());
        assert_eq!(poll_once(&mut task), Poll::Pending);
        assert_eq!(*log.borrow(), [1]);
        assert!(!on_task_stack(), "the executor's stack is not a task's");
        assert_eq!(poll_once(&mut task), Poll::Pending);
        assert_eq!(poll_once(&mut task), Poll::Ready(()));
        assert_eq!(*log.borrow(), [1, 2, 3]);
        assert!(!suspend(), "off a task stack, suspend does nothing");
    }

    #[test]
    fn stacks_are_reused_and_a_suspended_body_is_unwound_on_drop() {
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = Rc::new(Cell::new(false));
        let mut task = StackfulTask::new(Box::new({
            let flag = Flag(dropped.clone());
            move || {
                let _flag = flag;
                suspend();
                unreachable!("never resumed");
            }
        }));
        assert_eq!(poll_once(&mut task), Poll::Pending);
        let pooled = STACKS.with_borrow(Vec::len);
        drop(task);
        assert!(dropped.get(), "the body's locals were dropped");
        assert_eq!(STACKS.with_borrow(Vec::len), pooled + 1);
        let mut next = StackfulTask::new(Box::new(|| ()));
        assert_eq!(poll_once(&mut next), Poll::Ready(()));
        assert_eq!(
            STACKS.with_borrow(Vec::len),
            pooled + 1,
            "the stack went back"
        );
    }

    #[test]
    fn a_panic_in_the_body_reaches_the_poller_and_clears_the_frame() {
        let mut task = StackfulTask::new(Box::new(|| panic!("deep down")));
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut task)));
        let payload = caught.expect_err("the panic propagates");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"deep down"));
        assert!(!on_task_stack());
    }

    /// Recurses `depth` levels with a kilobyte frame each; `black_box`
    /// keeps the frames from being optimised into a loop.
    fn recurse(depth: u64) -> u64 {
        let frame = std::hint::black_box([depth as u8; 1024]);
        if depth == 0 {
            return u64::from(frame[0]);
        }
        std::hint::black_box(recurse(depth - 1)) + u64::from(frame[1023])
    }

    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    #[test]
    fn a_stack_overflow_is_a_panic_of_the_task_and_the_thread_runs_on() {
        STACKS.with_borrow_mut(|stacks| {
            stacks.push((STACK_SIZE_DEFAULT, new_stack(STACK_SIZE_DEFAULT)));
        });
        let pooled = STACKS.with_borrow(Vec::len);
        let mut task = StackfulTask::new(Box::new(|| {
            recurse(std::hint::black_box(u64::MAX));
        }));
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut task)));
        let payload = caught.expect_err("the overflow is a panic");
        let message = payload
            .downcast_ref::<String>()
            .expect("a formatted message");
        assert_eq!(
            *message,
            format!(
                "racecheck: stack overflow in a task (stack size {STACK_SIZE_DEFAULT} bytes; \
                 raise it with Builder::stack_size)"
            )
        );
        assert!(!on_task_stack());
        drop(task);
        assert_eq!(
            STACKS.with_borrow(Vec::len),
            pooled - 1,
            "the overflowed stack came from the pool and did not go back"
        );
        // The thread, its handler and a fresh stack all still work, twice
        // (the second overflow must be caught too).
        for _ in 0..2 {
            let mut next = StackfulTask::new(Box::new(|| {
                assert!(suspend());
                assert_eq!(recurse(16), (0..=16).sum::<u64>());
            }));
            assert_eq!(poll_once(&mut next), Poll::Pending);
            assert_eq!(poll_once(&mut next), Poll::Ready(()));
            let mut again = StackfulTask::new(Box::new(|| {
                recurse(std::hint::black_box(u64::MAX));
            }));
            let caught =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut again)));
            assert!(caught.is_err());
        }
    }

    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    #[test]
    fn an_overflow_is_caught_on_a_thread_without_an_alternate_signal_stack() {
        std::thread::spawn(|| {
            // Rust gives its threads an alternate signal stack; take it
            // away, as a thread started by foreign code would have none.
            // SAFETY: a valid `stack_t`; disabling is allowed while not
            // running on the alternate stack.
            unsafe {
                let disable = libc::stack_t {
                    ss_sp: ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                };
                assert_eq!(libc::sigaltstack(&disable, ptr::null_mut()), 0);
            }
            let mut task = StackfulTask::new(Box::new(|| {
                recurse(std::hint::black_box(u64::MAX));
            }));
            let caught =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut task)));
            assert!(caught.is_err(), "caught on racecheck's own alternate stack");
        })
        .join()
        .expect("the thread survives");
    }
}
