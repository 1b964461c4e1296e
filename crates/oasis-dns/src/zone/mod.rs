//! RFC 1035 master files (§5): `$ORIGIN`, `$TTL` (RFC 2308), `$INCLUDE`
//! through a caller-supplied resolver (no_std has no file system), relative
//! names and `@`, parentheses, comments, `\DDD`/`\X` escapes, TTL units,
//! class IN, the common record types, and RFC 3597 `TYPEnnn \# len hex`.
//! [`file`](mod@file) turns a named zone file into a [`crate::engine::Zone`].

pub mod file;
mod lexer;
mod rdata;
mod svcb;
pub mod text;

use crate::wire::{Class, Name, RData, Record, Type};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// How deep `$INCLUDE` may nest, so a file including itself fails cleanly.
const MAX_INCLUDE_DEPTH: usize = 8;

/// A master-file error: which file, which line, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneError {
    /// The file name as the caller gave it (or as `$INCLUDE` named it).
    pub file: String,
    /// Line number, from 1.
    pub line: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: expected {}", self.file, self.line, self.message)
    }
}

impl core::error::Error for ZoneError {}

/// Resolves an `$INCLUDE` file name to the file's text, or says why not.
pub type IncludeResolver<'r> = dyn FnMut(&str) -> Result<String, String> + 'r;

/// Parses a master file whose `$INCLUDE` directives are refused.
pub fn parse_str(text: &str, file: &str, origin: &Name) -> Result<Vec<Record>, ZoneError> {
    parse(text, file, origin, &mut |f: &str| {
        Err(format!("no file system to read `{f}` from"))
    })
}

/// Parses a master file; `include` gives the text of files named by `$INCLUDE`.
pub fn parse(
    text: &str,
    file: &str,
    origin: &Name,
    include: &mut IncludeResolver<'_>,
) -> Result<Vec<Record>, ZoneError> {
    let mut p = Parser {
        origin: origin.clone(),
        default_ttl: None,
        last_ttl: None,
        owner: None,
        out: Vec::new(),
    };
    p.file(text, file, include, 0)?;
    Ok(p.out)
}

struct Parser {
    origin: Name,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    owner: Option<Name>,
    out: Vec<Record>,
}

impl Parser {
    fn file(
        &mut self,
        text: &str,
        file: &str,
        include: &mut IncludeResolver<'_>,
        depth: usize,
    ) -> Result<(), ZoneError> {
        let err = |line: usize, message: String| ZoneError {
            file: file.to_string(),
            line,
            message,
        };
        let entries =
            lexer::entries(text.as_bytes()).map_err(|e| err(e.line, e.message.to_string()))?;
        for e in entries {
            let first = e.tokens[0].text;
            if !e.blank_owner && first.first() == Some(&b'$') {
                self.directive(&e, file, include, depth)?;
                continue;
            }
            self.record(&e).map_err(|m| err(e.line, m))?;
        }
        Ok(())
    }

    fn directive(
        &mut self,
        e: &lexer::Entry<'_>,
        file: &str,
        include: &mut IncludeResolver<'_>,
        depth: usize,
    ) -> Result<(), ZoneError> {
        let err = |message: String| ZoneError {
            file: file.to_string(),
            line: e.line,
            message,
        };
        let arg = |i: usize, what: &str| {
            e.tokens
                .get(i)
                .map(|t| t.text)
                .ok_or_else(|| err(format!("{what} after {}", text::show(e.tokens[0].text))))
        };
        let directive = e.tokens[0].text.to_ascii_uppercase();
        let max_args = match directive.as_slice() {
            b"$ORIGIN" => {
                self.origin = text::name(arg(1, "a domain name")?, &self.origin).map_err(err)?;
                2
            }
            b"$TTL" => {
                self.default_ttl = Some(text::ttl(arg(1, "a TTL")?).map_err(err)?);
                2
            }
            b"$INCLUDE" => {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(err(format!(
                        "$INCLUDE nested at most {MAX_INCLUDE_DEPTH} deep"
                    )));
                }
                let name =
                    String::from_utf8_lossy(&text::unescape(arg(1, "a file name")?).map_err(err)?)
                        .into_owned();
                let body = include(&name)
                    .map_err(|why| err(format!("a readable file `{name}`: {why}")))?;
                let saved = (self.origin.clone(), self.owner.clone());
                if let Some(o) = e.tokens.get(2) {
                    self.origin = text::name(o.text, &self.origin).map_err(err)?;
                }
                self.file(&body, &name, include, depth + 1)?;
                (self.origin, self.owner) = saved;
                3
            }
            _ => {
                return Err(err(format!(
                    "$ORIGIN, $TTL or $INCLUDE, found `{}`",
                    text::show(&directive)
                )));
            }
        };
        if let Some(extra) = e.tokens.get(max_args) {
            return Err(err(format!(
                "the end of the directive, found `{}`",
                text::show(extra.text)
            )));
        }
        Ok(())
    }

    fn record(&mut self, e: &lexer::Entry<'_>) -> Result<(), String> {
        let mut i = 0;
        let owner = if e.blank_owner {
            self.owner
                .clone()
                .ok_or("an owner name (the first record cannot omit it)")?
        } else {
            i = 1;
            text::name(e.tokens[0].text, &self.origin)?
        };
        let mut ttl = None;
        let mut class = None;
        let mut rtype = None;
        while let Some(t) = e.tokens.get(i) {
            i += 1;
            if ttl.is_none() && text::is_ttl(t.text) {
                ttl = Some(text::ttl(t.text)?);
            } else if class.is_none()
                && (t.text.eq_ignore_ascii_case(b"IN") || t.text.eq_ignore_ascii_case(b"CLASS1"))
            {
                class = Some(Class::IN);
            } else if class.is_none() && is_other_class(t.text) {
                return Err(format!("class IN, found `{}`", text::show(t.text)));
            } else {
                let s = core::str::from_utf8(t.text).unwrap_or("");
                rtype = Some(
                    Type::from_mnemonic(s)
                        .filter(|t| !t.is_meta())
                        .ok_or_else(|| {
                            format!(
                                "a record type such as A, MX or TYPE65280, found `{}`",
                                text::show(t.text)
                            )
                        })?,
                );
                break;
            }
        }
        let rtype = rtype.ok_or("a record type, found the end of the record")?;
        let rdata = rdata::parse(rtype, &e.tokens[i..], &self.origin)?;
        let ttl = match (ttl, self.default_ttl, self.last_ttl, &rdata) {
            (Some(t), ..) => t,
            (None, Some(t), ..) => t,
            (None, None, Some(t), _) => t,
            (None, None, None, RData::Soa(s)) => s.minimum,
            _ => return Err("a TTL (there is no $TTL and no earlier TTL)".into()),
        };
        self.last_ttl = Some(ttl);
        self.owner = Some(owner.clone());
        self.out.push(Record {
            name: owner,
            rtype,
            class: Class::IN,
            ttl,
            rdata,
        });
        Ok(())
    }
}

fn is_other_class(t: &[u8]) -> bool {
    t.eq_ignore_ascii_case(b"CH")
        || t.eq_ignore_ascii_case(b"HS")
        || t.eq_ignore_ascii_case(b"CS")
        || crate::wire::strip_prefix_ignore_case(core::str::from_utf8(t).unwrap_or(""), "CLASS")
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
