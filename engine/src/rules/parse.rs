//! Rule text to a syntax tree: a hand-written lexer and a precedence-climbing
//! parser that keeps the byte offset of every node for error messages.
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparisons (which do not
//! chain), `+ -`, `* /`, unary `-`, then `.output` after a call.

use super::RuleError;

/// A price column of the candles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Price {
    Open,
    High,
    Low,
    Close,
    Volume,
}

impl Price {
    pub const ALL: [(&'static str, Price); 5] = [
        ("open", Price::Open),
        ("high", Price::High),
        ("low", Price::Low),
        ("close", Price::Close),
        ("volume", Price::Volume),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, p)| *p == self).map_or("close", |(n, _)| n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::And => "and",
            Self::Or => "or",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, Self::Lt | Self::Le | Self::Gt | Self::Ge | Self::Eq | Self::Ne)
    }
}

/// A node of the syntax tree; `at` is the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Num(f64),
    /// `$name` (without the `$`).
    Param(String),
    Price(Price),
    /// A string literal (only `col("name")` takes one).
    Str(String),
    /// `name(args)` with an optional `.output` (name and its offset).
    Call {
        name: String,
        args: Vec<Expr>,
        output: Option<(String, usize)>,
    },
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Param(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Dot,
    Op(BinOp),
    Minus,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v) => format!("number {v}"),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Param(s) => format!("`${s}`"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Dot => "`.`".into(),
        Tok::Op(op) => format!("`{}`", op.symbol()),
        Tok::Minus => "`-`".into(),
        Tok::End => "the end of the rule".into(),
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, RuleError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let ident_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text = &src[start..i];
            match text.parse::<f64>() {
                Ok(v) => Tok::Num(v),
                Err(_) => return Err(RuleError::new(start, format!("`{text}` is not a number"))),
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && ident_char(b[i]) {
                i += 1;
            }
            Tok::Ident(src[start..i].to_owned())
        } else if c == b'$' {
            i += 1;
            while i < b.len() && ident_char(b[i]) {
                i += 1;
            }
            if i == start + 1 {
                return Err(RuleError::new(start, "`$` must be followed by a parameter name, e.g. `$fast`"));
            }
            Tok::Param(src[start + 1..i].to_owned())
        } else if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += 1;
            }
            if i == b.len() {
                return Err(RuleError::new(start, "unterminated string"));
            }
            i += 1;
            Tok::Str(src[start + 1..i - 1].to_owned())
        } else {
            let two = b.get(i + 1).copied();
            let (tok, len) = match (c, two) {
                (b'<', Some(b'=')) => (Tok::Op(BinOp::Le), 2),
                (b'>', Some(b'=')) => (Tok::Op(BinOp::Ge), 2),
                (b'=', Some(b'=')) => (Tok::Op(BinOp::Eq), 2),
                (b'!', Some(b'=')) => (Tok::Op(BinOp::Ne), 2),
                (b'<', _) => (Tok::Op(BinOp::Lt), 1),
                (b'>', _) => (Tok::Op(BinOp::Gt), 1),
                (b'+', _) => (Tok::Op(BinOp::Add), 1),
                (b'-', _) => (Tok::Minus, 1),
                (b'*', _) => (Tok::Op(BinOp::Mul), 1),
                (b'/', _) => (Tok::Op(BinOp::Div), 1),
                (b'(', _) => (Tok::LParen, 1),
                (b')', _) => (Tok::RParen, 1),
                (b',', _) => (Tok::Comma, 1),
                (b'.', _) => (Tok::Dot, 1),
                (b'=', _) => return Err(RuleError::new(start, "`=` is not an operator; compare with `==`")),
                (b'&', _) => return Err(RuleError::new(start, "use `and` to combine conditions")),
                (b'|', _) => return Err(RuleError::new(start, "use `or` to combine conditions")),
                (b'!', _) => return Err(RuleError::new(start, "use `not` to negate a condition")),
                _ => {
                    let ch = src[start..].chars().next().unwrap_or('?');
                    return Err(RuleError::new(start, format!("unexpected character `{ch}`")));
                }
            };
            i += len;
            tok
        };
        out.push((tok, start));
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    /// Nesting depth (parentheses, arguments, `not`, unary `-`), bounded so
    /// that hostile input cannot overflow the stack.
    depth: usize,
}

/// Deepest nesting a rule may have.
const MAX_DEPTH: usize = 64;

