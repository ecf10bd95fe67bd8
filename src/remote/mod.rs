//! Storage remotes behind one trait: a backend moves bytes and classifies its errors; it knows
//! nothing of routing, budgets or DVC semantics (those live in `transfer`). Every remote a
//! command uses is wrapped in a [`Stack`] (retry → concurrency → meter → capability) when it
//! is opened; nothing above this module talks to a backend directly.
use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;

use crate::error::{Exit, Hint};

mod body;
mod classify;
mod http;
mod local;
mod options;
mod retry;
mod s3;
mod s3_wire;
mod stack;
mod webdav;

pub(crate) use body::guard_progress;
pub use classify::display_url;
pub use http::HttpRemote;
pub use local::LocalRemote;
pub use retry::RetryPolicy;
pub use s3::{MULTIPART_CHUNK, S3Remote};
pub use stack::{AttemptError, Op, ReadBudget, Span, Spent, Stack, StackConfig};
pub use webdav::WebDavRemote;

/// A remote as configured: its name, URL and DVC options, merged over all config levels and
/// the `FERRY_REMOTE_<NAME>_<KEY>` environment overrides.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// The remote's name, lowercased as DVC stores it.
    pub name: String,
    /// The URL as written in the config (`s3://…`, `https://…`, a local path made absolute).
    pub url: String,
    /// Every other option (`endpointurl`, `auth`, `password`, `jobs`, …), keys lowercased.
    pub options: BTreeMap<String, String>,
}

impl fmt::Debug for RemoteSpec {
    /// Never shows option values or URL credentials: they may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSpec")
            .field("name", &self.name)
            .field("url", &display_url(&self.url))
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// How a failed remote operation should be treated by retries and by the router (DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object is not on the remote (404).
    NotFound,
    /// The remote's download or request cap is exhausted; it will refuse until its reset.
    Quota,
    /// Asked to slow down (429, 503 SlowDown); retry on the same remote after a pause.
    Throttled,
    /// Credentials missing or refused (401, 403 without cap text).
    Auth,
    /// A passing failure (5xx, timeout, reset, truncated body); retry, then move on.
    Transient,
    /// Bytes arrived but their md5 does not match the object id.
    Corrupt,
    /// The backend cannot do this (e.g. listing an HTTP remote).
    Unsupported,
    /// Another request would pass the remote's configured daily limit; none was sent.
    OverBudget,
    /// Anything else that retrying will not fix (bad request, bad URL, local I/O).
    Permanent,
}

impl ErrorKind {
    /// Whether retrying the same request on the same remote may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Transient)
    }
}

/// A classified error from a remote, with the remote, key and a message free of secrets.
#[derive(Debug, Clone, thiserror::Error)]
#[error("remote '{remote}': {message}")]
pub struct RemoteError {
    /// The class the router and retry logic act on.
    pub kind: ErrorKind,
    /// The remote's name.
    pub remote: String,
    /// The object key involved, if any.
    pub key: Option<String>,
    /// What happened, never containing credentials.
    pub message: String,
    /// A server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    /// How many attempts were made before giving up (1 unless a retry wrapper tried again).
    pub attempts: u32,
    /// The backend's own advice, naming its options (an S3 key pair, HTTP `user`/`password`,
    /// `method PUT`); replaces the generic hint of the error's kind.
    pub advice: Option<String>,
}

impl RemoteError {
    /// A new error of `kind` on `remote`.
    pub fn new(kind: ErrorKind, remote: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            remote: remote.to_string(),
            key: None,
            message: message.into(),
            retry_after: None,
            attempts: 1,
            advice: None,
        }
    }

    /// Attaches the backend's advice (see [`RemoteError::advice`]).
    pub fn with_advice(mut self, advice: impl Into<String>) -> Self {
        self.advice = Some(advice.into());
        self
    }

    /// Attaches the server's `Retry-After`.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Attaches the object key.
    pub fn with_key(mut self, key: &str) -> Self {
        self.key = Some(key.to_string());
        self
    }
}

/// What an existence check found. The size lets the caller refuse an answer that is not the
/// object (a login page served with 200 for every URL has the page's length, not the object's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Definitely not there (404).
    Absent,
    /// There, with its size in bytes when the answer told it.
    Present(Option<u64>),
}

impl Presence {
    /// Whether this counts as holding an object of `expected` bytes (when known): a size that
    /// the answer revealed must match it.
    pub fn holds(self, expected: Option<u64>) -> bool {
        match (self, expected) {
            (Presence::Absent, _) => false,
            (Presence::Present(Some(got)), Some(want)) => got == want,
            (Presence::Present(_), _) => true,
        }
    }
}

