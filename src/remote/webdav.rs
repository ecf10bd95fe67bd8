//! WebDAV remotes (`webdav://host/path` over HTTP, `webdavs://` over HTTPS), as dvc-webdav
//! reads them: `user`/`password` (basic), `token` (bearer), `custom_auth_header` + `password`,
//! `ssl_verify`, `timeout`. Client certificates (`cert_path`, `key_path`) are refused with a
//! clear error rather than ignored.
//!
//! Objects move as on an HTTP remote with `method = PUT` (streamed GET and PUT, one client per
//! remote); WebDAV adds what plain HTTP lacks: PROPFIND for existence and listing, and MKCOL for
//! the `files/md5/xx` collections a PUT needs (a server answers 409 to a PUT into a collection
//! that does not exist). Collections made or seen once are not asked about again in this run.
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use futures::TryStreamExt;
use http::{HeaderName, HeaderValue};
use opendal::{Buffer, HttpBody, HttpTransport, HttpTransporter, OperationContext, Operator};
use opendal_http_transport_reqwest::ReqwestTransport;

use super::classify::{classify_status, display_url, http_auth_advice};
use super::options::{get, http_client, invalid};
use super::presence_of;
use super::s3::response_status;
use super::{
    ByteStream, Capabilities, ErrorKind, HttpRemote, Presence, Remote, RemoteError, RemoteSpec,
    check_key,
};

/// A WebDAV remote.
pub struct WebDavRemote {
    name: String,
    /// `webdav://host/path`, without credentials, for messages.
    display: String,
    /// GET, PUT and DELETE, streamed.
    http: HttpRemote,
    /// PROPFIND and MKCOL.
    op: Operator,
    /// Collections (`files/md5/ab/`) known to exist.
    collections: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for WebDavRemote {
    /// Shows no credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebDavRemote")
            .field("name", &self.name)
            .field("url", &self.display)
            .finish_non_exhaustive()
    }
}

/// Adds the `custom_auth_header` to every PROPFIND/MKCOL (OpenDAL's WebDAV service knows only
/// basic and bearer authentication).
struct HeaderTransport {
    inner: ReqwestTransport,
    header: Option<(HeaderName, HeaderValue)>,
}

impl HttpTransport for HeaderTransport {
    fn fetch(
        &self,
        mut req: http::Request<Buffer>,
    ) -> impl Future<Output = opendal::Result<http::Response<HttpBody>>> + Send {
        if let Some((name, value)) = &self.header {
            req.headers_mut().insert(name.clone(), value.clone());
        }
        self.inner.fetch(req)
    }
}

impl WebDavRemote {
    /// Builds the HTTP client and the PROPFIND/MKCOL operator from the URL and dvc-webdav's
    /// options.
    pub fn open(spec: &RemoteSpec) -> Result<Self, RemoteError> {
        let (scheme, rest) = spec
            .url
            .split_once("://")
            .ok_or_else(|| invalid(spec, format!("invalid WebDAV URL '{}'", spec.url)))?;
        let http_scheme = match scheme.to_ascii_lowercase().as_str() {
            "webdav" => "http",
            _ => "https",
        };
        let http_url = format!("{http_scheme}://{}", rest.trim_end_matches('/'));
        let parsed = url::Url::parse(&http_url)
            .map_err(|e| invalid(spec, format!("invalid WebDAV URL '{}': {e}", spec.url)))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| invalid(spec, format!("no host in WebDAV URL '{}'", spec.url)))?;
        let endpoint = match parsed.port() {
            Some(port) => format!("{http_scheme}://{host}:{port}"),
            None => format!("{http_scheme}://{host}"),
        };
        if get(spec, "cert_path").is_some() || get(spec, "key_path").is_some() {
            return Err(invalid(
                spec,
                "client certificates (cert_path, key_path) are not supported by Ferry's WebDAV \
                 remote yet; use user/password or token",
            ));
        }
        let user = get(spec, "user")
            .map(str::to_string)
            .or_else(|| Some(parsed.username().to_string()).filter(|u| !u.is_empty()));
        let password = get(spec, "password")
            .map(str::to_string)
            .or_else(|| parsed.password().map(str::to_string));

        let bytes_spec = http_spec(spec, &http_url, &user, &password);
        let http = HttpRemote::open(&bytes_spec)?;

