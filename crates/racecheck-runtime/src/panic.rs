//! Capturing panics of user code inside an execution.
//!
//! Exploration runs thousands of executions, many of which may panic by
//! design while a strategy searches for a failure; printing each panic would
//! drown the one report that matters. A process-wide panic hook, installed
//! once, stays silent on threads that are inside an execution and stashes the
//! message and location for the report; everywhere else it defers to the
//! hook that was installed before.

use racecheck_trace::Location;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::PanicHookInfo;
use std::sync::Once;

thread_local! {
    static SILENCED: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, Option<Location>)>> = const { RefCell::new(None) };
}

static INSTALL_HOOK: Once = Once::new();

/// While alive, panics on this thread are captured instead of printed.
pub(crate) struct Silenced {
    was_silenced: bool,
}

impl Silenced {
    pub(crate) fn begin() -> Silenced {
        INSTALL_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if SILENCED.with(Cell::get) {
                    stash(info);
                } else {
                    previous(info);
                }
            }));
        });
        LAST_PANIC.with(|last| last.borrow_mut().take());
        Silenced {
            was_silenced: SILENCED.with(|silenced| silenced.replace(true)),
        }
    }
}

impl Drop for Silenced {
    fn drop(&mut self) {
        SILENCED.with(|silenced| silenced.set(self.was_silenced));
    }
}

fn stash(info: &PanicHookInfo<'_>) {
    let message = payload_message(info.payload());
    let location = info
        .location()
        .map(|at| Location::from_parts(at.file(), at.line(), at.column()));
    LAST_PANIC.with(|last| *last.borrow_mut() = Some((message, location)));
}

/// The message and location of the panic that produced `payload`: from the
/// hook if it saw it, from the payload otherwise.
pub(crate) fn take_last(payload: &(dyn Any + Send)) -> (String, Option<Location>) {
    LAST_PANIC
        .with(|last| last.borrow_mut().take())
        .unwrap_or_else(|| (payload_message(payload), None))
}

/// Raises a panic that escaped an execution (a bug of racecheck or of a
/// strategy) again, as a panic of its own with the message and location the
/// silenced hook stashed: without this the test would fail without a word.
pub(crate) fn raise_again(payload: Box<dyn Any + Send>) -> ! {
    let (message, location) = take_last(payload.as_ref());
    match location {
        Some(location) => panic!("{message} (at {location})"),
        None => panic!("{message}"),
    }
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_string()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}
