//! Operations: one module per user operation, taking resolved settings and returning a typed
//! report, printing nothing. `cli` parses arguments, resolves settings once, calls an operation
//! and renders its report; operations call `repo` and `transfer`, which call `odb`, `remote`
//! and `budget` (the one-way flow of DESIGN.md §4).
pub mod budget_state;
pub mod config;
pub mod doctor;
pub mod fetch;
pub mod gc;
pub mod init;
mod json;
pub mod lanes;
pub mod push;
pub mod redundancy;
pub mod remote;
pub mod status;
pub mod sync;
pub mod usage;

/// Where an operation's messages go, in order: results (stdout) and warnings (stderr). The CLI
/// passes its printer; operations never print.
pub trait Reporter {
    /// A line of the result.
    fn line(&self, text: &str);
    /// A warning.
    fn warn(&self, text: &str);
}

impl Reporter for crate::ui::Printer {
    fn line(&self, text: &str) {
        crate::ui::Printer::line(self, text)
    }

    fn warn(&self, text: &str) {
        crate::ui::Printer::warn(self, text)
    }
}

/// A runtime for one operation's network work.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
