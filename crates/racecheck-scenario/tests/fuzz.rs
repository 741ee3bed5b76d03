//! The parser never panics: random bytes, mutations of the catalog's files
//! and token soup give either a scenario or an error located inside the
//! input.

use proptest::prelude::*;
use racecheck_scenario::{LoadError, Scenario};

fn catalog() -> Vec<String> {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
    let files = racecheck_scenario::discover(&[directory]).expect("the catalog exists");
    assert!(files.len() >= 14, "the catalog has its scenarios");
    files
        .iter()
        .map(|file| std::fs::read_to_string(file).expect("readable"))
        .collect()
}

/// Parses `source`; an error must point inside it (a line that exists, a
/// column at most one past that line's end).
fn check(source: &str) -> Result<(), TestCaseError> {
    match Scenario::parse(source, "fuzz.toml") {
        Ok(_) => Ok(()),
        Err(LoadError::Invalid {
            line,
            column,
            message,
            ..
        }) => {
            let lines: Vec<&str> = source.split('\n').collect();
            prop_assert!(
                line >= 1 && (line as usize) <= lines.len(),
                "line {line} of {}: {message}",
                lines.len()
            );
            let width = lines[line as usize - 1].chars().count();
            prop_assert!(
                column >= 1 && (column as usize) <= width + 1,
                "column {column} of {width}: {message}"
            );
            prop_assert!(!message.is_empty());
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!(
            "unexpected error kind: {other}"
        ))),
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    DeleteChar(usize),
    InsertChar(usize, char),
    SwapChars(usize, usize),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        '"', '\'', '[', ']', '{', '}', '=', ',', '(', ')', '\n', '#', ' ', 'x', '0', '-', 'é',
        '\\', '>', '!',
    ]);
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteChar),
        (any::<usize>(), interesting).prop_map(|(at, c)| Mutation::InsertChar(at, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapChars(a, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(source: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = source.chars().collect();
    let mut lines: Vec<String> = source.split('\n').map(str::to_string).collect();
    let pick = |at: usize, len: usize| if len == 0 { 0 } else { at % len };
    match *mutation {
        Mutation::DeleteChar(at) if !chars.is_empty() => {
            chars.remove(pick(at, chars.len()));
        }
        Mutation::InsertChar(at, c) => chars.insert(pick(at, chars.len() + 1), c),
        Mutation::SwapChars(a, b) if !chars.is_empty() => {
            let (a, b) = (pick(a, chars.len()), pick(b, chars.len()));
            chars.swap(a, b);
        }
        Mutation::DeleteLine(at) => {
            lines.remove(pick(at, lines.len()));
            return lines.join("\n");
        }
        Mutation::DuplicateLine(at) => {
            let at = pick(at, lines.len());
            lines.insert(at, lines[at].clone());
            return lines.join("\n");
        }
        Mutation::SwapLines(a, b) => {
            let (a, b) = (pick(a, lines.len()), pick(b, lines.len()));
            lines.swap(a, b);
            return lines.join("\n");
        }
        _ => {}
    }
    chars.into_iter().collect()
}

fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "description = \"d\"\n",
        "[[task]]\n",
        "name = \"t\"\n",
        "steps = [",
        "]\n",
        "\"",
        "{",
        "}",
        "with",
        "=",
        "do",
        "if",
        "while",
        "repeat",
        "acquire db",
        "release db",
        "n = read rows",
        "write rows = n + 1",
        "[shared]\n",
        "rows = 0\n",
        "[primitives]\n",
        "db = \"Lock\"\n",
        "c = \"Condition(db)\"\n",
        "q = \"Queue(2)\"\n",
        "[functions]\n",
        "f = [\"call f\"]\n",
        "call f",
        "(",
        ")",
        "+",
        "-",
        "==",
        "&&",
        "\n",
        ",",
        " ",
        "9999999999999999999999",
        "expect = \"race\"\n",
        "final = \"rows == 1\"\n",
        "count = 3\n",
        "sleep 10ms",
        "wait c while rows < 1",
        "'",
        "\"\"\"",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn mutated_catalog_files_never_panic(
        file in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let catalog = catalog();
        let mut source = catalog[file.index(catalog.len())].clone();
        for mutation in &mutations {
            source = apply(&source, mutation);
        }
        check(&source)?;
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(token(), 0..60)) {
        check(&tokens.concat())?;
    }
}

#[test]
fn the_catalog_itself_loads() {
    for source in catalog() {
        if let Err(error) = Scenario::parse(&source, "catalog.toml") {
            panic!("{error}");
        }
    }
}
