//! Syntax tree plus parameter values to a [`Program`]: type checking, arity,
//! look-ahead and period checks, constant folding, and hash-consing, so that
//! each distinct sub-expression is one node with a canonical key (the key is
//! what the [`ExprCache`](super::ExprCache) shares between variants).

use std::collections::HashMap;

use super::RuleError;
use super::parse::{BinOp, Expr, ExprKind, Price};

/// An indicator a rule may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ind {
    Sma,
    Ema,
    Wma,
    Rsi,
    Roc,
    Macd,
    Bbands,
    Atr,
    Stoch,
    Adx,
    Supertrend,
    Donchian,
}

/// How a parameter of an indicator is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PKind {
    /// A whole number >= 1 (a period).
    Whole,
    /// A number > 0 (a band width, a multiplier).
    Positive,
}

/// An indicator's signature: whether it takes a series first, its parameters
/// and its outputs (`""` is the output of a bare call; a list without `""`
/// needs an output named).
pub(crate) struct IndSig {
    pub name: &'static str,
    pub ind: Ind,
    pub series: bool,
    params: &'static [(&'static str, PKind)],
    pub outputs: &'static [&'static str],
}

use PKind::{Positive, Whole};

pub(crate) const INDICATORS: [IndSig; 12] = [
    IndSig { name: "sma", ind: Ind::Sma, series: true, params: &[("period", Whole)], outputs: &[""] },
    IndSig { name: "ema", ind: Ind::Ema, series: true, params: &[("period", Whole)], outputs: &[""] },
    IndSig { name: "wma", ind: Ind::Wma, series: true, params: &[("period", Whole)], outputs: &[""] },
    IndSig { name: "rsi", ind: Ind::Rsi, series: true, params: &[("period", Whole)], outputs: &[""] },
    IndSig { name: "roc", ind: Ind::Roc, series: true, params: &[("period", Whole)], outputs: &[""] },
    IndSig {
        name: "macd",
        ind: Ind::Macd,
        series: true,
        params: &[("fast", Whole), ("slow", Whole), ("signal", Whole)],
        outputs: &["", "signal", "hist"],
    },
    IndSig {
        name: "bbands",
        ind: Ind::Bbands,
        series: true,
        params: &[("period", Whole), ("k", Positive)],
        outputs: &["upper", "middle", "lower"],
    },
    IndSig { name: "atr", ind: Ind::Atr, series: false, params: &[("period", Whole)], outputs: &[""] },
    IndSig {
        name: "stoch",
        ind: Ind::Stoch,
        series: false,
        params: &[("fastk", Whole), ("slowk", Whole), ("slowd", Whole)],
        outputs: &["k", "d"],
    },
    IndSig {
        name: "adx",
        ind: Ind::Adx,
        series: false,
        params: &[("period", Whole)],
        outputs: &["", "plus_di", "minus_di"],
    },
    IndSig {
        name: "supertrend",
        ind: Ind::Supertrend,
        series: false,
        params: &[("period", Whole), ("multiplier", Positive)],
        outputs: &["", "direction"],
    },
    IndSig {
        name: "donchian",
        ind: Ind::Donchian,
        series: false,
        params: &[("period", Whole)],
        outputs: &["upper", "middle", "lower"],
    },
];

/// The functions that are not indicators: name and usage.
pub(crate) const FUNCTIONS: [(&str, &str); 8] = [
    ("col", "col(\"name\")"),
    ("cross_above", "cross_above(a, b)"),
    ("cross_below", "cross_below(a, b)"),
    ("prev", "prev(x, n)"),
    ("rising", "rising(x, n)"),
    ("falling", "falling(x, n)"),
    ("highest", "highest(x, n)"),
    ("lowest", "lowest(x, n)"),
];

impl IndSig {
    #[cfg(test)]
    pub(crate) fn param_names(&self) -> impl Iterator<Item = &'static str> {
        self.params.iter().map(|p| p.0)
    }

    fn usage(&self) -> String {
        let mut args: Vec<&str> = Vec::new();
        if self.series {
            args.push("x");
        }
        args.extend(self.params.iter().map(|p| p.0));
        format!("{}({})", self.name, args.join(", "))
    }
}

