//! `ferry config`: reading and writing Ferry's own settings (pull order, push targets,
//! redundancy, the team ledger, per-remote budgets) at one of the levels of
//! [`crate::config::ferry_levels`], each value checked before anything is written, unknown keys
//! answered with the nearest known one.
use std::path::{Path, PathBuf};

use crate::config::ferry::{ByteSize, FerrySettings, ResetZone};
use crate::config::ferry_levels::{self, Scope};
use crate::error::UserError;

/// What a key's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Names of configured remotes, comma- or space-separated (`dagshub,backblaze`).
    Remotes,
    /// The name of one configured remote.
    Remote,
    /// A whole number, at least 1.
    Copies,
    /// A whole number of requests per day.
    Requests,
    /// A byte count (`1GB`, `500MiB`, `1000000`).
    Size,
    /// An IANA time zone name (`UTC`, `Europe/Berlin`).
    Zone,
}

/// One setting: its dotted name (`*` stands for a remote's name) and what it takes. Adding a
/// setting is one line in [`KEYS`] (and its field in `FerrySettings`).
#[derive(Debug)]
pub struct Key {
    /// e.g. `pull.order`, `remote.*.daily_download_limit`.
    pub name: &'static str,
    /// Its value's kind.
    pub kind: Kind,
    /// What it does, for `ferry config --help` and errors.
    pub about: &'static str,
}

/// Every Ferry setting.
#[rustfmt::skip]
pub const KEYS: &[Key] = &[
    Key { name: "pull.order", kind: Kind::Remotes, about: "remotes a pull tries, in order" },
    Key { name: "push.remotes", kind: Kind::Remotes, about: "remotes a plain push sends to" },
    Key { name: "redundancy.min_copies", kind: Kind::Copies, about: "remotes that should hold every object" },
    Key { name: "team.ledger", kind: Kind::Remote, about: "remote holding the team's shared usage records" },
    Key { name: "remote.*.daily_download_limit", kind: Kind::Size, about: "bytes per day this machine may download" },
    Key { name: "remote.*.daily_request_limit", kind: Kind::Requests, about: "GET/HEAD requests per day (B2 Class B)" },
    Key { name: "remote.*.daily_list_limit", kind: Kind::Requests, about: "LIST requests per day (B2 Class C)" },
    Key { name: "remote.*.budget_reset", kind: Kind::Zone, about: "time zone the daily budgets reset in" },
];

/// DVC's own options that Ferry reads and `ferry config` also sets, in DVC's config files
/// (`--local`: `.dvc/config.local`, `--global`: the user's, else `.dvc/config`), as `dvc config`
/// would; checked by DVC's schema.
pub const DVC_KEYS: &[&str] = &["core.autostage"];

/// Sets (or removes) one of [`DVC_KEYS`] at `level`.
pub fn set_dvc(
    levels: &crate::config::edit::Levels,
    level: crate::config::Level,
    key: &str,
    value: Option<&str>,
) -> Result<(), crate::config::ConfigError> {
    let (section, option) = key.split_once('.').unwrap_or((key, ""));
    levels.edit(level, |doc, _| {
        let s = doc.plain_mut(section);
        match value {
            Some(v) => {
                s.insert(
                    option.to_string(),
                    crate::config::configobj::Value::Str(v.to_string()),
                );
            }
            None => {
                s.shift_remove(option);
            }
        }
        Ok(())
    })
}

/// When `option` is not an option of remote `name`'s type nor a Ferry setting but is close to
/// one of them: that one (a typo, e.g. `daily_download_limt`).
pub fn misspelt_option(
    levels: &crate::config::edit::Levels,
    name: &str,
    option: &str,
) -> Option<&'static str> {
    let doc = levels.read(None).ok()?;
    let url = doc.remotes().get(name)?.get("url")?.as_str().to_string();
    let options = crate::config::schema::remote_options(&url);
    let ferry = crate::config::ferry::REMOTE_KEYS;
    if options.contains(&"*") || options.contains(&option) || ferry.contains(&option) {
        return None;
    }
    did_you_mean(option, options.iter().chain(ferry.iter()).copied())
}

