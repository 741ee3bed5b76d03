//! `tokio::task_local!` on racecheck: values scoped to a future, seen by
//! the code that future runs.
//!
//! As in tokio, a `TaskLocalFuture` puts its value in place around each
//! poll of its future. racecheck's tasks share one thread and, at step
//! granularity, a task can be suspended in the middle of a poll; so the
//! values in place are kept per task (by racecheck's task id), each task's
//! innermost scope last, and a task sees only its own.

use racecheck::TaskId;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The values of one task-local key in place now: (task, value), each
/// task's innermost scope last.
pub type Slots<T> = RefCell<Vec<(Option<TaskId>, T)>>;

/// Declares task-local keys, like `tokio::task_local!`:
/// `static NAME: Type;`, each a [`LocalKey`] with no value outside
/// [`LocalKey::scope`] and [`LocalKey::sync_scope`].
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// racecheck_tokio::task_local! {
///     static REQUEST: u32;
/// }
///
/// Runtime::new().unwrap().block_on(async {
///     let seen = REQUEST.scope(7, async { REQUEST.get() }).await;
///     assert_eq!(seen, 7);
///     assert!(REQUEST.try_get().is_err());
/// });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $type:ty; $($rest:tt)*) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $type);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $type:ty) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $type);
    };
}

/// One key of [`task_local!`]. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_key {
    ($(#[$attr:meta])* $vis:vis $name:ident, $type:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$type> = {
            ::std::thread_local! {
                static __SLOTS: $crate::task::task_local::Slots<$type> =
                    const { ::std::cell::RefCell::new(::std::vec::Vec::new()) };
            }
            $crate::task::LocalKey::__new(&__SLOTS)
        };
    };
}

/// A key declared by [`task_local!`], like `tokio::task::LocalKey`.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// racecheck_tokio::task_local! {
///     static USER: &'static str;
/// }
///
/// Runtime::new().unwrap().block_on(async {
///     USER.scope("ada", async {
///         USER.with(|user| assert_eq!(*user, "ada"));
///     })
///     .await;
/// });
/// ```
pub struct LocalKey<T: 'static> {
    slots: &'static std::thread::LocalKey<Slots<T>>,
}

impl<T: 'static> LocalKey<T> {
    /// The key over its thread-local slots. Not public API.
    #[doc(hidden)]
    pub const fn __new(slots: &'static std::thread::LocalKey<Slots<T>>) -> Self {
        LocalKey { slots }
    }

    /// Runs `future` with `value` as this key's value.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    ///
    /// racecheck_tokio::task_local! {
    ///     static DEPTH: u8;
    /// }
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let inner = DEPTH.scope(1, DEPTH.scope(2, async { DEPTH.get() })).await;
    ///     assert_eq!(inner, 2);
    /// });
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            value: Some(value),
            future: Some(Box::pin(future)),
        }
    }

    /// Runs `body` with `value` as this key's value.
    ///
    /// ```
    /// racecheck_tokio::task_local! {
    ///     static LIMIT: usize;
    /// }
    ///
    /// assert_eq!(LIMIT.sync_scope(3, || LIMIT.get() * 2), 6);
    /// ```
    ///
    /// # Panics
    /// Inside [`with`](Self::with) of this key, as tokio does: the value
    /// is borrowed.
    #[track_caller]
    pub fn sync_scope<F: FnOnce() -> R, R>(&'static self, value: T, body: F) -> R {
        let mut value = Some(value);
        let _scope = Scope::enter(self, &mut value);
        body()
    }

    /// Calls `body` with a reference to the value.
    ///
    /// # Panics
    /// Outside a scope of this key.
    ///
    /// ```
    /// racecheck_tokio::task_local! {
    ///     static NAME: String;
    /// }
    ///
    /// NAME.sync_scope("x".to_string(), || NAME.with(|name| assert_eq!(name, "x")));
    /// ```
    #[track_caller]
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, body: F) -> R {
        match self.try_with(body) {
            Ok(result) => result,
            Err(AccessError(())) => panic!(
                "cannot access a task-local storage value without setting it first via `LocalKey::scope`"
            ),
        }
    }

    /// Calls `body` with a reference to the value, or fails outside a
    /// scope of this key.
    ///
    /// ```
    /// racecheck_tokio::task_local! {
    ///     static NAME: String;
    /// }
    ///
    /// assert!(NAME.try_with(|name| name.len()).is_err());
    /// ```
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, body: F) -> Result<R, AccessError> {
        let task = racecheck_runtime::rt::try_current_task();
        self.slots.with(|slots| {
            let slots = slots.borrow();
            let value = slots.iter().rev().find(|(owner, _)| *owner == task);
            value.map(|(_, value)| body(value)).ok_or(AccessError(()))
        })
    }

    /// A copy of the value.
    ///
    /// # Panics
    /// Outside a scope of this key.
    ///
    /// ```
    /// racecheck_tokio::task_local! {
    ///     static ID: u64;
    /// }
    ///
    /// assert_eq!(ID.sync_scope(9, || ID.get()), 9);
    /// ```
    #[track_caller]
    pub fn get(&'static self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }

    /// A copy of the value, or an error outside a scope of this key.
    ///
    /// ```
    /// racecheck_tokio::task_local! {
    ///     static ID: u64;
    /// }
    ///
    /// assert!(ID.try_get().is_err());
    /// ```
    pub fn try_get(&'static self) -> Result<T, AccessError>
    where
        T: Clone,
    {
        self.try_with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("LocalKey { .. }")
    }
}

/// A value put in place for the running task; taken back on drop, also
/// when the body panics.
struct Scope<'a, T: 'static> {
    key: &'static LocalKey<T>,
    task: Option<TaskId>,
    value: &'a mut Option<T>,
    /// Whether a value was put in place: not after
    /// [`TaskLocalFuture::take_value`], as in tokio.
    placed: bool,
}

impl<'a, T: 'static> Scope<'a, T> {
    #[track_caller]
    fn enter(key: &'static LocalKey<T>, value: &'a mut Option<T>) -> Scope<'a, T> {
        let task = racecheck_runtime::rt::try_current_task();
        let placed = value.take().map(|placed| {
            key.slots.with(|slots| match slots.try_borrow_mut() {
                Ok(mut slots) => {
                    slots.push((task, placed));
                    Ok(())
                }
                Err(_) => Err(placed),
            })
        });
        if let Some(Err(_)) = placed {
            panic!("cannot enter a task-local scope while the task-local storage is borrowed");
        }
        Scope {
            key,
            task,
            value,
            placed: placed.is_some(),
        }
    }
}

