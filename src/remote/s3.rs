//! S3-compatible remotes (`s3://bucket/prefix`, and `b2://bucket/prefix` for Backblaze B2) over
//! OpenDAL: SigV4 signing, ListObjectsV2 paging, multipart uploads. One operator per remote.
//!
//! OpenDAL sends no flexible-checksum headers (`x-amz-checksum-*`,
//! `x-amz-sdk-checksum-algorithm`) unless `checksum_algorithm` is set, which Ferry never does:
//! B2 rejects them.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, TryStreamExt};
use opendal::{Buffer, HttpTransporter, OperationContext, Operator};
use opendal_http_transport_reqwest::ReqwestTransport;

use super::classify::{classify_status, excerpt, is_cap_text, parse_retry_after, s3_auth_advice};
use super::options::{get, http_client, invalid, read_timeout};
use super::presence_of;
use super::s3_wire::{RANGE_IGNORED, SignedQueryTransport};
use super::{
    ByteStream, Capabilities, ErrorKind, PendingUpload, Presence, Remote, RemoteError, RemoteSpec,
    check_key, guard_progress,
};
use reqsign_aws_v4::{
    Credential, DefaultCredentialProvider, RequestSigner, StaticCredentialProvider,
};
use reqsign_core::{Context, OsEnv, Signer};

/// Objects larger than this go up as a multipart upload in parts of this size; memory held per
/// upload stays below `MULTIPART_CHUNK * MULTIPART_CONCURRENCY`. (B2's minimum part is 5 MB.)
pub const MULTIPART_CHUNK: usize = 8 << 20;
/// Parts of one object uploaded at once.
const MULTIPART_CONCURRENCY: usize = 2;

/// An S3-compatible remote.
pub struct S3Remote {
    name: String,
    op: Operator,
    /// `s3://bucket/prefix` (or `b2://…`), for messages.
    display: String,
    /// How long a body may go without progress (`read_timeout`).
    read_timeout: std::time::Duration,
    /// Lists pending multipart uploads, which OpenDAL cannot.
    uploads: UploadLister,
    /// LIST-class calls sent and not yet taken by the stack's meter.
    lists: Arc<AtomicU64>,
}

/// Sends the one S3 call OpenDAL lacks, `ListMultipartUploads`, signed the way OpenDAL signs
/// (same credential chain, same client settings).
struct UploadLister {
    client: reqwest::Client,
    /// `<endpoint>/<bucket>`: path style, as OpenDAL addresses a bucket.
    bucket_url: String,
    /// The remote's root inside the bucket with a trailing `/`, or empty for the bucket root.
    prefix: String,
    /// `None` with `allow_anonymous_login`.
    signer: Option<Signer<Credential>>,
}

impl std::fmt::Debug for S3Remote {
    /// Shows no credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Remote")
            .field("name", &self.name)
            .field("url", &self.display)
            .finish_non_exhaustive()
    }
}