/// One of a remote's values and where it comes from, for `remote list -v`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RemoteValue {
    /// The option (`region`, `daily_download_limit`).
    pub key: String,
    /// Its value, or `(secret, hidden)` for a credential.
    pub value: String,
    /// Where it is set: `repo .dvc/config`, `local .dvc/ferry.local.toml`,
    /// `env FERRY_REMOTE_B2_REGION`.
    pub origin: String,
}

/// Every value of remote `name` in effect, DVC's options first (the last config level that
/// sets one wins, then a `FERRY_REMOTE_*` variable over all), then Ferry's settings (the last
/// file wins), each with where it comes from. `shown` turns a file path into how it is printed.
pub fn remote_values(
    levels: &crate::config::edit::Levels,
    dvc_dir: Option<&Path>,
    name: &str,
    all_names: &[String],
    vars: impl Iterator<Item = (String, String)>,
    shown: impl Fn(&Path) -> String,
) -> Vec<RemoteValue> {
    let hide = |k: &str, v: String| {
        if crate::config::is_secret(k) {
            "(secret, hidden)".to_string()
        } else {
            v
        }
    };
    let mut dvc: indexmap::IndexMap<String, RemoteValue> = indexmap::IndexMap::new();
    for level in crate::config::Level::ALL {
        let (Ok(doc), Ok(path)) = (levels.read_one(level), levels.path(level)) else {
            continue;
        };
        if let Some(section) = doc.remotes().get(name) {
            for (k, v) in section.iter().filter(|(k, _)| *k != "url") {
                dvc.insert(
                    k.clone(),
                    RemoteValue {
                        key: k.clone(),
                        value: hide(k, v.as_str().to_string()),
                        origin: format!("{} {}", level.name(), shown(&path)),
                    },
                );
            }
        }
    }
    for (k, v) in crate::config::env::overrides(name, all_names, vars) {
        let var = format!(
            "{}{}_{}",
            crate::config::env::PREFIX,
            crate::config::env::env_part(name),
            crate::config::env::env_part(&k)
        );
        dvc.insert(
            k.clone(),
            RemoteValue {
                key: k.clone(),
                value: hide(&k, v),
                origin: format!("env {var}"),
            },
        );
    }
    let mut ferry: indexmap::IndexMap<String, RemoteValue> = indexmap::IndexMap::new();
    if let Some(dir) = dvc_dir {
        for scope in Scope::ALL {
            let file = scope.path(dir);
            let Ok(Some((_, table))) = read_table(&file) else {
                continue;
            };
            let Some(toml::Value::Table(keys)) = table
                .get("remote")
                .and_then(|r| r.as_table())
                .and_then(|r| r.iter().find(|(n, _)| n.to_lowercase() == name))
                .map(|(_, v)| v)
            else {
                continue;
            };
            for (k, v) in keys {
                ferry.insert(
                    k.clone(),
                    RemoteValue {
                        key: k.clone(),
                        value: hide(k, show(v)),
                        origin: format!("{} {}", scope.name(), shown(&file)),
                    },
                );
            }
        }
    }
    dvc.into_values().chain(ferry.into_values()).collect()
}

/// A key as given, resolved: its spec and its path in the TOML file.
#[derive(Debug)]
pub struct Resolved {
    /// The setting.
    pub key: &'static Key,
    /// `["remote", "b2", "daily_download_limit"]`.
    pub path: Vec<String>,
}

/// The known key nearest to `word` among `candidates`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn known_names() -> Vec<String> {
    KEYS.iter().map(|k| k.name.to_string()).collect()
}

