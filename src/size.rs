//! Amounts of memory as users write them: `--max-memory 512MiB` on the command line,
//! `[simulation] max_memory = "2GB"` in a scenario, `max_memory="1.5GiB"` in Python.
//!
//! A size is a number followed by an optional unit, with or without a space between:
//! no unit or `B` for bytes; `KB`, `MB`, `GB`, `TB` for powers of 1000; `KiB`, `MiB`, `GiB`,
//! `TiB` for powers of 1024; and, as in `java -Xmx2g` or `docker --memory 512m`, `K`, `M`, `G`,
//! `T` alone for powers of 1024. Units are case-insensitive. The number may have a fraction
//! (`1.5GiB`); the size is rounded down to whole bytes and must be at least one byte.

use std::fmt;

/// The units [`parse`] knows, each with its factor in bytes.
const UNITS: [(&str, u64); 14] = [
    ("", 1),
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("k", 1 << 10),
    ("m", 1 << 20),
    ("g", 1 << 30),
    ("t", 1 << 40),
];

/// The message of a size that cannot be read.
const EXPECTED: &str = "expected a size such as 512MiB, 2GB or a number of bytes";

/// Reads a size (see the module docs) as bytes.
///
/// # Errors
/// A message naming the text for an unknown unit, a number that is not finite and
/// non-negative, a size below one byte or one beyond `u64`.
pub fn parse(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim().to_ascii_lowercase());
    let factor = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|&(_, f)| f)
        .ok_or_else(|| format!("{EXPECTED} (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got {text:?}"))?;
    let value = bytes_of(number, factor).ok_or_else(|| format!("{EXPECTED}, got {text:?}"))?;
    if value == 0 {
        return Err(format!("must be at least 1 byte, got {text:?}"));
    }
    Ok(value)
}

/// `number × factor`, rounded down, for a plain decimal number (digits with at most one point);
/// `None` when it is not one or does not fit in `u64`.
fn bytes_of(number: &str, factor: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut bytes = whole.checked_mul(factor)?;
    // The fraction digit by digit, exactly: sum of d_k × factor / 10^k, rounded down at the end.
    let (mut numerator, mut denominator) = (0u128, 1u128);
    for d in fraction.bytes() {
        numerator = numerator * 10 + u128::from(d - b'0');
        denominator *= 10;
        if denominator >= 10u128.pow(20) {
            break;
        }
    }
    let part = u64::try_from(numerator * u128::from(factor) / denominator).ok()?;
    bytes = bytes.checked_add(part)?;
    Some(bytes)
}

/// A number of bytes shown for people: `512 MiB`, `238.4 MiB`, `23 GiB`, `900 bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, mib, gib) = (self.0, 1u64 << 20, 1u64 << 30);
        let (value, unit) = match b {
            _ if b >= 10 * gib => (b as f64 / gib as f64, "GiB"),
            _ if b >= mib => (b as f64 / mib as f64, "MiB"),
            1 => return write!(f, "1 byte"),
            _ => return write!(f, "{b} bytes"),
        };
        let rounded = format!("{value:.1}");
        write!(f, "{} {unit}", rounded.strip_suffix(".0").unwrap_or(&rounded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_every_unit() {
        for (text, bytes) in [
            ("1", 1),
            ("4096", 4096),
            ("100B", 100),
            ("512MiB", 512 << 20),
            ("512 MiB", 512 << 20),
            ("512mib", 512 << 20),
            ("512M", 512 << 20),
            ("512m", 512 << 20),
            ("2GB", 2_000_000_000),
            ("2gb", 2_000_000_000),
            ("2G", 2 << 30),
            ("2GiB", 2 << 30),
            ("1.5GiB", 3 << 29),
            ("0.5KB", 500),
            ("1.0001KB", 1000),
            (".5MiB", 1 << 19),
            ("3KiB", 3072),
            ("7kb", 7000),
            ("1TiB", 1 << 40),
            ("1T", 1 << 40),
            ("1TB", 1_000_000_000_000),
            (" 64 MiB ", 64 << 20),
            ("16777215TiB", 16_777_215 << 40),
        ] {
            assert_eq!(parse(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_refused_with_the_text() {
        for (text, fragment) in [
            ("", "expected a size"),
            ("lots", "expected a size"),
            ("MiB", "expected a size"),
            ("12 parsecs", "units B, KB"),
            ("1.2.3MiB", "expected a size"),
            ("-5MiB", "expected a size"),
            ("0", "at least 1 byte"),
            ("0.1B", "at least 1 byte"),
            ("16777216TiB", "expected a size"),
            ("99999999999999999999", "expected a size"),
            ("1e9", "units"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(fragment), "{text:?}: {e}");
            assert!(e.contains(&format!("{text:?}")), "{text:?}: {e}");
        }
    }

    #[test]
    fn sizes_are_shown_in_the_largest_fitting_unit() {
        assert_eq!(Bytes(1).to_string(), "1 byte");
        assert_eq!(Bytes(900).to_string(), "900 bytes");
        assert_eq!(Bytes(512 << 20).to_string(), "512 MiB");
        assert_eq!(Bytes(250_000_000).to_string(), "238.4 MiB");
        assert_eq!(Bytes(3 << 30).to_string(), "3072 MiB");
        assert_eq!(Bytes(23 << 30).to_string(), "23 GiB");
    }
}
