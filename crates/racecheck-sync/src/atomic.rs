//! Atomics with `std::sync::atomic`'s names and signatures, whose every
//! operation is recorded and, at step granularity, a scheduling point.
//!
//! **Memory model:** every ordering is accepted, and racecheck interleaves
//! the operations *sequentially consistently*: a load reads the latest
//! store. Weak-memory outcomes (a relaxed load reading an older value) are
//! not explored yet. The orderings decide happens-before, as in C++/Rust: a
//! `Release` (or `AcqRel`, `SeqCst`) store or read-modify-write publishes
//! what its task did before it, and an `Acquire` (or `AcqRel`, `SeqCst`)
//! load or read-modify-write that reads it learns it; `Relaxed` operations
//! order nothing, so `Shared` state handed over through a relaxed flag is
//! reported as a data race.
//!
//! ```
//! use racecheck_explore::Config;
//! use racecheck_runtime::{thread, Granularity};
//! use racecheck_sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//!
//! // A lost update between a load and a store: found at step granularity.
//! let config = Config { granularity: Granularity::Step, ..Config::default() };
//! let report = racecheck_explore::explore(&config, || thread::main(|| {
//!     let hits = Arc::new(AtomicUsize::new(0));
//!     let workers: Vec<_> = (0..2)
//!         .map(|_| {
//!             let hits = hits.clone();
//!             thread::spawn(move || {
//!                 let seen = hits.load(Ordering::SeqCst);
//!                 hits.store(seen + 1, Ordering::SeqCst);
//!             })
//!         })
//!         .collect();
//!     workers.into_iter().for_each(|worker| worker.join().unwrap());
//!     assert_eq!(hits.load(Ordering::SeqCst), 2, "lost update");
//! }));
//! assert!(report.failure.is_some());
//! ```

use racecheck_runtime::rt::{self, ObjectRef};
use racecheck_trace::{Location, MemoryOrder, ObjectKind, Op};
use std::borrow::Cow;
use std::fmt;
pub use std::sync::atomic::Ordering;

/// The ordering as the trace records it.
fn memory_order(ordering: Ordering) -> MemoryOrder {
    match ordering {
        Ordering::Relaxed => MemoryOrder::Relaxed,
        Ordering::Release => MemoryOrder::Release,
        Ordering::Acquire => MemoryOrder::Acquire,
        Ordering::AcqRel => MemoryOrder::AcqRel,
        _ => MemoryOrder::SeqCst,
    }
}

/// What every atomic shares: its object, and the visit of one operation.
struct Tracked {
    object: ObjectRef,
}

impl Tracked {
    fn new(name: Option<Cow<'static, str>>, location: Location) -> Tracked {
        Tracked {
            object: rt::register(ObjectKind::Atomic, name, location),
        }
    }

    /// A scheduling point, the operation, then its event.
    #[inline]
    fn visit<R>(&self, location: Location, operation: impl FnOnce() -> (R, Op)) -> R {
        rt::sync_point();
        let (result, op) = operation();
        self.object.record(op, location);
        result
    }

    fn load(&self, ordering: Ordering) -> Op {
        Op::Load {
            object: self.object.id(),
            ordering: memory_order(ordering),
        }
    }

    fn store(&self, ordering: Ordering) -> Op {
        Op::Store {
            object: self.object.id(),
            ordering: memory_order(ordering),
        }
    }

    fn read_modify_write(&self, ordering: Ordering) -> Op {
        Op::ReadModifyWrite {
            object: self.object.id(),
            ordering: memory_order(ordering),
        }
    }

    /// A compare-exchange: a read-modify-write when it succeeds, a load when
    /// it fails.
    fn exchange<T>(&self, result: &Result<T, T>, success: Ordering, failure: Ordering) -> Op {
        match result {
            Ok(_) => self.read_modify_write(success),
            Err(_) => self.load(failure),
        }
    }

