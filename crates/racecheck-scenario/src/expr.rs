//! Integer expressions: `n + 1`, `active <= 3`, `(a - b) % 2 == 0 && !done`.
//!
//! Values are `i64`; comparisons and logic give 1 (true) or 0 (false), and
//! any non-zero value is true. Arithmetic is checked: overflow and division
//! by zero fail the task that evaluates them, with the expression's
//! location, rather than wrapping silently.

use crate::error::{Located, Pos};
use std::fmt;

/// What an identifier in an expression names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Var {
    /// A task-local, by slot.
    Local(usize),
    /// A shared variable, by index (in final-state and `while` predicates).
    Shared(usize),
    /// The built-in local `replica`: which copy of the task this is, from 0.
    Replica,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Negate,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    And,
    Or,
}

/// A parsed expression with its identifiers resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    Int(i64),
    Var(Var),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

/// The most tokens an expression may have: a limit on the parser's and
/// the evaluator's recursion.
const TOKENS_MAX: usize = 256;

impl Expr {
    /// Evaluates the expression; `lookup` reads a variable. Errors are
    /// sentences for a panic message.
    pub(crate) fn eval(
        &self,
        lookup: &mut dyn FnMut(Var) -> Result<i64, String>,
    ) -> Result<i64, String> {
        match self {
            Expr::Int(value) => Ok(*value),
            Expr::Var(var) => lookup(*var),
            Expr::Unary(op, operand) => {
                let value = operand.eval(lookup)?;
                match op {
                    UnaryOp::Negate => value
                        .checked_neg()
                        .ok_or_else(|| format!("overflow negating {value}")),
                    UnaryOp::Not => Ok(i64::from(value == 0)),
                }
            }
            Expr::Binary(op, left, right) => {
                let left = left.eval(lookup)?;
                // `&&` and `||` short-circuit, as in Python and Rust.
                match op {
                    BinaryOp::And if left == 0 => return Ok(0),
                    BinaryOp::Or if left != 0 => return Ok(1),
                    _ => {}
                }
                let right = right.eval(lookup)?;
                let overflow = || format!("overflow in {left} {} {right}", op.symbol());
                match op {
                    BinaryOp::Add => left.checked_add(right).ok_or_else(overflow),
                    BinaryOp::Subtract => left.checked_sub(right).ok_or_else(overflow),
                    BinaryOp::Multiply => left.checked_mul(right).ok_or_else(overflow),
                    BinaryOp::Divide | BinaryOp::Remainder if right == 0 => {
                        Err(format!("division by zero in {left} {} 0", op.symbol()))
                    }
                    BinaryOp::Divide => left.checked_div(right).ok_or_else(overflow),
                    BinaryOp::Remainder => left.checked_rem(right).ok_or_else(overflow),
                    BinaryOp::Equal => Ok(i64::from(left == right)),
                    BinaryOp::NotEqual => Ok(i64::from(left != right)),
                    BinaryOp::Less => Ok(i64::from(left < right)),
                    BinaryOp::LessEqual => Ok(i64::from(left <= right)),
                    BinaryOp::Greater => Ok(i64::from(left > right)),
                    BinaryOp::GreaterEqual => Ok(i64::from(left >= right)),
                    BinaryOp::And | BinaryOp::Or => Ok(i64::from(right != 0)),
                }
            }
        }
    }

    /// The variables the expression reads, in order, each once.
    pub(crate) fn vars(&self, out: &mut Vec<Var>) {
        match self {
            Expr::Int(_) => {}
            Expr::Var(var) => {
                if !out.contains(var) {
                    out.push(*var);
                }
            }
            Expr::Unary(_, operand) => operand.vars(out),
            Expr::Binary(_, left, right) => {
                left.vars(out);
                right.vars(out);
            }
        }
    }
}

impl BinaryOp {
    fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Remainder => "%",
            BinaryOp::Equal => "==",
            BinaryOp::NotEqual => "!=",
            BinaryOp::Less => "<",
            BinaryOp::LessEqual => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterEqual => ">=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }

    /// Binding strength: higher binds tighter.
    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Equal
            | BinaryOp::NotEqual
            | BinaryOp::Less
            | BinaryOp::LessEqual
            | BinaryOp::Greater
            | BinaryOp::GreaterEqual => 3,
            BinaryOp::Add | BinaryOp::Subtract => 4,
            BinaryOp::Multiply | BinaryOp::Divide | BinaryOp::Remainder => 5,
        }
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token<'a> {
    Int(&'a str),
    Ident(&'a str),
    Binary(BinaryOp),
    Not,
    Minus,
    Open,
    Close,
}

/// A token and the character offset where it starts.
type Spanned<'a> = (Token<'a>, usize);

