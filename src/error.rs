//! Exit codes and the user-facing error that carries one, with a hint saying what to do next.
use std::fmt;

/// Exit codes, following DVC where it has one (documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything went as asked.
    Ok = 0,
    /// The command ran but failed (a transfer, a checkout, an out-of-sync `status -q`).
    Failed = 1,
    /// A configuration or credentials problem.
    Config = 251,
    /// Interrupted by Ctrl-C.
    Interrupted = 252,
    /// Not inside a DVC repository.
    NotARepo = 253,
    /// Bad command-line usage.
    Usage = 254,
    /// An unexpected internal error.
    Internal = 255,
}

/// An error meant for the user: a message, the exit code it maps to and an optional hint.
///
/// Typed errors in the library modules convert into this at the command edge, so `main`
/// prints one consistent `ERROR: …` / `hint: …` block whatever went wrong.
#[derive(Debug)]
pub struct UserError {
    /// What went wrong, naming the file or remote.
    pub message: String,
    /// What to do next, printed as a `hint:` line.
    pub hint: Option<String>,
    /// The process exit code.
    pub exit: Exit,
}

impl UserError {
    /// A failure of the command itself (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            exit: Exit::Failed,
        }
    }

    /// A configuration problem (exit 251).
    pub fn config(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            exit: Exit::Config,
        }
    }

    /// Adds the `hint:` line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the exit code.
    pub fn with_exit(mut self, exit: Exit) -> Self {
        self.exit = exit;
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Implemented by typed errors that know what the user should do about them.
pub trait Hint {
    /// The `hint:` line, if there is useful advice.
    fn hint(&self) -> Option<String>;
    /// The exit code this error maps to.
    fn exit(&self) -> Exit {
        Exit::Failed
    }
}

/// An I/O error in words, naming the cause when it is one the user can act on: a full disk reads
/// "no space left on device" (ENOSPC, or EDQUOT for a full quota) instead of a generic failure.
pub fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(28) => "no space left on device".into(),
        Some(122) => "disk quota exceeded".into(),
        _ if e.kind() == std::io::ErrorKind::StorageFull => "no space left on device".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_named() {
        assert_eq!(
            describe_io(&std::io::Error::from_raw_os_error(28)),
            "no space left on device"
        );
        assert_eq!(
            describe_io(&std::io::Error::from(std::io::ErrorKind::StorageFull)),
            "no space left on device"
        );
        assert!(describe_io(&std::io::Error::from_raw_os_error(2)).contains("No such file"));
    }
}
