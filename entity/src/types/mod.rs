//! Domain value types. Each has a `parse` that is the only way a raw cell (or an API
//! argument) becomes a domain value; the importer and the API share them.

mod date;
mod error;
mod ids;
pub mod text;
mod values;

pub use date::{MONTHS_ABBR_DOTTED, MONTHS_FULL, ThaiDate};
pub use error::ValueError;
pub use ids::{AreaCode, AreaLevel, CitizenId, HouseCode, VillageCode, VillageNo};
pub use values::{
    Baht, Classification, Cohort, CohortSource, Dimension, IndicatorCode, ProblemStatus, Sex,
    Title, parse_latitude, parse_longitude, parse_number, parse_whole, parse_yes_no, raw_text,
};

/// A raw cell as the workbook holds it, before any domain parsing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Raw<'a> {
    /// No value.
    Empty,
    /// Text, as typed (normalisation happens in the parsers).
    Text(&'a str),
    /// A numeric cell.
    Number(f64),
    /// An Excel date cell: its serial number (days since 1899-12-30).
    Date(f64),
    /// A boolean cell.
    Bool(bool),
    /// An Excel error cell (`#N/A`, `#REF!`…).
    Error(&'a str),
}

impl Raw<'_> {
    /// True when the cell holds nothing (or only white space).
    pub fn is_empty(&self) -> bool {
        match self {
            Raw::Empty => true,
            Raw::Text(s) => text::normalize_text(s).is_empty(),
            _ => false,
        }
    }
}
