//! `#[oasis::main]`: turns an `async fn main` into the entry every oasis
//! platform calls, and records the devices the application declares.
//!
//! ```ignore
//! #[oasis::main(block = "storage")]
//! async fn main(mut env: oasis::Env) -> oasis::Result {
//!     let disk = env.block("storage")?;
//!     Ok(())
//! }
//! ```
//!
//! The expansion names no platform: it calls into the `oasis` facade, which
//! the build target wires to the right platform.

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::{ItemFn, LitStr, parse_macro_input};

/// Marks the application's entry. Arguments declare devices:
/// `net = "NAME"` and `block = "NAME"`, each as often as needed, and
/// `optional(block = "NAME", net = "NAME")` for devices the application
/// runs without (taken with `Env::optional_block` / `Env::optional_net`).
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut nets: Vec<LitStr> = Vec::new();
    let mut blocks: Vec<LitStr> = Vec::new();
    let mut optional_nets: Vec<LitStr> = Vec::new();
    let mut optional_blocks: Vec<LitStr> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("net") {
            nets.push(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("block") {
            blocks.push(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("optional") {
            meta.parse_nested_meta(|inner| {
                if inner.path.is_ident("net") {
                    optional_nets.push(inner.value()?.parse()?);
                    Ok(())
                } else if inner.path.is_ident("block") {
                    optional_blocks.push(inner.value()?.parse()?);
                    Ok(())
                } else {
                    Err(inner.error("expected `net = \"NAME\"` or `block = \"NAME\"`"))
                }
            })
        } else {
            Err(meta.error(
                "expected `net = \"NAME\"`, `block = \"NAME\"` or `optional(block = \"NAME\")`",
            ))
        }
    });
    parse_macro_input!(attr with parser);
    let mut func = parse_macro_input!(item as ItemFn);
    if func.sig.asyncness.is_none() {
        return syn::Error::new_spanned(func.sig.fn_token, "#[oasis::main] needs an `async fn`")
            .to_compile_error()
            .into();
    }
    let user = format_ident!("__oasis_user_{}", func.sig.ident);
    func.sig.ident = user.clone();
    let call = match func.sig.inputs.len() {
        0 => quote! { #user() },
        1 => quote! { #user(::oasis::Env::take()) },
        _ => {
            return syn::Error::new_spanned(
                &func.sig.inputs,
                "#[oasis::main] takes at most one argument, the `oasis::Env`",
            )
            .to_compile_error()
            .into();
        }
    };
    let decl = |kind: &str, name: &LitStr, optional: bool| {
        let kind = format_ident!("{kind}");
        quote! {
            ::oasis::rt::DeviceDecl {
                kind: ::oasis::rt::DeviceKind::#kind,
                name: #name,
                optional: #optional,
            }
        }
    };
    let decls = nets
        .iter()
        .map(|n| decl("Net", n, false))
        .chain(blocks.iter().map(|n| decl("Block", n, false)))
        .chain(optional_nets.iter().map(|n| decl("Net", n, true)))
        .chain(optional_blocks.iter().map(|n| decl("Block", n, true)));
    quote! {
        #func

        /// The application: its devices and its entry, handed to the platform at boot.
        fn __oasis_app() -> ::oasis::rt::App {
            static DEVICES: &[::oasis::rt::DeviceDecl] = &[#(#decls),*];
            ::oasis::rt::App {
                devices: DEVICES,
                main: || ::oasis::__entry(#call),
            }
        }

        ::oasis::__entry_point!(
            __oasis_app,
            net: [#(#nets),*],
            block: [#(#blocks),*],
            optional_net: [#(#optional_nets),*],
            optional_block: [#(#optional_blocks),*]
        );
    }
    .into()
}
