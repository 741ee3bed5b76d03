//! `tokio::sync::OnceCell`: a value set once, initialised by one task while
//! the others wait.

use racecheck_sync::Semaphore;
use std::fmt;
use std::future::Future;
use std::sync::OnceLock;

/// A cell written at most once, like `tokio::sync::OnceCell`.
///
/// `get_or_init` runs the initialiser in one task at a time: the others
/// wait on a racecheck semaphore (a scheduling point, with its
/// happens-before edge from the initialiser to every reader that waited).
/// An initialiser that is cancelled or fails lets the next waiter try.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::sync::OnceCell;
/// use std::sync::Arc;
///
/// Runtime::new().unwrap().block_on(async {
///     let config = Arc::new(OnceCell::new());
///     let reader = {
///         let config = config.clone();
///         racecheck_tokio::spawn(async move { *config.get_or_init(|| async { 1 }).await })
///     };
///     let mine = *config.get_or_init(|| async { 2 }).await;
///     assert_eq!(reader.await.unwrap(), mine, "one initialiser wins");
/// });
/// ```
pub struct OnceCell<T> {
    value: OnceLock<T>,
    /// One permit: held by the task running an initialiser.
    initializing: Semaphore,
}

impl<T> OnceCell<T> {
    /// An empty cell. Created outside an execution it works untracked.
    #[track_caller]
    pub fn new() -> OnceCell<T> {
        OnceCell {
            value: OnceLock::new(),
            initializing: Semaphore::new(1),
        }
    }

    /// An empty cell built in a `const`, for a `static`, as tokio's
    /// `OnceCell::const_new`: untracked (see
    /// `racecheck::Builder::allow_untracked_objects`).
    ///
    /// ```
    /// use racecheck_tokio::sync::OnceCell;
    ///
    /// static CONFIG: OnceCell<u32> = OnceCell::const_new();
    /// assert!(CONFIG.get().is_none());
    /// ```
    #[track_caller]
    pub const fn const_new() -> OnceCell<T> {
        OnceCell {
            value: OnceLock::new(),
            initializing: Semaphore::const_new(1),
        }
    }

    /// A cell holding `value`, if it is `Some`.
    #[track_caller]
    pub fn new_with(value: Option<T>) -> OnceCell<T> {
        let cell = OnceCell::new();
        if let Some(value) = value {
            let _ = cell.value.set(value);
        }
        cell
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// The value, mutably, if set.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    /// Whether the value is set.
    pub fn initialized(&self) -> bool {
        self.value.get().is_some()
    }

    /// Sets the value if the cell is empty and nobody is initialising it.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        if self.initialized() {
            return Err(SetError::AlreadyInitializedError(value));
        }
        let Ok(_permit) = self.initializing.try_acquire() else {
            return Err(SetError::InitializingError(value));
        };
        self.value
            .set(value)
            .map_err(SetError::AlreadyInitializedError)
    }

    /// The value, initialised by `init` if the cell is empty; concurrent
    /// callers wait for the one initialiser.
    #[track_caller]
    pub fn get_or_init<F, Fut>(&self, init: F) -> impl Future<Output = &T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let result = self.get_or_try_init(|| async move { Ok::<T, Never>(init().await) });
        async move {
            match result.await {
                Ok(value) => value,
                Err(never) => match never {},
            }
        }
    }

    /// Like [`get_or_init`](Self::get_or_init) with a fallible
    /// initialiser: an `Err` leaves the cell empty for the next caller.
    #[track_caller]
    pub fn get_or_try_init<E, F, Fut>(&self, init: F) -> impl Future<Output = Result<&T, E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let acquire = self.initializing.acquire();
        async move {
            if let Some(value) = self.value.get() {
                return Ok(value);
            }
            let _permit = acquire
                .await
                .expect("a OnceCell's semaphore is never closed");
            if let Some(value) = self.value.get() {
                return Ok(value);
            }
            let value = init().await?;
            Ok(self.value.get_or_init(|| value))
        }
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        self.value.take()
    }

    /// The value, consuming the cell.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}

/// No value: the error of an initialiser that cannot fail.
enum Never {}

impl<T> Default for OnceCell<T> {
    #[track_caller]
    fn default() -> OnceCell<T> {
        OnceCell::new()
    }
}

/// A cell holding `value`, like `tokio::sync::OnceCell::from`.
///
/// ```
/// use racecheck_tokio::sync::OnceCell;
///
/// let cell = OnceCell::from(2);
/// assert_eq!(cell.get(), Some(&2));
/// ```
impl<T> From<T> for OnceCell<T> {
    #[track_caller]
    fn from(value: T) -> OnceCell<T> {
        OnceCell::new_with(Some(value))
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.value.get())
            .finish()
    }
}

/// Why [`OnceCell::set`] failed; the value comes back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetError<T> {
    /// The cell already holds a value.
    AlreadyInitializedError(T),
    /// Another task is initialising the cell.
    InitializingError(T),
}

impl<T> SetError<T> {
    /// Whether the cell already held a value.
    pub fn is_already_init_err(&self) -> bool {
        matches!(self, SetError::AlreadyInitializedError(_))
    }

    /// Whether another task was initialising the cell.
    pub fn is_initializing_err(&self) -> bool {
        matches!(self, SetError::InitializingError(_))
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::AlreadyInitializedError(_) => f.write_str("AlreadyInitializedError"),
            SetError::InitializingError(_) => f.write_str("InitializingError"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for SetError<T> {}
