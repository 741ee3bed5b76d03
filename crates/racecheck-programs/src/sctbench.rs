//! SCTBench's "CS" programs ported to racecheck, with a fixed twin for each
//! program that has an obvious fix.
//!
//! SCTBench (Thomson, Donaldson, Betts, PPoPP 2014 and ACM TOPC 2016) is the
//! standard suite of systematic concurrency testers: small C/pthread
//! programs with known bugs, and a published count of how many schedules
//! each technique needed to find each bug. The ports follow one set of
//! rules, so that racecheck faces the same search problem as the paper's
//! tools:
//! - a pthread is a spawned task, `main` is the root task, and a
//!   `pthread_join` is an awaited [`JoinHandle`](racecheck::JoinHandle);
//! - a pthread mutex is a racecheck [`Mutex<()>`], kept apart from the data
//!   it guards (as in C, where nothing ties them together);
//! - a global is a [`Shared`]. SCTBench makes every shared-memory access a
//!   scheduling point, so a global read or written *without its lock* is
//!   accessed with the awaited `load().await` / `store(..).await`, one
//!   access per access of the C code; a global accessed under the lock that
//!   guards it is accessed immediately (`get`/`set`), since the lock's own
//!   scheduling points already order it;
//! - a condition variable is a `Condition` over a [`Notify`], waited on
//!   in the same loop as in C;
//! - an `assert` is an `assert!` in the task; a deadlock is left for the
//!   detector to report.
//!
//! The unprotected globals race by design: search with [`builder`], which
//! turns the race check off, so that the bug sought is the assertion or the
//! deadlock, as in SCTBench.
//!
//! ```
//! use racecheck_programs::sctbench::{schedules_to_bug, PROGRAMS};
//!
//! let lazy01 = PROGRAMS.iter().find(|program| program.name == "lazy01").unwrap();
//! let found = schedules_to_bug(lazy01, racecheck::Strategy::Random, 0, 1_000);
//! assert!(found.is_some());
//! ```

use racecheck::sync::atomic::{AtomicI32, Ordering};
use racecheck::sync::blocking;
use racecheck::sync::{Mutex, MutexGuard, Notify, Shared};
use racecheck::{thread, Builder, Check, FailureKind, Finding, Granularity, Strategy};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A program's root task, boxed so that every program has the same type.
pub type ProgramFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Makes a program's root task, once per execution.
pub type ProgramFn = fn() -> ProgramFuture;

/// The kind of bug a program has, and so the failure that counts as finding
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// An `assert` of the original fails: a task panics.
    Assertion,
    /// Tasks block for good: the detector reports a deadlock (a cycle of
    /// waits) or a hang (a wait nobody is left to end).
    Deadlock,
}

impl Bug {
    /// Whether `kind` is this bug.
    pub fn matches(self, kind: &FailureKind) -> bool {
        match self {
            Bug::Assertion => matches!(kind, FailureKind::Panic { .. }),
            Bug::Deadlock => matches!(
                kind,
                FailureKind::Finding(Finding::Deadlock(_) | Finding::Hang(_))
            ),
        }
    }
}

/// One ported program.
#[derive(Clone, Copy, Debug)]
pub struct Program {
    /// SCTBench's name, without the `_bad` suffix.
    pub name: &'static str,
    /// The bug it has.
    pub expect: Bug,
    /// The program as in SCTBench, bug included.
    pub run: ProgramFn,
    /// The program with its bug fixed, if it has an obvious fix: no
    /// execution fails.
    pub fixed: Option<ProgramFn>,
    /// Whether every execution fails, whatever the schedule: a sanity check
    /// of the tester, not a search benchmark.
    pub always_fails: bool,
    /// Where its tasks switch: at awaits for the async ports, at every
    /// visible operation for the thread ports whose bugs sit between plain
    /// memory accesses.
    pub granularity: Granularity,
}