/// Longest rule, in bytes.
pub const MAX_LEN: usize = 4096;

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }
    fn at(&self) -> usize {
        self.toks[self.i].1
    }
    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == w)
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<usize, RuleError> {
        if *self.peek() == want {
            Ok(self.bump().1)
        } else {
            Err(RuleError::new(self.at(), format!("expected {what}, found {}", describe(self.peek()))))
        }
    }

    fn enter(&mut self) -> Result<(), RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(RuleError::new(self.at(), format!("the rule nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        self.enter()?;
        let r = self.or_inner();
        self.depth -= 1;
        r
    }

    fn or_inner(&mut self) -> Result<Expr, RuleError> {
        let mut l = self.and()?;
        while self.is_word("or") {
            self.bump();
            let r = self.and()?;
            l = Expr { at: l.at, kind: ExprKind::Bin(BinOp::Or, Box::new(l), Box::new(r)) };
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let mut l = self.not()?;
        while self.is_word("and") {
            self.bump();
            let r = self.not()?;
            l = Expr { at: l.at, kind: ExprKind::Bin(BinOp::And, Box::new(l), Box::new(r)) };
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, RuleError> {
        if self.is_word("not") {
            let at = self.bump().1;
            self.enter()?;
            let e = self.not();
            self.depth -= 1;
            return Ok(Expr { at, kind: ExprKind::Not(Box::new(e?)) });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, RuleError> {
        let l = self.add()?;
        if let Tok::Op(op) = *self.peek()
            && op.is_comparison()
        {
            self.bump();
            let r = self.add()?;
            if let Tok::Op(op2) = *self.peek()
                && op2.is_comparison()
            {
                return Err(RuleError::new(
                    self.at(),
                    format!("comparisons do not chain: write `a {} b and b {} c`", op.symbol(), op2.symbol()),
                ));
            }
            return Ok(Expr { at: l.at, kind: ExprKind::Bin(op, Box::new(l), Box::new(r)) });
        }
        Ok(l)
    }

    fn add(&mut self) -> Result<Expr, RuleError> {
        let mut l = self.mul()?;
        loop {
            let op = match self.peek() {
                Tok::Op(BinOp::Add) => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(l),
            };
            self.bump();
            let r = self.mul()?;
            l = Expr { at: l.at, kind: ExprKind::Bin(op, Box::new(l), Box::new(r)) };
        }
    }

    fn mul(&mut self) -> Result<Expr, RuleError> {
        let mut l = self.unary()?;
        while let Tok::Op(op @ (BinOp::Mul | BinOp::Div)) = *self.peek() {
            self.bump();
            let r = self.unary()?;
            l = Expr { at: l.at, kind: ExprKind::Bin(op, Box::new(l), Box::new(r)) };
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Expr, RuleError> {
        if *self.peek() == Tok::Minus {
            let at = self.bump().1;
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            let e = e?;
            // A literal's sign is part of the number.
            if let ExprKind::Num(v) = e.kind {
                return Ok(Expr { at, kind: ExprKind::Num(-v) });
            }
            return Ok(Expr { at, kind: ExprKind::Neg(Box::new(e)) });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, RuleError> {
        let mut e = self.primary()?;
        if *self.peek() == Tok::Dot {
            let dot = self.bump().1;
            let (name_tok, at) = self.bump();
            let Tok::Ident(name) = name_tok else {
                return Err(RuleError::new(
                    at,
                    format!("expected an output name after `.`, found {}", describe(&name_tok)),
                ));
            };
            match &mut e.kind {
                ExprKind::Call { output: out @ None, .. } => *out = Some((name, at)),
                _ => {
                    return Err(RuleError::new(
                        dot,
                        "only an indicator call has outputs (`macd(close, 12, 26, 9).signal`)",
                    ));
                }
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, RuleError> {
        let (tok, at) = self.bump();
        let kind = match tok {
            Tok::Num(v) => ExprKind::Num(v),
            Tok::Param(p) => ExprKind::Param(p),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::LParen => {
                let e = self.or()?;
                self.expect(Tok::RParen, "`)`")?;
                return Ok(Expr { at, kind: e.kind });
            }
            Tok::Ident(name) => {
                if *self.peek() == Tok::LParen {
                    self.bump();
                    let mut args = Vec::new();
                    if *self.peek() != Tok::RParen {
                        loop {
                            args.push(self.or()?);
                            if *self.peek() == Tok::Comma {
                                self.bump();
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(Tok::RParen, "`,` or `)`")?;
                    ExprKind::Call { name, args, output: None }
                } else if let Some((_, p)) = Price::ALL.iter().find(|(n, _)| *n == name) {
                    ExprKind::Price(*p)
                } else if matches!(name.as_str(), "and" | "or" | "not") {
                    return Err(RuleError::new(at, format!("expected a value before `{name}`")));
                } else {
                    return Err(super::compile::unknown_name(at, &name));
                }
            }
            other => return Err(RuleError::new(at, format!("expected a value, found {}", describe(&other)))),
        };
        Ok(Expr { at, kind })
    }
}

/// Parses one rule.
pub fn parse(src: &str) -> Result<Expr, RuleError> {
    if src.len() > MAX_LEN {
        return Err(RuleError::new(MAX_LEN, format!("the rule is longer than {MAX_LEN} bytes")));
    }
    let mut p = Parser { toks: lex(src)?, i: 0, depth: 0 };
    if *p.peek() == Tok::End {
        return Err(RuleError::new(0, "empty rule"));
    }
    let e = p.or()?;
    if *p.peek() != Tok::End {
        return Err(RuleError::new(
            p.at(),
            format!("expected an operator or the end of the rule, found {}", describe(p.peek())),
        ));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree as fully parenthesised text.
    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Num(v) => format!("{v}"),
            ExprKind::Param(p) => format!("${p}"),
            ExprKind::Price(p) => p.name().into(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Call { name, args, output } => {
                let a: Vec<String> = args.iter().map(show).collect();
                let o = output.as_ref().map(|(o, _)| format!(".{o}")).unwrap_or_default();
                format!("{name}({}){o}", a.join(", "))
            }
            ExprKind::Neg(x) => format!("(-{})", show(x)),
            ExprKind::Not(x) => format!("(not {})", show(x)),
            ExprKind::Bin(op, l, r) => format!("({} {} {})", show(l), op.symbol(), show(r)),
        }
    }

    fn p(s: &str) -> String {
        show(&parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}")))
    }

    fn e(s: &str) -> (usize, String) {
        let e = parse(s).expect_err(s);
        (e.offset, e.message)
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(p("1 + 2 * 3 - 4 / 2"), "((1 + (2 * 3)) - (4 / 2))");
        assert_eq!(p("8 - 4 - 2"), "((8 - 4) - 2)");
        assert_eq!(p("-close * 2"), "((-close) * 2)");
        assert_eq!(p("-2 * 3"), "(-2 * 3)");
        assert_eq!(
            p("close > open + 1 and not volume < 5 or high == low"),
            "(((close > (open + 1)) and (not (volume < 5))) or (high == low))"
        );
        assert_eq!(p("a(1) or b(2) and c(3)"), "(a(1) or (b(2) and c(3)))");
        assert_eq!(p("not not close > 1"), "(not (not (close > 1)))");
        assert_eq!(p("(close + 1) * 2 != 3"), "(((close + 1) * 2) != 3)");
        assert_eq!(p("macd(close, $f, 26, 9).signal >= .5e1"), "(macd(close, $f, 26, 9).signal >= 5)");
        assert_eq!(p("col(\"my sig\") <= 1e-3"), "(col(\"my sig\") <= 0.001)");
        assert_eq!(p("adx()"), "adx()");
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(e(""), (0, "empty rule".into()));
        assert_eq!(e("close >"), (7, "expected a value, found the end of the rule".into()));
        assert_eq!(
            e("close > 1 2"),
            (10, "expected an operator or the end of the rule, found number 2".into())
        );
        assert_eq!(e("1 < close < 2"), (10, "comparisons do not chain: write `a < b and b < c`".into()));
        assert_eq!(e("close = 1"), (6, "`=` is not an operator; compare with `==`".into()));
        assert_eq!(e("close > 1 && open > 1"), (10, "use `and` to combine conditions".into()));
        assert_eq!(e("sma(close, 10"), (13, "expected `,` or `)`, found the end of the rule".into()));
        assert_eq!(
            e("close.upper"),
            (5, "only an indicator call has outputs (`macd(close, 12, 26, 9).signal`)".into())
        );
        assert_eq!(e("col(\"x) > 1"), (4, "unterminated string".into()));
        assert_eq!(e("$ > 1"), (0, "`$` must be followed by a parameter name, e.g. `$fast`".into()));
        assert_eq!(e("close > 1 and and"), (14, "expected a value before `and`".into()));
        assert_eq!(e("clse > 1").0, 0);
        assert!(e("clse > 1").1.contains("did you mean `close`"), "{:?}", e("clse > 1"));
        assert_eq!(e("close # 1"), (6, "unexpected character `#`".into()));
        // Hostile input: deep nesting and long rules are refused, not a stack overflow.
        let deep = format!("{}close{} > 1", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(e(&deep[..4000]).1, "the rule nests deeper than 64 levels");
        assert_eq!(e(&"not ".repeat(1000)).1, "the rule nests deeper than 64 levels");
        assert_eq!(e(&"-".repeat(1000)).1, "the rule nests deeper than 64 levels");
        assert_eq!(e(&"sma(".repeat(900)).1, "the rule nests deeper than 64 levels");
        assert_eq!(e(&deep), (4096, "the rule is longer than 4096 bytes".into()));
        assert!(parse(&format!("{}close{} > 1", "(".repeat(60), ")".repeat(60))).is_ok());
    }
}