/// Finds `name`'s setting; an unknown one is an error naming the nearest known key.
pub fn resolve(name: &str) -> Result<Resolved, UserError> {
    let parts: Vec<String> = name.split('.').map(str::to_string).collect();
    let remote = (parts.len() == 3 && parts[0] == "remote").then(|| parts[1].to_lowercase());
    for key in KEYS {
        let pattern: Vec<&str> = key.name.split('.').collect();
        if pattern.len() == parts.len()
            && pattern
                .iter()
                .zip(&parts)
                .all(|(p, g)| *p == "*" || *p == g.as_str())
        {
            let mut path = parts.clone();
            if let Some(r) = &remote {
                path[1] = r.clone();
            }
            return Ok(Resolved { key, path });
        }
    }
    let err = UserError::config(format!("'{name}' is not a Ferry setting"));
    if let Some(r) = &remote {
        return Err(err.with_hint(unknown_remote_option(r, &parts[2])));
    }
    let mut names = known_names();
    names.extend(DVC_KEYS.iter().map(|k| k.to_string()));
    Err(match did_you_mean(name, names.iter().map(String::as_str)) {
        Some(near) => err.with_hint(format!("did you mean '{near}'?")),
        None => err.with_hint(format!(
            "Ferry's settings are {}; DVC's own options are set with `dvc config`",
            names.join(", ")
        )),
    })
}

/// The hint for `remote.REMOTE.OPTION` that is not a Ferry setting: the nearest of Ferry's own
/// per-remote settings (matched on the option alone, so the shared `remote.NAME.` prefix does not
/// make every option look near), else where the remote's own options are set.
fn unknown_remote_option(remote: &str, option: &str) -> String {
    let options: Vec<&str> = KEYS
        .iter()
        .filter_map(|k| k.name.strip_prefix("remote.*."))
        .collect();
    match did_you_mean(option, options.iter().copied()) {
        Some(near) => format!("did you mean 'remote.{remote}.{near}'?"),
        None => format!(
            "Ferry's settings of a remote are {}; its own options (url, jobs, credentials, …) are set with `ferry remote modify {remote} {option} VALUE`",
            options.join(", ")
        ),
    }
}

/// `value` checked for `key`, as it is written to the file. `remotes` are the configured
/// remote names (lists of remotes must name them).
pub fn parse_value(
    r: &Resolved,
    value: &str,
    remotes: &[String],
) -> Result<toml::Value, UserError> {
    let name = r.path.join(".");
    let bad = |why: String| {
        UserError::config(format!("{name}: {why}")).with_hint(format!(
            "nothing was changed; give a valid value, e.g. `ferry config {name} {}`",
            example(r.key.kind)
        ))
    };
    let remote = |n: &str| -> Result<String, UserError> {
        let n = n.to_lowercase();
        if remotes.contains(&n) {
            return Ok(n);
        }
        let e = bad(format!("there is no remote '{n}'"));
        Err(match did_you_mean(&n, remotes.iter().map(String::as_str)) {
            Some(near) => e.with_hint(format!("did you mean '{near}'?")),
            None => e.with_hint("list the configured remotes with `ferry remote list`"),
        })
    };
    match r.key.kind {
        Kind::Remotes => {
            let names: Vec<&str> = value
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if names.is_empty() {
                return Err(bad(
                    "give one or more remote names, e.g. `dagshub,backblaze`".into(),
                ));
            }
            let list = names
                .into_iter()
                .map(remote)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(toml::Value::Array(
                list.into_iter().map(toml::Value::String).collect(),
            ))
        }
        Kind::Remote => Ok(toml::Value::String(remote(value.trim())?)),
        Kind::Copies => match value.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(toml::Value::Integer(i64::from(n))),
            _ => Err(bad(format!(
                "'{value}' is not a whole number of at least 1"
            ))),
        },
        Kind::Requests => value
            .trim()
            .parse::<u32>()
            .map(|n| toml::Value::Integer(i64::from(n)))
            .map_err(|_| bad(format!("'{value}' is not a whole number of requests"))),
        Kind::Size => {
            ByteSize::parse(value).map_err(bad)?;
            Ok(match value.trim().parse::<i64>() {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => toml::Value::String(value.trim().to_string()),
            })
        }
        Kind::Zone => {
            ResetZone::parse(value.trim()).map_err(bad)?;
            Ok(toml::Value::String(value.trim().to_string()))
        }
    }
}

