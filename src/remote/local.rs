//! A remote that is a directory on this machine (or a mounted share), laid out and written the
//! way DVC does it: temp file in the target directory, rename, mode 0444.
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
            )),
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

    async fn write_to_temp(
        &self,
        key: &str,
        tmp: &Path,
        mut body: ByteStream,
        size: u64,
    ) -> Result<(), RemoteError> {
        let mut file = tokio::fs::File::create(tmp)
            .await
            .map_err(|e| self.io_error(key, "cannot create a temp file for", &e))?;
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            written += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| self.io_error(key, "cannot write", &e))?;
        }
        file.flush()
            .await
            .map_err(|e| self.io_error(key, "cannot write", &e))?;
        if written != size {
            return Err(RemoteError::new(
                ErrorKind::Permanent,
                &self.name,
                format!("the upload of '{key}' supplied {written} bytes, {size} expected"),
            )
            .with_key(key));
        }
        tokio::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o444))
            .await
            .map_err(|e| self.io_error(key, "cannot set the mode of", &e))
    }
}

/// `.<random>.tmp`, DVC's temp-name shape, so listings (ours and DVC's) skip it.
fn temp_name() -> String {
    format!(
        ".{:016x}{:016x}.tmp",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

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
        match tokio::fs::metadata(self.root.join(key)).await {
            Ok(meta) if meta.is_file() => Ok(Presence::Present(Some(meta.len()))),
            Ok(_) => Ok(Presence::Absent),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Presence::Absent),
            Err(e) => Err(self.io_error(key, "cannot stat", &e)),
        }
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
        check_key(&self.name, key)?;
        let file = tokio::fs::File::open(self.root.join(key))
            .await
            .map_err(|e| self.io_error(key, "cannot open", &e))?;
        let name = self.name.clone();
        let key = key.to_string();
        let stream = futures::stream::try_unfold(Some(file), move |state| {
            let name = name.clone();
            let key = key.clone();
            async move {
                let Some(mut file) = state else {
                    return Ok(None);
                };
                let mut buf = BytesMut::with_capacity(READ_CHUNK);
                let n = file.read_buf(&mut buf).await.map_err(|e| {
                    RemoteError::new(ErrorKind::Permanent, &name, format!("cannot read: {e}"))
                        .with_key(&key)
                })?;
                Ok(if n == 0 {
                    None
                } else {
                    Some((buf.freeze(), Some(file)))
                })
            }
        });
        Ok(Box::pin(stream))
    }

    async fn write(&self, key: &str, body: ByteStream, size: u64) -> Result<(), RemoteError> {
        check_key(&self.name, key)?;
        let target = self.root.join(key);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| self.io_error(key, "cannot create the directory for", &e))?;
        let tmp = dir.join(temp_name());
        let result = match self.write_to_temp(key, &tmp, body, size).await {
            Ok(()) => tokio::fs::rename(&tmp, &target)
                .await
                .map_err(|e| self.io_error(key, "cannot rename into place", &e)),
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        check_key(&self.name, key)?;
        match tokio::fs::remove_file(self.root.join(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io_error(key, "cannot delete", &e)),
        }
    }
}
