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
pub mod id;
pub mod objects;
pub mod push;
pub mod redundancy;
pub mod remotes;
pub mod resume;
pub mod router;
pub mod sync;
pub mod verified;
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
    /// One object (`label`, for people) starts moving to or from `remote`; its bytes are
    /// reported to the returned meter as they stream, and the meter's last clone dropped ends it.
    fn object(&self, _remote: &str, _label: &str, _size: Option<u64>) -> ObjectMeter {
        ObjectMeter::none()
    }
}

/// A `Progress` that ignores everything (for tests and `-q`).
pub struct NoProgress;

impl Progress for NoProgress {
    fn add_total(&self, _: u64, _: u64) {}
    fn done(&self, _: u64) {}
}

/// What a progress display does with one object's streaming bytes.
pub trait ObjectSink: Send + Sync {
    /// `bytes` more went over the wire.
    fn moved(&self, bytes: u64);
    /// The attempt failed and the object starts again from its first byte (a retry).
    fn restart(&self);
}

/// The handle a copy reports one object's bytes to as they stream (cheap to clone; a meter
/// that reports nowhere when no display asked for it).
#[derive(Clone, Default)]
pub struct ObjectMeter(Option<std::sync::Arc<dyn ObjectSink>>);

impl ObjectMeter {
    /// A meter that reports nowhere.
    pub fn none() -> Self {
        Self(None)
    }

    /// A meter reporting to `sink`.
    pub fn new(sink: std::sync::Arc<dyn ObjectSink>) -> Self {
        Self(Some(sink))
    }

    /// A new attempt starts from the first byte: what the last one moved is taken back.
    pub fn restart(&self) {
        if let Some(s) = &self.0 {
            s.restart();
        }
    }

    /// `more` bytes already held (a resumed download's partial file) count as moved.
    pub fn resumed(&self, more: u64) {
        if let Some(s) = &self.0 {
            s.moved(more);
        }
    }

    /// `stream` with each chunk reported as it passes, added to what the object moved so far (a
    /// part, or the rest of a resumed download).
    pub fn count_more(&self, stream: crate::remote::ByteStream) -> crate::remote::ByteStream {
        use futures::StreamExt;
        let Some(sink) = self.0.clone() else {
            return stream;
        };
        Box::pin(stream.inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                sink.moved(bytes.len() as u64);
            }
        }))
    }

    /// `stream` with each chunk reported as it passes (a fresh attempt, so it restarts first).
    pub fn count(&self, stream: crate::remote::ByteStream) -> crate::remote::ByteStream {
        use futures::StreamExt;
        let Some(sink) = self.0.clone() else {
            return stream;
        };
        sink.restart();
        Box::pin(stream.inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                sink.moved(bytes.len() as u64);
            }
        }))
    }
}
