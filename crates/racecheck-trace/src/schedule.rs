//! The schedule of an execution and its copy-pasteable string form.
//!
//! A schedule string is `rc1:` followed by URL-safe base64 (no padding) of:
//! the step count as a LEB128 varint, then runs of `(task, run length)` as
//! varints (consecutive steps of the same task are one run), then a 4-byte
//! FNV-1a checksum of everything before it. Runs keep strings short (a task
//! usually runs several steps in a row), and the checksum turns a truncated
//! or mistyped paste into a clear error instead of a different execution.

use crate::TaskId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

const PREFIX: &str = "rc1:";
const CHECKSUM_BYTES: usize = 4;

/// The most steps a decoded schedule may declare; bounds the allocation a
/// hostile or corrupted string can cause.
pub const SCHEDULE_STEPS_MAX: usize = 100_000_000;

/// The sequence of scheduling choices of one execution: at step `i`,
/// `steps()[i]` is the task that ran.
///
/// Its `Display` form is the replay string printed in reports, and
/// [`FromStr`] reads it back, rejecting anything that is not a schedule
/// this version wrote.
///
/// ```
/// use racecheck_trace::{Schedule, TaskId};
///
/// let schedule = Schedule::from_steps(vec![TaskId(0), TaskId(1), TaskId(1)]);
/// let text = schedule.to_string();
/// assert!(text.starts_with("rc1:"));
/// let back: Schedule = text.parse().unwrap();
/// assert_eq!(back.steps(), schedule.steps());
/// assert!("rc1:AAAA".parse::<Schedule>().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Schedule {
    steps: Vec<TaskId>,
}

/// Why a string is not a schedule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The string does not start with the version prefix.
    #[error("a schedule string starts with `{PREFIX}`, this one starts with `{found}`")]
    MissingPrefix {
        /// The first characters found instead.
        found: String,
    },
    /// A character outside the base64 alphabet.
    #[error("character {position} (`{character}`) is not part of a schedule string")]
    InvalidCharacter {
        /// 0-based position in the whole string.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// The string ends in the middle of the encoding: it was cut short.
    #[error("the schedule string is truncated (it was probably cut when copied)")]
    Truncated,
    /// The checksum does not match: a character was changed.
    #[error("the schedule string is corrupted (checksum mismatch)")]
    Corrupted,
    /// The encoding is well-formed but its content is not.
    #[error("the schedule string is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
}

impl Schedule {
    /// An empty schedule.
    ///
    /// ```
    /// assert!(racecheck_trace::Schedule::new().is_empty());
    /// ```
    pub const fn new() -> Schedule {
        Schedule { steps: Vec::new() }
    }

    /// A schedule with the given choices.
    pub fn from_steps(steps: Vec<TaskId>) -> Schedule {
        Schedule { steps }
    }