fn lex(text: &str, origin: Pos) -> Result<Vec<Spanned<'_>>, Located> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let (byte, c) = chars[index];
        let at = origin.right(index);
        if c.is_whitespace() {
            index += 1;
            continue;
        }
        if tokens.len() >= TOKENS_MAX {
            return Err(Located::new(
                at,
                format!("expression too long (at most {TOKENS_MAX} tokens)"),
            ));
        }
        let start = index;
        let take_while = |index: &mut usize, keep: fn(char) -> bool| {
            while *index < chars.len() && keep(chars[*index].1) {
                *index += 1;
            }
            chars.get(*index).map_or(text.len(), |&(byte, _)| byte)
        };
        if c.is_ascii_digit() {
            let end = take_while(&mut index, |c| c.is_ascii_alphanumeric() || c == '_');
            tokens.push((Token::Int(&text[byte..end]), start));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let end = take_while(&mut index, |c| c.is_alphanumeric() || c == '_');
            let word = &text[byte..end];
            let token = match word {
                "and" => Token::Binary(BinaryOp::And),
                "or" => Token::Binary(BinaryOp::Or),
                "not" => Token::Not,
                _ => Token::Ident(word),
            };
            tokens.push((token, start));
            continue;
        }
        let next = chars.get(index + 1).map(|&(_, c)| c);
        let (token, width) = symbol(c, next, at)?;
        tokens.push((token, start));
        index += width;
    }
    Ok(tokens)
}

/// The operator or parenthesis that starts with `c` (followed by `next`)
/// and how many characters it takes.
fn symbol(c: char, next: Option<char>, at: Pos) -> Result<(Token<'static>, usize), Located> {
    Ok(match (c, next) {
        ('=', Some('=')) => (Token::Binary(BinaryOp::Equal), 2),
        ('!', Some('=')) => (Token::Binary(BinaryOp::NotEqual), 2),
        ('<', Some('=')) => (Token::Binary(BinaryOp::LessEqual), 2),
        ('>', Some('=')) => (Token::Binary(BinaryOp::GreaterEqual), 2),
        ('&', Some('&')) => (Token::Binary(BinaryOp::And), 2),
        ('|', Some('|')) => (Token::Binary(BinaryOp::Or), 2),
        ('<', _) => (Token::Binary(BinaryOp::Less), 1),
        ('>', _) => (Token::Binary(BinaryOp::Greater), 1),
        ('+', _) => (Token::Binary(BinaryOp::Add), 1),
        ('-', _) => (Token::Minus, 1),
        ('*', _) => (Token::Binary(BinaryOp::Multiply), 1),
        ('/', _) => (Token::Binary(BinaryOp::Divide), 1),
        ('%', _) => (Token::Binary(BinaryOp::Remainder), 1),
        ('!', _) => (Token::Not, 1),
        ('(', _) => (Token::Open, 1),
        (')', _) => (Token::Close, 1),
        ('=', _) => {
            return Err(Located::new(
                at,
                "unexpected `=` in an expression (use `==` to compare)",
            ))
        }
        _ => {
            return Err(Located::new(
                at,
                format!(
                    "unexpected character `{c}` in an expression \
                     (expected integers, names, + - * / %, comparisons, && || !, parentheses)"
                ),
            ))
        }
    })
}

/// Parses `text` (which starts at `origin` in the file) and resolves its
/// names with `resolve`.
pub(crate) fn parse(
    text: &str,
    origin: Pos,
    resolve: &mut dyn FnMut(&str, Pos) -> Result<Var, Located>,
) -> Result<Expr, Located> {
    let tokens = lex(text, origin)?;
    let end = text.chars().count();
    let mut parser = Parser {
        tokens,
        position: 0,
        origin,
        end,
        resolve,
    };
    if parser.tokens.is_empty() {
        return Err(Located::new(
            origin,
            "expected an expression, found nothing",
        ));
    }
    let expr = parser.expression(0)?;
    if let Some((token, at)) = parser.tokens.get(parser.position) {
        let message = match token {
            Token::Close => "unmatched `)`".to_string(),
            _ => format!(
                "expected an operator or the end of the expression, found {}",
                describe(token)
            ),
        };
        return Err(Located::new(origin.right(*at), message));
    }
    Ok(expr)
}

fn describe(token: &Token<'_>) -> String {
    match token {
        Token::Int(text) => format!("the number `{text}`"),
        Token::Ident(name) => format!("the name `{name}`"),
        Token::Binary(op) => format!("`{op}`"),
        Token::Not => "`!`".to_string(),
        Token::Minus => "`-`".to_string(),
        Token::Open => "`(`".to_string(),
        Token::Close => "`)`".to_string(),
    }
}

struct Parser<'t, 'r> {
    tokens: Vec<Spanned<'t>>,
    position: usize,
    origin: Pos,
    end: usize,
    resolve: &'r mut dyn FnMut(&str, Pos) -> Result<Var, Located>,
}

impl Parser<'_, '_> {
    fn peek_binary(&self) -> Option<BinaryOp> {
        match self.tokens.get(self.position) {
            Some((Token::Binary(op), _)) => Some(*op),
            Some((Token::Minus, _)) => Some(BinaryOp::Subtract),
            _ => None,
        }
    }