/// Levenshtein distance (names are short).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The closest of `candidates` to `name`, if close enough to be a typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (distance(&name.to_ascii_lowercase(), c), c))
        .filter(|&(d, c)| d <= (c.len().max(name.len()) / 2).clamp(1, 3))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

fn suggest(name: &str, candidates: &[&str]) -> String {
    match closest(name, candidates.iter().copied()) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

fn function_names() -> Vec<&'static str> {
    INDICATORS.iter().map(|s| s.name).chain(FUNCTIONS.iter().map(|f| f.0)).collect()
}

/// The error for a bare name that is not a price column.
pub(crate) fn unknown_name(at: usize, name: &str) -> RuleError {
    if function_names().contains(&name) {
        return RuleError::new(at, format!("`{name}` is a function: call it, e.g. `{name}(...)`"));
    }
    let mut names: Vec<&str> = Price::ALL.iter().map(|p| p.0).collect();
    names.extend(function_names());
    RuleError::new(
        at,
        format!(
            "unknown name `{name}`{} (columns are open, high, low, close, volume; other data columns are col(\"name\"))",
            suggest(name, &names)
        ),
    )
}

/// An operand of a column operation: a node or a constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Opd {
    N(usize),
    C(f64),
}

/// One column operation. Node indices always point at earlier nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Price(Price),
    Extra(String),
    /// An indicator over node `input` (`None`: over the candles), all outputs.
    Ind(Ind, Option<usize>, Vec<f64>),
    /// Output `k` of an indicator node.
    Out(usize, usize),
    Arith(BinOp, Opd, Opd),
    Neg(usize),
    Cmp(BinOp, Opd, Opd),
    And(usize, usize),
    Or(usize, usize),
    Not(usize),
    /// `true`: above.
    Cross(bool, Opd, Opd),
    /// `x[t - n]`; the flag says whether `x` is boolean.
    Prev(usize, usize, bool),
    /// `x[t] > x[t - n]` (`true`) or `<`.
    Rising(usize, usize, bool),
    /// Highest (`true`) or lowest of the last `n` values.
    Extreme(usize, usize, bool),
    Const(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: Op,
    /// Canonical text of the sub-expression after substitution.
    pub key: String,
    /// Used by more than one program of a bundle: kept in the expression cache.
    pub shared: bool,
}

/// Which of the four rules a root is.
pub const RULES: [&str; 4] = ["entry_long", "exit_long", "entry_short", "exit_short"];

/// The compiled rules of one strategy variant: nodes in evaluation order and
/// the boolean node of each rule that is given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    pub nodes: Vec<Node>,
    pub roots: [Option<usize>; 4],
}

/// What a sub-expression is while building.
#[derive(Debug, Clone, Copy, PartialEq)]
enum B {
    Const(f64),
    Num(usize),
    Bool(usize),
}

impl B {
    fn ty(self) -> &'static str {
        match self {
            B::Const(_) => "a number",
            B::Num(_) => "a numeric series",
            B::Bool(_) => "a condition",
        }
    }
}

fn fmt_num(v: f64) -> String {
    format!("{v}")
}

/// Builds programs; holds the hash-consing table of one program.
pub(crate) struct Builder<'p> {
    params: &'p [(String, f64)],
    nodes: Vec<Node>,
    index: HashMap<String, usize>,
    /// Names of the parameters the rules used.
    pub used: Vec<String>,
    /// Extra data columns the rules read.
    pub columns: Vec<String>,
}

impl<'p> Builder<'p> {
    pub fn new(params: &'p [(String, f64)]) -> Self {
        Self { params, nodes: Vec::new(), index: HashMap::new(), used: Vec::new(), columns: Vec::new() }
    }

