//! `#[derive(Record)]` for oasis-store: makes a struct with named fields a
//! record type — its encoding, its layout string, and a typed query builder
//! `<Name>Query` with one method per field.
//!
//! Attributes: `#[key]` on the primary key field (or `#[key(auto)]` on a
//! `u64` id that the store assigns when it is 0), `#[index]` or
//! `#[index(unique)]` on fields to index, `#[opaque]` on fields that are
//! stored but never queried (their type then needs no order-preserving
//! encoding, e.g. a `Vec<String>`), and `#[record(name = "...")]` on the
//! struct to store it under another name (for a migration's old version).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, LitStr, parse_macro_input, spanned::Spanned};

/// Derives `oasis_store::Record`. See the crate documentation.
#[proc_macro_derive(Record, attributes(key, index, opaque, record))]
pub fn derive_record(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Plain,
    Key,
    AutoKey,
    Index,
    Unique,
    Opaque,
}

fn field_kind(field: &syn::Field) -> syn::Result<Kind> {
    let mut kind = Kind::Plain;
    for attr in &field.attrs {
        let this = if attr.path().is_ident("key") {
            match &attr.meta {
                syn::Meta::Path(_) => Kind::Key,
                _ => {
                    let mut auto = false;
                    attr.parse_nested_meta(|m| {
                        if m.path.is_ident("auto") {
                            auto = true;
                            Ok(())
                        } else {
                            Err(m.error("expected #[key] or #[key(auto)]"))
                        }
                    })?;
                    if auto { Kind::AutoKey } else { Kind::Key }
                }
            }
        } else if attr.path().is_ident("opaque") {
            Kind::Opaque
        } else if attr.path().is_ident("index") {
            match &attr.meta {
                syn::Meta::Path(_) => Kind::Index,
                _ => {
                    let mut unique = false;
                    attr.parse_nested_meta(|m| {
                        if m.path.is_ident("unique") {
                            unique = true;
                            Ok(())
                        } else {
                            Err(m.error("expected #[index] or #[index(unique)]"))
                        }
                    })?;
                    if unique { Kind::Unique } else { Kind::Index }
                }
            }
        } else {
            continue;
        };
        if kind != Kind::Plain {
            return Err(syn::Error::new(
                attr.span(),
                "a field takes one of #[key], #[key(auto)], #[index], #[index(unique)], #[opaque]",
            ));
        }
        kind = this;
    }
    Ok(kind)
}

