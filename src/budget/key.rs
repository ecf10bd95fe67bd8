//! Which ledger file a remote's counts live in: its URL, normalised and hashed.
//!
//! The same remote can be written several ways (`HTTPS://Host/repo.dvc/`, with `user@`, with a
//! query); all of them must share one budget, and none of the variants may leak credentials into
//! the state directory. So the URL is reduced to scheme, host, port and path, and only that
//! reduced form is stored (for display) and hashed (for the file name).
use crate::hash::md5::Md5;

use crate::remote::{RemoteSpec, display_url};

/// The URL a remote's budget is kept under; pass it to every [`Ledger`](super::Ledger) call.
///
/// It is the remote's URL, except that an `s3://` remote with an `endpointurl` (Backblaze B2,
/// SeaweedFS, MinIO) becomes `<endpoint>/<bucket>/<path>`: the same `s3://bucket/path` on two
/// services has two budgets.
///
/// Credentials written into either URL are dropped here (before [`normalize_url`]): with an
/// endpoint, an S3 URL's `KEY:SECRET@` would otherwise land in the path.
pub fn ledger_url(spec: &RemoteSpec) -> String {
    let url = display_url(&spec.url);
    match (url.strip_prefix("s3://"), spec.options.get("endpointurl")) {
        (Some(rest), Some(endpoint)) => {
            format!("{}/{rest}", display_url(endpoint).trim_end_matches('/'))
        }
        _ => url,
    }
}

/// The credential-free form of a remote URL that identifies its budget.
///
/// Drops userinfo (`user:token@`), query and fragment, lowercases scheme and host, and trims
/// trailing slashes. Something that is not a URL (a local path) is kept as written, trimmed.
pub fn normalize_url(raw: &str) -> String {
    let raw = raw.trim();
    let Ok(mut url) = url::Url::parse(raw) else {
        return trim_slashes(raw).to_string();
    };
    if url.cannot_be_a_base() {
        return trim_slashes(raw).to_string();
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    let scheme = url.scheme().to_ascii_lowercase();
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{scheme}://{host}{port}{}",
        trim_slashes(url.path()).trim_end_matches('/')
    )
}

/// The ledger file stem for a normalised URL: 32 hex digits, safe on every filesystem.
pub fn file_stem(normalized: &str) -> String {
    hex::encode(Md5::digest(normalized.as_bytes()))
}

fn trim_slashes(s: &str) -> &str {
    let trimmed = s.trim_end_matches('/');
    if trimmed.is_empty() { s } else { trimmed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_query_and_fragment_are_stripped() {
        let n = normalize_url("https://alice:s3cr3t-token@DagsHub.com/alice/data.dvc/?token=x#f");
        assert_eq!(n, "https://dagshub.com/alice/data.dvc");
        assert!(!n.contains("s3cr3t") && !n.contains("alice:"));
    }

    #[test]
    fn spellings_of_one_remote_share_a_file() {
        let a = normalize_url("s3://bucket/path/");
        let b = normalize_url("S3://bucket/path");
        assert_eq!(a, "s3://bucket/path");
        assert_eq!(file_stem(&a), file_stem(&b));
        assert_ne!(
            file_stem(&a),
            file_stem(&normalize_url("s3://bucket/other"))
        );
        assert_eq!(
            normalize_url("https://host:8443/x"),
            "https://host:8443/x",
            "a non-default port is part of the identity"
        );
    }

    #[test]
    fn an_s3_endpoint_is_part_of_the_budget_identity() {
        let spec = |url: &str, endpoint: Option<&str>| RemoteSpec {
            name: "r".into(),
            url: url.into(),
            options: endpoint
                .map(|e| ("endpointurl".to_string(), e.to_string()))
                .into_iter()
                .collect(),
        };
        let b2 = ledger_url(&spec(
            "s3://bkt/data",
            Some("https://s3.us-west-004.backblazeb2.com/"),
        ));
        assert_eq!(b2, "https://s3.us-west-004.backblazeb2.com/bkt/data");
        assert_eq!(ledger_url(&spec("s3://bkt/data", None)), "s3://bkt/data");
        let leaky = ledger_url(&spec("s3://KEY:SECRET@bkt/data", Some("http://h:1")));
        assert_eq!(leaky, "http://h:1/bkt/data");
        let http = spec("https://dagshub.com/u/r.dvc", Some("ignored"));
        assert_eq!(ledger_url(&http), "https://dagshub.com/u/r.dvc");
    }

    #[test]
    fn local_paths_are_kept() {
        assert_eq!(normalize_url("/mnt/remote/"), "/mnt/remote");
        assert_eq!(normalize_url("/"), "/");
        assert_eq!(file_stem("/mnt/remote").len(), 32);
    }
}
