//! DVC's config schema (`dvc/config_schema.py`), enough to refuse what DVC refuses with DVC's
//! own voluptuous messages, e.g. `extra keys not allowed @ data['remote']['a']['foo']`.
use super::configobj::{ConfigDoc, Section, Value};

/// How one option's value is checked.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Any string.
    Str,
    /// `true`/`false`, case-insensitive.
    Bool,
    /// A Python type check (`cache_regions: bool`, `replication: int`): no string from a file
    /// ever passes; the payload is the type's name for the message.
    PyType(&'static str),
    /// An integer, at least `min` when given.
    Int(Option<i64>),
    /// A float ≥ 0.
    Float0,
    /// One of the listed words (case-insensitive).
    Choice(&'static [&'static str]),
    /// A comma list of cache link types.
    CacheType,
    /// Anything (the `remote://` scheme, free-form sections).
    Any,
}

use Check::*;

const REMOTE_COMMON: &[(&str, Check)] = &[
    ("url", Str),
    ("checksum_jobs", Int(Some(1))),
    ("jobs", Int(Some(1))),
    ("worktree", Bool),
    ("no_traverse", Bool),
    ("version_aware", Bool),
];
const LOCAL_COMMON: &[(&str, Check)] = &[
    ("type", CacheType),
    ("protected", Bool),
    ("shared", Choice(&["group"])),
    ("slow_link_warning", Bool),
    ("verify", Bool),
];
const HTTP: &[(&str, Check)] = &[
    ("auth", Choice(&["basic", "digest", "custom"])),
    ("custom_auth_header", Str),
    ("user", Str),
    ("password", Str),
    ("ask_password", Bool),
    ("ssl_verify", Str),
    ("method", Str),
    ("connect_timeout", Float0),
    ("read_timeout", Float0),
    ("verify", Bool),
];
const WEBDAV: &[(&str, Check)] = &[
    ("user", Str),
    ("password", Str),
    ("ask_password", Bool),
    ("token", Str),
    ("bearer_token_command", Str),
    ("custom_auth_header", Str),
    ("cert_path", Str),
    ("key_path", Str),
    ("timeout", Int(None)),
    ("ssl_verify", Str),
    ("verify", Bool),
];
const S3: &[(&str, Check)] = &[
    ("region", Str),
    ("profile", Str),
    ("credentialpath", Str),
    ("configpath", Str),
    ("endpointurl", Str),
    ("access_key_id", Str),
    ("secret_access_key", Str),
    ("session_token", Str),
    ("listobjects", Bool),
    ("use_ssl", Bool),
    ("allow_anonymous_login", Bool),
    ("ssl_verify", Str),
    ("sse", Str),
    ("sse_kms_key_id", Str),
    ("sse_customer_algorithm", Str),
    ("sse_customer_key", Str),
    ("acl", Str),
    ("grant_read", Str),
    ("grant_read_acp", Str),
    ("grant_write_acp", Str),
    ("grant_full_control", Str),
    ("cache_regions", PyType("bool")),
    ("read_timeout", Int(None)),
    ("connect_timeout", Int(None)),
    ("verify", Bool),
];
const GS: &[(&str, Check)] = &[
    ("projectname", Str),
    ("credentialpath", Str),
    ("endpointurl", Str),
    ("verify", Bool),
    ("allow_anonymous_login", Bool),
];
const SSH: &[(&str, Check)] = &[
    ("type", CacheType),
    ("port", Int(None)),
    ("user", Str),
    ("password", Str),
    ("ask_password", Bool),
    ("passphrase", Str),
    ("ask_passphrase", Bool),
    ("keyfile", Str),
    ("timeout", Int(None)),
    ("gss_auth", Bool),
    ("allow_agent", Bool),
    ("max_sessions", Int(None)),
    ("verify", Bool),
];
const HDFS: &[(&str, Check)] = &[
    ("user", Str),
    ("kerb_ticket", Str),
    ("replication", PyType("int")),
];
const WEBHDFS: &[(&str, Check)] = &[
    ("kerberos", Bool),
    ("kerberos_principal", Str),
    ("proxy_to", Str),
    ("ssl_verify", Str),
    ("token", Str),
    ("use_https", Bool),
    ("user", Str),
    ("password", Str),
    ("data_proxy_target", Str),
    ("verify", Bool),
];
const AZURE: &[(&str, Check)] = &[
    ("connection_string", Str),
    ("sas_token", Str),
    ("account_name", Str),
    ("account_key", Str),
    ("tenant_id", Str),
    ("client_id", Str),
    ("client_secret", Str),
    ("allow_anonymous_login", Bool),
    ("exclude_environment_credential", Bool),
    ("exclude_visual_studio_code_credential", Bool),
    ("exclude_shared_token_cache_credential", Bool),
    ("exclude_managed_identity_credential", Bool),
    ("verify", Bool),
    ("timeout", Int(None)),
    ("read_timeout", Int(None)),
    ("connection_timeout", Int(None)),
];
const OSS: &[(&str, Check)] = &[
    ("oss_key_id", Str),
    ("oss_key_secret", Str),
    ("oss_endpoint", Str),
    ("verify", Bool),
];
const GDRIVE: &[(&str, Check)] = &[
    ("profile", Str),
    ("gdrive_use_service_account", Bool),
    ("gdrive_client_id", Str),
    ("gdrive_client_secret", Str),
    ("gdrive_user_credentials_file", Str),
    ("gdrive_service_account_user_email", Str),
    ("gdrive_service_account_json_file_path", Str),
    ("gdrive_trash_only", Bool),
    ("gdrive_acknowledge_abuse", Bool),
    ("verify", Bool),
];

