//! The four config levels and where their files live (dvc-format.md §5.1).
use std::path::{Path, PathBuf};

use super::configobj::ConfigDoc;
use super::{ConfigError, paths};

/// A config level, in shadowing order: later levels win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `$DVC_SYSTEM_CONFIG_DIR/config`, else `$XDG_CONFIG_DIRS[0]/dvc/config` (`/etc/xdg/dvc`).
    System,
    /// `$DVC_GLOBAL_CONFIG_DIR/config`, else `$XDG_CONFIG_HOME/dvc/config` (`~/.config/dvc`).
    Global,
    /// `.dvc/config`, tracked by git.
    Repo,
    /// `.dvc/config.local`, git-ignored: where secrets belong.
    Local,
}

impl Level {
    /// All levels in shadowing order (system first, local last).
    pub const ALL: [Level; 4] = [Level::System, Level::Global, Level::Repo, Level::Local];

    /// The file of this level for the repository whose DVC dir is `dvc_dir`.
    pub fn path(self, dvc_dir: &Path) -> PathBuf {
        match self {
            Level::System => system_dir().join("config"),
            Level::Global => global_dir().join("config"),
            Level::Repo => dvc_dir.join("config"),
            Level::Local => dvc_dir.join("config.local"),
        }
    }

    /// DVC's name for the level.
    pub fn name(self) -> &'static str {
        match self {
            Level::System => "system",
            Level::Global => "global",
            Level::Repo => "repo",
            Level::Local => "local",
        }
    }

    /// The command-line flag that selects this level (empty for the default, repo).
    pub fn flag(self) -> &'static str {
        match self {
            Level::System => "--system ",
            Level::Global => "--global ",
            Level::Repo => "",
            Level::Local => "--local ",
        }
    }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// DVC's `global_config_dir()` on Linux (platformdirs `user_config_dir("dvc")`).
pub fn global_dir() -> PathBuf {
    if let Some(dir) = env_dir("DVC_GLOBAL_CONFIG_DIR") {
        return dir;
    }
    let base = env_dir("XDG_CONFIG_HOME").unwrap_or_else(|| {
        env_dir("HOME")
            .unwrap_or_else(|| PathBuf::from("/"))
            .join(".config")
    });
    base.join("dvc")
}

/// DVC's `system_config_dir()` on Linux (platformdirs `site_config_dir("dvc")`).
pub fn system_dir() -> PathBuf {
    if let Some(dir) = env_dir("DVC_SYSTEM_CONFIG_DIR") {
        return dir;
    }
    let first = std::env::var("XDG_CONFIG_DIRS")
        .ok()
        .and_then(|v| v.split(':').next().map(str::to_string))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "/etc/xdg".into());
    PathBuf::from(first).join("dvc")
}

/// Reads one level's file as written (paths not resolved); a missing file is an empty doc.
pub fn read_raw(path: &Path) -> Result<ConfigDoc, ConfigError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigDoc::default()),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.into(),
                reason: source,
            });
        }
    };
    ConfigDoc::parse(&text).map_err(|e| ConfigError::Parse {
        path: path.into(),
        message: e.to_string(),
    })
}

/// Reads one level's file with its relative paths made absolute (DVC's `load_one`).
pub fn read_resolved(path: &Path) -> Result<ConfigDoc, ConfigError> {
    let mut doc = read_raw(path)?;
    let dir = conf_dir(path);
    map_paths(&mut doc, |v| paths::resolve(&dir, v));
    Ok(doc)
}

/// The directory relative paths in the config file `path` are relative to.
pub fn conf_dir(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    if dir.is_absolute() {
        paths::normalize(dir)
    } else {
        std::env::current_dir()
            .map(|c| paths::normalize(&c.join(dir)))
            .unwrap_or_else(|_| dir.to_path_buf())
    }
}

/// Applies `f` to every path-valued option of `doc` (strings only, as DVC's `_map_dirs`).
pub fn map_paths(doc: &mut ConfigDoc, f: impl Fn(&str) -> String) {
    use super::configobj::Value;
    for (section, keys) in doc.plain.iter_mut() {
        for (k, v) in keys.iter_mut() {
            if let Value::Str(s) = v
                && paths::is_plain_path_key(section, k)
            {
                *s = f(s);
            }
        }
    }
    for keys in doc.named_mut("remote").values_mut() {
        for (k, v) in keys.iter_mut() {
            if let Value::Str(s) = v
                && paths::is_remote_path_key(k)
            {
                *s = f(s);
            }
        }
    }
    for keys in doc.named_mut("machine").values_mut() {
        for (k, v) in keys.iter_mut() {
            if let Value::Str(s) = v
                && paths::is_machine_path_key(k)
            {
                *s = f(s);
            }
        }
    }
}

/// Writes a level's file the way DVC does, creating its directory. `config.local` is written
/// with mode 0600 because it holds credentials. The repository's own files (`.dvc/config`,
/// `.dvc/config.local`) are never written through a symlink: a cloned repository could point
/// them at `~/.bashrc` (dvc would overwrite it). Global and system files may be links (dotfile
/// managers make them).
pub fn write(level: Level, path: &Path, doc: &ConfigDoc) -> Result<(), ConfigError> {
    let mut doc = doc.clone();
    let dir = conf_dir(path);
    map_paths(&mut doc, |v| paths::restore(&dir, v));
    let text = doc
        .write()
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let io = |reason| ConfigError::Write {
        path: path.into(),
        reason,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    if matches!(level, Level::Repo | Level::Local) {
        refuse_symlink(path).map_err(io)?;
    }
    tracing::debug!("Writing '{}'.", path.display());
    if level == Level::Local {
        write_private(path, text.as_bytes()).map_err(io)
    } else {
        std::fs::write(path, text).map_err(io)
    }
}

/// Fails when `path` is a symbolic link (the repository's own files are never written through one).
pub fn refuse_symlink(path: &Path) -> std::io::Result<()> {
    if path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(std::io::Error::other(
            "it is a symbolic link, and Ferry never writes a repository file through one; replace it with a plain file",
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: tighten it too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
