//! The SCIM filter grammar (RFC 7644 §3.4.2.2): AST, parser, printer, evaluator.
//!
//! Grammar (RFC 7644 figure 1), with `not` binding tighter than `and`, and `and` tighter
//! than `or`; both binary operators are left-associative:
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"      ; no brackets inside valFilter
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! compValue = false / null / true / number / string   ; JSON (RFC 7159)
//! ```

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use serde_json::{Number, Value};

use crate::error::ScimError;
use crate::path::{check_attr_name, is_path_char, split_attr_path, AttrPath};
use crate::schema::{resolve, AttrType, ResourceKind};

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attrPath pr`
    Present(AttrPath),
    /// `attrPath compareOp compValue`
    Compare(AttrPath, CompareOp, CompValue),
    /// `attrPath "[" valFilter "]"`: the inner filter's paths are relative to the attribute.
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// `compValue = false / null / true / number / string`
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

/// Longest filter [`parse_filter`] accepts, in bytes.
pub const MAX_FILTER_LEN: usize = 8 * 1024;
/// Deepest nesting of parentheses, `not (…)` and brackets [`parse_filter`] accepts.
pub const MAX_FILTER_DEPTH: usize = 64;

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator as written in a filter, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Case-insensitive lookup of an operator word.
    pub fn from_word(word: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

/// Parses a SCIM filter (RFC 7644 §3.4.2.2). Operators, `and`/`or`/`not` and
/// `true`/`false`/`null` are case-insensitive; attribute names keep their case.
///
/// Errors are 400 `invalidFilter`; the detail names the character offset (0-based) and
/// what was expected there.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "Invalid filter: it is {} bytes long; the limit is {MAX_FILTER_LEN}",
            input.len()
        )));
    }
    let mut parser = Parser::new(input);
    let result = (|| {
        parser.skip_ws();
        if parser.at_end() {
            return Err(parser.error_here(
                "the filter is empty; expected an expression such as userName eq \"bjensen\"",
            ));
        }
        let filter = parser.or_expr(false)?;
        parser.expect_end("'and', 'or' or the end of the filter")?;
        Ok(filter)
    })();
    result.map_err(|e| {
        ScimError::invalid_filter(format!(
            "Invalid filter at offset {}: {}",
            parser.char_offset(e.offset),
            e.message
        ))
    })
}

/// A syntax error: byte offset into the input and what went wrong there.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// Recursive-descent parser shared by filters and PATCH paths.
pub(crate) struct Parser<'a> {
    input: &'a str,
    /// Byte offset of the next character; always on a char boundary.
    pos: usize,
    depth: usize,
}

/// Characters that end a bare word (operator, number, literal).
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')
}

/// Shortens user input quoted back in an error message.
fn snippet(s: &str) -> String {
    const SHOWN: usize = 40;
    let mut out: String = s.chars().take(SHOWN).collect();
    if s.chars().nth(SHOWN).is_some() {
        out.push('…');
    }
    out
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Parser {
            input,
            pos: 0,
            depth: 0,
        }
    }

    /// Converts a byte offset into the character offset people see in messages.
    pub(crate) fn char_offset(&self, byte: usize) -> usize {
        self.input.get(..byte).map_or(0, |s| s.chars().count())
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    pub(crate) fn advance_char(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    /// Skips spaces, tabs and line breaks; tells whether there were any.
    pub(crate) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(' ' | '\t' | '\r' | '\n')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).unwrap_or("")
    }

    fn read_word(&mut self) -> &'a str {
        self.take_while(|c| !is_delimiter(c))
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            offset,
            message: message.into(),
        }
    }

    pub(crate) fn error_here(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    /// What the input holds at the current position, for "found …" in messages.
    fn describe_here(&self) -> String {
        match self.peek() {
            None => "the end of the input".to_string(),
            Some('"') => format!("the string {}", snippet(self.rest())),
            Some(c) if is_delimiter(c) => format!("'{c}'"),
            Some(_) => {
                let word: String = self
                    .rest()
                    .chars()
                    .take_while(|c| !is_delimiter(*c))
                    .collect();
                format!("'{}'", snippet(&word))
            }
        }
    }

    /// Succeeds when only whitespace is left.
    pub(crate) fn expect_end(&mut self, expected: &str) -> Result<(), ParseError> {
        self.skip_ws();
        match self.peek() {
            None => Ok(()),
            Some(')') => Err(self.error_here("unexpected ')' without a matching '('")),
            Some(']') => Err(self.error_here("unexpected ']' without a matching '['")),
            Some(_) => Err(self.error_here(format!(
                "expected {expected}, found {}",
                self.describe_here()
            ))),
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.error_at(
                at,
                format!(
                    "the filter nests parentheses and brackets more than {MAX_FILTER_DEPTH} \
                     levels deep; simplify it"
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Consumes `word` (case-insensitive) if it is the next word.
    fn keyword(&mut self, word: &str) -> bool {
        let saved = self.pos;
        self.skip_ws();
        if self.read_word().eq_ignore_ascii_case(word) {
            true
        } else {
            self.pos = saved;
            false
        }
    }

    // Chains are built in loops, not by recursion, so only parentheses and brackets
    // (bounded by MAX_FILTER_DEPTH) deepen the call stack.
    fn or_expr(&mut self, in_brackets: bool) -> Result<Filter, ParseError> {
        let mut left = self.and_expr(in_brackets)?;
        while self.keyword("or") {
            let right = self.and_expr(in_brackets)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, in_brackets: bool) -> Result<Filter, ParseError> {
        let mut left = self.unary(in_brackets)?;
        while self.keyword("and") {
            let right = self.unary(in_brackets)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, in_brackets: bool) -> Result<Filter, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('(') => return self.group(in_brackets),
            Some(c) if is_path_char(c) => {}
            _ => {
                return Err(self.error_here(format!(
                    "expected an attribute path, '(' or 'not (', found {}",
                    self.describe_here()
                )))
            }
        }
        // `not` is only an operator when a parenthesis follows; otherwise it is an
        // attribute name like any other.
        if self.take_while(is_path_char).eq_ignore_ascii_case("not") {
            self.skip_ws();
            if self.peek() == Some('(') {
                let inner = self.group(in_brackets)?;
                return Ok(Filter::Not(Box::new(inner)));
            }
        }
        self.pos = start;
        self.attr_expr(in_brackets)
    }

    fn group(&mut self, in_brackets: bool) -> Result<Filter, ParseError> {
        let open = self.pos;
        self.enter(open)?;
        self.advance_char();
        let inner = self.or_expr(in_brackets)?;
        self.skip_ws();
        match self.peek() {
            Some(')') => {
                self.advance_char();
                self.leave();
                Ok(inner)
            }
            None => Err(self.error_here(format!(
                "the '(' at offset {} is never closed; add ')'",
                self.char_offset(open)
            ))),
            Some(_) => Err(self.error_here(format!(
                "expected 'and', 'or' or ')', found {}",
                self.describe_here()
            ))),
        }
    }

    /// Parses `"[" valFilter "]"`; the current character must be `[`.
    pub(crate) fn bracket_filter(&mut self) -> Result<Filter, ParseError> {
        let open = self.pos;
        self.enter(open)?;
        self.advance_char();
        let inner = self.or_expr(true)?;
        self.skip_ws();
        match self.peek() {
            Some(']') => {
                self.advance_char();
                self.leave();
                Ok(inner)
            }
            None => Err(self.error_here(format!(
                "the '[' at offset {} is never closed; add ']'",
                self.char_offset(open)
            ))),
            Some(_) => Err(self.error_here(format!(
                "expected 'and', 'or' or ']', found {}",
                self.describe_here()
            ))),
        }
    }

    /// Parses `[URN ":"] ATTRNAME ["." subAttr]` (or a bare schema URN); returns it with
    /// its start offset.
    pub(crate) fn attr_path(&mut self) -> Result<(AttrPath, usize), ParseError> {
        let start = self.pos;
        let token = self.take_while(is_path_char);
        if token.is_empty() {
            return Err(self.error_here(format!(
                "expected an attribute path such as 'userName' or 'name.givenName', found {}",
                self.describe_here()
            )));
        }
        let path =
            split_attr_path(token).map_err(|(offset, msg)| self.error_at(start + offset, msg))?;
        Ok((path, start))
    }

    /// Parses a single attribute name (no URN, no '.'), e.g. after `].` in a PATCH path.
    pub(crate) fn attr_name(&mut self, what: &str) -> Result<String, ParseError> {
        let start = self.pos;
        let name = self.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$'));
        if name.is_empty() {
            return Err(self.error_here(format!("expected {what}, found {}", self.describe_here())));
        }
        check_attr_name(name).map_err(|m| self.error_at(start, m))?;
        Ok(name.to_string())
    }

    /// Refuses bracket filters on paths that cannot be multi-valued attributes.
    pub(crate) fn check_value_path_target(
        &self,
        path: &AttrPath,
        start: usize,
    ) -> Result<(), ParseError> {
        if path.is_schema_only() {
            return Err(self.error_at(
                start,
                format!(
                    "a value filter in brackets needs an attribute, not the bare schema URN \
                     '{path}'; write e.g. '{path}:attributeName[…]'"
                ),
            ));
        }
        if path.sub_attr.is_some() {
            return Err(self.error_at(
                start,
                format!(
                    "'{path}' names a sub-attribute; a value filter in brackets applies to a \
                     multi-valued attribute, e.g. emails[type eq \"work\"]"
                ),
            ));
        }
        Ok(())
    }

    fn attr_expr(&mut self, in_brackets: bool) -> Result<Filter, ParseError> {
        let (path, start) = self.attr_path()?;
        if path.is_schema_only() {
            return Err(self.error_at(
                start,
                format!(
                    "'{path}' is a schema URN, not an attribute; name an attribute after it, \
                     e.g. '{path}:attributeName'"
                ),
            ));
        }
        if in_brackets && (path.schema.is_some() || path.sub_attr.is_some()) {
            return Err(self.error_at(
                start,
                format!(
                    "inside brackets name a sub-attribute of the bracketed attribute, such as \
                     'type' or 'value', not '{path}'"
                ),
            ));
        }
        if self.peek() == Some('[') {
            if in_brackets {
                return Err(self.error_here(
                    "value filters cannot be nested: '[' inside '[…]' is not allowed \
                     (RFC 7644 §3.4.2.2)",
                ));
            }
            self.check_value_path_target(&path, start)?;
            let inner = self.bracket_filter()?;
            if self.peek() == Some('.') {
                return Err(self.error_here(
                    "a sub-attribute after ']' is only allowed in PATCH paths; in a filter put \
                     the condition inside the brackets, e.g. \
                     emails[type eq \"work\" and value co \"@example.com\"]",
                ));
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.skip_ws();
        let op_start = self.pos;
        let word = self.read_word();
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_word(word) else {
            self.pos = op_start;
            let bare_not = path.schema.is_none()
                && path.sub_attr.is_none()
                && path.attr.eq_ignore_ascii_case("not");
            let hint = if bare_not {
                "; to negate, put the expression in parentheses: not (userName eq \"x\")"
            } else {
                ""
            };
            return Err(self.error_here(format!(
                "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after \
                 '{path}', found {}{hint}",
                self.describe_here()
            )));
        };
        let value = self.comp_value(op)?;
        Ok(Filter::Compare(path, op, value))
    }

    fn comp_value(&mut self, op: CompareOp) -> Result<CompValue, ParseError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('"') {
            return self.string().map(CompValue::String);
        }
        let word = self.read_word();
        if word.is_empty() {
            return Err(self.error_here(format!(
                "expected a value after '{op}' (a string in double quotes, a number, true, \
                 false or null), found {}",
                self.describe_here()
            )));
        }
        if word.eq_ignore_ascii_case("true") {
            return Ok(CompValue::Bool(true));
        }
        if word.eq_ignore_ascii_case("false") {
            return Ok(CompValue::Bool(false));
        }
        if word.eq_ignore_ascii_case("null") {
            return Ok(CompValue::Null);
        }
        if word.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return parse_number(word)
                .map(CompValue::Number)
                .map_err(|m| self.error_at(start, m));
        }
        let word = snippet(word);
        Err(self.error_at(
            start,
            format!(
                "'{word}' is not a value: put strings in double quotes (\"{word}\"); other \
                 values are numbers, true, false or null"
            ),
        ))
    }

    /// A JSON string; the current character is the opening quote.
    fn string(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.advance_char();
        let mut out = String::new();
        loop {
            let at = self.pos;
            let Some(c) = self.peek() else {
                return Err(self.error_at(open, "this string is never closed; end it with '\"'"));
            };
            self.advance_char();
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.escape(at)?),
                c if u32::from(c) < 0x20 => {
                    return Err(self.error_at(
                        at,
                        format!(
                            "control character U+{:04X} must be escaped inside a string, \
                             e.g. as \\u{:04x}",
                            u32::from(c),
                            u32::from(c)
                        ),
                    ))
                }
                c => out.push(c),
            }
        }
    }

    /// The character after a backslash (already consumed; `at` is the backslash).
    fn escape(&mut self, at: usize) -> Result<char, ParseError> {
        let Some(c) = self.peek() else {
            return Err(self.error_at(at, "the input ends in the middle of an escape sequence"));
        };
        self.advance_char();
        Ok(match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.unicode_escape(at),
            other => {
                return Err(self.error_at(
                    at,
                    format!(
                        "unknown escape '\\{other}' in a string; valid escapes are \\\" \\\\ \\/ \
                         \\b \\f \\n \\r \\t and \\uXXXX"
                    ),
                ))
            }
        })
    }

    fn hex4(&mut self, at: usize) -> Result<u16, ParseError> {
        let digits = self
            .rest()
            .get(..4)
            .filter(|d| d.chars().all(|c| c.is_ascii_hexdigit()));
        let parsed = digits.and_then(|d| u16::from_str_radix(d, 16).ok());
        let Some(unit) = parsed else {
            return Err(self.error_at(at, "'\\u' must be followed by four hex digits"));
        };
        self.pos += 4;
        Ok(unit)
    }

    /// `\uXXXX`, joining a UTF-16 surrogate pair into one character.
    fn unicode_escape(&mut self, at: usize) -> Result<char, ParseError> {
        let first = self.hex4(at)?;
        let code = match first {
            0xD800..=0xDBFF => {
                let low_at = self.pos;
                if !self.rest().starts_with("\\u") {
                    return Err(self.error_at(
                        at,
                        format!(
                            "\\u{first:04X} is the first half of a surrogate pair; follow it \
                             with the second half \\uDC00–\\uDFFF"
                        ),
                    ));
                }
                self.pos += 2;
                let second = self.hex4(low_at)?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error_at(
                        low_at,
                        format!(
                            "\\u{second:04X} cannot follow \\u{first:04X}; the second half of a \
                             surrogate pair is \\uDC00–\\uDFFF"
                        ),
                    ));
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return Err(self.error_at(
                    at,
                    format!(
                        "\\u{first:04X} is the second half of a surrogate pair without the first"
                    ),
                ))
            }
            other => u32::from(other),
        };
        char::from_u32(code)
            .ok_or_else(|| self.error_at(at, format!("\\u escape U+{code:04X} is not a character")))
    }
}

/// Checks the JSON number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn is_json_number(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == bytes.len()
}

/// Integers stay exact (u64/i64) as serde_json would keep them; anything else is an f64,
/// parsed with the correctly rounded std parser so printed floats read back unchanged.
fn parse_number(word: &str) -> Result<Number, String> {
    if !is_json_number(word) {
        return Err(format!(
            "'{}' is not a valid number; numbers are written as in JSON, e.g. 42, -1.5 or 1e3",
            snippet(word)
        ));
    }
    if !word.contains(['.', 'e', 'E']) {
        if let Ok(n) = word.parse::<u64>() {
            return Ok(n.into());
        }
        if let Ok(n) = word.parse::<i64>() {
            return Ok(n.into());
        }
    }
    word.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("the number '{}' is out of range", snippet(word)))
}

// ---------------------------------------------------------------------------------------
// Printing

/// The operands of a left-associative chain of the same operator as `filter`, in order.
fn chain(filter: &Filter) -> Vec<&Filter> {
    let mut operands = Vec::new();
    let mut current = filter;
    while let (Filter::And(..), Filter::And(left, right))
    | (Filter::Or(..), Filter::Or(left, right)) = (filter, current)
    {
        operands.push(right.as_ref());
        current = left;
    }
    operands.push(current);
    operands.reverse();
    operands
}

fn precedence(filter: &Filter) -> u8 {
    match filter {
        Filter::Or(..) => 1,
        Filter::And(..) => 2,
        _ => 3,
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(..) | Filter::Or(..) => {
                let word = if matches!(self, Filter::And(..)) {
                    " and "
                } else {
                    " or "
                };
                let level = precedence(self);
                for (i, operand) in chain(self).into_iter().enumerate() {
                    // Left-associative: a right operand of the same level needs parentheses
                    // to keep its grouping; the first operand only if it binds looser.
                    let parenthesise = if i == 0 {
                        precedence(operand) < level
                    } else {
                        f.write_str(word)?;
                        precedence(operand) <= level
                    };
                    if parenthesise {
                        write!(f, "({operand})")?;
                    } else {
                        write!(f, "{operand}")?;
                    }
                }
                Ok(())
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare(path, op, value) => write!(f, "{path} {op} {value}"),
            Filter::ValuePath(path, inner) => write!(f, "{path}[{inner}]"),
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

// ---------------------------------------------------------------------------------------
// Type checks against the schema

/// Parses a filter for a `kind` list or search and checks its comparisons against the
/// schema ([`check_types`]): what every list and `.search` of `kind` runs.
pub fn parse_filter_for(kind: ResourceKind, input: &str) -> Result<Filter, ScimError> {
    let filter = parse_filter(input)?;
    check_types(kind, &filter)?;
    Ok(filter)
}

/// Refuses comparisons whose value cannot be of the attribute's schema type, with 400
/// `invalidFilter` naming the attribute, instead of letting them compare as text or
/// silently match nothing:
///
/// * a `dateTime` compared by `eq`, `ne`, `gt`, `ge`, `lt` or `le` needs an RFC 3339
///   date-time string (`co`, `sw`, `ew` take any string and compare the text);
/// * a `boolean` takes `eq`/`ne` with `true` or `false` (RFC 7644 §3.4.2.2 refuses the
///   ordering operators on booleans and binary);
/// * an `integer` or `decimal` takes a number, and no `co`/`sw`/`ew`;
/// * a `string`, `reference` or `binary` takes a string;
/// * `null` goes only with `eq` and `ne` (unassigned).
///
/// Attributes the schema does not know are left alone (they match nothing), as are complex
/// attributes without a `value` sub-attribute. The walk keeps its own stack, so a long
/// chain of `and`/`or` costs no recursion.
pub fn check_types(kind: ResourceKind, filter: &Filter) -> Result<(), ScimError> {
    let mut pending: Vec<(&Filter, Option<&AttrPath>)> = vec![(filter, None)];
    while let Some((f, scope)) = pending.pop() {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                pending.push((b, scope));
                pending.push((a, scope));
            }
            Filter::Not(inner) => pending.push((inner, scope)),
            Filter::ValuePath(path, inner) => pending.push((inner, Some(path))),
            Filter::Present(_) => {}
            Filter::Compare(path, op, value) => {
                let full = qualify(scope, path);
                if let Some(ty) = comparable_type(kind, &full) {
                    check_comparison(&full, ty, *op, value)?;
                }
            }
        }
    }
    Ok(())
}

/// The type a comparison on `path` compares: the leaf attribute's, or the `value`
/// sub-attribute's for a complex attribute compared whole.
fn comparable_type(kind: ResourceKind, path: &AttrPath) -> Option<AttrType> {
    let leaf = resolve(kind, path)?.leaf();
    if leaf.ty == AttrType::Complex {
        return leaf.sub_attribute("value").map(|v| v.ty);
    }
    Some(leaf.ty)
}

fn check_comparison(
    path: &AttrPath,
    ty: AttrType,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), ScimError> {
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let equality = matches!(op, CompareOp::Eq | CompareOp::Ne);
    let refuse = |why: String| {
        Err(ScimError::invalid_filter(format!(
            "Invalid filter: '{path} {op} {value}': {why}"
        )))
    };
    if *value == CompValue::Null {
        if equality {
            return Ok(());
        }
        return refuse(format!(
            "null (unassigned) can only be compared with eq or ne; to test that {path} has a value, write '{path} pr'"
        ));
    }
    match ty {
        AttrType::DateTime => match value {
            CompValue::String(_) if substring => Ok(()),
            CompValue::String(s) if is_date_time(s) => Ok(()),
            _ => refuse(format!(
                "{path} is a dateTime; compare it with an RFC 3339 date-time such as \"2024-01-31T09:30:00Z\""
            )),
        },
        AttrType::Boolean => match value {
            CompValue::Bool(_) if equality => Ok(()),
            CompValue::Bool(_) => refuse(format!(
                "{path} is a boolean; booleans compare only with eq or ne (RFC 7644 §3.4.2.2)"
            )),
            _ => refuse(format!(
                "{path} is a boolean; compare it with true or false (without quotes)"
            )),
        },
        AttrType::Integer | AttrType::Decimal => match value {
            CompValue::Number(_) if !substring => Ok(()),
            CompValue::Number(_) => refuse(format!(
                "{path} is a number; co, sw and ew apply to strings only"
            )),
            _ => refuse(format!("{path} is a number; compare it with a number (without quotes)")),
        },
        AttrType::Binary if !equality => refuse(format!(
            "{path} is binary; binary values compare only with eq or ne (RFC 7644 §3.4.2.2)"
        )),
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            CompValue::String(_) => Ok(()),
            _ => refuse(format!(
                "{path} is a string; put the value in double quotes"
            )),
        },
        // A complex attribute's type never reaches here (see `comparable_type`).
        AttrType::Complex => Ok(()),
    }
}

fn is_date_time(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

// ---------------------------------------------------------------------------------------
// Evaluation

/// Evaluates `filter` against a SCIM resource (RFC 7644 §3.4.2.2).
///
/// * Attribute names match JSON keys case-insensitively. A URN-qualified path looks under
///   the extension's object (`resource["urn:…:enterprise:2.0:User"]`), except for core
///   schema URNs (`urn:ietf:params:scim:schemas:core:…`), which name top-level attributes.
/// * A multi-valued attribute matches when any of its values does. Compared without a
///   sub-attribute, a complex value (multi-valued or not) is compared by its `value`.
/// * Unassigned (absent, `null`, `[]`) matches `eq null` and `ne <anything but null>`;
///   for assigned values `ne` is exactly the negation of `eq`, value by value — so on a
///   multi-valued attribute `ne` matches when *some* value differs.
/// * `eq`/`ne`/`gt`/`ge`/`lt`/`le`: strings compare lexically (case-insensitively unless
///   `case_exact` says otherwise for the full path from the resource root, e.g.
///   `emails.value`), or chronologically when both sides are RFC 3339 date-times; numbers
///   numerically; booleans and `null` only by `eq`/`ne`. `co`/`sw`/`ew` apply to strings
///   only. Values of different JSON types never compare equal.
/// * `pr` is false for `null`, `""`, `[]`, `{}` and objects holding only such values.
///
/// Filters nested deeper than the parser allows are evaluated only up to a fixed depth
/// (deeper parts never match) so a hand-built AST cannot exhaust the stack.
pub fn matches(filter: &Filter, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    Evaluator { case_exact }.eval(filter, resource, None, 0)
}

/// Evaluates a value filter (the part between brackets, e.g. of the PATCH path
/// `emails[type eq "work"].value`) against one element of the multi-valued `attribute`.
///
/// Same rules as [`matches`]; `case_exact` receives full paths such as `emails.type`.
pub fn matches_value(
    filter: &Filter,
    element: &Value,
    attribute: &AttrPath,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> bool {
    let scope = AttrPath {
        schema: attribute.schema.clone(),
        attr: attribute.attr.clone(),
        sub_attr: None,
    };
    Evaluator { case_exact }.eval(filter, element, Some(&scope), 0)
}

const MAX_EVAL_DEPTH: usize = 512;
/// How deep `pr` looks into nested JSON for a non-empty value.
const MAX_PRESENCE_DEPTH: usize = 32;
const CORE_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

struct Evaluator<'a> {
    case_exact: &'a dyn Fn(&AttrPath) -> bool,
}

impl Evaluator<'_> {
    /// `scope` is the multi-valued attribute whose element `node` is, inside brackets.
    fn eval(&self, filter: &Filter, node: &Value, scope: Option<&AttrPath>, depth: usize) -> bool {
        if depth > MAX_EVAL_DEPTH {
            return false;
        }
        match filter {
            Filter::And(..) => chain(filter)
                .into_iter()
                .all(|f| self.eval(f, node, scope, depth + 1)),
            Filter::Or(..) => chain(filter)
                .into_iter()
                .any(|f| self.eval(f, node, scope, depth + 1)),
            Filter::Not(inner) => !self.eval(inner, node, scope, depth + 1),
            Filter::Present(path) => match lookup(node, path, scope) {
                None => false,
                Some(value) => match &path.sub_attr {
                    Some(sub) => sub_values(value, sub)
                        .into_iter()
                        .any(|v| v.is_some_and(|v| is_present(v, 0))),
                    None => is_present(value, 0),
                },
            },
            Filter::Compare(path, op, value) => self.compare(node, path, scope, *op, value),
            Filter::ValuePath(path, inner) => {
                let Some(value) = lookup(node, path, scope) else {
                    return false;
                };
                let attribute = AttrPath {
                    schema: path.schema.clone(),
                    attr: path.attr.clone(),
                    sub_attr: None,
                };
                let scope = qualify(scope, &attribute);
                let elements: &[Value] = match value {
                    Value::Array(items) => items,
                    Value::Null => &[],
                    single => std::slice::from_ref(single),
                };
                elements
                    .iter()
                    .any(|element| self.eval(inner, element, Some(&scope), depth + 1))
            }
        }
    }

    fn compare(
        &self,
        node: &Value,
        path: &AttrPath,
        scope: Option<&AttrPath>,
        op: CompareOp,
        value: &CompValue,
    ) -> bool {
        // Each leaf: the value to compare, and whether it is the implicit `value`
        // sub-attribute of a complex value.
        let mut leaves: Vec<(Option<&Value>, bool)> = Vec::new();
        if let Some(found) = lookup(node, path, scope) {
            match (&path.sub_attr, found) {
                (Some(sub), _) => {
                    leaves.extend(sub_values(found, sub).into_iter().map(|v| (v, false)));
                }
                (None, Value::Array(items)) => leaves.extend(items.iter().map(|item| {
                    if item.is_object() {
                        (get_ci(item, "value"), true)
                    } else {
                        (Some(item), false)
                    }
                })),
                (None, Value::Object(_)) => leaves.push((get_ci(found, "value"), true)),
                (None, other) => leaves.push((Some(other), false)),
            }
        }
        if leaves.is_empty() {
            leaves.push((None, false));
        }
        // Asked lazily: only string comparisons care, and the caller's lookup may cost.
        let mut exact_direct = None;
        let mut exact_implicit = None;
        let mut is_exact = |implicit: bool| -> bool {
            // `path` has no sub-attribute when the implicit `value` is used.
            if implicit {
                *exact_implicit.get_or_insert_with(|| {
                    let full = qualify(scope, path);
                    let full = match full.sub_attr {
                        None => AttrPath {
                            sub_attr: Some("value".to_string()),
                            ..full
                        },
                        Some(_) => full,
                    };
                    (self.case_exact)(&full)
                })
            } else {
                *exact_direct.get_or_insert_with(|| (self.case_exact)(&qualify(scope, path)))
            }
        };
        leaves.into_iter().any(|(leaf, implicit)| match leaf {
            None | Some(Value::Null) => unassigned_matches(op, value),
            Some(leaf) => {
                let exact = match (leaf, value) {
                    (Value::String(_), CompValue::String(_)) => is_exact(implicit),
                    _ => false,
                };
                compare_one(leaf, op, value, exact)
            }
        })
    }
}

/// The full path of `path` from the resource root, given the bracketed attribute it is in.
fn qualify(scope: Option<&AttrPath>, path: &AttrPath) -> AttrPath {
    match scope {
        None => path.clone(),
        Some(outer) => AttrPath {
            schema: outer.schema.clone(),
            attr: outer.attr.clone(),
            sub_attr: Some(path.attr.clone()),
        },
    }
}

fn get_ci<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The attribute `path` names (ignoring its sub-attribute).
fn lookup<'v>(node: &'v Value, path: &AttrPath, scope: Option<&AttrPath>) -> Option<&'v Value> {
    let base = match (&path.schema, scope) {
        (Some(urn), None) if !is_core_schema(urn) => get_ci(node, urn)?,
        _ => node,
    };
    if path.attr.is_empty() {
        return Some(base);
    }
    get_ci(base, &path.attr)
}

fn is_core_schema(urn: &str) -> bool {
    urn.get(..CORE_SCHEMA_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(CORE_SCHEMA_PREFIX))
}

/// The sub-attribute of a complex value, or of each element of a multi-valued one
/// (`None` where an element lacks it).
fn sub_values<'v>(value: &'v Value, sub: &str) -> Vec<Option<&'v Value>> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter(|item| item.is_object())
            .map(|item| get_ci(item, sub))
            .collect(),
        Value::Object(_) => vec![get_ci(value, sub)],
        _ => Vec::new(),
    }
}

fn is_present(value: &Value, depth: usize) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
        Value::Array(items) if depth >= MAX_PRESENCE_DEPTH => !items.is_empty(),
        Value::Object(map) if depth >= MAX_PRESENCE_DEPTH => !map.is_empty(),
        Value::Array(items) => items.iter().any(|v| is_present(v, depth + 1)),
        Value::Object(map) => map.values().any(|v| is_present(v, depth + 1)),
    }
}

/// RFC 7643 §2.5: unassigned and null are the same state.
fn unassigned_matches(op: CompareOp, value: &CompValue) -> bool {
    match op {
        CompareOp::Eq => *value == CompValue::Null,
        CompareOp::Ne => *value != CompValue::Null,
        _ => false,
    }
}

fn compare_one(leaf: &Value, op: CompareOp, value: &CompValue, exact: bool) -> bool {
    match op {
        CompareOp::Eq => values_equal(leaf, value, exact),
        CompareOp::Ne => !values_equal(leaf, value, exact),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => match (leaf, value) {
            (Value::String(have), CompValue::String(want)) => {
                let (have, want) = (fold(have, exact), fold(want, exact));
                match op {
                    CompareOp::Co => have.contains(want.as_ref()),
                    CompareOp::Sw => have.starts_with(want.as_ref()),
                    _ => have.ends_with(want.as_ref()),
                }
            }
            _ => false,
        },
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            ordering(leaf, value, exact).is_some_and(|o| match op {
                CompareOp::Gt => o.is_gt(),
                CompareOp::Ge => o.is_ge(),
                CompareOp::Lt => o.is_lt(),
                _ => o.is_le(),
            })
        }
    }
}

fn values_equal(leaf: &Value, value: &CompValue, exact: bool) -> bool {
    match (leaf, value) {
        (Value::Bool(have), CompValue::Bool(want)) => have == want,
        _ => ordering(leaf, value, exact) == Some(Ordering::Equal),
    }
}

/// Order of a string or number attribute value relative to the filter value; `None`
/// when the two cannot be ordered (booleans, null, mismatched types).
fn ordering(leaf: &Value, value: &CompValue, exact: bool) -> Option<Ordering> {
    match (leaf, value) {
        (Value::String(have), CompValue::String(want)) => {
            if let (Some(have), Some(want)) = (instant(have), instant(want)) {
                return Some(have.cmp(&want));
            }
            Some(fold(have, exact).cmp(&fold(want, exact)))
        }
        (Value::Number(have), CompValue::Number(want)) => number_cmp(have, want),
        _ => None,
    }
}

fn fold(s: &str, exact: bool) -> Cow<'_, str> {
    if exact {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn instant(s: &str) -> Option<time::OffsetDateTime> {
    // Cheap shape check first: most strings are not dates.
    if s.len() < 20 || s.as_bytes().get(4) != Some(&b'-') {
        return None;
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    fn integer(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    }
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use crate::error::ScimType;
    use crate::urn;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(s: &str) -> Filter {
        match parse_filter(s) {
            Ok(f) => f,
            Err(e) => panic!("{s:?} failed: {}", e.detail),
        }
    }

    fn path(s: &str) -> AttrPath {
        crate::path::parse_attr_path(s).unwrap()
    }

    fn cmp(p: &str, op: CompareOp, v: CompValue) -> Filter {
        Filter::Compare(path(p), op, v)
    }

    fn s(v: &str) -> CompValue {
        CompValue::String(v.to_string())
    }

    fn pr(p: &str) -> Filter {
        Filter::Present(path(p))
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn vp(p: &str, inner: Filter) -> Filter {
        Filter::ValuePath(path(p), Box::new(inner))
    }

    /// The filter is rejected as invalidFilter; returns the detail.
    fn invalid(s: &str) -> String {
        match parse_filter(s) {
            Ok(f) => panic!("{s:?} parsed as {f:?}"),
            Err(e) => {
                assert_eq!(e.status, 400, "{s:?}");
                assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{s:?}");
                e.detail
            }
        }
    }

    #[test]
    fn every_rfc_7644_example_parses_and_round_trips() {
        let examples = [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"title pr"#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ];
        for example in examples {
            let f = parse(example);
            let printed = f.to_string();
            assert_eq!(parse(&printed), f, "{example} printed as {printed}");
        }
    }

    #[test]
    fn simple_expressions() {
        assert_eq!(
            parse(r#"userName eq "bjensen""#),
            cmp("userName", CompareOp::Eq, s("bjensen"))
        );
        assert_eq!(parse("title pr"), pr("title"));
        assert_eq!(
            parse("meta.lastModified gt \"2011-05-13T04:42:34Z\""),
            cmp(
                "meta.lastModified",
                CompareOp::Gt,
                s("2011-05-13T04:42:34Z")
            )
        );
        for op in CompareOp::ALL {
            let f = parse(&format!("a {} 1", op.as_str().to_uppercase()));
            assert_eq!(f, cmp("a", op, CompValue::Number(1u64.into())));
        }
    }

    #[test]
    fn urn_qualified_paths() {
        let f = parse(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#,
        );
        let Filter::Compare(p, _, _) = &f else {
            panic!("{f:?}")
        };
        assert_eq!(p.schema.as_deref(), Some(urn::ENTERPRISE_USER));
        assert_eq!(p.attr, "employeeNumber");
        assert_eq!(p.sub_attr, None);

        let f = parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "x""#);
        let Filter::Compare(p, _, _) = &f else {
            panic!("{f:?}")
        };
        assert_eq!(p.schema.as_deref(), Some(urn::USER));
        assert_eq!(p.attr, "name");
        assert_eq!(p.sub_attr.as_deref(), Some("givenName"));

        let f = parse(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m""#,
        );
        assert_eq!(
            f.to_string(),
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m""#
        );
        assert_eq!(parse("members.$ref pr"), pr("members.$ref"));
    }

    #[test]
    fn keywords_and_literals_are_case_insensitive() {
        assert_eq!(
            parse(r#"userName Eq "x" AND title PR Or NOT (active EQ TRUE)"#),
            or(
                and(cmp("userName", CompareOp::Eq, s("x")), pr("title")),
                not(cmp("active", CompareOp::Eq, CompValue::Bool(true)))
            )
        );
        assert_eq!(
            parse("a eq FALSE"),
            cmp("a", CompareOp::Eq, CompValue::Bool(false))
        );
        assert_eq!(parse("a eq Null"), cmp("a", CompareOp::Eq, CompValue::Null));
        // Attribute names keep their case.
        assert_eq!(parse("UserName pr"), pr("UserName"));
    }

    #[test]
    fn precedence_and_associativity() {
        let (a, b, c) = (pr("a"), pr("b"), pr("c"));
        assert_eq!(
            parse("a pr or b pr and c pr"),
            or(a.clone(), and(b.clone(), c.clone()))
        );
        assert_eq!(
            parse("a pr and b pr or c pr"),
            or(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("a pr and b pr and c pr"),
            and(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("a pr or b pr or c pr"),
            or(or(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("(a pr or b pr) and c pr"),
            and(or(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("a pr and (b pr and c pr)"),
            and(a.clone(), and(b.clone(), c.clone()))
        );
        assert_eq!(parse("not (a pr) and b pr"), and(not(a.clone()), b.clone()));
        assert_eq!(parse("not(a pr)"), not(a.clone()));
        assert_eq!(parse("((((a pr))))"), a);
    }

    #[test]
    fn printing_is_canonical_and_minimal() {
        for (input, printed) in [
            ("a pr or b pr and c pr", "a pr or b pr and c pr"),
            ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
            ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("((a pr and b pr)) or c pr", "a pr and b pr or c pr"),
            ("NOT ( a pr )", "not (a pr)"),
            ("a  eq\t\"x\"", "a eq \"x\""),
            ("e[ t eq 1 ]", "e[t eq 1]"),
            ("a EQ TRUE", "a eq true"),
            (r#"a eq "\u00e9\/\ud83d\ude00\t""#, "a eq \"é/😀\\t\""),
        ] {
            assert_eq!(parse(input).to_string(), printed, "{input}");
        }
    }

    #[test]
    fn value_paths() {
        let expected = vp(
            "emails",
            and(
                cmp("type", CompareOp::Eq, s("work")),
                cmp("value", CompareOp::Co, s("@acme.com")),
            ),
        );
        assert_eq!(
            parse(r#"emails[type eq "work" and value co "@acme.com"]"#),
            expected
        );
        assert_eq!(
            parse(r#"emails[type eq "work"] and userName sw "a""#),
            and(
                vp("emails", cmp("type", CompareOp::Eq, s("work"))),
                cmp("userName", CompareOp::Sw, s("a"))
            )
        );
        assert_eq!(
            parse(r#"emails[not (type eq "work") or (primary eq true)]"#),
            vp(
                "emails",
                or(
                    not(cmp("type", CompareOp::Eq, s("work"))),
                    cmp("primary", CompareOp::Eq, CompValue::Bool(true))
                )
            )
        );
        let f = parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#);
        let Filter::ValuePath(p, _) = &f else {
            panic!("{f:?}")
        };
        assert_eq!(p.schema.as_deref(), Some(urn::USER));
        // Brackets contain `]` inside strings without closing.
        assert_eq!(
            parse(r#"emails[value eq "a]b"]"#),
            vp("emails", cmp("value", CompareOp::Eq, s("a]b")))
        );
    }

    #[test]
    fn json_values() {
        let num = |v: &str| match parse(&format!("a eq {v}")) {
            Filter::Compare(_, _, CompValue::Number(n)) => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(num("0"), Number::from(0u64));
        assert_eq!(num("-0"), Number::from(0i64));
        assert_eq!(num("42"), Number::from(42u64));
        assert_eq!(num("-42"), Number::from(-42i64));
        assert_eq!(num("18446744073709551615"), Number::from(u64::MAX));
        assert_eq!(num("-1.5e3").as_f64(), Some(-1500.0));
        assert_eq!(num("1E+2").as_f64(), Some(100.0));
        assert_eq!(num("0.1").as_f64(), Some(0.1));
        // Beyond u64 an integer becomes a float, as in serde_json.
        assert!(num("18446744073709551616").is_f64());

        let string = |v: &str| match parse(&format!("a eq {v}")) {
            Filter::Compare(_, _, CompValue::String(s)) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            string(r#""q\"b\\s\/b\bf\fn\nr\rt\t""#),
            "q\"b\\s/b\u{8}f\u{c}n\nr\rt\t"
        );
        assert_eq!(string(r#""\u0041\u00E9""#), "Aé");
        assert_eq!(string(r#""\uD83D\uDE00""#), "😀");
        assert_eq!(string(r#""O'Malley""#), "O'Malley");
        assert_eq!(string(r#""""#), "");
        assert_eq!(string("\"ünï cødé ✓\""), "ünï cødé ✓");
    }

    #[test]
    fn whitespace_is_tolerated() {
        let expected = and(cmp("a", CompareOp::Eq, s("x")), pr("b"));
        for input in [
            "a eq \"x\" and b pr",
            "  a   eq   \"x\"   and   b   pr  ",
            "\ta\teq\t\"x\"\tand\tb\tpr\t",
            "a eq\n\"x\"\r\nand b pr",
            "(a eq \"x\")and(b pr)",
        ] {
            assert_eq!(parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn errors_say_where_and_what() {
        let d = invalid("");
        assert!(d.contains("empty"), "{d}");
        let d = invalid("   ");
        assert!(d.contains("empty"), "{d}");
        let d = invalid(r#"userName equals "x""#);
        assert!(d.contains("offset 9"), "{d}");
        assert!(d.contains("expected an operator"), "{d}");
        assert!(d.contains("'equals'"), "{d}");
        let d = invalid("userName eq bjensen");
        assert!(
            d.contains("offset 12") && d.contains("double quotes"),
            "{d}"
        );
        let d = invalid("userName eq");
        assert!(
            d.contains("expected a value") && d.contains("end of the input"),
            "{d}"
        );
        let d = invalid(r#"userName eq "bjensen"#);
        assert!(d.contains("never closed") && d.contains("offset 12"), "{d}");
        let d = invalid(r#"(userName eq "x""#);
        assert!(d.contains("'(' at offset 0 is never closed"), "{d}");
        let d = invalid(r#"userName eq "x")"#);
        assert!(d.contains("without a matching '('"), "{d}");
        let d = invalid(r#"userName eq "x" and"#);
        assert!(d.contains("expected an attribute path"), "{d}");
        let d = invalid(r#"userName eq "x" nand title pr"#);
        assert!(
            d.contains("expected 'and', 'or'") && d.contains("'nand'"),
            "{d}"
        );
        let d = invalid(r#"not userName eq "x""#);
        assert!(d.contains("not (userName"), "{d}");
        let d = invalid(r#"emails[type eq "work""#);
        assert!(d.contains("'[' at offset 6 is never closed"), "{d}");
        let d = invalid(r#"emails[type[value eq "x"] eq "work"]"#);
        assert!(d.contains("nested"), "{d}");
        let d = invalid(r#"emails[type eq "work"].value eq "x""#);
        assert!(d.contains("only allowed in PATCH paths"), "{d}");
        let d = invalid(r#"emails[name.x eq "work"]"#);
        assert!(d.contains("inside brackets"), "{d}");
        let d = invalid(r#"name.givenName[type eq "work"]"#);
        assert!(d.contains("sub-attribute"), "{d}");
        let d = invalid(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User eq "x""#);
        assert!(d.contains("is a schema URN"), "{d}");
        let d = invalid(r#"a.b.c eq "x""#);
        assert!(d.contains("more than one '.'"), "{d}");
        let d = invalid(r#"1abc eq "x""#);
        assert!(d.contains("start with a letter"), "{d}");
        let d = invalid(r#"a eq 01"#);
        assert!(d.contains("not a valid number"), "{d}");
        for bad in ["1.", ".5", "1e", "--1", "1.2.3", "0x10", "1e+", "-"] {
            invalid(&format!("a eq {bad}"));
        }
        let d = invalid("a eq 1e999");
        assert!(d.contains("out of range"), "{d}");
        let d = invalid(r#"a eq "\x""#);
        assert!(d.contains("unknown escape"), "{d}");
        let d = invalid(r#"a eq "\u12""#);
        assert!(d.contains("four hex digits"), "{d}");
        let d = invalid(r#"a eq "\uD83D""#);
        assert!(d.contains("surrogate"), "{d}");
        let d = invalid(r#"a eq "\uDE00""#);
        assert!(d.contains("surrogate"), "{d}");
        let d = invalid(r#"a eq "\uD83D\u0041""#);
        assert!(d.contains("surrogate"), "{d}");
        let d = invalid("a eq \"line\nbreak\"");
        assert!(d.contains("U+000A"), "{d}");
        let d = invalid("a eq \"x\\");
        assert!(d.contains("escape"), "{d}");
        let d = invalid("()");
        assert!(d.contains("expected an attribute path"), "{d}");
        let d = invalid("a pr b pr");
        assert!(d.contains("expected 'and', 'or'"), "{d}");
        let d = invalid("a pr]");
        assert!(d.contains("without a matching '['"), "{d}");
        // Offsets count characters, not bytes.
        let d = invalid(r#"a eq "é" zz"#);
        assert!(d.contains("offset 9"), "{d}");
        // Long input is quoted back shortened.
        let d = invalid(&format!("a eq {}", "x".repeat(500)));
        assert!(d.len() < 300, "{d}");
    }

    fn type_error(kind: ResourceKind, filter: &str) -> String {
        let e = parse_filter_for(kind, filter).unwrap_err();
        assert_eq!(e.status, 400, "{filter}");
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter}");
        e.detail
    }

    #[test]
    fn comparisons_of_the_wrong_type_are_refused_naming_the_attribute() {
        use ResourceKind::{Group, User};
        for (kind, filter, named) in [
            (
                User,
                r#"meta.created gt "not-a-date""#,
                "meta.created is a dateTime",
            ),
            (
                User,
                r#"meta.lastModified ge "2011-05-13""#,
                "meta.lastModified is a dateTime",
            ),
            (
                Group,
                r#"meta.created eq "yesterday""#,
                "meta.created is a dateTime",
            ),
            (User, "meta.created lt 5", "meta.created is a dateTime"),
            (User, "meta.created gt true", "meta.created is a dateTime"),
            (
                User,
                r#"urn:ietf:params:scim:schemas:core:2.0:User:meta.created le "x""#,
                "meta.created is a dateTime",
            ),
            (User, r#"active eq "true""#, "active is a boolean"),
            (User, "active eq 1", "active is a boolean"),
            (
                User,
                "active gt false",
                "booleans compare only with eq or ne",
            ),
            (
                User,
                "emails.primary co true",
                "emails.primary is a boolean",
            ),
            (
                User,
                r#"emails[primary eq "yes"]"#,
                "emails.primary is a boolean",
            ),
            (User, r#"userName eq 42"#, "userName is a string"),
            (
                User,
                r#"userName gt null"#,
                "null (unassigned) can only be compared",
            ),
            (
                User,
                r#"not (displayName eq false)"#,
                "displayName is a string",
            ),
            (
                User,
                r#"userName eq "a" or (active eq true and meta.created gt "soon")"#,
                "meta.created is a dateTime",
            ),
            (User, r#"x509Certificates.value gt "AAAA""#, "is binary"),
        ] {
            let detail = type_error(kind, filter);
            assert!(detail.contains(named), "{filter}: {detail}");
        }
    }

    #[test]
    fn comparisons_of_the_right_type_pass_the_check() {
        use ResourceKind::{Group, User};
        for (kind, filter) in [
            (User, r#"meta.created gt "2011-05-13T04:42:34Z""#),
            (
                User,
                r#"meta.lastModified le "2011-05-13T04:42:34.5+02:00""#,
            ),
            (User, r#"meta.created sw "2011-05""#),
            (User, "meta.created eq null"),
            (User, "active eq true and active ne false"),
            (User, "active eq null"),
            (User, r#"emails[type eq "work" and primary eq true]"#),
            (User, r#"emails eq "a@b.c""#),
            (User, r#"userName sw "a" and name.givenName co "b""#),
            (
                User,
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7""#,
            ),
            (
                Group,
                r#"members.value eq "2819c223-7f76-453a-919d-413861904646""#,
            ),
            // Attributes the schema does not know are not checked: they match nothing.
            (User, "nickname2 gt true"),
            (Group, "active eq \"x\""),
            (User, "userName pr and not (title pr)"),
        ] {
            assert!(
                parse_filter_for(kind, filter).is_ok(),
                "{filter}: {:?}",
                parse_filter_for(kind, filter).err()
            );
        }
        // A long chain is checked without recursion.
        let chain = format!("{}active eq \"x\"", "userName pr or ".repeat(500));
        assert!(type_error(ResourceKind::User, &chain).contains("active is a boolean"));
    }

    #[test]
    fn pathological_input_is_refused_without_overflow() {
        let d = invalid(&"a pr or ".repeat(2000));
        assert!(d.contains("limit is 8192"), "{d}");
        let deep = format!("{}a pr{}", "(".repeat(65), ")".repeat(65));
        assert!(invalid(&deep).contains("more than 64 levels"));
        let ok = format!("{}a pr{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(parse(&ok), pr("a"));
        assert!(invalid(&"not (".repeat(1500)).contains("levels"));
        assert!(invalid(&"(".repeat(8000)).contains("levels"));
        // Brackets count as a level.
        let bracketed = format!("e[{}a pr{}]", "(".repeat(63), ")".repeat(63));
        assert_eq!(parse(&bracketed), vp("e", pr("a")));
        let bracketed = format!("e[{}a pr{}]", "(".repeat(64), ")".repeat(64));
        assert!(invalid(&bracketed).contains("levels"));

        // A long flat chain is fine: parsed, printed and evaluated without deep recursion.
        let chain_input = format!("{}a pr", "a pr or ".repeat(1000));
        let f = parse(&chain_input);
        assert_eq!(f.to_string(), chain_input);
        assert!(matches(&f, &json!({"a": 1}), &|_| false));
        assert!(!matches(&f, &json!({}), &|_| false));
    }

    // -----------------------------------------------------------------------------------
    // Evaluation

    fn user() -> Value {
        json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Bjensen-EXT",
            "userName": "Bjensen@Example.com",
            "name": {"familyName": "O'Malley", "givenName": "Barbara", "middleName": ""},
            "title": "",
            "nickName": null,
            "userType": "Employee",
            "active": true,
            "loginCount": 42,
            "score": 2.5,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [],
            "x509Certificates": [{}],
            "roles": ["Admin", "auditor"],
            "groups": [{"value": "g1", "display": "Engineering"}],
            "meta": {
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z"
            },
            urn::ENTERPRISE_USER: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
            }
        })
    }

    /// id, externalId and emails.type are case-exact in this test schema.
    fn case_exact(path: &AttrPath) -> bool {
        let full = path.to_string().to_ascii_lowercase();
        matches!(full.as_str(), "id" | "externalid" | "emails.type")
    }

    fn eval(filter: &str) -> bool {
        matches(&parse(filter), &user(), &case_exact)
    }

    #[test]
    fn eq_and_case_rules() {
        assert!(eval(r#"userName eq "bjensen@example.com""#));
        assert!(eval(r#"USERNAME eq "BJENSEN@EXAMPLE.COM""#));
        assert!(!eval(r#"userName eq "bjensen""#));
        assert!(eval(r#"externalId eq "Bjensen-EXT""#));
        assert!(!eval(r#"externalId eq "bjensen-ext""#));
        assert!(eval(r#"externalId ne "bjensen-ext""#));
        assert!(eval(r#"emails[type eq "work"]"#));
        assert!(!eval(r#"emails[type eq "WORK"]"#));
        assert!(eval(r#"emails.type eq "home""#));
        assert!(!eval(r#"emails.type eq "Home""#));
        assert!(eval(r#"name.familyName co "o'mal""#));
        assert!(eval(
            r#"userType eq "Employee" and (emails.type eq "work")"#
        ));
    }

    #[test]
    fn case_exact_receives_the_full_path() {
        let seen = std::cell::RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            seen.borrow_mut().push(p.to_string());
            false
        };
        let resource = user();
        matches(&parse(r#"emails[type eq "work"]"#), &resource, &record);
        matches(&parse(r#"emails eq "babs@jensen.org""#), &resource, &record);
        matches(&parse(r#"name.givenName sw "b""#), &resource, &record);
        matches(
            &parse(
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#,
            ),
            &resource,
            &record,
        );
        // Not asked for non-string comparisons.
        matches(&parse("loginCount eq 42"), &resource, &record);
        assert_eq!(
            seen.into_inner(),
            [
                "emails.type",
                "emails.value",
                "name.givenName",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
            ]
        );
    }

    #[test]
    fn value_filter_on_one_element() {
        let seen = std::cell::RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            seen.borrow_mut().push(p.to_string());
            p.sub_attr.as_deref() == Some("type")
        };
        let inner = parse(r#"type eq "work" and value ew "@EXAMPLE.com""#);
        let emails = AttrPath::new("emails");
        let work = json!({"type": "work", "value": "a@example.com"});
        assert!(matches_value(&inner, &work, &emails, &record));
        assert!(!matches_value(
            &inner,
            &json!({"type": "Work", "value": "a@example.com"}),
            &emails,
            &record
        ));
        assert_eq!(seen.borrow()[..2], ["emails.type", "emails.value"]);
    }

    #[test]
    fn multi_valued_attributes() {
        // Any value may match.
        assert!(eval(r#"emails.value ew "jensen.org""#));
        assert!(eval(r#"roles eq "admin""#));
        assert!(eval(r#"roles eq "AUDITOR""#));
        assert!(!eval(r#"roles eq "owner""#));
        // Without a sub-attribute, complex values compare by `value`.
        assert!(eval(r#"emails eq "BABS@jensen.org""#));
        assert!(eval(r#"emails co "example.com""#));
        assert!(!eval(r#"emails co "home""#));
        assert!(eval(r#"groups eq "g1""#));
        // ne matches when some value differs.
        assert!(eval(r#"emails.type ne "work""#));
        assert!(!matches(
            &parse(r#"emails.type ne "work""#),
            &json!({"emails": [{"type": "work"}]}),
            &|_| false
        ));
        // Value filters evaluate each element on its own.
        assert!(eval(
            r#"emails[type eq "work" and value co "@example.com"]"#
        ));
        assert!(!eval(
            r#"emails[type eq "home" and value co "@example.com"]"#
        ));
        assert!(eval(r#"emails[type eq "home" and not (primary eq true)]"#));
        assert!(eval(r#"emails[primary pr] and userName sw "bj""#));
        assert!(!eval(r#"phoneNumbers[type eq "work"]"#));
        assert!(!eval(r#"missing[type eq "work"]"#));
        assert!(!eval(r#"emails[type eq "work"] and userName sw "x""#));
        // A single complex value can be filtered too.
        assert!(eval(r#"name[givenName eq "barbara"]"#));
    }

    #[test]
    fn extension_and_core_urns() {
        assert!(eval(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(eval(
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq "701984""#
        ));
        assert!(eval(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        ));
        // A single complex value compares by its `value` too.
        assert!(eval(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
        ));
        assert!(!eval(r#"employeeNumber eq "701984""#));
        assert!(eval(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#
        ));
        assert!(eval(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara""#
        ));
        assert!(!eval(r#"urn:example:other:1.0:User:userName pr"#));
        assert!(eval(
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
        ));
    }

    #[test]
    fn presence() {
        assert!(eval("userName pr"));
        assert!(eval("name pr"));
        assert!(eval("name.givenName pr"));
        assert!(!eval("name.middleName pr"));
        assert!(!eval("title pr"));
        assert!(!eval("nickName pr"));
        assert!(!eval("phoneNumbers pr"));
        assert!(!eval("x509Certificates pr"));
        assert!(!eval("missing pr"));
        assert!(eval("active pr"));
        assert!(eval("emails.primary pr"));
        assert!(eval("emails pr"));
        assert!(eval("not (title pr)"));
        assert!(!matches(
            &parse("name pr"),
            &json!({"name": {"a": ""}}),
            &|_| false
        ));
    }

    #[test]
    fn null_and_absent() {
        assert!(eval("nickName eq null"));
        assert!(eval("missing eq null"));
        assert!(eval("phoneNumbers eq null"));
        assert!(!eval("userName eq null"));
        assert!(eval("userName ne null"));
        assert!(!eval("nickName ne null"));
        assert!(eval(r#"missing ne "x""#));
        assert!(!eval(r#"missing eq "x""#));
        assert!(!eval(r#"missing co "x""#));
        assert!(!eval(r#"missing gt "x""#));
        assert!(!eval(r#"nickName sw "x""#));
        assert!(!eval(r#"missing.sub eq "x""#));
        assert!(eval(r#"missing.sub ne "x""#));
    }

    #[test]
    fn booleans() {
        assert!(eval("active eq true"));
        assert!(eval("active eq TRUE"));
        assert!(!eval("active eq false"));
        assert!(eval("active ne false"));
        assert!(!eval("active gt false"));
        assert!(!eval("active ge true"));
        assert!(!eval("active le true"));
        assert!(!eval(r#"active eq "true""#));
        assert!(!eval(r#"active co "t""#));
        assert!(!eval(r#"active gt "a""#));
        assert!(eval("emails[primary eq true and type eq \"work\"]"));
    }

    #[test]
    fn numbers() {
        assert!(eval("loginCount eq 42"));
        assert!(eval("loginCount eq 42.0"));
        assert!(eval("loginCount gt 41"));
        assert!(eval("loginCount ge 42"));
        assert!(eval("loginCount lt 42.5"));
        assert!(eval("loginCount le 42"));
        assert!(!eval("loginCount lt -1"));
        assert!(!eval("loginCount gt 18446744073709551615"));
        assert!(eval("score gt 2"));
        assert!(eval("score lt 2.6"));
        assert!(!eval(r#"loginCount eq "42""#));
        assert!(!eval(r#"loginCount co "4""#));
        assert!(!eval(r#"userName gt 1"#));
    }

    #[test]
    fn strings_and_dates_order() {
        assert!(eval(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
        assert!(eval(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#));
        assert!(!eval(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
        assert!(eval(r#"meta.lastModified le "2011-05-13T04:42:34Z""#));
        // Chronological, not lexical: same instant in another offset.
        assert!(eval(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#));
        assert!(eval(r#"meta.lastModified lt "2011-05-13T06:42:35+02:00""#));
        assert!(eval(r#"meta.lastModified gt "2011-05-13T04:42:33.999Z""#));
        // Not both dates: lexical.
        assert!(eval(r#"meta.lastModified gt "2011""#));
        assert!(eval(r#"userName gt "BA""#));
        assert!(eval(r#"userName lt "bk""#));
        assert!(eval(r#"userName ge "bjensen@example.com""#));
        assert!(!eval(r#"externalId gt "b""#)); // case-exact: 'B' < 'b'
        assert!(eval(r#"externalId lt "b""#));
        assert!(eval(r#"userName sw "BJ" and userName ew ".COM""#));
    }

    #[test]
    fn logic() {
        assert!(eval(r#"userName pr and (title pr or active eq true)"#));
        assert!(!eval(r#"userName pr and not (title pr or active eq true)"#));
        assert!(eval(
            r#"userType ne "Employee" or not (emails co "example.org")"#
        ));
        assert!(eval(
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#
        ));
        assert!(eval(
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
        ));
    }

    #[test]
    fn non_object_resources_never_panic() {
        for resource in [
            json!(null),
            json!(1),
            json!("x"),
            json!([1, 2]),
            json!({"emails": "x"}),
        ] {
            for filter in [
                r#"emails[type eq "work"]"#,
                "emails.value pr",
                r#"emails eq "x""#,
                "not (a pr)",
            ] {
                let _ = matches(&parse(filter), &resource, &|_| false);
            }
        }
        assert!(matches(
            &parse(r#"emails eq "x""#),
            &json!({"emails": "x"}),
            &|_| false
        ));
    }

    #[test]
    fn hand_built_deep_filters_do_not_overflow() {
        let mut f = pr("a");
        for _ in 0..2000 {
            f = not(f);
        }
        // Deeper than the evaluator looks: treated as no match rather than recursing on.
        let _ = matches(&f, &json!({"a": 1}), &|_| false);
        // Right-nested values deeper than the parser allows are refused on the way back.
        let mut g = pr("a");
        for _ in 0..100 {
            g = and(pr("a"), g);
        }
        assert!(parse_filter(&g.to_string()).is_err());
    }

    // -----------------------------------------------------------------------------------
    // Properties

    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
            1 => Just("$ref".to_string()),
            1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "NOT"])
                .prop_map(str::to_string),
        ]
    }

    fn arb_schema() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            4 => Just(None),
            1 => Just(Some(urn::USER.to_string())),
            1 => Just(Some(urn::ENTERPRISE_USER.to_string())),
            1 => Just(Some("urn:example:custom:1.0:Thing".to_string())),
        ]
    }

    fn arb_full_path() -> impl Strategy<Value = AttrPath> {
        (arb_schema(), arb_name(), proptest::option::of(arb_name())).prop_map(
            |(schema, attr, sub_attr)| AttrPath {
                schema,
                attr,
                sub_attr,
            },
        )
    }

    fn arb_comp_value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            Just(CompValue::Null),
            any::<bool>().prop_map(CompValue::Bool),
            any::<i64>().prop_map(|n| CompValue::Number(n.into())),
            any::<u64>().prop_map(|n| CompValue::Number(n.into())),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(CompValue::Number)),
            any::<String>().prop_map(CompValue::String),
            "[a-z@.\"\\\\/ ]{0,12}".prop_map(CompValue::String),
        ]
    }

    fn arb_op() -> impl Strategy<Value = CompareOp> {
        prop::sample::select(CompareOp::ALL.to_vec())
    }

    fn arb_leaf(path: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
        prop_oneof![
            path.clone().prop_map(Filter::Present),
            (path, arb_op(), arb_comp_value()).prop_map(|(p, op, v)| Filter::Compare(p, op, v)),
        ]
    }

    fn arb_logic(leaf: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
        leaf.prop_recursive(5, 40, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|a| Filter::Not(Box::new(a))),
            ]
        })
    }

    /// Filters as they may appear between brackets: relative names, no brackets.
    pub(crate) fn arb_value_filter() -> impl Strategy<Value = Filter> {
        arb_logic(arb_leaf(arb_name().prop_map(AttrPath::new).boxed()).boxed())
    }

    fn arb_filter() -> impl Strategy<Value = Filter> {
        let value_path =
            (arb_schema(), arb_name(), arb_value_filter()).prop_map(|(schema, attr, inner)| {
                Filter::ValuePath(
                    AttrPath {
                        schema,
                        attr,
                        sub_attr: None,
                    },
                    Box::new(inner),
                )
            });
        arb_logic(prop_oneof![3 => arb_leaf(arb_full_path().boxed()), 1 => value_path].boxed())
    }

    /// Random mixes of grammar tokens, joined with or without spaces.
    fn arb_token_soup() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec![
            "(",
            ")",
            "[",
            "]",
            "not",
            "NOT",
            "and",
            "or",
            "Or",
            "eq",
            "ne",
            "co",
            "gt",
            "pr",
            "\"x\"",
            "\"",
            "\\",
            "\\u",
            "\\uD800",
            "\\uDC00",
            "\"\\uD83D\\uDE00\"",
            "userName",
            "name.givenName",
            "emails",
            "urn:ietf:params:scim:schemas:core:2.0:User:",
            urn::ENTERPRISE_USER,
            ":",
            ".",
            "..",
            "1",
            "-",
            "1e5",
            "1e999",
            "0.5",
            "true",
            "null",
            "$ref",
            "é",
            "\t",
            "\n",
            "\u{0}",
            "\u{7f}",
            "]. value",
            "[type eq \"w\"]",
        ]);
        (
            prop::collection::vec(token, 0..40),
            prop::collection::vec(any::<bool>(), 0..40),
        )
            .prop_map(|(tokens, spaces)| {
                let mut out = String::new();
                for (i, t) in tokens.iter().enumerate() {
                    if spaces.get(i).copied().unwrap_or(true) {
                        out.push(' ');
                    }
                    out.push_str(t);
                }
                out
            })
    }

    fn check_total(input: &str) -> Result<(), TestCaseError> {
        match parse_filter(input) {
            Ok(f) => {
                // Whatever parses prints to something that parses back the same.
                let printed = f.to_string();
                prop_assert_eq!(parse_filter(&printed), Ok(f.clone()), "printed {}", printed);
                let _ = matches(&f, &user(), &case_exact);
            }
            Err(e) => {
                prop_assert_eq!(e.status, 400);
                prop_assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
                prop_assert!(e.detail.starts_with("Invalid filter"));
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn print_then_parse_is_identity(f in arb_filter()) {
            let printed = f.to_string();
            prop_assert_eq!(parse_filter(&printed), Ok(f.clone()), "printed as {}", printed);
        }

        #[test]
        fn never_panics_on_arbitrary_strings(s in any::<String>()) {
            check_total(&s)?;
        }

        #[test]
        fn never_panics_on_token_soup(s in arb_token_soup()) {
            check_total(&s)?;
        }

        #[test]
        fn not_negates_and_evaluation_is_total(f in arb_filter()) {
            let resource = user();
            let plain = matches(&f, &resource, &case_exact);
            let negated = matches(&Filter::Not(Box::new(f)), &resource, &case_exact);
            prop_assert_eq!(plain, !negated);
        }
    }
}
