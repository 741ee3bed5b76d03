//! The schedule of an execution and its copy-pasteable string form.
//!
//! A schedule string is `rc1:` followed by URL-safe base64 (no padding) of:
//! the step count as a LEB128 varint, then runs of `(task, run length)` as
//! varints (consecutive steps of the same task are one run), then a 4-byte
//! FNV-1a checksum of everything before it. A schedule with data choices
//! (see [`Schedule::choices`]) is written `rc2:`, with the count of choices
//! and each choice as varints between the runs and the checksum; one
//! without is written `rc1:` as before, so older replay strings still work. Runs keep strings short (a task
//! usually runs several steps in a row), and the checksum turns a truncated
//! or mistyped paste into a clear error instead of a different execution.

use crate::TaskId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

const PREFIX: &str = "rc1:";
/// The prefix of schedules with data choices.
const PREFIX_WITH_CHOICES: &str = "rc2:";
const CHECKSUM_BYTES: usize = 4;

/// The most steps a decoded schedule may declare; bounds the allocation a
/// hostile or corrupted string can cause.
pub const SCHEDULE_STEPS_MAX: usize = 100_000_000;

/// The sequence of scheduling choices of one execution: at step `i`,
/// `steps()[i]` is the task that ran; `choices()` are the data choices the
/// scheduler made for the program (such as which ready branch of a
/// `select!` won), in the order they were made.
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
    choices: Vec<u32>,
}

/// Why a string is not a schedule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The string does not start with a version prefix.
    #[error("a schedule string starts with `{PREFIX}` or `{PREFIX_WITH_CHOICES}`, this one starts with `{found}`")]
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
        Schedule {
            steps: Vec::new(),
            choices: Vec::new(),
        }
    }

    /// A schedule with the given steps and no data choice.
    pub fn from_steps(steps: Vec<TaskId>) -> Schedule {
        Schedule {
            steps,
            choices: Vec::new(),
        }
    }

    /// A schedule with the given steps and data choices.
    ///
    /// ```
    /// use racecheck_trace::{Schedule, TaskId};
    /// let schedule = Schedule::from_parts(vec![TaskId(0)], vec![1]);
    /// assert!(schedule.to_string().starts_with("rc2:"));
    /// assert_eq!(schedule.to_string().parse::<Schedule>().unwrap().choices(), &[1]);
    /// ```
    pub fn from_parts(steps: Vec<TaskId>, choices: Vec<u32>) -> Schedule {
        Schedule { steps, choices }
    }

    /// The data choices, in the order the program asked for them: each is
    /// an index below the number of options it was asked to choose from.
    pub fn choices(&self) -> &[u32] {
        &self.choices
    }

    /// Appends a data choice.
    pub fn push_choice(&mut self, choice: u32) {
        self.choices.push(choice);
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
        self.choices.clear();
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
        if !self.choices.is_empty() {
            write_varint(&mut bytes, self.choices.len() as u64);
            for &choice in &self.choices {
                write_varint(&mut bytes, u64::from(choice));
            }
        }
        let checksum = fnv1a(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8], with_choices: bool) -> Result<Schedule, ScheduleError> {
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
        while steps.len() < declared {
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
        let choices = if with_choices {
            reader.choices()?
        } else {
            Vec::new()
        };
        if !reader.is_done() {
            return Err(ScheduleError::Malformed {
                reason: format!("more than the {declared} declared steps are encoded"),
            });
        }
        Ok(Schedule { steps, choices })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.choices.is_empty() {
            PREFIX
        } else {
            PREFIX_WITH_CHOICES
        })?;
        f.write_str(&URL_SAFE_NO_PAD.encode(self.encode()))
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        let (payload, with_choices) = match (
            text.strip_prefix(PREFIX),
            text.strip_prefix(PREFIX_WITH_CHOICES),
        ) {
            (Some(payload), _) => (payload, false),
            (None, Some(payload)) => (payload, true),
            (None, None) => {
                return Err(ScheduleError::MissingPrefix {
                    found: text.chars().take(PREFIX.len()).collect(),
                })
            }
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
        Schedule::decode(&bytes, with_choices)
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

    /// The data choices: their count, then each.
    fn choices(&mut self) -> Result<Vec<u32>, ScheduleError> {
        let count = self.next()?;
        if count == 0 || count > SCHEDULE_STEPS_MAX as u64 {
            return Err(ScheduleError::Malformed {
                reason: format!("{count} data choices"),
            });
        }
        (0..count)
            .map(|_| {
                let choice = self.next()?;
                u32::try_from(choice).map_err(|_| ScheduleError::Malformed {
                    reason: format!("data choice {choice} is out of range"),
                })
            })
            .collect()
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
        (
            proptest::collection::vec(0u32..6, 0..300),
            proptest::collection::vec(0u32..300, 0..4),
        )
            .prop_map(|(tasks, choices)| {
                Schedule::from_parts(tasks.into_iter().map(TaskId).collect(), choices)
            })
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
            let _ = format!("rc2:{text}").parse::<Schedule>();
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
    fn schedules_without_data_choices_keep_their_rc1_form() {
        let schedule = Schedule::from_steps(vec![TaskId(0), TaskId(1)]);
        let text = schedule.to_string();
        assert!(text.starts_with("rc1:"), "{text}");
        // A string written before data choices existed reads back the same.
        let written_before = "rc1:AwABAQLaU5xz";
        let steps = vec![TaskId(0), TaskId(1), TaskId(1)];
        assert_eq!(
            written_before.parse(),
            Ok(Schedule::from_steps(steps.clone()))
        );
        assert_eq!(Schedule::from_steps(steps).to_string(), written_before);
        let with_choice = Schedule::from_parts(schedule.steps().to_vec(), vec![0]);
        assert_ne!(with_choice.to_string(), text);
        assert_eq!(with_choice.to_string().parse::<Schedule>(), Ok(with_choice));
    }

    #[test]
    fn runs_keep_long_schedules_short() {
        let steps = std::iter::repeat_n(TaskId(1), 10_000).collect();
        assert!(Schedule::from_steps(steps).to_string().len() < 20);
    }
}
