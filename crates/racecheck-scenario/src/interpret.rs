//! The interpreter: each scenario task becomes a racecheck task whose body
//! walks its steps and performs each on the real primitives.
//!
//! Mapping: `Lock` → [`Mutex<()>`](racecheck::sync::Mutex), `RLock` →
//! [`ReentrantMutex`](racecheck::sync::ReentrantMutex), `Semaphore` →
//! [`Semaphore`](racecheck::sync::Semaphore), `BoundedSemaphore` →
//! [`BoundedSemaphore`](racecheck::sync::BoundedSemaphore), `Event` →
//! [`Event`](racecheck::sync::Event), `Condition` →
//! [`Condition`](racecheck::sync::Condition) on its lock's `Mutex`, `Queue`
//! → [`Queue<i64>`](racecheck::sync::Queue), shared variables →
//! [`Shared<i64>`](racecheck::sync::Shared) (`read` is `get()`, `write` is
//! `set(v)`: accesses the race detector sees, not yields), `sleep` →
//! virtual time, `yield` → `yield_now`, `spawn`/`join` → tasks.
//!
//! Yields are asyncio's: every awaited operation is polled
//! [`without_schedule_points`], so it gives other tasks a turn only where it
//! waits (a free lock, a set event, a non-empty queue are taken at once, as
//! asyncio's fast paths do); `sleep` and `yield` always yield. The rules,
//! per primitive, are in docs/scenarios.md ("Where a task yields").
//!
//! asyncio semantics kept: a lock or permit acquired by `acquire` and never
//! released stays held when its task ends (the guard is forgotten, not
//! dropped), so the leak is reported; `with` releases on every exit path,
//! `fail` included. `wait C` and `notify C` need `C`'s lock held by the
//! task (asyncio's `RuntimeError` otherwise).
//!
//! Before each step the task attributes its events to the step's place in
//! the scenario file ([`attribute_events_to`]), so traces and findings name
//! `scenario.toml:line:col`, not this file; objects are attributed to their
//! declarations, and the root's spawns and joins to the `[[task]]`'s name.

use crate::ast::{Predicate, PrimitiveKind, Program, Step, StepKind};
use crate::error::Pos;
use crate::expr::Var;
use racecheck::sched::{attribute_events_to, without_schedule_points};
use racecheck::sync::{
    BoundedSemaphore, BoundedSemaphorePermit, Condition, Event, Mutex, MutexGuard, Queue,
    ReentrantMutex, Semaphore, SemaphorePermit, Shared,
};
use racecheck::{FailureKind, JoinHandle, Location, Report};
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
    /// Handles of tasks whose spawner ended without joining them, with
    /// their task's index; the root joins them at the end.
    orphans: RefCell<Vec<(usize, JoinHandle<()>)>>,
    log: Option<StepLog>,
}

enum Object {
    Lock(Mutex<()>),
    RLock(ReentrantMutex<()>),
    Semaphore(Semaphore),
    BoundedSemaphore(BoundedSemaphore),
    Event(Event),
    Condition(Condition),
    /// Boxed: its slots' and items' semaphores make a queue the largest
    /// primitive by far.
    Queue(Box<Queue<i64>>),
}

