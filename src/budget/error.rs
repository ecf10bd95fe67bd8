//! What can go wrong with the budget ledger, with the advice shown to the user.
use std::path::PathBuf;

use crate::error::{Exit, Hint};

/// A budget ledger failure. Reading never produces one for a damaged file (see the module doc of
/// `budget`); writing does, and callers doing a transfer should warn and carry on.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// No directory to keep the ledger in.
    #[error(
        "cannot find a state directory for the budget ledger: none of FERRY_STATE_DIR, XDG_STATE_HOME or HOME is set"
    )]
    NoStateDir,
    /// A file or directory of the ledger could not be used.
    #[error("cannot {action} budget ledger '{}': {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// `FERRY_NOW` is not an instant.
    #[error("FERRY_NOW='{value}' is not an RFC 3339 instant: {reason}")]
    BadClock { value: String, reason: String },
    /// Date arithmetic left jiff's supported range (only for absurd clocks).
    #[error("cannot compute the budget day window: {0}")]
    Time(String),
}

impl LedgerError {
    pub(crate) fn time(e: jiff::Error) -> Self {
        LedgerError::Time(e.to_string())
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        LedgerError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl LedgerError {
    /// The error and what to do about it on one line, for the warnings of a transfer that carries
    /// on without its budget record.
    pub fn with_advice(&self) -> String {
        match self.hint() {
            Some(hint) => format!("{self}; {hint}"),
            None => self.to_string(),
        }
    }
}

impl Hint for LedgerError {
    fn hint(&self) -> Option<String> {
        match self {
            LedgerError::NoStateDir => Some("set FERRY_STATE_DIR to a writable directory".into()),
            LedgerError::Io { .. } => Some(
                "check that the directory is writable, or set FERRY_STATE_DIR to one that is"
                    .into(),
            ),
            LedgerError::BadClock { .. } => {
                Some("unset FERRY_NOW or give it like 2026-11-27T23:30:00Z".into())
            }
            LedgerError::Time(_) => None,
        }
    }

    fn exit(&self) -> Exit {
        match self {
            LedgerError::BadClock { .. } => Exit::Config,
            _ => Exit::Failed,
        }
    }
}
