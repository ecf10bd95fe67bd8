//! Reading and editing config levels with DVC's semantics (`Config.read`, `Config.edit`), and
//! the remote operations behind `ferry remote …` (DVC's `dvc/commands/remote.py`).
//!
//! Where DVC leaves a repository broken, Ferry does not: `rename` renames the remote's section
//! at every level (DVC leaves `config.local` orphaned and every later command fails with 251),
//! and `remove` drops sections that would be left without a `url` at other levels.
use std::path::{Path, PathBuf};

use super::configobj::{ConfigDoc, Section, Value};
use super::level::{self, Level};
use super::{ConfigError, paths, schema};

/// The config files of one repository (or none, outside a repository).
#[derive(Debug, Clone)]
pub struct Levels {
    dvc_dir: Option<PathBuf>,
}

/// What `remove` did besides the requested level.
#[derive(Debug, Default)]
pub struct Removed {
    /// Other files whose leftover (url-less) section of the remote was dropped too.
    pub also_from: Vec<PathBuf>,
}

impl Levels {
    /// The levels of the repository whose DVC dir is `dvc_dir` (`None` outside a repository:
    /// only `--global` and `--system` can be used then).
    pub fn new(dvc_dir: Option<PathBuf>) -> Self {
        Self { dvc_dir }
    }

    /// The repository's DVC dir (`None` outside a repository).
    pub fn dvc_dir(&self) -> Option<&Path> {
        self.dvc_dir.as_deref()
    }

    /// The file of `level`, or `NotInRepo` for a repository level outside a repository.
    pub fn path(&self, level: Level) -> Result<PathBuf, ConfigError> {
        match (level, &self.dvc_dir) {
            (Level::Repo | Level::Local, None) => Err(ConfigError::NotInRepo),
            (_, Some(dir)) => Ok(level.path(dir)),
            (_, None) => Ok(level.path(Path::new(""))),
        }
    }

    fn exists(&self, level: Level) -> bool {
        self.dvc_dir.is_some() || matches!(level, Level::System | Level::Global)
    }

    /// One level with paths resolved (DVC's `load_one`).
    pub fn read_one(&self, level: Level) -> Result<ConfigDoc, ConfigError> {
        if !self.exists(level) {
            return Ok(ConfigDoc::default());
        }
        level::read_resolved(&self.path(level)?)
    }

    /// The merge of the levels before `level` (all levels for `None`): DVC's
    /// `load_config_to_level`.
    pub fn merged_below(&self, level: Option<Level>) -> Result<ConfigDoc, ConfigError> {
        let mut merged = ConfigDoc::default();
        for l in Level::ALL {
            if Some(l) == level {
                break;
            }
            merged.merge(&self.read_one(l)?);
        }
        Ok(merged)
    }

    /// DVC's `Config.read`: the merged view for `None`, else that one level.
    pub fn read(&self, level: Option<Level>) -> Result<ConfigDoc, ConfigError> {
        match level {
            None => self.merged_below(None),
            Some(l) => self.read_one(l),
        }
    }

    /// DVC's `Config.edit`: loads `level` (repo when `None`) as written, lets `f` change it
    /// (seeing the merge of the levels below), validates the merge of both with DVC's schema and
    /// writes the file back. Nothing is written when `f` or the validation fails.
    pub fn edit<T>(
        &self,
        level: Level,
        f: impl FnOnce(&mut ConfigDoc, &ConfigDoc) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        let path = self.path(level)?;
        let mut doc = level::read_raw(&path)?;
        let below = self.merged_below(Some(level))?;
        let out = f(&mut doc, &below)?;
        let mut merged = below;
        merged.merge(&doc);
        schema::validate(&merged).map_err(ConfigError::Invalid)?;
        level::write(level, &path, &doc)?;
        Ok(out)
    }

    /// Edits `level` only when `pred` says the raw doc needs a change (so untouched levels,
    /// e.g. an unwritable system file, are never rewritten); no validation, as DVC does for
    /// the follow-up edits of `remove` and `rename`.
    fn edit_if(
        &self,
        level: Level,
        pred: impl Fn(&ConfigDoc) -> bool,
        f: impl FnOnce(&mut ConfigDoc),
    ) -> Result<Option<PathBuf>, ConfigError> {
        if !self.exists(level) {
            return Ok(None);
        }
        let path = self.path(level)?;
        let mut doc = level::read_raw(&path)?;
        if !pred(&doc) {
            return Ok(None);
        }
        f(&mut doc);
        level::write(level, &path, &doc)?;
        Ok(Some(path))
    }

    /// The `(remote, option)` pairs holding a credential at `level`, a `url` with a password
    /// included (for `doctor`: secrets in the tracked `.dvc/config`).
    pub fn secrets_at(&self, level: Level) -> Result<Vec<(String, String)>, ConfigError> {
        let doc = self.read_one(level)?;
        let mut out = Vec::new();
        for (name, keys) in doc.remotes() {
            for (k, v) in keys {
                let url_secret = k == "url" && super::url_has_password(v.as_str());
                if super::is_secret(k) || url_secret {
                    out.push((name.clone(), k.clone()));
                }
            }
        }
        Ok(out)
    }

    /// How a URL typed in `cwd` is stored at `level` (relative paths become relative to the
    /// config file's directory).
    pub fn store_url(&self, level: Level, cwd: &Path, url: &str) -> Result<String, ConfigError> {
        let path = self.path(level)?;
        Ok(paths::store(cwd, &level::conf_dir(&path), url))
    }

