//! `tokio_util::sync` on racecheck: [`CancellationToken`] and its guards.
//!
//! A token is a node of a tree whose cancelled flag is a racecheck `watch`
//! channel, so the semantics and the happens-before edges are the
//! channel's:
//! - [`CancellationToken::cancel`] sends `true` on the token's channel, then
//!   on each live child's, depth first; it is synchronous and idempotent.
//! - [`CancellationToken::cancelled`]`.await` is a scheduling point; it
//!   returns at once if the token is cancelled, and otherwise blocks until
//!   it is.
//! - Happens-before: a `cancel()` → every `cancelled()` that returns because
//!   of it and every `is_cancelled()` that returns `true` because of it.
//!   Reading the flag before any cancel orders nothing.
//! - A child created from a cancelled token is born cancelled; cancelling a
//!   child leaves its parent alone.
//!
//! ```
//! use racecheck_tokio::runtime::Runtime;
//! use racecheck_tokio_util::sync::CancellationToken;
//!
//! Runtime::new().unwrap().block_on(async {
//!     let parent = CancellationToken::new();
//!     let child = parent.child_token();
//!     child.cancel();
//!     assert!(!parent.is_cancelled());
//!     parent.cancel();
//!     assert!(parent.child_token().is_cancelled());
//! });
//! ```

use racecheck_sync::watch;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};

/// A token that signals cancellation to every task that waits on it or on
/// one of its children, like `tokio_util::sync::CancellationToken`. Clones
/// share one token: cancelling any clone cancels them all.
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio_util::sync::CancellationToken;
///
/// Runtime::new().unwrap().block_on(async {
///     let token = CancellationToken::new();
///     let clone = token.clone();
///     clone.cancel();
///     assert!(token.is_cancelled());
///     token.cancelled().await;
/// });
/// ```
#[derive(Clone)]
pub struct CancellationToken {
    node: Arc<Node>,
}

/// One token of the tree.
struct Node {
    /// `true` once cancelled.
    cancelled: watch::Sender<bool>,
    /// The live children, cancelled with this one; dead ones are pruned
    /// whenever a child is added.
    children: Mutex<Vec<Weak<Node>>>,
}

impl Node {
    #[track_caller]
    fn new(cancelled: bool) -> Arc<Node> {
        Arc::new(Node {
            cancelled: watch::channel(cancelled).0,
            children: Mutex::new(Vec::new()),
        })
    }

    #[track_caller]
    fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }

    #[track_caller]
    fn cancel(&self) {
        if self.is_cancelled() {
            return;
        }
        self.cancelled.send_replace(true);
        let children =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(PoisonError::into_inner));
        for child in children.iter().filter_map(Weak::upgrade) {
            child.cancel();
        }
    }

    async fn cancelled(&self) {
        let mut updates = self.cancelled.subscribe();
        while !*updates.borrow_and_update() {
            // The sender lives in `self`, so `changed` never fails here.
            let _ = updates.changed().await;
        }
    }
}

impl CancellationToken {
    /// A new token, not cancelled, with no parent.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     assert!(!CancellationToken::new().is_cancelled());
    /// });
    /// ```
    #[track_caller]
    pub fn new() -> CancellationToken {
        CancellationToken {
            node: Node::new(false),
        }
    }

    /// A token cancelled with this one (and on its own), cancelled already
    /// if this one is.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let parent = CancellationToken::new();
    ///     let child = parent.child_token();
    ///     parent.cancel();
    ///     assert!(child.is_cancelled());
    /// });
    /// ```
    #[track_caller]
    pub fn child_token(&self) -> CancellationToken {
        let mut children = self
            .node
            .children
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let child = Node::new(self.node.is_cancelled());
        children.retain(|child| child.strong_count() > 0);
        children.push(Arc::downgrade(&child));
        CancellationToken { node: child }
    }

    /// Cancels this token and its children, waking every task waiting in
    /// [`cancelled`](Self::cancelled). Cancelling twice does nothing more.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     token.cancel();
    ///     token.cancel();
    ///     assert!(token.is_cancelled());
    /// });
    /// ```
    #[track_caller]
    pub fn cancel(&self) {
        self.node.cancel();
    }