/// What a task holds.
enum Hold<'w> {
    /// `None` while a condition wait has the guard.
    Lock(Option<MutexGuard<'w, ()>>),
    RLock,
    Permit(SemaphorePermit<'w>),
    BoundedPermit(BoundedSemaphorePermit<'w>),
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
            attribute_events_to(Some(task.location));
            handles.extend(spawn_replicas(&world, index));
        }
    }
    for (task, handle) in handles {
        attribute_events_to(Some(program.tasks[task].location));
        handle.await;
    }
    loop {
        let orphan = world.orphans.borrow_mut().pop();
        match orphan {
            Some((task, handle)) => {
                attribute_events_to(Some(program.tasks[task].location));
                handle.await;
            }
            None => break,
        }
    }
    if let Some(final_state) = &program.final_state {
        let pos = final_state.pos;
        attribute_events_to(Some(Location::from_parts(
            &world.path,
            pos.line,
            pos.column,
        )));
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
            .map(|variable| {
                attribute_events_to(Some(variable.location));
                Shared::named(variable.name.clone(), variable.initial)
            })
            .collect();
        let primitives = program
            .primitives
            .iter()
            .map(|primitive| {
                attribute_events_to(Some(primitive.location));
                let name = primitive.name.clone();
                match primitive.kind {
                    PrimitiveKind::Lock => Object::Lock(Mutex::named(name, ())),
                    PrimitiveKind::RLock => Object::RLock(ReentrantMutex::named(name, ())),
                    PrimitiveKind::Semaphore(permits) => {
                        Object::Semaphore(Semaphore::named(name, permits as usize))
                    }
                    PrimitiveKind::BoundedSemaphore(permits) => {
                        Object::BoundedSemaphore(BoundedSemaphore::named(name, permits as usize))
                    }
                    PrimitiveKind::Event => Object::Event(Event::named(name)),
                    PrimitiveKind::Condition { .. } => Object::Condition(Condition::named(name)),
                    PrimitiveKind::Queue(maxsize) => {
                        Object::Queue(Box::new(Queue::named(name, maxsize as usize)))
                    }
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

    /// The event at `index` (validated: an event).
    fn event(&self, index: usize) -> &Event {
        let Object::Event(event) = &self.primitives[index] else {
            unreachable!("validated: an event")
        };
        event
    }

    /// The queue at `index` (validated: a queue).
    fn queue(&self, index: usize) -> &Queue<i64> {
        let Object::Queue(queue) = &self.primitives[index] else {
            unreachable!("validated: a queue")
        };
        queue
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
    let declaration = &program.tasks[task];
    attribute_events_to(Some(declaration.location));
    let _ = run(&mut state, &declaration.steps).await;
    // The task's end (and its leaks) belong to its declaration, not to its
    // last step.
    attribute_events_to(Some(declaration.location));
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
                Hold::BoundedPermit(permit) => std::mem::forget(permit),
                Hold::RLock => {}
            }
        }
        self.world
            .orphans
            .borrow_mut()
            .extend(self.spawned.drain(..));
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
            attribute_events_to(Some(step.location));
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
        Object::Lock(lock) => Hold::Lock(Some(without_schedule_points(lock.lock()).await)),
        Object::RLock(lock) => {
            without_schedule_points(lock.acquire()).await;
            Hold::RLock
        }
        Object::Semaphore(semaphore) => match without_schedule_points(semaphore.acquire()).await {
            Ok(permit) => Hold::Permit(permit),
            Err(_) => panic!(
                "semaphore `{}` is closed",
                world.program.primitives[primitive].name
            ),
        },
        Object::BoundedSemaphore(semaphore) => {
            Hold::BoundedPermit(without_schedule_points(semaphore.acquire()).await)
        }
        Object::Event(_) | Object::Condition(_) | Object::Queue(_) => {
            unreachable!("validated: only locks and semaphores are acquired (a condition's lock stands for it)")
        }
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

/// Releases a hold (its guard or permit is dropped: the release event).
fn release_hold(world: &World, held: Held<'_>) {
    match held.hold {
        Hold::Lock(guard) => drop(guard),
        Hold::Permit(permit) => drop(permit),
        Hold::BoundedPermit(permit) => drop(permit),
        Hold::RLock => {
            if let Object::RLock(lock) = &world.primitives[held.primitive] {
                if let Err(error) = lock.release() {
                    panic!("RuntimeError: {error}");
                }
            }
        }
    }
}

/// Performs one step: a block or a call runs its steps, an operation acts
/// on the world.
async fn perform<'w>(state: &mut TaskState<'w>, step: &Step) -> Flow {
    match &step.kind {
        StepKind::Call(function) => call(state, step, *function).await,
        StepKind::Fail => Flow::Fail,
        StepKind::With { primitive, body } => with_block(state, step, *primitive, body).await,
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
            run(state, branch).await
        }
        StepKind::While { condition, body } => while_loop(state, step, condition, body).await,
        StepKind::Repeat { times, body } => {
            for _ in 0..*times {
                if let Flow::Fail = run(state, body).await {
                    return Flow::Fail;
                }
            }
            Flow::Next
        }
        _ => {
            operation(state, step).await;
            Flow::Next
        }
    }
}

/// Performs a step that is one operation (not a block, `call` or `fail`).
async fn operation<'w>(state: &mut TaskState<'w>, step: &Step) {
    let world = state.world;
    match &step.kind {
        StepKind::Acquire(primitive) => {
            acquire(state, *primitive, false).await;
        }
        StepKind::Release(primitive) => release(state, step, *primitive),
        StepKind::Read { local, shared } => {
            state.locals[*local] = Some(world.shared[*shared].get());
        }
        StepKind::Write { shared, value } => {
            let value = state.eval(&step.text, value, step.pos);
            world.shared[*shared].set(value);
        }
        StepKind::Assign { local, value } => {
            state.locals[*local] = Some(state.eval(&step.text, value, step.pos));
        }
        StepKind::Set(event) => world.event(*event).set(),
        StepKind::Clear(event) => world.event(*event).clear(),
        StepKind::WaitEvent(event) => without_schedule_points(world.event(*event).wait()).await,
        StepKind::WaitCondition {
            condition,
            lock,
            while_,
        } => wait_condition(state, step, *condition, *lock, while_.as_ref()).await,
        StepKind::Notify {
            condition,
            lock,
            count,
        } => notify(state, step, *condition, *lock, count.as_ref()),
        StepKind::Put { queue, value } => {
            let value = state.eval(&step.text, value, step.pos);
            without_schedule_points(world.queue(*queue).put(value)).await;
        }
        StepKind::Get { queue, local } => {
            let value = without_schedule_points(world.queue(*queue).get()).await;
            if let Some(local) = local {
                state.locals[*local] = Some(value);
            }
        }
        StepKind::TaskDone(queue) => task_done(state, step, *queue),
        StepKind::JoinQueue(queue) => without_schedule_points(world.queue(*queue).join()).await,
        StepKind::Sleep(duration) => racecheck::time::sleep(*duration).await,
        StepKind::Yield => racecheck::yield_now().await,
        StepKind::Spawn(task) => {
            let handles = spawn_replicas(&state.owner, *task);
            state.spawned.extend(handles);
        }
        StepKind::Join(task) => join_tasks(state, *task).await,
        StepKind::Assert(predicate) => check_assertion(state, predicate),
        StepKind::Call(_)
        | StepKind::Fail
        | StepKind::With { .. }
        | StepKind::If { .. }
        | StepKind::While { .. }
        | StepKind::Repeat { .. } => {
            unreachable!("blocks, calls and `fail` are performed by `perform`")
        }
    }
}

/// `release L`: the task's latest hold of `L` not taken by a `with`, or
/// asyncio's behaviour for a release without an acquire.
fn release(state: &mut TaskState<'_>, step: &Step, primitive: usize) {
    let world = state.world;
    let program = &*world.program;
    let position = state
        .held
        .iter()
        .rposition(|held| held.primitive == primitive && !held.scoped);
    match (position, &world.primitives[primitive]) {
        (Some(position), _) => {
            let held = state.held.remove(position);
            release_hold(world, held);
        }
        // asyncio: `Semaphore.release()` without an acquire adds a
        // permit.
        (None, Object::Semaphore(semaphore)) => semaphore.add_permits(1),
        // A release by a task holding no permit: racecheck's
        // `release()` brings back only a permit given up with
        // `forget`, and the interpreter forgets none, so this is
        // asyncio's `ValueError` (asyncio would raise it at the
        // release that reaches the bound, which may be another
        // task's, later).
        (None, Object::BoundedSemaphore(semaphore)) => {
            if let Err(error) = semaphore.release() {
                panic!(
                    "ValueError: {error}: `{}` released by task '{}', which holds no permit of it, at {}",
                    program.primitives[primitive].name,
                    state.name,
                    state.at(step.pos)
                );
            }
        }
        (None, _) => panic!(
            "RuntimeError: `{}` released by task '{}', which does not hold it, at {}",
            program.primitives[primitive].name,
            state.name,
            state.at(step.pos)
        ),
    }
}

/// `notify C [n]` or `notify_all C`, which need `C`'s lock held.
fn notify(
    state: &TaskState<'_>,
    step: &Step,
    condition: usize,
    lock: usize,
    count: Option<&crate::expr::Expr>,
) {
    let world = state.world;
    let Object::Condition(object) = &world.primitives[condition] else {
        unreachable!("validated: a condition")
    };
    if !state.held.iter().any(|held| held.primitive == lock) {
        panic!(
            "RuntimeError: cannot notify on un-acquired lock: `{}` by task '{}', which does not hold `{}`, at {}",
            step.text,
            state.name,
            world.program.primitives[lock].name,
            state.at(step.pos)
        );
    }
    match count {
        None => object.notify_all(),
        // asyncio's `notify(n)` with `n <= 0` wakes nobody.
        Some(count) => {
            object.notify(usize::try_from(state.eval(&step.text, count, step.pos)).unwrap_or(0))
        }
    }
}

/// `task_done Q`; one too many is asyncio's `ValueError`.
fn task_done(state: &TaskState<'_>, step: &Step, queue: usize) {
    if state.world.queue(queue).try_task_done().is_err() {
        panic!(
            "ValueError: task_done() called too many times on `{}` by task '{}' at {}",
            state.world.program.primitives[queue].name,
            state.name,
            state.at(step.pos)
        );
    }
}

/// `join T`: waits for every copy of `T` that this task started.
async fn join_tasks(state: &mut TaskState<'_>, task: usize) {
    let mut index = 0;
    while index < state.spawned.len() {
        if state.spawned[index].0 == task {
            let (_, handle) = state.spawned.remove(index);
            without_schedule_points(handle).await;
        } else {
            index += 1;
        }
    }
}

/// `assert EXPR`: the task panics with the locals it read if `EXPR` is 0.
fn check_assertion(state: &TaskState<'_>, predicate: &Predicate) {
    if state.eval(&predicate.text, &predicate.expr, predicate.pos) == 0 {
        panic!(
            "assertion failed: `{}`{} at {}",
            predicate.text,
            state.locals_of(&predicate.expr),
            state.at(predicate.pos)
        );
    }
}

/// `call F`: `F`'s steps in this task, within the bound on nesting.
async fn call<'w>(state: &mut TaskState<'w>, step: &Step, function: usize) -> Flow {
    if state.depth >= CALL_DEPTH_MAX {
        panic!(
            "call depth exceeds {CALL_DEPTH_MAX} at {} (endless recursion?)",
            state.at(step.pos)
        );
    }
    let world = state.world;
    state.depth += 1;
    let flow = run(state, &world.program.functions[function].steps).await;
    state.depth -= 1;
    flow
}

