//! From TOML text to a [`Program`]: the document's structure, the step
//! mini-language, and validation, every error located in the file.

use crate::ast::{
    Expectation, Function, Predicate, Primitive, PrimitiveKind, Program, SharedVariable, Step,
    StepKind, Task,
};
use crate::error::{Located, Pos, SourceMap};
use crate::expr::{self, Var};
use racecheck::Location;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Limits on what a scenario may declare: tasks and their replicas,
/// counts, nesting.
const REPLICAS_MAX: u32 = 64;
const TASKS_TOTAL_MAX: u32 = 256;
const PERMITS_MAX: i64 = 1_000_000;
const REPEAT_MAX: i64 = 1_000_000;
const NESTING_MAX: usize = 32;
const SLEEP_MAX: Duration = Duration::from_secs(24 * 3600);

const TOP_KEYS: &[&str] = &[
    "description",
    "expect",
    "final",
    "iterations",
    "max_steps",
    "shared",
    "primitives",
    "functions",
    "task",
];
const TASK_KEYS: &[&str] = &["name", "count", "start", "steps"];
const KEYWORDS: &[&str] = &[
    "acquire",
    "release",
    "read",
    "write",
    "set",
    "clear",
    "wait",
    "notify",
    "notify_all",
    "put",
    "get",
    "task_done",
    "sleep",
    "yield",
    "spawn",
    "join",
    "assert",
    "call",
    "fail",
    "while",
    "replica",
    "and",
    "or",
    "not",
];

type Value<'i> = Spanned<DeValue<'i>>;

/// Parses and validates a scenario's source; `file` names it in the
/// locations that the execution's events are attributed to.
pub(crate) fn parse(source: &str, file: &str) -> Result<Program, Located> {
    let map = SourceMap::new(source);
    let document = DeTable::parse(source).map_err(|error| {
        let pos = map.pos(error.span().map_or(0, |span| span.start));
        let message = error.message().trim().replace('\n', " ");
        Located::new(pos, format!("invalid TOML: {message}"))
    })?;
    Loader::new(&map, source, file).document(document.get_ref())
}

/// A string value and where its characters are in the file.
struct Text<'a> {
    value: &'a str,
    /// The position of the string's first character, when every character
    /// of the value is one character of the file on one line (no escapes,
    /// no line breaks); otherwise the position of the opening quote.
    origin: Pos,
    exact: bool,
}

impl Text<'_> {
    /// The position of the value's `offset`-th character.
    fn at(&self, offset: usize) -> Pos {
        if self.exact {
            self.origin.right(offset)
        } else {
            self.origin
        }
    }

    /// An error from a parser that counted columns inside the value,
    /// moved to the string's start when those columns are not the file's.
    fn relocate(&self, error: Located) -> Located {
        if self.exact {
            error
        } else {
            Located::new(self.origin, error.message)
        }
    }
}

/// A primitive's declaration, `Kind` or `Kind(argument)`, being resolved.
struct Declaration<'d, 'v> {
    kind: &'v str,
    /// The argument and the character offset where it starts.
    argument: Option<(&'v str, usize)>,
    text: &'d Text<'v>,
}

impl Declaration<'_, '_> {
    /// `Lock`, `RLock` and `Event` take no argument.
    fn no_argument(&self) -> Result<(), Located> {
        match self.argument {
            Some((_, offset)) => Err(Located::new(
                self.text.at(offset),
                format!("`{}` takes no argument", self.kind),
            )),
            None => Ok(()),
        }
    }

    /// The argument as a count of permits or slots (`what`).
    fn number(&self, what: &str) -> Result<u32, Located> {
        let kind = self.kind;
        let Some((argument, offset)) = self.argument else {
            return Err(Located::new(
                self.text.at(kind.len()),
                format!("`{kind}` needs {what} in parentheses, e.g. `{kind}(3)`"),
            ));
        };
        match argument.trim().parse::<i64>() {
            Ok(number) if (0..=PERMITS_MAX).contains(&number) => Ok(number as u32),
            _ => Err(Located::new(
                self.text.at(offset),
                format!(
                    "{what} must be an integer between 0 and {PERMITS_MAX}, found `{}`",
                    argument.trim()
                ),
            )),
        }
    }
}

/// Which names a lexical context may use, and what it may hold.
#[derive(Clone, Default)]
struct Scope {
    /// Locals assigned earlier.
    defined: BTreeSet<String>,
    /// In a function: the caller's locals and holdings are unknown.
    in_function: bool,
    /// A call came earlier: the callee may have acquired anything.
    after_call: bool,
    /// Acquired by `acquire` steps (primitive index → count).
    acquired: BTreeMap<usize, u32>,
    /// Held by enclosing `with` blocks.
    scoped: BTreeMap<usize, u32>,
    nesting: usize,
}

impl Scope {
    fn holds_unknown(&self) -> bool {
        self.in_function || self.after_call
    }

    fn count(map: &BTreeMap<usize, u32>, primitive: usize) -> u32 {
        map.get(&primitive).copied().unwrap_or(0)
    }

    /// After a block that may or may not have run: what it may have
    /// acquired counts as held (so a later release is not flagged).
    fn merge_block(&mut self, block: Scope) {
        for (primitive, count) in block.acquired {
            let held = self.acquired.entry(primitive).or_insert(0);
            *held = (*held).max(count);
        }
        self.defined.extend(block.defined);
        self.after_call |= block.after_call;
    }
}

struct Loader<'m, 's> {
    map: &'m SourceMap<'s>,
    /// The scenario's path, for [`Loader::location`].
    file: &'m str,
    program: Program,
    /// Names declared so far, for duplicate and kind errors.
    names: BTreeMap<String, &'static str>,
    /// Every local any step of the file assigns (for functions, whose
    /// caller's locals are not known statically).
    assigned_anywhere: BTreeSet<String>,
}

impl<'m, 's> Loader<'m, 's> {
    fn new(map: &'m SourceMap<'s>, source: &str, file: &'m str) -> Loader<'m, 's> {
        let assigned_anywhere = assigned_names(source);
        Loader {
            map,
            file,
            program: Program {
                description: String::new(),
                expectation: Expectation::Pass,
                final_state: None,
                iterations: None,
                max_steps: None,
                shared: Vec::new(),
                primitives: Vec::new(),
                functions: Vec::new(),
                tasks: Vec::new(),
                // Every name assigned anywhere has a slot from the start, so
                // a function may read a local its caller assigns later in
                // the file.
                locals: assigned_anywhere.iter().cloned().collect(),
            },
            names: BTreeMap::new(),
            assigned_anywhere,
        }
    }

