//! Ferry's own settings in `.dvc/ferry.toml` (DESIGN.md §3): pull order, push targets, daily
//! budgets per remote and the redundancy target. They cannot go in DVC's files, which refuse
//! unknown keys. The file is tracked by git, so secrets are refused in it.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Config;
use crate::error::{Exit, Hint};

/// The file name inside the DVC dir.
pub const FILE: &str = "ferry.toml";

/// The per-remote keys that live in `ferry.toml`; `ferry remote modify` routes them there.
pub const REMOTE_KEYS: &[&str] = &[
    "daily_download_limit",
    "daily_request_limit",
    "daily_list_limit",
    "budget_reset",
];

/// Whether `key` is a per-remote Ferry setting (as opposed to a DVC option).
pub fn is_ferry_key(key: &str) -> bool {
    REMOTE_KEYS.contains(&key)
}

/// A problem with `ferry.toml`; exit 251 like every configuration error.
#[derive(Debug, thiserror::Error)]
pub enum FerryError {
    /// Unreadable or unwritable file.
    #[error("configuration error - cannot access '{path}': {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key or a bad value; `message` names the key.
    #[error("configuration error - invalid '{path}': {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A credential was found in the tracked file.
    #[error(
        "configuration error - '{path}' holds the secret 'remote.{remote}.{key}', but it is tracked by git and must not hold secrets"
    )]
    Secret {
        /// The file.
        path: PathBuf,
        /// The remote the secret was set for.
        remote: String,
        /// The secret option.
        key: String,
    },
}

impl Hint for FerryError {
    fn hint(&self) -> Option<String> {
        match self {
            FerryError::Invalid { path, .. } => Some(format!(
                "fix '{}'; its keys are pull.order, push.remotes, redundancy.min_copies, team.ledger and, per remote, remote.<name>.{}",
                path.display(),
                REMOTE_KEYS.join(", ")
            )),
            FerryError::Secret { remote, key, .. } => Some(format!(
                "remove it from the file and run `ferry remote modify --local {remote} {key} <value>`"
            )),
            FerryError::Io { .. } => None,
        }
    }
    fn exit(&self) -> Exit {
        Exit::Config
    }
}

/// A byte count written as `1GB` (10^9), `500MiB` (500·2^20), `1.5 GB` or a plain integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses a size; units are B, kB/KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB
    /// (powers of 1024), case-insensitive.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (t[..split].trim(), t[split..].trim());
        let bad = || format!("'{s}' is not a size (examples: 1GB, 500MiB, 1000000 bytes)");
        let mult: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" | "byte" | "bytes" => 1,
            "k" | "kb" => 1_000,
            "m" | "mb" => 1_000_000,
            "g" | "gb" => 1_000_000_000,
            "t" | "tb" => 1_000_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            _ => return Err(bad()),
        };
        if num.is_empty() {
            return Err(bad());
        }
        if let Ok(n) = num.parse::<u64>() {
            return n.checked_mul(mult).map(ByteSize).ok_or_else(bad);
        }
        let f: f64 = num.parse().map_err(|_| bad())?;
        let bytes = f * mult as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(bad());
        }
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(ByteSize(n)),
            Raw::Str(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// The time zone a remote's daily budget resets in (an IANA name, default UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct ResetZone {
    /// The name as written, e.g. `Europe/Berlin`.
    pub name: String,
    /// The zone.
    pub tz: jiff::tz::TimeZone,
}

impl ResetZone {
    /// Looks up an IANA time zone name.
    pub fn parse(name: &str) -> Result<Self, String> {
        jiff::tz::TimeZone::get(name)
            .map(|tz| ResetZone {
                name: name.to_string(),
                tz,
            })
            .map_err(|_| {
                format!("'{name}' is not an IANA time zone name (e.g. UTC, Europe/Berlin)")
            })
    }
}

impl Default for ResetZone {
    fn default() -> Self {
        ResetZone {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }
}

impl<'de> Deserialize<'de> for ResetZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ResetZone::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// `[pull]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullSettings {
    /// Remotes in the order a pull tries them.
    pub order: Option<Vec<String>>,
}

/// `[push]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSettings {
    /// Remotes a plain `ferry push` fans out to.
    pub remotes: Option<Vec<String>>,
}

