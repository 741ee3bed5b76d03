//! The exploration builder and the environment variables that override it.

use racecheck_detect::Check;
use racecheck_explore::{Config, Failure, Report, Strategy};
use racecheck_runtime::{Granularity, Shutdown};
use racecheck_trace::{Location, Schedule};
use std::future::Future;
use std::io::IsTerminal;

/// Explores the test with the default settings (seed 0, 1000 random
/// executions, environment overrides applied) and panics with the report on
/// the first failure.
///
/// ```
/// racecheck::check(|| async {
///     let worker = racecheck::spawn(async { 1 + 1 });
///     assert_eq!(worker.await, 2);
/// });
/// ```
#[track_caller]
pub fn check<F, Fut>(test: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    Builder::new().check(test);
}

/// Runs exactly one execution following `schedule` (a string from a failure
/// report) and panics with the report if it fails, or with a clear error if
/// the schedule is malformed or does not fit the test.
///
/// ```
/// let report = racecheck::Builder::new().run(|| async {
///     racecheck::spawn(async { panic!("always") });
/// });
/// let schedule = report.failure.unwrap().schedule.to_string();
/// let replayed = std::panic::catch_unwind(|| {
///     racecheck::replay(&schedule, || async {
///         racecheck::spawn(async { panic!("always") });
///     })
/// });
/// assert!(replayed.is_err());
/// ```
#[track_caller]
pub fn replay<F, Fut>(schedule: &str, test: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let schedule: Schedule = schedule
        .parse()
        .unwrap_or_else(|error| panic!("racecheck: invalid replay schedule: {error}"));
    Builder::new()
        .strategy(Strategy::Replay(schedule))
        .check(test);
}

/// Settings for an exploration.
///
/// Environment variables override what the code sets, so a failure seen in
/// CI reproduces by pasting one line:
/// - `RACECHECK_SEED=<u64>`: the seed;
/// - `RACECHECK_ITERATIONS=<u64>`: the number of executions;
/// - `RACECHECK_REPLAY=<schedule>`: replay one schedule instead of
///   exploring;
/// - `RACECHECK_SHARD=<i>/<n>`: explore only shard `i` of `n`;
/// - `RACECHECK_CHECK_REPLAY_EVERY=<k>`: replay every `k`-th passing
///   execution to check that it follows from its schedule
///   ([`Builder::check_replay_every`]);
/// - `RACECHECK_TRACE_DIR=<dir>`: when `check` fails, also write the
///   failing execution as a Chrome trace (`<test>.trace.json`) there.
///
/// ```
/// let report = racecheck::Builder::new()
///     .seed(7)
///     .iterations(50)
///     .max_steps(10_000)
///     .run(|| async { racecheck::yield_now().await });
/// assert!(report.failure.is_none());
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    config: Config,
    minimize_failures: bool,
    /// Arguments between `cargo test` and the test's name in replay lines.
    cargo_test_args: String,
    /// Whether `RACECHECK_*` variables override the configuration.
    read_environment: bool,
}

/// Executions a failure's minimisation may take.
pub const MINIMIZE_BUDGET: u64 = 1000;

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            config: Config {
                jobs: 0,
                ..Config::default()
            },
            minimize_failures: true,
            cargo_test_args: String::new(),
            read_environment: true,
        }
    }
}

impl Builder {
    /// Seed 0, 1000 random executions, at most 100,000 steps each.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The seed of the strategy's random choices.
    pub fn seed(mut self, seed: u64) -> Builder {
        self.config.seed = seed;
        self
    }

    /// How many executions to explore at most.
    pub fn iterations(mut self, iterations: u64) -> Builder {
        self.config.iterations = iterations;
        self
    }

