//! A barrier with tokio's API.

use crate::wait_queue::{wake_all, WaitQueue};
use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, Need, ObjectKind, Op};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lets `n` tasks wait for each other, like `tokio::sync::Barrier`.
///
/// - `wait().await` is a scheduling point; the task then arrives. The
///   `n`-th arrival completes the generation: it returns at once as the
///   leader ([`BarrierWaitResult::is_leader`]), and every other task of the
///   generation is woken and returns as a follower. Exactly one task per
///   generation is the leader.
/// - The barrier is reusable: the next `n` arrivals form the next
///   generation.
/// - `Barrier::new(0)` behaves as `Barrier::new(1)`, as in tokio.
/// - Cancellation: an arrival counts from the first poll after the
///   scheduling point; dropping the `wait` future afterwards does not take
///   it back (the generation can complete without the task).
///
/// Happens-before: every arrival → every departure recorded after it. That
/// orders each generation's arrivals before its departures, which is what
/// the barrier promises; it also orders a slow follower's departure after
/// arrivals of the next generation that came first, an over-approximation
/// that can hide a race but never invents one.
///
/// ```
/// use racecheck_sync::Barrier;
/// use std::sync::Arc;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let start = Arc::new(Barrier::new(2));
///     let other = {
///         let start = start.clone();
///         racecheck_runtime::spawn(async move { start.wait().await.is_leader() })
///     };
///     let me = start.wait().await.is_leader();
///     assert!(me != other.await); // exactly one leader
/// });
/// ```
pub struct Barrier {
    state: StateLock<BarrierState>,
    object: ObjectRef,
}

struct BarrierState {
    /// Tasks needed per generation.
    needed: usize,
    /// Arrivals in the current generation.
    arrived: usize,
    /// Completed generations.
    generation: u64,
    waiters: WaitQueue<()>,
}

/// What [`Barrier::wait`] returns: whether this task was the generation's
/// leader.
///
/// ```
/// racecheck_explore::explore(&Default::default(), || async {
///     let alone = racecheck_sync::Barrier::new(1);
///     assert!(alone.wait().await.is_leader());
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// `true` for exactly one task of each generation: the one whose arrival
    /// completed it.
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let barrier = racecheck_sync::Barrier::new(1);
    ///     assert!(barrier.wait().await.is_leader());
    /// });
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` tasks (0 counts as 1).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let barrier = racecheck_sync::Barrier::new(0);
    ///     assert!(barrier.wait().await.is_leader()); // as Barrier::new(1)
    /// });
    /// ```
    #[track_caller]
    pub fn new(n: usize) -> Barrier {
        Barrier::create(None, n, Location::caller())
    }

    /// A barrier with a name for reports (`Barrier 'start'`).
    ///
    /// ```
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let start = racecheck_sync::Barrier::named("start", 1);
    ///     start.wait().await;
    /// });
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, n: usize) -> Barrier {
        Barrier::create(Some(name.into()), n, Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, n: usize, location: Location) -> Barrier {
        Barrier {
            state: StateLock::new(BarrierState {
                needed: n.max(1),
                arrived: 0,
                generation: 0,
                waiters: WaitQueue::default(),
            }),
            object: rt::register(ObjectKind::Barrier, name, location),
        }
    }

    /// Arrives and waits until `n` tasks have arrived in this generation.
    ///
    /// ```
    /// use racecheck_sync::Barrier;
    /// use std::sync::Arc;
    ///
    /// racecheck_explore::explore(&Default::default(), || async {
    ///     let round = Arc::new(Barrier::new(2));
    ///     let peer = {
    ///         let round = round.clone();
    ///         racecheck_runtime::spawn(async move {
    ///             for _ in 0..3 {
    ///                 round.wait().await; // reusable: one generation per round
    ///             }
    ///         })
    ///     };
    ///     for _ in 0..3 {
    ///         round.wait().await;
    ///     }
    ///     peer.await;
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&self) -> impl Future<Output = BarrierWaitResult> + '_ {
        BarrierWait {
            barrier: self,
            location: Location::caller(),
            point: SchedulePoint::new(),
            waiting: None,
        }
    }

    fn record(&self, op: Op, location: Location) {
        self.object.record(op, location);
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("object", &self.object.id())
            .finish_non_exhaustive()
    }
}

struct BarrierWait<'a> {
    barrier: &'a Barrier,
    location: Location,
    point: SchedulePoint,
    /// `(ticket, generation it arrived in)`.
    waiting: Option<(u64, u64)>,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let this = self.get_mut();
        if this.point.poll_point(cx).is_pending() {
            return Poll::Pending;
        }
        let barrier = this.barrier;
        let object = barrier.object.id();
        let mut state = lock_state(&barrier.state);
        match this.waiting {
            Some((_, generation)) if state.generation != generation => {
                drop(state);
                this.waiting = None;
                barrier.record(
                    Op::Depart {
                        object,
                        leader: false,
                    },
                    this.location,
                );
                return Poll::Ready(BarrierWaitResult(false));
            }
            Some((ticket, _)) => state.waiters.update_waker(ticket, cx.waker()),
            None => {
                state.arrived += 1;
                debug_assert!(state.arrived <= state.needed);
                if state.arrived == state.needed {
                    state.arrived = 0;
                    state.generation += 1;
                    let followers = state.waiters.drain();
                    drop(state);
                    barrier.record(Op::Arrive { object }, this.location);
                    barrier.record(
                        Op::Depart {
                            object,
                            leader: true,
                        },
                        this.location,
                    );
                    wake_all(followers);
                    return Poll::Ready(BarrierWaitResult(true));
                }
                let generation = state.generation;
                let ticket = state.waiters.push((), cx.waker().clone());
                this.waiting = Some((ticket, generation));
                drop(state);
                barrier.record(Op::Arrive { object }, this.location);
            }
        }
        barrier.object.block(Need::Unstated, this.location);
        Poll::Pending
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Some((ticket, _)) = self.waiting {
            lock_state(&self.barrier.state).waiters.remove(ticket);
        }
    }
}