/// `[remote.<name>]`: one remote's budget.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSettings {
    /// Bytes per day this machine may download from the remote.
    pub daily_download_limit: Option<ByteSize>,
    /// GET/HEAD requests per day (B2 Class B).
    pub daily_request_limit: Option<u64>,
    /// LIST and other bucket calls per day (B2 Class C).
    pub daily_list_limit: Option<u64>,
    /// The time zone of the daily reset.
    #[serde(default)]
    pub budget_reset: ResetZone,
    /// The command named this remote itself (`-r NAME`): it is tried once even when the
    /// ledger marks it capped (the cap may have been lifted). Set by the command line, never
    /// read from the file.
    #[serde(skip)]
    pub named: bool,
}

/// `[team]`: the ledger shared by everybody who uses the same remotes (off unless set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSettings {
    /// The remote the team's usage records are written to and listed from (`team.ledger`).
    pub ledger: Option<String>,
}

/// `[redundancy]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedundancySettings {
    /// How many remotes should hold every object.
    pub min_copies: Option<u32>,
}

/// The whole of `.dvc/ferry.toml`, typed; a missing file means all defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FerrySettings {
    /// `[pull]`.
    #[serde(default)]
    pub pull: PullSettings,
    /// `[push]`.
    #[serde(default)]
    pub push: PushSettings,
    /// `[remote.<name>]`, keyed by lowercased remote name.
    #[serde(default)]
    pub remote: BTreeMap<String, RemoteSettings>,
    /// `[redundancy]`.
    #[serde(default)]
    pub redundancy: RedundancySettings,
    /// `[team]`.
    #[serde(default)]
    pub team: TeamSettings,
    /// The remote the command line named with `-r` (see [`RemoteSettings::named`]).
    #[serde(skip)]
    pub named: Option<String>,
}

/// The path of `ferry.toml` for a DVC dir.
pub fn path(dvc_dir: &Path) -> PathBuf {
    dvc_dir.join(FILE)
}