    /// The strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Builder {
        self.config.strategy = strategy;
        self
    }

    /// What to do with data races on tracked state (default: fail).
    ///
    /// ```
    /// use racecheck::Check;
    /// let report = racecheck::Builder::new().races(Check::Warn).iterations(1).run(|| async {
    ///     let rows = std::sync::Arc::new(racecheck::sync::Shared::new(0));
    ///     let writer = { let rows = rows.clone(); racecheck::spawn(async move { rows.set(1) }) };
    ///     rows.set(2);
    ///     writer.await;
    /// });
    /// assert!(report.failure.is_none());
    /// assert_eq!(report.warnings.len(), 1);
    /// ```
    pub fn races(mut self, check: Check) -> Builder {
        self.config.checks.races = check;
        self
    }

    /// What to do with deadlocks: cycles of tasks waiting for each other
    /// (default: fail).
    pub fn deadlocks(mut self, check: Check) -> Builder {
        self.config.checks.deadlocks = check;
        self
    }

    /// What to do with hangs: tasks blocked for good with nobody left to
    /// wake them (default: fail).
    pub fn hangs(mut self, check: Check) -> Builder {
        self.config.checks.hangs = check;
        self
    }

    /// What to do with locks and permits still held at the end (default:
    /// fail).
    pub fn leaks(mut self, check: Check) -> Builder {
        self.config.checks.leaks = check;
        self
    }

    /// What to do with lock-order cycles that could deadlock even when no
    /// execution did (default: warn).
    pub fn potential_deadlocks(mut self, check: Check) -> Builder {
        self.config.checks.potential_deadlocks = check;
        self
    }

    /// Sets every check at once, e.g. `checks(Check::Off)` to run without
    /// the detector.
    pub fn checks(mut self, check: Check) -> Builder {
        self.config.checks = racecheck_detect::Checks::all(check);
        self
    }

    /// Explores only shard `index` of `count` (iterations `i` with
    /// `i % count == index`, each exactly as unsharded), to split an
    /// exploration across CI jobs; `RACECHECK_SHARD=index/count` overrides
    /// it. Random and PCT only.
    ///
    /// ```
    /// let report = racecheck::Builder::new().iterations(10).shard(1, 3).run(|| async {});
    /// assert_eq!(report.executions, 3); // iterations 1, 4, 7
    /// ```
    pub fn shard(mut self, index: u64, count: u64) -> Builder {
        assert!(
            count > 0 && index < count,
            "racecheck: shard {index}/{count}: need 0 <= index < count"
        );
        self.config.shard = racecheck_explore::Shard { index, count };
        self
    }

    /// Threads for [`run_parallel`](Self::run_parallel) and
    /// [`check_parallel`](Self::check_parallel) (default: the machine's
    /// cores).
    pub fn jobs(mut self, jobs: usize) -> Builder {
        self.config.jobs = jobs.max(1);
        self
    }

    /// Like [`run`](Self::run), on several threads for the random and PCT
    /// strategies,
    /// with the same report as on one thread (see
    /// [`racecheck_explore::explore_parallel`]). The test closure must be
    /// `Sync`; its futures need not be `Send`.
    ///
    /// ```
    /// let report = racecheck::Builder::new().jobs(2).iterations(100).run_parallel(|| async {
    ///     racecheck::yield_now().await;
    /// });
    /// assert_eq!(report.executions, 100);
    /// ```
    pub fn run_parallel<F, Fut>(&self, test: F) -> Report
    where
        F: Fn() -> Fut + Sync,
        Fut: Future<Output = ()> + 'static,
    {
        let mut config = self.config_or_panic();
        if config.jobs == 0 {
            config.jobs = std::thread::available_parallelism().map_or(1, usize::from);
        }
        let report = racecheck_explore::explore_parallel(&config, &test);
        self.with_replay_lines(self.minimized(&config, report, test))
    }

    /// Like [`check`](Self::check), on several threads.
    #[track_caller]
    pub fn check_parallel<F, Fut>(&self, test: F)
    where
        F: Fn() -> Fut + Sync,
        Fut: Future<Output = ()> + 'static,
    {
        fail_on(self.run_parallel(test));
    }

    /// Counts the distinct interleaving classes the executions cover
    /// (`report.classes`, and in `report.summary()`): executions that only
    /// reorder independent steps are one class.
    ///
    /// ```
    /// let report = racecheck::Builder::new().coverage(true).iterations(200).run(|| async {
    ///     let rows = std::sync::Arc::new(racecheck::sync::Mutex::new(0));
    ///     let other = { let rows = rows.clone(); racecheck::spawn(async move { *rows.lock().await += 1 }) };
    ///     *rows.lock().await += 1;
    ///     other.await;
    /// });
    /// assert_eq!(report.classes, Some(2)); // who locks first
    /// ```
    pub fn coverage(mut self, coverage: bool) -> Builder {
        self.config.coverage = coverage;
        self
    }

    /// Searches for a schedule that fails like `failure` (found with this
    /// builder's settings on `test`) with fewer preemptions, trying at most
    /// `budget` executions; see [`racecheck_explore::minimize`].
    ///
    /// ```
    /// let test = || async {
    ///     let worker = racecheck::spawn(async { racecheck::yield_now().await });
    ///     racecheck::yield_now().await;
    ///     worker.await;
    ///     panic!("always");
    /// };
    /// let builder = racecheck::Builder::new();
    /// let failure = builder.run(test).failure.unwrap();
    /// let minimized = builder.minimize(&failure, 100, test);
    /// assert!(minimized.preemptions_after <= minimized.preemptions_before);
    /// ```
    pub fn minimize<F, Fut>(
        &self,
        failure: &Failure,
        budget: u64,
        test: F,
    ) -> racecheck_explore::Minimized
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        racecheck_explore::minimize(&self.config_or_panic(), failure, budget, test)
    }

    /// Where tasks may be interrupted: at awaits only (the default, exact
    /// for a current-thread runtime and asyncio), or at every visible
    /// operation ([`Granularity::Step`]: atomics, immediate `Shared`
    /// accesses and blocking operations too, as on a multi-threaded
    /// runtime). The detector's rules are the same at both.
    ///
    /// ```
    /// use racecheck::sync::atomic::{AtomicUsize, Ordering};
    /// use racecheck::{thread, Builder, Granularity};
    /// use std::sync::Arc;
    ///
    /// let lost_update = || thread::main(|| {
    ///     let hits = Arc::new(AtomicUsize::new(0));
    ///     let worker = {
    ///         let hits = hits.clone();
    ///         thread::spawn(move || hits.store(hits.load(Ordering::SeqCst) + 1, Ordering::SeqCst))
    ///     };
    ///     hits.store(hits.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
    ///     worker.join().unwrap();
    ///     assert_eq!(hits.load(Ordering::SeqCst), 2);
    /// });
    /// let at_steps = Builder::new().granularity(Granularity::Step).run(lost_update);
    /// assert!(at_steps.failure.is_some());
    /// let at_awaits = Builder::new().run(lost_update);
    /// assert!(at_awaits.failure.is_none(), "no await, no interleaving");
    /// ```
    pub fn granularity(mut self, granularity: Granularity) -> Builder {
        self.config.granularity = granularity;
        self
    }

    /// The stack size of threads (and of every task at
    /// [`Granularity::Step`]), in bytes; [`STACK_SIZE_DEFAULT`](crate::STACK_SIZE_DEFAULT) (256 KiB)
    /// unless set. Raise it for deeply recursive code: on Linux (x86_64,
    /// aarch64) a task that overflows its stack fails the execution with
    /// the panic "racecheck: stack overflow in a task (stack size N bytes;
    /// raise it with Builder::stack_size)" and the exploration stops there;
    /// on other platforms the overflow kills the test process (`SIGSEGV`).
    ///
    /// ```
    /// let builder = racecheck::Builder::new().stack_size(1 << 20);
    /// # let _ = builder;
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.config.stack_size = bytes;
        self
    }

    /// What happens to the tasks left when the test's future returns. By
    /// default ([`Shutdown::AfterLastTask`]) they run until they finish or
    /// block for good. With [`Shutdown::Explored`] the runtime may also
    /// shut down at any scheduling point after the root returned, dropping
    /// them as tokio's runtime does: every strategy explores where, and
    /// replay reproduces it. Costs executions wherever tasks outlive the
    /// root (the exhaustive search tries every interleaving after the root
    /// returns); changes nothing where the root joins every task.
    ///
    /// ```
    /// use racecheck::sync::Shared;
    /// use racecheck::{Builder, Shutdown};
    /// use std::sync::Arc;
    ///
    /// /// Flushes when dropped: its data must be flushed first.
    /// struct Buffer(Arc<Shared<bool>>);
    /// impl Drop for Buffer {
    ///     fn drop(&mut self) {
    ///         assert!(self.0.get(), "a buffer dropped before it was flushed");
    ///     }
    /// }
    ///
    /// let detached_flush = || async {
    ///     let flushed = Arc::new(Shared::new(false));
    ///     let buffer = Buffer(flushed.clone());
    ///     racecheck::spawn(async move {
    ///         let _buffer = buffer;
    ///         racecheck::yield_now().await;
    ///         flushed.set(true);
    ///     });
    /// };
    /// let run_to_end = Builder::new().run(detached_flush);
    /// assert!(run_to_end.failure.is_none());
    /// let shut_down = Builder::new().shutdown(Shutdown::Explored).run(detached_flush);
    /// assert!(shut_down.failure.is_some(), "dropped before the flush");
    /// ```
    pub fn shutdown(mut self, shutdown: Shutdown) -> Builder {
        self.config.shutdown = shutdown;
        self
    }

    /// Whether futures are polled spuriously (default: no). With `true`, a
    /// task whose future returned `Pending` may be polled once more before
    /// anything wakes it, in an async task and inside [`block_on`] alike
    /// (after that one, it waits for a real wake-up): one more choice for
    /// the strategy after every block, so code that must tolerate spurious
    /// wake-ups (as every future must) is tested on them, as loom does.
    /// It costs executions wherever tasks block: nothing on the async T×K
    /// lock programs, whose tasks only ever block to join (6, 90 and
    /// 184,756 executions either way), but where a lock is held across a
    /// scheduling point (the thread version at step granularity) the
    /// exhaustive search of 2x2 takes 13 executions instead of 6, and of
    /// 3x2 1,684 instead of 90 (docs/architecture.md).
    ///
    /// [`block_on`]: crate::block_on
    ///
    /// ```
    /// let report = racecheck::Builder::new()
    ///     .strategy(racecheck::Strategy::Exhaustive)
    ///     .spurious_wakeups(true)
    ///     .run(|| async {
    ///         let notify = std::sync::Arc::new(racecheck::sync::Notify::new());
    ///         let waiter = {
    ///             let notify = notify.clone();
    ///             racecheck::spawn(async move { notify.notified().await })
    ///         };
    ///         notify.notify_one();
    ///         waiter.await;
    ///     });
    /// assert!(report.failure.is_none(), "Notify tolerates spurious polls");
    /// ```
    pub fn spurious_wakeups(mut self, spurious: bool) -> Builder {
        self.config.spurious_wakeups = spurious;
        self
    }

    /// Whether a failure's schedule is replayed once before it is reported,
    /// to say so if the replay differs (uncontrolled nondeterminism: the
    /// wall clock, a `HashMap`'s order, a real RNG, state kept across
    /// executions). On by default; turn it off for a test body that can
    /// run only once (the tokio layer's `Runtime::block_on`, which runs one
    /// execution of a future it is given).
    ///
    /// ```
    /// let report = racecheck::Builder::new()
    ///     .check_replay(false)
    ///     .iterations(1)
    ///     .run(|| async { panic!("fails") });
    /// assert!(report.failure.unwrap().nondeterminism.is_none());
    /// ```
    pub fn check_replay(mut self, check: bool) -> Builder {
        self.config.check_replay = check;
        self
    }

    /// Also replays every `k`-th execution that passes, and fails with
    /// uncontrolled nondeterminism if it does something else: catches a
    /// program whose nondeterminism never fails an execution by itself (so
    /// [`check_replay`](Builder::check_replay) never sees it), at the cost
    /// of one execution in `k`. 0 (the default) turns it off;
    /// `RACECHECK_CHECK_REPLAY_EVERY` overrides it.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// static RUNS: AtomicU64 = AtomicU64::new(0);
    /// let report = racecheck::Builder::new()
    ///     .check_replay_every(10)
    ///     .iterations(100)
    ///     .run(|| async {
    ///         // State kept across executions decides whether to yield.
    ///         if RUNS.fetch_add(1, Ordering::Relaxed) % 2 == 0 {
    ///             racecheck::yield_now().await;
    ///         }
    ///     });
    /// let failure = report.failure.expect("the replay of execution 9 yields where 9 did not");
    /// assert!(failure.to_string().contains("uncontrolled nondeterminism"));
    /// assert_eq!(report.executions, 10);
    /// ```
    pub fn check_replay_every(mut self, k: u64) -> Builder {
        self.config.check_replay_every = k;
        self
    }

    /// Whether the `RACECHECK_*` environment variables (seed, iterations,
    /// replay, shard) override this configuration; on by default. Off for
    /// an exploration whose settings are not the user's to change, such as
    /// the tokio layer's `Runtime::block_on`, which runs its future exactly
    /// once whatever `RACECHECK_ITERATIONS` says.
    ///
    /// ```
    /// let report = racecheck::Builder::new()
    ///     .iterations(1)
    ///     .read_environment(false)
    ///     .run(|| async {});
    /// assert_eq!(report.executions, 1);
    /// ```
    pub fn read_environment(mut self, read: bool) -> Builder {
        self.read_environment = read;
        self
    }

    /// Whether the test may use primitives created outside its closure (a
    /// `static`, or one built before the exploration): they work, but their
    /// operations are not recorded, so the detector and the exhaustive
    /// search do not see them (accesses to tracked state that only they
    /// order can be reported as races), and their state carries over from
    /// one execution to the next. Off by default, where such a use panics
    /// naming where the primitive was created; the tokio layer turns it on,
    /// since tokio code keeps primitives in statics.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let outside = Arc::new(racecheck::sync::Mutex::new(0));
    /// let report = racecheck::Builder::new()
    ///     .allow_untracked_objects(true)
    ///     .iterations(3)
    ///     .run(move || {
    ///         let outside = outside.clone();
    ///         async move { *outside.lock().await += 1 }
    ///     });
    /// assert!(report.failure.is_none());
    /// ```
    pub fn allow_untracked_objects(mut self, allow: bool) -> Builder {
        self.config.allow_untracked_objects = allow;
        self
    }

    /// Arguments that the failing test needs after `cargo test` in the
    /// replay line of a report, such as the features that make it run under
    /// racecheck (the tokio layer passes `-p <package> --features
    /// racecheck`).
    ///
    /// ```
    /// let report = racecheck::Builder::new()
    ///     .cargo_test_args("--features racecheck")
    ///     .run(|| async { panic!("always") });
    /// let replay = &report.failure.unwrap().replay[0];
    /// assert!(replay.contains(" cargo test --features racecheck"), "{replay}");
    /// ```
    pub fn cargo_test_args(mut self, args: impl Into<String>) -> Builder {
        self.cargo_test_args = args.into();
        self
    }

    /// Steps after which an execution counts as a livelock.
    pub fn max_steps(mut self, steps_max: u32) -> Builder {
        self.config.steps_max = steps_max;
        self
    }

    /// Explores and returns the report.
    ///
    /// # Panics
    /// If a `RACECHECK_*` environment variable is set to something invalid.
    pub fn run<F, Fut>(&self, test: F) -> Report
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let config = self.config_or_panic();
        let report = racecheck_explore::explore(&config, &test);
        self.with_replay_lines(self.minimized(&config, report, test))
    }

    /// Replaces a failure found by random or PCT search with a schedule that
    /// fails the same way with fewer preemptions, if one is found within
    /// `MINIMIZE_BUDGET` executions.
    fn minimized<F, Fut>(&self, config: &Config, mut report: Report, test: F) -> Report
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let searched = matches!(config.strategy, Strategy::Random | Strategy::Pct { .. });
        if !self.minimize_failures || !searched {
            return report;
        }
        if let Some(failure) = &report.failure {
            if !failure.kind.is_schedule_error() {
                let minimized = racecheck_explore::minimize(config, failure, MINIMIZE_BUDGET, test);
                report.failure = Some(minimized.failure);
            }
        }
        report
    }

    /// Gathers the contention profile of the exploration
    /// (`report.contention()`): per lock, semaphore, queue and channel,
    /// acquisitions, contended ones, waits (p50, p99, max) and holds in
    /// virtual time and steps, the longest queue, and the sites to blame.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let report = racecheck::Builder::new().profile(true).iterations(20).run(|| async {
    ///     let db = Arc::new(racecheck::sync::Mutex::new(0));
    ///     let other = db.clone();
    ///     let task = racecheck::spawn(async move {
    ///         let mut rows = other.lock().await;
    ///         racecheck::time::sleep(Duration::from_millis(10)).await; // the fetch, under the lock
    ///         *rows += 1;
    ///     });
    ///     *db.lock().await += 1;
    ///     task.await;
    /// });
    /// let rows = report.contention().unwrap().rows();
    /// assert_eq!(rows[0].acquisitions, 40);
    /// assert!(rows[0].wait_max.ns <= 10_000_000);
    /// ```
    pub fn profile(mut self, profile: bool) -> Builder {
        self.config.profile = profile;
        self
    }

    /// A what-if: sleeps a task makes while holding a lock or permits it
    /// took at `site` end at once, as if that critical section took no
    /// virtual time. Run the same exploration with and without it, both
    /// profiled, and `Contention::what_if` compares the measured drop of
    /// virtual time with the profile's prediction.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let run = |builder: racecheck::Builder| builder.profile(true).iterations(5).run(|| async {
    ///     let db = racecheck::sync::Mutex::new(());
    ///     let _guard = db.lock().await;
    ///     racecheck::time::sleep(Duration::from_millis(10)).await;
    /// });
    /// let before = run(racecheck::Builder::new());
    /// let profile = before.contention().unwrap();
    /// let section = &profile.sections()[0]; // the lock taken above
    /// assert_eq!(section.predicted_drop_percent, 100.0);
    /// let after = run(racecheck::Builder::new().instant_section(section.location));
    /// let what_if = profile.what_if(section.location, after.contention().unwrap());
    /// assert_eq!(what_if.measured_drop_percent, 100.0);
    /// ```
    pub fn instant_section(mut self, site: Location) -> Builder {
        self.config.instant_section = Some(site);
        self
    }

    /// Whether failures of random and PCT searches are minimised before
    /// they are reported (default: yes, within `MINIMIZE_BUDGET`
    /// executions).
    ///
    /// ```
    /// let report = racecheck::Builder::new().minimize_failures(false).run(|| async {
    ///     panic!("at once");
    /// });
    /// assert!(report.failure.unwrap().minimized.is_none());
    /// ```
    pub fn minimize_failures(mut self, minimize: bool) -> Builder {
        self.minimize_failures = minimize;
        self
    }

    fn config_or_panic(&self) -> Config {
        match self.config_from_environment(|name| std::env::var(name).ok()) {
            Ok(config) => config,
            Err(message) => panic!("racecheck: {message}"),
        }
    }

    /// Explores and panics with the report on the first failure.
    #[track_caller]
    pub fn check<F, Fut>(&self, test: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        fail_on(self.run(test));
    }

    /// The configuration with environment overrides applied; `lookup` reads
    /// a variable.
    fn config_from_environment(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let mut config = self.config.clone();
        if !self.read_environment {
            return Ok(config);
        }
        if let Some(seed) = lookup("RACECHECK_SEED") {
            config.seed = parse_number("RACECHECK_SEED", &seed)?;
        }
        if let Some(iterations) = lookup("RACECHECK_ITERATIONS") {
            config.iterations = parse_number("RACECHECK_ITERATIONS", &iterations)?;
        }
        if let Some(every) = lookup("RACECHECK_CHECK_REPLAY_EVERY") {
            config.check_replay_every = parse_number("RACECHECK_CHECK_REPLAY_EVERY", &every)?;
        }
        if let Some(shard) = lookup("RACECHECK_SHARD") {
            config.shard = shard
                .parse()
                .map_err(|error| format!("RACECHECK_SHARD: {error}"))?;
        }
        if let Some(schedule) = lookup("RACECHECK_REPLAY") {
            let schedule = schedule
                .trim()
                .parse::<Schedule>()
                .map_err(|error| format!("RACECHECK_REPLAY is not a valid schedule: {error}"))?;
            config.strategy = Strategy::Replay(schedule);
        }
        Ok(config)
    }
}