    /// The task chosen at each step.
    pub fn steps(&self) -> &[TaskId] {
        &self.steps
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the schedule has no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Appends a step.
    #[inline]
    pub fn push(&mut self, task: TaskId) {
        self.steps.push(task);
    }

    /// Empties the schedule, keeping its allocation.
    pub fn clear(&mut self) {
        self.steps.clear();
    }

    /// The number of context switches: steps that run a different task than
    /// the step before.
    ///
    /// ```
    /// use racecheck_trace::{Schedule, TaskId};
    /// let schedule = Schedule::from_steps(vec![TaskId(0), TaskId(1), TaskId(0)]);
    /// assert_eq!(schedule.context_switches(), 2);
    /// ```
    pub fn context_switches(&self) -> usize {
        self.steps
            .windows(2)
            .filter(|pair| pair[0] != pair[1])
            .count()
    }

    fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(8 + self.steps.len() / 2);
        write_varint(&mut bytes, self.steps.len() as u64);
        let mut index = 0;
        while index < self.steps.len() {
            let task = self.steps[index];
            let run = self.steps[index..]
                .iter()
                .take_while(|&&next| next == task)
                .count();
            write_varint(&mut bytes, u64::from(task.0));
            write_varint(&mut bytes, run as u64);
            index += run;
        }
        let checksum = fnv1a(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Result<Schedule, ScheduleError> {
        if bytes.len() < CHECKSUM_BYTES + 1 {
            return Err(ScheduleError::Truncated);
        }
        let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
        let expected = u32::from_le_bytes(checksum.try_into().expect("4 bytes"));
        if fnv1a(body) != expected {
            return Err(ScheduleError::Corrupted);
        }
        let mut reader = VarintReader { bytes: body, at: 0 };
        let declared = reader.next()?;
        if declared > SCHEDULE_STEPS_MAX as u64 {
            return Err(ScheduleError::Malformed {
                reason: format!("{declared} steps is more than the limit of {SCHEDULE_STEPS_MAX}"),
            });
        }
        let declared = declared as usize;
        let mut steps = Vec::with_capacity(declared);
        while !reader.is_done() {
            let task = reader.next()?;
            let run = reader.next()? as usize;
            let task = u32::try_from(task).map_err(|_| ScheduleError::Malformed {
                reason: format!("task id {task} is out of range"),
            })?;
            if run == 0 || steps.len() + run > declared {
                return Err(ScheduleError::Malformed {
                    reason: format!("a run of {run} steps does not fit {declared} declared steps"),
                });
            }
            steps.extend(std::iter::repeat_n(TaskId(task), run));
        }
        if steps.len() != declared {
            return Err(ScheduleError::Malformed {
                reason: format!("{} steps encoded, {declared} declared", steps.len()),
            });
        }
        Ok(Schedule { steps })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        f.write_str(&URL_SAFE_NO_PAD.encode(self.encode()))
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        let Some(payload) = text.strip_prefix(PREFIX) else {
            return Err(ScheduleError::MissingPrefix {
                found: text.chars().take(PREFIX.len()).collect(),
            });
        };
        if let Some((offset, character)) = payload
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(ScheduleError::InvalidCharacter {
                position: PREFIX.len() + offset,
                character,
            });
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| ScheduleError::Truncated)?;
        Schedule::decode(&bytes)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

fn write_varint(bytes: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

struct VarintReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl VarintReader<'_> {
    fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn next(&mut self) -> Result<u64, ScheduleError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.bytes.get(self.at) else {
                return Err(ScheduleError::Truncated);
            };
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ScheduleError::Malformed {
            reason: "a number is longer than 64 bits".to_string(),
        })
    }
}

/// 32-bit FNV-1a: a tiny checksum, enough to catch copy-paste damage.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn schedule_strategy() -> impl Strategy<Value = Schedule> {
        proptest::collection::vec(0u32..6, 0..300)
            .prop_map(|tasks| Schedule::from_steps(tasks.into_iter().map(TaskId).collect()))
    }

    proptest! {
        #[test]
        fn every_schedule_round_trips(schedule in schedule_strategy()) {
            let text = schedule.to_string();
            prop_assert_eq!(text.parse::<Schedule>().unwrap(), schedule);
        }

        #[test]
        fn a_changed_character_is_an_error_not_another_schedule(
            schedule in schedule_strategy(),
            position in any::<prop::sample::Index>(),
            replacement in prop::sample::select(b"ABCabc019-_".to_vec()),
        ) {
            let text = schedule.to_string();
            let payload_start = PREFIX.len();
            let index = payload_start + position.index(text.len() - payload_start);
            let mut bytes = text.clone().into_bytes();
            prop_assume!(bytes[index] != replacement);
            bytes[index] = replacement;
            let corrupted = String::from_utf8(bytes).unwrap();
            prop_assert!(corrupted.parse::<Schedule>().is_err(), "{} parsed", corrupted);
        }

        #[test]
        fn a_truncated_string_is_an_error(schedule in schedule_strategy(), cut in 1usize..20) {
            let text = schedule.to_string();
            prop_assume!(cut < text.len() - PREFIX.len());
            let truncated = &text[..text.len() - cut];
            prop_assert!(truncated.parse::<Schedule>().is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,64}") {
            let _ = text.parse::<Schedule>();
            let _ = format!("rc1:{text}").parse::<Schedule>();
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            ("seed=7", "starts with `rc1:`"),
            ("rc1:AB$D", "character 6 (`$`)"),
            ("rc1:", "truncated"),
        ];
        for (text, expected) in cases {
            let message = text.parse::<Schedule>().unwrap_err().to_string();
            assert!(message.contains(expected), "{text}: {message}");
        }
    }

    #[test]
    fn runs_keep_long_schedules_short() {
        let steps = std::iter::repeat_n(TaskId(1), 10_000).collect();
        assert!(Schedule::from_steps(steps).to_string().len() < 20);
    }
}
