//! What the loader reports when a scenario file is wrong: [`Problem`] (one finding, with its
//! place in the file and its key path) and [`ScenarioErrors`] (every finding in one file).
//!
//! This file owns the message format `file:line:col: key.path: what is wrong (what is allowed)`
//! and the conversion of byte offsets into 1-based lines and columns.

use std::fmt;

/// One thing wrong with a scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based line of the offending key or value (or of the enclosing table's header when the
    /// problem is something missing); `None` when the file could not be read at all.
    pub line: Option<usize>,
    /// 1-based column, counted in characters, on [`Problem::line`].
    pub column: Option<usize>,
    /// The key path, e.g. `firms[2].patents.appraised_value` (0-based indices); empty for
    /// problems that concern the whole file (syntax, I/O).
    pub key: String,
    /// What is wrong and, where it helps, what is allowed.
    pub message: String,
}

impl Problem {
    /// Writes the problem as one line, prefixed with `file`.
    fn write(&self, file: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{file}:")?;
        if let Some(line) = self.line {
            write!(f, "{line}:")?;
            if let Some(column) = self.column {
                write!(f, "{column}:")?;
            }
        }
        if self.key.is_empty() {
            write!(f, " {}", self.message)
        } else {
            write!(f, " {}: {}", self.key, self.message)
        }
    }
}

/// Every problem found in one scenario file, in file order. Its `Display` is one line per
/// problem: `file:line:col: key.path: message`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", Lines::new(.file, .problems))]
pub struct ScenarioErrors {
    /// The file as the user named it.
    pub file: String,
    /// At least one problem.
    pub problems: Vec<Problem>,
}

impl ScenarioErrors {
    /// The problems as [`Display`](fmt::Display) writes them, each followed by the offending line
    /// of `source` (the file's text) with a caret under the column, for a terminal:
    ///
    /// ```text
    /// deal.toml:7:20: deal.periods_per_year: must be one of 1, 2, 4 or 12, got 3
    ///     7 | periods_per_year = 3
    ///       |                    ^
    /// ```
    pub fn with_source(&self, source: &str) -> String {
        let lines: Vec<&str> = source.lines().collect();
        let mut out = String::new();
        for problem in &self.problems {
            out.push_str(&Lines::new(&self.file, std::slice::from_ref(problem)).to_string());
            out.push('\n');
            if let (Some(line), Some(column)) = (problem.line, problem.column)
                && let Some(text) = lines.get(line.wrapping_sub(1))
            {
                let number = line.to_string();
                let pad = " ".repeat(number.len());
                out.push_str(&format!("    {number} | {text}\n"));
                let caret: String = text
                    .chars()
                    .take(column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                out.push_str(&format!("    {pad} | {caret}^\n"));
            }
        }
        out
    }
}

/// `Display` helper rendering the problems of one file, one per line.
struct Lines<'a> {
    file: &'a str,
    problems: &'a [Problem],
}

impl<'a> Lines<'a> {
    fn new(file: &'a str, problems: &'a [Problem]) -> Self {
        Lines { file, problems }
    }
}

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            problem.write(self.file, f)?;
        }
        Ok(())
    }
}

/// Where each line of a text starts, to turn byte offsets into lines and columns.
pub(crate) struct LineIndex<'s> {
    text: &'s str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    pub(crate) fn new(text: &'s str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    /// The 1-based `(line, column)` of byte `offset`; the column counts characters. Offsets
    /// past the end (or inside a character) are clamped to the nearest valid position.
    pub(crate) fn locate(&self, offset: usize) -> (usize, usize) {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        // `starts[0] == 0 <= end`, so the line is at least 1.
        let line = self.starts.partition_point(|&start| start <= end);
        let column = self.text[self.starts[line - 1]..end].chars().count() + 1;
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbé = 2\n";
        let index = LineIndex::new(text);
        let line_column = |offset| index.locate(offset);
        assert_eq!(line_column(0), (1, 1));
        assert_eq!(line_column(4), (1, 5));
        assert_eq!(line_column(6), (2, 1));
        // "bé = " is 6 bytes but 5 characters.
        assert_eq!(line_column(12), (2, 6));
        assert_eq!(line_column(1000), (3, 1));
        // Inside the two-byte 'é': clamped back to its start.
        assert_eq!(line_column(8), (2, 2));
    }

    #[test]
    fn display_is_one_line_per_problem() {
        let errors = ScenarioErrors {
            file: "bad.toml".into(),
            problems: vec![
                Problem {
                    line: Some(12),
                    column: Some(13),
                    key: "firms[2].annual_pd".into(),
                    message: "must be in [0, 1), got 1.5".into(),
                },
                Problem {
                    line: Some(1),
                    column: Some(3),
                    key: String::new(),
                    message: "invalid TOML: expected `=`".into(),
                },
                Problem {
                    line: None,
                    column: None,
                    key: String::new(),
                    message: "cannot read the file: not found".into(),
                },
            ],
        };
        assert_eq!(
            errors.to_string(),
            "bad.toml:12:13: firms[2].annual_pd: must be in [0, 1), got 1.5\n\
             bad.toml:1:3: invalid TOML: expected `=`\n\
             bad.toml: cannot read the file: not found"
        );
    }
}
