//! Maps what a server answered to an [`ErrorKind`], one table for every backend (DESIGN.md §3),
//! plus the helpers that keep secrets out of error messages.
use std::time::Duration;

use super::ErrorKind;
use crate::config::env::env_part;

/// How much of an error body is kept for classification and messages.
pub(crate) const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Whether a response text says the remote's download or request cap is exhausted: B2 answers
/// "Cannot download file, download bandwidth or transaction (Class B) cap exceeded", its native
/// API `download_cap_exceeded`.
pub(crate) fn is_cap_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("download_cap_exceeded") || lower.contains("cap exceeded")
}

/// Classifies a non-success HTTP status with the response text (body or S3 error code and
/// message) and the server's `Retry-After`.
///
/// A 403 is `Quota` only when the text names the cap; a 403 without text (B2 answers a capped
/// HEAD that way) is `Auth` here, and backends that can tell better (S3: a LIST still works)
/// refine it. 503 is `Throttled` when the server asked to slow down (S3 `SlowDown` or a
/// `Retry-After`), otherwise `Transient`.
pub(crate) fn classify_status(status: u16, text: &str, retry_after: Option<Duration>) -> ErrorKind {
    match status {
        404 | 410 => ErrorKind::NotFound,
        401 => ErrorKind::Auth,
        403 if is_cap_text(text) => ErrorKind::Quota,
        403 => ErrorKind::Auth,
        429 => ErrorKind::Throttled,
        503 if text.contains("SlowDown") || retry_after.is_some() => ErrorKind::Throttled,
        408 | 500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    }
}

/// What to do when an S3 remote refuses its key pair: the two options, and their CI form.
pub(crate) fn s3_auth_advice(name: &str) -> String {
    let env = env_part(name);
    format!(
        "set the key pair of remote '{name}': `ferry remote modify --local {name} access_key_id <key id>` \
         and `ferry remote modify --local {name} secret_access_key <secret>` (in CI: \
         FERRY_REMOTE_{env}_ACCESS_KEY_ID and FERRY_REMOTE_{env}_SECRET_ACCESS_KEY); \
         `ferry doctor -r {name}` tests them"
    )
}

/// What to do when an HTTP or WebDAV remote refuses its credentials.
pub(crate) fn http_auth_advice(name: &str) -> String {
    let env = env_part(name);
    format!(
        "set the credentials of remote '{name}': `ferry remote modify --local {name} auth basic`, \
         `… user <name>` and `… password <password or token>` (a bearer token: `… token <token>` \
         on webdav://; in CI: FERRY_REMOTE_{env}_PASSWORD); `ferry doctor -r {name}` tests them"
    )
}

/// What to do when an HTTP server refuses an upload with 404, 405 or 409: most servers take
/// uploads only as PUT, and WebDAV servers only into collections that exist.
pub(crate) fn upload_refused_advice(name: &str, method: &str, status: u16) -> String {
    let webdav = format!(
        "if it is a WebDAV server (nginx with dav_methods, Apache mod_dav, WsgiDAV, rclone), use \
         `ferry remote modify {name} url webdav://…` (or webdavs://), which creates the folders"
    );
    if method == "POST" {
        format!(
            "the server refused an upload by POST (HTTP {status}); if it takes PUT, \
             `ferry remote modify {name} method PUT`; {webdav}"
        )
    } else {
        format!(
            "the server refused an upload by PUT (HTTP {status}), often because the folder \
             `files/md5/xx` does not exist on it; {webdav}; nginx needs `create_full_put_path on`"
        )
    }
}

/// Parses a `Retry-After` value given in seconds (the HTTP-date form is ignored: servers that
/// throttle object stores send seconds).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// A URL fit for messages, logs, reports and state files: no userinfo, no query string, no
/// fragment (any of them may hold a token). The one helper every printed or stored URL goes
/// through.
///
/// It works on the text as written (no parsing and re-serialising), so the rest of the URL reads
/// exactly as the user typed it and as dvc prints it (`https://x.org/a b`, not `a%20b`).
pub fn display_url(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => format!("{scheme}://{rest}"),
    }
}

/// A short, single-line excerpt of an error body for messages.
pub(crate) fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_design() {
        let b2 = "<Error><Code>AccessDenied</Code><Message>Cannot download file, download \
                  bandwidth or transaction (Class B) cap exceeded.</Message></Error>";
        assert_eq!(classify_status(404, "", None), ErrorKind::NotFound);
        assert_eq!(classify_status(403, b2, None), ErrorKind::Quota);
        assert_eq!(
            classify_status(403, "{\"code\": \"download_cap_exceeded\"}", None),
            ErrorKind::Quota
        );
        assert_eq!(classify_status(403, "", None), ErrorKind::Auth);
        assert_eq!(classify_status(403, "AccessDenied", None), ErrorKind::Auth);
        assert_eq!(classify_status(401, "", None), ErrorKind::Auth);
        assert_eq!(classify_status(429, "", None), ErrorKind::Throttled);
        assert_eq!(classify_status(503, "SlowDown", None), ErrorKind::Throttled);
        let later = Some(Duration::from_secs(2));
        assert_eq!(classify_status(503, "", later), ErrorKind::Throttled);
        assert_eq!(classify_status(503, "", None), ErrorKind::Transient);
        assert_eq!(classify_status(500, "", None), ErrorKind::Transient);
        assert_eq!(classify_status(400, "bad", None), ErrorKind::Permanent);
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn urls_lose_credentials() {
        assert_eq!(
            display_url("https://bob:s3cret@dagshub.com/u/r.dvc/files?token=abc"),
            "https://dagshub.com/u/r.dvc/files"
        );
        assert_eq!(display_url("http://u:p@h:1/x@y"), "http://h:1/x@y");
        assert_eq!(display_url("/local/path"), "/local/path");
        assert_eq!(display_url("s3://KEY:SECRET@bucket/x"), "s3://bucket/x");
        assert_eq!(
            display_url("https://ghp_token@github.com/o/r"),
            "https://github.com/o/r"
        );
        assert_eq!(display_url("https://x.org/a b"), "https://x.org/a b");
    }
}