impl Builder {
    /// The report with the lines that replay its failure from a Rust test:
    /// `RACECHECK_REPLAY=<schedule> cargo test <args> <this test>` and
    /// `racecheck::replay("<schedule>", ...)`.
    fn with_replay_lines(&self, mut report: Report) -> Report {
        if let Some(failure) = &mut report.failure {
            let test = current_test();
            failure.replay = replay_lines(failure, &self.cargo_test_args, test.as_deref());
        }
        report
    }
}

/// The commands that replay `failure` in the Rust test `test` (all tests
/// when the name is unknown), with `args` after `cargo test`.
fn replay_lines(failure: &Failure, args: &str, test: Option<&str>) -> Vec<String> {
    let schedule = &failure.schedule;
    let cargo_test = ["cargo test", args]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let cargo_test = match test {
        Some(test) => format!("RACECHECK_REPLAY={schedule} {cargo_test} {test} -- --exact"),
        None => format!("RACECHECK_REPLAY={schedule} {cargo_test}"),
    };
    vec![
        cargo_test,
        format!("racecheck::replay(\"{schedule}\", ...) in the test"),
    ]
}

/// The name of the test running on this thread: libtest names each test's
/// thread after the test's path. `None` outside a test harness's thread.
fn current_test() -> Option<String> {
    std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .map(str::to_string)
}

