//! Load errors, each with its exact `file:line:col: message`.

use racecheck_scenario::Scenario;

fn error(source: &str) -> String {
    match Scenario::parse(source, "s.toml") {
        Ok(_) => panic!("expected an error for:\n{source}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn errors_are_located_and_name_what_was_expected() {
    let cases: &[(&str, &str)] = &[
        // TOML syntax.
        ("description = \"d\"\n[[task]\n", "s.toml:2:8: invalid TOML: unclosed array table, expected `]`"),
        // Structure: missing fields, unknown keys, wrong types.
        ("[[task]]\nname = \"t\"\nsteps = []\n", "s.toml:1:1: missing `description` (a one-line summary, shown by `racecheck list`)"),
        ("description = \"d\"\n", "s.toml:2:1: a scenario needs at least one `[[task]]` section"),
        ("description = \"d\"\ncolour = 1\n", "s.toml:2:1: unknown key `colour` at the top level (expected one of: description, expect, final, iterations, max_steps, shared, primitives, functions, task)"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\nsteps = []\nreplicas = 2\n", "s.toml:5:1: unknown key `replicas` in a [[task]] (expected one of: name, count, start, steps)"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\n", "s.toml:2:1: task `t` needs `steps`"),
        ("description = \"d\"\n[shared]\nrows = \"zero\"\n", "s.toml:3:8: shared variable `rows`'s initial value must be an integer, found a string"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\ncount = 0\nsteps = []\n", "s.toml:4:9: `count` must be between 1 and 64"),
        ("description = \"d\"\nexpect = \"explode\"\n[[task]]\nname = \"t\"\nsteps = []\n", "s.toml:2:11: unknown expectation `explode` (expected one of: pass, no race, no deadlock, race, deadlock, hang, leak, potential deadlock, panic)"),
        // Primitives.
        ("description = \"d\"\n[primitives]\ndb = \"Mutex\"\n", "s.toml:3:7: unknown primitive `Mutex` (expected Lock, RLock, Semaphore(n), BoundedSemaphore(n), Event, Condition or Condition(lock), Queue(maxsize))"),
        ("description = \"d\"\n[primitives]\ns = \"Semaphore\"\n", "s.toml:3:15: `Semaphore` needs the number of permits in parentheses, e.g. `Semaphore(3)`"),
        ("description = \"d\"\n[primitives]\ns = \"Semaphore(x)\"\n", "s.toml:3:16: the number of permits must be an integer between 0 and 1000000, found `x`"),
        ("description = \"d\"\n[primitives]\nc = \"Condition(nope)\"\n", "s.toml:3:16: undefined lock `nope` (declare it in [primitives], e.g. `nope = \"Lock\"`)"),
        ("description = \"d\"\n[shared]\nx = 0\n[primitives]\nx = \"Lock\"\n", "s.toml:5:1: `x` is already declared as a shared variable"),
        // Steps.
        ("description = \"d\"\n[[task]]\nname = \"t\"\nsteps = [\"acquire db\"]\n", "s.toml:4:19: undefined primitive `db` (declare it in [primitives])"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\nsteps = [\"jump\"]\n", "s.toml:4:11: unknown step `jump` (expected acquire, release, `x = read v`, `write v = ...`, `x = ...`, set, clear, wait, notify, notify_all, put, get, task_done, sleep, yield, spawn, join, assert, call, fail, or a block table)"),
        ("description = \"d\"\n[shared]\nrows = 0\n[[task]]\nname = \"t\"\nsteps = [\"write rows = n + 1\"]\n", "s.toml:6:24: undefined local `n` (assign it first, e.g. `n = read <shared>` or `n = 0`)"),
        ("description = \"d\"\n[shared]\nrows = 0\n[[task]]\nname = \"t\"\nsteps = [\"n = read rows\", \"write rows = (n + 1\"]\n", "s.toml:6:47: expected `)` to close the `(` at column 41"),
        ("description = \"d\"\n[shared]\nrows = 0\n[[task]]\nname = \"t\"\nsteps = [\"assert rows > 0\"]\n", "s.toml:6:18: `rows` is a shared variable: read it into a local first (`n = read rows`)"),
        ("description = \"d\"\n[primitives]\ndb = \"Lock\"\n[[task]]\nname = \"t\"\nsteps = [\"release db\"]\n", "s.toml:6:11: `release db`: this task does not hold `db` here (no earlier `acquire db`)"),
        ("description = \"d\"\n[primitives]\ndb = \"Lock\"\n[[task]]\nname = \"t\"\nsteps = [{ with = \"db\", do = [\"release db\"] }]\n", "s.toml:6:32: `release db` inside `with db`: the block releases it when it ends"),
        ("description = \"d\"\n[primitives]\ne = \"Event\"\n[[task]]\nname = \"t\"\nsteps = [\"acquire e\"]\n", "s.toml:6:19: `e` is an Event: only locks, semaphores and conditions are acquired"),
        ("description = \"d\"\n[primitives]\ndb = \"Lock\"\n[[task]]\nname = \"t\"\nsteps = [\"set db\"]\n", "s.toml:6:15: `set` needs Event, but `db` is a Lock"),
        ("description = \"d\"\n[primitives]\nc = \"Condition\"\n[[task]]\nname = \"t\"\nsteps = [\"wait c\"]\n", "s.toml:6:11: `wait c` needs the condition's lock held (inside `with c` or after `acquire c`)"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\nsteps = [\"sleep 10\"]\n", "s.toml:4:17: `10` needs a unit: ns, us, ms or s"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\nsteps = [\"call helper\"]\n", "s.toml:4:16: undefined function `helper` (declare it in [functions])"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\nsteps = [{ with = \"db\", if = \"1\", do = [] }]\n", "s.toml:4:25: a block has one head, found `with` and `if`"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\nsteps = [{ repeat = 2 }]\n", "s.toml:4:10: a `repeat` block needs `do = [ ...steps ]`"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\nsteps = [42]\n", "s.toml:4:10: a step must be a string or a block table such as `{ with = \"lock\", do = [...] }`, found an integer"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\nsteps = [\"yield now\"]\n", "s.toml:4:17: unexpected `now` at the end of the step"),
        ("description = \"d\"\nfinal = \"rows == \"\n[shared]\nrows = 0\n[[task]]\nname = \"t\"\nsteps = []\n", "s.toml:2:18: expected a number, a name or `(` at the end of the expression"),
        ("description = \"d\"\n[[task]]\nname = \"t\"\nstart = false\nsteps = []\n", "s.toml:2:1: no task has `start = true`: nothing would run"),
    ];
    let mut failures = Vec::new();
    for (source, expected) in cases {
        let actual = error(source);
        if !actual.starts_with(expected) {
            failures.push(format!("expected: {expected}\n  actual: {actual}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_file_is_an_io_error() {
    let error = Scenario::load(std::path::Path::new("no/such/file.toml")).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("no/such/file.toml: cannot read the scenario:"),
        "{error}"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_located_at_its_first_bad_byte() {
    // `café` saved as Latin-1: its `é` is the single byte 0xE9, line 3,
    // column 4.
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("latin1.toml");
    std::fs::write(&path, b"description = \"d\"\n[shared]\ncaf\xe9 = 0\n").unwrap();
    let error = Scenario::load(&path).unwrap_err().to_string();
    let expected = format!(
        "{}:3:4: the file is not UTF-8: byte 0xE9 here does not begin a character (save the file as UTF-8)",
        path.display()
    );
    assert_eq!(error, expected);
}