/// A multipart upload that was started and never completed nor aborted: its parts stay stored
/// (and billed, on B2 and S3) until someone aborts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    /// The object key, relative to the remote's root.
    pub key: String,
    /// The server's id of the upload (what aborting it takes).
    pub upload_id: String,
    /// When it was started, as the server wrote it (ISO 8601).
    pub initiated: String,
}

/// A stream of object bytes; backends produce it on read and consume it on write.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, RemoteError>> + Send>>;

/// The answer to a ranged read: a body and the object offset its first byte is at. That is
/// the offset asked for, or 0 when the server ignored the range and sent the whole object (the
/// caller then skips what it already has).
pub struct Ranged {
    /// Where in the object the body starts.
    pub start: u64,
    /// The bytes from `start` on.
    pub body: ByteStream,
}

/// What a backend can do beyond read/write/exists/delete, so callers never match on its type.
#[derive(Debug, Clone, Copy, Default)]
pub struct Capabilities {
    /// Can list keys under a prefix (S3, local); HTTP cannot.
    pub list: bool,
    /// Accepts writes.
    pub write: bool,
    /// Can delete objects.
    pub delete: bool,
}

impl Capabilities {
    /// Everything: a backend that lists, writes and deletes (local, S3, WebDAV).
    pub const FULL: Capabilities = Capabilities {
        list: true,
        write: true,
        delete: true,
    };
}

/// What an OpenDAL `stat` says of a key, for the backends built on OpenDAL (S3, WebDAV): a file
/// is present with its size, a missing key or a collection (directory) is absent; any other
/// error is the backend's to classify.
pub(crate) fn presence_of(
    stat: Result<opendal::Metadata, opendal::Error>,
) -> Result<Presence, opendal::Error> {
    match stat {
        Ok(meta) if meta.is_file() => Ok(Presence::Present(Some(meta.content_length()))),
        Ok(_) => Ok(Presence::Absent),
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(Presence::Absent),
        Err(e) => Err(e),
    }
}

/// One storage remote. Keys are relative to the remote's root with `/` separators, e.g.
/// `files/md5/ab/cdef…` (DVC 3) or `ab/cdef…` (legacy layout).
#[async_trait::async_trait]
pub trait Remote: Send + Sync {
    /// The remote's configured name.
    fn name(&self) -> &str;
    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;
    /// Whether `key` exists and, when the answer says it, its size. `Absent` only for a
    /// definite "not found".
    async fn stat(&self, key: &str) -> Result<Presence, RemoteError>;
    /// [`Remote::stat`] by a GET of the object's first byte, for a backend whose `stat`
    /// answered `Unsupported` (an HTTP server that refuses HEAD); the stack sends it as a
    /// second, separately charged request. Backends without it are `Unsupported`.
    async fn stat_by_range(&self, key: &str) -> Result<Presence, RemoteError> {
        Err(RemoteError::new(
            ErrorKind::Unsupported,
            self.name(),
            format!("cannot check '{key}' by a ranged GET"),
        ))
    }
    /// Whether `key` exists. `Ok(false)` only for a definite "not found".
    async fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        Ok(self.stat(key).await? != Presence::Absent)
    }
    /// Every key under `prefix` (recursive) with its size in bytes, sorted by key. Only when
    /// `capabilities().list`. Sizes let the router plan budgets before downloading.
    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>, RemoteError>;
    /// Every key under `prefix` (recursive), sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, RemoteError> {
        Ok(self
            .list_sized(prefix)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }
    /// Streams the object's bytes.
    async fn read(&self, key: &str) -> Result<ByteStream, RemoteError>;
    /// Streams the object's bytes from offset `start` up to `end` (exclusive; the object's end
    /// when `None`): `Range: bytes=start-` on the wire, so an interrupted download continues
    /// where it stopped and a large object can come in parts. A server that ignores the range
    /// answers with the whole object ([`Ranged::start`] is then 0); so does this default, for
    /// backends that cannot ask for less.
    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<Ranged, RemoteError> {
        let _ = (start, end);
        Ok(Ranged {
            start: 0,
            body: self.read(key).await?,
        })
    }
    /// Stores `size` bytes from `body` under `key`; the object appears whole or not at all
    /// where the backend allows it.
    async fn write(&self, key: &str, body: ByteStream, size: u64) -> Result<(), RemoteError>;
    /// Deletes `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), RemoteError>;
    /// LIST-class calls (B2 Class C: ListObjectsV2 pages, ListMultipartUploads) this backend
    /// sent since it was last asked, counted where the requests leave, so the stack's meter
    /// charges what the server bills. `None` (the default) when it does not count them: the
    /// stack then charges one per listing attempt.
    fn take_list_calls(&self) -> Option<u64> {
        None
    }
    /// The multipart uploads under the remote's root that were never completed nor aborted
    /// (S3 `ListMultipartUploads`, first 1,000), so `doctor` can report parts piling up.
    /// `Unsupported` for backends without multipart uploads.
    async fn pending_uploads(&self) -> Result<Vec<PendingUpload>, RemoteError> {
        Err(RemoteError::new(
            ErrorKind::Unsupported,
            self.name(),
            "this backend has no multipart uploads",
        ))
    }
}

