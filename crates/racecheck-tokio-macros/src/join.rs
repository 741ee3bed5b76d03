//! `join!` and `try_join!`: poll every future until all are done (or, for
//! `try_join!`, one fails), each poll starting one future further on as in
//! tokio (in order with `biased;`).

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
    let parser = |input: syn::parse::ParseStream| {
        let biased = input.peek(keyword::biased) && input.peek2(Token![;]);
        if biased {
            input.parse::<keyword::biased>()?;
            input.parse::<Token![;]>()?;
        }
        Ok((
            biased,
            Punctuated::<Expr, Token![,]>::parse_terminated(input)?,
        ))
    };
    let (biased, futures) = match parser.parse2(rest) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    let count = futures.len();
    let names: Vec<_> = (0..count)
        .map(|index| format_ident!("__future{}", index, span = Span::mixed_site()))
        .collect();
    let futures = futures.iter();
    let cx = quote::format_ident!("__cx", span = Span::mixed_site());
    let polls = names.iter().enumerate().map(|(index, name)| {
        let poll = match kind {
            Kind::Join => quote! { __done &= #name.poll_done(#cx); },
            Kind::TryJoin => quote! {
                if #name.poll_done(#cx) {
                    if #name.is_err() {
                        return ::core::task::Poll::Ready(::core::result::Result::Err(#name.take_err()));
                    }
                } else {
                    __done = false;
                }
            },
        };
        quote! { #index => { #poll } }
    });
    let ready = match kind {
        Kind::Join => quote! { ( #( #names.take_output(), )* ) },
        Kind::TryJoin => quote! { ::core::result::Result::Ok(( #( #names.take_ok(), )* )) },
    };
    // As in tokio: unless `biased;`, each poll starts one future further
    // on, so that no future is always polled first.
    let rotate = if biased {
        quote! {}
    } else {
        quote! { __first = if __first + 1 == #count { 0 } else { __first + 1 }; }
    };
    quote! {{
        #( let mut #names = #krate::__private::MaybeDone::new(::core::future::IntoFuture::into_future(#futures)); )*
        #[allow(unused_mut)]
        let mut __first: usize = 0;
        ::core::future::poll_fn(|#cx: &mut ::core::task::Context<'_>| {
            let mut __done = true;
            let __start = __first;
            #rotate
            for __offset in 0..#count {
                let mut __index = __start + __offset;
                if __index >= #count {
                    __index -= #count;
                }
                match __index {
                    #( #polls )*
                    _ => ::core::unreachable!(),
                }
            }
            if __done {
                ::core::task::Poll::Ready(#ready)
            } else {
                ::core::task::Poll::Pending
            }
        })
        .await
    }}
}