fn record_name(input: &DeriveInput) -> syn::Result<String> {
    let mut name = input.ident.to_string();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("record")) {
        attr.parse_nested_meta(|m| {
            if m.path.is_ident("name") {
                name = m.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else {
                Err(m.error("expected #[record(name = \"...\")]"))
            }
        })?;
    }
    Ok(name)
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let vis = &input.vis;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "a Record cannot be generic",
        ));
    }
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => &n.named,
            _ => {
                return Err(syn::Error::new(
                    ident.span(),
                    "a Record needs a struct with named fields",
                ));
            }
        },
        _ => {
            return Err(syn::Error::new(
                ident.span(),
                "a Record needs a struct with named fields",
            ));
        }
    };
    let name = record_name(input)?;
    let kinds = fields
        .iter()
        .map(field_kind)
        .collect::<syn::Result<Vec<_>>>()?;
    let keys: Vec<usize> = (0..kinds.len())
        .filter(|&i| matches!(kinds[i], Kind::Key | Kind::AutoKey))
        .collect();
    let key = match keys.as_slice() {
        [k] => *k,
        [] => {
            return Err(syn::Error::new(
                ident.span(),
                "mark one field #[key] (or #[key(auto)] on a u64 id)",
            ));
        }
        _ => {
            return Err(syn::Error::new(
                fields[keys[1]].span(),
                "a Record has exactly one #[key] field",
            ));
        }
    };
    let auto = kinds[key] == Kind::AutoKey;
    let st = quote!(::oasis_store);
    let key_ident = fields[key].ident.as_ref().expect("named field");
    let key_ty = &fields[key].ty;

    let mut layout = Vec::new();
    let mut defs = Vec::new();
    let mut encodes = Vec::new();
    let mut decodes = Vec::new();
    let mut names = Vec::new();
    let mut sort_arms = Vec::new();
    let mut accessors = Vec::new();
    for (i, (f, kind)) in fields.iter().zip(&kinds).enumerate() {
        let fid = f.ident.as_ref().expect("named field");
        let fname = fid.to_string();
        let ty = &f.ty;
        let (marker, index) = match kind {
            Kind::Plain => ("", quote!(None)),
            Kind::Opaque => ("#opaque", quote!(None)),
            Kind::Key => ("#key", quote!(Key)),
            Kind::AutoKey => ("#key(auto)", quote!(Key)),
            Kind::Index => ("#index", quote!(Index)),
            Kind::Unique => ("#index(unique)", quote!(Unique)),
        };
        let sep = if i == 0 { "" } else { "," };
        layout.push(quote!(#sep, #fname, ":", stringify!(#ty), #marker));
        let shape = if *kind == Kind::Opaque {
            quote!(#st::Shape::Open)
        } else {
            quote!(<#ty as #st::SortKey>::SHAPE)
        };
        defs.push(
            quote!(#st::FieldDef { name: #fname, index: #st::FieldIndex::#index, shape: #shape }),
        );
        // The key is stored once, as the engine's key, and read back from it.
        if matches!(kind, Kind::Key | Kind::AutoKey) {
            decodes.push(quote!(let #fid: #ty = #st::__private::decode_key(#name, #fname, key)?;));
        } else {
            encodes.push(quote!(#st::__private::encode_field(#name, &self.#fid, out)?;));
            decodes.push(
                quote!(let #fid: #ty = #st::__private::decode_field(#name, #fname, &mut rest)?;),
            );
        }
        names.push(fid.clone());
        if *kind == Kind::Opaque {
            continue;
        }
        sort_arms.push(quote!(#i => #st::SortKey::write_sort_key(&self.#fid, out),));
        let doc = format!("A condition or order on `{fname}`.");
        accessors.push(quote!(
            #[doc = #doc]
            pub fn #fid(self) -> #st::FieldQuery<'q, #ident, #ty> {
                #st::FieldQuery::new(self.0, #i)
            }
        ));
    }
    let query_ident = format_ident!("{}Query", ident);
    let query_doc = format!("The typed query builder of [`{ident}`].");
    let (key_of, auto_id) = if auto {
        (
            quote!(assigned.unwrap_or(self.#key_ident)),
            quote!(self.#key_ident),
        )
    } else {
        (
            quote!(::core::clone::Clone::clone(&self.#key_ident)),
            quote!(0),
        )
    };
    let auto_check = if auto {
        quote!(const _: fn(#key_ty) -> u64 = |id| id;)
    } else {
        quote!()
    };

    Ok(quote! {
        #auto_check

        impl #st::Record for #ident {
            const NAME: &'static str = #name;
            const LAYOUT: &'static str = concat!(#name, "{", #(#layout,)* "}");
            const FIELDS: &'static [#st::FieldDef] = &[#(#defs),*];
            const KEY_FIELD: usize = #key;
            const AUTO_KEY: bool = #auto;
            type Key = #key_ty;
            type Query<'q> = #query_ident<'q>;

            fn key_of(&self, assigned: ::core::option::Option<u64>) -> #key_ty {
                let _ = assigned;
                #key_of
            }

            fn auto_id(&self) -> u64 {
                #auto_id
            }

            fn encode(&self, out: &mut #st::__private::Vec<u8>) -> #st::Result<()> {
                #(#encodes)*
                Ok(())
            }

            fn decode(key: &[u8], value: &[u8]) -> #st::Result<Self> {
                let mut rest = value;
                #(#decodes)*
                #st::__private::finish_decode(#name, rest)?;
                Ok(#ident { #(#names),* })
            }

            fn field_sort_key(&self, field: usize, out: &mut #st::__private::Vec<u8>) {
                match field {
                    #(#sort_arms)*
                    _ => {}
                }
            }
        }

        #[doc = #query_doc]
        #vis struct #query_ident<'q>(#st::Query<'q, #ident>);

        impl<'q> ::core::convert::From<#st::Query<'q, #ident>> for #query_ident<'q> {
            fn from(q: #st::Query<'q, #ident>) -> Self {
                #query_ident(q)
            }
        }

        impl<'q> #query_ident<'q> {
            #(#accessors)*

            /// At most `n` results.
            pub fn limit(self, n: usize) -> Self {
                #query_ident(self.0.limit(n))
            }

            /// Leaves out the first `n` matches (read, not kept).
            pub fn skip(self, n: usize) -> Self {
                #query_ident(self.0.skip(n))
            }

            /// The matching records.
            pub fn fetch(self) -> #st::Result<#st::__private::Vec<#ident>> {
                self.0.fetch()
            }

            /// How many records match (within the limit).
            pub fn count(self) -> #st::Result<usize> {
                self.0.count()
            }

            /// The first matching record.
            pub fn first(self) -> #st::Result<::core::option::Option<#ident>> {
                self.0.first()
            }
        }
    })
}
