//! The importer's error type: for files that cannot be read at all and for database
//! failures. Problems with a workbook's content are data ([`crate::report::Issue`]), not errors.

use thiserror::Error;

/// What the caller sees when an import could not run.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file was refused as a whole (unreadable, encrypted, over a limit).
    #[error("{}: {}", .0.code, .0.en)]
    Refused(Box<crate::limits::Refusal>),
    /// An area master file could not be read or holds bad rows.
    #[error("area file: {0}")]
    Areas(String),
    /// Writing a workbook (template, generator) failed.
    #[error("cannot write the workbook: {0}")]
    Write(#[from] rust_xlsxwriter::XlsxError),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// Reading or writing a file failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
