//! Moving one object: a download streams into a temp file in the cache while hashing and is
//! renamed into place only when its md5 matches; an upload streams a cache file (or bytes read
//! once for several remotes) to a remote; the remote's stack retries both.
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use md5::{Digest, Md5};
use tokio::io::AsyncReadExt;

use super::ObjectMeter;
use crate::hash::{self, HashInfo};
use crate::odb::Odb;
use crate::remote::{AttemptError, ByteStream, ErrorKind, ReadBudget, RemoteError, Spent, Stack};

/// A download failed either on the remote's side (try elsewhere) or on ours (stop).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The remote failed; the router decides what next.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// Writing the local cache failed (disk full, permissions): no remote can fix that.
    #[error("cannot write to the cache at '{path}': {source}")]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A `.dir` manifest whose size nothing told is read up to this many bytes (a manifest of a
/// million files is about 100 MB); a body past it is refused as corrupt.
pub const MANIFEST_MAX: u64 = 1 << 30;

impl AttemptError for CopyError {
    fn remote_error(&mut self) -> Option<&mut RemoteError> {
        match self {
            CopyError::Remote(e) => Some(e),
            CopyError::Local { .. } => None,
        }
    }
}

/// Downloads `hash` from `remote` into `odb`, verified. Returns the bytes of the object and
/// what all attempts cost (retries of cut or corrupt bodies included: the stack retries them).
/// `budget.size` is the object's size when a `.dvc` file, a `.dir` manifest or a listing told
/// it: a body longer than that is cut off at once and refused as corrupt (see [`read_limit`]).
/// Bytes are reported to `meter` as they arrive.
pub async fn download(
    remote: &Stack,
    odb: &Odb,
    hash: &HashInfo,
    budget: ReadBudget,
    meter: &ObjectMeter,
) -> (Result<u64, CopyError>, Spent) {
    let key = crate::odb::key(hash);
    remote
        .read_with(&key, budget, |stream| {
            download_once(
                meter.count(stream),
                remote.name(),
                odb,
                hash,
                &key,
                budget.size,
            )
        })
        .await
}

/// The most bytes a download of `hash` may bring: its known size, else [`MANIFEST_MAX`] for a
/// `.dir` manifest, else no limit (the backend still stops at the `Content-Length` the server
/// declared).
pub fn read_limit(hash: &HashInfo, size: Option<u64>) -> Option<u64> {
    size.or_else(|| hash.is_dir().then_some(MANIFEST_MAX))
}

/// The error for a body that brought more than `limit` bytes: it is not the object.
pub fn oversized(remote: &str, key: &str, object: &str, got: u64, limit: u64) -> RemoteError {
    RemoteError::new(
        ErrorKind::Corrupt,
        remote,
        format!(
            "object {object} should be at most {limit} bytes but the remote sent {got} bytes \
             (and more was coming); the download was stopped and discarded"
        ),
    )
    .with_key(key)
}

/// Streams one attempt's body into a temp file of the cache while hashing; renames it into
/// place only when the md5 matches.
async fn download_once(
    mut stream: ByteStream,
    remote: &str,
    odb: &Odb,
    hash: &HashInfo,
    key: &str,
    size: Option<u64>,
) -> Result<u64, CopyError> {
    let limit = read_limit(hash, size);
    let (tmp, mut file) = odb.create_temp(hash).map_err(|source| CopyError::Local {
        path: odb.path(hash),
        source,
    })?;
    let guard = TempGuard(&tmp);
    let local = |source| CopyError::Local {
        path: tmp.clone(),
        source,
    };
    let mut hasher = Md5::new();
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        received += chunk.len() as u64;
        if let Some(limit) = limit.filter(|&l| received > l) {
            return Err(oversized(remote, key, &hash.md5, received, limit).into());
        }
        hasher.update(&chunk);
        file.write_all(&chunk).map_err(local)?;
    }
    drop(file);
    let expected = hash.md5.strip_suffix(".dir").unwrap_or(&hash.md5);
    let actual = if hash.legacy {
        hash::file_md5_dos2unix(&tmp).map_err(local)?.0
    } else {
        hex::encode(hasher.finalize())
    };
    if actual != expected {
        return Err(RemoteError::new(
            ErrorKind::Corrupt,
            remote,
            format!(
                "object {} arrived with md5 {actual}: the remote's copy is corrupt",
                hash.md5
            ),
        )
        .with_key(key)
        .into());
    }
    odb.commit_temp(&tmp, hash).map_err(local)?;
    guard.keep();
    Ok(received)
}

/// Deletes a temp file unless told to keep it.
struct TempGuard<'a>(&'a Path);

impl TempGuard<'_> {
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// Where an upload's bytes come from.
#[derive(Debug, Clone)]
pub enum Payload {
    /// Read once into memory and shared by every target remote (small objects).
    Bytes(Bytes),
    /// Streamed from a cache file (large objects; each target reads it, from the page cache).
    File(PathBuf, u64),
}

/// Objects up to this size are read once and shared by all target remotes.
pub const SHARED_READ_MAX: u64 = 8 << 20;

impl Payload {
    /// Loads the cache file of `hash`: into memory when small, else as a path to stream.
    pub async fn load(odb: &Odb, hash: &HashInfo) -> std::io::Result<Payload> {
        let path = odb.path(hash);
        let size = tokio::fs::metadata(&path).await?.len();
        if size <= SHARED_READ_MAX {
            Ok(Payload::Bytes(Bytes::from(tokio::fs::read(&path).await?)))
        } else {
            Ok(Payload::File(path, size))
        }
    }

    /// Its length.
    pub fn len(&self) -> u64 {
        match self {
            Payload::Bytes(b) => b.len() as u64,
            Payload::File(_, n) => *n,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn stream(&self, remote: &str) -> ByteStream {
        match self {
            Payload::Bytes(b) => Box::pin(futures::stream::once(std::future::ready(Ok(b.clone())))),
            Payload::File(path, _) => file_stream(path.clone(), remote.to_string()),
        }
    }
}

/// Streams a file in 1 MiB chunks.
fn file_stream(path: PathBuf, remote: String) -> ByteStream {
    let state = (None::<tokio::fs::File>, path, remote);
    Box::pin(futures::stream::try_unfold(
        state,
        |(file, path, remote)| async move {
            let mut file = match file {
                Some(f) => f,
                None => tokio::fs::File::open(&path).await.map_err(|e| {
                    RemoteError::new(
                        ErrorKind::Permanent,
                        &remote,
                        format!("cannot read '{}': {e}", path.display()),
                    )
                })?,
            };
            let mut buf = bytes::BytesMut::with_capacity(1 << 20);
            while buf.len() < buf.capacity() {
                let n = file.read_buf(&mut buf).await.map_err(|e| {
                    RemoteError::new(
                        ErrorKind::Permanent,
                        &remote,
                        format!("cannot read '{}': {e}", path.display()),
                    )
                })?;
                if n == 0 {
                    break;
                }
            }
            if buf.is_empty() {
                Ok(None)
            } else {
                Ok(Some((buf.freeze(), (Some(file), path, remote))))
            }
        },
    ))
}

/// Uploads `payload` as `key`; the stack retries it with a fresh body per attempt. Bytes are
/// reported to `meter` as the backend takes them.
pub async fn upload(
    remote: &Stack,
    key: &str,
    payload: &Payload,
    meter: &ObjectMeter,
) -> Result<(), RemoteError> {
    remote
        .write_with(key, payload.len(), || {
            meter.count(payload.stream(remote.name()))
        })
        .await
}