    fn pos(&self, span: Range<usize>) -> Pos {
        self.map.pos(span.start)
    }

    /// `pos` in the scenario file, as the runtime records locations
    /// (interned once here, not at every step of every execution).
    fn location(&self, pos: Pos) -> Location {
        Location::from_parts(self.file, pos.line, pos.column)
    }

    fn step(&self, pos: Pos, text: String, kind: StepKind) -> Step {
        Step {
            pos,
            location: self.location(pos),
            text,
            kind,
        }
    }

    fn error<T>(&self, span: Range<usize>, message: impl Into<String>) -> Result<T, Located> {
        Err(Located::new(self.pos(span), message))
    }

    fn text<'v>(&self, value: &'v Value<'_>, what: &str) -> Result<Text<'v>, Located> {
        let DeValue::String(text) = value.get_ref() else {
            return self.error(
                value.span(),
                format!(
                    "{what} must be a string, found {}",
                    article(value.get_ref())
                ),
            );
        };
        let span = value.span();
        let raw = self.map.slice(span.clone());
        let single = (raw.starts_with('"') && !raw.starts_with("\"\"\""))
            || (raw.starts_with('\'') && !raw.starts_with("'''"));
        let exact = single && raw.len() >= 2 && &raw[1..raw.len() - 1] == text.as_ref();
        let origin = if exact {
            self.map.pos(span.start + 1)
        } else {
            self.map.pos(span.start)
        };
        Ok(Text {
            value: text.as_ref(),
            origin,
            exact,
        })
    }

    fn integer(&self, value: &Value<'_>, what: &str, range: (i64, i64)) -> Result<i64, Located> {
        let DeValue::Integer(integer) = value.get_ref() else {
            return self.error(
                value.span(),
                format!(
                    "{what} must be an integer, found {}",
                    article(value.get_ref())
                ),
            );
        };
        let parsed = i64::from_str_radix(integer.as_str(), integer.radix()).ok();
        match parsed {
            Some(number) if number >= range.0 && number <= range.1 => Ok(number),
            _ => self.error(
                value.span(),
                format!("{what} must be between {} and {}", range.0, range.1),
            ),
        }
    }

    fn table<'v, 'i>(&self, value: &'v Value<'i>, what: &str) -> Result<&'v DeTable<'i>, Located> {
        match value.get_ref() {
            DeValue::Table(table) => Ok(table),
            other => self.error(
                value.span(),
                format!("{what} must be a table, found {}", article(other)),
            ),
        }
    }

    fn array<'v, 'i>(&self, value: &'v Value<'i>, what: &str) -> Result<&'v [Value<'i>], Located> {
        match value.get_ref() {
            DeValue::Array(array) => Ok(array),
            other => self.error(
                value.span(),
                format!("{what} must be an array, found {}", article(other)),
            ),
        }
    }