impl S3Remote {
    /// Builds the operator from the URL and DVC's s3 options (`endpointurl`, `region`,
    /// `profile`, `access_key_id`, `secret_access_key`, `session_token`, `ssl_verify`,
    /// `connect_timeout`, `read_timeout`, `allow_anonymous_login`, `sse`, `sse_kms_key_id`,
    /// `acl`); credentials not given fall back to the standard AWS chain (env, profile files).
    /// `b2://` needs `region` and targets `https://s3.<region>.backblazeb2.com`.
    pub fn open(spec: &RemoteSpec) -> Result<Self, RemoteError> {
        let (scheme, rest) = spec.url.split_once("://").ok_or_else(|| {
            invalid(
                spec,
                format!("invalid S3 URL '{}'", super::display_url(&spec.url)),
            )
        })?;
        let scheme = scheme.to_ascii_lowercase();
        let (url_key, url_secret, rest) = split_userinfo(rest);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        if bucket.is_empty() {
            return Err(invalid(
                spec,
                format!("no bucket in URL '{}'", super::display_url(&spec.url)),
            )
            .with_advice(format!(
                "give remote '{0}' its bucket: `ferry remote modify {0} url {scheme}://BUCKET/PATH`",
                spec.name
            )));
        }
        let region = get(spec, "region").map(str::to_string);
        let endpoint = match (get(spec, "endpointurl"), scheme.as_str(), &region) {
            (Some(url), _, _) => Some(url.trim_end_matches('/').to_string()),
            (None, "b2", Some(region)) => Some(format!("https://s3.{region}.backblazeb2.com")),
            (None, "b2", None) => {
                return Err(invalid(
                    spec,
                    "a b2:// remote needs its region, e.g. `ferry remote modify NAME region us-west-004`",
                ));
            }
            (None, _, _) => None,
        };
        let region = region
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".to_string());

        let mut builder = opendal::services::S3::default()
            .bucket(bucket)
            .root(&format!("/{prefix}"))
            .region(&region);
        if let Some(endpoint) = &endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let Some(profile) = get(spec, "profile") {
            builder = builder.profile(profile);
        }
        if let Some(v) = get(spec, "access_key_id").or(url_key) {
            builder = builder.access_key_id(v);
        }
        if let Some(v) = get(spec, "secret_access_key").or(url_secret) {
            builder = builder.secret_access_key(v);
        }
        if let Some(v) = get(spec, "session_token") {
            builder = builder.session_token(v);
        }
        if get(spec, "allow_anonymous_login").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            builder = builder.skip_signature();
        }
        if std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        {
            builder = builder.disable_ec2_metadata();
        }
        if let Some(v) = get(spec, "sse") {
            builder = builder.server_side_encryption(v);
        }
        if let Some(v) = get(spec, "sse_kms_key_id") {
            builder = builder.server_side_encryption_aws_kms_key_id(v);
        }
        if let Some(v) = get(spec, "acl") {
            builder = builder.default_acl(v);
        }
        let client = http_client(spec)?;
        let key_id = get(spec, "access_key_id").or(url_key);
        let secret = get(spec, "secret_access_key").or(url_secret);
        let anonymous =
            get(spec, "allow_anonymous_login").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let uploads = UploadLister {
            client: client.clone(),
            bucket_url: format!(
                "{}/{bucket}",
                endpoint
                    .clone()
                    .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"))
            ),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            signer: (!anonymous).then(|| {
                let transport = HttpTransporter::new(ReqwestTransport::new(client.clone()));
                let ctx = Context::new()
                    .with_file_read(reqsign_file_read_tokio::TokioFileRead)
                    .with_http_send(transport)
                    .with_env(OsEnv);
                let signer = RequestSigner::new("s3", &region);
                match (key_id, secret) {
                    (Some(k), Some(s)) => {
                        let mut provider = StaticCredentialProvider::new(k, s);
                        if let Some(token) = get(spec, "session_token") {
                            provider = provider.with_session_token(token);
                        }
                        Signer::new(ctx, provider, signer)
                    }
                    _ => {
                        let mut builder = DefaultCredentialProvider::builder();
                        if let Some(profile) = get(spec, "profile") {
                            builder = builder.with_profile(profile);
                        }
                        Signer::new(ctx, builder.build(), signer)
                    }
                }
            }),
        };
        let lists = Arc::new(AtomicU64::new(0));
        let transport = HttpTransporter::new(SignedQueryTransport {
            inner: ReqwestTransport::new(client),
            lists: lists.clone(),
        });
        let op = Operator::new(builder)
            .map_err(|e| {
                invalid(
                    spec,
                    format!("cannot set up the S3 client: {}", e.message()),
                )
            })?
            .with_context(OperationContext::new().with_http_transport(transport));
        let display = if prefix.is_empty() {
            format!("{scheme}://{bucket}")
        } else {
            format!("{scheme}://{bucket}/{prefix}")
        };
        Ok(Self {
            name: spec.name.clone(),
            op,
            display,
            read_timeout: read_timeout(spec)?,
            uploads,
            lists,
        })
    }

    /// Streams bytes `start..end` of the object (to its end when `end` is `None`). The first
    /// chunk is awaited here, so a missing object, refused credentials or a cap surface as this
    /// call's error, not mid-stream. A body that stalls ends with a `Transient` error (see
    /// [`guard_progress`]).
    async fn read_from(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<ByteStream, RemoteError> {
        check_key(&self.name, key)?;
        let reader = self
            .op
            .reader(key)
            .await
            .map_err(|e| self.error("GET", key, &e))?;
        let range = (
            std::ops::Bound::Included(start),
            end.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
        );
        let stream = reader
            .into_bytes_stream(range)
            .await
            .map_err(|e| self.error("GET", key, &e))?;
        let what = format!("GET {}/{key}", self.display);
        let (name, display, k) = (self.name.clone(), self.display.clone(), key.to_string());
        let mut first_item = true;
        // The first chunk's error keeps its class (not found, refused, capped); a later one is
        // a body cut short, worth a retry.
        let body = stream.map(move |item| {
            let later = !std::mem::replace(&mut first_item, false);
            item.map_err(|e| {
                let mut err = classify_io(&name, &display, &k, &e);
                if later && !err.kind.is_retryable() {
                    err.kind = ErrorKind::Transient;
                }
                err
            })
        });
        let mut body = guard_progress(Box::pin(body), self.read_timeout, &self.name, key, what);
        let first = body.next().await.transpose()?;
        Ok(Box::pin(futures::stream::iter(first.map(Ok)).chain(body)))
    }

    fn error(&self, what: &str, key: &str, e: &opendal::Error) -> RemoteError {
        classify_opendal(&self.name, &self.display, what, key, e)
    }

    /// Aborts a failed upload (AbortMultipartUpload when it had started one), best effort: the
    /// upload's own error is what the caller reports; a failed abort is logged with the command
    /// that finds leftovers.
    async fn abort(&self, writer: &mut opendal::Writer, key: &str) {
        if let Err(e) = writer.abort().await {
            tracing::warn!(
                "remote '{}': could not abort the failed upload of {}/{key}: {}; \
                 `ferry doctor --write -r {}` lists uploads left incomplete",
                self.name,
                self.display,
                cause_chain(&e),
                self.name
            );
        }
    }

    /// A bare 403 on HEAD is what B2 answers once the download (Class B) cap is hit, and also
    /// what bad credentials get. A LIST (Class C, not capped) tells them apart: if it works the
    /// credentials are good, so the HEAD was refused by the cap.
    async fn refine_bare_head_403(&self, key: &str, err: RemoteError) -> RemoteError {
        match self.op.list_with(key).limit(1).await {
            Ok(_) => RemoteError::new(
                ErrorKind::Quota,
                &self.name,
                format!(
                    "HEAD {}/{key} was refused (bare HTTP 403) while listing works: the remote's \
                     download/transaction cap is exhausted",
                    self.display
                ),
            )
            .with_key(key),
            Err(list_err) if list_err.kind() == opendal::ErrorKind::PermissionDenied => {
                let mut err = err;
                let code = s3_field(list_err.message(), "code").unwrap_or_default();
                let answer = if code.is_empty() {
                    String::new()
                } else {
                    format!(" with {code}{}", code_meaning(&code))
                };
                if code == CLOCK_SKEW {
                    err.message
                        .push_str(&format!(" and listing is refused too{answer}"));
                    return err.with_advice(CLOCK_ADVICE.to_string());
                }
                err.message.push_str(&format!(
                    " and listing is refused too{answer}: the credentials were rejected"
                ));
                err
            }
            // The LIST failed for another reason (e.g. the connection): report that instead.
            Err(list_err) => {
                let list_err = self.error("LIST", key, &list_err);
                if list_err.kind.is_retryable() {
                    list_err
                } else {
                    err
                }
            }
        }
    }
}