impl Hint for RemoteError {
    fn hint(&self) -> Option<String> {
        if let Some(advice) = &self.advice {
            return Some(advice.clone());
        }
        let name = &self.remote;
        match self.kind {
            ErrorKind::Auth => Some(format!(
                "check the credentials of remote '{name}', e.g. `ferry remote modify {name} --local \
                 password …` (HTTP) or `… access_key_id`/`secret_access_key` (S3); \
                 `ferry doctor -r {name}` tests them"
            )),
            ErrorKind::Quota => Some(format!(
                "remote '{name}' reports its download cap is exhausted; pull from another remote or \
                 wait for its reset"
            )),
            ErrorKind::Transient | ErrorKind::Throttled => Some(format!(
                "remote '{name}' may be down or overloaded; rerun later, the work done is kept \
                 (`ferry doctor -r {name}` checks it)"
            )),
            ErrorKind::NotFound => Some(format!(
                "remote '{name}' does not hold it; push it from a machine that has the data \
                 (`ferry push -r {name}`), or pull from another remote"
            )),
            ErrorKind::Corrupt => Some(format!(
                "remote '{name}' holds a damaged copy; the download was discarded. Push a good \
                 copy from a machine that has the data: `ferry push -r {name}`"
            )),
            ErrorKind::OverBudget => Some(format!(
                "remote '{name}' reached a daily limit set in .dvc/ferry.toml; `ferry remote \
                 usage` shows which and when it resets, or raise it with `ferry remote modify \
                 {name} daily_download_limit|daily_request_limit|daily_list_limit …`"
            )),
            ErrorKind::Unsupported | ErrorKind::Permanent => Some(format!(
                "check the options of remote '{name}' with `ferry remote list -v`; \
                 `ferry doctor -r {name}` tests it"
            )),
        }
    }

    /// Refused credentials are a configuration problem (251), as the README promises; every
    /// other remote failure fails the command (1).
    fn exit(&self) -> Exit {
        match self.kind {
            ErrorKind::Auth => Exit::Config,
            _ => Exit::Failed,
        }
    }
}

/// Opens the backend a remote's URL asks for: an absolute local path or `file://` URL,
/// `s3://bucket/prefix`, `b2://bucket/prefix` (S3 at `https://s3.<region>.backblazeb2.com`),
/// `http(s)://…` or `webdav(s)://…`. Each backend builds its client once here, so callers share one per remote.
pub fn open(spec: &RemoteSpec) -> Result<Arc<dyn Remote>, RemoteError> {
    let url = spec.url.as_str();
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    Ok(match scheme.as_deref() {
        None | Some("file") => Arc::new(LocalRemote::open(spec)?),
        Some("s3") | Some("b2") => Arc::new(S3Remote::open(spec)?),
        Some("http") | Some("https") => Arc::new(HttpRemote::open(spec)?),
        Some("webdav") | Some("webdavs") => Arc::new(WebDavRemote::open(spec)?),
        Some(other) => {
            return Err(RemoteError::new(
                ErrorKind::Unsupported,
                &spec.name,
                format!(
                    "unsupported URL scheme '{other}://' (Ferry speaks local paths, s3://, b2://, http://, https://, webdav:// and webdavs://)"
                ),
            )
            .with_advice(format!(
                "give remote '{0}' a URL Ferry speaks, e.g. `ferry remote modify {0} url \
                 s3://BUCKET/PATH`",
                spec.name
            )));
        }
    })
}

/// Refuses keys that could escape the remote's root or are not DVC object keys: empty, absolute,
/// with `.`/`..`/empty segments, backslashes or NUL. Every backend checks before touching storage.
pub(crate) fn check_key(remote: &str, key: &str) -> Result<(), RemoteError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\0')
        || key.contains('\\')
        || key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if bad {
        return Err(RemoteError::new(
            ErrorKind::Permanent,
            remote,
            format!(
                "refusing object key '{}': not a relative path inside the remote",
                key.escape_debug()
            ),
        )
        .with_key(key));
    }
    Ok(())
}
