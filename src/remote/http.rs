//! DVC's HTTP remote protocol (dvc-format.md §6), e.g. DagsHub: object URL = remote URL + "/" +
//! key; existence by GET (body dropped); upload by POST (or PUT with `method`) with a chunked
//! `application/octet-stream` body; basic (preemptive) or custom-header auth. No listing.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderName, HeaderValue, RANGE,
    RETRY_AFTER,
};
use reqwest::{Method, Response, StatusCode};

use super::classify::{
    ERROR_BODY_LIMIT, classify_status, display_url, excerpt, http_auth_advice, parse_retry_after,
    upload_refused_advice,
};
use super::options::{get, http_client, invalid, read_timeout};
use super::{
    ByteStream, Capabilities, ErrorKind, Presence, Ranged, Remote, RemoteError, RemoteSpec,
    check_key, guard_progress,
};

/// An HTTP(S) remote speaking DVC's protocol.
pub struct HttpRemote {
    name: String,
    /// The remote URL without userinfo and without a trailing `/`.
    base: String,
    client: reqwest::Client,
    upload_method: Method,
    /// The credential header sent on every request (marked sensitive: never printed).
    auth: Option<(HeaderName, HeaderValue)>,
    /// How long a body may go without progress (`read_timeout`).
    read_timeout: Duration,
}

impl std::fmt::Debug for HttpRemote {
    /// Shows neither credentials nor headers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRemote")
            .field("name", &self.name)
            .field("base", &display_url(&self.base))
            .field("upload_method", &self.upload_method)
            .finish_non_exhaustive()
    }
}

