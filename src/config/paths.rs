//! Path-valued options (`url`, `cache.dir`, `keyfile`, …): DVC stores a relative path relative
//! to the directory of the config file that holds it and resolves it against that directory on
//! read (dvc-format.md §5.1, `Config._resolve`/`_to_relpath`).
use std::path::{Component, Path, PathBuf};

/// Whether `key` in a remote section holds a path (DVC's `_map_dirs`).
pub fn is_remote_path_key(key: &str) -> bool {
    matches!(
        key,
        "url"
            | "gdrive_user_credentials_file"
            | "gdrive_service_account_json_file_path"
            | "credentialpath"
            | "configpath"
            | "keyfile"
            | "cert_path"
            | "key_path"
    )
}

/// Whether `key` of the plain section `section` holds a path.
pub fn is_plain_path_key(section: &str, key: &str) -> bool {
    section == "cache" && key == "dir"
}

/// Whether `key` of a `machine` section holds a path.
pub fn is_machine_path_key(key: &str) -> bool {
    matches!(key, "startup_script" | "setup_script")
}

/// DVC's `re.match(r"\w+://", path)`: a URL, stored and read unchanged.
pub fn is_url(value: &str) -> bool {
    let word = value
        .char_indices()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map(|(i, c)| i + c.len_utf8());
    matches!(word, Some(end) if value[end..].starts_with("://"))
}

/// Whether the value is kept verbatim on write: a URL, an absolute path, or a `~` path.
fn is_verbatim(value: &str) -> bool {
    is_url(value) || Path::new(value).is_absolute() || value.starts_with('~')
}

/// The absolute path a stored value means, for a config file in `conf_dir` (DVC's `_resolve`).
pub fn resolve(conf_dir: &Path, value: &str) -> String {
    if is_url(value) || Path::new(value).is_absolute() {
        return value.to_string();
    }
    if let Some(rest) = value.strip_prefix('~')
        && (rest.is_empty() || rest.starts_with('/'))
        && let Some(home) = std::env::var_os("HOME")
    {
        return format!("{}{rest}", home.to_string_lossy());
    }
    normalize(&conf_dir.join(value))
        .to_string_lossy()
        .into_owned()
}

/// How a value already in a config file in `conf_dir` is rewritten when DVC saves that file:
/// relative paths are normalized (`./a/../b` becomes `b`), anything else is kept.
pub fn restore(conf_dir: &Path, value: &str) -> String {
    if is_verbatim(value) {
        return value.to_string();
    }
    relative_to(&normalize(&conf_dir.join(value)), conf_dir)
}

/// How a value typed on the command line in `cwd` is stored in a config file in `conf_dir`:
/// a relative path is taken relative to `cwd` and rewritten relative to `conf_dir`.
pub fn store(cwd: &Path, conf_dir: &Path, value: &str) -> String {
    if is_verbatim(value) {
        return value.to_string();
    }
    relative_to(&normalize(&cwd.join(value)), conf_dir)
}

/// Lexical normalization as Python's `os.path.abspath`/`normpath` does it (no symlinks resolved).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `os.path.relpath(path, start)` for two normalized absolute paths, with `/` separators.
pub fn relative_to(path: &Path, start: &Path) -> String {
    let start = normalize(start);
    let p: Vec<_> = path.components().collect();
    let s: Vec<_> = start.components().collect();
    let common = p.iter().zip(&s).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); s.len() - common];
    parts.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_like_dvc() {
        // Observed: `dvc remote add rel ../remote_rel` run in /r/sub stores `../remote_rel`;
        // run in the repo root it stores `../../remote_rel`.
        let dvc = Path::new("/r/.dvc");
        assert_eq!(
            store(Path::new("/r/sub"), dvc, "../remote_rel"),
            "../remote_rel"
        );
        assert_eq!(
            store(Path::new("/r"), dvc, "../remote_rel"),
            "../../remote_rel"
        );
        assert_eq!(store(Path::new("/r/sub"), dvc, "./x/../y"), "../sub/y");
        assert_eq!(store(Path::new("/r"), dvc, "~/foo"), "~/foo");
        assert_eq!(store(Path::new("/r"), dvc, "s3://b/p"), "s3://b/p");
        assert_eq!(store(Path::new("/r"), dvc, "/abs/p"), "/abs/p");
        assert_eq!(resolve(dvc, "../../remote_rel"), "/remote_rel");
        assert_eq!(restore(dvc, "./a/../b"), "b");
        assert!(is_url("remote://x/y"));
        assert!(!is_url("x/y://"));
    }
}
