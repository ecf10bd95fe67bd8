//! The S3 backend's HTTP transport: sends every request with its query string encoded exactly as
//! SigV4 signed it.
//!
//! OpenDAL writes a LIST prefix with a raw `/` (`?list-type=2&prefix=a/b/`) while reqsign signs
//! the canonical form (`prefix=a%2Fb%2F`). AWS re-encodes the query before checking, so it
//! accepts both; servers that check the query as sent (moto in server mode, Garage) answer
//! `403 SignatureDoesNotMatch` to every LIST. Re-encoding the wire query the way the signer
//! canonicalises it (decode each key and value once, encode with SigV4's `UriEncode` set) makes
//! the bytes sent and the bytes signed the same, for every server.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opendal::{Buffer, HttpBody, HttpTransport};
use opendal_http_transport_reqwest::ReqwestTransport;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// SigV4's `UriEncode` for query keys and values: everything but `A-Z a-z 0-9 - . _ ~`.
const SIGV4_QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A reqwest transport that puts each request's query in SigV4's canonical encoding before
/// sending it (see the module doc for why), and counts the LIST-class calls it sends (B2
/// Class C) in `lists`, for the remote stack's meter.
pub(crate) struct SignedQueryTransport {
    pub(crate) inner: ReqwestTransport,
    pub(crate) lists: Arc<AtomicU64>,
}

/// What the error says when a server answered a ranged GET with the whole object (200): the
/// body would be read as if it started at the offset asked for, so it is refused on the wire
/// and the backend reads the object whole instead.
pub(crate) const RANGE_IGNORED: &str = "the server ignored the Range header (200 to a ranged GET)";

impl HttpTransport for SignedQueryTransport {
    fn fetch(
        &self,
        mut req: http::Request<Buffer>,
    ) -> impl Future<Output = opendal::Result<http::Response<HttpBody>>> + Send {
        if is_list_call(req.method(), req.uri()) {
            self.lists.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(uri) = with_canonical_query(req.uri()) {
            *req.uri_mut() = uri;
        }
        let ranged = asks_part(&req);
        let sent = self.inner.fetch(req);
        async move {
            let resp = sent.await?;
            if ranged && resp.status() == http::StatusCode::OK {
                return Err(opendal::Error::new(
                    opendal::ErrorKind::Unexpected,
                    RANGE_IGNORED,
                ));
            }
            Ok(resp)
        }
    }
}

/// Whether a request is a GET for less than a whole object (a `Range` other than `bytes=0-`).
fn asks_part(req: &http::Request<Buffer>) -> bool {
    req.method() == http::Method::GET
        && req
            .headers()
            .get(http::header::RANGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|r| r != "bytes=0-")
}

/// Whether a request is one B2 bills as Class C: a GET listing objects (`list-type=`) or
/// multipart uploads (`uploads`).
pub(crate) fn is_list_call(method: &http::Method, uri: &http::Uri) -> bool {
    method == http::Method::GET
        && uri.query().is_some_and(|q| {
            q.split('&').any(|pair| {
                let key = pair.split_once('=').map_or(pair, |(k, _)| k);
                key == "list-type" || key == "uploads"
            })
        })
}

/// `uri` with its query re-encoded as SigV4 canonicalises it, or `None` when it already is
/// (or has no query). Pair order is kept; a key without `=` stays without one.
fn with_canonical_query(uri: &http::Uri) -> Option<http::Uri> {
    let query = uri.query()?;
    let canonical = canonical_query(query);
    if canonical == query {
        return None;
    }
    let path_and_query = format!("{}?{canonical}", uri.path());
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = http::uri::PathAndQuery::try_from(path_and_query).ok();
    http::Uri::from_parts(parts).ok()
}

/// Each `key=value` pair decoded once and encoded with [`SIGV4_QUERY`], as reqsign does when it
/// computes the canonical request.
fn canonical_query(query: &str) -> String {
    let encode = |part: &str| {
        let decoded = percent_decode_str(part).decode_utf8_lossy();
        utf8_percent_encode(&decoded, SIGV4_QUERY).to_string()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => format!("{}={}", encode(key), encode(value)),
            None => encode(pair),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_calls_are_told_from_object_calls() {
        let call = |m: http::Method, u: &str| is_list_call(&m, &u.parse().unwrap());
        assert!(call(http::Method::GET, "http://h/b?list-type=2&prefix=a/"));
        assert!(call(
            http::Method::GET,
            "http://h/b?max-uploads=1000&uploads="
        ));
        assert!(!call(http::Method::GET, "http://h/b/files/md5/ab/cd"));
        assert!(!call(http::Method::HEAD, "http://h/b/files/md5/ab/cd"));
        assert!(!call(http::Method::GET, "http://h/b/k?uploadId=1"));
        assert!(!call(
            http::Method::PUT,
            "http://h/b/k?partNumber=1&uploadId=1"
        ));
    }

    #[test]
    fn list_prefix_is_sent_as_signed() {
        let uri: http::Uri =
            "http://127.0.0.1:9000/bucket?list-type=2&prefix=pre/fix/files/md5/14/"
                .parse()
                .unwrap();
        let fixed = with_canonical_query(&uri).expect("re-encoded");
        assert_eq!(
            fixed.to_string(),
            "http://127.0.0.1:9000/bucket?list-type=2&prefix=pre%2Ffix%2Ffiles%2Fmd5%2F14%2F"
        );
    }

    #[test]
    fn canonical_queries_are_left_alone() {
        for q in [
            "http://h/b?list-type=2&prefix=a%2Fb%2F&continuation-token=x%3D%3D",
            "http://h/b/k?uploads",
            "http://h/b/k?partNumber=1&uploadId=abc",
            "http://h/b/k",
        ] {
            let uri: http::Uri = q.parse().unwrap();
            assert_eq!(with_canonical_query(&uri), None, "{q}");
        }
    }

    #[test]
    fn reserved_characters_are_encoded_once() {
        assert_eq!(
            canonical_query("prefix=a%20b/c%2Bd~e*f&start-after=x/y"),
            "prefix=a%20b%2Fc%2Bd~e%2Af&start-after=x%2Fy"
        );
    }
}
