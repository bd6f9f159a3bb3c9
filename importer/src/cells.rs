//! Cells: calamine's values turned into owned, normalised cells that the domain parsers
//! read through [`entity::types::Raw`].

use calamine::Data;
use entity::types::{Raw, text};

/// One cell, text already normalised.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cell {
    /// Nothing (or only white space).
    #[default]
    Empty,
    /// Normalised text.
    Text(String),
    /// A number.
    Number(f64),
    /// An Excel date: its serial.
    Date(f64),
    /// A boolean.
    Bool(bool),
    /// An error cell (`#N/A`).
    Error(String),
}

impl Cell {
    /// From a calamine value.
    pub fn from_data(d: &Data) -> Cell {
        match d {
            Data::Empty => Cell::Empty,
            Data::String(s) => {
                let t = text::normalize_text(s);
                if t.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(t.into_owned())
                }
            }
            Data::Int(i) => Cell::Number(*i as f64),
            Data::Float(f) => Cell::Number(*f),
            Data::Bool(b) => Cell::Bool(*b),
            Data::DateTime(dt) => Cell::Date(dt.as_f64()),
            Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
            Data::Error(e) => Cell::Error(e.to_string()),
        }
    }

    /// The view domain parsers take.
    pub fn raw(&self) -> Raw<'_> {
        match self {
            Cell::Empty => Raw::Empty,
            Cell::Text(s) => Raw::Text(s),
            Cell::Number(f) => Raw::Number(*f),
            Cell::Date(f) => Raw::Date(*f),
            Cell::Bool(b) => Raw::Bool(*b),
            Cell::Error(e) => Raw::Error(e),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }

    /// The value as a report shows it.
    pub fn display(&self) -> Option<String> {
        match self {
            Cell::Empty => None,
            Cell::Text(s) => Some(s.clone()),
            Cell::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{:.0}", f)),
            Cell::Number(f) => Some(f.to_string()),
            Cell::Date(serial) => Some(
                chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                    .and_then(|d| d.checked_add_days(chrono::Days::new(serial.max(0.0) as u64)))
                    .map_or_else(|| serial.to_string(), |d| d.format("%Y-%m-%d").to_string()),
            ),
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Error(e) => Some(e.clone()),
        }
    }
}
