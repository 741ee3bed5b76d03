//! The interpreter: each scenario task becomes a racecheck task whose body
//! walks its steps and performs each on the real primitives.
//!
//! Mapping: `Lock` → [`Mutex<()>`](racecheck::sync::Mutex), `RLock` →
//! [`ReentrantMutex`](racecheck::sync::ReentrantMutex), `Semaphore` →
//! [`Semaphore`](racecheck::sync::Semaphore), `Event` →
//! [`Event`](racecheck::sync::Event), shared variables →
//! [`Shared<i64>`](racecheck::sync::Shared) (`read` is `load().await`,
//! `write` is `store(v).await`: scheduling points the race detector sees),
//! `sleep` → virtual time, `yield` → `yield_now`, `spawn`/`join` → tasks.
//!
//! asyncio semantics kept: a lock acquired by `acquire` and never released
//! stays held when its task ends (the guard is forgotten, not dropped), so
//! the leak is reported; `with` releases on every exit path, `fail`
//! included.

use crate::ast::{Predicate, PrimitiveKind, Program, Step, StepKind};
use crate::error::Pos;
use crate::expr::Var;
use racecheck::sync::{
    Event, Mutex, MutexGuard, ReentrantMutex, Semaphore, SemaphorePermit, Shared,
};
use racecheck::JoinHandle;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

/// How deep `call`s may nest: a bound on recursion in the scenario.
const CALL_DEPTH_MAX: u32 = 64;
/// How many times one `while` loop may run without ending.
const LOOP_ITERATIONS_MAX: u64 = 1_000_000;

/// A record of the scenario steps as they ran, for replays.
pub(crate) type StepLog = Rc<RefCell<Vec<String>>>;

/// The objects of one execution.
struct World {
    program: Arc<Program>,
    path: String,
    shared: Vec<Shared<i64>>,
    primitives: Vec<Object>,
    /// Handles of tasks whose spawner ended without joining them; the root
    /// joins them at the end.
    orphans: RefCell<Vec<JoinHandle<()>>>,
    log: Option<StepLog>,
}

enum Object {
    Lock(Mutex<()>),
    RLock(ReentrantMutex<()>),
    Semaphore(Semaphore),
    /// asyncio's `BoundedSemaphore` is a semaphore whose unpaired release
    /// fails once the value is back at its bound; `bound` is that value.
    BoundedSemaphore {
        semaphore: Semaphore,
        bound: usize,
    },
    Event(Event),
    Unavailable(&'static str),
}

/// What a task holds.
enum Hold<'w> {
    /// `None` while a condition wait has the guard.
    Lock(Option<MutexGuard<'w, ()>>),
    RLock,
    Permit(SemaphorePermit<'w>),
}

struct Held<'w> {
    primitive: usize,
    /// Taken by a `with` block, which releases it.
    scoped: bool,
    serial: u64,
    hold: Hold<'w>,
}

/// How a list of steps ended.
enum Flow {
    Next,
    /// `fail`: the task ends now.
    Fail,
}

struct TaskState<'w> {
    world: &'w World,
    /// The same world, to hand to the tasks this one spawns.
    owner: Rc<World>,
    name: String,
    replica: i64,
    locals: Vec<Option<i64>>,
    held: Vec<Held<'w>>,
    spawned: Vec<(usize, JoinHandle<()>)>,
    serial: u64,
    depth: u32,
}

/// The root future of one execution of `program`.
pub(crate) async fn execution(program: Arc<Program>, path: String, log: Option<StepLog>) {
    let world = Rc::new(World::new(program.clone(), path, log));
    let mut handles = Vec::new();
    for (index, task) in program.tasks.iter().enumerate() {
        if task.start {
            handles.extend(spawn_replicas(&world, index));
        }
    }
    for (_, handle) in handles {
        handle.await;
    }
    loop {
        let orphan = world.orphans.borrow_mut().pop();
        match orphan {
            Some(handle) => handle.await,
            None => break,
        }
    }
    if let Some(final_state) = &program.final_state {
        let holds = final_state.expr.eval(&mut |var| match var {
            Var::Shared(index) => Ok(world.shared[index].get()),
            _ => Err("the final state reads shared variables only".into()),
        });
        match holds {
            Ok(0) => panic!(
                "final state does not hold: `{}` ({}) at {}:{}",
                final_state.text,
                world.values_of(final_state),
                world.path,
                final_state.pos
            ),
            Ok(_) => {}
            Err(error) => panic!(
                "final state `{}`: {error} at {}:{}",
                final_state.text, world.path, final_state.pos
            ),
        }
    }
}

