//! `tokio::sync` on racecheck: tokio's paths over racecheck's primitives.
//!
//! The types are racecheck's own (`racecheck_sync`), which have tokio's
//! names, signatures and semantics (fair FIFO locks and semaphores,
//! `Notify`'s stored permit, bounded `mpsc` back-pressure, `watch` and
//! `broadcast` versions); every operation is recorded and checked by the
//! detector. Primitives must be created inside an execution (inside the
//! test's body), so tokio's `const_new` constructors for statics are
//! absent.
//!
//! ```
//! use racecheck_tokio::runtime::Runtime;
//! use racecheck_tokio::sync::{mpsc, Mutex};
//! use std::sync::Arc;
//!
//! Runtime::new().unwrap().block_on(async {
//!     let hits = Arc::new(Mutex::new(0));
//!     let (done, mut finished) = mpsc::channel(2);
//!     for _ in 0..2 {
//!         let (hits, done) = (hits.clone(), done.clone());
//!         racecheck_tokio::spawn(async move {
//!             *hits.lock().await += 1;
//!             done.send(()).await.unwrap();
//!         });
//!     }
//!     finished.recv().await;
//!     finished.recv().await;
//!     assert_eq!(*hits.lock().await, 2);
//! });
//! ```

mod once_cell;
mod set_once;

pub use once_cell::{OnceCell, SetError};
pub use racecheck_sync::{
    AcquireError, Barrier, BarrierWaitResult, MappedMutexGuard, Mutex, MutexGuard, Notify,
    OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, OwnedSemaphorePermit, RwLock,
    RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard, Semaphore, SemaphorePermit,
    TryAcquireError, TryLockError,
};
pub use set_once::{SetOnce, SetOnceError};

/// Named future types of the primitives, as in `tokio::sync::futures`.
pub mod futures {
    pub use racecheck_sync::{Notified, OwnedNotified};
}

/// A multi-producer, single-consumer channel, bounded or unbounded, like
/// `tokio::sync::mpsc`.
pub mod mpsc {
    pub use racecheck_sync::mpsc::{
        channel, unbounded_channel, OwnedPermit, Permit, PermitIterator, Receiver, Sender,
        UnboundedReceiver, UnboundedSender, WeakSender, WeakUnboundedSender,
    };

    /// The channel's errors.
    pub mod error {
        pub use racecheck_sync::mpsc::{SendError, SendTimeoutError, TryRecvError, TrySendError};
    }
}

/// A channel for one value, like `tokio::sync::oneshot`.
pub mod oneshot {
    pub use racecheck_sync::oneshot::{channel, Receiver, Sender};

    /// The channel's errors.
    pub mod error {
        pub use racecheck_sync::oneshot::{RecvError, TryRecvError};
    }
}

/// A single-value channel whose receivers see the latest value, like
/// `tokio::sync::watch`.
pub mod watch {
    pub use racecheck_sync::watch::{channel, Receiver, Ref, Sender};

    /// The channel's errors.
    pub mod error {
        pub use racecheck_sync::watch::{RecvError, SendError};
    }
}

/// A multi-producer, multi-consumer channel where every receiver sees every
/// value, like `tokio::sync::broadcast`.
pub mod broadcast {
    pub use racecheck_sync::broadcast::{channel, Receiver, Sender, WeakSender};

    /// The channel's errors.
    pub mod error {
        pub use racecheck_sync::broadcast::{RecvError, SendError, TryRecvError};
    }
}
