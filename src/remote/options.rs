//! Reading DVC's remote options (strings in the config) into typed values, and the HTTP client
//! settings the S3 and HTTP backends share.
use std::time::Duration;

use super::{ErrorKind, RemoteError, RemoteSpec};

/// DVC's default for `connect_timeout` and `read_timeout` (dvc-http: 60 s).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// An option's value, if set and not empty.
pub(crate) fn get<'a>(spec: &'a RemoteSpec, key: &str) -> Option<&'a str> {
    spec.options
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// A configuration error naming the remote and the option; its hint says how to change an
/// option and where to see them all.
pub(crate) fn invalid(spec: &RemoteSpec, message: impl Into<String>) -> RemoteError {
    let name = &spec.name;
    RemoteError::new(ErrorKind::Permanent, name, message).with_advice(format!(
        "change it with `ferry remote modify {name} OPTION VALUE` (`--local` for a secret); \
         `ferry remote list -v` shows every option of '{name}' and the file it comes from"
    ))
}

/// A boolean option as DVC writes it (`true`/`false`, any case; also 1/0, yes/no).
fn parse_bool(spec: &RemoteSpec, key: &str, value: &str) -> Result<bool, RemoteError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            spec,
            format!("option '{key}' must be true or false, not '{value}'"),
        )),
    }
}

/// A duration in (float) seconds, as DVC's `connect_timeout`/`read_timeout`.
fn seconds(spec: &RemoteSpec, key: &str) -> Result<Duration, RemoteError> {
    match get(spec, key) {
        None => Ok(DEFAULT_TIMEOUT),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                invalid(
                    spec,
                    format!("option '{key}' must be a positive number of seconds, not '{v}'"),
                )
            }),
    }
}

/// How long a body may go without progress (DVC's `read_timeout`, default 60 s); see
/// [`super::guard_progress`].
pub(crate) fn read_timeout(spec: &RemoteSpec) -> Result<Duration, RemoteError> {
    seconds(spec, "read_timeout")
}

/// Certificate checking as DVC's `ssl_verify`: on by default, `false` turns it off, any other
/// value is a CA bundle path.
enum SslVerify {
    On,
    Off,
    CaBundle(String),
}

fn ssl_verify(spec: &RemoteSpec) -> Result<SslVerify, RemoteError> {
    match get(spec, "ssl_verify") {
        None => Ok(SslVerify::On),
        Some(v) => match parse_bool(spec, "ssl_verify", v) {
            Ok(true) => Ok(SslVerify::On),
            Ok(false) => Ok(SslVerify::Off),
            Err(_) => Ok(SslVerify::CaBundle(v.to_string())),
        },
    }
}

/// A reqwest client with the remote's timeouts and certificate settings. Built once per remote:
/// it holds the connection pool.
pub(crate) fn http_client(spec: &RemoteSpec) -> Result<reqwest::Client, RemoteError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(seconds(spec, "connect_timeout")?)
        .read_timeout(seconds(spec, "read_timeout")?)
        .pool_max_idle_per_host(64);
    match ssl_verify(spec)? {
        SslVerify::On => {}
        SslVerify::Off => builder = builder.tls_danger_accept_invalid_certs(true),
        SslVerify::CaBundle(path) => {
            let pem = std::fs::read(&path).map_err(|e| {
                invalid(
                    spec,
                    format!("cannot read the CA bundle '{path}' named by ssl_verify: {e}"),
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                invalid(
                    spec,
                    format!("the CA bundle '{path}' named by ssl_verify is not PEM: {e}"),
                )
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
    }
    builder
        .build()
        .map_err(|e| invalid(spec, format!("cannot set up the HTTP client: {e}")))
}
