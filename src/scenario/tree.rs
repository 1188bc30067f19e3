//! Helpers over the spanned TOML tree (`toml::de::DeTable`): walking it by key path and reading
//! typed values, recording a [`Problem`] for everything that does not fit instead of stopping.
//!
//! This file owns:
//! - [`Ctx`], the problem collector (turns byte spans into lines and columns, sorts by position);
//! - [`Field`] (one value with its key path) and [`Table`] (a table whose unknown keys have
//!   already been reported);
//! - the typed readers ([`Kind`]): [`Number`] (finite, within an [`Interval`]), [`Money`]
//!   (integer, float or decimal string → [`Decimal`]), [`Count`] (integers), [`Text`] and
//!   [`Flag`]. There is exactly one reader per kind; every key of the format goes through one.
//!
//! Readers return `None` after recording a problem; callers keep going so that every problem in
//! the file is found in one pass.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use rust_decimal::Decimal;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{LineIndex, Problem};

/// A value of the spanned tree.
pub(crate) type Node<'i> = Spanned<DeValue<'i>>;

/// Collects the problems of one file.
pub(crate) struct Ctx<'s> {
    text: &'s str,
    /// Each problem with the byte offset it points at (`None`: no position), its key path and
    /// message; lines and columns are worked out once, at the end.
    found: Vec<(Option<usize>, String, String)>,
}

impl<'s> Ctx<'s> {
    /// A collector for problems in `text`.
    pub(crate) fn new(text: &'s str) -> Self {
        Ctx {
            text,
            found: Vec::new(),
        }
    }

    /// Records that `key` is wrong at byte span `span`.
    pub(crate) fn report(&mut self, span: &Range<usize>, key: &str, message: impl Into<String>) {
        self.found
            .push((Some(span.start), key.to_owned(), message.into()));
    }

    /// Records a problem that has no position (placed after all positioned ones).
    pub(crate) fn report_unplaced(&mut self, key: &str, message: impl Into<String>) {
        self.found.push((None, key.to_owned(), message.into()));
    }

    /// Whether nothing has been reported so far.
    pub(crate) fn is_clean(&self) -> bool {
        self.found.is_empty()
    }

    /// The problems in file order (problems at the same place keep the order they were found).
    pub(crate) fn into_problems(mut self) -> Vec<Problem> {
        self.found
            .sort_by_key(|(offset, _, _)| offset.unwrap_or(usize::MAX));
        let index = LineIndex::new(self.text);
        self.found
            .into_iter()
            .map(|(offset, key, message)| {
                let place = offset.map(|offset| index.locate(offset));
                Problem {
                    line: place.map(|(line, _)| line),
                    column: place.map(|(_, column)| column),
                    key,
                    message,
                }
            })
            .collect()
    }
}

