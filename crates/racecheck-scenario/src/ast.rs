//! The compiled form of a scenario: names resolved to indices, every step
//! with its position in the file.

use crate::error::Pos;
use crate::expr::Expr;
use racecheck::Location;
use std::fmt;
use std::time::Duration;

/// What a scenario expects of its exploration.
///
/// ```
/// use racecheck_scenario::{Expectation, FindingKind};
///
/// assert_eq!("race".parse(), Ok(Expectation::Find(FindingKind::Race)));
/// assert_eq!("no deadlock".parse(), Ok(Expectation::NoDeadlock));
/// assert_eq!(Expectation::Pass.to_string(), "pass");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expectation {
    /// Every execution explored passes: no finding, no panic, the final
    /// state holds (the default).
    #[default]
    Pass,
    /// No execution has a data race; other findings are only warnings.
    NoRace,
    /// No execution deadlocks; other findings are only warnings.
    NoDeadlock,
    /// Some execution has a finding of this kind: the scenario
    /// demonstrates a bug.
    Find(FindingKind),
}

/// The kinds of finding a scenario can expect to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingKind {
    /// A data race on a shared variable.
    Race,
    /// Tasks waiting for each other in a cycle.
    Deadlock,
    /// A task blocked for good with nobody left to wake it (a lost wakeup).
    Hang,
    /// A lock or permit still held when everything finished.
    Leak,
    /// Locks taken in orders that can deadlock (a warning of any run).
    PotentialDeadlock,
    /// A task panicked: a failed `assert`, the final state, or an error
    /// such as releasing a `BoundedSemaphore` too often.
    Panic,
}

impl FindingKind {
    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Race => "race",
            FindingKind::Deadlock => "deadlock",
            FindingKind::Hang => "hang",
            FindingKind::Leak => "leak",
            FindingKind::PotentialDeadlock => "potential deadlock",
            FindingKind::Panic => "panic",
        }
    }

    const ALL: [FindingKind; 6] = [
        FindingKind::Race,
        FindingKind::Deadlock,
        FindingKind::Hang,
        FindingKind::Leak,
        FindingKind::PotentialDeadlock,
        FindingKind::Panic,
    ];
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Pass => f.write_str("pass"),
            Expectation::NoRace => f.write_str("no race"),
            Expectation::NoDeadlock => f.write_str("no deadlock"),
            Expectation::Find(kind) => f.write_str(kind.name()),
        }
    }
}

impl std::str::FromStr for Expectation {
    type Err = String;

    fn from_str(text: &str) -> Result<Expectation, String> {
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
            .filter(|w| !w.is_empty())
            .collect();
        let normal = words.join(" ");
        match normal.as_str() {
            "pass" => return Ok(Expectation::Pass),
            "no race" => return Ok(Expectation::NoRace),
            "no deadlock" => return Ok(Expectation::NoDeadlock),
            _ => {}
        }
        FindingKind::ALL
            .into_iter()
            .find(|kind| kind.name() == normal)
            .map(Expectation::Find)
            .ok_or_else(|| {
                format!(
                    "unknown expectation `{text}` (expected one of: pass, no race, no deadlock, \
                     race, deadlock, hang, leak, potential deadlock, panic)"
                )
            })
    }
}

/// The kinds of primitive, in asyncio's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PrimitiveKind {
    Lock,
    RLock,
    Semaphore(u32),
    BoundedSemaphore(u32),
    Event,
    /// A condition variable on the `Lock` with this primitive index.
    Condition {
        lock: usize,
    },
    /// `maxsize` 0 means unbounded.
    Queue(u32),
}