/// Prints the warnings, and panics with the failure's report if there is
/// one. With `RACECHECK_TRACE_DIR` set, the failure's Chrome trace is
/// written there first, named after the test, and the report says where.
#[track_caller]
fn fail_on(report: Report) {
    let colour = std::io::stderr().is_terminal();
    for warning in &report.warnings {
        eprintln!(
            "{}",
            paint(colour, YELLOW, &format!("racecheck warning: {warning}"))
        );
    }
    if let Some(failure) = report.failure {
        let mut text = failure.to_string();
        if let Some(directory) = std::env::var_os("RACECHECK_TRACE_DIR") {
            text += &write_chrome_trace(&failure, std::path::Path::new(&directory));
        }
        let (headline, rest) = text.split_once('\n').unwrap_or((&text, ""));
        panic!("{}\n{rest}", paint(colour, RED, headline));
    }
}

/// Writes `failure`'s Chrome trace into `directory` as
/// `<test name>.trace.json`, and returns the line that says so (or why not).
fn write_chrome_trace(failure: &Failure, directory: &std::path::Path) -> String {
    let name = current_test().unwrap_or_else(|| "racecheck".to_string());
    let file_name: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let path = directory.join(format!("{file_name}.trace.json"));
    let written = std::fs::create_dir_all(directory)
        .and_then(|()| std::fs::write(&path, failure.chrome_trace()));
    match written {
        Ok(()) => format!(
            "\nthe execution as a Chrome trace (open it in https://ui.perfetto.dev): {}",
            path.display()
        ),
        Err(error) => format!(
            "\nRACECHECK_TRACE_DIR: could not write {}: {error}",
            path.display()
        ),
    }
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[33m";

/// `text` in `colour` when writing to a terminal, plain otherwise (logs,
/// CI, captured test output).
fn paint(terminal: bool, colour: &str, text: &str) -> String {
    if terminal {
        format!("{colour}{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn parse_number(variable: &str, value: &str) -> Result<u64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{variable}={value:?} is not a non-negative integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        }
    }

    #[test]
    fn environment_overrides_the_code() {
        let builder = Builder::new().seed(1).iterations(10);
        let config = builder
            .config_from_environment(environment(&[
                ("RACECHECK_SEED", "99"),
                ("RACECHECK_ITERATIONS", " 5 "),
            ]))
            .unwrap();
        assert_eq!((config.seed, config.iterations), (99, 5));
        let untouched = builder.config_from_environment(environment(&[])).unwrap();
        assert_eq!((untouched.seed, untouched.iterations), (1, 10));
        let sealed = builder
            .clone()
            .read_environment(false)
            .config_from_environment(environment(&[("RACECHECK_ITERATIONS", "5")]))
            .unwrap();
        assert_eq!(sealed.iterations, 10, "the environment is not read");
    }

    #[test]
    fn replay_variable_selects_the_replay_strategy() {
        let schedule = Schedule::from_steps(vec![racecheck_trace::TaskId(0)]);
        let config = Builder::new()
            .config_from_environment(environment(&[("RACECHECK_REPLAY", &schedule.to_string())]))
            .unwrap();
        assert_eq!(config.strategy, Strategy::Replay(schedule));
    }

    #[test]
    fn replay_lines_name_the_test_and_the_cargo_arguments() {
        let report = Builder::new().run(|| async { panic!("always") });
        let failure = report.failure.unwrap();
        let schedule = failure.schedule.to_string();
        let cases = [
            ("", Some("pool::leaks"), format!("RACECHECK_REPLAY={schedule} cargo test pool::leaks -- --exact")),
            ("", None, format!("RACECHECK_REPLAY={schedule} cargo test")),
            (
                "-p app --features racecheck",
                Some("pool::leaks"),
                format!("RACECHECK_REPLAY={schedule} cargo test -p app --features racecheck pool::leaks -- --exact"),
            ),
        ];
        for (args, test, expected) in cases {
            assert_eq!(replay_lines(&failure, args, test)[0], expected);
        }
    }

    #[test]
    fn bad_environment_values_are_named_in_the_error() {
        let cases = [
            ("RACECHECK_SEED", "-1", "RACECHECK_SEED=\"-1\" is not"),
            (
                "RACECHECK_ITERATIONS",
                "lots",
                "RACECHECK_ITERATIONS=\"lots\"",
            ),
            (
                "RACECHECK_REPLAY",
                "rc1:!!",
                "RACECHECK_REPLAY is not a valid",
            ),
        ];
        for (variable, value, expected) in cases {
            let error = Builder::new()
                .config_from_environment(environment(&[(variable, value)]))
                .unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
