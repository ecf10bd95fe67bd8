//! Operations: one module per user operation, taking resolved settings and returning a typed
//! report, printing nothing. `cli` parses arguments, resolves settings once, calls an operation
//! and renders its report; operations call `repo` and `transfer`, which call `odb`, `remote`
//! and `budget` (the one-way flow of DESIGN.md §4).
pub mod doctor;

/// A runtime for one operation's network work.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