impl World {
    fn new(program: Arc<Program>, path: String, log: Option<StepLog>) -> World {
        let shared = program
            .shared
            .iter()
            .map(|variable| Shared::named(variable.name.clone(), variable.initial))
            .collect();
        let primitives = program
            .primitives
            .iter()
            .map(|primitive| {
                let name = primitive.name.clone();
                match primitive.kind {
                    PrimitiveKind::Lock => Object::Lock(Mutex::named(name, ())),
                    PrimitiveKind::RLock => Object::RLock(ReentrantMutex::named(name, ())),
                    PrimitiveKind::Semaphore(permits) => {
                        Object::Semaphore(Semaphore::named(name, permits as usize))
                    }
                    PrimitiveKind::Event => Object::Event(Event::named(name)),
                    PrimitiveKind::BoundedSemaphore(permits) => Object::BoundedSemaphore {
                        semaphore: Semaphore::named(name, permits as usize),
                        bound: permits as usize,
                    },
                    PrimitiveKind::Condition { .. } => Object::Unavailable("Condition"),
                    PrimitiveKind::Queue(_) => Object::Unavailable("Queue"),
                }
            })
            .collect();
        World {
            program,
            path,
            shared,
            primitives,
            orphans: RefCell::new(Vec::new()),
            log,
        }
    }

    /// `rows = 20, pages = 3`: the shared values a predicate reads.
    fn values_of(&self, predicate: &Predicate) -> String {
        let mut vars = Vec::new();
        predicate.expr.vars(&mut vars);
        let values: Vec<String> = vars
            .into_iter()
            .filter_map(|var| match var {
                Var::Shared(index) => Some(format!(
                    "{} = {}",
                    self.program.shared[index].name,
                    self.shared[index].get()
                )),
                _ => None,
            })
            .collect();
        values.join(", ")
    }
}

fn spawn_replicas(world: &Rc<World>, task: usize) -> Vec<(usize, JoinHandle<()>)> {
    let declaration = &world.program.tasks[task];
    (0..declaration.count)
        .map(|replica| {
            let name = if declaration.count == 1 {
                declaration.name.clone()
            } else {
                format!("{}-{}", declaration.name, replica + 1)
            };
            let body = task_body(world.clone(), task, replica, name.clone());
            (task, racecheck::spawn_named(name, body))
        })
        .collect()
}

async fn task_body(world: Rc<World>, task: usize, replica: u32, name: String) {
    let program = world.program.clone();
    let mut state = TaskState {
        world: &world,
        owner: world.clone(),
        name,
        replica: i64::from(replica),
        locals: vec![None; program.locals.len()],
        held: Vec::new(),
        spawned: Vec::new(),
        serial: 0,
        depth: 0,
    };
    let _ = run(&mut state, &program.tasks[task].steps).await;
    state.end();
}

