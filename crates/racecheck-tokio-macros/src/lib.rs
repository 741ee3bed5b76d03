//! The macros of `racecheck-tokio` under its `racecheck` feature; use them
//! through that crate (`#[tokio::test]`, `tokio::select!`), not directly.
//!
//! - `#[tokio::test]` runs the test's body as a racecheck exploration:
//!   `flavor = "multi_thread"` at step granularity, `"current_thread"` (the
//!   default) and `"local"` at await granularity; `iterations`, `seed`, `strategy`
//!   (`"random"`, `"pct"`, `"exhaustive"`, `"bounded"`) and `depth` (PCT's
//!   depth, the bounded search's preemptions) configure it;
//!   `unhandled_panic = "shutdown_runtime"` makes a panic in any task fail
//!   the execution instead of becoming a `JoinError`.
//! - `#[tokio::main]` runs `main`'s body as one execution.
//! - `select!`, `join!` and `try_join!` are reached through `macro_rules`
//!   wrappers in `racecheck-tokio` that pass `$crate` first, so the code
//!   they expand to names the crate however the user renamed it.
//!
//! **Architecture invariant:** the macros only rewrite syntax; what runs
//! (the exploration, the choice of a `select!` branch) lives in
//! `racecheck-tokio` and the engine.
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", iterations = 500)]
//! async fn cache_fills_once() { /* ... */ }
//! ```

mod join;
mod select;
mod test;

use proc_macro::TokenStream;

/// Runs an async test as a racecheck exploration; see the crate's docs.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test::expand(args.into(), item.into(), test::Entry::Test).into()
}

/// Runs an async `main` as one racecheck execution.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    test::expand(args.into(), item.into(), test::Entry::Main).into()
}

/// `join!`'s expansion: `$crate; future, ...`.
#[doc(hidden)]
#[proc_macro]
pub fn join_impl(input: TokenStream) -> TokenStream {
    join::expand(input.into(), join::Kind::Join).into()
}

/// `try_join!`'s expansion: `$crate; future, ...`.
#[doc(hidden)]
#[proc_macro]
pub fn try_join_impl(input: TokenStream) -> TokenStream {
    join::expand(input.into(), join::Kind::TryJoin).into()
}

/// `select!`'s expansion: `$crate; [biased;] branches`.
#[doc(hidden)]
#[proc_macro]
pub fn select_impl(input: TokenStream) -> TokenStream {
    select::expand(input.into()).into()
}

/// Splits `$crate; rest` into the crate's path and the rest.
fn split_crate_path(
    input: proc_macro2::TokenStream,
) -> (proc_macro2::TokenStream, proc_macro2::TokenStream) {
    let mut tokens = input.into_iter();
    let path = tokens
        .by_ref()
        .take_while(|token| !matches!(token, proc_macro2::TokenTree::Punct(punct) if punct.as_char() == ';'))
        .collect();
    (path, tokens.collect())
}
