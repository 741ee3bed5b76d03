//! Load errors, located at a line and column of the scenario file.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a scenario file could not be loaded: it could not be read, or it is
/// not a valid scenario. `Display` is `path:line:col: message`, the form
/// editors and CI logs turn into links.
///
/// ```
/// use racecheck_scenario::{LoadError, Scenario};
///
/// let error = Scenario::parse("description = 3\n", "bad.toml").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "bad.toml:1:15: `description` must be a string, found an integer"
/// );
/// assert!(matches!(error, LoadError::Invalid { line: 1, column: 15, .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{}: cannot read the scenario: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// The file is not a valid scenario.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u32,
        /// The 1-based column, in characters.
        column: u32,
        /// What is wrong, and what was expected.
        message: String,
    },
}

/// A position in the scenario's source: 1-based line and column (in
/// characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// The 1-based line.
    pub line: u32,
    /// The 1-based column, in characters.
    pub column: u32,
}

impl Pos {
    /// This position moved `characters` to the right (on the same line).
    pub(crate) fn right(self, characters: usize) -> Pos {
        Pos {
            line: self.line,
            column: self
                .column
                .saturating_add(u32::try_from(characters).unwrap_or(u32::MAX)),
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// An error at a position, before the file's path is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Located {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

impl Located {
    pub(crate) fn new(pos: Pos, message: impl Into<String>) -> Located {
        Located {
            pos,
            message: message.into(),
        }
    }

    pub(crate) fn in_file(self, path: &Path) -> LoadError {
        LoadError::Invalid {
            path: path.to_path_buf(),
            line: self.pos.line,
            column: self.pos.column,
            message: self.message,
        }
    }
}

/// The file's bytes as text, or an error at the line and column of its
/// first byte that is not UTF-8.
pub(crate) fn decode_utf8(bytes: &[u8]) -> Result<&str, Located> {
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = error.valid_up_to();
        // The bytes before `valid` are UTF-8: that is what `valid_up_to` says.
        let before = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        Located::new(
            SourceMap::new(before).pos(valid),
            format!(
                "the file is not UTF-8: byte 0x{:02X} here does not begin a character \
                 (save the file as UTF-8)",
                bytes[valid]
            ),
        )
    })
}

/// Turns byte offsets of the source into positions.
pub(crate) struct SourceMap<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(source: &'a str) -> SourceMap<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(at, _)| at + 1));
        SourceMap {
            source,
            line_starts,
        }
    }

    /// The position of byte `offset` (clamped to the source, and to a
    /// character boundary).
    pub(crate) fn pos(&self, offset: usize) -> Pos {
        let mut offset = offset.min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let column = self.source[self.line_starts[line]..offset].chars().count() + 1;
        Pos {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    /// The raw source text of a byte range (empty if out of range).
    pub(crate) fn slice(&self, span: std::ops::Range<usize>) -> &'a str {
        self.source.get(span).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let map = SourceMap::new("ab\nçd\n");
        assert_eq!(map.pos(0), Pos { line: 1, column: 1 });
        assert_eq!(map.pos(3), Pos { line: 2, column: 1 });
        assert_eq!(map.pos(5), Pos { line: 2, column: 2 }); // after the two-byte ç
        assert_eq!(map.pos(4), Pos { line: 2, column: 1 }); // inside ç: clamped back
        assert_eq!(map.pos(99), Pos { line: 3, column: 1 });
    }

    #[test]
    fn the_first_byte_that_is_not_utf8_is_located() {
        assert_eq!(decode_utf8("çé\n".as_bytes()), Ok("çé\n"));
        let cases: &[(&[u8], Pos, &str)] = &[
            (b"a = 1\nb = \"\xff\"\n", Pos { line: 2, column: 6 }, "0xFF"),
            // Latin-1 `é` after a two-byte `ç`: columns count characters.
            (b"\xc3\xa7\xe9", Pos { line: 1, column: 2 }, "0xE9"),
            (b"\xe7\xe9\n", Pos { line: 1, column: 1 }, "0xE7"),
            // A character cut off at the end of the file.
            (b"x\n\xc3", Pos { line: 2, column: 1 }, "0xC3"),
        ];
        for (bytes, pos, byte) in cases {
            let error = decode_utf8(bytes).expect_err("not UTF-8");
            assert_eq!(error.pos, *pos, "{bytes:?}");
            assert!(error.message.contains(byte), "{}", error.message);
        }
    }
}
