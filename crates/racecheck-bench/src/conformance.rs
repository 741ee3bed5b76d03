//! Conformance of `racecheck-tokio` to tokio's own integration tests.
//!
//! tokio's published crate ships its `tests/*.rs`, and cargo has already
//! downloaded them into its registry for this workspace. The runner copies
//! the chosen files, unmodified and at run time, into a scratch cargo
//! project under the target directory whose `tokio` dependency is
//! `racecheck-tokio` (by path, with `full` and `racecheck`), runs `cargo
//! test` there one file at a time, and counts what libtest reports. Nothing
//! of tokio's is copied into this repository.
//!
//! [`FILES`] is the list: each of tokio's `sync_*`, `task_*`, `time_*` and
//! `macros_*` test files, either run or skipped with the reason. I/O,
//! networking, files, processes, signals and the runtime's own internals
//! (`io_*`, `net_*`, `tcp_*`, `udp*`, `uds_*`, `fs*`, `process_*`,
//! `signal_*`, `rt_*`) are not simulated and not in the list.
//!
//! ```no_run
//! use racecheck_bench::conformance::{self, Project};
//!
//! let tests = conformance::tokio_tests_dir(std::path::Path::new("."))?;
//! let project = Project::create(std::path::Path::new("target/tokio-conformance"), &tests)?;
//! let result = project.run_file("sync_barrier", std::time::Duration::from_secs(600))?;
//! println!("{}", result.line());
//! # Ok::<(), String>(())
//! ```

use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Whether the runner compiles and runs a file of tokio's tests, or skips it
/// and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Copied, compiled and run.
    Run,
    /// Not run, for this reason.
    Skip(&'static str),
}

/// tokio's test files the runner knows, by name without `.rs`.
pub const FILES: &[(&str, Plan)] = &[
    ("macros_join", Plan::Run),
    ("macros_pin", Plan::Run),
    ("macros_rename_test", Plan::Run),
    ("macros_select", Plan::Run),
    ("macros_test", Plan::Run),
    ("macros_try_join", Plan::Run),
    ("sync_barrier", Plan::Run),
    ("sync_broadcast", Plan::Run),
    ("sync_broadcast_weak", Plan::Run),
    ("sync_errors", Plan::Run),
    ("sync_mpsc", Plan::Run),
    ("sync_mpsc_weak", Plan::Run),
    ("sync_mutex", Plan::Run),
    ("sync_mutex_owned", Plan::Run),
    ("sync_notify", Plan::Run),
    ("sync_notify_owned", Plan::Run),
    ("sync_once_cell", Plan::Run),
    ("sync_oneshot", Plan::Run),
    ("sync_panic", Plan::Run),
    ("sync_rwlock", Plan::Run),
    ("sync_semaphore", Plan::Run),
    ("sync_semaphore_owned", Plan::Run),
    ("sync_set_once", Plan::Run),
    ("sync_watch", Plan::Run),
    ("task_abort", Plan::Run),
    ("task_blocking", Plan::Run),
    ("task_id", Plan::Run),
    ("task_join_set", Plan::Run),
    ("task_local", Plan::Run),
    ("task_local_set", Plan::Run),
    ("task_panic", Plan::Run),
    ("task_yield_now", Plan::Run),
    ("time_interval", Plan::Run),
    ("time_panic", Plan::Run),
    ("time_rt", Plan::Run),
    ("time_sleep", Plan::Run),
    ("sync_emscripten_blocking", Plan::Skip("emscripten only")),
    ("task_builder", Plan::Skip("tokio_unstable only")),
    ("task_emscripten", Plan::Skip("emscripten only")),
    ("task_hooks", Plan::Skip("tokio_unstable only")),
    ("task_trace_self", Plan::Skip("tokio_unstable task dumps")),
    ("task_trace_wake", Plan::Skip("tokio_unstable task dumps")),
    ("time_alt", Plan::Skip("tokio_unstable alternative timer")),
    (
        "time_pause",
        Plan::Skip("imports tokio::net (a TCP test) and the rand crate: the file cannot compile"),
    ),
    (
        "time_timeout",
        Plan::Skip("imports tokio::io (a timeout over a reader): the file cannot compile"),
    ),
    ("time_wasm", Plan::Skip("wasm only")),
];