impl TaskState<'_> {
    /// The task ends (or fails): what it acquired without `with` stays
    /// held, as in asyncio, and what it spawned is joined by the root.
    fn end(&mut self) {
        for held in self.held.drain(..) {
            match held.hold {
                Hold::Lock(guard) => std::mem::forget(guard),
                Hold::Permit(permit) => std::mem::forget(permit),
                Hold::RLock => {}
            }
        }
        self.world
            .orphans
            .borrow_mut()
            .extend(self.spawned.drain(..).map(|(_, handle)| handle));
    }

    fn at(&self, pos: Pos) -> String {
        format!("{}:{pos}", self.world.path)
    }

    fn eval(&self, predicate_text: &str, expr: &crate::expr::Expr, pos: Pos) -> i64 {
        let locals = &self.locals;
        let program = &self.world.program;
        let replica = self.replica;
        let value = expr.eval(&mut |var| match var {
            Var::Local(slot) => locals[slot].ok_or_else(|| {
                format!("local `{}` is read before it is set", program.locals[slot])
            }),
            Var::Replica => Ok(replica),
            Var::Shared(index) => Ok(self.world.shared[index].get()),
        });
        match value {
            Ok(value) => value,
            Err(error) => panic!("`{predicate_text}`: {error} at {}", self.at(pos)),
        }
    }

    fn locals_of(&self, expr: &crate::expr::Expr) -> String {
        let mut vars = Vec::new();
        expr.vars(&mut vars);
        let values: Vec<String> = vars
            .into_iter()
            .map(|var| match var {
                Var::Local(slot) => format!(
                    "{} = {}",
                    self.world.program.locals[slot],
                    self.locals[slot].map_or("unset".to_string(), |value| value.to_string())
                ),
                Var::Replica => format!("replica = {}", self.replica),
                Var::Shared(index) => format!(
                    "{} = {}",
                    self.world.program.shared[index].name,
                    self.world.shared[index].get()
                ),
            })
            .collect();
        if values.is_empty() {
            String::new()
        } else {
            format!(" ({})", values.join(", "))
        }
    }
}

/// Runs `steps`, boxed because blocks and calls recurse.
fn run<'a, 'w: 'a>(
    state: &'a mut TaskState<'w>,
    steps: &'a [Step],
) -> Pin<Box<dyn Future<Output = Flow> + 'a>> {
    Box::pin(async move {
        for step in steps {
            if let Some(log) = &state.world.log {
                log.borrow_mut().push(format!(
                    "{:<14} {:<8} {}",
                    state.name,
                    step.pos.to_string(),
                    step.text
                ));
            }
            if let Flow::Fail = perform(state, step).await {
                return Flow::Fail;
            }
        }
        Flow::Next
    })
}

async fn acquire<'w>(state: &mut TaskState<'w>, primitive: usize, scoped: bool) -> u64 {
    let world = state.world;
    let hold = match &world.primitives[primitive] {
        Object::Lock(lock) => Hold::Lock(Some(lock.lock().await)),
        Object::RLock(lock) => {
            lock.acquire().await;
            Hold::RLock
        }
        Object::Semaphore(semaphore) | Object::BoundedSemaphore { semaphore, .. } => {
            match semaphore.acquire().await {
                Ok(permit) => Hold::Permit(permit),
                Err(_) => panic!(
                    "semaphore `{}` is closed",
                    world.program.primitives[primitive].name
                ),
            }
        }
        Object::Event(_) => unreachable!("validated: events are not acquired"),
        Object::Unavailable(kind) => unavailable(kind),
    };
    state.serial += 1;
    let serial = state.serial;
    state.held.push(Held {
        primitive,
        scoped,
        serial,
        hold,
    });
    serial
}

fn unavailable(kind: &str) -> ! {
    panic!("racecheck-scenario: `{kind}` needs racecheck::sync::{kind}, which this build does not have yet")
}

/// Releases a hold (its guard or permit is dropped: the release event).
fn release_hold(world: &World, held: Held<'_>) {
    match held.hold {
        Hold::Lock(guard) => drop(guard),
        Hold::Permit(permit) => drop(permit),
        Hold::RLock => {
            if let Object::RLock(lock) = &world.primitives[held.primitive] {
                if let Err(error) = lock.release() {
                    panic!("RuntimeError: {error}");
                }
            }
        }
    }
}

