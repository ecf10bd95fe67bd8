//! A remote that is a directory on this machine (or a mounted share), laid out and written the
//! way DVC does it: temp file in the target directory, rename, mode 0444.
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use std::io::{Read, Write};

use bytes::BytesMut;
use futures::StreamExt;

use super::{
    ByteStream, Capabilities, ErrorKind, Presence, Remote, RemoteError, RemoteSpec, check_key,
};

/// Read chunk size for streaming objects out of the directory.
const READ_CHUNK: usize = 1 << 20;

/// A local-directory remote rooted at an absolute path.
#[derive(Debug)]
pub struct LocalRemote {
    name: String,
    root: PathBuf,
}

impl LocalRemote {
    /// Opens the remote at the spec's absolute path or `file://` URL. The directory need not exist
    /// yet: the first write creates it, as DVC does.
    pub fn open(spec: &RemoteSpec) -> Result<Self, RemoteError> {
        let root = if spec.url.starts_with("file://") {
            url::Url::parse(&spec.url)
                .ok()
                .and_then(|u| u.to_file_path().ok())
        } else {
            Some(PathBuf::from(&spec.url))
        };
        match root {
            Some(root) if root.is_absolute() => Ok(Self {
                name: spec.name.clone(),
                root,
            }),
            _ => Err(RemoteError::new(
                ErrorKind::Permanent,
                &spec.name,
                format!(
                    "local remote URL '{}' is not an absolute path or file:// URL",
                    spec.url
                ),
            )
            .with_advice(format!(
                "give remote '{0}' an absolute path, e.g. `ferry remote modify {0} url /PATH`",
                spec.name
            ))),
        }
    }

    fn io_error(&self, key: &str, what: &str, e: &io::Error) -> RemoteError {
        let kind = match e.kind() {
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Permanent,
        };
        RemoteError::new(
            kind,
            &self.name,
            format!("{what} '{}': {e}", self.root.join(key).display()),
        )
        .with_key(key)
    }

    /// Streams bytes `start..end` of the object (to its end when `end` is `None`).
    async fn read_from(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<ByteStream, RemoteError> {
        check_key(&self.name, key)?;
        // Opening and reading the first chunk: all of a small object, without a hop.
        let path = self.root.join(key);
        let open = || -> io::Result<_> {
            let mut file = std::fs::File::open(path)?;
            let size = file.metadata()?.len();
            let end = end.map_or(size, |e| e.min(size));
            if start > 0 {
                std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start))?;
            }
            Ok((file, end.saturating_sub(start)))
        };
        let (mut file, len) = open().map_err(|e| self.io_error(key, "cannot read", &e))?;
        let (file, first, left) = self
            .blocking(key, "cannot read", len <= INLINE_MAX as u64, move || {
                let first = read_chunk(&mut file, len)?;
                let left = len - first.len() as u64;
                Ok((file, first, left))
            })
            .await?;
        let name = self.name.clone();
        let key = key.to_string();
        let state = (file, Some(first), left);
        let stream = futures::stream::try_unfold(state, move |(mut file, first, left)| {
            let name = name.clone();
            let key = key.clone();
            async move {
                if let Some(chunk) = first {
                    return Ok((!chunk.is_empty()).then_some((chunk, (file, None, left))));
                }
                if left == 0 {
                    return Ok(None);
                }
                let cannot = |e: String| {
                    RemoteError::new(ErrorKind::Permanent, &name, format!("cannot read: {e}"))
                        .with_key(&key)
                };
                let (file, chunk) = tokio::task::spawn_blocking(move || {
                    read_chunk(&mut file, left).map(|chunk| (file, chunk))
                })
                .await
                .map_err(|e| cannot(e.to_string()))?
                .map_err(|e| cannot(e.to_string()))?;
                // a file that shrank meanwhile ends early; its md5 check will say so
                let left = if chunk.is_empty() {
                    0
                } else {
                    left.saturating_sub(chunk.len() as u64)
                };
                Ok((!chunk.is_empty()).then_some((chunk, (file, None, left))))
            }
        });
        Ok(Box::pin(stream))
    }

    /// Runs `work` on a blocking thread: one hop per batch of a large body, never one per
    /// syscall as `tokio::fs` would. With `inline`, it runs right here instead: a request on a
    /// small object is a few syscalls, cheaper than the two thread wake-ups of a hop (measured:
    /// the hops were a third of a many-file push's CPU).
    async fn blocking<T: Send + 'static>(
        &self,
        key: &str,
        what: &'static str,
        inline: bool,
        work: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> Result<T, RemoteError> {
        if inline {
            return work().map_err(|e| self.io_error(key, what, &e));
        }
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.io_error(key, what, &e)),
            Err(e) => Err(RemoteError::new(
                ErrorKind::Permanent,
                &self.name,
                format!("{what} '{key}': the file task failed: {e}"),
            )
            .with_key(key)),
        }
    }
}

/// Up to this many bytes of an upload's body are gathered before one blocking hop writes them
/// (an object at most this big is created, written and renamed in a single hop).
const WRITE_BATCH: usize = 4 << 20;

/// Objects up to this size are read and written without a hop to a blocking thread.
const INLINE_MAX: usize = 256 << 10;