        let mut builder = opendal::services::Webdav::default()
            .endpoint(&endpoint)
            .root(parsed.path());
        let mut header = None;
        if let Some(token) = get(spec, "token") {
            builder = builder.token(token);
        } else if let Some(name) = get(spec, "custom_auth_header") {
            let password = password.as_deref().ok_or_else(|| {
                invalid(
                    spec,
                    "'custom_auth_header' needs the header's value in 'password'",
                )
            })?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(spec, format!("'{name}' is not a valid HTTP header name")))?;
            let mut value = HeaderValue::from_str(password).map_err(|_| {
                invalid(
                    spec,
                    "the password contains characters not allowed in an HTTP header",
                )
            })?;
            value.set_sensitive(true);
            header = Some((name, value));
        } else if let Some(user) = &user {
            builder = builder.username(user);
            if let Some(password) = &password {
                builder = builder.password(password);
            }
        }
        let transport = HttpTransporter::new(HeaderTransport {
            inner: ReqwestTransport::new(http_client(&bytes_spec)?),
            header,
        });
        let op = Operator::new(builder)
            .map_err(|e| {
                invalid(
                    spec,
                    format!("cannot set up the WebDAV client: {}", e.message()),
                )
            })?
            .with_context(OperationContext::new().with_http_transport(transport));
        Ok(Self {
            name: spec.name.clone(),
            display: display_url(&spec.url).trim_end_matches('/').to_string(),
            http,
            op,
            collections: Mutex::new(HashSet::new()),
        })
    }

    /// Classifies by the HTTP status when the server answered (one table for every backend),
    /// else by OpenDAL's kind.
    fn error(&self, what: &str, key: &str, e: &opendal::Error) -> RemoteError {
        let status = response_status(&e.to_string());
        let kind = match (status, e.kind()) {
            (Some(status), _) => classify_status(status, e.message(), None),
            (None, kind) => match kind {
                opendal::ErrorKind::NotFound => ErrorKind::NotFound,
                opendal::ErrorKind::PermissionDenied => ErrorKind::Auth,
                opendal::ErrorKind::RateLimited => ErrorKind::Throttled,
                opendal::ErrorKind::ConfigInvalid | opendal::ErrorKind::Unsupported => {
                    ErrorKind::Permanent
                }
                _ if e.is_temporary() => ErrorKind::Transient,
                _ => ErrorKind::Permanent,
            },
        };
        let detail = match status {
            Some(status) => format!("HTTP {status}"),
            None => {
                let mut detail = e.message().to_string();
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    detail.push_str(&format!(": {s}"));
                    source = s.source();
                }
                detail
            }
        };
        let err = RemoteError::new(
            kind,
            &self.name,
            format!("{what} {}/{key}: {detail}", self.display),
        )
        .with_key(key);
        if kind == ErrorKind::Auth {
            err.with_advice(http_auth_advice(&self.name))
        } else {
            err
        }
    }

    /// Makes sure the collection holding `key` exists (MKCOL of each missing level), once per
    /// collection and run.
    async fn ensure_parent(&self, key: &str) -> Result<(), RemoteError> {
        let Some((parent, _)) = key.rsplit_once('/') else {
            return Ok(());
        };
        let dir = format!("{parent}/");
        if self.known(&dir) {
            return Ok(());
        }
        self.op
            .create_dir(&dir)
            .await
            .map_err(|e| self.error("MKCOL", &dir, &e))?;
        if let Ok(mut known) = self.collections.lock() {
            known.insert(dir);
        }
        Ok(())
    }

    fn known(&self, dir: &str) -> bool {
        self.collections
            .lock()
            .map(|known| known.contains(dir))
            .unwrap_or(false)
    }
}

/// The spec of the HTTP remote that moves the bytes: same name, the http(s) URL, uploads by PUT,
/// and dvc-webdav's auth and `timeout` in dvc-http's terms.
fn http_spec(
    spec: &RemoteSpec,
    http_url: &str,
    user: &Option<String>,
    password: &Option<String>,
) -> RemoteSpec {
    let mut options = BTreeMap::new();
    options.insert("method".to_string(), "PUT".to_string());
    if let Some(v) = get(spec, "ssl_verify") {
        options.insert("ssl_verify".into(), v.into());
    }
    if let Some(v) = get(spec, "timeout") {
        options.insert("connect_timeout".into(), v.into());
        options.insert("read_timeout".into(), v.into());
    }
    let custom = |header: &str, value: &str| {
        [
            ("auth", "custom"),
            ("custom_auth_header", header),
            ("password", value),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    };
    if let Some(token) = get(spec, "token") {
        options.extend(custom("Authorization", &format!("Bearer {token}")));
    } else if let (Some(header), Some(password)) = (get(spec, "custom_auth_header"), password) {
        options.extend(custom(header, password));
    } else if let (Some(user), Some(password)) = (user, password) {
        options.insert("auth".into(), "basic".into());
        options.insert("user".into(), user.clone());
        options.insert("password".into(), password.clone());
    }
    let mut url = url::Url::parse(http_url).ok();
    if let Some(u) = url.as_mut() {
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    RemoteSpec {
        name: spec.name.clone(),
        url: url
            .map(|u| u.to_string())
            .unwrap_or_else(|| http_url.to_string()),
        options,
    }
}

#[async_trait::async_trait]
impl Remote for WebDavRemote {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL
    }

    /// One PROPFIND (depth 0): no body is sent back, unlike DVC's HTTP existence GET. A
    /// collection at the key is not an object.
    async fn stat(&self, key: &str) -> Result<Presence, RemoteError> {
        check_key(&self.name, key)?;
        presence_of(self.op.stat(key).await).map_err(|e| self.error("PROPFIND", key, &e))
    }

    /// PROPFIND (depth 1) down every collection under the prefix's own collection, keeping the
    /// files whose key starts with `prefix`. A collection that does not exist holds nothing.
    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>, RemoteError> {
        let dir = match prefix.rsplit_once('/') {
            Some((parent, _)) => format!("{parent}/"),
            None => "/".to_string(),
        };
        let mut lister = match self.op.lister_with(&dir).recursive(true).await {
            Ok(lister) => lister,
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error("PROPFIND", prefix, &e)),
        };
        let mut keys = Vec::new();
        loop {
            match lister.try_next().await {
                Ok(Some(entry)) => {
                    let path = entry.path().trim_start_matches('/');
                    if entry.metadata().is_file() && path.starts_with(prefix) {
                        keys.push((path.to_string(), entry.metadata().content_length()));
                    }
                }
                Ok(None) => break,
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => break,
                Err(e) => return Err(self.error("PROPFIND", prefix, &e)),
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    async fn read(&self, key: &str) -> Result<ByteStream, RemoteError> {
        self.http.read(key).await
    }

    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<super::Ranged, RemoteError> {
        self.http.read_range(key, start, end).await
    }

    /// MKCOL of the missing collections, then one streamed PUT.
    async fn write(&self, key: &str, body: ByteStream, size: u64) -> Result<(), RemoteError> {
        check_key(&self.name, key)?;
        self.ensure_parent(key).await?;
        self.http.write(key, body, size).await
    }

    async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        self.http.delete(key).await
    }
}