/// Where cargo unpacked the tokio that `workspace`'s `Cargo.lock` uses:
/// its `tests` directory.
pub fn tokio_tests_dir(workspace: &Path) -> Result<PathBuf, String> {
    let lock_path = workspace.join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path)
        .map_err(|error| format!("cannot read {}: {error}", lock_path.display()))?;
    let version = lock
        .split("[[package]]")
        .find_map(|package| {
            let mut lines = package.lines().map(str::trim);
            lines.find(|line| *line == "name = \"tokio\"")?;
            let version = lines.find(|line| line.starts_with("version = "))?;
            Some(version.trim_start_matches("version = ").trim_matches('"'))
        })
        .ok_or_else(|| format!("{} names no tokio package", lock_path.display()))?;
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let registry = cargo_home.join("registry").join("src");
    let mut sources: Vec<PathBuf> = fs::read_dir(&registry)
        .map_err(|error| format!("cannot read {}: {error}", registry.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    sources.sort();
    sources
        .into_iter()
        .map(|source| source.join(format!("tokio-{version}")).join("tests"))
        .find(|tests| tests.is_dir())
        .ok_or_else(|| {
            format!(
                "tokio {version}'s tests are not in {}: run `cargo fetch` in the workspace",
                registry.display()
            )
        })
}

/// Executions each `#[tokio::test]` explores here
/// (`RACECHECK_ITERATIONS`): tokio's tests check semantics rather than hunt
/// bugs, and some sleep on the wall clock in every execution
/// (`task_blocking`'s `basic_blocking` sleeps 0.5 s per execution).
pub const ITERATIONS: u64 = 100;

/// The scratch cargo project the files run in.
#[derive(Clone, Debug)]
pub struct Project {
    root: PathBuf,
}

/// tokio's feature names, all on in the scratch project, since tokio's test
/// files are gated on them (`#![cfg(feature = "full")]`).
const TOKIO_FEATURES: &[&str] = &[
    "full",
    "fs",
    "io-std",
    "io-util",
    "macros",
    "net",
    "parking_lot",
    "process",
    "rt",
    "rt-multi-thread",
    "signal",
    "sync",
    "test-util",
    "time",
];

impl Project {
    /// Writes the scratch project at `root` (emptying its `tests`) and
    /// copies every file of [`FILES`] that runs, with tokio's `support`
    /// modules, from `tokio_tests`.
    pub fn create(root: &Path, tokio_tests: &Path) -> Result<Project, String> {
        let layer = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../racecheck-tokio")
            .canonicalize()
            .map_err(|error| format!("cannot find crates/racecheck-tokio: {error}"))?;
        let tests = root.join("tests");
        if tests.exists() {
            fs::remove_dir_all(&tests).map_err(|error| describe(&tests, error))?;
        }
        fs::create_dir_all(tests.join("support")).map_err(|error| describe(&tests, error))?;
        fs::create_dir_all(root.join("src")).map_err(|error| describe(root, error))?;
        let mut manifest = String::from(
            "# Written by racecheck-bench's tokio_conformance; not part of racecheck.\n\
             [package]\nname = \"tokio-conformance\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [workspace]\n\n[lints.rust]\nunexpected_cfgs = \"allow\"\n\n[features]\n",
        );
        let defaults: Vec<String> = TOKIO_FEATURES
            .iter()
            .map(|name| format!("{name:?}"))
            .collect();
        let _ = writeln!(manifest, "default = [{}]", defaults.join(", "));
        for feature in TOKIO_FEATURES {
            let _ = writeln!(manifest, "{feature:?} = []");
        }
        let _ = write!(
            manifest,
            "\n[dependencies]\ntokio = {{ package = \"racecheck-tokio\", path = {:?}, features = [\"full\", \"racecheck\"] }}\n\n\
             [dev-dependencies]\nfutures = {{ version = \"0.3\", features = [\"async-await\"] }}\n\
             rand = \"0.10\"\ntokio-stream = \"0.1\"\ntokio-test = \"0.4\"\n",
            layer.display().to_string(),
        );
        write(&root.join("Cargo.toml"), &manifest)?;
        write(&root.join("src/lib.rs"), "")?;
        let workspace_lock = layer.join("../../Cargo.lock");
        if !root.join("Cargo.lock").exists() {
            fs::copy(&workspace_lock, root.join("Cargo.lock"))
                .map_err(|error| describe(&workspace_lock, error))?;
        }
        let support = tokio_tests.join("support");
        for entry in fs::read_dir(&support).map_err(|error| describe(&support, error))? {
            let path = entry.map_err(|error| describe(&support, error))?.path();
            if let Some(name) = path.file_name() {
                copy(&path, &tests.join("support").join(name))?;
            }
        }
        for (name, plan) in FILES {
            if *plan == Plan::Run {
                let file = format!("{name}.rs");
                copy(&tokio_tests.join(&file), &tests.join(&file))?;
            }
        }
        Ok(Project {
            root: root.to_owned(),
        })
    }

    /// Compiles and runs one file's tests (`cargo test --test name`), each
    /// `#[tokio::test]` exploring [`ITERATIONS`] executions, and kills the
    /// run after `timeout`.
    pub fn run_file(&self, name: &str, timeout: Duration) -> Result<FileResult, String> {
        let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command
            .args(["test", "--test", name, "--", "--color", "never"])
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", self.root.join("target"))
            .env("RACECHECK_ITERATIONS", ITERATIONS.to_string())
            .env_remove("RUSTFLAGS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, so that a timeout ends the test binary
        // cargo started too (it holds the output pipes open).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot start cargo: {error}"))?;
        let mut stdout = child.stdout.take().ok_or("no stdout")?;
        let mut stderr = child.stderr.take().ok_or("no stderr")?;
        let out = thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let start = Instant::now();
        let timed_out = loop {
            if child
                .try_wait()
                .map_err(|error| error.to_string())?
                .is_some()
            {
                break false;
            }
            if start.elapsed() > timeout {
                kill_group(&mut child);
                break true;
            }
            thread::sleep(Duration::from_millis(200));
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        Ok(FileResult::parse(name, &stdout, &stderr, timed_out))
    }
}

/// Kills `child` and, on Unix, every process of its group (the test
/// binary cargo runs).
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// What libtest said about one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileResult {
    /// The file, without `.rs`.
    pub name: String,
    /// Whether it compiled against racecheck-tokio.
    pub compiled: bool,
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed, by name.
    pub failed: Vec<String>,
    /// Tests marked `#[ignore]`.
    pub ignored: u64,
    /// Whether the run was killed after its timeout, or the test binary
    /// died before it reported every test.
    pub aborted: bool,
    /// The compiler's first error messages, when it did not compile.
    pub errors: Vec<String>,
}

/// At most this many compile errors are kept per file.
const ERRORS_MAX: usize = 200;

impl FileResult {
    /// Reads libtest's lines (`test name ... ok`) and the compiler's
    /// (`error[E0425]: …`).
    ///
    /// ```
    /// use racecheck_bench::conformance::FileResult;
    /// let stdout = "test a ... ok\ntest b ... FAILED\ntest c ... ignored\ntest result: FAILED. 1 passed; 1 failed; 1 ignored\n";
    /// let result = FileResult::parse("sync_x", stdout, "", false);
    /// assert_eq!((result.passed, result.failed.len(), result.ignored), (1, 1, 1));
    /// assert_eq!(result.line(), "file=sync_x compiled=true passed=1 failed=1 ignored=1");
    /// ```
    pub fn parse(name: &str, stdout: &str, stderr: &str, timed_out: bool) -> FileResult {
        let mut result = FileResult {
            name: name.to_owned(),
            compiled: !stderr.contains("could not compile"),
            aborted: timed_out,
            ..FileResult::default()
        };
        let mut summaries = 0;
        for line in stdout.lines() {
            if line.starts_with("test result:") {
                summaries += 1;
            }
            let Some(rest) = line.strip_prefix("test ") else {
                continue;
            };
            if rest.ends_with(" ... ok") {
                result.passed += 1;
            } else if let Some(test) = rest.strip_suffix(" ... FAILED") {
                result.failed.push(test.to_owned());
            } else if rest.ends_with(" ... ignored") || rest.contains(" ... ignored, ") {
                result.ignored += 1;
            }
        }
        if result.compiled && summaries == 0 {
            result.aborted = true;
        }
        result.errors = stderr
            .lines()
            .filter(|line| line.starts_with("error[") || line.starts_with("error: cannot"))
            .take(ERRORS_MAX)
            .map(str::to_owned)
            .collect();
        result
    }

    /// The machine-readable line:
    /// `file=sync_mutex compiled=true passed=N failed=M ignored=K`, with
    /// `aborted=true` when the run did not finish.
    pub fn line(&self) -> String {
        let mut line = format!(
            "file={} compiled={} passed={} failed={} ignored={}",
            self.name,
            self.compiled,
            self.passed,
            self.failed.len(),
            self.ignored
        );
        if self.aborted {
            line.push_str(" aborted=true");
        }
        line
    }
}

fn describe(path: &Path, error: std::io::Error) -> String {
    format!("{}: {error}", path.display())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|error| describe(path, error))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|error| describe(from, error))
}