/// Splits credentials written into an S3 URL (`KEY:SECRET@bucket/prefix`, after the scheme)
/// from the bucket and prefix. They are used like `access_key_id`/`secret_access_key` (which
/// win when also set) and never shown: messages name only the bucket and prefix.
fn split_userinfo(rest: &str) -> (Option<&str>, Option<&str>, &str) {
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rfind('@') {
        Some(at) => {
            let (key, secret) = match authority[..at].split_once(':') {
                Some((k, s)) => (Some(k), Some(s)),
                None => (Some(&authority[..at]), None),
            };
            (
                key.filter(|v| !v.is_empty()),
                secret.filter(|v| !v.is_empty()),
                &rest[at + 1..],
            )
        }
        None => (None, None, rest),
    }
}

/// The SHA-256 of an empty body, as S3 wants it in `x-amz-content-sha256` for a GET.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// `value` percent-encoded for a query string (everything but S3's unreserved characters).
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `(Key, UploadId, Initiated)` of every `<Upload>` in a `ListMultipartUploadsResult`.
fn parse_uploads(xml: &str) -> Vec<(String, String, String)> {
    let field = |block: &str, name: &str| {
        let open = format!("<{name}>");
        let start = block.find(&open)? + open.len();
        let len = block[start..].find(&format!("</{name}>"))?;
        Some(unescape_xml(&block[start..start + len]))
    };
    xml.split("<Upload>")
        .skip(1)
        .filter_map(|block| {
            let block = &block[..block.find("</Upload>")?];
            Some((
                field(block, "Key")?,
                field(block, "UploadId")?,
                field(block, "Initiated").unwrap_or_default(),
            ))
        })
        .collect()
}

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Classifies an OpenDAL error by the HTTP status and S3 error code it carries.
fn classify_opendal(
    name: &str,
    display: &str,
    what: &str,
    key: &str,
    e: &opendal::Error,
) -> RemoteError {
    let rendered = e.to_string();
    let status = response_status(&rendered);
    let retry_after = response_header(&rendered, "retry-after").and_then(|v| parse_retry_after(&v));
    let body = e.message();
    let code = s3_field(body, "code").unwrap_or_default();
    let s3_message = s3_field(body, "message").unwrap_or_else(|| body.to_string());
    let kind = match status {
        Some(status) => {
            let kind = classify_status(status, body, retry_after);
            match code.as_str() {
                _ if kind == ErrorKind::Quota => kind,
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | CLOCK_SKEW
                | "AccessDenied"
                | "ExpiredToken"
                | "InvalidToken"
                | "TokenRefreshRequired" => ErrorKind::Auth,
                "NoSuchKey" => ErrorKind::NotFound,
                "NoSuchBucket" => ErrorKind::Permanent,
                "SlowDown" => ErrorKind::Throttled,
                _ => kind,
            }
        }
        // No credentials found anywhere in the chain (config, env, profile).
        None if e.message().starts_with("signing") => ErrorKind::Auth,
        None => match e.kind() {
            opendal::ErrorKind::NotFound => ErrorKind::NotFound,
            opendal::ErrorKind::PermissionDenied => ErrorKind::Auth,
            opendal::ErrorKind::RateLimited => ErrorKind::Throttled,
            opendal::ErrorKind::ConfigInvalid | opendal::ErrorKind::Unsupported => {
                ErrorKind::Permanent
            }
            // Connection refused/reset, timeouts, bodies cut short.
            _ => ErrorKind::Transient,
        },
    };
    let location = format!("{}/{key}", display);
    let detail = match status {
        Some(status) if code.is_empty() && s3_message.trim().is_empty() => {
            format!("HTTP {status} (no error body)")
        }
        Some(status) if code.is_empty() => format!("HTTP {status}: {}", excerpt(&s3_message)),
        Some(status) => format!("HTTP {status} {code}: {}", excerpt(&s3_message)),
        None => cause_chain(e),
    };
    let err = RemoteError::new(
        kind,
        name,
        format!("{what} {location}: {detail}{}", code_meaning(&code)),
    )
    .with_key(key)
    .with_retry_after(retry_after);
    match kind {
        ErrorKind::Auth if code == CLOCK_SKEW => err.with_advice(CLOCK_ADVICE.to_string()),
        ErrorKind::Auth => err.with_advice(s3_auth_advice(name)),
        _ => err,
    }
}

