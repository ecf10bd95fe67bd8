//! DVC's configuration files (configobj INI at system, global, repo and local levels) merged
//! into one view, plus Ferry's own `.dvc/ferry.toml`.
//!
//! Reading and writing are byte-compatible with DVC 3.67.1 so a repository can be used by
//! `dvc` and `ferry` in turn (dvc-format.md §5).
use std::path::{Path, PathBuf};

use crate::error::{Exit, Hint};
use crate::remote::RemoteSpec;

pub mod configobj;
pub mod edit;
pub mod env;
pub mod ferry;
pub mod ferry_levels;
pub mod level;
pub mod paths;
pub mod schema;

pub use configobj::{ConfigDoc, Section, Value};
pub use level::Level;

/// A configuration problem; maps to exit code 251 like DVC's `ConfigError`. The messages are
/// DVC's (`configuration error - config file error: …`) where DVC has one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file could not be read.
    #[error("configuration error - config file error: cannot read '{path}': {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why; in the message itself, not a `source` (the error chain would print it twice).
        reason: std::io::Error,
    },
    /// A config file could not be written.
    #[error("configuration error - config file error: cannot write '{path}': {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why; in the message itself, not a `source` (the error chain would print it twice).
        reason: std::io::Error,
    },
    /// A config file is not valid configobj text.
    #[error("configuration error - config file error: {message} (in '{path}')")]
    Parse {
        /// The file.
        path: PathBuf,
        /// configobj's message, e.g. `Duplicate keyword name at line 3.`.
        message: String,
    },
    /// The config does not pass DVC's schema; the message is DVC's.
    #[error("configuration error - config file error: {0}")]
    Invalid(String),
    /// A remote was named that no config level defines.
    #[error("configuration error - config file error: remote '{0}' doesn't exist.")]
    UnknownRemote(String),
    /// A remote's sections (e.g. only secrets in `config.local`) give it no `url`.
    #[error("configuration error - config file error: remote '{0}' has no url")]
    MissingUrl(String),
    /// No `-r` and no `core.remote`.
    #[error(
        "configuration error - config file error: no remote specified in {0}. Create a default remote with\n    ferry remote add -d <remote name> <remote url>"
    )]
    NoRemote(String),
    /// `remote add` of a name that exists at that level.
    #[error(
        "configuration error - config file error: remote '{0}' already exists. Use `-f|--force` to overwrite it."
    )]
    AlreadyExists(String),
    /// `remote rename` to a name some level already uses.
    #[error(
        "configuration error - config file error: Rename failed. Remote name '{0}' already exists."
    )]
    RenameTargetExists(String),
    /// `remote default NAME` for a remote no level defines.
    #[error(
        "configuration error - config file error: default remote must be present in remote list."
    )]
    DefaultNotARemote(String),
    /// A repository level was asked for outside a repository.
    #[error("configuration error - config file error: Not inside a DVC repo")]
    NotInRepo,
    /// `.dvc/ferry.toml` is invalid.
    #[error(transparent)]
    Ferry(#[from] ferry::FerryError),
}

impl Hint for ConfigError {
    fn hint(&self) -> Option<String> {
        match self {
            ConfigError::Parse { path, .. } => {
                Some(format!("fix or remove the line in '{}'", path.display()))
            }
            ConfigError::UnknownRemote(_) => {
                Some("list the configured remotes with `ferry remote list`".into())
            }
            ConfigError::MissingUrl(name) => Some(format!(
                "set it with `ferry remote add -f {name} URL`, or drop the leftover section with `ferry remote remove --local {name}`"
            )),
            ConfigError::NoRemote(_) => {
                Some("pass `-r NAME` or set one with `ferry remote default NAME`".into())
            }
            ConfigError::AlreadyExists(name) => Some(format!(
                "pick another name, or replace it with `ferry remote add -f {name} URL`"
            )),
            ConfigError::RenameTargetExists(_) => {
                Some("pick a name `ferry remote list` does not show".into())
            }
            ConfigError::DefaultNotARemote(name) => Some(format!(
                "add it first with `ferry remote add {name} URL`, see `ferry remote list`"
            )),
            ConfigError::NotInRepo => {
                Some("run inside a repository, or use `--global`/`--system`".into())
            }
            ConfigError::Invalid(msg) if msg.starts_with("extra keys not allowed") => Some(
                "see the options of each remote type at https://dvc.org/doc/command-reference/remote/modify"
                    .into(),
            ),
            ConfigError::Invalid(msg) if msg.starts_with("Unsupported URL type") => Some(
                "use a local path or an s3://, b2://, http(s)://, gs://, azure://, ssh:// … URL (as DVC)"
                    .into(),
            ),
            ConfigError::Invalid(_) => Some(
                "fix the value it names with `ferry remote modify NAME OPTION VALUE` (see `ferry remote list -v`)"
                    .into(),
            ),
            ConfigError::Read { path, .. } | ConfigError::Write { path, .. } => Some(format!(
                "check that you may read and write '{}' (`ls -l`)",
                path.display()
            )),
            ConfigError::Ferry(e) => e.hint(),
        }
    }
    fn exit(&self) -> Exit {
        Exit::Config
    }
}

