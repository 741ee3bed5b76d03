//! Source locations of operations, captured with `#[track_caller]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// A place in the user's source code: where an operation was called or an
/// object was created.
///
/// At run time a location is a pointer to the compiler's own
/// [`std::panic::Location`], two words copied in one move: the runtime
/// records one with every event, so its size is on the hot path. Locations
/// read back from a saved trace point to interned copies instead. Equality,
/// order and hashing go by file, line and column, whichever the source.
///
/// ```
/// use racecheck_trace::Location;
///
/// #[track_caller]
/// fn here() -> Location {
///     Location::caller()
/// }
/// let location = here();
/// assert!(location.file().ends_with(".rs"));
/// assert!(location.to_string().contains(':'));
/// ```
#[derive(Clone, Copy)]
pub struct Location {
    site: Site,
}

#[derive(Clone, Copy)]
enum Site {
    Compiled(&'static std::panic::Location<'static>),
    Interned(&'static Parts),
}

/// A location's parts, owned: for locations that did not come from the
/// compiler.
#[derive(Debug)]
struct Parts {
    file: &'static str,
    line: u32,
    column: u32,
}

impl Location {
    /// The location of the caller of the function this is called in (which
    /// must be `#[track_caller]` for this to name the user's code).
    #[track_caller]
    #[inline]
    pub const fn caller() -> Location {
        Location::from_std(std::panic::Location::caller())
    }

    /// Converts a standard library location.
    ///
    /// ```
    /// let std_location = std::panic::Location::caller();
    /// let location = racecheck_trace::Location::from_std(std_location);
    /// assert_eq!(location.line(), std_location.line());
    /// ```
    #[inline]
    pub const fn from_std(location: &'static std::panic::Location<'static>) -> Location {
        Location {
            site: Site::Compiled(location),
        }
    }

    /// A location from parts whose file name is not `'static` (a panic's
    /// location, a deserialised trace). It is interned: each distinct
    /// location is stored once for the life of the process, so memory stays
    /// bounded by the number of distinct source locations.
    ///
    /// ```
    /// use racecheck_trace::Location;
    /// let location = Location::from_parts(&String::from("src/lib.rs"), 3, 9);
    /// assert_eq!(location.to_string(), "src/lib.rs:3:9");
    /// ```
    pub fn from_parts(file: &str, line: u32, column: u32) -> Location {
        Location {
            site: Site::Interned(intern(file, line, column)),
        }
    }

    /// The place of the root task, which no line of user code spawned: it
    /// is the test's own future. Shown as `the test's root future`.
    ///
    /// ```
    /// use racecheck_trace::Location;
    /// assert_eq!(Location::ROOT_TASK.to_string(), "the test's root future");
    /// ```
    pub const ROOT_TASK: Location = Location {
        site: Site::Interned(&ROOT_TASK_PARTS),
    };

    /// The source file, as the compiler named it.
    pub fn file(&self) -> &'static str {
        match self.site {
            Site::Compiled(location) => location.file(),
            Site::Interned(parts) => parts.file,
        }
    }

    /// The 1-based line.
    pub fn line(&self) -> u32 {
        match self.site {
            Site::Compiled(location) => location.line(),
            Site::Interned(parts) => parts.line,
        }
    }

    /// The 1-based column.
    pub fn column(&self) -> u32 {
        match self.site {
            Site::Compiled(location) => location.column(),
            Site::Interned(parts) => parts.column,
        }
    }

    fn key(&self) -> (&'static str, u32, u32) {
        (self.file(), self.line(), self.column())
    }
}

impl PartialEq for Location {
    fn eq(&self, other: &Location) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Location {}

impl PartialOrd for Location {
    fn partial_cmp(&self, other: &Location) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Location {
    fn cmp(&self, other: &Location) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl Hash for Location {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("file", &self.file())
            .field("line", &self.line())
            .field("column", &self.column())
            .finish()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line() == 0 {
            // A place that is not a line of source, such as `ROOT_TASK`.
            return f.write_str(self.file());
        }
        write!(f, "{}:{}:{}", self.file(), self.line(), self.column())
    }
}

/// The parts of [`Location::ROOT_TASK`].
static ROOT_TASK_PARTS: Parts = Parts {
    file: "the test's root future",
    line: 0,
    column: 0,
};

/// Locations read back from saved traces or panics, kept for the life of
/// the process: each distinct file name and each distinct location is
/// stored once.
static INTERNED: Mutex<Interned> = Mutex::new(Interned {
    files: BTreeSet::new(),
    locations: BTreeMap::new(),
});

struct Interned {
    files: BTreeSet<&'static str>,
    locations: BTreeMap<(&'static str, u32, u32), &'static Parts>,
}

fn intern(file: &str, line: u32, column: u32) -> &'static Parts {
    let mut interned = INTERNED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let file: &'static str = match interned.files.get(file) {
        Some(existing) => existing,
        None => {
            let leaked: &'static str = Box::leak(file.to_owned().into_boxed_str());
            interned.files.insert(leaked);
            leaked
        }
    };
    let parts: &&'static Parts = interned
        .locations
        .entry((file, line, column))
        .or_insert_with(|| Box::leak(Box::new(Parts { file, line, column })));
    parts
}

#[derive(Serialize, Deserialize)]
struct Owned<F> {
    file: F,
    line: u32,
    column: u32,
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Owned {
            file: self.file(),
            line: self.line(),
            column: self.column(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let owned = Owned::<String>::deserialize(deserializer)?;
        Ok(Location::from_parts(&owned.file, owned.line, owned.column))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_and_interns_file_names() {
        let location = Location::caller();
        let json = serde_json::to_string(&location).unwrap();
        let first: Location = serde_json::from_str(&json).unwrap();
        let second: Location = serde_json::from_str(&json).unwrap();
        assert_eq!(first, location);
        assert!(std::ptr::eq(first.file(), second.file()));
    }

    #[test]
    fn compares_by_place_whatever_the_source() {
        let compiled = Location::caller();
        let read = Location::from_parts(compiled.file(), compiled.line(), compiled.column());
        assert_eq!(read, compiled);
        let later = Location::from_parts(compiled.file(), compiled.line() + 1, 1);
        assert!(compiled < later);
        assert_eq!(std::mem::size_of::<Location>(), 16);
    }
}