/// The S3 answer to a request signed at a time more than 15 minutes from the server's clock:
/// the keys may be right, the machine's clock is not (a CI runner or VM that lost its time).
const CLOCK_SKEW: &str = "RequestTimeTooSkewed";

/// What to do about [`CLOCK_SKEW`]: no credential change helps.
const CLOCK_ADVICE: &str = "set this machine's clock right (it must be within 15 minutes of the \
     server's; e.g. `timedatectl set-ntp true`, or check `date -u`): S3 refuses every request \
     signed at the wrong time, whatever the keys";

/// What an S3 error code says about the request, for the codes where the server's answer tells
/// more than "refused": a wrong secret is not an unknown key.
fn code_meaning(code: &str) -> &'static str {
    match code {
        "NoSuchBucket" => " (the bucket does not exist)",
        "SignatureDoesNotMatch" => {
            " (the server knows the access key id, but the secret access key does not match it)"
        }
        "InvalidAccessKeyId" => " (the server does not know this access key id)",
        CLOCK_SKEW => {
            " (this machine's clock is more than 15 minutes from the server's, so every signed \
             request is refused)"
        }
        _ => "",
    }
}

/// Errors from OpenDAL's byte stream come wrapped in `std::io::Error`; unwrap and classify them.
fn classify_io(name: &str, display: &str, key: &str, e: &std::io::Error) -> RemoteError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<opendal::Error>())
    {
        Some(inner) => classify_opendal(name, display, "GET", key, inner),
        None => RemoteError::new(
            ErrorKind::Transient,
            name,
            format!("GET {display}/{key}: reading the body failed: {e}"),
        )
        .with_key(key),
    }
}