    /// Whether the token is cancelled; `true` orders the `cancel()` before
    /// what follows.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     assert!(!token.is_cancelled());
    ///     token.cancel();
    ///     assert!(token.is_cancelled());
    /// });
    /// ```
    #[track_caller]
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// Waits until the token is cancelled; returns at once if it is.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     let waiter = {
    ///         let token = token.clone();
    ///         racecheck_tokio::spawn(async move { token.cancelled().await })
    ///     };
    ///     token.cancel();
    ///     waiter.await.unwrap();
    /// });
    /// ```
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        WaitForCancellationFuture {
            inner: Box::pin(self.node.cancelled()),
        }
    }

    /// [`cancelled`](Self::cancelled) owning the token, for a future that
    /// must be `'static`.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     let waiter = racecheck_tokio::spawn(token.clone().cancelled_owned());
    ///     token.cancel();
    ///     waiter.await.unwrap();
    /// });
    /// ```
    pub fn cancelled_owned(self) -> WaitForCancellationFutureOwned {
        WaitForCancellationFutureOwned {
            inner: Box::pin(async move { self.node.cancelled().await }),
        }
    }

    /// A guard that cancels the token when dropped.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     drop(token.clone().drop_guard());
    ///     assert!(token.is_cancelled());
    /// });
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }

    /// A guard that cancels the token when dropped, borrowing it.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     token.drop_guard_ref().disarm();
    ///     assert!(!token.is_cancelled());
    ///     drop(token.drop_guard_ref());
    ///     assert!(token.is_cancelled());
    /// });
    /// ```
    pub fn drop_guard_ref(&self) -> DropGuardRef<'_> {
        DropGuardRef { token: Some(self) }
    }

    /// Runs `future` to completion unless the token is cancelled first:
    /// `None` at once if it is cancelled already, and otherwise whichever
    /// finishes first, the future winning a tie (as in tokio-util).
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     assert_eq!(token.run_until_cancelled(async { 7 }).await, Some(7));
    ///     token.cancel();
    ///     assert_eq!(token.run_until_cancelled(async { 7 }).await, None);
    /// });
    /// ```
    pub async fn run_until_cancelled<F: Future>(&self, future: F) -> Option<F::Output> {
        if self.is_cancelled() {
            return None;
        }
        let mut future = std::pin::pin!(future);
        let mut cancelled = self.cancelled();
        std::future::poll_fn(|context| {
            if let Poll::Ready(output) = future.as_mut().poll(context) {
                return Poll::Ready(Some(output));
            }
            Pin::new(&mut cancelled).poll(context).map(|()| None)
        })
        .await
    }

    /// [`run_until_cancelled`](Self::run_until_cancelled) owning the token.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     assert_eq!(token.run_until_cancelled_owned(async { 1 }).await, Some(1));
    /// });
    /// ```
    pub async fn run_until_cancelled_owned<F: Future>(self, future: F) -> Option<F::Output> {
        self.run_until_cancelled(future).await
    }
}

impl Default for CancellationToken {
    #[track_caller]
    fn default() -> Self {
        CancellationToken::new()
    }
}

impl PartialEq for CancellationToken {
    /// Whether both are clones of one token.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
}

impl Eq for CancellationToken {}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("CancellationToken")
            .field("is_cancelled", &self.node.is_cancelled())
            .finish()
    }
}

/// The future of [`CancellationToken::cancelled`].
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
///
/// Runtime::new().unwrap().block_on(async {
///     let token = CancellationToken::new();
///     token.cancel();
///     let wait: WaitForCancellationFuture<'_> = token.cancelled();
///     wait.await;
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WaitForCancellationFuture<'a> {
    inner: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
}

impl Future for WaitForCancellationFuture<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(context)
    }
}

impl fmt::Debug for WaitForCancellationFuture<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("WaitForCancellationFuture")
    }
}

/// The future of [`CancellationToken::cancelled_owned`].
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
///
/// Runtime::new().unwrap().block_on(async {
///     let token = CancellationToken::new();
///     token.cancel();
///     let wait: WaitForCancellationFutureOwned = token.cancelled_owned();
///     wait.await;
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WaitForCancellationFutureOwned {
    inner: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Future for WaitForCancellationFutureOwned {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(context)
    }
}

impl fmt::Debug for WaitForCancellationFutureOwned {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("WaitForCancellationFutureOwned")
    }
}

/// Cancels its token when dropped, unless [disarmed](Self::disarm).
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio_util::sync::CancellationToken;
///
/// Runtime::new().unwrap().block_on(async {
///     let guard = CancellationToken::new().drop_guard();
///     let token = guard.token().clone();
///     drop(guard);
///     assert!(token.is_cancelled());
/// });
/// ```
#[derive(Debug)]
#[must_use = "the token is cancelled at once when the guard is dropped"]
pub struct DropGuard {
    /// `None` once disarmed.
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// The token the guard cancels.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let guard = CancellationToken::new().drop_guard();
    ///     assert!(!guard.token().is_cancelled());
    /// });
    /// ```
    pub fn token(&self) -> &CancellationToken {
        self.token
            .as_ref()
            .expect("a guard is armed until disarmed")
    }

    /// Gives the token back without cancelling it.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new().drop_guard().disarm();
    ///     assert!(!token.is_cancelled());
    /// });
    /// ```
    pub fn disarm(mut self) -> CancellationToken {
        self.token.take().expect("a guard is armed until disarmed")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            token.cancel();
        }
    }
}

/// Cancels the token it borrows when dropped, unless
/// [disarmed](Self::disarm).
///
/// ```
/// use racecheck_tokio::runtime::Runtime;
/// use racecheck_tokio_util::sync::CancellationToken;
///
/// Runtime::new().unwrap().block_on(async {
///     let token = CancellationToken::new();
///     {
///         let _guard = token.drop_guard_ref();
///     }
///     assert!(token.is_cancelled());
/// });
/// ```
#[derive(Debug)]
#[must_use = "the token is cancelled at once when the guard is dropped"]
pub struct DropGuardRef<'a> {
    /// `None` once disarmed.
    token: Option<&'a CancellationToken>,
}

impl<'a> DropGuardRef<'a> {
    /// The token the guard cancels.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     let guard = token.drop_guard_ref();
    ///     assert_eq!(guard.token(), &token);
    /// });
    /// ```
    pub fn token(&self) -> &CancellationToken {
        self.token.expect("a guard is armed until disarmed")
    }

    /// Gives the token back without cancelling it.
    ///
    /// ```
    /// use racecheck_tokio::runtime::Runtime;
    /// use racecheck_tokio_util::sync::CancellationToken;
    ///
    /// Runtime::new().unwrap().block_on(async {
    ///     let token = CancellationToken::new();
    ///     assert!(!token.drop_guard_ref().disarm().is_cancelled());
    /// });
    /// ```
    pub fn disarm(mut self) -> &'a CancellationToken {
        self.token.take().expect("a guard is armed until disarmed")
    }
}

impl Drop for DropGuardRef<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token {
            token.cancel();
        }
    }
}