impl<T: 'static> Drop for Scope<'_, T> {
    fn drop(&mut self) {
        if !self.placed {
            return;
        }
        let task = self.task;
        let taken = self.key.slots.with(|slots| {
            let mut slots = slots.borrow_mut();
            let index = slots.iter().rposition(|(owner, _)| *owner == task)?;
            Some(slots.remove(index).1)
        });
        *self.value = taken;
    }
}

/// A future run with a task-local value in place, from
/// [`LocalKey::scope`].
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::task::futures::TaskLocalFuture;
///
/// racecheck_tokio::task_local! {
///     static TRACE: u16;
/// }
///
/// Runtime::new().unwrap().block_on(async {
///     let future: TaskLocalFuture<u16, _> = TRACE.scope(4, async { TRACE.get() });
///     assert_eq!(future.await, 4);
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct TaskLocalFuture<T: 'static, F> {
    key: &'static LocalKey<T>,
    /// The value while the future is not being polled.
    value: Option<T>,
    /// `None` once dropped early.
    future: Option<Pin<Box<F>>>,
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// The value, unless the future is being polled.
    ///
    /// ```
    /// racecheck_tokio::task_local! {
    ///     static TRACE: u16;
    /// }
    ///
    /// let mut future = Box::pin(TRACE.scope(5, async {}));
    /// assert_eq!(future.as_mut().take_value(), Some(5));
    /// ```
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        self.get_mut().value.take()
    }
}

// The value is never pinned, and the future is boxed.
impl<T: 'static, F> Unpin for TaskLocalFuture<T, F> {}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let future = this
            .future
            .as_mut()
            .expect("`TaskLocalFuture` polled after completion");
        let _scope = Scope::enter(this.key, &mut this.value);
        future.as_mut().poll(context)
    }
}

impl<T: 'static, F> Drop for TaskLocalFuture<T, F> {
    fn drop(&mut self) {
        // The future's destructors see the value, as in tokio.
        if let Some(future) = self.future.take() {
            if self.value.is_some() {
                let _scope = Scope::enter(self.key, &mut self.value);
                drop(future);
            }
        }
    }
}

impl<T: 'static + fmt::Debug, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TaskLocalFuture")
            .field("value", &self.value)
            .finish()
    }
}

/// The error of reading a task-local key outside its scope, like
/// `tokio::task::futures::...AccessError`.
///
/// ```
/// racecheck_tokio::task_local! {
///     static KEY: u8;
/// }
///
/// let error = KEY.try_get().unwrap_err();
/// assert_eq!(error.to_string(), "task-local value not set");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError(());

impl fmt::Display for AccessError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("task-local value not set")
    }
}

impl std::error::Error for AccessError {}