/// `parent.key`, quoting `key` when it is not a bare TOML key.
fn child_path(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare { key.to_owned() } else { format!("{key:?}") };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// How a value's type is named in messages ("got a string").
fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// One value of the file together with its key path.
pub(crate) struct Field<'a, 'i> {
    pub(crate) path: String,
    pub(crate) node: &'a Node<'i>,
}

impl<'a, 'i> Field<'a, 'i> {
    /// The byte span of the value.
    pub(crate) fn span(&self) -> Range<usize> {
        self.node.span()
    }

    /// Records `message` against this value.
    pub(crate) fn report(&self, ctx: &mut Ctx<'_>, message: impl Into<String>) {
        ctx.report(&self.span(), &self.path, message);
    }

    /// The outcome of a rule about this value: the value, or `None` after reporting the rule's
    /// message against this value.
    pub(crate) fn check<T>(&self, ctx: &mut Ctx<'_>, outcome: Result<T, String>) -> Option<T> {
        outcome.map_err(|message| self.report(ctx, message)).ok()
    }

    /// Records that this value has the wrong type.
    pub(crate) fn wrong_type(&self, ctx: &mut Ctx<'_>, expected: &str) {
        let got = match self.node.get_ref() {
            DeValue::String(s) if s.chars().count() <= 40 => format!("a string ({s:?})"),
            other => type_name(other).to_owned(),
        };
        self.report(ctx, format!("must be {expected}, got {got}"));
    }

    /// Reads the value as `kind`.
    pub(crate) fn read<K: Kind>(&self, ctx: &mut Ctx<'_>, kind: &K) -> Option<K::Out> {
        kind.read(ctx, self)
    }

    /// The value as a table whose keys are all in `allowed` (unknown keys are reported, and the
    /// table is still returned so that its known keys get checked too).
    pub(crate) fn table(&self, ctx: &mut Ctx<'_>, allowed: &'static [&'static str]) -> Option<Table<'a, 'i>> {
        let DeValue::Table(map) = self.node.get_ref() else {
            self.wrong_type(ctx, "a table");
            return None;
        };
        let table = Table {
            path: self.path.clone(),
            span: self.span(),
            map,
        };
        table.report_unknown_keys(ctx, allowed);
        Some(table)
    }

    /// The value as an array; its items are named `path[i]`. `expected` describes the array in
    /// the message when the value is something else (e.g. `"an array of tables ([[firms]])"`).
    pub(crate) fn array(&self, ctx: &mut Ctx<'_>, expected: &str) -> Option<Vec<Field<'a, 'i>>> {
        let DeValue::Array(items) = self.node.get_ref() else {
            self.wrong_type(ctx, expected);
            return None;
        };
        Some(
            items
                .iter()
                .enumerate()
                .map(|(i, node)| Field {
                    path: format!("{}[{i}]", self.path),
                    node,
                })
                .collect(),
        )
    }
}

/// A table of the file; its unknown keys have been reported when it was opened.
pub(crate) struct Table<'a, 'i> {
    path: String,
    span: Range<usize>,
    map: &'a DeTable<'i>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// The document's root table.
    pub(crate) fn root(
        ctx: &mut Ctx<'_>,
        root: &'a Spanned<DeTable<'i>>,
        allowed: &'static [&'static str],
    ) -> Self {
        let table = Table {
            path: String::new(),
            span: root.span(),
            map: root.get_ref(),
        };
        table.report_unknown_keys(ctx, allowed);
        table
    }

    /// The span of the table (its `[header]`, or the inline table).
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The key path of `key` in this table.
    pub(crate) fn path_of(&self, key: &str) -> String {
        child_path(&self.path, key)
    }

    fn report_unknown_keys(&self, ctx: &mut Ctx<'_>, allowed: &'static [&'static str]) {
        for (key, _) in self.map.iter() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                ctx.report(
                    &key.span(),
                    &self.path_of(key.get_ref()),
                    format!("unknown key (allowed: {})", allowed.join(", ")),
                );
            }
        }
    }

    /// The value of `key`, if present.
    pub(crate) fn field(&self, key: &str) -> Option<Field<'a, 'i>> {
        self.map.get(key).map(|node| Field {
            path: self.path_of(key),
            node,
        })
    }

    /// Whether `key` is present.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Records that `key` is missing, pointing at this table; `hint` (if not empty) says what
    /// would be accepted.
    pub(crate) fn missing(&self, ctx: &mut Ctx<'_>, key: &str, hint: &str) {
        let message = if hint.is_empty() {
            "missing required key".to_owned()
        } else {
            format!("missing required key ({hint})")
        };
        ctx.report(&self.span, &self.path_of(key), message);
    }

    /// The value of a required `key` (its absence is reported).
    pub(crate) fn required(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<Field<'a, 'i>> {
        let field = self.field(key);
        if field.is_none() {
            self.missing(ctx, key, "");
        }
        field
    }

    /// A required `key` read as `kind`.
    pub(crate) fn req<K: Kind>(&self, ctx: &mut Ctx<'_>, key: &str, kind: &K) -> Option<K::Out> {
        self.required(ctx, key)?.read(ctx, kind)
    }

    /// An optional `key` read as `kind`: `Some(None)` when absent, `None` when present but
    /// wrong (reported).
    pub(crate) fn opt<K: Kind>(&self, ctx: &mut Ctx<'_>, key: &str, kind: &K) -> Option<Option<K::Out>> {
        match self.field(key) {
            None => Some(None),
            Some(field) => field.read(ctx, kind).map(Some),
        }
    }

    /// An optional `key` read as `kind`, `default` when absent.
    pub(crate) fn or<K: Kind>(
        &self,
        ctx: &mut Ctx<'_>,
        key: &str,
        kind: &K,
        default: K::Out,
    ) -> Option<K::Out> {
        self.opt(ctx, key, kind).map(|v| v.unwrap_or(default))
    }
}

/// A typed reader of one value.
pub(crate) trait Kind {
    type Out;
    /// Reads `field`, recording a problem and returning `None` if it does not fit.
    fn read(&self, ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<Self::Out>;
}

/// An interval of allowed numbers, printed the way messages show it (`in [0, 1)`, `>= 0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    lo: f64,
    lo_closed: bool,
    /// `f64::INFINITY` for no upper bound.
    hi: f64,
    hi_closed: bool,
}

impl Interval {
    /// `[lo, hi]`.
    pub(crate) const fn closed(lo: f64, hi: f64) -> Self {
        Interval {
            lo,
            lo_closed: true,
            hi,
            hi_closed: true,
        }
    }

    /// `[lo, hi)`.
    pub(crate) const fn closed_open(lo: f64, hi: f64) -> Self {
        Interval {
            lo,
            lo_closed: true,
            hi,
            hi_closed: false,
        }
    }

    /// `[lo, inf)`.
    pub(crate) const fn at_least(lo: f64) -> Self {
        Interval::closed_open(lo, f64::INFINITY)
    }

    /// `(lo, inf)`.
    pub(crate) const fn above(lo: f64) -> Self {
        Interval {
            lo,
            lo_closed: false,
            hi: f64::INFINITY,
            hi_closed: false,
        }
    }

    /// Whether `x` lies in the interval.
    pub(crate) fn contains(&self, x: f64) -> bool {
        let above_lo = if self.lo_closed { x >= self.lo } else { x > self.lo };
        let below_hi = if self.hi_closed { x <= self.hi } else { x < self.hi };
        above_lo && below_hi
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hi.is_infinite() {
            let op = if self.lo_closed { ">=" } else { ">" };
            write!(f, "{op} {}", self.lo)
        } else {
            let open = if self.lo_closed { '[' } else { '(' };
            let close = if self.hi_closed { ']' } else { ')' };
            write!(f, "in {open}{}, {}{close}", self.lo, self.hi)
        }
    }
}

/// A TOML integer as `i64` (`None` if it does not fit, which TOML forbids anyway).
fn integer(value: &toml::de::DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(value.as_str(), value.radix()).ok()
}

/// A rate, share, probability, hazard, volatility or correlation: an integer or a float,
/// finite, within an interval.
pub(crate) struct Number(pub(crate) Interval);

impl Kind for Number {
    type Out = f64;

    fn read(&self, ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<f64> {
        let x = match field.node.get_ref() {
            DeValue::Integer(i) => match integer(i) {
                // Beyond 2^53 the conversion rounds, which no rule here can notice.
                Some(v) => v as f64,
                None => {
                    field.report(ctx, format!("integer {i} does not fit in 64 bits"));
                    return None;
                }
            },
            DeValue::Float(x) => match x.as_str().parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => {
                    field.report(ctx, format!("must be a finite number, got {}", x.as_str()));
                    return None;
                }
            },
            _ => {
                field.wrong_type(ctx, "a number");
                return None;
            }
        };
        if self.0.contains(x) {
            Some(x)
        } else {
            field.report(ctx, format!("must be {}, got {x}", self.0));
            None
        }
    }
}

/// A money amount: an integer, a float (taken by its shortest round-trip text, so `0.1` is
/// exactly 0.1) or a decimal string such as `"9500000.00"`. The result is normalised (no
/// trailing zeros), so all three spellings of an amount give the identical [`Decimal`].
pub(crate) enum Money {
    /// `> 0`.
    Positive,
    /// `>= 0`.
    NonNegative,
}

/// The largest money amount accepted (10^18), so that sums and products of amounts in the
/// engine and the cash-flow statement stay far inside the range of a [`Decimal`].
pub(crate) const MAX_MONEY: Decimal = Decimal::from_parts(0xA764_0000, 0x0DE0_B6B3, 0, false, 0);

impl Money {
    fn parse(field: &Field<'_, '_>) -> Result<Decimal, String> {
        match field.node.get_ref() {
            DeValue::Integer(i) => integer(i)
                .map(Decimal::from)
                .ok_or_else(|| format!("integer {i} does not fit in 64 bits")),
            DeValue::Float(x) => match x.as_str().parse::<f64>() {
                // The shortest text that reads back as `v`, so 0.1 is exactly 0.1.
                Ok(v) if v.is_finite() => Decimal::from_str_exact(&v.to_string()).map_err(|_| {
                    format!(
                        "{} cannot be held exactly as a money amount (at most 28 digits)",
                        x.as_str()
                    )
                }),
                _ => Err(format!("must be a finite number, got {}", x.as_str())),
            },
            DeValue::String(s) => Decimal::from_str_exact(s).map_err(|_| {
                format!("must be an amount such as 9500000, 9500000.0 or \"9500000.00\", got {s:?}")
            }),
            other => Err(format!(
                "must be an amount (a number or a decimal string), got {}",
                type_name(other)
            )),
        }
    }
}

impl Kind for Money {
    type Out = Decimal;

    fn read(&self, ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<Decimal> {
        let amount = match Money::parse(field) {
            Ok(amount) => amount.normalize(),
            Err(message) => {
                field.report(ctx, message);
                return None;
            }
        };
        let (fits, allowed) = match self {
            Money::Positive => (amount > Decimal::ZERO, "> 0"),
            Money::NonNegative => (amount >= Decimal::ZERO, ">= 0"),
        };
        if !fits {
            field.report(ctx, format!("must be {allowed}, got {amount}"));
            None
        } else if amount > MAX_MONEY {
            field.report(ctx, format!("must be at most {MAX_MONEY}, got {amount}"));
            None
        } else {
            Some(amount)
        }
    }
}

/// Integer types a [`Count`] can produce.
pub(crate) trait CountType: TryFrom<i64> {
    /// The largest value, as `i64` (saturated).
    const MAX: i64;
}

impl CountType for u32 {
    const MAX: i64 = u32::MAX as i64;
}

impl CountType for u64 {
    const MAX: i64 = i64::MAX;
}

/// A count (paths, periods, patents, seed): a TOML integer `>= min` that fits in `T`.
pub(crate) struct Count<T> {
    min: i64,
    _type: PhantomData<T>,
}

impl<T> Count<T> {
    /// Integers from `min` up to `T`'s maximum.
    pub(crate) const fn at_least(min: i64) -> Self {
        Count {
            min,
            _type: PhantomData,
        }
    }
}

impl<T: CountType> Kind for Count<T> {
    type Out = T;

    fn read(&self, ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<T> {
        let DeValue::Integer(i) = field.node.get_ref() else {
            field.wrong_type(ctx, "an integer");
            return None;
        };
        let allowed = match integer(i) {
            Some(v) if v < self.min => format!(">= {}", self.min),
            Some(v) => match T::try_from(v) {
                Ok(v) => return Some(v),
                Err(_) => format!("<= {}", T::MAX),
            },
            None => format!("<= {}", T::MAX),
        };
        field.report(ctx, format!("must be an integer {allowed}, got {i}"));
        None
    }
}

/// A non-empty string (names, ids, sectors, keywords).
pub(crate) struct Text;

impl Kind for Text {
    type Out = String;

    fn read(&self, ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<String> {
        match field.node.get_ref() {
            DeValue::String(s) if s.trim().is_empty() => {
                field.report(ctx, "must not be empty");
                None
            }
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                field.wrong_type(ctx, "a string");
                None
            }
        }
    }
}

/// A boolean.
pub(crate) struct Flag;

impl Kind for Flag {
    type Out = bool;

    fn read(&self, ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<bool> {
        match field.node.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                field.wrong_type(ctx, "true or false");
                None
            }
        }
    }
}

/// An amount of memory: a string such as `"512MiB"` or `"2GB"` ([`crate::size::parse`]) or an
/// integer number of bytes, at least 1.
pub(crate) struct MemorySize;

impl Kind for MemorySize {
    type Out = u64;

    fn read(&self, ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<u64> {
        match field.node.get_ref() {
            DeValue::String(s) => field.check(ctx, crate::size::parse(s)),
            DeValue::Integer(_) => Count::<u64>::at_least(1).read(ctx, field),
            _ => {
                field.wrong_type(
                    ctx,
                    "a size such as \"512MiB\" or \"2GB\", or an integer number of bytes",
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_print_as_in_messages() {
        assert_eq!(Interval::closed_open(0.0, 1.0).to_string(), "in [0, 1)");
        assert_eq!(Interval::closed(-1.0, 1.0).to_string(), "in [-1, 1]");
        assert_eq!(Interval::at_least(0.0).to_string(), ">= 0");
        assert_eq!(Interval::above(0.0).to_string(), "> 0");
        assert!(Interval::closed_open(0.0, 1.0).contains(0.0));
        assert!(!Interval::closed_open(0.0, 1.0).contains(1.0));
        assert!(!Interval::above(0.0).contains(0.0));
    }

    #[test]
    fn key_paths_quote_keys_that_are_not_bare() {
        assert_eq!(child_path("", "deal"), "deal");
        assert_eq!(child_path("deal", "term_periods"), "deal.term_periods");
        assert_eq!(child_path("deal", "a b"), "deal.\"a b\"");
        assert_eq!(child_path("deal", ""), "deal.\"\"");
    }

    #[test]
    fn money_ceiling_is_ten_to_the_eighteen() {
        assert_eq!(MAX_MONEY, Decimal::from(1_000_000_000_000_000_000_i64));
    }
}
