//! `join!` and `try_join!`: poll every future in order until all are done
//! (or, for `try_join!`, one fails).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, Token};

mod keyword {
    syn::custom_keyword!(biased);
}

/// Which macro.
pub(crate) enum Kind {
    Join,
    TryJoin,
}

pub(crate) fn expand(input: TokenStream, kind: Kind) -> TokenStream {
    let (krate, rest) = crate::split_crate_path(input);
    // `biased;` polls the futures in order, which this expansion always does.
    let parser = |input: syn::parse::ParseStream| {
        if input.peek(keyword::biased) && input.peek2(Token![;]) {
            input.parse::<keyword::biased>()?;
            input.parse::<Token![;]>()?;
        }
        Punctuated::<Expr, Token![,]>::parse_terminated(input)
    };
    let futures = match parser.parse2(rest) {
        Ok(futures) => futures,
        Err(error) => return error.to_compile_error(),
    };
    let names: Vec<_> = (0..futures.len())
        .map(|index| format_ident!("__future{}", index, span = Span::mixed_site()))
        .collect();
    let futures = futures.iter();
    let cx = quote::format_ident!("__cx", span = Span::mixed_site());
    let (poll, ready) = match kind {
        Kind::Join => (
            quote! { #( __done &= #names.poll_done(#cx); )* },
            quote! { ( #( #names.take_output(), )* ) },
        ),
        Kind::TryJoin => (
            quote! {
                #(
                    if #names.poll_done(#cx) {
                        if #names.is_err() {
                            return ::core::task::Poll::Ready(::core::result::Result::Err(#names.take_err()));
                        }
                    } else {
                        __done = false;
                    }
                )*
            },
            quote! { ::core::result::Result::Ok(( #( #names.take_ok(), )* )) },
        ),
    };
    quote! {{
        #( let mut #names = #krate::__private::MaybeDone::new(::core::future::IntoFuture::into_future(#futures)); )*
        ::core::future::poll_fn(|#cx: &mut ::core::task::Context<'_>| {
            let mut __done = true;
            #poll
            if __done {
                ::core::task::Poll::Ready(#ready)
            } else {
                ::core::task::Poll::Pending
            }
        })
        .await
    }}
}
