//! Moving one object: a download streams into a temp file in the cache while hashing and is
//! renamed into place only when its md5 matches; an upload streams a cache file (or bytes read
//! once for several remotes) to a remote; the remote's stack retries both.
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;

use super::ObjectMeter;
use crate::hash::md5::Md5;
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
    #[error("cannot write to the cache at '{path}': {reason}")]
    Local {
        path: PathBuf,
        reason: std::io::Error,
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

/// Downloads `hash` from `remote` into `odb`, verified (an object of at least
/// [`super::resume::RESUME_MIN`] known bytes resumably, in parts: see [`super::resume`]).
/// Returns the bytes of the object and
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
    if let Some(size) = budget.size.filter(|&s| s >= super::resume::RESUME_MIN)
        && !hash.is_dir()
    {
        return super::resume::download(remote, odb, hash, size, budget, meter).await;
    }
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
/// place only when the md5 matches. The first [`INLINE_WRITE_MAX`] bytes are hashed and written
/// where they arrive; past that, in batches on a blocking thread (one at a time, the next batch
/// arriving meanwhile), so the downloads of several large objects hash on several cores.
async fn download_once(
    mut stream: ByteStream,
    remote: &str,
    odb: &Odb,
    hash: &HashInfo,
    key: &str,
    size: Option<u64>,
) -> Result<u64, CopyError> {
    let limit = read_limit(hash, size);
    let temp = odb.create_temp(hash).map_err(|source| CopyError::Local {
        path: odb.path(hash),
        reason: source,
    })?;
    let shown = odb.path(hash);
    let local = |source| CopyError::Local {
        path: shown.clone(),
        reason: source,
    };
    let mut sink = Held::Here(StreamSink {
        hasher: Md5::new(),
        temp,
        written: 0,
        twin: None,
        twin_due: odb.twins.clone().filter(|_| !hash.is_dir()),
        size,
    });
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batched = 0usize;
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        received += chunk.len() as u64;
        if let Some(limit) = limit.filter(|&l| received > l) {
            return Err(oversized(remote, key, &hash.md5, received, limit).into());
        }
        if let Held::Here(inline) = &mut sink
            && received <= INLINE_WRITE_MAX
        {
            inline.write(&[chunk]).map_err(local)?;
            continue;
        }
        batched += chunk.len();
        batch.push(chunk);
        if batched >= WRITE_BATCH {
            let mut next = sink.back().await.map_err(local)?;
            let chunks = std::mem::take(&mut batch);
            batched = 0;
            sink = Held::Away(tokio::task::spawn_blocking(move || {
                let result = next.write(&chunks);
                (next, result)
            }));
        }
    }
    let mut sink = sink.back().await.map_err(local)?;
    sink.write(&batch).map_err(local)?;
    let StreamSink {
        hasher, temp, twin, ..
    } = sink;
    let expected = hash.md5.strip_suffix(".dir").unwrap_or(&hash.md5);
    let actual = if hash.legacy {
        hash::file_md5_dos2unix(&temp.read_path()).map_err(local)?.0
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
    odb.commit_temp(temp, hash).map_err(local)?;
    if let (Some(twins), Some(twin)) = (&odb.twins, twin) {
        twins.finish(hash, twin);
    }
    Ok(received)
}

/// Bytes of a download hashed and written on the runtime's thread, before batches go to a
/// blocking thread (1 MiB: small objects never leave it).
const INLINE_WRITE_MAX: u64 = 1 << 20;

/// The bytes handed to a blocking thread at once (1 MiB).
const WRITE_BATCH: usize = 1 << 20;

/// Where a streamed download goes: its md5, the cache's temp file and, once the object proves
/// large, a pull's workspace twin (see [`crate::odb::twins`]).
struct StreamSink {
    hasher: Md5,
    temp: crate::odb::TempObject,
    written: u64,
    twin: Option<crate::odb::twins::Twin>,
    twin_due: Option<std::sync::Arc<crate::odb::twins::Twins>>,
    size: Option<u64>,
}

impl StreamSink {
    fn write(&mut self, chunks: &[Bytes]) -> std::io::Result<()> {
        for chunk in chunks {
            self.hasher.update(chunk);
            self.temp.file.write_all(chunk)?;
            self.written += chunk.len() as u64;
            if let Some(twin) = &mut self.twin {
                twin.append(chunk);
            } else if self.written >= super::resume::RESUME_MIN
                && let Some(twins) = self.twin_due.take()
            {
                self.twin = begin_twin(&twins, &self.temp, self.size.unwrap_or(self.written));
            }
        }
        Ok(())
    }
}

/// A [`StreamSink`], here or writing a batch on a blocking thread.
enum Held {
    Here(StreamSink),
    Away(tokio::task::JoinHandle<(StreamSink, std::io::Result<()>)>),
}

impl Held {
    /// The sink, once its batch (if any) is written; the batch's error otherwise.
    async fn back(self) -> std::io::Result<StreamSink> {
        match self {
            Held::Here(sink) => Ok(sink),
            Held::Away(handle) => {
                let (sink, result) = handle.await.map_err(std::io::Error::other)?;
                result.map(|()| sink)
            }
        }
    }
}

/// A twin of the download being written into `temp`, holding what `temp` holds so far.
fn begin_twin(
    twins: &crate::odb::twins::Twins,
    temp: &crate::odb::TempObject,
    size: u64,
) -> Option<crate::odb::twins::Twin> {
    let mut twin = twins.start(size)?;
    let mut so_far = std::fs::File::open(temp.read_path()).ok()?;
    twin.append_file(&mut so_far);
    Some(twin)
}

/// Where an upload's bytes come from. Both kinds were (or are, as they stream) hashed: a cache
/// file whose bytes do not match its name is never uploaded (dvc issue #10498).
#[derive(Debug, Clone)]
pub enum Payload {
    /// Read once into memory, checked, and shared by every target remote (small objects).
    Bytes(Bytes),
    /// Streamed from a cache file (large objects; each target reads it, from the page cache),
    /// hashed on the way: a mismatch fails the stream before its end, so no upload completes.
    File(PathBuf, u64, HashInfo),
}

/// Objects up to this size are read once and shared by all target remotes.
pub const SHARED_READ_MAX: u64 = 8 << 20;

/// Cache files up to this size are read without a hop to a blocking thread.
const INLINE_READ_MAX: u64 = 256 << 10;

/// Reads all `size` bytes of the open cache file and checks they are the object `hash`.
fn read_checked(
    mut file: std::fs::File,
    size: u64,
    path: &Path,
    hash: &HashInfo,
) -> std::io::Result<Payload> {
    let mut bytes = vec![0u8; size as usize];
    std::io::Read::read_exact(&mut file, &mut bytes)?;
    let actual = hash::md5_of(&bytes, hash.legacy);
    if actual != hash.md5.strip_suffix(".dir").unwrap_or(&hash.md5) {
        return Err(corrupt_cache(path, hash, &actual));
    }
    Ok(Payload::Bytes(Bytes::from(bytes)))
}

/// The error for a cache file whose bytes are not the object its name says.
fn corrupt_cache(path: &Path, hash: &HashInfo, actual: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "the cache file '{}' has md5 {actual}, not {}: it is corrupt and was not uploaded \
             (rerun `ferry add` or `ferry fetch` to restore a good copy)",
            path.display(),
            hash.md5
        ),
    )
}