const CORE: &[(&str, Check)] = &[
    ("remote", Str),
    ("checksum_jobs", Int(Some(1))),
    ("interactive", Bool),
    ("analytics", Bool),
    ("hardlink_lock", Bool),
    ("no_scm", Bool),
    ("autostage", Bool),
    ("experiments", Bool),
    ("check_update", Bool),
    ("site_cache_dir", Str),
    ("machine", Str),
];
const CACHE: &[(&str, Check)] = &[
    ("local", Str),
    ("s3", Str),
    ("gs", Str),
    ("hdfs", Str),
    ("webhdfs", Str),
    ("ssh", Str),
    ("azure", Str),
    ("dir", Str),
    ("type", CacheType),
    ("protected", Bool),
    ("shared", Choice(&["group"])),
    ("slow_link_warning", Bool),
    ("verify", Bool),
];
const STATE: &[(&str, Check)] = &[
    ("dir", Str),
    ("row_limit", Int(Some(1))),
    ("row_cleanup_quota", Int(Some(0))),
];
const INDEX: &[(&str, Check)] = &[("dir", Str)];
const PLOTS: &[(&str, Check)] = &[
    ("html_template", Str),
    ("auto_open", Bool),
    ("out_dir", Str),
];
const EXP: &[(&str, Check)] = &[
    ("code", Str),
    ("data", Str),
    ("models", Str),
    ("metrics", Str),
    ("params", Str),
    ("plots", Str),
    ("live", Str),
    ("auto_push", Bool),
    ("git_remote", Str),
];
const PARSING: &[(&str, Check)] = &[
    ("bool", Choice(&["store_true", "boolean_optional"])),
    ("list", Choice(&["nargs", "append"])),
];
const HYDRA: &[(&str, Check)] = &[
    ("enabled", Bool),
    ("config_dir", Str),
    ("config_module", Str),
    ("config_name", Str),
    ("plugins_path", Str),
];
const STUDIO: &[(&str, Check)] = &[
    ("token", Str),
    ("url", Str),
    ("repo_url", Str),
    ("offline", Bool),
];
const MACHINE: &[(&str, Check)] = &[
    ("cloud", Choice(&["aws", "azure"])),
    (
        "region",
        Choice(&["us-west", "us-east", "eu-west", "eu-north"]),
    ),
    ("image", Str),
    ("spot", Bool),
    ("spot_price", Float0),
    ("instance_hdd_size", Int(None)),
    ("instance_type", Str),
    ("instance_gpu", Str),
    ("ssh_private", Str),
    ("startup_script", Str),
    ("setup_script", Str),
];
const DB: &[(&str, Check)] = &[("url", Str), ("username", Str), ("password", Str)];