impl HttpRemote {
    /// Opens the remote from its URL and DVC options (`auth`, `user`, `password`,
    /// `custom_auth_header`, `method`, `ssl_verify`, `connect_timeout`, `read_timeout`).
    /// Credentials in the URL (`https://user:pass@host/…`) count as `auth = basic`, as in DVC.
    pub fn open(spec: &RemoteSpec) -> Result<Self, RemoteError> {
        let mut url = url::Url::parse(&spec.url).map_err(|e| {
            invalid(
                spec,
                format!("invalid URL '{}': {e}", display_url(&spec.url)),
            )
        })?;
        let url_user = (!url.username().is_empty()).then(|| url.username().to_string());
        let url_password = url.password().map(str::to_string);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let base = url.as_str().trim_end_matches('/').to_string();

        let user = get(spec, "user").map(str::to_string).or(url_user);
        let password = get(spec, "password").map(str::to_string).or(url_password);
        let auth_kind = get(spec, "auth").map(str::to_ascii_lowercase).or_else(|| {
            user.as_ref()
                .map(|_| "basic".to_string())
                .filter(|_| password.is_some())
        });
        let auth = match auth_kind.as_deref() {
            None => None,
            Some("basic") => {
                let (Some(user), Some(password)) = (user, password) else {
                    return Err(invalid(
                        spec,
                        "HTTP 'basic' authentication require both 'user' and 'password'",
                    ));
                };
                use base64::Engine as _;
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                Some((AUTHORIZATION, sensitive(spec, &format!("Basic {token}"))?))
            }
            Some("custom") => {
                let (Some(header), Some(password)) = (get(spec, "custom_auth_header"), password)
                else {
                    return Err(invalid(
                        spec,
                        "HTTP 'custom' authentication requires both 'custom_auth_header' and 'password'",
                    ));
                };
                let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                    invalid(spec, format!("'{header}' is not a valid HTTP header name"))
                })?;
                Some((name, sensitive(spec, &password)?))
            }
            Some(other) => {
                return Err(invalid(
                    spec,
                    format!("Auth method '{other}' is not supported (use basic or custom)"),
                ));
            }
        };
        let upload_method = match get(spec, "method").map(str::to_ascii_uppercase).as_deref() {
            None | Some("POST") => Method::POST,
            Some("PUT") => Method::PUT,
            Some(other) => {
                return Err(invalid(
                    spec,
                    format!("upload method '{other}' is not supported (use POST or PUT)"),
                ));
            }
        };
        Ok(Self {
            name: spec.name.clone(),
            base,
            client: http_client(spec)?,
            upload_method,
            auth,
            read_timeout: read_timeout(spec)?,
        })
    }

    fn object_url(&self, key: &str) -> String {
        format!("{}/{key}", self.base)
    }

    fn request(&self, method: Method, key: &str) -> reqwest::RequestBuilder {
        let mut req = self.client.request(method, self.object_url(key));
        if let Some((name, value)) = &self.auth {
            req = req.header(name.clone(), value.clone());
        }
        req
    }

    /// Sends a request, mapping connection-level failures (refused, reset, timeout) to
    /// `Transient`.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        method: &Method,
        key: &str,
    ) -> Result<Response, RemoteError> {
        req.send()
            .await
            .map_err(|e| self.transport_error(&e.without_url(), method, key))
    }

    fn transport_error(&self, e: &reqwest::Error, method: &Method, key: &str) -> RemoteError {
        let kind = if e.is_builder() {
            ErrorKind::Permanent
        } else {
            ErrorKind::Transient
        };
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "failed"
        };
        RemoteError::new(
            kind,
            &self.name,
            format!(
                "{method} {} {what}: {}",
                display_url(&self.object_url(key)),
                error_chain(e)
            ),
        )
        .with_key(key)
    }

    /// A GET answer's body as a stream: one shorter than its `Content-Length` (or cut by the
    /// connection) ends with a `Transient` error, never a silent short object, and so does a
    /// body that stalls (see [`guard_progress`]).
    fn body(&self, resp: Response, key: &str) -> ByteStream {
        let expected = content_length(&resp);
        let name = self.name.clone();
        let url = display_url(&self.object_url(key));
        let what = format!("GET {url}");
        let guarded_key = key.to_string();
        let key = key.to_string();
        let state = (resp.bytes_stream(), 0u64, false);
        let stream = futures::stream::unfold(state, move |(mut body, got, done)| {
            let (name, url, key) = (name.clone(), url.clone(), key.clone());
            async move {
                if done {
                    return None;
                }
                let truncated = |got: u64, cause: String| {
                    RemoteError::new(
                        ErrorKind::Transient,
                        &name,
                        format!("GET {url}: body cut short after {got} bytes{cause}"),
                    )
                    .with_key(&key)
                };
                match body.next().await {
                    Some(Ok(chunk)) => {
                        let got = got + chunk.len() as u64;
                        Some((Ok(chunk), (body, got, false)))
                    }
                    Some(Err(e)) => {
                        let cause = format!(" ({})", error_chain(&e));
                        Some((Err(truncated(got, cause)), (body, got, true)))
                    }
                    None => match expected {
                        Some(len) if got < len => {
                            let cause = format!(" of {len}");
                            Some((Err(truncated(got, cause)), (body, got, true)))
                        }
                        _ => None,
                    },
                }
            }
        });
        guard_progress(
            Box::pin(stream),
            self.read_timeout,
            &self.name,
            &guarded_key,
            what,
        )
    }

    /// Refuses a success answer that is a web page: a server (or a proxy, or a wrong URL) that
    /// answers every path with a login page would otherwise pass for holding every object.
    fn refuse_web_page(
        &self,
        resp: &Response,
        method: &Method,
        key: &str,
    ) -> Result<(), RemoteError> {
        let is_html = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("text/html"));
        if !is_html {
            return Ok(());
        }
        Err(RemoteError::new(
            ErrorKind::Permanent,
            &self.name,
            format!(
                "{method} {} answered HTTP {} with a web page (Content-Type: text/html), not a DVC \
                 object: probably a login page or a wrong URL",
                display_url(&self.object_url(key)),
                status_text(resp.status())
            ),
        )
        .with_key(key))
    }

    /// Turns a non-success response into a classified error, reading at most
    /// [`ERROR_BODY_LIMIT`] of its body for the cap text and the message.
    async fn status_error(&self, resp: Response, method: &Method, key: &str) -> RemoteError {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = read_limited(resp).await;
        let mut kind = classify_status(status.as_u16(), &body, retry_after);
        let upload = *method == Method::POST || *method == Method::PUT;
        let upload_refused = upload && matches!(status.as_u16(), 404 | 405 | 409);
        if upload_refused {
            // Not "the object is missing": the server does not take uploads this way.
            kind = ErrorKind::Permanent;
        }
        let mut message = format!(
            "{method} {} answered HTTP {}",
            display_url(&self.object_url(key)),
            status_text(status)
        );
        if !body.trim().is_empty() {
            message.push_str(&format!(": {}", excerpt(&body)));
        }
        let err = RemoteError::new(kind, &self.name, message)
            .with_key(key)
            .with_retry_after(retry_after);
        if upload_refused {
            err.with_advice(upload_refused_advice(
                &self.name,
                method.as_str(),
                status.as_u16(),
            ))
        } else if kind == ErrorKind::Auth {
            err.with_advice(http_auth_advice(&self.name))
        } else {
            err
        }
    }
}