impl Payload {
    /// Loads the cache file of `hash` in one blocking hop: into memory and checked when small,
    /// else as a path to stream (checked as it streams).
    pub async fn load(odb: &Odb, hash: &HashInfo) -> std::io::Result<Payload> {
        Self::load_up_to(odb, hash, SHARED_READ_MAX).await
    }

    /// [`Payload::load`], reading into memory only a file of at most `inline` bytes: a bigger
    /// one comes back as [`Payload::File`] with its size, so the caller can reserve memory
    /// before loading it.
    pub async fn load_up_to(odb: &Odb, hash: &HashInfo, inline: u64) -> std::io::Result<Payload> {
        let path = odb.path(hash);
        let hash = hash.clone();
        let file = std::fs::File::open(&path)?;
        let size = file.metadata()?.len();
        if size > inline.min(SHARED_READ_MAX) {
            return Ok(Payload::File(path, size, hash));
        }
        let read = move || read_checked(file, size, &path, &hash);
        // a small file is read right here: cheaper than the thread hand-offs of a hop
        if size <= INLINE_READ_MAX {
            return read();
        }
        tokio::task::spawn_blocking(read)
            .await
            .map_err(std::io::Error::other)?
    }

    /// Its length.
    pub fn len(&self) -> u64 {
        match self {
            Payload::Bytes(b) => b.len() as u64,
            Payload::File(_, n, _) => *n,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn stream(&self, remote: &str) -> ByteStream {
        match self {
            Payload::Bytes(b) => Box::pin(futures::stream::once(std::future::ready(Ok(b.clone())))),
            Payload::File(path, _, hash) => {
                file_stream(path.clone(), hash.clone(), remote.to_string())
            }
        }
    }
}

/// Streams a cache file in 1 MiB chunks, one blocking hop per chunk, hashing them: at the end
/// of the file a mismatch with `hash` is an error in place of the end of the stream.
fn file_stream(path: PathBuf, hash: HashInfo, remote: String) -> ByteStream {
    struct Reading {
        file: Option<std::fs::File>,
        hasher: Option<hash::ChunkHasher>,
    }
    let legacy = hash.legacy;
    let state = Reading {
        file: None,
        hasher: Some(hash::ChunkHasher::new(legacy)),
    };
    Box::pin(futures::stream::try_unfold(state, move |mut st| {
        let (path, hash, remote) = (path.clone(), hash.clone(), remote.clone());
        async move {
            let Some(mut hasher) = st.hasher.take() else {
                return Ok(None);
            };
            let cannot = |e: std::io::Error| {
                RemoteError::new(
                    ErrorKind::Permanent,
                    &remote,
                    format!("cannot read '{}': {e}", path.display()),
                )
            };
            let file = st.file.take();
            let read_path = path.clone();
            let (file, buf) = tokio::task::spawn_blocking(move || {
                let mut file = match file {
                    Some(f) => f,
                    None => std::fs::File::open(&read_path)?,
                };
                let mut buf = vec![0u8; hash::HASH_CHUNK];
                let mut filled = 0;
                while filled < buf.len() {
                    match std::io::Read::read(&mut file, &mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                buf.truncate(filled);
                Ok((file, buf))
            })
            .await
            .map_err(|e| cannot(std::io::Error::other(e)))?
            .map_err(cannot)?;
            if buf.is_empty() {
                let actual = hasher.finish();
                if actual != hash.md5.strip_suffix(".dir").unwrap_or(&hash.md5) {
                    return Err(cannot(corrupt_cache(&path, &hash, &actual)));
                }
                return Ok(None);
            }
            hasher.update(&buf);
            st.file = Some(file);
            st.hasher = Some(hasher);
            Ok(Some((Bytes::from(buf), st)))
        }
    }))
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
