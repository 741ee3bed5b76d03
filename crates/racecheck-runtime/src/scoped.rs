//! A root future that borrows from its caller's frame, for a `block_on`
//! that runs one whole execution before it returns
//! (`Runtime::block_on(async { &local })` in the tokio layer).
//!
//! The executor keeps its tasks as `'static` boxes. A future that borrows
//! locals may still be one of them when the execution cannot outlive the
//! borrow: [`with_scoped_root`] erases the future's lifetime, lends it to
//! `run` as a [`ScopedRoot`], and before it returns (normally or by
//! unwinding) makes sure the future is gone: dropped by the execution's
//! teardown, or by itself if `run` never took it. A future still alive then
//! (a racecheck bug: an executor that kept a task past its execution)
//! aborts the process rather than leave a dangling borrow.
//!
//! **`unsafe`, and why here.** One lifetime erasure (`transmute` of a boxed
//! future's trait-object lifetime to `'static`), in this file only, made
//! sound by the drop check above; tested below, including a `run` that
//! unwinds and one that never takes the future.
//!
//! ```
//! use racecheck_runtime::{with_scoped_root, Executor, Limits, Scheduler};
//! use racecheck_trace::TaskId;
//! use std::cell::Cell;
//!
//! struct First;
//! impl Scheduler for First {
//!     fn new_execution(&mut self, iteration: u64) -> bool { iteration == 0 }
//!     fn next_task(&mut self, runnable: &[TaskId], _: Option<TaskId>) -> Option<TaskId> {
//!         runnable.first().copied()
//!     }
//! }
//!
//! let local = Cell::new(1);
//! with_scoped_root(async { local.set(local.get() + 1) }, |root| {
//!     let mut executor = Executor::new(Limits::default());
//!     First.new_execution(0);
//!     executor.run(&|| root.take(), &mut First);
//! });
//! assert_eq!(local.get(), 2);
//! ```

#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// A boxed root future, `'static` to the executor.
type RootFuture = Pin<Box<dyn Future<Output = ()>>>;

/// A borrowed root future lent to an execution by [`with_scoped_root`].
pub struct ScopedRoot {
    future: RefCell<Option<RootFuture>>,
}

impl ScopedRoot {
    /// The future, for the execution's root task.
    ///
    /// # Panics
    /// When taken twice: a scoped root runs in one execution only.
    pub fn take(&self) -> RootFuture {
        self.future
            .borrow_mut()
            .take()
            .expect("racecheck: a scoped root future runs in one execution only")
    }
}

impl std::fmt::Debug for ScopedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let taken = self.future.borrow().is_none();
        f.debug_struct("ScopedRoot").field("taken", &taken).finish()
    }
}

/// The user's future, noting when it is dropped.
struct Noted<F> {
    future: Pin<Box<F>>,
    alive: Rc<Cell<bool>>,
}

impl<F: Future<Output = ()>> Future for Noted<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.future.as_mut().poll(cx)
    }
}

impl<F> Drop for Noted<F> {
    fn drop(&mut self) {
        self.alive.set(false);
    }
}

/// Drops the future if `run` left it, then checks it is gone.
struct Teardown<'a> {
    root: &'a ScopedRoot,
    alive: Rc<Cell<bool>>,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        drop(self.root.future.borrow_mut().take());
        if self.alive.get() {
            eprintln!("racecheck: a scoped root future outlived its execution; aborting");
            std::process::abort();
        }
    }
}

/// Runs `run` with `future` lent as a `'static` root future (see the
/// module documentation); `future` is dropped before this returns.
pub fn with_scoped_root<'a, R>(
    future: impl Future<Output = ()> + 'a,
    run: impl FnOnce(&ScopedRoot) -> R,
) -> R {
    let alive = Rc::new(Cell::new(true));
    let noted: Pin<Box<dyn Future<Output = ()> + 'a>> = Box::pin(Noted {
        future: Box::pin(future),
        alive: alive.clone(),
    });
    // SAFETY: only the trait object's lifetime changes (same layout). The
    // future borrows for `'a`, which outlives this call; `Teardown` drops it
    // before this call returns, or aborts the process if something still
    // owns it then, so it is never used after `'a`.
    let erased: RootFuture =
        unsafe { std::mem::transmute::<Pin<Box<dyn Future<Output = ()> + 'a>>, RootFuture>(noted) };
    let root = ScopedRoot {
        future: RefCell::new(Some(erased)),
    };
    let _teardown = Teardown { root: &root, alive };
    run(&root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn the_future_borrows_and_is_dropped_before_the_call_returns() {
        let mut local = vec![1];
        let dropped = Rc::new(Cell::new(false));
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let flag = Flag(dropped.clone());
        with_scoped_root(
            async {
                let _flag = flag;
                local.push(2);
            },
            |root| {
                let mut future = root.take();
                let polled = future
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()));
                assert!(polled.is_ready());
            },
        );
        assert!(dropped.get());
        assert_eq!(local, [1, 2]);
    }

    #[test]
    fn a_future_never_taken_is_dropped() {
        let dropped = Rc::new(Cell::new(false));
        let flag = dropped.clone();
        let value = with_scoped_root(
            async move {
                let _ = &flag;
            },
            |_| 7,
        );
        assert_eq!(value, 7);
        assert_eq!(
            Rc::strong_count(&dropped),
            1,
            "the future and its capture are gone"
        );
    }

    #[test]
    fn a_run_that_unwinds_still_drops_the_future() {
        let local = Cell::new(0);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_scoped_root(async { local.set(1) }, |root| {
                let _future = root.take();
                panic!("the run fails");
            })
        }));
        assert!(caught.is_err());
        assert_eq!(local.get(), 0, "never polled, and dropped");
    }

    #[test]
    #[should_panic(expected = "one execution only")]
    fn a_root_is_taken_once() {
        with_scoped_root(async {}, |root| {
            let _first = root.take();
            let _second = root.take();
        });
    }
}
