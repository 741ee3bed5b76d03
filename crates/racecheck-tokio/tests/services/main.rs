//! Four small tokio services, each with a concurrency bug and its fix,
//! written in plain tokio (`use racecheck_tokio as tokio;` stands for the
//! package rename a user's Cargo.toml does).
//!
//! - `pool`: a connection pool that checks its limit, then connects (an
//!   await), then counts the connection: more connections than the limit.
//! - `cache`: a read-through cache whose load races an invalidation: a
//!   stale value stays cached.
//! - `workers`: a worker pool whose `select!` loop misses a
//!   `notify_waiters` shutdown while busy: shutdown hangs.
//! - `flusher`: an `interval` flusher aborted in the middle of a write:
//!   buffered items are lost.
//!
//! Each bug's test passes on real tokio (the default schedule never shows
//! it) and, with `--features racecheck`, fails with the report and a
//! replay line naming the test: here it is marked `should_panic` with that
//! line, so CI checks that racecheck finds the bug. Run one with
//! `--nocapture` to read the report. The fixed versions' tests pass on
//! both.

mod cache;
mod flusher;
mod measure;
mod pool;
mod workers;