    /// `fetch_update`: one read-modify-write when `update` returns a value,
    /// one load when it declines. (std retries a compare-exchange; every
    /// such run is equivalent to one that succeeds at the first try.)
    fn update<T: Copy>(
        &self,
        current: T,
        update: impl FnOnce(T) -> Option<T>,
        store: impl FnOnce(T),
        set_order: Ordering,
        fetch_order: Ordering,
    ) -> (Result<T, T>, Op) {
        match update(current) {
            Some(new) => {
                store(new);
                (Ok(current), self.read_modify_write(set_order))
            }
            None => (Err(current), self.load(fetch_order)),
        }
    }
}

macro_rules! atomic_common {
    ([$($generics:tt)*] $name:ty, $std:ty, $value:ty) => {
        impl<$($generics)*> $name {
            /// A new atomic holding `value`, registered with the current
            /// execution. Created outside one (in a `static`, which would
            /// outlive the execution) it is untracked: see the crate docs.
            #[track_caller]
            pub fn new(value: $value) -> Self {
                Self {
                    value: <$std>::new(value),
                    tracked: Tracked::new(None, Location::caller()),
                }
            }

            /// A new atomic with a name for reports (`Atomic 'hits'`).
            #[track_caller]
            pub fn named(name: impl Into<Cow<'static, str>>, value: $value) -> Self {
                Self {
                    value: <$std>::new(value),
                    tracked: Tracked::new(Some(name.into()), Location::caller()),
                }
            }

            /// Loads the value.
            #[track_caller]
            pub fn load(&self, order: Ordering) -> $value {
                self.tracked.visit(Location::caller(), || {
                    (self.value.load(order), self.tracked.load(order))
                })
            }

            /// Stores `value`.
            #[track_caller]
            pub fn store(&self, value: $value, order: Ordering) {
                self.tracked.visit(Location::caller(), || {
                    (self.value.store(value, order), self.tracked.store(order))
                })
            }

            /// Stores `value` and returns the previous value.
            #[track_caller]
            pub fn swap(&self, value: $value, order: Ordering) -> $value {
                self.tracked.visit(Location::caller(), || {
                    (
                        self.value.swap(value, order),
                        self.tracked.read_modify_write(order),
                    )
                })
            }

            /// Stores `new` if the value is `current`; returns the previous
            /// value, `Ok` when it was `current`.
            #[track_caller]
            pub fn compare_exchange(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$value, $value> {
                self.tracked.visit(Location::caller(), || {
                    let result = self.value.compare_exchange(current, new, success, failure);
                    let op = self.tracked.exchange(&result, success, failure);
                    (result, op)
                })
            }

            /// Like [`compare_exchange`](Self::compare_exchange); racecheck
            /// never fails it spuriously.
            #[track_caller]
            pub fn compare_exchange_weak(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$value, $value> {
                self.compare_exchange(current, new, success, failure)
            }

            /// Applies `update` to the value until it declines or the
            /// exchange succeeds (in racecheck, at the first try); returns
            /// the previous value, `Ok` when a new one was stored.
            #[track_caller]
            pub fn fetch_update(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                update: impl FnMut($value) -> Option<$value>,
            ) -> Result<$value, $value> {
                self.tracked.visit(Location::caller(), || {
                    let current = self.value.load(fetch_order);
                    self.tracked.update(
                        current,
                        update,
                        |new| self.value.store(new, Ordering::SeqCst),
                        set_order,
                        fetch_order,
                    )
                })
            }

            /// The value, through exclusive access (not recorded: nobody
            /// else can see it).
            pub fn get_mut(&mut self) -> &mut $value {
                self.value.get_mut()
            }

            /// The value, consuming the atomic.
            pub fn into_inner(self) -> $value {
                self.value.into_inner()
            }
        }

        impl<$($generics)*> fmt::Debug for $name {
            /// The value, read without recording an operation.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.value.load(Ordering::SeqCst), f)
            }
        }
    };
}

macro_rules! atomic_fetch {
    ($name:ident, $value:ty, $($method:ident: $doc:expr),*) => {
        impl $name {
            $(
                #[doc = $doc]
                #[track_caller]
                pub fn $method(&self, value: $value, order: Ordering) -> $value {
                    self.tracked.visit(Location::caller(), || {
                        (self.value.$method(value, order), self.tracked.read_modify_write(order))
                    })
                }
            )*
        }
    };
}

macro_rules! atomic_integer {
    ($($name:ident: $value:ty),* $(,)?) => {
        $(
            #[doc = concat!(
                "`std::sync::atomic::", stringify!($name), "`, recorded (see the ",
                "[module](self) for the memory model).\n\n```\n",
                "use racecheck_sync::atomic::{", stringify!($name), ", Ordering};\n\n",
                "racecheck_explore::explore(&Default::default(), || async {\n",
                "    let count = ", stringify!($name), "::new(1);\n",
                "    assert_eq!(count.fetch_add(2, Ordering::SeqCst), 1);\n",
                "    assert_eq!(count.load(Ordering::Acquire), 3);\n",
                "});\n```"
            )]
            pub struct $name {
                value: std::sync::atomic::$name,
                tracked: Tracked,
            }

            atomic_common!([] $name, std::sync::atomic::$name, $value);
            atomic_fetch!(
                $name, $value,
                fetch_add: "Adds `value` (wrapping); returns the previous value.",
                fetch_sub: "Subtracts `value` (wrapping); returns the previous value.",
                fetch_and: "Bitwise and; returns the previous value.",
                fetch_nand: "Bitwise nand; returns the previous value.",
                fetch_or: "Bitwise or; returns the previous value.",
                fetch_xor: "Bitwise xor; returns the previous value.",
                fetch_max: "Stores the maximum; returns the previous value.",
                fetch_min: "Stores the minimum; returns the previous value."
            );

            impl Default for $name {
                #[track_caller]
                fn default() -> $name {
                    $name::new(0)
                }
            }
        )*
    };
}