/// Option names whose values are credentials: never printed, logged or put in tracked files.
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "secret_access_key",
    "session_token",
    "sse_customer_key",
    "token",
    "passphrase",
    "account_key",
    "sas_token",
    "connection_string",
    "client_secret",
    "oss_key_secret",
    "gdrive_client_secret",
];

/// Whether an option's value is a credential.
pub fn is_secret(key: &str) -> bool {
    SECRET_KEYS.contains(&key.to_lowercase().as_str())
}

/// Whether `url` carries a password in a `user:password@` part (a secret that belongs in
/// `.dvc/config.local`, never in a tracked file). For printing a URL use
/// [`crate::remote::display_url`].
pub fn url_has_password(url: &str) -> bool {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return false;
    };
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let authority = &url[start..authority_end];
    matches!((authority.rfind('@'), authority.find(':')), (Some(at), Some(colon)) if colon < at)
}

/// One parsed config file (kept for callers that read a single file).
pub type ConfigFile = ConfigDoc;

/// The merged configuration of a repository: system, global, repo and local levels, merged key
/// by key with later levels winning, relative paths resolved against each file's directory.
#[derive(Debug, Clone, Default)]
pub struct Config {
    merged: ConfigDoc,
    dvc_dir: PathBuf,
}

impl Config {
    /// Loads all four levels for the repository whose DVC dir is `dvc_dir`.
    pub fn load(dvc_dir: &Path) -> Result<Self, ConfigError> {
        let mut merged = edit::Levels::new(Some(dvc_dir.to_path_buf())).read(None)?;
        // DVC's schema lowercases these (`Lower`), so `Remote = Origin` names remote `origin`.
        if let Some(core) = merged.plain.get_mut("core") {
            for key in ["remote", "machine"] {
                if let Some(Value::Str(v)) = core.get_mut(key) {
                    *v = v.to_lowercase();
                }
            }
        }
        Ok(Config {
            merged,
            dvc_dir: dvc_dir.to_path_buf(),
        })
    }

    /// The merged document (paths resolved).
    pub fn doc(&self) -> &ConfigDoc {
        &self.merged
    }

    /// The DVC dir this config was loaded for.
    pub fn dvc_dir(&self) -> &Path {
        &self.dvc_dir
    }

    /// A value, e.g. `get("cache", "type")` (comma lists come back joined with `,`).
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.merged.get(section, key)
    }

    /// A boolean value, parsed case-insensitively as DVC does.
    pub fn get_bool(&self, section: &str, key: &str) -> bool {
        self.get(section, key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The names of the configured remotes, in config order (system first, then global, repo,
    /// local; DVC's dict merge order).
    pub fn remote_names(&self) -> Vec<String> {
        self.merged.remotes().keys().cloned().collect()
    }

    /// `core.remote`, if set.
    pub fn default_remote(&self) -> Option<&str> {
        self.get("core", "remote")
    }

    /// The named remote's spec: options merged over all levels, a relative local URL made
    /// absolute, then `FERRY_REMOTE_<NAME>_<KEY>` environment variables applied on top.
    pub fn remote(&self, name: &str) -> Result<RemoteSpec, ConfigError> {
        self.remote_with_env(name, std::env::vars())
    }

    /// [`Config::remote`] with the environment given explicitly (tests, or a caller that
    /// filtered it).
    pub fn remote_with_env(
        &self,
        name: &str,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<RemoteSpec, ConfigError> {
        let vars: Vec<(String, String)> = vars.collect();
        self.spec(&name.to_lowercase(), &vars, 0)
    }

    /// One remote's spec; a `remote://base/sub/path` URL takes `base`'s URL joined with the
    /// path and `base`'s options under its own (DVC's `_resolve_remote_refs`).
    fn spec(
        &self,
        name: &str,
        vars: &[(String, String)],
        depth: usize,
    ) -> Result<RemoteSpec, ConfigError> {
        let keys = self
            .merged
            .remotes()
            .get(name)
            .ok_or_else(|| ConfigError::UnknownRemote(name.to_string()))?;
        let mut options: std::collections::BTreeMap<String, String> = keys
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().to_string()))
            .collect();
        let names = self.remote_names();
        for (key, value) in env::overrides(name, &names, vars.iter().cloned()) {
            let value = if paths::is_remote_path_key(&key) {
                let cwd = std::env::current_dir().unwrap_or_default();
                paths::resolve(&cwd, &value)
            } else {
                value
            };
            tracing::debug!("remote '{name}': option '{key}' set from the environment");
            options.insert(key, value);
        }
        let url = options
            .remove("url")
            .ok_or_else(|| ConfigError::MissingUrl(name.to_string()))?;
        let Some(reference) = url.strip_prefix("remote://") else {
            return Ok(RemoteSpec {
                name: name.to_string(),
                url,
                options,
            });
        };
        // Eight levels of remotes referencing remotes is plenty; more means a cycle.
        if depth >= 8 {
            return Err(ConfigError::Invalid(format!(
                "remote '{name}': remote:// references loop ({url})"
            )));
        }
        let (base_name, sub) = reference.split_once('/').unwrap_or((reference, ""));
        let base = self.spec(&base_name.to_lowercase(), vars, depth + 1)?;
        let mut merged = base.options;
        merged.extend(options);
        Ok(RemoteSpec {
            name: name.to_string(),
            url: format!("{}/{}", base.url, sub.trim_start_matches('/')),
            options: merged,
        })
    }
}
