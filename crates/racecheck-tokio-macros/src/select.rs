//! `select!`: tokio's syntax, with the branch polled first chosen by
//! racecheck's scheduler.
//!
//! ```text
//! select! {
//!     biased;                                  // optional: poll in order
//!     <pattern> = <future> [, if <condition>] => <handler>[,]
//!     ...
//!     else => <expression>[,]                  // optional
//! }
//! ```
//!
//! Like tokio: the conditions are evaluated first (a false one disables its
//! branch), then every future expression; the enabled futures are polled in
//! turn from a starting branch, and the first to complete whose output
//! matches its pattern wins; an output that does not match disables its
//! branch. The other futures are dropped before the handler runs. When
//! every branch is disabled, the `else` expression is the result (without
//! one, `select!` panics). Unlike tokio, the starting branch is not drawn
//! from a thread-local RNG: it is a data choice of racecheck's scheduler
//! (`rt::choose`), recorded in the schedule and replayed exactly.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Pat, Token};

struct Branch {
    pattern: Pat,
    future: Expr,
    condition: Option<Expr>,
    handler: Expr,
}

struct Select {
    biased: bool,
    branches: Vec<Branch>,
    otherwise: Option<Expr>,
}

mod keyword {
    syn::custom_keyword!(biased);
}

impl Parse for Select {
    fn parse(input: ParseStream) -> syn::Result<Select> {
        let biased = input.peek(keyword::biased) && input.peek2(Token![;]);
        if biased {
            input.parse::<keyword::biased>()?;
            input.parse::<Token![;]>()?;
        }
        let mut select = Select {
            biased,
            branches: Vec::new(),
            otherwise: None,
        };
        while !input.is_empty() {
            if input.peek(Token![else]) {
                input.parse::<Token![else]>()?;
                input.parse::<Token![=>]>()?;
                select.otherwise = Some(parse_handler(input)?);
                continue;
            }
            let pattern = Pat::parse_multi_with_leading_vert(input)?;
            input.parse::<Token![=]>()?;
            let future = input.parse()?;
            let condition = if input.peek(Token![,]) && input.peek2(Token![if]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                Some(input.parse()?)
            } else {
                None
            };
            input.parse::<Token![=>]>()?;
            let handler = parse_handler(input)?;
            select.branches.push(Branch {
                pattern,
                future,
                condition,
                handler,
            });
        }
        if select.branches.is_empty() && select.otherwise.is_none() {
            return Err(input.error("select! needs at least one branch"));
        }
        Ok(select)
    }
}

/// A handler: a block (comma optional) or an expression (comma required
/// unless last).
fn parse_handler(input: ParseStream) -> syn::Result<Expr> {
    let handler: Expr = input.parse()?;
    let is_block = matches!(handler, Expr::Block(_));
    if input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
    } else if !is_block && !input.is_empty() {
        return Err(input.error("expected `,` after a select! branch's expression"));
    }
    Ok(handler)
}