    /// Precedence climbing: operators binding tighter than `floor`.
    /// Comparisons do not chain (`a < b < c` is an error, as it means
    /// something else in Python).
    fn expression(&mut self, floor: u8) -> Result<Expr, Located> {
        let mut left = self.unary()?;
        while let Some(op) = self.peek_binary() {
            let precedence = op.precedence();
            if precedence <= floor {
                break;
            }
            self.position += 1;
            let right = self.expression(precedence)?;
            if precedence == 3 {
                if let Some(next) = self.peek_binary().filter(|next| next.precedence() == 3) {
                    let at = self.tokens[self.position].1;
                    return Err(Located::new(
                        self.origin.right(at),
                        format!("comparisons do not chain: parenthesise, or use && (`{next}` after `{op}`)"),
                    ));
                }
            }
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, Located> {
        let Some((token, at)) = self.tokens.get(self.position).cloned() else {
            return Err(Located::new(
                self.origin.right(self.end),
                "expected a number, a name or `(` at the end of the expression",
            ));
        };
        let pos = self.origin.right(at);
        self.position += 1;
        match token {
            Token::Int(text) => text.parse::<i64>().map(Expr::Int).map_err(|_| {
                Located::new(pos, format!("`{text}` is not an integer (64-bit, decimal)"))
            }),
            Token::Ident(name) => (self.resolve)(name, pos).map(Expr::Var),
            Token::Minus => Ok(Expr::Unary(UnaryOp::Negate, Box::new(self.unary()?))),
            Token::Not => Ok(Expr::Unary(UnaryOp::Not, Box::new(self.unary()?))),
            Token::Open => {
                let inner = self.expression(0)?;
                match self.tokens.get(self.position) {
                    Some((Token::Close, _)) => {
                        self.position += 1;
                        Ok(inner)
                    }
                    Some((token, at)) => Err(Located::new(
                        self.origin.right(*at),
                        format!(
                            "expected `)` to close the `(` at column {}, found {}",
                            pos.column,
                            describe(token)
                        ),
                    )),
                    None => Err(Located::new(
                        self.origin.right(self.end),
                        format!("expected `)` to close the `(` at column {}", pos.column),
                    )),
                }
            }
            other => Err(Located::new(
                pos,
                format!(
                    "expected a number, a name or `(`, found {}",
                    describe(&other)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(name: &str, pos: Pos) -> Result<Var, Located> {
        match name {
            "a" => Ok(Var::Local(0)),
            "b" => Ok(Var::Local(1)),
            _ => Err(Located::new(pos, format!("undefined `{name}`"))),
        }
    }

    fn eval(text: &str) -> Result<i64, String> {
        let expr = parse(text, Pos { line: 1, column: 1 }, &mut names)
            .map_err(|e| format!("{}: {}", e.pos, e.message))?;
        expr.eval(&mut |var| match var {
            Var::Local(0) => Ok(7),
            Var::Local(1) => Ok(2),
            _ => Err("unknown".into()),
        })
    }

    #[test]
    fn evaluates_with_precedence_and_logic() {
        let cases = [
            ("1 + 2 * 3", Ok(7)),
            ("(1 + 2) * 3", Ok(9)),
            ("a - b - 1", Ok(4)),
            ("a % b == 1 && !(b > a)", Ok(1)),
            ("a < b or b < a", Ok(1)),
            ("-a / b", Ok(-3)),
            ("not 0", Ok(1)),
            ("0 && 1 / 0", Ok(0)),
            ("a / 0", Err("division by zero in 7 / 0".to_string())),
            (
                "9223372036854775807 + 1",
                Err("overflow in 9223372036854775807 + 1".to_string()),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(eval(text), expected, "{text}");
        }
    }

    #[test]
    fn errors_name_the_column_inside_the_text() {
        let cases = [
            ("a + ", "1:5: expected a number, a name or `(` at the end of the expression"),
            ("a + c", "1:5: undefined `c`"),
            ("(a + b", "1:7: expected `)` to close the `(` at column 1"),
            ("a = b", "1:3: unexpected `=` in an expression (use `==` to compare)"),
            ("a < b < 3", "1:7: comparisons do not chain: parenthesise, or use && (`<` after `<`)"),
            ("a b", "1:3: expected an operator or the end of the expression, found the name `b`"),
            ("", "1:1: expected an expression, found nothing"),
            ("12x", "1:1: `12x` is not an integer (64-bit, decimal)"),
            ("a $ b", "1:3: unexpected character `$` in an expression (expected integers, names, + - * / %, comparisons, && || !, parentheses)"),
        ];
        for (text, expected) in cases {
            assert_eq!(eval(text), Err(expected.to_string()), "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = "(".repeat(10_000);
        assert!(eval(&deep).unwrap_err().contains("too long"));
    }
}
