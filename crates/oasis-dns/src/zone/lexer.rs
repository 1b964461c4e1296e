//! Splits a master file into entries (RFC 1035 §5.1): one entry per logical
//! line, with parentheses joining physical lines, `;` comments removed,
//! quoted strings kept whole, and escapes left for the field parsers.

use alloc::vec::Vec;

/// One whitespace-separated field, still holding its escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// The field's bytes without surrounding quotes.
    pub text: &'a [u8],
    /// True if the field was written in double quotes.
    pub quoted: bool,
    /// Line number (from 1) where the field starts.
    pub line: usize,
}

/// One logical line of a master file.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    /// Line where the entry starts.
    pub line: usize,
    /// True if the line starts with a blank, meaning "same owner as before".
    pub blank_owner: bool,
    /// The fields.
    pub tokens: Vec<Token<'a>>,
}

/// A lexical error: the line and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    /// Line number where the problem was found.
    pub line: usize,
    /// What was expected.
    pub message: &'static str,
}

/// Splits `text` into entries.
pub fn entries(text: &[u8]) -> Result<Vec<Entry<'_>>, LexError> {
    let mut out = Vec::new();
    let mut line = 1usize;
    let mut i = 0usize;
    let mut depth = 0usize;
    let mut paren_line = 0usize;
    let mut current: Option<Entry<'_>> = None;
    let mut at_line_start = true;
    while i < text.len() {
        let b = text[i];
        if at_line_start && depth == 0 {
            at_line_start = false;
            current = Some(Entry {
                line,
                blank_owner: b == b' ' || b == b'\t',
                tokens: Vec::new(),
            });
        }
        match b {
            b'\n' => {
                line += 1;
                i += 1;
                if depth == 0 {
                    if let Some(e) = current.take()
                        && !e.tokens.is_empty()
                    {
                        out.push(e);
                    }
                    at_line_start = true;
                }
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b';' => {
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
                i += 1;
            }
            b')' => {
                if depth == 0 {
                    return Err(LexError {
                        line,
                        message: "a `)` without a matching `(`",
                    });
                }
                depth -= 1;
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let tok_line = line;
                i = start;
                loop {
                    match text.get(i) {
                        None => {
                            return Err(LexError {
                                line: tok_line,
                                message: "a closing `\"`",
                            });
                        }
                        Some(b'"') => break,
                        Some(b'\\') => i += 2,
                        Some(b'\n') => {
                            line += 1;
                            i += 1
                        }
                        Some(_) => i += 1,
                    }
                }
                let end = i.min(text.len());
                if let Some(e) = current.as_mut() {
                    e.tokens.push(Token {
                        text: &text[start..end],
                        quoted: true,
                        line: tok_line,
                    });
                }
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < text.len() {
                    match text[i] {
                        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                        b'\\' => i = (i + 2).min(text.len()),
                        _ => i += 1,
                    }
                }
                if let Some(e) = current.as_mut() {
                    e.tokens.push(Token {
                        text: &text[start..i],
                        quoted: false,
                        line,
                    });
                }
            }
        }
    }
    if depth > 0 {
        return Err(LexError {
            line: paren_line,
            message: "a `)` to close this `(`",
        });
    }
    if let Some(e) = current.take()
        && !e.tokens.is_empty()
    {
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(e: &Entry<'a>) -> Vec<&'a [u8]> {
        e.tokens.iter().map(|t| t.text).collect()
    }

    #[test]
    fn joins_parentheses_and_drops_comments() {
        let z = b"@ IN SOA ns hostmaster ( 1 ; serial\n  2 3\n 4 5 )\n\twww A 1.2.3.4 ; c\n";
        let e = entries(z).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(texts(&e[0]).len(), 10);
        assert!(!e[0].blank_owner);
        assert!(e[1].blank_owner);
        assert_eq!(e[1].line, 4);
    }

    #[test]
    fn keeps_quoted_strings_and_escapes() {
        let e = entries(b"a TXT \"x ; (y)\" b\\ c \"q\\\"\"\n").unwrap();
        assert_eq!(
            texts(&e[0]),
            [&b"a"[..], b"TXT", b"x ; (y)", b"b\\ c", b"q\\\""]
        );
        assert!(e[0].tokens[2].quoted);
    }

    #[test]
    fn reports_unbalanced_input() {
        assert_eq!(entries(b"a ( b\n").unwrap_err().line, 1);
        assert_eq!(entries(b"a\nb )\n").unwrap_err().line, 2);
        assert_eq!(entries(b"a \"b\n").unwrap_err().message, "a closing `\"`");
    }
}