/// `with L`: acquires `L`, runs the body, and releases `L` however the
/// body ends.
async fn with_block<'w>(
    state: &mut TaskState<'w>,
    step: &Step,
    primitive: usize,
    body: &[Step],
) -> Flow {
    let serial = acquire(state, primitive, true).await;
    let flow = run(state, body).await;
    // The release at the block's end is the `with` step's.
    attribute_events_to(Some(step.location));
    if let Some(position) = state.held.iter().position(|held| held.serial == serial) {
        let held = state.held.remove(position);
        release_hold(state.world, held);
    }
    flow
}

/// `while PRED`: the body as long as `PRED` holds, within the bound on
/// rounds.
async fn while_loop<'w>(
    state: &mut TaskState<'w>,
    step: &Step,
    condition: &Predicate,
    body: &[Step],
) -> Flow {
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
    Flow::Next
}

/// `wait C` (or `wait C while PRED`): the task's guard of `C`'s lock goes
/// into the wait and comes back re-locked. `PRED` reads shared variables
/// with the lock held, before waiting at all and after every wake-up, as
/// asyncio's `wait_for` does.
async fn wait_condition<'w>(
    state: &mut TaskState<'w>,
    step: &Step,
    condition: usize,
    lock: usize,
    while_: Option<&Predicate>,
) {
    let world = state.world;
    let Object::Condition(object) = &world.primitives[condition] else {
        unreachable!("validated: a condition")
    };
    let Some(position) = state.held.iter().rposition(|held| held.primitive == lock) else {
        panic!(
            "RuntimeError: cannot wait on un-acquired lock: `{}` by task '{}', which does not hold `{}`, at {}",
            step.text,
            state.name,
            world.program.primitives[lock].name,
            state.at(step.pos)
        );
    };
    let Hold::Lock(slot) = &mut state.held[position].hold else {
        unreachable!("validated: a condition's lock is a Lock")
    };
    let guard = slot
        .take()
        .expect("a task holding a lock waits on one condition at a time");
    let guard = match while_ {
        None => without_schedule_points(object.wait(guard)).await,
        Some(predicate) => {
            let holder: &TaskState<'w> = state;
            without_schedule_points(object.wait_while(guard, |_| {
                holder.eval(&predicate.text, &predicate.expr, predicate.pos) != 0
            }))
            .await
        }
    };
    let Hold::Lock(slot) = &mut state.held[position].hold else {
        unreachable!("the hold stays in place while its guard waits")
    };
    *slot = Some(guard);
}

/// `report` with the interpreter's own source line taken out of the panics
/// it raised: their messages name the scenario's `path:line:col`, and the
/// line of this file that raised them says nothing about the scenario.
pub(crate) fn without_interpreter_locations(mut report: Report) -> Report {
    if let Some(failure) = &mut report.failure {
        for kind in std::iter::once(&mut failure.kind).chain(&mut failure.also) {
            if let FailureKind::Panic { location, .. } = kind {
                if location.is_some_and(|location| location.file() == file!()) {
                    *location = None;
                }
            }
        }
    }
    report
}
