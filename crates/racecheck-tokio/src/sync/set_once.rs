//! `tokio::sync::SetOnce`: a value set once, that tasks can wait for.

use racecheck_sync::Notify;
use std::fmt;
use std::sync::OnceLock;

/// A value set at most once, like `tokio::sync::SetOnce`: [`wait`] returns
/// it once some task has [`set`] it. Built on racecheck's `Notify`, so a
/// `wait` that had to wait is ordered after the `set` that woke it; a `get`
/// that finds the value (or a `wait` that finds it at once) orders nothing
/// for the race detector.
///
/// [`wait`]: SetOnce::wait
/// [`set`]: SetOnce::set
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::sync::SetOnce;
/// use std::sync::Arc;
///
/// Runtime::new().unwrap().block_on(async {
///     let port = Arc::new(SetOnce::new());
///     let server = {
///         let port = port.clone();
///         racecheck_tokio::spawn(async move { port.set(8080).unwrap() })
///     };
///     assert_eq!(*port.wait().await, 8080);
///     server.await.unwrap();
/// });
/// ```
pub struct SetOnce<T> {
    value: OnceLock<T>,
    set: Notify,
}

/// The value was set already; the rejected value comes back.
#[derive(Debug, PartialEq, Eq)]
pub struct SetOnceError<T>(pub T);

impl<T> fmt::Display for SetOnceError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SetOnceError")
    }
}

impl<T: fmt::Debug> std::error::Error for SetOnceError<T> {}

impl<T> SetOnce<T> {
    /// An empty cell. Created outside an execution it works untracked.
    #[track_caller]
    pub fn new() -> SetOnce<T> {
        SetOnce {
            value: OnceLock::new(),
            set: Notify::new(),
        }
    }

    /// An empty cell built in a `const`, for a `static`: untracked (see
    /// `racecheck::Builder::allow_untracked_objects`).
    ///
    /// ```
    /// use racecheck_tokio::sync::SetOnce;
    ///
    /// static PORT: SetOnce<u16> = SetOnce::const_new();
    /// PORT.set(80).unwrap();
    /// assert_eq!(PORT.get(), Some(&80));
    /// ```
    #[track_caller]
    pub const fn const_new() -> SetOnce<T> {
        SetOnce {
            value: OnceLock::new(),
            set: Notify::const_new(),
        }
    }

    /// A cell holding `value`, if it is `Some`.
    #[track_caller]
    pub fn new_with(value: Option<T>) -> SetOnce<T> {
        let cell = SetOnce::new();
        if let Some(value) = value {
            let _ = cell.value.set(value);
        }
        cell
    }

    /// Whether the value is set.
    pub fn initialized(&self) -> bool {
        self.value.get().is_some()
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// Sets the value and wakes every waiter; fails, handing `value`
    /// back, if it was set already. The wake-up is recorded as a
    /// `notify_waiters`.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), SetOnceError<T>> {
        self.value.set(value).map_err(SetOnceError)?;
        self.set.notify_waiters();
        Ok(())
    }

    /// The value, consuming the cell.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Waits until the value is set and returns it.
    pub async fn wait(&self) -> &T {
        loop {
            let mut notified = std::pin::pin!(self.set.notified());
            notified.as_mut().enable();
            if let Some(value) = self.value.get() {
                return value;
            }
            notified.await;
        }
    }
}

impl<T> Default for SetOnce<T> {
    #[track_caller]
    fn default() -> SetOnce<T> {
        SetOnce::new()
    }
}

impl<T> From<T> for SetOnce<T> {
    #[track_caller]
    fn from(value: T) -> SetOnce<T> {
        SetOnce::new_with(Some(value))
    }
}

impl<T: Clone> Clone for SetOnce<T> {
    #[track_caller]
    fn clone(&self) -> SetOnce<T> {
        SetOnce::new_with(self.get().cloned())
    }
}

impl<T: PartialEq> PartialEq for SetOnce<T> {
    fn eq(&self, other: &SetOnce<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for SetOnce<T> {}

impl<T: fmt::Debug> fmt::Debug for SetOnce<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetOnce")
            .field("value", &self.get())
            .finish()
    }
}
