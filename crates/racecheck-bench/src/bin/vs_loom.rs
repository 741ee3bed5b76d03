//! Exhaustive exploration: racecheck against loom on the T×K lock programs.
//!
//! For each program (2x1, 2x2, 2x3, 3x1, 3x2, 2x10 by default, or the one
//! given with `--program TxK`), racecheck explores every schedule of the
//! async version with its exhaustive strategy (depth-first search with
//! partial-order reduction) and loom explores every schedule of the same
//! program written with threads; racecheck then explores that thread
//! version too (simulated threads and the blocking mutex, at step
//! granularity). Each line gives the executions each needed and the time
//! each took:
//!
//! ```text
//! program=3x2 racecheck_executions=N loom_executions=M racecheck_s=A loom_s=B racecheck_thread_executions=N2 racecheck_thread_s=A2 lock_orders=L racecheck_peak_rss_mib=R
//! ```
//!
//! `lock_orders` is (T·K)! / (K!)^T, what an optimal reduction needs. The
//! peak memory is measured right after racecheck's run, before loom's.
//! loom on 2x10 takes minutes; `--program` runs one program.

use racecheck_bench::exhaustive::{
    lock_orders, loom_exhaustive, peak_rss_mib, racecheck_exhaustive, Flavor, PROGRAMS,
};
use racecheck_bench::Workload;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut arguments = std::env::args().skip(1);
    let programs = match (
        arguments.next().as_deref(),
        arguments.next(),
        arguments.next(),
    ) {
        (None, _, _) => PROGRAMS.to_vec(),
        (Some("--program"), Some(program), None) => match program.parse::<Workload>() {
            Ok(workload) => vec![workload],
            Err(error) => {
                eprintln!("error: {error}\n\nusage: vs_loom [--program TxK]");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: vs_loom [--program TxK]");
            return ExitCode::from(2);
        }
    };
    for workload in programs {
        let runs = racecheck_exhaustive(workload, Flavor::Tasks).and_then(|tasks| {
            racecheck_exhaustive(workload, Flavor::Threads).map(|threads| (tasks, threads))
        });
        let (racecheck, threads) = match runs {
            Ok(runs) => runs,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        let memory = peak_rss_mib()
            .map(|mib| format!(" racecheck_peak_rss_mib={mib}"))
            .unwrap_or_default();
        let loom = loom_exhaustive(workload);
        println!(
            "program={workload} racecheck_executions={} loom_executions={} racecheck_s={:.3} loom_s={:.3} racecheck_thread_executions={} racecheck_thread_s={:.3} lock_orders={}{memory}",
            racecheck.executions,
            loom.executions,
            racecheck.elapsed.as_secs_f64(),
            loom.elapsed.as_secs_f64(),
            threads.executions,
            threads.elapsed.as_secs_f64(),
            lock_orders(workload),
        );
    }
    ExitCode::SUCCESS
}