/// A valid value of `kind`, for the hint of a bad one.
fn example(kind: Kind) -> &'static str {
    match kind {
        Kind::Remotes => "dagshub,backblaze",
        Kind::Remote => "backblaze",
        Kind::Copies => "2",
        Kind::Requests => "2500",
        Kind::Size => "1GB",
        Kind::Zone => "UTC",
    }
}

/// One value in one file, for `--list --show-origin`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The dotted key.
    pub key: String,
    /// The value as TOML writes it, strings unquoted.
    pub value: String,
    /// Where it is set.
    pub scope: Scope,
    /// That file.
    pub file: PathBuf,
}

/// A TOML value for people: strings bare, lists comma-separated.
pub fn show(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn read_table(path: &Path) -> Result<Option<(String, toml::Table)>, UserError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let table = toml::from_str(&text).map_err(|e| {
                UserError::config(format!(
                    "invalid '{}': {}",
                    path.display(),
                    e.to_string().trim_end()
                ))
                .with_hint(format!("fix or remove '{}'", path.display()))
            })?;
            Ok(Some((text, table)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UserError::config(format!(
            "cannot read '{}': {e}",
            path.display()
        ))),
    }
}

/// Every value set in the files of `scopes` (all of them when empty), file by file.
pub fn list(dvc_dir: &Path, scopes: &[Scope]) -> Result<Vec<Entry>, UserError> {
    let mut out = Vec::new();
    for scope in Scope::ALL {
        if !scopes.is_empty() && !scopes.contains(&scope) {
            continue;
        }
        let file = scope.path(dvc_dir);
        if let Some((_, table)) = read_table(&file)? {
            out.extend(
                ferry_levels::leaves(&table)
                    .into_iter()
                    .map(|(key, v)| Entry {
                        key,
                        value: show(&v),
                        scope,
                        file: file.clone(),
                    }),
            );
        }
    }
    Ok(out)
}

/// Loads every level the way each command does, so `--list` can say when what it shows is
/// refused (a value `ferry.toml` holds that no command would accept).
pub fn check(dvc_dir: &Path) -> Result<(), anyhow::Error> {
    FerrySettings::load(dvc_dir)?;
    Ok(())
}

/// The value of `key` in effect (the last level that sets it wins), with where it is set.
pub fn get(dvc_dir: &Path, key: &str, scopes: &[Scope]) -> Result<Option<Entry>, UserError> {
    let r = resolve(key)?;
    let dotted = r.path.join(".");
    Ok(list(dvc_dir, scopes)?
        .into_iter()
        .rev()
        .find(|e| e.key == dotted))
}

/// Sets (`Some`) or removes (`None`) `key` in `scope`'s file, keeping its comments. Nothing is
/// written unless the whole set of files still loads afterwards.
pub fn set(
    dvc_dir: &Path,
    scope: Scope,
    key: &str,
    value: Option<&str>,
    remotes: &[String],
) -> Result<(), anyhow::Error> {
    let r = resolve(key)?;
    let file = scope.path(dvc_dir);
    let text = read_table(&file)?.map(|(t, _)| t).unwrap_or_default();
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        UserError::config(format!("invalid '{}': {e}", file.display()))
    })?;
    match value {
        Some(v) => {
            let parsed = parse_value(&r, v, remotes)?;
            let item = toml_edit::value(to_edit(&parsed));
            let (last, parents) = r.path.split_last().expect("keys have a name");
            let mut table = doc.as_table_mut();
            for p in parents {
                let entry = table
                    .entry(p)
                    .or_insert(toml_edit::Item::Table(toml_edit::Table::new()));
                let toml_edit::Item::Table(t) = entry else {
                    return Err(UserError::config(format!(
                        "'{p}' in '{}' is not a table",
                        file.display()
                    ))
                    .into());
                };
                table = t;
            }
            table.insert(last, item);
        }
        None => {
            let (last, parents) = r.path.split_last().expect("keys have a name");
            let mut table = Some(doc.as_table_mut());
            for p in parents {
                table = table
                    .and_then(|t| t.get_mut(p))
                    .and_then(|i| i.as_table_mut());
            }
            let removed = table.and_then(|t| t.remove(last));
            if removed.is_none() {
                return Err(UserError::config(format!(
                    "'{}' is not set in '{}'",
                    r.path.join("."),
                    file.display()
                ))
                .with_hint("see where it is set with `ferry config --list --show-origin`")
                .into());
            }
        }
    }
    let new_text = doc.to_string();
    FerrySettings::parse(&new_text, &file)?;
    write_checked(dvc_dir, scope, &file, &text, &new_text)
}