impl FerrySettings {
    /// Loads the global `ferry.toml`, `dvc_dir/ferry.toml` and `dvc_dir/ferry.local.toml`,
    /// later files winning key by key (defaults when none exists). Each file is checked on
    /// its own first, so errors name the file and the key.
    pub fn load(dvc_dir: &Path) -> Result<Self, FerryError> {
        let mut merged = toml::Table::new();
        for scope in super::ferry_levels::Scope::ALL {
            let path = scope.path(dvc_dir);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(FerryError::Io { path, source }),
            };
            Self::parse(&text, &path)?;
            if let Ok(table) = toml::from_str(&text) {
                super::ferry_levels::merge(&mut merged, table);
            }
        }
        let text = toml::to_string(&merged).map_err(|e| FerryError::Invalid {
            path: path(dvc_dir),
            message: e.to_string(),
        })?;
        Self::parse(&text, &path(dvc_dir))
    }

    /// Parses the text of `path`, refusing secrets and unknown keys.
    pub fn parse(text: &str, path: &Path) -> Result<Self, FerryError> {
        let invalid = |message: String| FerryError::Invalid {
            path: path.to_path_buf(),
            message: message.trim_end().to_string(),
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if let Some(toml::Value::Table(remotes)) = table.get("remote") {
            for (remote, v) in remotes {
                if let toml::Value::Table(keys) = v
                    && let Some(key) = keys.keys().find(|k| super::is_secret(k))
                {
                    return Err(FerryError::Secret {
                        path: path.to_path_buf(),
                        remote: remote.clone(),
                        key: key.clone(),
                    });
                }
            }
        }
        let mut settings: FerrySettings = toml::from_str(text).map_err(|e| {
            let key = e.span().and_then(|s| key_at(text, s.start));
            match key {
                Some(key) => invalid(format!("key '{key}': {e}")),
                None => invalid(e.to_string()),
            }
        })?;
        settings.remote = std::mem::take(&mut settings.remote)
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect();
        Ok(settings)
    }

    /// The remotes a pull tries, in order: `pull.order`, else the default remote followed by
    /// the others in config order.
    pub fn pull_order(&self, config: &Config) -> Vec<String> {
        if let Some(order) = &self.pull.order {
            return order.iter().map(|n| n.to_lowercase()).collect();
        }
        let mut names = config.remote_names();
        if let Some(default) = config.default_remote()
            && let Some(i) = names.iter().position(|n| n == default)
        {
            let d = names.remove(i);
            names.insert(0, d);
        }
        names
    }

    /// The remotes a plain `ferry push` sends to: `push.remotes`, else the default remote.
    pub fn push_remotes(&self, config: &Config) -> Vec<String> {
        match &self.push.remotes {
            Some(list) => list.iter().map(|n| n.to_lowercase()).collect(),
            None => config
                .default_remote()
                .map(str::to_string)
                .into_iter()
                .collect(),
        }
    }

    /// Remote names used in this file that the DVC config does not define (for `doctor`).
    pub fn unknown_remotes(&self, config: &Config) -> Vec<String> {
        let known = config.remote_names();
        let mut out: Vec<String> = Vec::new();
        let lists = self
            .pull
            .order
            .iter()
            .chain(self.push.remotes.iter())
            .flatten();
        for name in lists
            .chain(self.team.ledger.iter())
            .map(|n| n.to_lowercase())
            .chain(self.remote.keys().cloned())
        {
            if !known.contains(&name) && !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// One remote's budget settings (defaults when it has none).
    pub fn remote(&self, name: &str) -> RemoteSettings {
        let name = name.to_lowercase();
        let mut settings = self.remote.get(&name).cloned().unwrap_or_default();
        settings.named = self.named.as_deref() == Some(name.as_str());
        settings
    }

    /// These settings for a command that named `remote` with `-r` (none: unchanged), so that
    /// remote is tried even if the ledger marks it capped.
    pub fn naming(mut self, remote: Option<&str>) -> Self {
        self.named = remote.map(str::to_lowercase);
        self
    }

    /// `redundancy.min_copies`, 1 when unset.
    pub fn min_copies(&self) -> u32 {
        self.redundancy.min_copies.unwrap_or(1)
    }
}

/// The dotted key (e.g. `remote.b2.daily_download_limit`) whose key or value covers byte `pos`
/// of `text`, so an error can name the key and not only the line.
fn key_at(text: &str, pos: usize) -> Option<String> {
    let doc = toml_edit::Document::parse(text).ok()?;
    find_key(doc.as_table(), pos).map(|path| path.join("."))
}

fn find_key(table: &dyn toml_edit::TableLike, pos: usize) -> Option<Vec<String>> {
    let covers = |span: Option<std::ops::Range<usize>>| span.is_some_and(|s| s.contains(&pos));
    for (name, _) in table.iter() {
        let Some((key, item)) = table.get_key_value(name) else {
            continue;
        };
        if covers(key.span()) {
            return Some(vec![name.to_string()]);
        }
        let inner = match item.as_table_like() {
            Some(t) => find_key(t, pos),
            None => covers(item.span()).then(Vec::new),
        };
        if let Some(mut rest) = inner {
            rest.insert(0, name.to_string());
            return Some(rest);
        }
    }
    None
}

/// Checks a value for a per-remote Ferry key before it is written.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "daily_download_limit" => ByteSize::parse(value).map(|_| ()),
        "daily_request_limit" | "daily_list_limit" => value
            .trim()
            .parse::<u64>()
            .map(|_| ())
            .map_err(|_| format!("'{value}' is not a whole number of requests")),
        "budget_reset" => ResetZone::parse(value).map(|_| ()),
        _ => Err(format!("'{key}' is not a Ferry setting")),
    }
}

/// Edits `ferry.toml` with `toml_edit`, keeping the user's comments and layout.
pub struct FerryFile {
    path: PathBuf,
    doc: toml_edit::DocumentMut,
    existed: bool,
}

