//! The semantic rules of a scenario that involve more than one value: sector references and
//! the sector correlation matrix, unique ids, amortisation schedules, tier shares, the tranche
//! total, and the scenario name as a file label.
//!
//! Every function here is pure: it gets plain values and answers `Ok` or the message to show;
//! [`super::walk`] decides where in the file the message points.

use nalgebra::{DMatrix, SymmetricEigen};
use rust_decimal::Decimal;

/// The allowed values of `deal.periods_per_year`.
pub(crate) const PERIODS_PER_YEAR: [u32; 4] = [1, 2, 4, 12];

/// The most sectors a scenario may have (the loader builds the full matrix).
pub(crate) const MAX_SECTORS: usize = 1000;

/// Symmetry tolerance of the sector matrix (and of its unit diagonal).
const SYMMETRY_TOL: f64 = 1e-12;

/// The sector matrix's smallest eigenvalue may not be below `-PSD_TOL`.
const PSD_TOL: f64 = 1e-10;

/// Relative tolerance of an explicit amortisation schedule against its principal (1e-9).
fn amortisation_tol() -> Decimal {
    Decimal::new(1, 9)
}

/// Relative slack of the tranche total above the pool notional (1e-12).
fn tranche_slack() -> Decimal {
    Decimal::new(1, 12)
}

/// Tolerance of the sum of shares in a tier against 1.
const SHARES_TOL: f64 = 1e-9;

/// The scenario name becomes a folder and file label, so it may not walk out of a folder.
pub(crate) fn label(name: &str) -> Result<(), String> {
    let bad = name == "."
        || name.contains("..")
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control);
    if bad {
        Err(format!(
            "must not contain \"/\", \"\\\", \"..\" or control characters, nor be \".\" \
             (it names the report folder), got {name:?}"
        ))
    } else {
        Ok(())
    }
}

/// `deal.periods_per_year` is one of 1, 2, 4 or 12.
pub(crate) fn periods_per_year(m: u32) -> Result<(), String> {
    if PERIODS_PER_YEAR.contains(&m) {
        Ok(())
    } else {
        Err(format!("must be one of 1, 2, 4 or 12, got {m}"))
    }
}

/// The longest term accepted: 100 years of monthly periods.
pub(crate) const MAX_TERM_PERIODS: u32 = 1200;

/// `deal.term_periods` is at most [`MAX_TERM_PERIODS`] (schedules and thresholds are kept per
/// period and firm, so an absurd term would exhaust memory).
pub(crate) fn term_periods(t: u32) -> Result<(), String> {
    if t <= MAX_TERM_PERIODS {
        Ok(())
    } else {
        Err(format!(
            "must be at most {MAX_TERM_PERIODS} (100 years of monthly periods), got {t}"
        ))
    }
}

/// Pairs `(later, first)` of positions whose names repeat an earlier one.
pub(crate) fn duplicates<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<(usize, usize)> {
    let mut first = std::collections::HashMap::new();
    let mut repeats = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        if let Some(&j) = first.get(name) {
            repeats.push((i, j));
        } else {
            first.insert(name, i);
        }
    }
    repeats
}

/// The index of `name` in `known`, or the message naming what is allowed; `what` is e.g.
/// `"sector"`.
pub(crate) fn lookup(name: &str, known: &[String], what: &str) -> Result<usize, String> {
    known.iter().position(|k| k == name).ok_or_else(|| {
        const SHOWN: usize = 20;
        let mut list = known
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if known.len() > SHOWN {
            list.push_str(", ...");
        }
        format!("unknown {what} {name:?} (known: {list})")
    })
}

/// `x` to 6 significant decimals for messages (`-0.2`, not `-0.19999999999999996`); values
/// closer to zero keep their own digits.
fn rounded(x: f64) -> f64 {
    let r = (x * 1e6).round() / 1e6;
    if r == 0.0 { x } else { r }
}

/// The matrix with `c` off the diagonal and 1 on it, row-major.
pub(crate) fn common_matrix(c: f64, n: usize) -> Vec<f64> {
    (0..n * n).map(|k| if k / n == k % n { 1.0 } else { c }).collect()
}