    fn check_keys(
        &self,
        table: &DeTable<'_>,
        allowed: &[&str],
        context: &str,
    ) -> Result<(), Located> {
        for key in table.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                return self.error(
                    key.span(),
                    format!(
                        "unknown key `{}` {context} (expected one of: {})",
                        key.get_ref(),
                        allowed.join(", ")
                    ),
                );
            }
        }
        Ok(())
    }

    fn declare(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        kind: &'static str,
    ) -> Result<String, Located> {
        let name = key.get_ref().to_string();
        if !is_identifier(&name) {
            return self.error(
                key.span(),
                format!("`{name}` is not a valid {kind} name (letters, digits and `_`, not starting with a digit)"),
            );
        }
        if KEYWORDS.contains(&name.as_str()) {
            return self.error(
                key.span(),
                format!("`{name}` is a keyword and cannot name a {kind}"),
            );
        }
        if let Some(previous) = self.names.insert(name.clone(), kind) {
            return self.error(
                key.span(),
                format!("`{name}` is already declared as a {previous}"),
            );
        }
        Ok(name)
    }

    fn document(mut self, document: &DeTable<'_>) -> Result<Program, Located> {
        self.check_keys(document, TOP_KEYS, "at the top level")?;
        self.settings(document)?;
        if let Some(shared) = document.get("shared") {
            self.shared_variables(self.table(shared, "`shared`")?)?;
        }
        if let Some(primitives) = document.get("primitives") {
            self.primitives(self.table(primitives, "`primitives`")?)?;
        }
        let functions = match document.get("functions") {
            Some(functions) => Some(self.table(functions, "`functions`")?),
            None => None,
        };
        // Names first, so calls, spawns and joins may refer forward.
        if let Some(functions) = functions {
            for (key, _) in functions.iter() {
                let name = self.declare(key, "function")?;
                self.program.functions.push(Function {
                    name,
                    steps: Vec::new(),
                });
            }
        }
        let tasks = match document.get("task") {
            Some(tasks) => self.array(tasks, "`task` (write `[[task]]` sections)")?,
            None => {
                return Err(Located::new(
                    self.map.pos(usize::MAX),
                    "a scenario needs at least one `[[task]]` section",
                ))
            }
        };
        let mut replicas_total = 0u32;
        for task in tasks {
            self.declare_task(task, &mut replicas_total)?;
        }
        if let Some(functions) = functions {
            for (index, (_, body)) in functions.iter().enumerate() {
                let mut scope = Scope {
                    in_function: true,
                    ..Scope::default()
                };
                let steps = self.steps(body, &mut scope, "a function's body")?;
                self.program.functions[index].steps = steps;
            }
        }
        self.task_steps(tasks)?;
        if let Some(final_state) = document.get("final") {
            self.program.final_state = Some(self.final_state(final_state)?);
        }
        Ok(self.program)
    }

    /// `description`, `expect`, `iterations` and `max_steps`.
    fn settings(&mut self, document: &DeTable<'_>) -> Result<(), Located> {
        let Some(description) = document.get("description") else {
            return Err(Located::new(
                Pos { line: 1, column: 1 },
                "missing `description` (a one-line summary, shown by `racecheck list`)",
            ));
        };
        let description_text = self
            .text(description, "`description`")?
            .value
            .trim()
            .to_string();
        if description_text.contains('\n') {
            return self.error(description.span(), "`description` must be one line");
        }
        self.program.description = description_text;
        if let Some(expect) = document.get("expect") {
            let text = self.text(expect, "`expect`")?;
            self.program.expectation = text
                .value
                .parse()
                .map_err(|message| Located::new(text.at(0), message))?;
        }
        if let Some(iterations) = document.get("iterations") {
            self.program.iterations =
                Some(self.integer(iterations, "`iterations`", (1, 100_000_000))? as u64);
        }
        if let Some(max_steps) = document.get("max_steps") {
            self.program.max_steps =
                Some(self.integer(max_steps, "`max_steps`", (1, i64::from(u32::MAX)))? as u32);
        }
        Ok(())
    }

    /// The `[shared]` table: `name = initial integer`.
    fn shared_variables(&mut self, shared: &DeTable<'_>) -> Result<(), Located> {
        for (key, value) in shared.iter() {
            let name = self.declare(key, "shared variable")?;
            let initial = self.integer(
                value,
                &format!("shared variable `{name}`'s initial value"),
                (i64::MIN, i64::MAX),
            )?;
            let location = self.location(self.pos(key.span()));
            self.program.shared.push(SharedVariable {
                name,
                initial,
                location,
            });
        }
        Ok(())
    }

    /// A `[[task]]`'s name, `count` and `start` (its steps come once every
    /// task is declared, so `spawn` and `join` may refer forward).
    fn declare_task(&mut self, task: &Value<'_>, replicas_total: &mut u32) -> Result<(), Located> {
        let table = self.table(task, "a `[[task]]`")?;
        self.check_keys(table, TASK_KEYS, "in a [[task]]")?;
        let Some(name) = table.get("name") else {
            return self.error(task.span(), "a [[task]] needs a `name`");
        };
        let name_text = self.text(name, "a task's `name`")?;
        let location = self.location(name_text.at(0));
        let key = Spanned::new(name.span(), std::borrow::Cow::Borrowed(name_text.value));
        let name = self.declare(&key, "task")?;
        let count = match table.get("count") {
            Some(count) => self.integer(count, "`count`", (1, i64::from(REPLICAS_MAX)))? as u32,
            None => 1,
        };
        *replicas_total += count;
        if *replicas_total > TASKS_TOTAL_MAX {
            return self.error(
                task.span(),
                format!("too many tasks: at most {TASKS_TOTAL_MAX} replicas in all"),
            );
        }
        let start = match table.get("start") {
            Some(start) => match start.get_ref() {
                DeValue::Boolean(start) => *start,
                other => {
                    return self.error(
                        start.span(),
                        format!("`start` must be a boolean, found {}", article(other)),
                    )
                }
            },
            None => true,
        };
        self.program.tasks.push(Task {
            name,
            count,
            start,
            steps: Vec::new(),
            location,
        });
        Ok(())
    }

    /// Every declared task's `steps`, and that some task starts.
    fn task_steps(&mut self, tasks: &[Value<'_>]) -> Result<(), Located> {
        for (index, task) in tasks.iter().enumerate() {
            let table = self.table(task, "a `[[task]]`")?;
            let Some(steps) = table.get("steps") else {
                return self.error(
                    task.span(),
                    format!("task `{}` needs `steps`", self.program.tasks[index].name),
                );
            };
            let mut scope = Scope::default();
            self.program.tasks[index].steps = self.steps(steps, &mut scope, "`steps`")?;
        }
        if !self.program.tasks.iter().any(|task| task.start) {
            return self.error(
                tasks[0].span(),
                "no task has `start = true`: nothing would run",
            );
        }
        Ok(())
    }

    /// `final`: a predicate over shared variables.
    fn final_state(&self, final_state: &Value<'_>) -> Result<Predicate, Located> {
        let text = self.text(final_state, "`final`")?;
        let shared = &self.program.shared;
        let expr = expr::parse(text.value, text.at(0), &mut |name, pos| {
            shared_var(shared, name, pos)
        })
        .map_err(|error| text.relocate(error))?;
        Ok(Predicate {
            expr,
            text: text.value.trim().to_string(),
            pos: text.at(0),
        })
    }

    fn primitives(&mut self, table: &DeTable<'_>) -> Result<(), Located> {
        // Conditions may name a lock declared after them: declare the
        // names first, then resolve.
        let mut pending = Vec::new();
        for (key, value) in table.iter() {
            let name = self.declare(key, "primitive")?;
            let text = self.text(value, &format!("primitive `{name}`"))?;
            let (kind, argument) = split_call(text.value)
                .map_err(|(offset, message)| Located::new(text.at(offset), message))?;
            let index = self.program.primitives.len();
            self.program.primitives.push(Primitive {
                name: name.clone(),
                kind: PrimitiveKind::Lock,
                location: self.location(self.pos(key.span())),
            });
            pending.push((index, kind, argument, text));
        }
        for (index, kind, argument, text) in pending {
            let declaration = Declaration {
                kind,
                argument,
                text: &text,
            };
            self.program.primitives[index].kind =
                self.primitive_kind(index, &declaration, table)?;
        }
        Ok(())
    }

    /// What the declaration of the primitive at `index` declares.
    fn primitive_kind(
        &mut self,
        index: usize,
        declaration: &Declaration<'_, '_>,
        table: &DeTable<'_>,
    ) -> Result<PrimitiveKind, Located> {
        Ok(match declaration.kind {
            "Lock" => {
                declaration.no_argument()?;
                PrimitiveKind::Lock
            }
            "RLock" => {
                declaration.no_argument()?;
                PrimitiveKind::RLock
            }
            "Event" => {
                declaration.no_argument()?;
                PrimitiveKind::Event
            }
            "Semaphore" => PrimitiveKind::Semaphore(declaration.number("the number of permits")?),
            "BoundedSemaphore" => {
                PrimitiveKind::BoundedSemaphore(declaration.number("the number of permits")?)
            }
            "Queue" => match declaration.argument {
                None => PrimitiveKind::Queue(0),
                Some(_) => PrimitiveKind::Queue(declaration.number("`maxsize` (0 = unbounded)")?),
            },
            "Condition" => PrimitiveKind::Condition {
                lock: self.condition_lock(index, declaration, table)?,
            },
            other => {
                return Err(Located::new(
                    declaration.text.at(0),
                    format!(
                        "unknown primitive `{other}` (expected Lock, RLock, Semaphore(n), \
                         BoundedSemaphore(n), Event, Condition or Condition(lock), Queue(maxsize))"
                    ),
                ))
            }
        })
    }

    /// The lock of the `Condition` at `index`: the one its declaration
    /// names, or else a new one of its own (`C.lock`).
    fn condition_lock(
        &mut self,
        index: usize,
        declaration: &Declaration<'_, '_>,
        table: &DeTable<'_>,
    ) -> Result<usize, Located> {
        let Some((raw, offset)) = declaration.argument else {
            let condition = &self.program.primitives[index];
            let name = format!("{}.lock", condition.name);
            let location = condition.location;
            self.program.primitives.push(Primitive {
                name,
                kind: PrimitiveKind::Lock,
                location,
            });
            return Ok(self.program.primitives.len() - 1);
        };
        let lock = raw.trim();
        let at = declaration
            .text
            .at(offset + raw.len() - raw.trim_start().len());
        match self.program.primitives.iter().position(|p| p.name == lock) {
            Some(position)
                if matches!(self.program.primitives[position].kind, PrimitiveKind::Lock)
                    && !self.is_pending_non_lock(position, table) =>
            {
                Ok(position)
            }
            Some(_) => Err(Located::new(
                at,
                format!("`{lock}` is not a Lock: a Condition needs a Lock"),
            )),
            None => Err(Located::new(
                at,
                format!("undefined lock `{lock}` (declare it in [primitives], e.g. `{lock} = \"Lock\"`)"),
            )),
        }
    }

    /// Whether the primitive at `position` is declared as something other
    /// than a plain `Lock` (its kind is still the placeholder while the
    /// declarations are resolved).
    fn is_pending_non_lock(&self, position: usize, table: &DeTable<'_>) -> bool {
        let name = &self.program.primitives[position].name;
        match table.get(name.as_str()).map(|value| value.get_ref()) {
            Some(DeValue::String(text)) => text.trim() != "Lock",
            _ => false,
        }
    }

    fn steps(
        &mut self,
        value: &Value<'_>,
        scope: &mut Scope,
        what: &str,
    ) -> Result<Vec<Step>, Located> {
        if scope.nesting > NESTING_MAX {
            return self.error(
                value.span(),
                format!("blocks nested too deeply (at most {NESTING_MAX})"),
            );
        }
        let items = self.array(value, what)?;
        let mut steps = Vec::with_capacity(items.len());
        for item in items {
            steps.push(match item.get_ref() {
                DeValue::String(_) => {
                    let text = self.text(item, "a step")?;
                    self.simple_step(&text, scope)?
                }
                DeValue::Table(table) => self.block(item.span(), table, scope)?,
                other => {
                    return self.error(
                        item.span(),
                        format!("a step must be a string or a block table such as `{{ with = \"lock\", do = [...] }}`, found {}", article(other)),
                    )
                }
            });
        }
        Ok(steps)
    }

    fn block(
        &mut self,
        span: Range<usize>,
        table: &DeTable<'_>,
        scope: &mut Scope,
    ) -> Result<Step, Located> {
        let pos = self.pos(span.clone());
        let head = self.block_head(span.clone(), table)?;
        let allowed: &[&str] = if head == "if" {
            &["if", "do", "else"]
        } else {
            &[head, "do"][..]
        };
        self.check_keys(table, allowed, &format!("in a `{head}` block"))?;
        let Some(body) = table.get("do") else {
            return self.error(span, format!("a `{head}` block needs `do = [ ...steps ]`"));
        };
        let Some(head_value) = table.get(head) else {
            return self.error(span, format!("a block needs `{head}`"));
        };
        let mut inner = scope.clone();
        inner.nesting += 1;
        let (text, kind) = match head {
            "with" => self.with_block(head_value, body, &mut inner)?,
            "if" => self.if_block(head_value, body, table.get("else"), scope, &mut inner)?,
            "while" => {
                let condition = self.predicate_of_locals(head_value, scope)?;
                let body = self.steps(body, &mut inner, "`do`")?;
                (
                    format!("while {}", condition.text),
                    StepKind::While { condition, body },
                )
            }
            _ => {
                let times = self.integer(head_value, "`repeat`", (0, REPEAT_MAX))? as u32;
                let body = self.steps(body, &mut inner, "`do`")?;
                (format!("repeat {times}"), StepKind::Repeat { times, body })
            }
        };
        scope.merge_block(inner);
        Ok(self.step(pos, text, kind))
    }

    /// The one key of `with`, `if`, `while` and `repeat` that the block
    /// table has.
    fn block_head(&self, span: Range<usize>, table: &DeTable<'_>) -> Result<&'static str, Located> {
        let heads: Vec<&'static str> = ["with", "if", "while", "repeat"]
            .into_iter()
            .filter(|key| table.contains_key(*key))
            .collect();
        match heads.as_slice() {
            [head] => Ok(*head),
            [] => self.error(
                span,
                "a block needs one of `with`, `if`, `while` or `repeat`, and `do`",
            ),
            [_, second, ..] => {
                let key = table
                    .get_key_value(*second)
                    .map_or(span.clone(), |(key, _)| key.span());
                self.error(
                    key,
                    format!("a block has one head, found `{}` and `{second}`", heads[0]),
                )
            }
        }
    }

    /// `{ with = "L", do = [...] }`: the body holds `L`.
    fn with_block(
        &mut self,
        head_value: &Value<'_>,
        body: &Value<'_>,
        inner: &mut Scope,
    ) -> Result<(String, StepKind), Located> {
        let text = self.text(head_value, "`with`")?;
        let name = text.value.trim();
        let primitive = self.acquirable(name, text.at(leading(text.value)))?;
        *inner.scoped.entry(primitive).or_insert(0) += 1;
        let body = self.steps(body, inner, "`do`")?;
        *inner.scoped.entry(primitive).or_insert(1) -= 1;
        Ok((format!("with {name}"), StepKind::With { primitive, body }))
    }

    /// `{ if = "PRED", do = [...], else = [...] }`; what either branch may
    /// have acquired counts as held after it.
    fn if_block(
        &mut self,
        head_value: &Value<'_>,
        body: &Value<'_>,
        otherwise: Option<&Value<'_>>,
        scope: &mut Scope,
        inner: &mut Scope,
    ) -> Result<(String, StepKind), Located> {
        let condition = self.predicate_of_locals(head_value, scope)?;
        let then = self.steps(body, inner, "`do`")?;
        let mut other = scope.clone();
        other.nesting += 1;
        let otherwise = match otherwise {
            Some(otherwise) => self.steps(otherwise, &mut other, "`else`")?,
            None => Vec::new(),
        };
        scope.merge_block(other);
        Ok((
            format!("if {}", condition.text),
            StepKind::If {
                condition,
                then,
                otherwise,
            },
        ))
    }

    fn predicate_of_locals(
        &mut self,
        value: &Value<'_>,
        scope: &Scope,
    ) -> Result<Predicate, Located> {
        let text = self.text(value, "a condition")?;
        let expr = self.local_expr(&text, 0, scope)?;
        Ok(Predicate {
            expr,
            text: text.value.trim().to_string(),
            pos: text.at(leading(text.value)),
        })
    }

    /// An expression over locals, starting at character `offset` of the
    /// text.
    fn local_expr(
        &self,
        text: &Text<'_>,
        offset: usize,
        scope: &Scope,
    ) -> Result<expr::Expr, Located> {
        let rest: String = text.value.chars().skip(offset).collect();
        let program = &self.program;
        let assigned_anywhere = &self.assigned_anywhere;
        let mut resolve = |name: &str, pos: Pos| -> Result<Var, Located> {
            if name == "replica" {
                return Ok(Var::Replica);
            }
            if program.shared.iter().any(|shared| shared.name == name) {
                return Err(Located::new(pos, format!("`{name}` is a shared variable: read it into a local first (`n = read {name}`)")));
            }
            let known = scope.defined.contains(name)
                || (scope.holds_unknown() && assigned_anywhere.contains(name));
            match program.locals.iter().position(|local| local == name) {
                Some(slot) if known => Ok(Var::Local(slot)),
                _ => Err(Located::new(pos, format!("undefined local `{name}` (assign it first, e.g. `{name} = read <shared>` or `{name} = 0`)"))),
            }
        };
        expr::parse(&rest, text.at(offset), &mut resolve).map_err(|error| text.relocate(error))
    }

    fn local_slot(&mut self, name: &str, pos: Pos, scope: &mut Scope) -> Result<usize, Located> {
        if !is_identifier(name) {
            return Err(Located::new(
                pos,
                format!("`{name}` is not a valid local name (letters, digits and `_`)"),
            ));
        }
        if KEYWORDS.contains(&name) {
            return Err(Located::new(
                pos,
                format!("`{name}` is a keyword and cannot name a local"),
            ));
        }
        if let Some(kind) = self.names.get(name) {
            return Err(Located::new(
                pos,
                format!("`{name}` is a {kind}; name the local differently"),
            ));
        }
        scope.defined.insert(name.to_string());
        Ok(
            match self.program.locals.iter().position(|local| local == name) {
                Some(slot) => slot,
                None => {
                    self.program.locals.push(name.to_string());
                    self.program.locals.len() - 1
                }
            },
        )
    }

    fn find(&self, name: &str, pos: Pos) -> Result<(usize, PrimitiveKind), Located> {
        match self.program.primitives.iter().position(|p| p.name == name) {
            Some(index) => Ok((index, self.program.primitives[index].kind)),
            None if self.program.shared.iter().any(|s| s.name == name) => Err(Located::new(
                pos,
                format!("`{name}` is a shared variable, not a primitive"),
            )),
            None if name.is_empty() => Err(Located::new(pos, "expected the name of a primitive")),
            None => Err(Located::new(
                pos,
                format!("undefined primitive `{name}` (declare it in [primitives])"),
            )),
        }
    }

    /// A lock, re-entrant lock, semaphore or condition; a condition
    /// resolves to its lock.
    fn acquirable(&self, name: &str, pos: Pos) -> Result<usize, Located> {
        let (index, kind) = self.find(name, pos)?;
        match kind {
            PrimitiveKind::Condition { lock } => Ok(lock),
            kind if kind.is_acquirable() => Ok(index),
            kind => Err(Located::new(
                pos,
                format!(
                    "`{name}` is {} {}: only locks, semaphores and conditions are acquired",
                    article_for(kind.name()),
                    kind.name()
                ),
            )),
        }
    }

    fn expect_kind(
        &self,
        name: &str,
        pos: Pos,
        step: &str,
        wanted: &[&str],
    ) -> Result<(usize, PrimitiveKind), Located> {
        let (index, kind) = self.find(name, pos)?;
        if wanted.contains(&kind.name()) {
            Ok((index, kind))
        } else {
            Err(Located::new(
                pos,
                format!(
                    "`{step}` needs {}, but `{name}` is {} {}",
                    wanted.join(" or "),
                    article_for(kind.name()),
                    kind.name()
                ),
            ))
        }
    }

    fn shared_index(&self, name: &str, pos: Pos) -> Result<usize, Located> {
        match self.program.shared.iter().position(|s| s.name == name) {
            Some(index) => Ok(index),
            None if self.program.primitives.iter().any(|p| p.name == name) => Err(Located::new(
                pos,
                format!("`{name}` is a primitive, not a shared variable"),
            )),
            None => Err(Located::new(
                pos,
                format!("undefined shared variable `{name}` (declare it in [shared])"),
            )),
        }
    }

    fn simple_step(&mut self, text: &Text<'_>, scope: &mut Scope) -> Result<Step, Located> {
        let pos = text.at(leading(text.value));
        let step_text = text.value.trim().to_string();
        let words = words(text.value);
        let Some(&(first, first_at)) = words.first() else {
            return Err(Located::new(pos, "empty step"));
        };
        // `name = ...`: an assignment to a local (`write x = ...` is a step
        // of its own).
        if let Some(equals) = assignment_equals(text.value) {
            let target: String = text.value.chars().take(equals).collect();
            let target = target.trim();
            if target != "write" && !target.starts_with("write ") {
                let kind = self.assignment(text, target, equals, pos, scope)?;
                return Ok(self.step(pos, step_text, kind));
            }
        }
        let step = StepWords {
            text,
            words,
            first,
            pos,
        };
        let kind = match first {
            "acquire" | "release" => self.acquire_or_release(&step, scope)?,
            "write" => self.write(text, first_at, scope)?,
            "set" | "clear" => {
                let (name, at) = step.name_after("an event")?;
                step.no_more(2)?;
                let (event, _) = self.expect_kind(name, at, first, &["Event"])?;
                if first == "set" {
                    StepKind::Set(event)
                } else {
                    StepKind::Clear(event)
                }
            }
            "wait" => self.wait(&step, scope)?,
            "notify" | "notify_all" => self.notify(&step, scope)?,
            "put" => {
                let (name, at) = step.name_after("a queue")?;
                let (queue, _) = self.expect_kind(name, at, "put", &["Queue"])?;
                let Some((_, value_at)) = step.word(2) else {
                    return Err(Located::new(
                        text.at(step.end()),
                        "expected `put <queue> <expression>`",
                    ));
                };
                let value = self.local_expr(text, value_at, scope)?;
                StepKind::Put { queue, value }
            }
            "get" | "task_done" => {
                let (name, at) = step.name_after("a queue")?;
                step.no_more(2)?;
                let (queue, _) = self.expect_kind(name, at, first, &["Queue"])?;
                if first == "get" {
                    StepKind::Get { queue, local: None }
                } else {
                    StepKind::TaskDone(queue)
                }
            }
            _ => self.other_step(&step, scope)?,
        };
        Ok(self.step(pos, step_text, kind))
    }

    /// The steps that do not act on a primitive: `sleep`, `yield`, `fail`,
    /// `spawn`, `join`, `call`, `assert` (and the error for an unknown
    /// word).
    fn other_step(&self, step: &StepWords<'_, '_>, scope: &mut Scope) -> Result<StepKind, Located> {
        let (first, text) = (step.first, step.text);
        Ok(match first {
            "sleep" => {
                let (duration, at) = step.name_after("a duration such as `10ms`")?;
                step.no_more(2)?;
                StepKind::Sleep(parse_duration(duration).map_err(|message| Located::new(at, message))?)
            }
            "yield" => {
                step.no_more(1)?;
                StepKind::Yield
            }
            "fail" => {
                step.no_more(1)?;
                StepKind::Fail
            }
            "spawn" | "join" => self.spawn_or_join(step)?,
            "call" => {
                let (name, at) = step.name_after("a function")?;
                step.no_more(2)?;
                let Some(function) = self.program.functions.iter().position(|f| f.name == name) else {
                    return Err(Located::new(at, format!("undefined function `{name}` (declare it in [functions])")));
                };
                scope.after_call = true;
                StepKind::Call(function)
            }
            "assert" => {
                if step.word(1).is_none() {
                    return Err(Located::new(text.at(step.end()), "expected an expression after `assert`"));
                }
                let offset = step.words[0].1 + 6;
                let expr = self.local_expr(text, offset, scope)?;
                let rest: String = text.value.chars().skip(offset).collect();
                StepKind::Assert(Predicate { expr, text: rest.trim().to_string(), pos: text.at(offset + leading(&rest)) })
            }
            other => {
                return Err(Located::new(
                    text.at(step.words[0].1),
                    format!(
                        "unknown step `{other}` (expected acquire, release, `x = read v`, `write v = ...`, \
                         `x = ...`, set, clear, wait, notify, notify_all, put, get, task_done, sleep, yield, \
                         spawn, join, assert, call, fail, or a block table)"
                    ),
                ))
            }
        })
    }

    /// `x = read v`, `x = get Q` or `x = EXPR`, whose `=` is at character
    /// `equals`.
    fn assignment(
        &mut self,
        text: &Text<'_>,
        target: &str,
        equals: usize,
        pos: Pos,
        scope: &mut Scope,
    ) -> Result<StepKind, Located> {
        let end = text.value.chars().count();
        let rest_at = equals + 1;
        let rest: String = text.value.chars().skip(rest_at).collect();
        let rest_words = words_from(&rest, rest_at);
        Ok(match rest_words.first().map(|&(w, _)| w) {
            Some("read") => {
                let (name, at) = rest_words.get(1).copied().ok_or_else(|| {
                    Located::new(text.at(end), "expected a shared variable after `read`")
                })?;
                no_more(&rest_words, 2, text)?;
                let shared = self.shared_index(name, text.at(at))?;
                let local = self.local_slot(target, pos, scope)?;
                StepKind::Read { local, shared }
            }
            Some("get") => {
                let (name, at) = rest_words
                    .get(1)
                    .copied()
                    .ok_or_else(|| Located::new(text.at(end), "expected a queue after `get`"))?;
                no_more(&rest_words, 2, text)?;
                let (queue, _) = self.expect_kind(name, text.at(at), "get", &["Queue"])?;
                let local = self.local_slot(target, pos, scope)?;
                StepKind::Get {
                    queue,
                    local: Some(local),
                }
            }
            _ => {
                let value = self.local_expr(text, rest_at, scope)?;
                let local = self.local_slot(target, pos, scope)?;
                StepKind::Assign { local, value }
            }
        })
    }

    /// `acquire L` or `release L`, checked against what the task holds
    /// here when the file shows it.
    fn acquire_or_release(
        &self,
        step: &StepWords<'_, '_>,
        scope: &mut Scope,
    ) -> Result<StepKind, Located> {
        let (name, at) = step.name_after("a lock, semaphore or condition")?;
        step.no_more(2)?;
        let primitive = self.acquirable(name, at)?;
        if step.first == "acquire" {
            *scope.acquired.entry(primitive).or_insert(0) += 1;
            return Ok(StepKind::Acquire(primitive));
        }
        let kind = self.program.primitives[primitive].kind;
        let lock_like = matches!(kind, PrimitiveKind::Lock | PrimitiveKind::RLock);
        let acquired = Scope::count(&scope.acquired, primitive);
        if lock_like && !scope.holds_unknown() && acquired == 0 {
            let message = if Scope::count(&scope.scoped, primitive) > 0 {
                format!("`release {name}` inside `with {name}`: the block releases it when it ends")
            } else {
                format!("`release {name}`: this task does not hold `{name}` here (no earlier `acquire {name}`)")
            };
            return Err(Located::new(step.pos, message));
        }
        if acquired > 0 {
            scope.acquired.insert(primitive, acquired - 1);
        }
        Ok(StepKind::Release(primitive))
    }

    /// `write v = EXPR`, whose `write` is at character `first_at`.
    fn write(&self, text: &Text<'_>, first_at: usize, scope: &Scope) -> Result<StepKind, Located> {
        let Some(equals) = assignment_equals(text.value) else {
            return Err(Located::new(
                text.at(first_at + 5),
                "expected `write <shared> = <expression>`",
            ));
        };
        let target: String = text.value.chars().take(equals).skip(first_at + 5).collect();
        let target_at = first_at + 5 + leading(&target);
        let shared = self.shared_index(target.trim(), text.at(target_at))?;
        let value = self.local_expr(text, equals + 1, scope)?;
        Ok(StepKind::Write { shared, value })
    }

    /// `wait E` on an event; `wait C` or `wait C while PRED` on a
    /// condition, whose lock the task must hold.
    fn wait(&self, step: &StepWords<'_, '_>, scope: &Scope) -> Result<StepKind, Located> {
        let text = step.text;
        let (name, at) = step.name_after("an event or condition")?;
        let (index, kind) = self.expect_kind(name, at, "wait", &["Event", "Condition"])?;
        let PrimitiveKind::Condition { lock } = kind else {
            step.no_more(2)?;
            return Ok(StepKind::WaitEvent(index));
        };
        self.needs_lock(name, lock, step.pos, scope, "wait")?;
        let while_ = match step.word(2) {
            None => None,
            Some(("while", while_at)) => {
                let offset = while_at + 5;
                let rest: String = text.value.chars().skip(offset).collect();
                let shared = &self.program.shared;
                let expr = expr::parse(&rest, text.at(offset), &mut |name, pos| shared_var(shared, name, pos))
                    .map_err(|error| text.relocate(error))?;
                Some(Predicate { expr, text: rest.trim().to_string(), pos: text.at(offset + leading(&rest)) })
            }
            Some((other, other_at)) => {
                return Err(Located::new(text.at(other_at), format!("expected `while <predicate over shared variables>` or the end of the step, found `{other}`")))
            }
        };
        Ok(StepKind::WaitCondition {
            condition: index,
            lock,
            while_,
        })
    }

    /// `notify C`, `notify C EXPR` (asyncio's `C.notify(n)`, `n` over
    /// locals) or `notify_all C`, with `C`'s lock held.
    fn notify(&self, step: &StepWords<'_, '_>, scope: &Scope) -> Result<StepKind, Located> {
        let first = step.first;
        let (name, at) = step.name_after("a condition")?;
        let (condition, kind) = self.expect_kind(name, at, first, &["Condition"])?;
        let PrimitiveKind::Condition { lock } = kind else {
            return Err(Located::new(at, "expected a condition"));
        };
        self.needs_lock(name, lock, step.pos, scope, first)?;
        let count = match (first, step.word(2)) {
            ("notify_all", _) => {
                step.no_more(2)?;
                None
            }
            (_, None) => Some(expr::Expr::Int(1)),
            (_, Some((_, count_at))) => Some(self.local_expr(step.text, count_at, scope)?),
        };
        Ok(StepKind::Notify {
            condition,
            lock,
            count,
        })
    }

    /// `spawn T`, `join T`, or `join Q` on a queue.
    fn spawn_or_join(&self, step: &StepWords<'_, '_>) -> Result<StepKind, Located> {
        let (name, at) = step.name_after("a task")?;
        step.no_more(2)?;
        if step.first == "join" && self.program.primitives.iter().any(|p| p.name == name) {
            let (queue, _) = self.expect_kind(name, at, "join", &["Queue"])?;
            return Ok(StepKind::JoinQueue(queue));
        }
        let Some(task) = self.program.tasks.iter().position(|task| task.name == name) else {
            return Err(Located::new(at, format!("undefined task `{name}`")));
        };
        Ok(if step.first == "spawn" {
            StepKind::Spawn(task)
        } else {
            StepKind::Join(task)
        })
    }

    fn needs_lock(
        &self,
        name: &str,
        lock: usize,
        pos: Pos,
        scope: &Scope,
        step: &str,
    ) -> Result<(), Located> {
        let held = Scope::count(&scope.acquired, lock) + Scope::count(&scope.scoped, lock);
        if held == 0 && !scope.holds_unknown() {
            return Err(Located::new(
                pos,
                format!("`{step} {name}` needs the condition's lock held (inside `with {name}` or after `acquire {name}`)"),
            ));
        }
        Ok(())
    }
}

/// A step string split into words, for the parsers of its kinds.
struct StepWords<'t, 'v> {
    text: &'t Text<'v>,
    /// The words with the character offset of each; never empty.
    words: Vec<(&'v str, usize)>,
    /// The first word, which says what the step is.
    first: &'v str,
    /// Where the step starts.
    pos: Pos,
}

impl<'v> StepWords<'_, 'v> {
    fn word(&self, index: usize) -> Option<(&'v str, usize)> {
        self.words.get(index).copied()
    }

    /// The step's length in characters: where a missing word is reported.
    fn end(&self) -> usize {
        self.text.value.chars().count()
    }

    /// The word after the first (a name, a duration) and its position.
    fn name_after(&self, what: &str) -> Result<(&'v str, Pos), Located> {
        match self.word(1) {
            Some((name, at)) => Ok((name, self.text.at(at))),
            None => Err(Located::new(
                self.text.at(self.end()),
                format!("expected {what} after `{}`", self.first),
            )),
        }
    }

    fn no_more(&self, count: usize) -> Result<(), Located> {
        no_more(&self.words, count, self.text)
    }
}

/// An error at the word after the first `count`, if there is one.
fn no_more(words: &[(&str, usize)], count: usize, text: &Text<'_>) -> Result<(), Located> {
    match words.get(count) {
        Some(&(extra, at)) => Err(Located::new(
            text.at(at),
            format!("unexpected `{extra}` at the end of the step"),
        )),
        None => Ok(()),
    }
}

fn shared_var(shared: &[SharedVariable], name: &str, pos: Pos) -> Result<Var, Located> {
    match shared.iter().position(|variable| variable.name == name) {
        Some(index) => Ok(Var::Shared(index)),
        None => Err(Located::new(
            pos,
            format!("undefined shared variable `{name}` (this predicate reads shared variables)"),
        )),
    }
}

/// `Name` or `Name(argument)`: the name, and the argument with the
/// character offset where it starts.
type Call<'a> = (&'a str, Option<(&'a str, usize)>);

fn split_call(text: &str) -> Result<Call<'_>, (usize, String)> {
    let trimmed_start = leading(text);
    let body = text.trim();
    match body.find('(') {
        None => Ok((body, None)),
        Some(open) => {
            if !body.ends_with(')') {
                let end = trimmed_start + body.chars().count();
                return Err((end, format!("expected `)` at the end of `{body}`")));
            }
            let name = body[..open].trim_end();
            let argument = &body[open + 1..body.len() - 1];
            let offset = trimmed_start + body[..open + 1].chars().count();
            Ok((name, Some((argument, offset))))
        }
    }
}

/// The character offset of the `=` of an assignment (`x = ...`, not `==`,
/// `<=`, `>=`, `!=`), if the step has one before any other operator.
fn assignment_equals(text: &str) -> Option<usize> {
    let chars: Vec<char> = text.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        match c {
            '=' => {
                let before = index.checked_sub(1).map(|i| chars[i]);
                let after = chars.get(index + 1).copied();
                if after == Some('=') || matches!(before, Some('=' | '<' | '>' | '!')) {
                    return None;
                }
                return Some(index);
            }
            c if c.is_alphanumeric() || c == '_' || c.is_whitespace() => {}
            _ => return None,
        }
    }
    None
}

