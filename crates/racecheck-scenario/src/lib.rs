//! Scenario files: a locking protocol written down in asyncio's vocabulary
//! (locks, re-entrant locks, semaphores, events, conditions, queues,
//! shared variables, tasks made of steps) and explored by racecheck on its
//! real primitives, with an expectation — "passes", or "finds this bug".
//!
//! This crate loads and validates a scenario (every error located at
//! `path:line:col`), compiles each task into an interpreter that runs its
//! steps as a racecheck task, runs the exploration and judges the result
//! against the expectation. The format is documented in
//! `docs/scenarios.md`; the `racecheck` CLI runs catalogs of scenarios.
//!
//! **Architecture invariant:** there is one engine. A scenario runs on
//! `racecheck`'s own scheduler, primitives and detector; this crate adds
//! no scheduling, no primitive and no analysis of its own.
//!
//! ```
//! use racecheck_scenario::{RunSettings, Scenario};
//!
//! let scenario = Scenario::parse(
//!     r#"
//! description = "Two scrapers add to a row count across an await: a lost update"
//! expect = "race"
//!
//! [shared]
//! rows = 0
//!
//! [[task]]
//! name = "scraper"
//! count = 2
//! steps = ["n = read rows", "sleep 10ms", "write rows = n + 10"]
//! "#,
//!     "lost_update.toml",
//! )?;
//! let outcome = scenario.run(&RunSettings { iterations: Some(100), ..RunSettings::default() });
//! assert!(outcome.verdict.is_met());
//! assert!(outcome.finding().unwrap().contains("data race on Shared 'rows'"));
//! # Ok::<(), racecheck_scenario::LoadError>(())
//! ```

mod ast;
mod error;
mod expr;
mod interpret;
mod parse;
mod run;

pub use ast::{Expectation, FindingKind};
pub use error::{LoadError, Pos};
pub use run::{headline, Outcome, RunSettings, Verdict};

use racecheck::{Schedule, Strategy};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A loaded, validated scenario, ready to run any number of times.
#[derive(Clone, Debug)]
pub struct Scenario {
    path: PathBuf,
    name: String,
    program: Arc<ast::Program>,
}

impl Scenario {
    /// Reads and validates the scenario file at `path`.
    ///
    /// # Errors
    /// [`LoadError::Io`] if it cannot be read, [`LoadError::Invalid`] with
    /// the line and column if it is not a valid scenario (or not UTF-8: at
    /// its first byte that is not).
    pub fn load(path: &Path) -> Result<Scenario, LoadError> {
        let bytes = std::fs::read(path).map_err(|error| LoadError::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        let source = error::decode_utf8(&bytes).map_err(|error| error.in_file(path))?;
        Scenario::parse(source, path)
    }

    /// Validates a scenario's source; `path` names it in errors and
    /// reports, and its file stem is the scenario's name.
    ///
    /// ```
    /// let error = racecheck_scenario::Scenario::parse(
    ///     "description = \"x\"\n[primitives]\ndb = \"Mutex\"\n",
    ///     "db.toml",
    /// )
    /// .unwrap_err();
    /// assert!(error.to_string().starts_with("db.toml:3:7: unknown primitive `Mutex`"));
    /// ```
    ///
    /// # Errors
    /// [`LoadError::Invalid`] with the line and column of the first
    /// problem.
    pub fn parse(source: &str, path: impl AsRef<Path>) -> Result<Scenario, LoadError> {
        let path = path.as_ref();
        let program = parse::parse(source, &path.display().to_string())
            .map_err(|error| error.in_file(path))?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |stem| stem.to_string_lossy().into_owned(),
        );
        Ok(Scenario {
            path: path.to_path_buf(),
            name,
            program: Arc::new(program),
        })
    }

    /// The file's stem: `web_scraper_locked`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its one-line `description`.
    pub fn description(&self) -> &str {
        &self.program.description
    }

    /// What it expects.
    pub fn expectation(&self) -> Expectation {
        self.program.expectation
    }

    /// The executions it asks for (`iterations` in the file), if any.
    pub fn iterations(&self) -> Option<u64> {
        self.program.iterations
    }

    /// Explores the scenario and judges the report against its
    /// expectation. A scenario that must find a bug stops at the first
    /// failure, like any exploration.
    pub fn run(&self, settings: &RunSettings) -> Outcome {
        let iterations = settings
            .iterations
            .or(self.program.iterations)
            .unwrap_or(racecheck::sched::Config::ITERATIONS_DEFAULT);
        let max_steps = settings.max_steps.or(self.program.max_steps);
        let builder = run::builder_for(self.program.expectation, settings, iterations, max_steps);
        let program = self.program.clone();
        let path = self.path.display().to_string();
        let test = move || interpret::execution(program.clone(), path.clone(), None);
        let started = Instant::now();
        let report = interpret::without_interpreter_locations(if settings.jobs > 1 {
            builder.run_parallel(test)
        } else {
            builder.run(test)
        });
        Outcome {
            verdict: run::judge(self.program.expectation, &report),
            report,
            elapsed: started.elapsed(),
            steps: Vec::new(),
        }
    }

    /// Runs exactly one execution following `schedule` (from a report of
    /// this scenario), recording the steps as they ran in
    /// [`Outcome::steps`].
    pub fn replay(&self, schedule: &Schedule) -> Outcome {
        let settings = RunSettings {
            strategy: Strategy::Replay(schedule.clone()),
            minimize: false,
            ..RunSettings::default()
        };
        let builder = run::builder_for(
            self.program.expectation,
            &settings,
            1,
            self.program.max_steps,
        );
        let log: interpret::StepLog = Default::default();
        let program = self.program.clone();
        let path = self.path.display().to_string();
        let recorder = log.clone();
        let started = Instant::now();
        let report = interpret::without_interpreter_locations(builder.run(move || {
            recorder.borrow_mut().clear();
            interpret::execution(program.clone(), path.clone(), Some(recorder.clone()))
        }));
        let steps = log.borrow().clone();
        Outcome {
            verdict: run::judge(self.program.expectation, &report),
            report,
            elapsed: started.elapsed(),
            steps,
        }
    }
}

/// The scenario files under `paths`: a file as given, a directory's
/// `*.toml` files (not recursive), sorted within each directory.
///
/// ```
/// let files = racecheck_scenario::discover(&["../../scenarios"]).unwrap();
/// assert!(files.iter().all(|file| file.extension().unwrap() == "toml"));
/// ```
///
/// # Errors
/// [`LoadError::Io`] for a path that does not exist or a directory that
/// cannot be read.
pub fn discover(paths: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let io = |error: std::io::Error| LoadError::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        };
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| {
                    file.is_file()
                        && file
                            .extension()
                            .is_some_and(|extension| extension == "toml")
                })
                .collect();
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.to_path_buf());
        } else {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file or directory",
            )));
        }
    }
    Ok(files)
}