/// Creates the file an upload is written into, read-only (the open handle can still write; see
/// [`crate::odb::TempObject`]), making its directory only when it is missing: one `mkdir` per
/// new directory, not per object.
fn create_temp(dir: &Path) -> io::Result<crate::odb::TempObject> {
    use crate::odb::TempObject;
    match TempObject::create(dir, 0o444) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            TempObject::create(dir, 0o444)
        }
        other => other,
    }
}

/// Writes one batch of an upload to its file (created on the first batch) and, on the last
/// one, checks the size and puts it in place; nothing is left behind on failure.
struct Upload {
    dir: PathBuf,
    target: PathBuf,
    temp: Option<crate::odb::TempObject>,
    written: u64,
}

impl Upload {
    fn write(mut self, batch: Vec<bytes::Bytes>, last: bool, size: u64) -> io::Result<Self> {
        let temp = match &mut self.temp {
            Some(t) => t,
            None => self.temp.insert(create_temp(&self.dir)?),
        };
        for chunk in &batch {
            temp.file.write_all(chunk)?;
            self.written += chunk.len() as u64;
        }
        if !last {
            return Ok(self);
        }
        if self.written != size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the upload supplied {} bytes, {size} expected",
                    self.written
                ),
            ));
        }
        if crate::odb::umask() & 0o444 != 0 {
            temp.file
                .set_permissions(std::fs::Permissions::from_mode(0o444))?;
        }
        if let Some(t) = self.temp.take() {
            t.commit(&self.target)?;
        }
        Ok(self)
    }
}

/// Reads the next `min(left, READ_CHUNK)` bytes (less only at the end of the file).
fn read_chunk(file: &mut std::fs::File, left: u64) -> io::Result<bytes::Bytes> {
    let want = left.min(READ_CHUNK as u64) as usize;
    let mut buf = BytesMut::zeroed(want);
    let mut filled = 0;
    while filled < want {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf.freeze())
}

/// Whether `name` is a temp file of an upload in progress (dvc's `.<random>.tmp` or Ferry's),
/// which listings skip.
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Every file under `dir` (recursively) as a key relative to `root`, skipping temp files.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            walk(root, &path, out)?;
        } else if !is_temp_name(&entry.file_name().to_string_lossy())
            && let Ok(rel) = path.strip_prefix(root)
        {
            let key: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((key.join("/"), entry.metadata()?.len()));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Remote for LocalRemote {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL
    }

    async fn stat(&self, key: &str) -> Result<Presence, RemoteError> {
        check_key(&self.name, key)?;
        let path = self.root.join(key);
        self.blocking(key, "cannot stat", true, move || {
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_file() => Ok(Presence::Present(Some(meta.len()))),
                Ok(_) => Ok(Presence::Absent),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Presence::Absent),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>, RemoteError> {
        if prefix.split('/').any(|seg| seg == "..") || prefix.starts_with('/') {
            return Err(RemoteError::new(
                ErrorKind::Permanent,
                &self.name,
                format!("refusing list prefix '{prefix}'"),
            ));
        }
        let dir_part = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let root = self.root.clone();
        let dir = root.join(dir_part);
        let prefix_owned = prefix.to_string();
        let found = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            walk(&root, &dir, &mut out).map(|()| out)
        })
        .await
        .map_err(|e| {
            RemoteError::new(
                ErrorKind::Permanent,
                &self.name,
                format!("listing failed: {e}"),
            )
        })?
        .map_err(|e| self.io_error(prefix, "cannot list", &e))?;
        let mut keys: Vec<(String, u64)> = found
            .into_iter()
            .filter(|(k, _)| k.starts_with(&prefix_owned))
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }

    async fn read(&self, key: &str) -> Result<ByteStream, RemoteError> {
        self.read_from(key, 0, None).await
    }

    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<super::Ranged, RemoteError> {
        let body = self.read_from(key, start, end).await?;
        Ok(super::Ranged { start, body })
    }

    async fn write(&self, key: &str, mut body: ByteStream, size: u64) -> Result<(), RemoteError> {
        check_key(&self.name, key)?;
        let target = self.root.join(key);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        let mut upload = Some(Upload {
            dir,
            target,
            temp: None,
            written: 0,
        });
        loop {
            // Gather a batch of the body, then write it in one hop.
            let mut batch = Vec::new();
            let mut gathered = 0;
            let last = loop {
                match body.next().await {
                    Some(Ok(chunk)) => {
                        gathered += chunk.len();
                        batch.push(chunk);
                        if gathered >= WRITE_BATCH {
                            break false;
                        }
                    }
                    Some(Err(e)) => return Err(e),
                    None => break true,
                }
            };
            let Some(u) = upload.take() else {
                return Ok(());
            };
            let written = self
                .blocking(
                    key,
                    "cannot write",
                    last && gathered <= INLINE_MAX,
                    move || u.write(batch, last, size),
                )
                .await?;
            if last {
                return Ok(());
            }
            upload = Some(written);
        }
    }

    async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        check_key(&self.name, key)?;
        let path = self.root.join(key);
        self.blocking(
            key,
            "cannot delete",
            true,
            move || match std::fs::remove_file(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        )
        .await
    }
}
