//! Output: sessions and report rows as a table, JSON, JSON lines or CSV, written as they
//! come (nothing is held but the row being written), every value through
//! [`redact`].

use std::io::{self, IsTerminal as _, Write};

use serde::ser::SerializeMap as _;
use serde::Serialize;
use truemed_ext::QualificationSession;

use crate::cli::OutputFormat;
use crate::fail::{redact, Failure};

/// The format to use: the flag's, else a table on a terminal and JSON lines otherwise.
pub fn choose(flag: Option<OutputFormat>) -> OutputFormat {
    flag.unwrap_or_else(|| match io::stdout().is_terminal() {
        true => OutputFormat::Table,
        false => OutputFormat::Jsonl,
    })
}

/// The 19 session fields, in the spec's order: the CSV header, the JSON objects' keys.
pub const SESSION_FIELDS: [&str; 19] = [
    "qualification_session_id",
    "status",
    "charge_group_created_at",
    "created_at",
    "customer_status",
    "eligible_amount",
    "email",
    "expires_at",
    "fee",
    "lmn_reviewed_at",
    "session_type",
    "skus_param",
    "source",
    "stripe_invoice_id",
    "stripe_invoice_number",
    "stripe_invoice_paid_at",
    "user_business_id",
    "user_id",
    "user_name",
];

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text (already redacted).
    Text(String),
    /// A number (an amount, a count).
    Number(f64),
    /// A whole number (a row number).
    Integer(u64),
    /// No value: `null` in JSON, an empty cell in CSV, `-` in a table.
    Null,
}

impl Cell {
    fn text(value: &str) -> Self {
        Self::Text(redact(value).into_owned())
    }

    fn opt(value: Option<impl ToString>) -> Self {
        value.map_or(Self::Null, |v| Self::text(&v.to_string()))
    }

    /// The value as a CSV cell or table text (`None` for null).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Self::Text(text) => Some(text.clone()),
            Self::Number(n) => Some(n.to_string()),
            Self::Integer(n) => Some(n.to_string()),
            Self::Null => None,
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            // JSON has no NaN or infinity; an amount that is neither is written as is.
            Self::Number(n) if n.is_finite() => serializer.serialize_f64(*n),
            Self::Number(_) | Self::Null => serializer.serialize_none(),
            Self::Integer(n) => serializer.serialize_u64(*n),
        }
    }
}

/// A row: its names and values, in order.
#[derive(Clone, Debug)]
pub struct Row {
    names: &'static [&'static str],
    cells: Vec<Cell>,
}

impl Row {
    /// A row of these named cells.
    pub fn new(names: &'static [&'static str], cells: Vec<Cell>) -> Self {
        debug_assert_eq!(names.len(), cells.len());
        Self { names, cells }
    }

    /// The value named `name`.
    pub fn get(&self, name: &str) -> &Cell {
        self.names.iter().position(|n| *n == name).map_or(&Cell::Null, |i| &self.cells[i])
    }
}

impl Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.cells.len()))?;
        for (name, cell) in self.names.iter().zip(&self.cells) {
            map.serialize_entry(name, cell)?;
        }
        map.end()
    }
}

/// A session as a row of the 19 fields: times in RFC 3339 (UTC), amounts as numbers.
pub fn session_row(s: &QualificationSession) -> Row {
    let amount = |a: Option<truemed_ext::Amount>| a.map_or(Cell::Null, |a| Cell::Number(a.0));
    Row::new(
        &SESSION_FIELDS,
        vec![
            Cell::text(&s.qualification_session_id),
            Cell::text(s.status.as_str()),
            Cell::opt(s.charge_group_created_at.as_ref()),
            Cell::opt(s.created_at.as_ref()),
            Cell::opt(s.customer_status.as_ref()),
            amount(s.eligible_amount),
            Cell::opt(s.email.as_ref()),
            Cell::opt(s.expires_at.as_ref()),
            amount(s.fee),
            Cell::opt(s.lmn_reviewed_at.as_ref()),
            Cell::opt(s.session_type.as_ref()),
            Cell::opt(s.skus_param.as_ref()),
            Cell::opt(s.source.as_ref()),
            Cell::opt(s.stripe_invoice_id.as_ref()),
            Cell::opt(s.stripe_invoice_number.as_ref()),
            Cell::opt(s.stripe_invoice_paid_at.as_ref()),
            Cell::opt(s.user_business_id.as_ref()),
            Cell::opt(s.user_id.as_ref()),
            Cell::opt(s.user_name.as_ref()),
        ],
    )
}

/// The columns a table shows of a kind of row, with the widest each may grow.
#[derive(Clone, Copy, Debug)]
pub struct TableColumns(pub &'static [(&'static str, &'static str, usize)]);

/// The table of sessions: id, status, user id, email, created, expires.
pub const SESSION_TABLE: TableColumns = TableColumns(&[
    ("qualification_session_id", "ID", 48),
    ("status", "STATUS", 12),
    ("user_id", "USER ID", 24),
    ("email", "EMAIL", 32),
    ("created_at", "CREATED", 25),
    ("expires_at", "EXPIRES", 25),
]);

/// Writes rows in one format as they come: [`write`](Self::write) each, then
/// [`finish`](Self::finish).
pub struct RowWriter<W: Write> {
    format: OutputFormat,
    out: W,
    table: TableColumns,
    widths: Option<Vec<usize>>,
    /// CSV: the header is written with the first row (or at the end, for none).
    names: &'static [&'static str],
    rows: u64,
}