/// A header value that never shows up in `Debug` output.
fn sensitive(spec: &RemoteSpec, value: &str) -> Result<HeaderValue, RemoteError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        invalid(
            spec,
            "the credentials contain characters not allowed in an HTTP header",
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The error and its causes on one line (reqwest's top-level text alone says little).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Passes `body` through, ending it with an error if it yields more or fewer than `size` bytes;
/// the error that ended it is also left in `failure` for the caller.
fn exact_size(
    body: ByteStream,
    size: u64,
    remote: &str,
    key: &str,
    failure: Arc<Mutex<Option<RemoteError>>>,
) -> ByteStream {
    let (remote, key) = (remote.to_string(), key.to_string());
    let mismatch = move |got: u64| {
        RemoteError::new(
            ErrorKind::Permanent,
            &remote,
            format!("the upload of '{key}' supplied {got} bytes, {size} expected"),
        )
        .with_key(&key)
    };
    Box::pin(futures::stream::unfold(
        (body, 0u64, false),
        move |(mut body, got, done)| {
            let mismatch = mismatch.clone();
            let failure = failure.clone();
            async move {
                if done {
                    return None;
                }
                let (item, got) = match body.next().await {
                    Some(Ok(chunk)) => {
                        let got = got + chunk.len() as u64;
                        if got > size {
                            (Err(mismatch(got)), got)
                        } else {
                            return Some((Ok(chunk), (body, got, false)));
                        }
                    }
                    Some(Err(e)) => (Err(e), got),
                    None if got != size => (Err(mismatch(got)), got),
                    None => return None,
                };
                if let (Err(e), Ok(mut slot)) = (&item, failure.lock()) {
                    *slot = Some(e.clone());
                }
                Some((item, (body, got, true)))
            }
        },
    ))
}

/// The first byte's offset in a `Content-Range: bytes START-END/TOTAL` answer.
fn range_start(resp: &Response) -> Option<u64> {
    let value = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let (first, _) = value.trim().strip_prefix("bytes ")?.split_once('-')?;
    first.trim().parse().ok()
}

/// The total size in a `Content-Range: bytes 0-0/TOTAL` (or `bytes */TOTAL`) answer.
fn range_total(resp: &Response) -> Option<u64> {
    resp.headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('/').next())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// The `Content-Length` a response declared, if any.
fn content_length(resp: &Response) -> Option<u64> {
    resp.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

async fn read_limited(resp: Response) -> String {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= ERROR_BODY_LIMIT {
            body.truncate(ERROR_BODY_LIMIT);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

#[async_trait::async_trait]
impl Remote for HttpRemote {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list: false,
            write: true,
            delete: true,
        }
    }

    /// A HEAD (no body is sent): its `Content-Length` is the size. Any answer other than 2xx
    /// or 404 is an error, never "missing"; so is a 2xx web page (see
    /// [`HttpRemote::refuse_web_page`]). A server that refuses HEAD (405, 501) answers `Unsupported`,
    /// and the stack asks again by [`Remote::stat_by_range`]; so does a bare 403, which says
    /// neither "credentials" nor "cap" (a HEAD has no body to tell them apart). Never a whole
    /// GET.
    async fn stat(&self, key: &str) -> Result<Presence, RemoteError> {
        check_key(&self.name, key)?;
        let resp = self
            .send(self.request(Method::HEAD, key), &Method::HEAD, key)
            .await?;
        match resp.status() {
            s if s.is_success() => {
                self.refuse_web_page(&resp, &Method::HEAD, key)?;
                Ok(Presence::Present(content_length(&resp)))
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(Presence::Absent),
            StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::NOT_IMPLEMENTED
            | StatusCode::FORBIDDEN => Err(RemoteError::new(
                ErrorKind::Unsupported,
                &self.name,
                format!(
                    "HEAD {} answered HTTP {}",
                    display_url(&self.object_url(key)),
                    status_text(resp.status())
                ),
            )
            .with_key(key)),
            _ => Err(self.status_error(resp, &Method::HEAD, key).await),
        }
    }

    /// Existence by a GET of the object's first byte, for servers that refuse HEAD. A server
    /// that ignores the range answers 200 with the whole object: its body is dropped unread
    /// (the connection closes), so at most what is in flight is received.
    async fn stat_by_range(&self, key: &str) -> Result<Presence, RemoteError> {
        let req = self.request(Method::GET, key).header(RANGE, "bytes=0-0");
        let resp = self.send(req, &Method::GET, key).await?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                self.refuse_web_page(&resp, &Method::GET, key)?;
                Ok(Presence::Present(range_total(&resp)))
            }
            s if s.is_success() => {
                self.refuse_web_page(&resp, &Method::GET, key)?;
                Ok(Presence::Present(content_length(&resp)))
            }
            // an empty object has no first byte
            StatusCode::RANGE_NOT_SATISFIABLE => Ok(Presence::Present(range_total(&resp))),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(Presence::Absent),
            _ => Err(self.status_error(resp, &Method::GET, key).await),
        }
    }

    async fn list_sized(&self, _prefix: &str) -> Result<Vec<(String, u64)>, RemoteError> {
        Err(RemoteError::new(
            ErrorKind::Unsupported,
            &self.name,
            "an HTTP remote cannot be listed (DVC's HTTP protocol has no listing)",
        ))
    }

    /// Streams the body; a body shorter than its `Content-Length` (or cut by the connection)
    /// ends the stream with a `Transient` error, never a silent short object, and so does a
    /// body that stalls (see [`guard_progress`]). A web page is refused before any byte is read.
    async fn read(&self, key: &str) -> Result<ByteStream, RemoteError> {
        self.read_range(key, 0, None).await.map(|r| r.body)
    }

    /// A GET with `Range: bytes=start-` (or `start-last`); a 206 answer starts where its
    /// `Content-Range` says, a 200 (a server that ignores ranges) at 0. Checked and guarded as
    /// [`Remote::read`] says.
    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<Ranged, RemoteError> {
        check_key(&self.name, key)?;
        let mut req = self.request(Method::GET, key);
        if start > 0 || end.is_some() {
            let last = end.map(|e| e.saturating_sub(1).to_string());
            req = req.header(RANGE, format!("bytes={start}-{}", last.unwrap_or_default()));
        }
        let resp = self.send(req, &Method::GET, key).await?;
        if !resp.status().is_success() {
            return Err(self.status_error(resp, &Method::GET, key).await);
        }
        self.refuse_web_page(&resp, &Method::GET, key)?;
        let begins = if resp.status() == StatusCode::PARTIAL_CONTENT {
            range_start(&resp).ok_or_else(|| {
                RemoteError::new(
                    ErrorKind::Transient,
                    &self.name,
                    format!(
                        "GET {}: a 206 answer without a readable Content-Range",
                        display_url(&self.object_url(key))
                    ),
                )
                .with_key(key)
            })?
        } else {
            0
        };
        Ok(Ranged {
            start: begins,
            body: self.body(resp, key),
        })
    }

    /// One POST (or PUT) to the object's final URL with a chunked body, as DVC sends it. A body
    /// that fails or ends short aborts the request before its final chunk, so the server never
    /// sees a complete upload.
    async fn write(&self, key: &str, body: ByteStream, size: u64) -> Result<(), RemoteError> {
        check_key(&self.name, key)?;
        let method = self.upload_method.clone();
        let body_error = Arc::new(Mutex::new(None));
        let body = exact_size(body, size, &self.name, key, body_error.clone());
        let req = self
            .request(method.clone(), key)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body));
        let sent = self.send(req, &method, key).await;
        // The source's own failure (unreadable file, wrong size) is the error to report, not
        // the aborted request it caused.
        if let Some(err) = body_error.lock().ok().and_then(|mut slot| slot.take()) {
            return Err(err);
        }
        let resp = sent?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(self.status_error(resp, &method, key).await)
        }
    }

    async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        check_key(&self.name, key)?;
        let resp = self
            .send(self.request(Method::DELETE, key), &Method::DELETE, key)
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(()),
            _ => Err(self.status_error(resp, &Method::DELETE, key).await),
        }
    }
}