/// `pattern` with its bindings made harmless for a test on a reference:
/// `ref` and `mut` removed, so `mut x` does not try to move out of it.
fn clean_pattern(pattern: &mut Pat) {
    match pattern {
        Pat::Ident(ident) => {
            ident.by_ref = None;
            ident.mutability = None;
            if let Some((_, sub)) = &mut ident.subpat {
                clean_pattern(sub);
            }
        }
        Pat::Or(or) => or.cases.iter_mut().for_each(clean_pattern),
        Pat::Paren(paren) => clean_pattern(&mut paren.pat),
        Pat::Reference(reference) => {
            reference.mutability = None;
            clean_pattern(&mut reference.pat);
        }
        Pat::Slice(slice) => slice.elems.iter_mut().for_each(clean_pattern),
        Pat::Struct(structure) => structure
            .fields
            .iter_mut()
            .for_each(|field| clean_pattern(&mut field.pat)),
        Pat::Tuple(tuple) => tuple.elems.iter_mut().for_each(clean_pattern),
        Pat::TupleStruct(tuple) => tuple.elems.iter_mut().for_each(clean_pattern),
        Pat::Type(typed) => clean_pattern(&mut typed.pat),
        _ => {}
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let (krate, rest) = crate::split_crate_path(input);
    let select: Select = match syn::parse2(rest) {
        Ok(select) => select,
        Err(error) => return error.to_compile_error(),
    };
    if select.branches.is_empty() {
        // Only `else`: nothing to wait for, as in tokio.
        let otherwise = select.otherwise;
        return quote! {{ #otherwise }};
    }
    let names = Names::new(select.branches.len());
    let (variants, types) = (&names.variants, &names.types);
    let polling = poll_until_one_wins(&select, &names, &krate);
    let dispatch = run_the_handler(select, &names);
    quote! {{
        #[allow(non_camel_case_types)]
        enum __Output<#(#types,)*> {
            #( #variants(#types), )*
            Disabled,
        }
        #[allow(unused_mut)]
        let mut __output = #polling;
        #dispatch
    }}
}

/// The identifiers of the expansion, one per branch, hygienic.
struct Names {
    futures: Vec<syn::Ident>,
    variants: Vec<syn::Ident>,
    types: Vec<syn::Ident>,
}

impl Names {
    fn new(count: usize) -> Names {
        let mixed = Span::mixed_site();
        let names = |prefix: &str| -> Vec<syn::Ident> {
            (0..count)
                .map(|index| format_ident!("{}{}", prefix, index, span = mixed))
                .collect()
        };
        Names {
            futures: names("__future"),
            variants: names("_"),
            types: names("__T"),
        }
    }
}

/// The block that evaluates the conditions and futures, chooses where to
/// start, and polls until a branch wins (or none is left): its value is
/// the `__Output`. The futures are dropped at its end.
fn poll_until_one_wins(select: &Select, names: &Names, krate: &TokenStream) -> TokenStream {
    let count = select.branches.len();
    let futures = &names.futures;
    let enabled = select
        .branches
        .iter()
        .map(|branch| match &branch.condition {
            Some(condition) => quote! { (#condition) },
            None => quote! { true },
        });
    let future_expressions = select.branches.iter().map(|branch| &branch.future);
    let polls =
        select.branches.iter().enumerate().map(|(index, branch)| {
            poll_branch(index, branch, &futures[index], &names.variants[index])
        });
    let start = if select.biased {
        quote! { 0usize }
    } else {
        quote! { #krate::__private::select_start(&__enabled).await }
    };
    quote! {{
        let mut __enabled: [bool; #count] = [#(#enabled,)*];
        // Each expression alone first, so that a borrow of a temporary in it
        // (`&mut ready(())`) has its lifetime extended, as in tokio.
        #( let #futures = #future_expressions; )*
        #(
            let mut #futures = ::core::pin::pin!(
                ::core::future::IntoFuture::into_future(#futures)
            );
        )*
        let __start: usize = #start;
        ::core::future::poll_fn(|__cx: &mut ::core::task::Context<'_>| {
            let mut __pending = false;
            for __offset in 0..#count {
                let mut __branch = __start + __offset;
                if __branch >= #count {
                    __branch -= #count;
                }
                match __branch {
                    #( #polls )*
                    _ => ::core::unreachable!(),
                }
            }
            if __pending {
                ::core::task::Poll::Pending
            } else {
                ::core::task::Poll::Ready(__Output::Disabled)
            }
        })
        .await
    }}
}

/// The `match` that binds the winner's pattern and runs its handler, or
/// the `else` expression.
fn run_the_handler(select: Select, names: &Names) -> TokenStream {
    let handlers = select
        .branches
        .iter()
        .zip(&names.variants)
        .map(|(branch, variant)| {
            let (pattern, handler) = (&branch.pattern, &branch.handler);
            quote! { __Output::#variant(#pattern) => #handler, }
        });
    let otherwise = select.otherwise.map_or_else(
        || quote! { ::core::panic!("all branches are disabled and there is no else branch") },
        |otherwise| quote! { #otherwise },
    );
    quote! {
        #[allow(unreachable_patterns)]
        match __output {
            #( #handlers )*
            __Output::Disabled => #otherwise,
            _ => ::core::unreachable!("a select! output matched its pattern when polled"),
        }
    }
}

/// The match arm that polls branch `index`, if enabled.
fn poll_branch(
    index: usize,
    branch: &Branch,
    future: &syn::Ident,
    variant: &syn::Ident,
) -> TokenStream {
    let mut test = branch.pattern.clone();
    clean_pattern(&mut test);
    quote! {
        #[allow(unreachable_code)]
        #index => {
            if !__enabled[#index] {
                continue;
            }
            // A `match` whose other arm diverges, as in tokio: an output
            // type nothing else names (`poll_fn(|_| panic!())`) then falls
            // back like the never type instead of failing inference.
            let __value = match ::core::future::Future::poll(#future.as_mut(), __cx) {
                ::core::task::Poll::Ready(__value) => __value,
                ::core::task::Poll::Pending => {
                    __pending = true;
                    continue;
                }
            };
            #[allow(unused_variables, unreachable_patterns)]
            match &__value {
                #test => return ::core::task::Poll::Ready(__Output::#variant(__value)),
                _ => __enabled[#index] = false,
            }
        }
    }
}