impl PrimitiveKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            PrimitiveKind::Lock => "Lock",
            PrimitiveKind::RLock => "RLock",
            PrimitiveKind::Semaphore(_) => "Semaphore",
            PrimitiveKind::BoundedSemaphore(_) => "BoundedSemaphore",
            PrimitiveKind::Event => "Event",
            PrimitiveKind::Condition { .. } => "Condition",
            PrimitiveKind::Queue(_) => "Queue",
        }
    }

    /// Whether `acquire`, `release` and `with` apply.
    pub(crate) fn is_acquirable(self) -> bool {
        matches!(
            self,
            PrimitiveKind::Lock
                | PrimitiveKind::RLock
                | PrimitiveKind::Semaphore(_)
                | PrimitiveKind::BoundedSemaphore(_)
                | PrimitiveKind::Condition { .. }
        )
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Primitive {
    pub(crate) name: String,
    pub(crate) kind: PrimitiveKind,
    /// Its declaration, to which the object's creation is attributed.
    pub(crate) location: Location,
}

#[derive(Clone, Debug)]
pub(crate) struct SharedVariable {
    pub(crate) name: String,
    pub(crate) initial: i64,
    /// Its declaration, to which the object's creation is attributed.
    pub(crate) location: Location,
}

#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub(crate) name: String,
    pub(crate) count: u32,
    /// Started by the root at the beginning (or else only by `spawn`).
    pub(crate) start: bool,
    pub(crate) steps: Vec<Step>,
    /// Its `name`: the root's spawns and joins of it, and its end, are
    /// attributed here.
    pub(crate) location: Location,
}

#[derive(Clone, Debug)]
pub(crate) struct Function {
    pub(crate) name: String,
    pub(crate) steps: Vec<Step>,
}

/// A predicate with its source text, for messages.
#[derive(Clone, Debug)]
pub(crate) struct Predicate {
    pub(crate) expr: Expr,
    pub(crate) text: String,
    pub(crate) pos: Pos,
}

#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub(crate) pos: Pos,
    /// `pos` in the scenario file: the step's events are attributed here.
    pub(crate) location: Location,
    /// The step as written (`with db` for blocks), for logs.
    pub(crate) text: String,
    pub(crate) kind: StepKind,
}

#[derive(Clone, Debug)]
pub(crate) enum StepKind {
    /// Acquires a lock, re-entrant lock or semaphore (a condition's lock is
    /// resolved to the lock).
    Acquire(usize),
    Release(usize),
    Read {
        local: usize,
        shared: usize,
    },
    Write {
        shared: usize,
        value: Expr,
    },
    Assign {
        local: usize,
        value: Expr,
    },
    Set(usize),
    Clear(usize),
    WaitEvent(usize),
    WaitCondition {
        condition: usize,
        lock: usize,
        while_: Option<Predicate>,
    },
    /// `notify C [n]` wakes `count` waiters (`Some(1)` by default);
    /// `notify_all C` has `None`.
    Notify {
        condition: usize,
        lock: usize,
        count: Option<Expr>,
    },
    Put {
        queue: usize,
        value: Expr,
    },
    Get {
        queue: usize,
        local: Option<usize>,
    },
    TaskDone(usize),
    /// `join Q` on a queue (`join T` on a task is [`StepKind::Join`]).
    JoinQueue(usize),
    Sleep(Duration),
    Yield,
    Spawn(usize),
    Join(usize),
    Assert(Predicate),
    Call(usize),
    Fail,
    With {
        primitive: usize,
        body: Vec<Step>,
    },
    If {
        condition: Predicate,
        then: Vec<Step>,
        otherwise: Vec<Step>,
    },
    While {
        condition: Predicate,
        body: Vec<Step>,
    },
    Repeat {
        times: u32,
        body: Vec<Step>,
    },
}

/// A whole scenario, compiled.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    pub(crate) description: String,
    pub(crate) expectation: Expectation,
    pub(crate) final_state: Option<Predicate>,
    pub(crate) iterations: Option<u64>,
    pub(crate) max_steps: Option<u32>,
    pub(crate) shared: Vec<SharedVariable>,
    pub(crate) primitives: Vec<Primitive>,
    pub(crate) functions: Vec<Function>,
    pub(crate) tasks: Vec<Task>,
    /// The names of the task-locals, by slot (one table for the whole
    /// scenario, so functions see their caller's locals by name).
    pub(crate) locals: Vec<String>,
}