impl<W: Write> RowWriter<W> {
    /// A writer of rows named `names`, shown in a table as `table`.
    pub fn new(
        format: OutputFormat,
        out: W,
        names: &'static [&'static str],
        table: TableColumns,
    ) -> Self {
        Self { format, out, table, widths: None, names, rows: 0 }
    }

    /// How many rows were written.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes every row of a batch (a page): a table sizes its columns on the first.
    pub fn write_all(&mut self, rows: &[Row]) -> io::Result<()> {
        self.size_columns(rows);
        for row in rows {
            self.write(row)?;
        }
        Ok(())
    }

    /// A table's column widths, from the first rows it shows.
    fn size_columns(&mut self, rows: &[Row]) {
        if self.format == OutputFormat::Table && self.widths.is_none() {
            let widths = self
                .table
                .0
                .iter()
                .map(|(name, title, max)| {
                    rows.iter()
                        .map(|row| table_text(row.get(name)).chars().count())
                        .chain([title.chars().count()])
                        .max()
                        .unwrap_or(0)
                        .min(*max)
                })
                .collect();
            self.widths = Some(widths);
        }
    }

    /// Writes one row.
    pub fn write(&mut self, row: &Row) -> io::Result<()> {
        let first = self.rows == 0;
        self.rows += 1;
        match self.format {
            OutputFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, row)?;
                self.out.write_all(b"\n")
            }
            OutputFormat::Json => {
                self.out.write_all(if first { b"[\n" } else { b",\n" })?;
                serde_json::to_writer(&mut self.out, row)?;
                Ok(())
            }
            OutputFormat::Csv => {
                if first {
                    self.csv_line(self.names.iter().map(|n| Some(n.to_string())))?;
                }
                let cells: Vec<Option<String>> = row.cells.iter().map(Cell::as_text).collect();
                self.csv_line(cells.into_iter())
            }
            OutputFormat::Table => {
                if self.widths.is_none() {
                    // Rows one by one (a report): each column as wide as it may grow.
                    self.widths = Some(self.table.0.iter().map(|(_, _, max)| *max).collect());
                }
                if first {
                    let titles: Vec<String> =
                        self.table.0.iter().map(|(_, t, _)| t.to_string()).collect();
                    self.table_line(&titles)?;
                }
                let cells: Vec<String> =
                    self.table.0.iter().map(|(name, _, _)| table_text(row.get(name))).collect();
                self.table_line(&cells)
            }
        }
    }

    fn csv_line(&mut self, cells: impl Iterator<Item = Option<String>>) -> io::Result<()> {
        let mut line = Vec::with_capacity(256);
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                line.push(b',');
            }
            write_csv_field(&mut line, cell.as_deref().unwrap_or(""));
        }
        line.push(b'\n');
        self.out.write_all(&line)
    }

    fn table_line(&mut self, cells: &[String]) -> io::Result<()> {
        let widths = self.widths.clone().unwrap_or_default();
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            let shown = fit(cell, *width);
            line.push_str(&shown);
            if i + 1 < cells.len() {
                let pad = width.saturating_sub(shown.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(self.out, "{}", line.trim_end())
    }

    /// Ends the output (a JSON array's `]`; a CSV header when there were no rows) and
    /// flushes it.
    pub fn finish(mut self) -> io::Result<W> {
        match self.format {
            OutputFormat::Json if self.rows == 0 => self.out.write_all(b"[]\n")?,
            OutputFormat::Json => self.out.write_all(b"\n]\n")?,
            OutputFormat::Csv if self.rows == 0 => {
                self.csv_line(self.names.iter().map(|n| Some(n.to_string())))?
            }
            _ => {}
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// The writer underneath, for a footer line.
    pub fn out(&mut self) -> &mut W {
        &mut self.out
    }
}

/// One CSV field (RFC 4180): quoted, with its quotes doubled, when it holds a comma, a
/// quote or a line break, or starts or ends with a space.
fn write_csv_field(line: &mut Vec<u8>, field: &str) {
    let quote =
        field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ');
    if !quote {
        line.extend_from_slice(field.as_bytes());
        return;
    }
    line.push(b'"');
    for byte in field.bytes() {
        if byte == b'"' {
            line.push(b'"');
        }
        line.push(byte);
    }
    line.push(b'"');
}

/// A cell as a table shows it: `-` for none, controls as spaces.
fn table_text(cell: &Cell) -> String {
    cell.as_text()
        .map(|t| t.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
        .unwrap_or_else(|| "-".to_owned())
}

/// `text` cut to `width` characters, with `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Writes to stdout with `write`, then flushes it; a failure names stdout.
pub fn to_stdout(
    write: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>,
) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::file("cannot write to", "stdout".as_ref(), &e))
}

/// Writes `row` as the one row of a listing in `format` (CSV: the header, then the row).
pub fn write_one(
    format: OutputFormat,
    out: &mut impl Write,
    names: &'static [&'static str],
    table: TableColumns,
    row: &Row,
) -> io::Result<()> {
    let mut writer = RowWriter::new(format, out, names, table);
    writer.write(row).and_then(|()| writer.finish().map(drop))
}

/// One session, all 19 fields, as a table shows it: one `field  value` line each.
pub fn write_session_details(out: &mut impl Write, row: &Row) -> io::Result<()> {
    let width = SESSION_FIELDS.iter().map(|f| f.len()).max().unwrap_or(0);
    for name in SESSION_FIELDS {
        writeln!(out, "{name:<width$}  {}", table_text(row.get(name)))?;
    }
    Ok(())
}

/// One JSON value on stdout in the chosen format: a table and JSON lines get it on one
/// line (a table pretty-printed), JSON as is. Redacted.
pub fn write_value(
    out: &mut impl Write,
    format: OutputFormat,
    value: &serde_json::Value,
) -> io::Result<()> {
    let text = match format {
        OutputFormat::Table => serde_json::to_string_pretty(value)?,
        _ => serde_json::to_string(value)?,
    };
    writeln!(out, "{}", redact(&text))?;
    out.flush()
}
