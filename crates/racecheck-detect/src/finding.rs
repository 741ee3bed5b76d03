//! Findings: what the detector reports, in words people can read and as
//! data (serde) tools can read.

use racecheck_trace::{EventIndex, Location, ObjectId, TaskId};
use serde::Serialize;
use std::fmt;

/// Something the detector found in an execution or across an exploration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// Two unordered accesses to tracked state, at least one a write.
    Race(Race),
    /// Tasks waiting for each other in a cycle.
    Deadlock(Deadlock),
    /// Tasks blocked for good with no cycle and no one left to wake them.
    Hang(Hang),
    /// Locks taken in orders that can deadlock, even if this run did not.
    PotentialDeadlock(PotentialDeadlock),
    /// A lock or semaphore permits still held when the execution ended.
    Leak(Leak),
}

impl Finding {
    /// A short name of the kind of finding: `data race`, `deadlock`, ...
    pub fn title(&self) -> &'static str {
        match self {
            Finding::Race(_) => "data race",
            Finding::Deadlock(_) => "deadlock",
            Finding::Hang(_) => "hang",
            Finding::PotentialDeadlock(_) => "potential deadlock",
            Finding::Leak(_) => "leak",
        }
    }
}

/// One side of a race.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Access {
    /// The task.
    pub task: TaskId,
    /// Its name.
    pub task_name: String,
    /// A write (or else a read).
    pub write: bool,
    /// Where in the source.
    pub location: Location,
    /// The step of the execution.
    pub step: u32,
    /// Its index in the trace's events.
    pub event: EventIndex,
    /// The locks the task held at the access.
    pub locks_held: Vec<String>,
}

/// A data race.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Race {
    /// The tracked object.
    pub object: ObjectId,
    /// Its label (`Shared 'rows'`).
    pub object_label: String,
    /// Where it was created.
    pub created_at: Location,
    /// The access that ran first in this execution.
    pub first: Access,
    /// The access that ran second.
    pub second: Access,
    /// Why nothing orders them.
    pub explanation: String,
}

/// A task waiting for a lock or task held by another, or for a channel
/// whose other end another holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Wait {
    /// The waiting task.
    pub task: TaskId,
    /// What it waits for, as a sentence.
    pub description: String,
    /// For a wait for a channel's slot or message, the tasks that could
    /// end it ([`StuckTask::wakers`](crate::StuckTask::wakers)); empty
    /// for other waits.
    pub wakers: Vec<TaskId>,
}

/// A deadlock: a cycle in the wait-for graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deadlock {
    /// The waits around the cycle.
    pub cycle: Vec<Wait>,
    /// Other tasks stuck behind the cycle.
    pub blocked_behind: Vec<Wait>,
    /// Whether other tasks finished while these stayed stuck.
    pub partial: bool,
}

/// Tasks blocked for good without a cycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hang {
    /// Each blocked task and what it waits for.
    pub waits: Vec<Wait>,
    /// For each wait (same order), the last other task to touch the object
    /// waited on and where, if any.
    pub last_touched: Vec<Option<(String, Location)>>,
}

/// One edge of a lock-order cycle: `held` was held while `acquired` was
/// taken.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LockOrderEdge {
    /// The lock held.
    pub held: String,
    /// Where it was taken.
    pub held_at: Location,
    /// The lock taken while holding it.
    pub acquired: String,
    /// Where.
    pub acquired_at: Location,
    /// The task that did it.
    pub task_name: String,
}

/// A cycle in the lock-order graph with no common guard lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PotentialDeadlock {
    /// The edges around the cycle.
    pub cycle: Vec<LockOrderEdge>,
}

/// A lock or permits still held at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Leak {
    /// The object's label.
    pub object_label: String,
    /// Where it was created.
    pub created_at: Location,
    /// The holder.
    pub holder_name: String,
    /// How many locks or permits.
    pub count: u64,
    /// Where the holder took the last of them.
    pub taken_at: Option<Location>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Race(race) => race.fmt(f),
            Finding::Deadlock(deadlock) => deadlock.fmt(f),
            Finding::Hang(hang) => hang.fmt(f),
            Finding::PotentialDeadlock(potential) => potential.fmt(f),
            Finding::Leak(leak) => leak.fmt(f),
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.write { "write" } else { "read " };
        write!(
            f,
            "{verb} by {:<12} at {}  (step {})",
            format!("'{}'", self.task_name),
            self.location,
            self.step
        )
    }
}

impl fmt::Display for Race {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "data race on {} (created at {}):",
            self.object_label, self.created_at
        )?;
        writeln!(f, "    {}", self.first)?;
        writeln!(f, "    {}", self.second)?;
        write!(f, "  {}", self.explanation)
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let partial = if self.partial {
            " (partial: other tasks went on and finished)"
        } else {
            ""
        };
        write!(
            f,
            "deadlock: a cycle of tasks waiting for each other{partial}"
        )?;
        for wait in &self.cycle {
            write!(f, "\n  - {}", wait.description)?;
        }
        for wait in &self.blocked_behind {
            write!(f, "\n  - (blocked behind it) {}", wait.description)?;
        }
        Ok(())
    }
}

impl fmt::Display for Hang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("hang: tasks blocked for good, with no task left that could wake them")?;
        for (wait, touched) in self.waits.iter().zip(&self.last_touched) {
            write!(f, "\n  - {}", wait.description)?;
            if let Some((task, location)) = touched {
                write!(f, "; last touched by '{task}' at {location}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for PotentialDeadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "potential deadlock: locks taken in a cycle of orders by different tasks, \
             with no common lock guarding them",
        )?;
        for edge in &self.cycle {
            write!(
                f,
                "\n  - '{}' takes {} at {} while holding {} (taken at {})",
                edge.task_name, edge.acquired, edge.acquired_at, edge.held, edge.held_at
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "leak: {} (created at {}) is still held by '{}' at the end of the execution",
            self.object_label, self.created_at, self.holder_name
        )?;
        if self.count > 1 {
            write!(f, " ({} times or permits)", self.count)?;
        }
        if let Some(taken_at) = self.taken_at {
            write!(f, "; taken at {taken_at}")?;
        }
        Ok(())
    }
}
