//! DVC's configuration files (configobj INI at system, global, repo and local levels) merged
//! into one view, plus Ferry's own `.dvc/ferry.toml`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Exit, Hint};
use crate::remote::RemoteSpec;

/// A configuration problem; maps to exit code 251 like DVC's `ConfigError`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file could not be read.
    #[error("config file error: cannot read '{path}': {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A config file is not valid configobj text.
    #[error("config file error: '{path}' line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A remote was named that no config level defines.
    #[error("config file error: remote '{0}' doesn't exist.")]
    UnknownRemote(String),
    /// No `-r` and no `core.remote`.
    #[error(
        "config file error: no remote specified in {0}. Create a default remote with\n    ferry remote add -d <remote name> <remote url>"
    )]
    NoRemote(String),
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
            ConfigError::NoRemote(_) => {
                Some("pass `-r NAME` or set one with `ferry remote default NAME`".into())
            }
            ConfigError::Read { .. } => None,
        }
    }
    fn exit(&self) -> Exit {
        Exit::Config
    }
}

/// One parsed config file: sections in file order, keys lowercased, values as written.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// `(section name, keys)`; named sections are stored as `remote "name"`.
    pub sections: Vec<(String, BTreeMap<String, String>)>,
}

impl ConfigFile {
    /// Parses configobj text as DVC writes it (and as people hand-write it).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut file = ConfigFile::default();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let inner = inner.trim();
                let name = strip_quotes(inner).trim().to_string();
                file.sections
                    .push((normalize_section(&name), BTreeMap::new()));
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(ConfigError::Parse {
                    path: path.into(),
                    line: n + 1,
                    message: format!("expected 'key = value', found '{line}'"),
                });
            };
            let Some((_, keys)) = file.sections.last_mut() else {
                return Err(ConfigError::Parse {
                    path: path.into(),
                    line: n + 1,
                    message: "a key outside of any section".into(),
                });
            };
            keys.insert(key.trim().to_lowercase(), unquote_value(value.trim()));
        }
        Ok(file)
    }

    /// The keys of `section`, if present.
    pub fn section(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| k)
    }
}

fn strip_quotes(s: &str) -> &str {
    for q in ['\'', '"'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

fn unquote_value(v: &str) -> String {
    if let Some(inner) = v.strip_prefix("'''").and_then(|v| v.strip_suffix("'''")) {
        return inner.to_string();
    }
    strip_quotes(v).to_string()
}

/// `remote "x"` (any spacing, any case of the kind) becomes `remote "x"`; plain names stay.
fn normalize_section(name: &str) -> String {
    for kind in ["remote", "machine", "db"] {
        if let Some(rest) = name.strip_prefix(kind) {
            let rest = rest.trim();
            if rest.len() >= 2 && rest.starts_with('"') && rest.ends_with('"') {
                return format!("{kind} \"{}\"", &rest[1..rest.len() - 1]);
            }
        }
    }
    name.to_string()
}

/// The merged configuration of a repository: system, global, repo and local levels.
#[derive(Debug, Clone, Default)]
pub struct Config {
    merged: BTreeMap<String, BTreeMap<String, String>>,
    order: Vec<String>,
    dvc_dir: PathBuf,
}

impl Config {
    /// Loads `.dvc/config` and `.dvc/config.local` of the repository whose DVC dir is `dvc_dir`.
    pub fn load(dvc_dir: &Path) -> Result<Self, ConfigError> {
        let mut config = Config {
            dvc_dir: dvc_dir.to_path_buf(),
            ..Default::default()
        };
        for path in [dvc_dir.join("config"), dvc_dir.join("config.local")] {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(ConfigError::Read { path, source }),
            };
            for (name, keys) in ConfigFile::parse(&text, &path)?.sections {
                if !config.order.contains(&name) {
                    config.order.push(name.clone());
                }
                config.merged.entry(name).or_default().extend(keys);
            }
        }
        Ok(config)
    }

    /// A value, e.g. `get("cache", "type")`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.merged.get(section)?.get(key).map(String::as_str)
    }

    /// A boolean value, parsed case-insensitively as DVC does.
    pub fn get_bool(&self, section: &str, key: &str) -> bool {
        self.get(section, key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The names of the configured remotes, in config order.
    pub fn remote_names(&self) -> Vec<String> {
        self.order
            .iter()
            .filter_map(|s| {
                s.strip_prefix("remote \"")
                    .and_then(|s| s.strip_suffix('"'))
            })
            .map(str::to_string)
            .collect()
    }

    /// `core.remote`, if set.
    pub fn default_remote(&self) -> Option<&str> {
        self.get("core", "remote")
    }

    /// The named remote's spec, with a relative local URL resolved against `.dvc/`.
    pub fn remote(&self, name: &str) -> Result<RemoteSpec, ConfigError> {
        let name = name.to_lowercase();
        let keys = self
            .merged
            .get(&format!("remote \"{name}\""))
            .ok_or_else(|| ConfigError::UnknownRemote(name.clone()))?;
        let mut options = keys.clone();
        let url = options
            .remove("url")
            .ok_or_else(|| ConfigError::UnknownRemote(name.clone()))?;
        let url = if url.contains("://") || Path::new(&url).is_absolute() {
            url
        } else {
            self.dvc_dir.join(&url).to_string_lossy().into_owned()
        };
        Ok(RemoteSpec { name, url, options })
    }
}
