//! Source locations of operations, captured with `#[track_caller]`.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Mutex;

/// A place in the user's source code: where an operation was called or an
/// object was created.
///
/// At run time the file name points into the binary (`&'static str` from
/// [`std::panic::Location`]), so capturing a location costs a copy of three
/// words and no allocation.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    file: &'static str,
    line: u32,
    column: u32,
}

impl Location {
    /// The location of the caller of the function this is called in (which
    /// must be `#[track_caller]` for this to name the user's code).
    #[track_caller]
    #[inline]
    pub fn caller() -> Location {
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
    pub fn from_std(location: &'static std::panic::Location<'static>) -> Location {
        Location {
            file: location.file(),
            line: location.line(),
            column: location.column(),
        }
    }

    /// A location from parts whose file name is not `'static` (a panic's
    /// location, a deserialised trace). The file name is interned: each
    /// distinct name is leaked once, so memory stays bounded by the number
    /// of source files.
    ///
    /// ```
    /// use racecheck_trace::Location;
    /// let location = Location::from_parts(&String::from("src/lib.rs"), 3, 9);
    /// assert_eq!(location.to_string(), "src/lib.rs:3:9");
    /// ```
    pub fn from_parts(file: &str, line: u32, column: u32) -> Location {
        Location {
            file: intern(file),
            line,
            column,
        }
    }

    /// The source file, as the compiler named it.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The 1-based line.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The 1-based column.
    pub fn column(&self) -> u32 {
        self.column
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// File names read back from saved traces, kept for the life of the process
/// so that a deserialised [`Location`] has the same `&'static str` shape as a
/// captured one. Each distinct name is stored once.
static INTERNED_FILES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

fn intern(file: &str) -> &'static str {
    let mut files = INTERNED_FILES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(existing) = files.get(file) {
        return existing;
    }
    let leaked: &'static str = Box::leak(file.to_owned().into_boxed_str());
    files.insert(leaked);
    leaked
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Owned {
            file: String,
            line: u32,
            column: u32,
        }
        let owned = Owned::deserialize(deserializer)?;
        Ok(Location {
            file: intern(&owned.file),
            line: owned.line,
            column: owned.column,
        })
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
}