    /// `remote add`: sets `[remote "name"] url` (replacing the section with `force`) and
    /// `core.remote` with `default`.
    pub fn add(
        &self,
        level: Level,
        name: &str,
        stored_url: &str,
        default: bool,
        force: bool,
    ) -> Result<(), ConfigError> {
        self.edit(level, |doc, _| {
            if doc.remotes().contains_key(name) && !force {
                return Err(ConfigError::AlreadyExists(name.to_string()));
            }
            let mut section = Section::new();
            section.insert("url".into(), Value::Str(stored_url.to_string()));
            doc.remotes_mut().insert(name.to_string(), section);
            if default {
                doc.plain_mut("core")
                    .insert("remote".into(), Value::Str(name.to_string()));
            }
            Ok(())
        })
    }

    /// `remote modify`: sets (or with `None` unsets) one option at `level`. The remote must
    /// exist at that level or below it.
    pub fn modify(
        &self,
        level: Level,
        name: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), ConfigError> {
        self.edit(level, |doc, below| {
            if !doc.remotes().contains_key(name) && !below.remotes().contains_key(name) {
                return Err(ConfigError::UnknownRemote(name.to_string()));
            }
            let section = doc.remotes_mut().entry(name.to_string()).or_default();
            match value {
                Some(v) => {
                    section.insert(key.to_string(), Value::Str(v.to_string()));
                }
                None => {
                    section.shift_remove(key);
                }
            }
            Ok(())
        })
    }

    /// `remote remove`: deletes the section at `level`, unsets `core.remote` where it names the
    /// remote at that level and the levels shadowing it, and drops sections of the remote left
    /// without a `url` at any other level.
    pub fn remove(&self, level: Level, name: &str) -> Result<Removed, ConfigError> {
        self.edit(level, |doc, _| {
            if doc.remotes_mut().shift_remove(name).is_none() {
                return Err(ConfigError::UnknownRemote(name.to_string()));
            }
            Ok(())
        })?;
        // DVC rewrites (and so creates) every level from local down to the edited one.
        for l in Level::ALL.iter().rev() {
            if *l < level {
                break;
            }
            self.edit_if(
                *l,
                |_| true,
                |d| {
                    if d.get("core", "remote") == Some(name) {
                        d.plain_mut("core").shift_remove("remote");
                    }
                },
            )?;
        }
        let mut removed = Removed::default();
        let merged = self.merged_below(None)?;
        let orphaned = merged
            .remotes()
            .get(name)
            .is_some_and(|s| !s.contains_key("url"));
        if orphaned {
            for l in Level::ALL {
                if let Some(path) = self.edit_if(
                    l,
                    |d| d.remotes().contains_key(name),
                    |d| {
                        d.remotes_mut().shift_remove(name);
                    },
                )? {
                    removed.also_from.push(path);
                }
            }
        }
        Ok(removed)
    }

    /// `remote rename`: renames the section at `level` (it moves to the end, as in DVC) and,
    /// unlike DVC, at every other level holding it, and every `core.remote` naming it.
    /// Returns the files changed.
    pub fn rename(&self, level: Level, old: &str, new: &str) -> Result<Vec<PathBuf>, ConfigError> {
        let all = self.merged_below(None)?;
        if all.remotes().contains_key(new) {
            return Err(ConfigError::RenameTargetExists(new.to_string()));
        }
        let rename = |d: &mut ConfigDoc| {
            if let Some(section) = d.remotes_mut().shift_remove(old) {
                d.remotes_mut().insert(new.to_string(), section);
            }
            if d.get("core", "remote") == Some(old) {
                d.plain_mut("core")
                    .insert("remote".into(), Value::Str(new.to_string()));
            }
        };
        self.edit(level, |doc, _| {
            if !doc.remotes().contains_key(old) {
                return Err(ConfigError::UnknownRemote(old.to_string()));
            }
            rename(doc);
            Ok(())
        })?;
        let mut changed = vec![self.path(level)?];
        for l in Level::ALL {
            if l == level {
                continue;
            }
            // DVC rewrites (and so creates) the levels shadowing the edited one; other levels
            // are only written when they mention the remote.
            let touches = |d: &ConfigDoc| {
                l > level || d.remotes().contains_key(old) || d.get("core", "remote") == Some(old)
            };
            if let Some(path) = self.edit_if(l, touches, rename)? {
                changed.push(path);
            }
        }
        Ok(changed)
    }

    /// `remote default` without a name: `core.remote` of `level` (merged view for `None`).
    pub fn default_remote(&self, level: Option<Level>) -> Result<Option<String>, ConfigError> {
        Ok(self.read(level)?.get("core", "remote").map(str::to_string))
    }

    /// `remote default NAME`: the remote must exist at `level` or below it.
    pub fn set_default(&self, level: Level, name: &str) -> Result<(), ConfigError> {
        self.edit(level, |doc, below| {
            if !doc.remotes().contains_key(name) && !below.remotes().contains_key(name) {
                return Err(ConfigError::DefaultNotARemote(name.to_string()));
            }
            doc.plain_mut("core")
                .insert("remote".into(), Value::Str(name.to_string()));
            Ok(())
        })
    }

    /// `remote default --unset`.
    pub fn unset_default(&self, level: Level) -> Result<(), ConfigError> {
        self.edit(level, |doc, _| {
            if let Some(core) = doc.plain.get_mut("core") {
                core.shift_remove("remote");
            }
            Ok(())
        })
    }
}
