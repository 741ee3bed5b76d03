//! The classic concurrency bug programs racecheck is measured on, written
//! against the `racecheck` facade: the tests check what racecheck finds in
//! them and the benchmarks count how many schedules it takes. They live
//! apart from the benchmark crate so that the tests do not build the peers
//! (shuttle, loom) that the benchmarks compare against.
//!
//! - [`sctbench`]: SCTBench's "CS" programs, each with its known bug.
//!
//! **Architecture invariant:** a client of the `racecheck` facade only;
//! nothing in racecheck depends on it.
//!
//! ```
//! use racecheck_programs::sctbench::PROGRAMS;
//! assert!(PROGRAMS.iter().any(|program| program.name == "lazy01"));
//! ```

pub mod sctbench;
