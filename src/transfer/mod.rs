//! Moving objects between the local cache and remotes: what is wanted (`objects`), which remote
//! holds what (`exists`), moving one object (`copy`), choosing a remote per object under budgets
//! (`router`), what every remote should hold (`wanted`), and the commands' engines (`fetch`,
//! `push`, `cloud_status`, `sync`, `redundancy`).
//!
//! Backends know nothing of this module; this module knows nothing of HTTP or S3.
pub mod cloud_status;
pub mod copy;
pub mod exists;
pub mod fetch;
pub mod objects;
pub mod push;
pub mod redundancy;
pub mod remotes;
pub mod router;
pub mod sync;
pub mod wanted;

use crate::hash::HashInfo;

/// One object to move.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Object {
    /// Its hash (the object's name in cache and remote).
    pub hash: HashInfo,
    /// Its size when known (from a `.dvc` file or a listing).
    pub size: Option<u64>,
    /// The output it belongs to, relative to the repo root, for messages.
    pub out: String,
}

impl Object {
    /// The object's key in a cache or remote.
    pub fn key(&self) -> String {
        crate::odb::key(&self.hash)
    }
}

/// Receives progress from transfers; the CLI draws bars from it, libraries stay silent.
pub trait Progress: Send + Sync {
    /// Announces more work: objects and (known) bytes.
    fn add_total(&self, objects: u64, bytes: u64);
    /// One object finished (successfully or not) after moving `bytes`.
    fn done(&self, bytes: u64);
}

/// A `Progress` that ignores everything (for tests and `-q`).
pub struct NoProgress;

impl Progress for NoProgress {
    fn add_total(&self, _: u64, _: u64) {}
    fn done(&self, _: u64) {}
}