atomic_integer!(
    AtomicU8: u8,
    AtomicU16: u16,
    AtomicU32: u32,
    AtomicU64: u64,
    AtomicUsize: usize,
    AtomicI8: i8,
    AtomicI16: i16,
    AtomicI32: i32,
    AtomicI64: i64,
    AtomicIsize: isize,
);

/// `std::sync::atomic::AtomicBool`, recorded (see the [module](self) for
/// the memory model).
///
/// ```
/// use racecheck_sync::atomic::{AtomicBool, Ordering};
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let ready = AtomicBool::new(false);
///     ready.store(true, Ordering::Release);
///     assert!(ready.fetch_and(false, Ordering::AcqRel));
///     assert!(!ready.load(Ordering::Acquire));
/// });
/// ```
pub struct AtomicBool {
    value: std::sync::atomic::AtomicBool,
    tracked: Tracked,
}

atomic_common!([] AtomicBool, std::sync::atomic::AtomicBool, bool);
atomic_fetch!(
    AtomicBool, bool,
    fetch_and: "Logical and; returns the previous value.",
    fetch_nand: "Logical nand; returns the previous value.",
    fetch_or: "Logical or; returns the previous value.",
    fetch_xor: "Logical xor; returns the previous value."
);

impl Default for AtomicBool {
    #[track_caller]
    fn default() -> AtomicBool {
        AtomicBool::new(false)
    }
}

/// `std::sync::atomic::AtomicPtr`, recorded (see the [module](self) for the
/// memory model). Dereferencing the pointers is the caller's business, as
/// with std.
///
/// ```
/// use racecheck_sync::atomic::{AtomicPtr, Ordering};
///
/// racecheck_explore::explore(&Default::default(), || async {
///     let mut slot = 5;
///     let pointer = AtomicPtr::new(std::ptr::null_mut());
///     pointer.store(&mut slot, Ordering::Release);
///     assert!(!pointer.load(Ordering::Acquire).is_null());
/// });
/// ```
pub struct AtomicPtr<T> {
    value: std::sync::atomic::AtomicPtr<T>,
    tracked: Tracked,
}

atomic_common!([T] AtomicPtr<T>, std::sync::atomic::AtomicPtr<T>, *mut T);

impl<T> Default for AtomicPtr<T> {
    #[track_caller]
    fn default() -> AtomicPtr<T> {
        AtomicPtr::new(std::ptr::null_mut())
    }
}
