//! Strategy rules: entry and exit conditions written as expressions over
//! prices, data columns and indicators, with `$parameters` bound to grids.
//!
//! A rule is parsed once ([`parse`]), compiled once per parameter combination
//! into a [`Program`] (a small DAG of column operations, identical
//! sub-expressions merged by their canonical key), and evaluated once per
//! dataset into per-bar signal [`flags`](crate::sim::flags): each rule is a
//! column decided at a bar's close and filled at the next bar's open. Columns
//! used by more than one variant are computed once per dataset, through the
//! [`ExprCache`]. `docs/strategies.md` documents the grammar.

mod compile;
mod eval;
mod parse;
#[cfg(test)]
mod tests;

pub use compile::{Ind, Node, Op, Opd, Program, RULES, closest};
pub use eval::{CACHE_BYTES, Column, ExprCache, UserCounts};
pub use parse::{BinOp, Expr, ExprKind, Price, parse};

pub(crate) use compile::Builder;

/// A rule that does not parse or compile: the byte offset in the rule's text
/// and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub offset: usize,
    pub message: String,
}

impl RuleError {
    pub fn new(offset: usize, message: impl Into<String>) -> Self {
        Self { offset, message: message.into() }
    }
}

/// The four rules of a strategy as text (any subset given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleText {
    pub entry_long: Option<String>,
    pub exit_long: Option<String>,
    pub entry_short: Option<String>,
    pub exit_short: Option<String>,
}

impl RuleText {
    /// The rules in [`RULES`] order.
    pub fn all(&self) -> [Option<&str>; 4] {
        [&self.entry_long, &self.exit_long, &self.entry_short, &self.exit_short].map(|r| r.as_deref())
    }

    /// Whether any rule is given.
    pub fn any(&self) -> bool {
        self.all().iter().any(Option::is_some)
    }

    /// Whether a short rule is given (no short rules: long only).
    pub fn has_short(&self) -> bool {
        self.entry_short.is_some() || self.exit_short.is_some()
    }

    /// Whether a long rule is given.
    pub fn has_long(&self) -> bool {
        self.entry_long.is_some() || self.exit_long.is_some()
    }
}

/// Parsed rules, ready to compile with parameter values.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub text: RuleText,
    trees: [Option<Expr>; 4],
}

impl Rules {
    /// Parses the rules; an error names the rule (`entry_long`...) it is in.
    pub fn parse(text: RuleText) -> Result<Self, (&'static str, RuleError)> {
        let mut trees: [Option<Expr>; 4] = Default::default();
        for (k, r) in text.all().iter().enumerate() {
            if let Some(r) = r {
                trees[k] = Some(parse(r).map_err(|e| (RULES[k], e))?);
            }
        }
        Ok(Self { text, trees })
    }

    /// Compiles with parameter values (`name`, value); also returns the
    /// parameters used and the data columns read. An error names the rule.
    pub fn compile(&self, params: &[(String, f64)]) -> Result<Compiled, (&'static str, RuleError)> {
        let mut b = Builder::new(params);
        let mut roots = [None; 4];
        for (k, t) in self.trees.iter().enumerate() {
            if let Some(t) = t {
                roots[k] = Some(b.rule(t).map_err(|e| (RULES[k], e))?);
            }
        }
        let (used, columns) = (std::mem::take(&mut b.used), std::mem::take(&mut b.columns));
        Ok(Compiled { program: b.finish(roots), used, columns })
    }

    /// The rules with `$name` replaced by the values given, for display:
    /// `entry_long: cross_above(sma(close, 10), ...); exit_long: ...`.
    pub fn display(&self, params: &[(String, String)]) -> String {
        let mut parts = Vec::new();
        for (k, r) in self.text.all().iter().enumerate() {
            if let Some(r) = r {
                parts.push(format!("{}: {}", RULES[k], substitute(r, params)));
            }
        }
        parts.join("; ")
    }
}

/// `text` with every `$name` of `params` replaced by its value.
pub fn substitute(text: &str, params: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let len = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        match params.iter().find(|(n, _)| n == &tail[..len]) {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[i..i + 1 + len]),
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// A compiled program and what it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub program: Program,
    pub used: Vec<String>,
    pub columns: Vec<String>,
}
