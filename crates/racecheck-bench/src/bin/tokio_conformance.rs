//! Runs tokio's own integration tests against `racecheck-tokio`.
//!
//! Copies each file of `racecheck_bench::conformance::FILES` from the tokio
//! source cargo downloaded (the version in the workspace's `Cargo.lock`)
//! into a scratch project under the target directory, whose `tokio` is
//! `racecheck-tokio` with `full` and `racecheck`, runs `cargo test` there
//! file by file, and prints one line per file and a total:
//!
//! ```text
//! file=sync_mutex compiled=true passed=N failed=M ignored=K
//! skipped=time_rt reason="the real clock ..."
//! total files=F compiled=C passed=N failed=M ignored=K
//! ```
//!
//! `--verbose` also prints each failing test (`failed_test=file::name`) and
//! the compiler's errors of files that do not compile. `--file NAME` (more
//! than once) runs only those files. `--timeout-s N` bounds each file's run
//! (default 600 s).
//!
//! Run it with `cargo run --release -p racecheck-bench --bin tokio_conformance`.

use racecheck_bench::conformance::{self, Plan, Project, FILES};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: tokio_conformance [--file NAME]... [--timeout-s N] [--verbose]";

fn main() -> ExitCode {
    let mut only = Vec::new();
    let mut timeout = Duration::from_secs(600);
    let mut verbose = false;
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        if argument == "--verbose" {
            verbose = true;
            continue;
        }
        match (argument.as_str(), arguments.next()) {
            ("--file", Some(name)) => only.push(name),
            ("--timeout-s", Some(seconds)) => match seconds.parse() {
                Ok(seconds) => timeout = Duration::from_secs(seconds),
                Err(_) => return usage(),
            },
            _ => return usage(),
        }
    }
    if let Some(unknown) = only
        .iter()
        .find(|name| FILES.iter().all(|(file, _)| file != *name))
    {
        eprintln!("tokio_conformance: no file {unknown} in the list");
        return ExitCode::from(2);
    }
    match run(&only, timeout, verbose) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tokio_conformance: {message}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

fn run(only: &[String], timeout: Duration, verbose: bool) -> Result<(), String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tests = conformance::tokio_tests_dir(&workspace)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let project = Project::create(&target.join("tokio-conformance"), &tests)?;
    println!("# tokio tests from {}", tests.display());
    let (mut files, mut compiled, mut passed, mut failed, mut ignored) = (0, 0, 0, 0, 0);
    for (name, plan) in FILES {
        if !only.is_empty() && !only.iter().any(|file| file == name) {
            continue;
        }
        match plan {
            Plan::Skip(reason) => println!("skipped={name} reason={reason:?}"),
            Plan::Run => {
                let result = project.run_file(name, timeout)?;
                println!("{}", result.line());
                if verbose {
                    for test in &result.failed {
                        println!("failed_test={name}::{test}");
                    }
                    for error in &result.errors {
                        println!("compile_error={name}: {error}");
                    }
                }
                files += 1;
                compiled += u64::from(result.compiled);
                passed += result.passed;
                failed += result.failed.len() as u64;
                ignored += result.ignored;
            }
        }
    }
    println!(
        "total files={files} compiled={compiled} passed={passed} failed={failed} ignored={ignored}"
    );
    Ok(())
}
