//! A drop-in tokio for racecheck.
//!
//! Depend on it under tokio's name and add a feature of your own:
//!
//! ```toml
//! [dependencies]
//! tokio = { package = "racecheck-tokio", version = "0.1", features = ["full"] }
//!
//! [features]
//! racecheck = ["tokio/racecheck"]
//! ```
//!
//! - Without the `racecheck` feature this crate *is* tokio: `pub use
//!   tokio::*`, with tokio's features passed through. Production builds
//!   contain no racecheck code.
//! - With it (`cargo test --features racecheck`), the same source compiles
//!   against tokio's module tree backed by racecheck: `task`, `sync`,
//!   `time`, `runtime` and the macros (`select!`, `join!`,
//!   `try_join!`, `pin!`, `#[tokio::test]`, `#[tokio::main]`). Every
//!   `#[tokio::test]` runs its body as a racecheck exploration with the
//!   detector on; a failure panics with the report and a
//!   `RACECHECK_REPLAY=rc1:… cargo test -p <package> --features racecheck
//!   <test> -- --exact` line that reproduces it.
//!
//! What tokio has and racecheck cannot simulate (I/O, networking, files,
//! processes, signals) is absent under the feature: code that uses it does
//! not compile, rather than running real tokio inside an exploration. See
//! `docs/tokio.md` for what is simulated, how faithfully, and the
//! differences.
//!
//! **Architecture invariant:** a second front door over racecheck's engine
//! and primitives, not a fork of them: behaviour a tokio type needs that the
//! primitives lack is added to `racecheck-sync` or `racecheck-runtime`.

#[cfg(not(feature = "racecheck"))]
pub use tokio::*;

#[cfg(feature = "racecheck")]
mod macros;
#[cfg(feature = "racecheck")]
pub mod runtime;
#[cfg(feature = "racecheck")]
pub mod sync;
#[cfg(feature = "racecheck")]
pub mod task;
#[cfg(feature = "racecheck")]
pub mod time;

#[cfg(feature = "racecheck")]
pub use racecheck_tokio_macros::{main, test};
#[cfg(feature = "racecheck")]
pub use task::spawn;

/// What the macros expand to. Not public API.
#[cfg(feature = "racecheck")]
#[doc(hidden)]
pub mod __private {
    pub use crate::macros::{select_start, MaybeDone};
    pub use crate::runtime::test::{run_test, TestOutput, TestSettings};
    pub use racecheck_tokio_macros::{join_impl, select_impl, try_join_impl};
}