/// A common correlation `c` across `n` sectors is positive semi-definite iff its smallest
/// eigenvalue, `min(1 - c, 1 + (n - 1) c)`, is not below the tolerance.
pub(crate) fn common_correlation(c: f64, n: usize) -> Result<(), String> {
    if n < 2 {
        return Ok(());
    }
    #[allow(clippy::cast_precision_loss)] // n <= MAX_SECTORS
    let others = (n - 1) as f64;
    let min = (1.0 - c).min(1.0 + others * c);
    if min >= -PSD_TOL {
        Ok(())
    } else {
        Err(format!(
            "a common correlation of {c} across {n} sectors is not positive semi-definite \
             (minimum eigenvalue {}); it must be >= -1/{} = {}",
            rounded(min),
            n - 1,
            rounded(-1.0 / others)
        ))
    }
}

/// Entries of a square row-major matrix that break symmetry or the unit diagonal, as
/// `(row, column, message)`; asymmetric pairs are reported once, at the upper entry.
pub(crate) fn matrix_shape_faults(m: &[f64], n: usize) -> Vec<(usize, usize, String)> {
    let mut faults = Vec::new();
    for i in 0..n {
        let d = m[i * n + i];
        if (d - 1.0).abs() > SYMMETRY_TOL {
            faults.push((i, i, format!("diagonal entries must be 1, got {d}")));
        }
        for j in i + 1..n {
            let (a, b) = (m[i * n + j], m[j * n + i]);
            if (a - b).abs() > SYMMETRY_TOL {
                faults.push((
                    i,
                    j,
                    format!("the matrix must be symmetric: [{i}][{j}] is {a} but [{j}][{i}] is {b}"),
                ));
            }
        }
    }
    faults
}

/// The smallest eigenvalue of a symmetric row-major `n x n` matrix (`None` if the iteration did
/// not converge).
pub(crate) fn min_eigenvalue(m: &[f64], n: usize) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let matrix = DMatrix::from_row_slice(n, n, m);
    let eigen = SymmetricEigen::try_new(matrix, f64::EPSILON, 100_000)?;
    eigen.eigenvalues.iter().copied().reduce(f64::min)
}

/// The matrix is positive semi-definite: minimum eigenvalue `>= -1e-10`.
pub(crate) fn positive_semi_definite(m: &[f64], n: usize) -> Result<(), String> {
    match min_eigenvalue(m, n) {
        Some(min) if min >= -PSD_TOL => Ok(()),
        Some(min) => Err(format!(
            "the matrix is not positive semi-definite (minimum eigenvalue {} < -1e-10)",
            rounded(min)
        )),
        None => Err("the eigenvalues of the matrix could not be computed".to_owned()),
    }
}

/// Makes a matrix that passed [`matrix_shape_faults`] exactly symmetric with an exact unit
/// diagonal (each off-diagonal pair becomes its mean).
pub(crate) fn symmetrise(m: &mut [f64], n: usize) {
    for i in 0..n {
        m[i * n + i] = 1.0;
        for j in i + 1..n {
            let mean = 0.5 * (m[i * n + j] + m[j * n + i]);
            m[i * n + j] = mean;
            m[j * n + i] = mean;
        }
    }
}

/// The sum of `amounts`, or `None` if it overflows a [`Decimal`].
pub(crate) fn total(amounts: impl IntoIterator<Item = Decimal>) -> Option<Decimal> {
    amounts
        .into_iter()
        .try_fold(Decimal::ZERO, |acc, x| acc.checked_add(x))
}

/// An explicit schedule has exactly `term` amounts summing to `principal` within 1e-9
/// relative; `what` names the principal (`"principal"` or `"notional"`).
pub(crate) fn amortisation(
    amounts: &[Decimal],
    principal: Decimal,
    term: Option<u32>,
    what: &str,
) -> Result<(), String> {
    if let Some(term) = term
        && amounts.len() != term as usize
    {
        return Err(format!(
            "has {} amounts but deal.term_periods is {term} (one amount per period)",
            amounts.len()
        ));
    }
    let sum = total(amounts.iter().copied()).ok_or("the amounts sum beyond the range of a money amount")?;
    let tol = principal.checked_mul(amortisation_tol()).unwrap_or(Decimal::MAX);
    let off = sum.checked_sub(principal).map(|d| d.abs());
    if off.is_some_and(|off| off <= tol) {
        Ok(())
    } else {
        Err(format!(
            "the amounts sum to {sum}, but the {what} is {principal} (they must be equal)"
        ))
    }
}