impl FerryFile {
    /// Opens `dvc_dir/ferry.toml` for editing (an empty document when absent).
    pub fn open(dvc_dir: &Path) -> Result<Self, FerryError> {
        let path = path(dvc_dir);
        let (text, existed) = match std::fs::read_to_string(&path) {
            Ok(t) => (t, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), false),
            Err(source) => return Err(FerryError::Io { path, source }),
        };
        let doc = text
            .parse()
            .map_err(|e: toml_edit::TomlError| FerryError::Invalid {
                path: path.clone(),
                message: e.to_string().trim_end().to_string(),
            })?;
        Ok(Self { path, doc, existed })
    }

    /// The remote's Ferry settings as written, `(key, value text)` in file order.
    pub fn remote_entries(&self, name: &str) -> Vec<(String, String)> {
        self.doc
            .get("remote")
            .and_then(|r| r.get(name))
            .and_then(|t| t.as_table_like())
            .map(|t| {
                t.iter()
                    .map(|(k, v)| {
                        let text = match v.as_value() {
                            Some(toml_edit::Value::String(s)) => s.value().clone(),
                            Some(other) => other.to_string().trim().to_string(),
                            None => v.to_string().trim().to_string(),
                        };
                        (k.to_string(), text)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets (or with `None` removes) `remote.<name>.<key>`. Whole numbers are written as
    /// integers, everything else as strings.
    pub fn set_remote_key(
        &mut self,
        name: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), FerryError> {
        if let Some(v) = value {
            check_value(key, v).map_err(|m| FerryError::Invalid {
                path: self.path.clone(),
                message: format!("remote.{name}.{key}: {m}"),
            })?;
        }
        match value {
            Some(v) => {
                let remotes = self
                    .doc
                    .entry("remote")
                    .or_insert_with(implicit_table)
                    .as_table_like_mut()
                    .ok_or_else(|| self_invalid(&self.path, "'remote' is not a table"))?;
                let table = remotes
                    .entry(name)
                    .or_insert(toml_edit::Item::Table(toml_edit::Table::new()))
                    .as_table_like_mut()
                    .ok_or_else(|| {
                        self_invalid(&self.path, &format!("'remote.{name}' is not a table"))
                    })?;
                let item = match v.trim().parse::<i64>() {
                    Ok(n) if key != "budget_reset" => toml_edit::value(n),
                    _ => toml_edit::value(v),
                };
                table.insert(key, item);
            }
            None => {
                if let Some(remotes) = self
                    .doc
                    .get_mut("remote")
                    .and_then(|r| r.as_table_like_mut())
                {
                    let empty = match remotes.get_mut(name).and_then(|t| t.as_table_like_mut()) {
                        Some(t) => {
                            t.remove(key);
                            t.is_empty()
                        }
                        None => false,
                    };
                    if empty {
                        remotes.remove(name);
                    }
                }
                self.drop_empty_remote_table();
            }
        }
        Ok(())
    }

    /// Renames the remote everywhere in the file (its table and `pull.order`/`push.remotes`).
    pub fn rename_remote(&mut self, old: &str, new: &str) {
        if let Some(remotes) = self
            .doc
            .get_mut("remote")
            .and_then(|r| r.as_table_like_mut())
            && let Some(item) = remotes.remove(old)
        {
            remotes.insert(new, item);
        }
        self.each_name_list(|array| {
            for i in 0..array.len() {
                if array
                    .get(i)
                    .and_then(|v| v.as_str())
                    .is_some_and(|s| s.eq_ignore_ascii_case(old))
                {
                    array.replace(i, new);
                }
            }
        });
    }

    /// Removes the remote everywhere in the file.
    pub fn remove_remote(&mut self, name: &str) {
        if let Some(remotes) = self
            .doc
            .get_mut("remote")
            .and_then(|r| r.as_table_like_mut())
        {
            remotes.remove(name);
        }
        self.drop_empty_remote_table();
        self.each_name_list(|array| {
            array.retain(|v| !v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(name)));
        });
    }

    fn drop_empty_remote_table(&mut self) {
        if self
            .doc
            .get("remote")
            .and_then(|r| r.as_table_like())
            .is_some_and(|t| t.is_empty())
        {
            self.doc.remove("remote");
        }
    }

    fn each_name_list(&mut self, mut f: impl FnMut(&mut toml_edit::Array)) {
        for (section, key) in [("pull", "order"), ("push", "remotes")] {
            if let Some(array) = self
                .doc
                .get_mut(section)
                .and_then(|s| s.get_mut(key))
                .and_then(|v| v.as_array_mut())
            {
                f(array);
            }
        }
    }

    /// Writes the file if the text changed, after checking it still loads; an untouched absent
    /// file is not created.
    pub fn save(&self) -> Result<bool, FerryError> {
        let text = self.doc.to_string();
        let old = std::fs::read_to_string(&self.path).unwrap_or_default();
        if text == old || (!self.existed && text.trim().is_empty()) {
            return Ok(false);
        }
        FerrySettings::parse(&text, &self.path)?;
        let io = |source| FerryError::Io {
            path: self.path.clone(),
            source,
        };
        super::level::refuse_symlink(&self.path).map_err(io)?;
        std::fs::write(&self.path, text).map_err(io)?;
        Ok(true)
    }
}

fn implicit_table() -> toml_edit::Item {
    let mut t = toml_edit::Table::new();
    t.set_implicit(true);
    toml_edit::Item::Table(t)
}

fn self_invalid(path: &Path, message: &str) -> FerryError {
    FerryError::Invalid {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("1GB").unwrap().0, 1_000_000_000);
        assert_eq!(ByteSize::parse("500MiB").unwrap().0, 500 << 20);
        assert_eq!(ByteSize::parse("1.5 kB").unwrap().0, 1500);
        assert_eq!(ByteSize::parse("42").unwrap().0, 42);
        assert!(ByteSize::parse("1XB").is_err());
        assert!(ByteSize::parse("GB").is_err());
    }

    #[test]
    fn parse_example_and_errors() {
        let p = Path::new("/r/.dvc/ferry.toml");
        let s = FerrySettings::parse(
            "[pull]\norder = [\"backblaze\", \"dagshub\"]\n[push]\nremotes = [\"backblaze\"]\n\
             [remote.Backblaze]\ndaily_download_limit = \"1GB\"\ndaily_request_limit = 2500\n\
             budget_reset = \"Europe/Berlin\"\n[redundancy]\nmin_copies = 2\n",
            p,
        )
        .unwrap();
        let b = s.remote("backblaze");
        assert_eq!(b.daily_download_limit, Some(ByteSize(1_000_000_000)));
        assert_eq!(b.daily_request_limit, Some(2500));
        assert_eq!(b.budget_reset.name, "Europe/Berlin");
        assert_eq!(s.remote("other").budget_reset.name, "UTC");
        assert_eq!(s.min_copies(), 2);

        let e = FerrySettings::parse("[remote.b]\ndaily_limit = 1\n", p).unwrap_err();
        assert!(
            e.to_string().contains("daily_limit") && e.to_string().contains("ferry.toml"),
            "{e}"
        );
        let e = FerrySettings::parse("[remote.b]\nbudget_reset = \"Mars/Base\"\n", p).unwrap_err();
        assert!(e.to_string().contains("key 'remote.b.budget_reset'"), "{e}");
        let e =
            FerrySettings::parse("[pull]\norder = [\"a\"]\n[remote.b]\nmax = 1\n", p).unwrap_err();
        assert!(e.to_string().contains("key 'remote.b.max'"), "{e}");
        let e = FerrySettings::parse("[remote.b]\npassword = \"x\"\n", p).unwrap_err();
        assert!(matches!(e, FerryError::Secret { .. }), "{e}");
    }

    #[test]
    fn edits_keep_formatting() {
        let dir = tempfile::tempdir().unwrap();
        let text = "# budgets\n[pull]\norder = [\"old\", \"b\"]  # try old first\n\n[remote.old]\ndaily_request_limit = 10 # calls\n";
        std::fs::write(dir.path().join(FILE), text).unwrap();
        let mut f = FerryFile::open(dir.path()).unwrap();
        f.rename_remote("old", "new");
        f.set_remote_key("new", "daily_download_limit", Some("1GB"))
            .unwrap();
        f.save().unwrap();
        let out = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(
            out.starts_with("# budgets\n[pull]\norder = [\"new\", \"b\"]  # try old first\n"),
            "{out}"
        );
        assert!(out.contains("daily_request_limit = 10 # calls"), "{out}");
        assert!(out.contains("daily_download_limit = \"1GB\""), "{out}");
        let mut f = FerryFile::open(dir.path()).unwrap();
        f.remove_remote("new");
        f.save().unwrap();
        let s = FerrySettings::load(dir.path()).unwrap();
        assert_eq!(s.pull.order, Some(vec!["b".to_string()]));
        assert!(s.remote.is_empty());
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn parse_never_panics(text in crate::fuzz::text()) {
            let _ = FerrySettings::parse(&text, Path::new("ferry.toml"));
        }

        #[test]
        fn parse_never_panics_near_valid_settings(text in crate::fuzz::mutated(&[
            "[pull]\norder = [\"backblaze\", \"dagshub\"]\n[push]\nremotes = [\"backblaze\"]\n[remote.backblaze]\ndaily_download_limit = \"1GB\"\ndaily_request_limit = 2500\nbudget_reset = \"Europe/Berlin\"\n[redundancy]\nmin_copies = 2\n",
        ])) {
            let _ = FerrySettings::parse(&text, Path::new("ferry.toml"));
        }
    }
}