/// Whitespace-separated words with the character offset of each.
fn words(text: &str) -> Vec<(&str, usize)> {
    words_from(text, 0)
}

fn words_from(text: &str, base: usize) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    for (chars, (byte, c)) in text.char_indices().enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some((byte, chars)),
            (true, Some((from, at))) => {
                out.push((&text[from..byte], base + at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some((from, at)) = start {
        out.push((&text[from..], base + at));
    }
    out
}

/// Leading whitespace, in characters.
fn leading(text: &str) -> usize {
    text.chars().take_while(|c| c.is_whitespace()).count()
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// `10ms`, `2s`, `500us`, `7ns`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (expected e.g. `10ms`, `2s`)"))?;
    let duration = match unit {
        "ns" => Duration::from_nanos(number),
        "us" => Duration::from_micros(number),
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "" => return Err(format!("`{text}` needs a unit: ns, us, ms or s")),
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (expected ns, us, ms or s)"
            ))
        }
    };
    if duration > SLEEP_MAX {
        return Err(format!("`{text}` is longer than a day of virtual time"));
    }
    Ok(duration)
}

/// The names any step string of the file assigns (`name = ...`), found by
/// a plain scan of the source's strings: functions may use their callers'
/// locals, which are only known once the whole file is read.
fn assigned_names(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for piece in source.split(['"', '\'']) {
        if let Some(equals) = assignment_equals(piece) {
            let target: String = piece.chars().take(equals).collect();
            let target = target.trim();
            if is_identifier(target) {
                names.insert(target.to_string());
            }
        }
    }
    names
}

fn article(value: &DeValue<'_>) -> String {
    let name = value.type_str();
    format!("{} {name}", article_for(name))
}

fn article_for(name: &str) -> &'static str {
    match name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u' | 'A' | 'E' | 'I' | 'O' | 'U') => "an",
        _ => "a",
    }
}