async fn perform<'w>(state: &mut TaskState<'w>, step: &Step) -> Flow {
    let world = state.world;
    let program = &*world.program;
    match &step.kind {
        StepKind::Acquire(primitive) => {
            acquire(state, *primitive, false).await;
        }
        StepKind::Release(primitive) => {
            let position = state
                .held
                .iter()
                .rposition(|held| held.primitive == *primitive && !held.scoped);
            match (position, &world.primitives[*primitive]) {
                (Some(position), _) => {
                    let held = state.held.remove(position);
                    release_hold(world, held);
                }
                // asyncio: `Semaphore.release()` without an acquire adds a
                // permit.
                (None, Object::Semaphore(semaphore)) => semaphore.add_permits(1),
                // asyncio: `if self._value >= self._bound_value: raise
                // ValueError(...)`, then the release.
                (None, Object::BoundedSemaphore { semaphore, bound }) => {
                    if semaphore.available_permits() >= *bound {
                        panic!(
                            "ValueError: BoundedSemaphore `{}` released too many times (task '{}' at {})",
                            program.primitives[*primitive].name,
                            state.name,
                            state.at(step.pos)
                        );
                    }
                    semaphore.add_permits(1);
                }
                (None, Object::Unavailable(kind)) => unavailable(kind),
                (None, _) => panic!(
                    "RuntimeError: `{}` released by task '{}', which does not hold it, at {}",
                    program.primitives[*primitive].name,
                    state.name,
                    state.at(step.pos)
                ),
            }
        }
        StepKind::Read { local, shared } => {
            state.locals[*local] = Some(world.shared[*shared].load().await);
        }
        StepKind::Write { shared, value } => {
            let value = state.eval(&step.text, value, step.pos);
            world.shared[*shared].store(value).await;
        }
        StepKind::Assign { local, value } => {
            state.locals[*local] = Some(state.eval(&step.text, value, step.pos));
        }
        StepKind::Set(event) | StepKind::Clear(event) | StepKind::WaitEvent(event) => {
            let Object::Event(object) = &world.primitives[*event] else {
                unreachable!("validated: an event")
            };
            match step.kind {
                StepKind::Set(_) => object.set(),
                StepKind::Clear(_) => object.clear(),
                _ => object.wait().await,
            }
        }
        StepKind::WaitCondition { .. } | StepKind::Notify { .. } => unavailable("Condition"),
        StepKind::Put { .. } | StepKind::Get { .. } => unavailable("Queue"),
        StepKind::Sleep(duration) => racecheck::time::sleep(*duration).await,
        StepKind::Yield => racecheck::yield_now().await,
        StepKind::Spawn(task) => {
            let handles = spawn_replicas(&state.owner, *task);
            state.spawned.extend(handles);
        }
        StepKind::Join(task) => {
            let mut index = 0;
            while index < state.spawned.len() {
                if state.spawned[index].0 == *task {
                    let (_, handle) = state.spawned.remove(index);
                    handle.await;
                } else {
                    index += 1;
                }
            }
        }
        StepKind::Assert(predicate) => {
            if state.eval(&predicate.text, &predicate.expr, predicate.pos) == 0 {
                panic!(
                    "assertion failed: `{}`{} at {}",
                    predicate.text,
                    state.locals_of(&predicate.expr),
                    state.at(predicate.pos)
                );
            }
        }
        StepKind::Call(function) => {
            if state.depth >= CALL_DEPTH_MAX {
                panic!(
                    "call depth exceeds {CALL_DEPTH_MAX} at {} (endless recursion?)",
                    state.at(step.pos)
                );
            }
            state.depth += 1;
            let flow = run(state, &program.functions[*function].steps).await;
            state.depth -= 1;
            return flow;
        }
        StepKind::Fail => return Flow::Fail,
        StepKind::With { primitive, body } => {
            let serial = acquire(state, *primitive, true).await;
            let flow = run(state, body).await;
            if let Some(position) = state.held.iter().position(|held| held.serial == serial) {
                let held = state.held.remove(position);
                release_hold(world, held);
            }
            return flow;
        }
        StepKind::If {
            condition,
            then,
            otherwise,
        } => {
            let branch = if state.eval(&condition.text, &condition.expr, condition.pos) != 0 {
                then
            } else {
                otherwise
            };
            return run(state, branch).await;
        }
        StepKind::While { condition, body } => {
            let mut iterations = 0u64;
            while state.eval(&condition.text, &condition.expr, condition.pos) != 0 {
                iterations += 1;
                if iterations > LOOP_ITERATIONS_MAX {
                    panic!(
                        "`while {}` ran {LOOP_ITERATIONS_MAX} times without ending at {}",
                        condition.text,
                        state.at(step.pos)
                    );
                }
                if let Flow::Fail = run(state, body).await {
                    return Flow::Fail;
                }
            }
        }
        StepKind::Repeat { times, body } => {
            for _ in 0..*times {
                if let Flow::Fail = run(state, body).await {
                    return Flow::Fail;
                }
            }
        }
    }
    Flow::Next
}
