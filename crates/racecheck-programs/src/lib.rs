//! The classic concurrency bug programs racecheck is measured on, written
//! against the `racecheck` facade: the tests check what racecheck finds in
//! them and the benchmarks count how many schedules it takes. They live
//! apart from the benchmark crate so that the tests do not build the peers
//! (shuttle, loom) that the benchmarks compare against.
//!
//! - [`sctbench`]: SCTBench's "CS" programs, each with its known bug.
//! - [`dpor`]: the classic programs of the DPOR papers (one writer and N
//!   readers, lastzero, indexer, filesystem) and a bounded-buffer deadlock.
//! - [`traces`]: counting the Mazurkiewicz traces an exploration reached,
//!   by brute force or for any strategy.
//!
//! **Architecture invariant:** a client of the `racecheck` facade (and of
//! `racecheck-trace`'s vocabulary, for [`traces`]) only;
//! nothing in racecheck depends on it.
//!
//! ```
//! use racecheck_programs::sctbench::PROGRAMS;
//! assert!(PROGRAMS.iter().any(|program| program.name == "lazy01"));
//! ```

pub mod dpor;
pub mod sctbench;
pub mod traces;