/// Writes `new_text` to `file`, then loads every level: when that fails, the old text is put
/// back and the error returned, so a value no file combination accepts is never left behind.
fn write_checked(
    dvc_dir: &Path,
    scope: Scope,
    file: &Path,
    old: &str,
    new_text: &str,
) -> Result<(), anyhow::Error> {
    let existed = file.exists();
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let write = |text: &str| -> std::io::Result<()> {
        let tmp = file.with_extension("toml.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, file)
    };
    write(new_text)
        .map_err(|e| UserError::config(format!("cannot write '{}': {e}", file.display())))?;
    if let Err(e) = FerrySettings::load(dvc_dir) {
        let _ = if existed {
            write(old)
        } else {
            std::fs::remove_file(file)
        };
        return Err(e.into());
    }
    if scope == Scope::Local {
        ignore_local(dvc_dir)?;
    }
    Ok(())
}

/// `.dvc/.gitignore` gets `/ferry.local.toml`, so the local file stays out of git.
fn ignore_local(dvc_dir: &Path) -> std::io::Result<()> {
    let path = dvc_dir.join(".gitignore");
    let line = format!("/{}", ferry_levels::LOCAL_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    if text.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    std::fs::write(&path, format!("{text}{sep}{line}\n"))
}

fn to_edit(v: &toml::Value) -> toml_edit::Value {
    match v {
        toml::Value::String(s) => s.as_str().into(),
        toml::Value::Integer(n) => (*n).into(),
        toml::Value::Array(items) => {
            let mut a = toml_edit::Array::new();
            for i in items {
                a.push(to_edit(i));
            }
            toml_edit::Value::Array(a)
        }
        other => other.to_string().as_str().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_key() {
        let e = resolve("remote.b2.daily_download_limt").unwrap_err();
        assert_eq!(
            e.hint.as_deref(),
            Some("did you mean 'remote.b2.daily_download_limit'?")
        );
        let e = resolve("pull.ordr").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean 'pull.order'?"));
        assert!(
            resolve("core.autostag")
                .unwrap_err()
                .hint
                .unwrap()
                .contains("core.autostage")
        );
        assert!(
            resolve("core.checksum_jobs")
                .unwrap_err()
                .hint
                .unwrap()
                .contains("dvc config")
        );
        let r = resolve("remote.B2.budget_reset").unwrap();
        assert_eq!(r.path, ["remote", "b2", "budget_reset"]);
    }

    #[test]
    fn values_are_checked_against_their_kind_and_the_remotes() {
        let remotes = vec!["backblaze".to_string(), "dagshub".to_string()];
        let order = resolve("pull.order").unwrap();
        assert_eq!(
            show(&parse_value(&order, "dagshub, Backblaze", &remotes).unwrap()),
            "dagshub,backblaze"
        );
        let e = parse_value(&order, "dagshub,backblase", &remotes).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean 'backblaze'?"));
        let copies = resolve("redundancy.min_copies").unwrap();
        assert!(parse_value(&copies, "0", &remotes).is_err());
        let size = resolve("remote.b2.daily_download_limit").unwrap();
        assert_eq!(
            parse_value(&size, "1000000 bytes", &remotes)
                .unwrap()
                .as_str(),
            Some("1000000 bytes")
        );
        assert_eq!(
            parse_value(&size, "1000000", &remotes)
                .unwrap()
                .as_integer(),
            Some(1_000_000)
        );
        assert!(parse_value(&size, "lots", &remotes).is_err());
    }
}