/// The option table of the remote scheme, after DVC's `ByUrl` (no netloc means local).
fn remote_schema(url: &str) -> Result<Vec<(&'static str, Check)>, String> {
    let (scheme, netloc) = split_url(url);
    let extra: &[(&str, Check)] = if netloc.is_empty() {
        return Ok([LOCAL_COMMON, REMOTE_COMMON].concat());
    } else {
        match scheme.as_str() {
            // `b2://` is Ferry's own spelling of S3 on Backblaze (dvc refuses it; `ferry remote
            // add` writes the s3:// form), so a hand-written one can still be modified.
            "s3" | "b2" => S3,
            "gs" => GS,
            "ssh" => SSH,
            "hdfs" => HDFS,
            "webhdfs" => WEBHDFS,
            "azure" => AZURE,
            "oss" => OSS,
            "gdrive" => GDRIVE,
            "http" | "https" => HTTP,
            "webdav" | "webdavs" => WEBDAV,
            "remote" => return Ok(vec![("*", Any)]),
            other => return Err(format!("Unsupported URL type {other}://")),
        }
    };
    Ok([extra, REMOTE_COMMON].concat())
}

/// Python's `urlparse(url)` scheme (lowercased) and netloc, enough for `ByUrl`.
fn split_url(url: &str) -> (String, &str) {
    let scheme_end = url.find(':').filter(|&i| {
        i > 0
            && url[..i]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && url[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (url[..i].to_ascii_lowercase(), &url[i + 1..]),
        None => (String::new(), url),
    };
    let netloc = match rest.strip_prefix("//") {
        Some(r) => &r[..r.find(['/', '?', '#']).unwrap_or(r.len())],
        None => "",
    };
    (scheme, netloc)
}

/// The option names valid for a remote with this URL (empty when the scheme is unknown; `*`
/// stands for "anything" on `remote://` URLs).
pub fn remote_options(url: &str) -> Vec<&'static str> {
    remote_schema(url)
        .map(|s| s.into_iter().map(|(k, _)| k).collect())
        .unwrap_or_default()
}

fn path(parts: &[&str]) -> String {
    let mut s = "data".to_string();
    for p in parts {
        s.push_str(&format!("['{p}']"));
    }
    s
}

fn check_value(check: Check, value: &Value) -> Result<(), String> {
    let s = match value {
        Value::Str(s) => s.as_str(),
        Value::List { items, .. } => {
            return match check {
                Any => Ok(()),
                CacheType => check_cache_types(items.iter().map(String::as_str)),
                _ => Err("expected str".into()),
            };
        }
    };
    match check {
        Str | Any => Ok(()),
        Bool => match s.to_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err("expected true or false".into()),
        },
        PyType(t) => Err(format!("expected {t}")),
        Int(min) => {
            let n: i64 = s.trim().parse().map_err(|_| "expected int".to_string())?;
            match min {
                Some(m) if n < m => Err(format!("value must be at least {m}")),
                _ => Ok(()),
            }
        }
        Float0 => {
            let n: f64 = s.trim().parse().map_err(|_| "expected float".to_string())?;
            if n < 0.0 {
                Err("value must be at least 0".into())
            } else {
                Ok(())
            }
        }
        Choice(choices) => {
            if choices.contains(&s.to_lowercase().as_str()) {
                Ok(())
            } else {
                Err(format!("expected one of {}", choices.join(", ")))
            }
        }
        CacheType => check_cache_types(s.split(',').map(str::trim)),
    }
}