/// The status in OpenDAL's rendered response context (`response: Parts { status: 403, … }`).
pub(super) fn response_status(rendered: &str) -> Option<u16> {
    let after = &rendered[rendered.find("response: Parts")?..];
    let digits = after[after.find("status: ")? + 8..].get(..3)?;
    digits.parse().ok()
}

/// A response header's value from OpenDAL's rendered context (`"retry-after": "3"`).
fn response_header(rendered: &str, name: &str) -> Option<String> {
    let needle = format!("\"{name}\": \"");
    let start = rendered.find(&needle)? + needle.len();
    let len = rendered[start..].find('"')?;
    Some(rendered[start..start + len].to_string())
}

/// A field of OpenDAL's `S3Error { code: "…", message: "…", … }` rendering.
fn s3_field(body: &str, field: &str) -> Option<String> {
    if !body.starts_with("S3Error") {
        return None;
    }
    response_field(body, field)
}

fn response_field(body: &str, field: &str) -> Option<String> {
    let needle = format!("{field}: \"");
    let start = body.find(&needle)? + needle.len();
    let len = body[start..].find("\", ")?;
    Some(body[start..start + len].replace("\\\"", "\""))
}

/// OpenDAL's message and its sources (e.g. "send http request: error sending request:
/// Connection refused"), without the request context.
fn cause_chain(e: &opendal::Error) -> String {
    let mut parts = vec![e.message().to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[async_trait::async_trait]
impl Remote for S3Remote {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL
    }

    /// One HEAD. A bare 403 is checked with a LIST before being called `Auth` (see
    /// [`S3Remote::refine_bare_head_403`]).
    async fn stat(&self, key: &str) -> Result<Presence, RemoteError> {
        check_key(&self.name, key)?;
        match presence_of(self.op.stat(key).await) {
            Ok(presence) => Ok(presence),
            Err(e) => {
                let err = self.error("HEAD", key, &e);
                let bare_403 = response_status(&e.to_string()) == Some(403)
                    && !is_cap_text(e.message())
                    && e.message().trim().is_empty();
                if bare_403 {
                    Err(self.refine_bare_head_403(key, err).await)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// ListObjectsV2 pages (1,000 keys each) of every key starting with `prefix`.
    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>, RemoteError> {
        let path = if prefix.is_empty() { "/" } else { prefix };
        let mut lister = self
            .op
            .lister_with(path)
            .recursive(true)
            .await
            .map_err(|e| self.error("LIST", prefix, &e))?;
        let mut keys = Vec::new();
        while let Some(entry) = lister
            .try_next()
            .await
            .map_err(|e| self.error("LIST", prefix, &e))?
        {
            if entry.metadata().is_file() && entry.path().starts_with(prefix) {
                keys.push((entry.path().to_string(), entry.metadata().content_length()));
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    /// One streamed GET. The first chunk is awaited here, so a missing object, refused
    /// credentials or a cap surface as this call's error, not mid-stream. A body that stalls
    /// ends with a `Transient` error (see [`guard_progress`]).
    async fn read(&self, key: &str) -> Result<ByteStream, RemoteError> {
        self.read_from(key, 0, None).await
    }

    /// A GET with `Range: bytes=start-` (or `start-last`). S3 servers honour ranges; one that
    /// answers a ranged GET with the whole object is caught on the wire (see
    /// [`super::s3_wire`]) and read whole instead, from offset 0.
    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<super::Ranged, RemoteError> {
        match self.read_from(key, start, end).await {
            Err(e) if e.message.contains(RANGE_IGNORED) => Ok(super::Ranged {
                start: 0,
                body: self.read_from(key, 0, None).await?,
            }),
            other => other.map(|body| super::Ranged { start, body }),
        }
    }

    /// A single PUT below [`MULTIPART_CHUNK`], a multipart upload above it.
    async fn write(&self, key: &str, mut body: ByteStream, size: u64) -> Result<(), RemoteError> {
        check_key(&self.name, key)?;
        let mut writer = self
            .op
            .writer_with(key)
            .chunk(MULTIPART_CHUNK)
            .concurrent(MULTIPART_CONCURRENCY)
            .content_type("application/octet-stream")
            .await
            .map_err(|e| self.error("PUT", key, &e))?;
        let mut written = 0u64;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => {
                    written += chunk.len() as u64;
                    if let Err(e) = writer.write(Buffer::from(chunk)).await {
                        failure = Some(self.error("PUT", key, &e));
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none() && written != size {
            failure = Some(
                RemoteError::new(
                    ErrorKind::Permanent,
                    &self.name,
                    format!("the upload of '{key}' supplied {written} bytes, {size} expected"),
                )
                .with_key(key),
            );
        }
        if let Some(err) = failure {
            self.abort(&mut writer, key).await;
            return Err(err);
        }
        // A part that failed may only show here (OpenDAL awaits the last parts in `close`), and
        // OpenDAL never aborts on its own: the upload's parts would stay stored and billed.
        if let Err(e) = writer.close().await {
            let err = self.error("PUT", key, &e);
            self.abort(&mut writer, key).await;
            return Err(err);
        }
        Ok(())
    }

    /// Lists the uploads under the remote's root that were never completed nor aborted.
    fn take_list_calls(&self) -> Option<u64> {
        Some(self.lists.swap(0, Ordering::Relaxed))
    }

    async fn pending_uploads(&self) -> Result<Vec<PendingUpload>, RemoteError> {
        let u = &self.uploads;
        let failed = |detail: String| {
            RemoteError::new(
                ErrorKind::Transient,
                &self.name,
                format!("ListMultipartUploads {}: {detail}", self.display),
            )
        };
        let query = format!(
            "max-uploads=1000&prefix={}&uploads=",
            query_escape(&u.prefix)
        );
        let mut parts = http::Request::get(format!("{}?{query}", u.bucket_url))
            .header("x-amz-content-sha256", EMPTY_SHA256)
            .body(())
            .map_err(|e| failed(format!("cannot build the request: {e}")))?
            .into_parts()
            .0;
        if let Some(signer) = &u.signer {
            signer.sign(&mut parts, None).await.map_err(|e| {
                RemoteError::new(
                    ErrorKind::Auth,
                    &self.name,
                    format!("ListMultipartUploads {}: cannot sign: {e}", self.display),
                )
            })?;
        }
        let mut req = u.client.get(parts.uri.to_string());
        self.lists.fetch_add(1, Ordering::Relaxed);
        for (name, value) in &parts.headers {
            req = req.header(name, value);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| failed(format!("request failed: {}", e.without_url())))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp
            .text()
            .await
            .map_err(|e| failed(format!("reading the answer failed: {}", e.without_url())))?;
        if !(200..300).contains(&status) {
            let kind = classify_status(status, &body, retry_after);
            return Err(RemoteError::new(
                kind,
                &self.name,
                format!(
                    "ListMultipartUploads {} answered HTTP {status}: {}",
                    self.display,
                    excerpt(&body)
                ),
            )
            .with_retry_after(retry_after));
        }
        Ok(parse_uploads(&body)
            .into_iter()
            .map(|(key, upload_id, initiated)| PendingUpload {
                key: key.strip_prefix(&u.prefix).unwrap_or(&key).to_string(),
                upload_id,
                initiated,
            })
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        check_key(&self.name, key)?;
        match self.op.delete(key).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.error("DELETE", key, &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_uploads_are_read_from_the_listing() {
        let xml = "<?xml version=\"1.0\"?><ListMultipartUploadsResult><Bucket>b</Bucket>\
            <Upload><Key>p/files/md5/ab/c&amp;d</Key><UploadId>1</UploadId>\
            <Initiated>2026-12-01T10:00:00Z</Initiated></Upload>\
            <Upload><Key>p/x</Key><UploadId>2</UploadId></Upload></ListMultipartUploadsResult>";
        assert_eq!(
            parse_uploads(xml),
            vec![
                (
                    "p/files/md5/ab/c&d".into(),
                    "1".into(),
                    "2026-12-01T10:00:00Z".into()
                ),
                ("p/x".into(), "2".into(), String::new())
            ]
        );
        assert_eq!(query_escape("a b/c~"), "a%20b%2Fc~");
    }

    #[test]
    fn credentials_in_the_url_are_split_off() {
        assert_eq!(
            split_userinfo("KEY:SECRET@bucket/x/y"),
            (Some("KEY"), Some("SECRET"), "bucket/x/y")
        );
        assert_eq!(split_userinfo("bucket/a@b"), (None, None, "bucket/a@b"));
        assert_eq!(split_userinfo("KEY@bucket"), (Some("KEY"), None, "bucket"));
    }

    #[test]
    fn reads_opendal_renderings() {
        let rendered = "PermissionDenied (permanent) at stat, context: { uri: http://h/b/k, \
            response: Parts { status: 403, version: HTTP/1.1, headers: {\"retry-after\": \"7\", \
            \"content-length\": \"0\"} }, service: s3 } => ";
        assert_eq!(response_status(rendered), Some(403));
        assert_eq!(
            response_header(rendered, "retry-after").as_deref(),
            Some("7")
        );
        let body = "S3Error { code: \"SignatureDoesNotMatch\", message: \"The request signature \
                    we calculated does not match\", resource: \"\", request_id: \"x\" }";
        assert_eq!(
            s3_field(body, "code").as_deref(),
            Some("SignatureDoesNotMatch")
        );
        assert!(
            s3_field(body, "message")
                .unwrap()
                .starts_with("The request signature")
        );
        assert_eq!(s3_field("plain text", "code"), None);
    }
}