/// The shares of a tier's parties sum to 1 within 1e-9.
pub(crate) fn shares(shares: &[f64]) -> Result<(), String> {
    let sum: f64 = shares.iter().sum();
    if (sum - 1.0).abs() <= SHARES_TOL {
        Ok(())
    } else {
        Err(format!("the parties' shares sum to {sum}, but must sum to 1"))
    }
}

/// The notes do not exceed the pool (1e-12 relative slack).
pub(crate) fn tranche_total(notes: Decimal, pool: Decimal) -> Result<(), String> {
    let slack = pool.checked_mul(tranche_slack()).unwrap_or(Decimal::MAX);
    let excess = notes.checked_sub(pool);
    if excess.is_some_and(|excess| excess <= slack) {
        Ok(())
    } else {
        Err(format!(
            "the tranches' total notional {notes} exceeds the pool notional {pool} (the sum of firm principals)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_may_not_leave_the_folder() {
        assert!(label("yuhang-2023").is_ok());
        assert!(label("杭州 4:4:2").is_ok());
        for bad in ["a/b", "a\\b", "..", "x..y", ".", "a\nb"] {
            assert!(label(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn duplicates_point_at_the_first_use() {
        assert_eq!(duplicates(["a", "b", "a", "a", "c"]), vec![(2, 0), (3, 0)]);
        assert!(duplicates(["a", "b"]).is_empty());
    }

    #[test]
    fn lookup_lists_the_known_names() {
        let known = vec!["iot".to_owned(), "bio".to_owned()];
        assert_eq!(lookup("bio", &known, "sector"), Ok(1));
        assert_eq!(
            lookup("it", &known, "sector").unwrap_err(),
            "unknown sector \"it\" (known: iot, bio)"
        );
    }

    #[test]
    fn common_correlation_bound_is_minus_one_over_n_minus_one() {
        assert!(common_correlation(-0.5, 4).is_err());
        assert!(common_correlation(-1.0 / 3.0, 4).is_ok());
        assert!(common_correlation(-1.0, 2).is_ok());
        assert!(common_correlation(1.0, 5).is_ok());
        assert!(common_correlation(-1.0, 1).is_ok());
        // The closed form agrees with the eigen decomposition.
        let m = common_matrix(-0.5, 4);
        assert!(positive_semi_definite(&m, 4).is_err());
        let min = min_eigenvalue(&m, 4).unwrap();
        assert!((min - (1.0 - 1.5)).abs() < 1e-12);
    }

    #[test]
    fn singular_matrices_are_allowed() {
        let ones = vec![1.0; 9];
        assert!(matrix_shape_faults(&ones, 3).is_empty());
        assert!(positive_semi_definite(&ones, 3).is_ok());
        let indefinite = [1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0];
        assert!(positive_semi_definite(&indefinite, 3).is_err());
    }

    #[test]
    fn shape_faults_name_the_entries() {
        let m = [1.0, 0.3, 0.5, 0.9];
        let faults = matrix_shape_faults(&m, 2);
        assert_eq!(faults.len(), 2);
        assert_eq!((faults[0].0, faults[0].1), (0, 1));
        assert_eq!((faults[1].0, faults[1].1), (1, 1));
    }

    #[test]
    fn amortisation_rules() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let amounts = [d("25"), d("25"), d("50")];
        assert!(amortisation(&amounts, d("100"), Some(3), "principal").is_ok());
        assert!(amortisation(&amounts, d("100"), None, "principal").is_ok());
        assert!(amortisation(&amounts, d("100"), Some(4), "principal").is_err());
        assert!(amortisation(&amounts, d("101"), Some(3), "principal").is_err());
        // Within 1e-9 relative.
        assert!(amortisation(&amounts, d("100.00000005"), Some(3), "principal").is_ok());
        assert!(amortisation(&[Decimal::MAX, Decimal::MAX], d("1"), Some(2), "principal").is_err());
    }

    #[test]
    fn shares_and_tranche_total() {
        assert!(shares(&[0.4, 0.4, 0.2]).is_ok());
        assert!(shares(&[0.2; 5]).is_ok());
        assert!(shares(&[0.4, 0.4]).is_err());
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert!(tranche_total(d("133000000"), d("174000000")).is_ok());
        assert!(tranche_total(d("174000000"), d("174000000")).is_ok());
        assert!(tranche_total(d("174000000.0000001"), d("174000000")).is_ok());
        assert!(tranche_total(d("174000001"), d("174000000")).is_err());
    }
}
