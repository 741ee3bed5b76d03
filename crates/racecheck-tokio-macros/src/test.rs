//! `#[tokio::test]` and `#[tokio::main]` under racecheck.

use proc_macro2::{Span, TokenStream};
use proc_macro_crate::{crate_name, FoundCrate};
use quote::{quote, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, MetaNameValue, ReturnType, Token};

/// Which attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    Test,
    Main,
}

/// The attribute's arguments, checked.
struct Settings {
    /// `flavor = "multi_thread"`: step granularity.
    step: bool,
    iterations: Option<u64>,
    seed: Option<u64>,
    strategy: Option<String>,
    depth: Option<u32>,
    /// `check_replay_every = k`: replay every k-th passing execution.
    check_replay_every: Option<u64>,
    /// `unhandled_panic = "shutdown_runtime"`: a task's panic fails the
    /// execution.
    panics_fail: bool,
    /// `crate = "path"`: where racecheck-tokio is.
    krate: Option<syn::Path>,
    /// `name = "…"`: the runtime's name, as `Handle::name` returns it.
    name: Option<String>,
}

const STRATEGIES: [&str; 4] = ["random", "pct", "exhaustive", "bounded"];

pub(crate) fn expand(args: TokenStream, item: TokenStream, entry: Entry) -> TokenStream {
    let function: ItemFn = match syn::parse2(item) {
        Ok(function) => function,
        Err(error) => return error.to_compile_error(),
    };
    let settings = match parse_settings(args, entry) {
        Ok(settings) => settings,
        Err(error) => return error.to_compile_error(),
    };
    if function.sig.asyncness.is_none() {
        let message = "the `async` keyword is missing from the function declaration";
        return syn::Error::new_spanned(function.sig.fn_token, message).to_compile_error();
    }
    let krate = settings
        .krate
        .as_ref()
        .map_or_else(crate_path, ToTokens::to_token_stream);
    match entry {
        Entry::Test => expand_test(function, &settings, &krate),
        Entry::Main => expand_main(function, &krate),
    }
}

fn parse_settings(args: TokenStream, entry: Entry) -> syn::Result<Settings> {
    let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(args)?;
    let mut settings = Settings {
        step: entry == Entry::Main,
        iterations: None,
        seed: None,
        strategy: None,
        depth: None,
        check_replay_every: None,
        panics_fail: false,
        krate: None,
        name: None,
    };
    for pair in pairs {
        let name = pair.path.to_token_stream().to_string();
        let value = &pair.value;
        match name.as_str() {
            "flavor" => settings.step = flavor_is_multi_thread(value)?,
            "worker_threads" | "start_paused" => {}
            "name" => settings.name = Some(string(value)?),
            "unhandled_panic" => settings.panics_fail = shutdown_on_panic(value)?,
            "iterations" => settings.iterations = Some(integer(value)?),
            "seed" => settings.seed = Some(integer(value)?),
            "depth" => settings.depth = Some(integer(value)?),
            "check_replay_every" => settings.check_replay_every = Some(integer(value)?),
            "strategy" => {
                let strategy = string(value)?;
                if !STRATEGIES.contains(&strategy.as_str()) {
                    let message =
                        format!("unknown strategy {strategy:?}; expected one of {STRATEGIES:?}");
                    return Err(syn::Error::new_spanned(value, message));
                }
                settings.strategy = Some(strategy);
            }
            "crate" => settings.krate = Some(syn::parse_str(&string(value)?)?),
            _ => {
                let message = format!(
                    "unknown attribute argument `{name}`; expected `flavor`, `worker_threads`, \
                     `start_paused`, `name`, `unhandled_panic`, `crate`, `iterations`, `seed`, \
                     `strategy`, `depth` or `check_replay_every`"
                );
                return Err(syn::Error::new_spanned(&pair.path, message));
            }
        }
    }
    Ok(settings)
}

fn flavor_is_multi_thread(value: &Expr) -> syn::Result<bool> {
    match string(value)?.as_str() {
        "multi_thread" => Ok(true),
        // tokio's `LocalRuntime`: one thread, `!Send` tasks, as current_thread.
        "current_thread" | "local" => Ok(false),
        other => Err(syn::Error::new_spanned(
            value,
            format!(
                "unknown flavor {other:?}; expected \"current_thread\", \"multi_thread\" \
                 or \"local\""
            ),
        )),
    }
}

fn shutdown_on_panic(value: &Expr) -> syn::Result<bool> {
    match string(value)?.as_str() {
        "shutdown_runtime" => Ok(true),
        "ignore" => Ok(false),
        other => Err(syn::Error::new_spanned(
            value,
            format!(
                "unknown unhandled_panic {other:?}; expected \"ignore\" or \"shutdown_runtime\""
            ),
        )),
    }
}

fn string(value: &Expr) -> syn::Result<String> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Ok(text.value()),
        _ => Err(syn::Error::new_spanned(value, "expected a string literal")),
    }
}

fn integer<N: std::str::FromStr<Err = std::num::ParseIntError> + std::fmt::Display>(
    value: &Expr,
) -> syn::Result<N> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(number),
            ..
        }) => number.base10_parse(),
        _ => Err(syn::Error::new_spanned(
            value,
            "expected an integer literal",
        )),
    }
}

/// The path of racecheck-tokio as the crate being compiled names it: the
/// dependency's name in its Cargo.toml (`tokio` when renamed as the docs
/// say), `racecheck_tokio` in the crate's own tests and examples.
fn crate_path() -> TokenStream {
    let name = match crate_name("racecheck-tokio") {
        Ok(FoundCrate::Itself) => "racecheck_tokio".to_string(),
        Ok(FoundCrate::Name(name)) => name,
        Err(_) => "tokio".to_string(),
    };
    let ident = syn::Ident::new(&name, Span::call_site());
    quote! { ::#ident }
}

fn option<T: ToTokens>(value: &Option<T>) -> TokenStream {
    match value {
        Some(value) => quote! { ::core::option::Option::Some(#value) },
        None => quote! { ::core::option::Option::None },
    }
}

fn expand_test(function: ItemFn, settings: &Settings, krate: &TokenStream) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = function;
    let name = &sig.ident;
    let output = &sig.output;
    let step = settings.step;
    let iterations = option(&settings.iterations);
    let seed = option(&settings.seed);
    let strategy = option(&settings.strategy);
    let depth = option(&settings.depth);
    let check_replay_every = option(&settings.check_replay_every);
    let runtime_name = option(&settings.name);
    let panics_fail = settings.panics_fail;
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() {
            async fn __racecheck_body() #output #block
            #krate::__private::run_test(
                #krate::__private::TestSettings {
                    step: #step,
                    iterations: #iterations,
                    seed: #seed,
                    strategy: #strategy,
                    depth: #depth,
                    check_replay_every: #check_replay_every,
                    panics_fail: #panics_fail,
                    name: #runtime_name,
                    package: ::core::env!("CARGO_PKG_NAME"),
                },
                __racecheck_body,
            )
        }
    }
}

fn expand_main(function: ItemFn, krate: &TokenStream) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = function;
    let name = &sig.ident;
    let inputs = &sig.inputs;
    let output = match &sig.output {
        ReturnType::Default => quote! {},
        output => quote! { #output },
    };
    quote! {
        #(#attrs)*
        #vis fn #name(#inputs) #output {
            #krate::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("Failed building the Runtime")
                .block_on(async move #block)
        }
    }
}