    /// The program; every node but the rules' own (consumed at once into
    /// the signal) may be shared with other variants through the cache.
    pub fn finish(mut self, roots: [Option<usize>; 4]) -> Program {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            n.shared = !roots.contains(&Some(i));
        }
        Program { nodes: self.nodes, roots }
    }

    fn node(&mut self, op: Op, key: String) -> usize {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        self.nodes.push(Node { op, key: key.clone(), shared: false });
        self.index.insert(key, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    fn key(&self, b: B) -> String {
        match b {
            B::Const(v) => fmt_num(v),
            B::Num(i) | B::Bool(i) => self.nodes[i].key.clone(),
        }
    }

    fn opd(b: B) -> Opd {
        match b {
            B::Const(v) => Opd::C(v),
            B::Num(i) | B::Bool(i) => Opd::N(i),
        }
    }

    /// Builds a rule, which must be a condition.
    pub fn rule(&mut self, e: &Expr) -> Result<usize, RuleError> {
        match self.build(e)? {
            B::Bool(i) => Ok(i),
            other => Err(RuleError::new(
                e.at,
                format!(
                    "a rule must be a condition (true or false at each bar), but this is {}; compare it, e.g. `... > 0`",
                    other.ty()
                ),
            )),
        }
    }

    fn numeric(&mut self, e: &Expr, what: &str) -> Result<B, RuleError> {
        match self.build(e)? {
            B::Bool(_) => Err(RuleError::new(
                e.at,
                format!("{what} must be a number or numeric series, not a condition"),
            )),
            b => Ok(b),
        }
    }

    fn condition(&mut self, e: &Expr, what: &str) -> Result<usize, RuleError> {
        match self.build(e)? {
            B::Bool(i) => Ok(i),
            b => Err(RuleError::new(e.at, format!("{what} must be a condition, but this is {}", b.ty()))),
        }
    }

    /// A constant argument (a number or a parameter), checked as `kind`.
    fn constant(&mut self, e: &Expr, func: &str, pname: &str, kind: PKind) -> Result<f64, RuleError> {
        let v = match self.build(e)? {
            B::Const(v) => v,
            b => {
                return Err(RuleError::new(
                    e.at,
                    format!("{pname} of {func} must be a number or a $parameter, not {}", b.ty()),
                ));
            }
        };
        let from_param = match &e.kind {
            ExprKind::Param(p) => format!(" (${p} = {})", fmt_num(v)),
            _ => String::new(),
        };
        match kind {
            PKind::Whole if !(v >= 1.0 && v.fract() == 0.0 && v <= 1e7) => Err(RuleError::new(
                e.at,
                format!(
                    "{pname} of {func} must be a whole number of bars >= 1, got {}{from_param}",
                    fmt_num(v)
                ),
            )),
            PKind::Positive if !(v > 0.0 && v.is_finite()) => Err(RuleError::new(
                e.at,
                format!("{pname} of {func} must be a positive number, got {}{from_param}", fmt_num(v)),
            )),
            _ => Ok(v),
        }
    }

    fn arity(e: &Expr, name: &str, args: &[Expr], usage: &str, n: usize) -> Result<(), RuleError> {
        if args.len() != n {
            return Err(RuleError::new(
                e.at,
                format!(
                    "{name} takes {n} argument{}: {usage} (got {})",
                    if n == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        Ok(())
    }

    fn build(&mut self, e: &Expr) -> Result<B, RuleError> {
        Ok(match &e.kind {
            ExprKind::Num(v) => B::Const(*v),
            ExprKind::Param(p) => match self.params.iter().find(|(n, _)| n == p) {
                Some((_, v)) => {
                    if !self.used.contains(p) {
                        self.used.push(p.clone());
                    }
                    B::Const(*v)
                }
                None => {
                    let names: Vec<&str> = self.params.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(RuleError::new(
                        e.at,
                        format!(
                            "parameter `${p}` is not in [strategy.params]{}",
                            closest(p, names.iter().copied())
                                .map(|c| format!("; did you mean `${c}`?"))
                                .unwrap_or_default()
                        ),
                    ));
                }
            },
            ExprKind::Price(p) => B::Num(self.node(Op::Price(*p), p.name().to_owned())),
            ExprKind::Str(_) => {
                return Err(RuleError::new(e.at, "a string is only allowed as the name in col(\"name\")"));
            }
            ExprKind::Neg(x) => match self.numeric(x, "the operand of `-`")? {
                B::Const(v) => B::Const(-v),
                b => {
                    let key = format!("(-{})", self.key(b));
                    B::Num(self.node(Op::Neg(Self::idx(b)), key))
                }
            },
            ExprKind::Not(x) => {
                let i = self.condition(x, "the operand of `not`")?;
                let key = format!("(not {})", self.nodes[i].key);
                B::Bool(self.node(Op::Not(i), key))
            }
            ExprKind::Bin(op, l, r) => match op {
                BinOp::And | BinOp::Or => {
                    let a = self.condition(l, &format!("the left side of `{}`", op.symbol()))?;
                    let b = self.condition(r, &format!("the right side of `{}`", op.symbol()))?;
                    let key = format!("({} {} {})", self.nodes[a].key, op.symbol(), self.nodes[b].key);
                    let o = if *op == BinOp::And { Op::And(a, b) } else { Op::Or(a, b) };
                    B::Bool(self.node(o, key))
                }
                _ => {
                    let side = |s: &str| format!("the {s} side of `{}`", op.symbol());
                    let a = self.numeric(l, &side("left"))?;
                    let b = self.numeric(r, &side("right"))?;
                    if let (B::Const(x), B::Const(y)) = (a, b) {
                        return Ok(match op {
                            BinOp::Add => B::Const(x + y),
                            BinOp::Sub => B::Const(x - y),
                            BinOp::Mul => B::Const(x * y),
                            BinOp::Div => B::Const(x / y),
                            _ => {
                                let v = super::eval::compare(*op, x, y);
                                B::Bool(self.node(Op::Const(v), v.to_string()))
                            }
                        });
                    }
                    let key = format!("({} {} {})", self.key(a), op.symbol(), self.key(b));
                    if op.is_comparison() {
                        B::Bool(self.node(Op::Cmp(*op, Self::opd(a), Self::opd(b)), key))
                    } else {
                        B::Num(self.node(Op::Arith(*op, Self::opd(a), Self::opd(b)), key))
                    }
                }
            },
            ExprKind::Call { name, args, output } => return self.call(e, name, args, output.as_ref()),
        })
    }

    fn idx(b: B) -> usize {
        match b {
            B::Num(i) | B::Bool(i) => i,
            B::Const(_) => usize::MAX,
        }
    }

    fn call(
        &mut self,
        e: &Expr,
        name: &str,
        args: &[Expr],
        output: Option<&(String, usize)>,
    ) -> Result<B, RuleError> {
        if let Some(sig) = INDICATORS.iter().find(|s| s.name == name) {
            return self.indicator(e, sig, args, output);
        }
        if let Some((_, at)) = output {
            return Err(RuleError::new(*at, format!("{name} has no outputs")));
        }
        let Some(&(_, usage)) = FUNCTIONS.iter().find(|f| f.0 == name) else {
            return Err(RuleError::new(
                e.at,
                format!("unknown function `{name}`{}", suggest(name, &function_names())),
            ));
        };
        Self::arity(e, name, args, usage, if name == "col" { 1 } else { 2 })?;
        match name {
            "col" => {
                let ExprKind::Str(c) = &args[0].kind else {
                    return Err(RuleError::new(
                        args[0].at,
                        "col takes the column's name in quotes: col(\"name\")",
                    ));
                };
                if let Some((p, _)) = Price::ALL.iter().find(|(p, _)| p.eq_ignore_ascii_case(c)) {
                    return Err(RuleError::new(args[0].at, format!("`{c}` is a price column: write `{p}`")));
                }
                if !self.columns.contains(c) {
                    self.columns.push(c.clone());
                }
                Ok(B::Num(self.node(Op::Extra(c.clone()), format!("col({c:?})"))))
            }
            "cross_above" | "cross_below" => {
                let a = self.numeric(&args[0], &format!("the first argument of {name}"))?;
                let b = self.numeric(&args[1], &format!("the second argument of {name}"))?;
                if let (B::Const(_), B::Const(_)) = (a, b) {
                    return Err(RuleError::new(
                        e.at,
                        format!("{name} of two numbers never fires: give it a series"),
                    ));
                }
                let key = format!("{name}({}, {})", self.key(a), self.key(b));
                Ok(B::Bool(self.node(Op::Cross(name == "cross_above", Self::opd(a), Self::opd(b)), key)))
            }
            _ => {
                let x = self.build(&args[0])?;
                let nv = match self.build(&args[1])? {
                    B::Const(v) => v,
                    b => {
                        return Err(RuleError::new(
                            args[1].at,
                            format!("n of {name} must be a number or a $parameter, not {}", b.ty()),
                        ));
                    }
                };
                if name == "prev" && nv < 1.0 {
                    return Err(RuleError::new(
                        args[1].at,
                        format!(
                            "look-ahead: prev(x, n) reads n bars back and needs n >= 1, got {}",
                            fmt_num(nv)
                        ),
                    ));
                }
                if !(nv >= 1.0 && nv.fract() == 0.0 && nv <= 1e7) {
                    return Err(RuleError::new(
                        args[1].at,
                        format!("n of {name} must be a whole number of bars >= 1, got {}", fmt_num(nv)),
                    ));
                }
                let n = nv as usize;
                let key = format!("{name}({}, {n})", self.key(x));
                match (name, x) {
                    (_, B::Const(_)) => {
                        Err(RuleError::new(args[0].at, format!("{name} needs a series, not a number")))
                    }
                    ("prev", B::Num(i)) => Ok(B::Num(self.node(Op::Prev(i, n, false), key))),
                    ("prev", B::Bool(i)) => Ok(B::Bool(self.node(Op::Prev(i, n, true), key))),
                    (_, B::Bool(_)) => Err(RuleError::new(
                        args[0].at,
                        format!("{name} needs a numeric series, not a condition"),
                    )),
                    ("rising" | "falling", B::Num(i)) => {
                        Ok(B::Bool(self.node(Op::Rising(i, n, name == "rising"), key)))
                    }
                    (_, B::Num(i)) => Ok(B::Num(self.node(Op::Extreme(i, n, name == "highest"), key))),
                }
            }
        }
    }

    fn indicator(
        &mut self,
        e: &Expr,
        sig: &IndSig,
        args: &[Expr],
        output: Option<&(String, usize)>,
    ) -> Result<B, RuleError> {
        let want = sig.params.len() + usize::from(sig.series);
        Self::arity(e, sig.name, args, &sig.usage(), want)?;
        let (input, rest) = if sig.series {
            let x = self.numeric(&args[0], &format!("the series of {}", sig.name))?;
            match x {
                B::Num(i) => (Some(i), &args[1..]),
                _ => {
                    return Err(RuleError::new(
                        args[0].at,
                        format!(
                            "the first argument of {} is the series it reads, e.g. {}(close, ...)",
                            sig.name, sig.name
                        ),
                    ));
                }
            }
        } else {
            (None, args)
        };
        let mut ps = Vec::new();
        for (a, (pname, kind)) in rest.iter().zip(sig.params) {
            ps.push(self.constant(a, sig.name, pname, *kind)?);
        }
        let k = match output {
            Some((o, at)) => match sig.outputs.iter().position(|x| !x.is_empty() && x == o) {
                Some(k) => k,
                None => {
                    let names: Vec<&str> = sig.outputs.iter().copied().filter(|x| !x.is_empty()).collect();
                    return Err(RuleError::new(
                        *at,
                        if names.is_empty() {
                            format!("{} has one output; drop `.{o}`", sig.name)
                        } else {
                            format!(
                                "{} has no output `{o}`{} (outputs: {})",
                                sig.name,
                                suggest(o, &names),
                                names.join(", ")
                            )
                        },
                    ));
                }
            },
            None => match sig.outputs.iter().position(|x| x.is_empty()) {
                Some(k) => k,
                None => {
                    return Err(RuleError::new(
                        e.at,
                        format!(
                            "pick an output of {}: {}",
                            sig.name,
                            sig.outputs.iter().map(|o| format!(".{o}")).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            },
        };
        let mut key_args: Vec<String> = input.map(|i| self.nodes[i].key.clone()).into_iter().collect();
        key_args.extend(ps.iter().map(|&v| fmt_num(v)));
        let key = format!("{}({})", sig.name, key_args.join(", "));
        let ind = self.node(Op::Ind(sig.ind, input, ps), key.clone());
        let out_key = match sig.outputs[k] {
            "" => format!("{key}.0"),
            o => format!("{key}.{o}"),
        };
        Ok(B::Num(self.node(Op::Out(ind, k), out_key)))
    }
}
