//! A value behind an `Arc` that a `const` can build: the `Arc` is made at
//! first use. For the data of `Mutex` and `RwLock`, which owned guards share
//! through an `Arc`, so that `const_new` can build them in a `static`.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// An `Arc<T>` made at once ([`LazyArc::new`]) or at first use
/// ([`LazyArc::new_const`]).
pub(crate) struct LazyArc<T> {
    arc: OnceLock<Arc<T>>,
    /// The value until the first use moves it into `arc`.
    initial: spin::Mutex<Option<T>>,
}

impl<T> LazyArc<T> {
    /// The value in an `Arc` now.
    pub(crate) fn new(value: T) -> LazyArc<T> {
        LazyArc {
            arc: OnceLock::from(Arc::new(value)),
            initial: spin::Mutex::new(None),
        }
    }

    /// The value, put in an `Arc` at first use.
    pub(crate) const fn new_const(value: T) -> LazyArc<T> {
        LazyArc {
            arc: OnceLock::new(),
            initial: spin::Mutex::new(Some(value)),
        }
    }

    /// The value, if no other `Arc` of it is alive.
    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        match self.arc.get_mut() {
            Some(arc) => Arc::get_mut(arc),
            None => self.initial.get_mut().as_mut(),
        }
    }

    /// The value, if no other `Arc` of it is alive.
    pub(crate) fn try_unwrap(self) -> Option<T> {
        match self.arc.into_inner() {
            Some(arc) => Arc::try_unwrap(arc).ok(),
            None => self.initial.into_inner(),
        }
    }
}

impl<T> Deref for LazyArc<T> {
    type Target = Arc<T>;

    fn deref(&self) -> &Arc<T> {
        self.arc.get_or_init(|| {
            let value = self.initial.lock().take();
            Arc::new(value.expect("a LazyArc keeps its value until it makes the Arc"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::LazyArc;
    use std::sync::Arc;

    #[test]
    fn a_const_value_is_shared_from_its_first_use() {
        static VALUE: LazyArc<u32> = LazyArc::new_const(7);
        let first = Arc::clone(&VALUE);
        assert_eq!(*first, 7);
        assert!(Arc::ptr_eq(&first, &VALUE));
    }

    #[test]
    fn the_value_comes_back_only_without_other_arcs() {
        let mut lazy = LazyArc::new_const(String::from("a"));
        lazy.get_mut().unwrap().push('b');
        let shared = Arc::clone(&lazy);
        assert!(lazy.get_mut().is_none());
        drop(shared);
        assert_eq!(lazy.try_unwrap().as_deref(), Some("ab"));
        assert_eq!(LazyArc::new(1).try_unwrap(), Some(1));
    }
}
