//! tokio's macros: `select!`, `join!`, `try_join!` and `pin!`, and what
//! their expansions use.
//!
//! `select!`, `join!` and `try_join!` are `macro_rules` wrappers that hand
//! `$crate` to the procedural macros of `racecheck-tokio-macros`, so their
//! expansions name this crate however the user renamed it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Waits on several futures at once and runs the handler of the first to
/// complete, like `tokio::select!`, with all of its syntax: `biased;`,
/// patterns (an output that does not match disables its branch),
/// preconditions (`, if condition`) and `else`.
///
/// Which ready branch wins is racecheck's choice: unless `biased;`, the
/// branch polled first is a data choice of the scheduler (random and PCT
/// draw it, the exhaustive search tries each, replay reproduces it), not a
/// thread-local RNG's.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio::sync::oneshot;
///
/// Runtime::new().unwrap().block_on(async {
///     let (send, receive) = oneshot::channel::<u32>();
///     let (_keep, never) = oneshot::channel::<u32>();
///     send.send(7).unwrap();
///     let got = racecheck_tokio::select! {
///         Ok(value) = receive => value,
///         Ok(value) = never => value + 100,
///         else => 0,
///     };
///     assert_eq!(got, 7);
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__private::select_impl!($crate; $($tokens)*)
    };
}

/// Waits for every future and returns their outputs as a tuple, like
/// `tokio::join!`; the futures are polled in order, on the calling task.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     let (a, b) = racecheck_tokio::join!(async { 1 }, async { "two" });
///     assert_eq!((a, b), (1, "two"));
/// });
/// ```
#[macro_export]
macro_rules! join {
    ($($tokens:tt)*) => {
        $crate::__private::join_impl!($crate; $($tokens)*)
    };
}

/// Waits for every future returning `Result`, and returns `Ok` of their
/// outputs, or the first `Err` (dropping the others), like
/// `tokio::try_join!`.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
///
/// Runtime::new().unwrap().block_on(async {
///     let both = racecheck_tokio::try_join!(async { Ok::<_, &str>(1) }, async { Ok(2) });
///     assert_eq!(both, Ok((1, 2)));
///     let failed = racecheck_tokio::try_join!(async { Ok::<u8, &str>(1) }, async { Err::<u8, _>("no") });
///     assert_eq!(failed, Err("no"));
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    ($($tokens:tt)*) => {
        $crate::__private::try_join_impl!($crate; $($tokens)*)
    };
}

/// Pins values on the stack, like `tokio::pin!`: `pin!(a, b)` shadows each
/// variable with a pinned mutable reference to it; `pin! { let x = expr; }`
/// pins a new one.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use std::time::Duration;
///
/// Runtime::new().unwrap().block_on(async {
///     let nap = racecheck_tokio::time::sleep(Duration::from_millis(1));
///     racecheck_tokio::pin!(nap);
///     (&mut nap).await;
///     racecheck_tokio::pin! {
///         let later = async { 5 };
///     }
///     assert_eq!(later.await, 5);
/// });
/// ```
#[macro_export]
macro_rules! pin {
    ($($name:ident),* $(,)?) => {
        $( let mut $name = ::core::pin::pin!($name); )*
    };
    ($(let $name:ident = $init:expr;)*) => {
        $( let mut $name = ::core::pin::pin!($init); )*
    };
}

/// The starting branch of a `select!` whose `enabled` branches are marked:
/// the scheduler's choice among the enabled ones (0 when at most one is).
pub async fn select_start(enabled: &[bool]) -> usize {
    let count = enabled.iter().filter(|enabled| **enabled).count();
    let options = u32::try_from(count).expect("select! has fewer than 2^32 branches");
    let chosen = racecheck_runtime::rt::choose(options).await;
    enabled
        .iter()
        .enumerate()
        .filter(|(_, enabled)| **enabled)
        .nth(chosen)
        .map_or(0, |(index, _)| index)
}

/// A future of a `join!`: running, done with its output, or emptied.
pub enum MaybeDone<F: Future> {
    /// Still running.
    Running(Pin<Box<F>>),
    /// Done; the output waits to be taken.
    Done(F::Output),
    /// The output was taken.
    Taken,
}

impl<F: Future> MaybeDone<F> {
    /// A running future.
    pub fn new(future: F) -> MaybeDone<F> {
        MaybeDone::Running(Box::pin(future))
    }

    /// Polls the future if it still runs; whether it is done.
    pub fn poll_done(&mut self, cx: &mut Context<'_>) -> bool {
        if let MaybeDone::Running(future) = self {
            match future.as_mut().poll(cx) {
                Poll::Ready(output) => *self = MaybeDone::Done(output),
                Poll::Pending => return false,
            }
        }
        true
    }

    /// Takes the output.
    ///
    /// # Panics
    /// If the future is not done, or its output was taken.
    pub fn take_output(&mut self) -> F::Output {
        match std::mem::replace(self, MaybeDone::Taken) {
            MaybeDone::Done(output) => output,
            _ => unreachable!("racecheck-tokio: a join! output taken twice or too early"),
        }
    }
}

impl<F: Future<Output = Result<T, E>>, T, E> MaybeDone<F> {
    /// Whether the future is done with an error.
    pub fn is_err(&self) -> bool {
        matches!(self, MaybeDone::Done(Err(_)))
    }

    /// Takes the error of a future done with one.
    pub fn take_err(&mut self) -> E {
        match self.take_output() {
            Err(error) => error,
            Ok(_) => unreachable!("racecheck-tokio: try_join! took the error of a success"),
        }
    }

    /// Takes the value of a future done with one.
    pub fn take_ok(&mut self) -> T {
        match self.take_output() {
            Ok(value) => value,
            Err(_) => unreachable!("racecheck-tokio: try_join! took the value of an error"),
        }
    }
}