/// The ported programs, in the order of `docs/benchmarks.md`.
pub const PROGRAMS: &[Program] = &[
    Program {
        name: "account",
        expect: Bug::Assertion,
        run: || Box::pin(account(Fix::None)),
        fixed: Some(|| Box::pin(account(Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "arithmetic_prog",
        expect: Bug::Assertion,
        run: || Box::pin(arithmetic_prog(Fix::None)),
        fixed: Some(|| Box::pin(arithmetic_prog(Fix::Applied))),
        always_fails: true,
        granularity: Granularity::Await,
    },
    Program {
        name: "phase01",
        expect: Bug::Deadlock,
        run: || Box::pin(phase01(Fix::None)),
        fixed: Some(|| Box::pin(phase01(Fix::Applied))),
        always_fails: true,
        granularity: Granularity::Await,
    },
    Program {
        name: "sync01",
        expect: Bug::Deadlock,
        run: || Box::pin(sync01(Fix::None)),
        fixed: Some(|| Box::pin(sync01(Fix::Applied))),
        always_fails: true,
        granularity: Granularity::Await,
    },
    Program {
        name: "stack",
        expect: Bug::Assertion,
        run: || Box::pin(stack(Fix::None)),
        fixed: Some(|| Box::pin(stack(Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "wronglock",
        expect: Bug::Assertion,
        run: || Box::pin(wronglock(7, Fix::None)),
        fixed: Some(|| Box::pin(wronglock(7, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "wronglock_3",
        expect: Bug::Assertion,
        run: || Box::pin(wronglock(3, Fix::None)),
        fixed: Some(|| Box::pin(wronglock(3, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "reorder_3",
        expect: Bug::Assertion,
        run: || Box::pin(reorder(2, 1, Fix::None)),
        fixed: Some(|| Box::pin(reorder(2, 1, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "reorder_4",
        expect: Bug::Assertion,
        run: || Box::pin(reorder(3, 1, Fix::None)),
        fixed: Some(|| Box::pin(reorder(3, 1, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "reorder_5",
        expect: Bug::Assertion,
        run: || Box::pin(reorder(4, 1, Fix::None)),
        fixed: Some(|| Box::pin(reorder(4, 1, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "reorder_10",
        expect: Bug::Assertion,
        run: || Box::pin(reorder(9, 1, Fix::None)),
        fixed: Some(|| Box::pin(reorder(9, 1, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "reorder_20",
        expect: Bug::Assertion,
        run: || Box::pin(reorder(10, 10, Fix::None)),
        fixed: Some(|| Box::pin(reorder(10, 10, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "fsbench",
        expect: Bug::Assertion,
        run: || Box::pin(fsbench(Fix::None)),
        fixed: Some(|| Box::pin(fsbench(Fix::Applied))),
        always_fails: true,
        granularity: Granularity::Await,
    },
    Program {
        name: "deadlock01",
        expect: Bug::Deadlock,
        run: || Box::pin(deadlock01(Fix::None)),
        fixed: Some(|| Box::pin(deadlock01(Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "twostage",
        expect: Bug::Assertion,
        run: || Box::pin(twostage(1, Fix::None)),
        fixed: Some(|| Box::pin(twostage(1, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "twostage_100",
        expect: Bug::Assertion,
        run: || Box::pin(twostage(99, Fix::None)),
        fixed: Some(|| Box::pin(twostage(99, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "lazy01",
        expect: Bug::Assertion,
        run: || Box::pin(lazy01(Fix::None)),
        fixed: Some(|| Box::pin(lazy01(Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "din_phil2_sat",
        expect: Bug::Assertion,
        run: || Box::pin(din_phil(2, Fix::None)),
        fixed: Some(|| Box::pin(din_phil(2, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "din_phil3_sat",
        expect: Bug::Assertion,
        run: || Box::pin(din_phil(3, Fix::None)),
        fixed: Some(|| Box::pin(din_phil(3, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "din_phil4_sat",
        expect: Bug::Assertion,
        run: || Box::pin(din_phil(4, Fix::None)),
        fixed: Some(|| Box::pin(din_phil(4, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "din_phil5_sat",
        expect: Bug::Assertion,
        run: || Box::pin(din_phil(5, Fix::None)),
        fixed: Some(|| Box::pin(din_phil(5, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "din_phil2_deadlock",
        expect: Bug::Deadlock,
        run: || Box::pin(din_phil_deadlock(2, Fix::None)),
        fixed: Some(|| Box::pin(din_phil_deadlock(2, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "din_phil3_deadlock",
        expect: Bug::Deadlock,
        run: || Box::pin(din_phil_deadlock(3, Fix::None)),
        fixed: Some(|| Box::pin(din_phil_deadlock(3, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "din_phil4_deadlock",
        expect: Bug::Deadlock,
        run: || Box::pin(din_phil_deadlock(4, Fix::None)),
        fixed: Some(|| Box::pin(din_phil_deadlock(4, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "din_phil5_deadlock",
        expect: Bug::Deadlock,
        run: || Box::pin(din_phil_deadlock(5, Fix::None)),
        fixed: Some(|| Box::pin(din_phil_deadlock(5, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Await,
    },
    Program {
        name: "reorder_3_step",
        expect: Bug::Assertion,
        run: || Box::pin(reorder_step(2, 1, Fix::None)),
        fixed: Some(|| Box::pin(reorder_step(2, 1, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Step,
    },
    Program {
        name: "reorder_4_step",
        expect: Bug::Assertion,
        run: || Box::pin(reorder_step(3, 1, Fix::None)),
        fixed: Some(|| Box::pin(reorder_step(3, 1, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Step,
    },
    Program {
        name: "reorder_5_step",
        expect: Bug::Assertion,
        run: || Box::pin(reorder_step(4, 1, Fix::None)),
        fixed: Some(|| Box::pin(reorder_step(4, 1, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Step,
    },
    Program {
        name: "reorder_10_step",
        expect: Bug::Assertion,
        run: || Box::pin(reorder_step(9, 1, Fix::None)),
        fixed: Some(|| Box::pin(reorder_step(9, 1, Fix::Applied))),
        always_fails: false,
        granularity: Granularity::Step,
    },
    Program {
        name: "safestack",
        expect: Bug::Assertion,
        run: || Box::pin(safestack()),
        fixed: None,
        always_fails: false,
        granularity: Granularity::Step,
    },
];

/// The program named `name`, if it is ported.
///
/// ```
/// let account = racecheck_programs::sctbench::program("account").unwrap();
/// assert_eq!(account.expect, racecheck_programs::sctbench::Bug::Assertion);
/// ```
pub fn program(name: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|program| program.name == name)
}

/// The settings every search and every run of a fixed twin uses: the
/// program's granularity, `strategy` from `seed` for at most `iterations`
/// executions, every check of the
/// detector at its default except the race check, which is off. The ports'
/// unprotected globals race by design (SCTBench's bugs are the assertions
/// and the deadlocks, not the races), so a race must not end the search
/// before the bug is reached.
pub fn builder(program: &Program, strategy: Strategy, seed: u64, iterations: u64) -> Builder {
    Builder::new()
        .granularity(program.granularity)
        .strategy(strategy)
        .seed(seed)
        .iterations(iterations)
        .races(Check::Off)
}

/// The 1-based index of the first execution in which `program`'s bug shows,
/// exploring with `strategy` from `seed` (see [`builder`]), or `None` if
/// none of the first `budget` executions fails.
///
/// # Panics
///
/// If an execution fails otherwise than with the program's bug (a panic in
/// a program whose bug is a deadlock, a leak, a step limit): the port is
/// wrong, and no count would mean anything.
pub fn schedules_to_bug(
    program: &Program,
    strategy: Strategy,
    seed: u64,
    budget: u64,
) -> Option<u64> {
    let report = builder(program, strategy, seed, budget).run(program.run);
    let executions = report.executions;
    let failure = report.failure?;
    assert!(
        program.expect.matches(&failure.kind),
        "sctbench: {} should fail with {:?} but failed with:\n{failure}",
        program.name,
        program.expect,
    );
    // Executions, not iterations: the exhaustive search does not count the
    // redundant executions, covered by others.
    Some(executions)
}

/// Whether a program runs as in SCTBench or with its bug fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fix {
    None,
    Applied,
}

/// A pthread condition variable for the ports: `wait` releases the mutex and
/// starts waiting as one step, as `pthread_cond_wait` does, so a signal sent
/// in between is not lost; `signal` wakes the waiters of the moment and is
/// lost if there are none.
///
/// `signal` wakes every waiter, which POSIX allows of `pthread_cond_signal`
/// ("at least one"); every port waits in a loop that re-checks its
/// predicate, as the C code does, so an extra wake-up changes nothing.
struct Condition {
    waiters: Notify,
}

impl Condition {
    fn named(name: &'static str) -> Condition {
        Condition {
            waiters: Notify::named(name),
        }
    }

    /// Releases `guard` of `mutex`, waits for a signal, and locks `mutex`
    /// again.
    async fn wait<'a>(
        &self,
        mutex: &'a Mutex<()>,
        guard: MutexGuard<'a, ()>,
    ) -> MutexGuard<'a, ()> {
        // Registered before the unlock: a signal right after it is seen.
        let signalled = self.waiters.notified();
        drop(guard);
        signalled.await;
        mutex.lock().await
    }

    fn signal(&self) {
        self.waiters.notify_waiters();
    }
}

/// Awaits every task of `tasks`, in order, as a loop of `pthread_join`s.
async fn join_all(tasks: Vec<racecheck::JoinHandle<()>>) {
    for task in tasks {
        task.await;
    }
}

/// account: `check_result` (spawned first), `deposit` and `withdraw`, all
/// under one mutex. The check of the original has the wrong formula,
/// (x − y) − z instead of (x + y) − z, and fails when it runs after both
/// others. `main` does not join, as in C.
async fn account(fix: Fix) {
    struct Account {
        m: Mutex<()>,
        balance: Shared<i32>,
        deposit_done: Shared<bool>,
        withdraw_done: Shared<bool>,
    }
    const X: i32 = 1;
    const Y: i32 = 2;
    const Z: i32 = 4;
    let account = Arc::new(Account {
        m: Mutex::named("m", ()),
        balance: Shared::named("balance", X),
        deposit_done: Shared::named("deposit_done", false),
        withdraw_done: Shared::named("withdraw_done", false),
    });
    let shared = account.clone();
    racecheck::spawn_named("check_result", async move {
        let _m = shared.m.lock().await;
        if shared.deposit_done.get() && shared.withdraw_done.get() {
            let expected = match fix {
                Fix::None => (X - Y) - Z,
                Fix::Applied => (X + Y) - Z,
            };
            assert_eq!(shared.balance.get(), expected, "balance after both");
        }
    });
    let shared = account.clone();
    racecheck::spawn_named("deposit", async move {
        let _m = shared.m.lock().await;
        shared.balance.set(shared.balance.get() + Y);
        shared.deposit_done.set(true);
    });
    racecheck::spawn_named("withdraw", async move {
        let _m = account.m.lock().await;
        account.balance.set(account.balance.get() - Z);
        account.withdraw_done.set(true);
    });
}

/// arithmetic_prog: a producer and a consumer of N = 3 items over a mutex
/// and two condition variables; the consumer sums 0 + 1 + 2, then adds N,
/// and `main` asserts the total is *not* N(N+1)/2, which it always is.
async fn arithmetic_prog(fix: Fix) {
    struct Arithmetic {
        m: Mutex<()>,
        empty: Condition,
        full: Condition,
        num: Shared<u64>,
        total: Shared<u64>,
        flag: Shared<bool>,
    }
    const N: u64 = 3;
    let state = Arc::new(Arithmetic {
        m: Mutex::named("m", ()),
        empty: Condition::named("empty"),
        full: Condition::named("full"),
        num: Shared::named("num", 0),
        total: Shared::named("total", 0),
        flag: Shared::named("flag", false),
    });
    let shared = state.clone();
    let producer = racecheck::spawn_named("producer", async move {
        for _ in 0..N {
            let mut m = shared.m.lock().await;
            while shared.num.get() > 0 {
                m = shared.empty.wait(&shared.m, m).await;
            }
            shared.num.set(shared.num.get() + 1);
            drop(m);
            shared.full.signal();
        }
    });
    let shared = state.clone();
    let consumer = racecheck::spawn_named("consumer", async move {
        for j in 0..N {
            let mut m = shared.m.lock().await;
            while shared.num.get() == 0 {
                m = shared.full.wait(&shared.m, m).await;
            }
            shared.total.set(shared.total.get() + j);
            shared.num.set(shared.num.get() - 1);
            drop(m);
            shared.empty.signal();
        }
        // Outside the lock, as in C.
        let total = shared.total.load().await;
        shared.total.store(total + N).await;
        shared.flag.store(true).await;
    });
    producer.await;
    consumer.await;
    if state.flag.load().await {
        let total = state.total.load().await;
        match fix {
            Fix::None => assert_ne!(total, N * (N + 1) / 2, "the total of the consumer"),
            Fix::Applied => assert_eq!(total, N * (N + 1) / 2, "the total of the consumer"),
        }
    }
}

/// phase01: two identical tasks lock x, unlock it, lock it again and never
/// unlock it, then lock and unlock y twice: the second to come blocks on x
/// for good.
async fn phase01(fix: Fix) {
    let locks = Arc::new((Mutex::named("x", ()), Mutex::named("y", ())));
    let tasks = (1..=2)
        .map(|number| {
            let locks = locks.clone();
            racecheck::spawn_named(format!("thread{number}"), async move {
                let (x, y) = &*locks;
                drop(x.lock().await);
                let x_held = x.lock().await;
                drop(y.lock().await);
                drop(y.lock().await);
                match fix {
                    // The task ends holding x, as the C thread exits without
                    // unlocking it.
                    Fix::None => std::mem::forget(x_held),
                    Fix::Applied => drop(x_held),
                }
            })
        })
        .collect();
    join_all(tasks).await;
}

/// sync01: num = 1; thread1 waits on `empty` while num > 0, thread2 waits
/// on `full` while num == 0 and signals `empty` without taking anything:
/// thread1 waits for good on every schedule. The fix (the repository's
/// `sync01_ok`) starts at 0 and has thread2 decrement.
async fn sync01(fix: Fix) {
    struct Sync01 {
        m: Mutex<()>,
        empty: Condition,
        full: Condition,
        num: Shared<i32>,
    }
    let state = Arc::new(Sync01 {
        m: Mutex::named("m", ()),
        empty: Condition::named("empty"),
        full: Condition::named("full"),
        num: Shared::named("num", if fix == Fix::None { 1 } else { 0 }),
    });
    let shared = state.clone();
    let thread1 = racecheck::spawn_named("thread1", async move {
        let mut m = shared.m.lock().await;
        while shared.num.get() > 0 {
            m = shared.empty.wait(&shared.m, m).await;
        }
        shared.num.set(shared.num.get() + 1);
        drop(m);
        shared.full.signal();
    });
    let thread2 = racecheck::spawn_named("thread2", async move {
        let mut m = state.m.lock().await;
        while state.num.get() == 0 {
            m = state.full.wait(&state.m, m).await;
        }
        if fix == Fix::Applied {
            state.num.set(state.num.get() - 1);
        }
        drop(m);
        state.empty.signal();
    });
    thread1.await;
    thread2.await;
}

/// stack: an array stack of 10 under one mutex; t1 pushes 10 times and sets
/// `flag`, t2 pops 10 times whenever `flag` is set and asserts the pop
/// succeeds. `flag` is never reset, so t2 can pop more than t1 pushed. The
/// fix (the repository's `stack_ok`) pops only when the stack is not empty.
async fn stack(fix: Fix) {
    const SIZE: usize = 10;
    struct Stack {
        m: Mutex<()>,
        top: Shared<usize>,
        array: Shared<[u32; SIZE]>,
        flag: Shared<bool>,
    }
    impl Stack {
        /// Pushes `value` unless the stack is full; the caller holds `m`.
        fn push(&self, value: u32) -> bool {
            let top = self.top.get();
            if top == SIZE {
                return false;
            }
            self.array.with_mut(|array| array[top] = value);
            self.top.set(top + 1);
            true
        }

        /// Pops the top unless the stack is empty; the caller holds `m`.
        fn pop(&self) -> Option<u32> {
            let top = self.top.get().checked_sub(1)?;
            self.top.set(top);
            Some(self.array.with(|array| array[top]))
        }
    }
    let stack = Arc::new(Stack {
        m: Mutex::named("m", ()),
        top: Shared::named("top", 0),
        array: Shared::named("arr", [0; SIZE]),
        flag: Shared::named("flag", false),
    });
    let shared = stack.clone();
    let pusher = racecheck::spawn_named("t1", async move {
        for value in 0..SIZE as u32 {
            let _m = shared.m.lock().await;
            assert!(shared.push(value), "stack overflow");
            shared.flag.set(true);
        }
    });
    let popper = racecheck::spawn_named("t2", async move {
        for _ in 0..SIZE {
            let _m = stack.m.lock().await;
            match fix {
                Fix::None => {
                    if stack.flag.get() {
                        assert!(stack.pop().is_some(), "stack underflow");
                    }
                }
                Fix::Applied => {
                    if stack.top.get() > 0 {
                        stack.pop();
                    }
                }
            }
        }
    });
    pusher.await;
    popper.await;
}

/// wronglock: one task A increments `dataValue` under `dataLock` and checks
/// the increment; `b_tasks` tasks B increment it under `thisLock`, another
/// mutex, so their increments land between A's read and its check. Every
/// access is awaited: a lock that is not the one of the other writers
/// protects nothing. The fix has B take `dataLock`.
async fn wronglock(b_tasks: usize, fix: Fix) {
    struct WrongLock {
        data_lock: Mutex<()>,
        this_lock: Mutex<()>,
        data_value: Shared<i32>,
    }
    let state = Arc::new(WrongLock {
        data_lock: Mutex::named("dataLock", ()),
        this_lock: Mutex::named("thisLock", ()),
        data_value: Shared::named("dataValue", 0),
    });
    let shared = state.clone();
    let mut tasks = vec![racecheck::spawn_named("funcA", async move {
        let _lock = shared.data_lock.lock().await;
        let before = shared.data_value.load().await;
        let value = shared.data_value.load().await;
        shared.data_value.store(value + 1).await;
        assert_eq!(
            shared.data_value.load().await,
            before + 1,
            "dataValue after funcA's increment"
        );
    })];
    tasks.extend((0..b_tasks).map(|number| {
        let shared = state.clone();
        racecheck::spawn_named(format!("funcB-{number}"), async move {
            let lock = match fix {
                Fix::None => &shared.this_lock,
                Fix::Applied => &shared.data_lock,
            };
            let _lock = lock.lock().await;
            let value = shared.data_value.load().await;
            shared.data_value.store(value + 1).await;
        })
    }));
    join_all(tasks).await;
}

/// reorder_N: `setters` tasks write a = 1 then b = −1 with no lock;
/// `checkers` tasks assert (a == 0 && b == 0) || (a == 1 && b == −1),
/// reading a and b as often and in the order C's short-circuit evaluation
/// does, and fail when they run between a setter's two writes. The fix takes
/// one lock around both writes and around the check.
async fn reorder(setters: usize, checkers: usize, fix: Fix) {
    struct Reorder {
        lock: Mutex<()>,
        a: Shared<i32>,
        b: Shared<i32>,
    }
    let state = Arc::new(Reorder {
        lock: Mutex::named("lock", ()),
        a: Shared::named("a", 0),
        b: Shared::named("b", 0),
    });
    let setter_tasks = (0..setters).map(|number| {
        let shared = state.clone();
        racecheck::spawn_named(format!("setThread-{number}"), async move {
            match fix {
                Fix::None => {
                    shared.a.store(1).await;
                    shared.b.store(-1).await;
                }
                Fix::Applied => {
                    let _lock = shared.lock.lock().await;
                    shared.a.set(1);
                    shared.b.set(-1);
                }
            }
        })
    });
    let mut tasks: Vec<_> = setter_tasks.collect();
    tasks.extend((0..checkers).map(|number| {
        let shared = state.clone();
        racecheck::spawn_named(format!("checkThread-{number}"), async move {
            let consistent = match fix {
                Fix::None => {
                    let (a, b) = (&shared.a, &shared.b);
                    (a.load().await == 0 && b.load().await == 0)
                        || (a.load().await == 1 && b.load().await == -1)
                }
                Fix::Applied => {
                    let _lock = shared.lock.lock().await;
                    let (a, b) = (shared.a.get(), shared.b.get());
                    (a == 0 && b == 0) || (a == 1 && b == -1)
                }
            };
            assert!(consistent, "the checker saw a setter's writes half done");
        })
    }));
    join_all(tasks).await;
}

/// reorder_N at step granularity, as in SCTBench: threads, plain globals
/// accessed immediately (every access a scheduling point at
/// [`Granularity::Step`]), and a blocking mutex for the fix.
fn reorder_step(setters: usize, checkers: usize, fix: Fix) -> thread::MainThread {
    struct Reorder {
        lock: blocking::Mutex<()>,
        a: Shared<i32>,
        b: Shared<i32>,
    }
    thread::main(move || {
        let state = Arc::new(Reorder {
            lock: blocking::Mutex::named("lock", ()),
            a: Shared::named("a", 0),
            b: Shared::named("b", 0),
        });
        let mut threads: Vec<_> = (0..setters)
            .map(|number| {
                let shared = state.clone();
                spawn_thread(format!("setThread-{number}"), move || {
                    let _lock = (fix == Fix::Applied).then(|| shared.lock.lock().unwrap());
                    shared.a.set(1);
                    shared.b.set(-1);
                })
            })
            .collect();
        threads.extend((0..checkers).map(|number| {
            let shared = state.clone();
            spawn_thread(format!("checkThread-{number}"), move || {
                let _lock = (fix == Fix::Applied).then(|| shared.lock.lock().unwrap());
                let (a, b) = (&shared.a, &shared.b);
                let consistent = (a.get() == 0 && b.get() == 0) || (a.get() == 1 && b.get() == -1);
                assert!(consistent, "the checker saw a setter's writes half done");
            })
        }));
        for handle in threads {
            handle.join().unwrap();
        }
    })
}

fn spawn_thread(name: String, body: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name(name)
        .spawn(body)
        .expect("racecheck threads always spawn")
}

/// misc/safestack (Vyukov's lock-free stack, from Relacy via SCTBench): an
/// array of three nodes linked through atomic `next` indices, a `head` and
/// a `count`; three threads each pop a node twice, write their id into it,
/// assert they read it back, and push it again. An ABA on `head` lets two
/// threads pop the same node; the assertion fails when one overwrites the
/// other's id. It needs several preemptions in the right places: SCTBench's
/// hardest program.
fn safestack() -> thread::MainThread {
    const NODES: usize = 3;
    struct Stack {
        values: Vec<Shared<i32>>,
        next: Vec<AtomicI32>,
        head: AtomicI32,
        count: AtomicI32,
    }
    impl Stack {
        fn pop(&self) -> Option<usize> {
            while self.count.load(Ordering::Acquire) > 1 {
                let head = self.head.load(Ordering::Acquire);
                let next = self.next[head as usize].swap(-1, Ordering::AcqRel);
                if next >= 0 {
                    if self
                        .head
                        .compare_exchange(head, next, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        self.count.fetch_sub(1, Ordering::AcqRel);
                        return Some(head as usize);
                    }
                    self.next[head as usize].swap(next, Ordering::AcqRel);
                }
                // A spin loop yields, as under loom: otherwise a strategy
                // that favours one thread (PCT) spins it forever.
                thread::yield_now();
            }
            None
        }

        fn push(&self, index: usize) {
            let mut head = self.head.load(Ordering::Acquire);
            loop {
                self.next[index].store(head, Ordering::Release);
                match self.head.compare_exchange(
                    head,
                    index as i32,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    Err(current) => head = current,
                }
            }
            self.count.fetch_add(1, Ordering::AcqRel);
        }
    }
    thread::main(|| {
        let stack = Arc::new(Stack {
            values: (0..NODES).map(|_| Shared::named("value", 0)).collect(),
            next: (0..NODES)
                .map(|index| {
                    AtomicI32::new(if index + 1 < NODES {
                        index as i32 + 1
                    } else {
                        -1
                    })
                })
                .collect(),
            head: AtomicI32::named("head", 0),
            count: AtomicI32::named("count", NODES as i32),
        });
        let threads: Vec<_> = (0..NODES as i32)
            .map(|id| {
                let stack = stack.clone();
                spawn_thread(format!("thread-{id}"), move || {
                    for _ in 0..2 {
                        let node = loop {
                            if let Some(node) = stack.pop() {
                                break node;
                            }
                            thread::yield_now();
                        };
                        stack.values[node].set(id);
                        assert_eq!(stack.values[node].get(), id, "two threads popped one node");
                        stack.push(node);
                    }
                })
            })
            .collect();
        for handle in threads {
            handle.join().unwrap();
        }
    })
}

/// fsbench: 27 tasks; task `tid` locks `locki[tid % 32]` of an array of 26
/// locks, so task 26 asserts `i < NUMBLOCKS` and fails on every schedule.
/// The fix (the repository's `fsbench_ok`) runs 26 tasks.
async fn fsbench(fix: Fix) {
    const BLOCKS: usize = 26;
    const INODES: usize = 32;
    struct FileSystem {
        inode_locks: Vec<Mutex<()>>,
        block_locks: Vec<Mutex<()>>,
        busy: Vec<Shared<bool>>,
        inodes: Vec<Shared<usize>>,
    }
    let tasks_count = match fix {
        Fix::None => 27,
        Fix::Applied => 26,
    };
    let file_system = Arc::new(FileSystem {
        inode_locks: (0..BLOCKS)
            .map(|index| Mutex::named(format!("locki[{index}]"), ()))
            .collect(),
        block_locks: (0..BLOCKS)
            .map(|index| Mutex::named(format!("lockb[{index}]"), ()))
            .collect(),
        busy: (0..BLOCKS)
            .map(|index| Shared::named(format!("busy[{index}]"), false))
            .collect(),
        inodes: (0..INODES)
            .map(|index| Shared::named(format!("inode[{index}]"), 0))
            .collect(),
    });
    let tasks = (0..tasks_count)
        .map(|tid| {
            let shared = file_system.clone();
            racecheck::spawn_named(format!("thread-{tid}"), async move {
                let inode = tid % INODES;
                assert!(inode < BLOCKS, "inode {inode} has no lock in locki");
                let _inode_lock = shared.inode_locks[inode].lock().await;
                if shared.inodes[inode].get() == 0 {
                    let mut block = (inode * 2) % BLOCKS;
                    for _ in 0..BLOCKS / 2 {
                        let block_lock = shared.block_locks[block].lock().await;
                        if !shared.busy[block].get() {
                            shared.busy[block].set(true);
                            shared.inodes[inode].set(block + 1);
                            break;
                        }
                        drop(block_lock);
                        block = (block + 1) % BLOCKS;
                    }
                }
            })
        })
        .collect();
    join_all(tasks).await;
}

/// deadlock01 (ported from its description): t1 locks a then b, t2 locks b
/// then a, each to change a counter. The fix has t2 lock a first too.
async fn deadlock01(fix: Fix) {
    struct Deadlock01 {
        a: Mutex<()>,
        b: Mutex<()>,
        counter: Shared<i32>,
    }
    let state = Arc::new(Deadlock01 {
        a: Mutex::named("a", ()),
        b: Mutex::named("b", ()),
        counter: Shared::named("counter", 1),
    });
    let shared = state.clone();
    let thread1 = racecheck::spawn_named("thread1", async move {
        let _a = shared.a.lock().await;
        let _b = shared.b.lock().await;
        shared.counter.set(shared.counter.get() + 1);
    });
    let thread2 = racecheck::spawn_named("thread2", async move {
        let (first, second) = match fix {
            Fix::None => (&state.b, &state.a),
            Fix::Applied => (&state.a, &state.b),
        };
        let _first = first.lock().await;
        let _second = second.lock().await;
        state.counter.set(state.counter.get() - 1);
    });
    thread1.await;
    thread2.await;
}

/// twostage (ported from its description): `a_tasks` tasks write data1 = 1
/// under m1, then data2 = data1 + 1 under m2 (reading data1 without m1, so
/// awaited); one task B reads data1 under m1 and, if set, data2 under m2,
/// and asserts data2 == data1 + 1. It fails when B runs between a task's
/// two stages before any task finished both. The fix holds m1 across both
/// writes.
async fn twostage(a_tasks: usize, fix: Fix) {
    struct TwoStage {
        m1: Mutex<()>,
        m2: Mutex<()>,
        data1: Shared<i32>,
        data2: Shared<i32>,
    }
    let state = Arc::new(TwoStage {
        m1: Mutex::named("m1", ()),
        m2: Mutex::named("m2", ()),
        data1: Shared::named("data1", 0),
        data2: Shared::named("data2", 0),
    });
    let mut tasks: Vec<_> = (0..a_tasks)
        .map(|number| {
            let shared = state.clone();
            racecheck::spawn_named(format!("funcA-{number}"), async move {
                match fix {
                    Fix::None => {
                        let m1 = shared.m1.lock().await;
                        shared.data1.set(1);
                        drop(m1);
                        let _m2 = shared.m2.lock().await;
                        let data1 = shared.data1.load().await;
                        shared.data2.set(data1 + 1);
                    }
                    Fix::Applied => {
                        let _m1 = shared.m1.lock().await;
                        shared.data1.set(1);
                        let _m2 = shared.m2.lock().await;
                        shared.data2.set(shared.data1.get() + 1);
                    }
                }
            })
        })
        .collect();
    tasks.push(racecheck::spawn_named("funcB", async move {
        let m1 = state.m1.lock().await;
        let data1 = state.data1.get();
        drop(m1);
        if data1 == 0 {
            return;
        }
        let m2 = state.m2.lock().await;
        let data2 = state.data2.get();
        drop(m2);
        assert_eq!(data2, data1 + 1, "data2 after data1 was set");
    }));
    join_all(tasks).await;
}

/// lazy01 (ported from its description): under one mutex, t1 adds 1 and t2
/// adds 2 to `data`, and t3 asserts `data < 3`, which fails when t3 runs
/// after both. The fix asserts what the program guarantees, `data <= 3`.
async fn lazy01(fix: Fix) {
    struct Lazy01 {
        mutex: Mutex<()>,
        data: Shared<i32>,
    }
    let state = Arc::new(Lazy01 {
        mutex: Mutex::named("mutex", ()),
        data: Shared::named("data", 0),
    });
    let adders = [("thread1", 1), ("thread2", 2)].map(|(name, amount)| {
        let shared = state.clone();
        racecheck::spawn_named(name, async move {
            let _mutex = shared.mutex.lock().await;
            shared.data.set(shared.data.get() + amount);
        })
    });
    let checker = racecheck::spawn_named("thread3", async move {
        let _mutex = state.mutex.lock().await;
        let data = state.data.get();
        match fix {
            Fix::None => assert!(data < 3, "thread3 ran after both others: data = {data}"),
            Fix::Applied => assert!(data <= 3, "data = {data}"),
        }
    });
    let [thread1, thread2] = adders;
    thread1.await;
    thread2.await;
    checker.await;
}

/// din_philN_sat: `philosophers` philosophers each lock their right fork,
/// then their left, inside an atomic section (the original's
/// `__ESBMC_atomic_begin/end`, here one more mutex, so no deadlock), then
/// increment `phil` without a lock and assert it is not N. The assertion is
/// reachable (SV-COMP's "sat") on every schedule without a lost update.
/// The fix is the repository's `_unsat` twin: no counter, no assertion.
async fn din_phil(philosophers: usize, fix: Fix) {
    struct Table {
        atomic: Mutex<()>,
        forks: Vec<Mutex<()>>,
        phil: Shared<usize>,
    }
    let table = Arc::new(Table {
        atomic: Mutex::named("atomic", ()),
        forks: (0..philosophers)
            .map(|fork| Mutex::named(format!("x[{fork}]"), ()))
            .collect(),
        phil: Shared::named("phil", 0),
    });
    let tasks = (0..philosophers)
        .map(|id| {
            let shared = table.clone();
            racecheck::spawn_named(format!("philosopher-{id}"), async move {
                let (left, right) = (id, (id + 1) % philosophers);
                {
                    let _atomic = shared.atomic.lock().await;
                    let right_fork = shared.forks[right].lock().await;
                    let left_fork = shared.forks[left].lock().await;
                    drop(left_fork);
                    drop(right_fork);
                }
                if fix == Fix::None {
                    let phil = shared.phil.load().await;
                    shared.phil.store(phil + 1).await;
                    assert_ne!(
                        shared.phil.load().await,
                        philosophers,
                        "every philosopher ate"
                    );
                }
            })
        })
        .collect();
    join_all(tasks).await;
}

/// din_philN_deadlock: the din_phil programs as `sctbench.md` describes them,
/// without the atomic section: every philosopher locks the fork on its
/// right, then the one on its left, and they can all hold one fork and wait
/// for the next. The fix takes the higher-numbered fork first, which
/// reverses the last philosopher's order.
async fn din_phil_deadlock(philosophers: usize, fix: Fix) {
    let forks: Arc<Vec<Mutex<()>>> = Arc::new(
        (0..philosophers)
            .map(|fork| Mutex::named(format!("x[{fork}]"), ()))
            .collect(),
    );
    let tasks = (0..philosophers)
        .map(|id| {
            let forks = forks.clone();
            racecheck::spawn_named(format!("philosopher-{id}"), async move {
                let (left, right) = (id, (id + 1) % philosophers);
                let (first, second) = match fix {
                    Fix::None => (right, left),
                    Fix::Applied => (left.max(right), left.min(right)),
                };
                let first_fork = forks[first].lock().await;
                let second_fork = forks[second].lock().await;
                drop(second_fork);
                drop(first_fork);
            })
        })
        .collect();
    join_all(tasks).await;
}
