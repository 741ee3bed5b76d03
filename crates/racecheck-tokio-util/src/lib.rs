//! A drop-in tokio-util for racecheck.
//!
//! Depend on it under tokio-util's name, next to `racecheck-tokio`, and add
//! a feature of your own:
//!
//! ```toml
//! [dependencies]
//! tokio = { package = "racecheck-tokio", version = "0.1", features = ["full"] }
//! tokio-util = { package = "racecheck-tokio-util", version = "0.1", features = ["rt"] }
//!
//! [features]
//! racecheck = ["tokio/racecheck", "tokio-util/racecheck"]
//! ```
//!
//! - Without the `racecheck` feature this crate *is* tokio-util (`pub use
//!   tokio_util::*`, its features passed through).
//! - With it, `sync::CancellationToken` and `task::TaskTracker` are built
//!   on racecheck's primitives, so the scheduler interleaves them and the
//!   detector sees their happens-before edges: a `cancel()` happens before
//!   every `cancelled()` it wakes and every `is_cancelled()` that sees it;
//!   a tracked task's exit happens before the `wait()` it lets return. The
//!   rest of tokio-util (codecs, I/O adapters, `JoinMap`, delay queues) is
//!   absent under the feature.
//!
//! **Architecture invariant:** a front door over `racecheck-tokio` and
//! racecheck's primitives; it adds no semantics the primitives do not
//! record.
//!
//! ```
//! use racecheck_tokio::runtime::Runtime;
//! use racecheck_tokio_util::sync::CancellationToken;
//!
//! Runtime::new().unwrap().block_on(async {
//!     let shutdown = CancellationToken::new();
//!     let worker = {
//!         let shutdown = shutdown.child_token();
//!         racecheck_tokio::spawn(async move { shutdown.cancelled().await })
//!     };
//!     shutdown.cancel();
//!     worker.await.unwrap();
//! });
//! ```

#[cfg(not(feature = "racecheck"))]
pub use tokio_util::*;

#[cfg(feature = "racecheck")]
pub mod sync;
#[cfg(feature = "racecheck")]
pub mod task;
