//! Thread-local cells set in place, for the runtime's hottest flags.

use std::cell::Cell;
use std::thread::LocalKey;

/// Sets a `const`-initialised thread-local cell in place.
///
/// `LocalKey::<Cell<T>>::set` goes through `LocalKey::initialize_with`,
/// which is not `#[inline]`: a call of some twenty instructions for a
/// one-word store, on the hottest flags (a thread's every scheduling
/// point sets one). `try_with` is inlined, and cannot fail for a `const`
/// cell with no destructor.
#[inline]
pub(crate) fn set_cell<T: Copy>(key: &'static LocalKey<Cell<T>>, value: T) {
    let _ = key.try_with(|cell| cell.set(value));
}

#[cfg(test)]
mod tests {
    use super::set_cell;
    use std::cell::Cell;

    thread_local! {
        static FLAG: Cell<u32> = const { Cell::new(0) };
    }

    #[test]
    fn a_cell_set_in_place_holds_the_value() {
        set_cell(&FLAG, 7);
        assert_eq!(FLAG.get(), 7);
        set_cell(&FLAG, 9);
        assert_eq!(FLAG.get(), 9);
    }
}
