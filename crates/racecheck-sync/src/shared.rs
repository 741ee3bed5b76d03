//! Tracked shared state.

use crate::{lock_state, StateLock};
use racecheck_runtime::rt::{self, ObjectRef, SchedulePoint};
use racecheck_trace::{Location, ObjectKind, Op};
use std::borrow::Cow;
use std::fmt;
use std::future::{poll_fn, Future};

/// State other tasks see: every read and write is recorded with its source
/// location, so racecheck can say which accesses race.
///
/// Two kinds of access:
/// - **awaited** — [`load`](Self::load), [`store`](Self::store),
///   [`update`](Self::update): a scheduling point, then the access. Models
///   anything whose access is an `.await` in real code: a database row, a
///   cache entry, a remote resource.
/// - **immediate** — [`get`](Self::get), [`set`](Self::set),
///   [`with`](Self::with), [`with_mut`](Self::with_mut): recorded; a
///   scheduling point only at step granularity (`Granularity::Step`, where
///   every visible operation is one), not at await granularity (code between
///   awaits runs atomically). Models plain memory: a field behind an `Arc`
///   that tasks on a multi-threaded runtime touch in parallel. Do not use
///   other racecheck operations inside the closures of `with`/`with_mut`.
///
/// `update` is one atomic read-modify-write; a `load().await` followed by a
/// `store(..).await` is two steps, and another task can run in between.
///
/// ```
/// use racecheck_sync::Shared;
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let rows = Shared::named("rows", 0);
///     let seen = rows.load().await;
///     rows.store(seen + 1).await;
///     rows.update(|rows| *rows += 1).await;
///     assert_eq!(rows.get(), 2);
/// });
/// ```
pub struct Shared<T> {
    value: StateLock<T>,
    object: ObjectRef,
}

impl<T> Shared<T> {
    /// Tracked state holding `value`.
    #[track_caller]
    pub fn new(value: T) -> Shared<T> {
        Shared::create(None, value, Location::caller())
    }

    /// Tracked state with a name for reports (`Shared 'rows'`).
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> Shared<T> {
        Shared::create(Some(name.into()), value, Location::caller())
    }

    fn create(name: Option<Cow<'static, str>>, value: T, location: Location) -> Shared<T> {
        Shared {
            value: StateLock::new(value),
            object: rt::register(ObjectKind::Shared, name, location),
        }
    }

    /// A scheduling point, then a read.
    #[track_caller]
    pub fn load(&self) -> impl Future<Output = T> + '_
    where
        T: Clone,
    {
        let location = Location::caller();
        async move {
            schedule_point().await;
            self.read(location, |value| value.clone())
        }
    }

    /// A scheduling point, then a write.
    #[track_caller]
    pub fn store(&self, value: T) -> impl Future<Output = ()> + '_ {
        let location = Location::caller();
        async move {
            schedule_point().await;
            self.write(location, |slot| *slot = value);
        }
    }

    /// A scheduling point, then an atomic read-modify-write.
    #[track_caller]
    pub fn update<'a, R, F>(&'a self, modify: F) -> impl Future<Output = R> + 'a
    where
        F: FnOnce(&mut T) -> R + 'a,
    {
        let location = Location::caller();
        async move {
            schedule_point().await;
            self.object.record(
                Op::Read {
                    object: self.object.id(),
                },
                location,
            );
            self.write(location, modify)
        }
    }

    /// An immediate read of a copy.
    #[track_caller]
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        rt::sync_point();
        self.read(Location::caller(), |value| value.clone())
    }

    /// An immediate write.
    #[track_caller]
    pub fn set(&self, value: T) {
        rt::sync_point();
        self.write(Location::caller(), |slot| *slot = value);
    }

    /// An immediate read through a reference.
    #[track_caller]
    pub fn with<R>(&self, read: impl FnOnce(&T) -> R) -> R {
        rt::sync_point();
        self.read(Location::caller(), read)
    }

    /// An immediate write through a mutable reference.
    #[track_caller]
    pub fn with_mut<R>(&self, write: impl FnOnce(&mut T) -> R) -> R {
        rt::sync_point();
        self.write(Location::caller(), write)
    }

    /// The value, consuming the state (not recorded: nobody else can see it).
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    fn read<R>(&self, location: Location, read: impl FnOnce(&T) -> R) -> R {
        self.object.record(
            Op::Read {
                object: self.object.id(),
            },
            location,
        );
        read(&lock_state(&self.value))
    }

    fn write<R>(&self, location: Location, write: impl FnOnce(&mut T) -> R) -> R {
        self.object.record(
            Op::Write {
                object: self.object.id(),
            },
            location,
        );
        write(&mut lock_state(&self.value))
    }
}

fn schedule_point() -> impl Future<Output = ()> {
    let mut point = SchedulePoint::new();
    poll_fn(move |cx| point.poll_point(cx))
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("object", &self.object.id())
            .field("value", &*lock_state(&self.value))
            .finish()
    }
}