fn check_cache_types<'a>(types: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let bad: Vec<&str> = types
        .filter(|t| !["reflink", "hardlink", "symlink", "copy"].contains(t))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("Unsupported cache type(s): {}", bad.join(", ")))
    }
}

fn check_section(table: &[(&str, Check)], keys: &Section, at: &[&str]) -> Result<(), String> {
    for (k, v) in keys {
        let mut here = at.to_vec();
        here.push(k);
        let Some((_, check)) = table.iter().find(|(name, _)| name == k || *name == "*") else {
            return Err(format!("extra keys not allowed @ {}", path(&here)));
        };
        check_value(*check, v)
            .map_err(|m| format!("{m} for dictionary value @ {}", path(&here)))?;
    }
    Ok(())
}

/// Checks a merged config the way DVC's `Config.validate` does; the error is DVC's message
/// (without the `config file error: ` prefix).
pub fn validate(doc: &ConfigDoc) -> Result<(), String> {
    for (name, keys) in &doc.plain {
        let table: &[(&str, Check)] = match name.as_str() {
            "core" => CORE,
            "cache" => CACHE,
            "state" => STATE,
            "index" => INDEX,
            "plots" => PLOTS,
            "exp" => EXP,
            "parsing" => PARSING,
            "hydra" => HYDRA,
            "studio" => STUDIO,
            // Unknown `feature.*` keys are only logged by DVC.
            "feature" => &[("*", Any)],
            _ => return Err(format!("extra keys not allowed @ {}", path(&[name]))),
        };
        check_section(table, keys, &[name])?;
    }
    for (name, keys) in doc.remotes() {
        let at = ["remote", name.as_str()];
        let Some(url) = keys.get("url") else {
            return Err(format!(
                "expected 'url' for dictionary value @ {}",
                path(&at)
            ));
        };
        let table = remote_schema(url.as_str())
            .map_err(|m| format!("{m} for dictionary value @ {}", path(&at)))?;
        check_section(&table, keys, &at)?;
    }
    for (name, keys) in doc.named("machine") {
        check_section(MACHINE, keys, &["machine", name])?;
    }
    for (name, keys) in doc.named("db") {
        check_section(DB, keys, &["db", name])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> ConfigDoc {
        ConfigDoc::parse(text).unwrap()
    }

    #[test]
    fn messages_match_dvc() {
        let cases = [
            (
                "['remote \"a\"']\nurl = /tmp/x\nfoo = bar\n",
                "extra keys not allowed @ data['remote']['a']['foo']",
            ),
            (
                "['remote \"a\"']\nurl = /tmp/x\njobs = x\n",
                "expected int for dictionary value @ data['remote']['a']['jobs']",
            ),
            (
                "['remote \"a\"']\nurl = /tmp/x\njobs = 0\n",
                "value must be at least 1 for dictionary value @ data['remote']['a']['jobs']",
            ),
            (
                "['remote \"h\"']\nurl = https://x/y\nauth = foo\n",
                "expected one of basic, digest, custom for dictionary value @ data['remote']['h']['auth']",
            ),
            (
                "['remote \"z\"']\nurl = zz://foo/bar\n",
                "Unsupported URL type zz:// for dictionary value @ data['remote']['z']",
            ),
            (
                "['remote \"r\"']\njobs = 3\n",
                "expected 'url' for dictionary value @ data['remote']['r']",
            ),
            (
                "['remote \"r\"']\nurl = /x\npassword = p\n",
                "extra keys not allowed @ data['remote']['r']['password']",
            ),
        ];
        for (text, msg) in cases {
            assert_eq!(validate(&doc(text)).unwrap_err(), msg);
        }
        validate(&doc(
            "[core]\nremote = a\n['remote \"a\"']\nurl = s3://b/p\nendpointurl = https://e\nuse_ssl = TRUE\n",
        ))
        .unwrap();
    }
}
