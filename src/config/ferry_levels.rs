//! Where Ferry's own settings can live, like git's config levels: a user's global file, the
//! repository's tracked `.dvc/ferry.toml` and its git-ignored `.dvc/ferry.local.toml`. Later
//! files win key by key; `FerrySettings::load` reads them merged.
use std::path::{Path, PathBuf};

/// One file of Ferry settings, in shadowing order (global first, local last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// `ferry.toml` in DVC's global config directory (`~/.config/dvc`), for every repository.
    Global,
    /// `.dvc/ferry.toml`, tracked by git: the team's settings (the default).
    Repo,
    /// `.dvc/ferry.local.toml`, git-ignored: this clone only.
    Local,
}

/// The name of the local file inside the DVC dir.
pub const LOCAL_FILE: &str = "ferry.local.toml";

impl Scope {
    /// Every scope, global first.
    pub const ALL: [Scope; 3] = [Scope::Global, Scope::Repo, Scope::Local];

    /// Its file for the repository whose DVC dir is `dvc_dir`.
    pub fn path(self, dvc_dir: &Path) -> PathBuf {
        match self {
            Scope::Global => super::level::global_dir().join(super::ferry::FILE),
            Scope::Repo => super::ferry::path(dvc_dir),
            Scope::Local => dvc_dir.join(LOCAL_FILE),
        }
    }

    /// Its name, as `--show-origin` and `remote list -v` print it.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Repo => "repo",
            Scope::Local => "local",
        }
    }
}

/// `over` merged into `base`: tables key by key, anything else replaced.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Every leaf of `table` as a dotted key (`remote.b2.daily_download_limit`) and its value.
pub fn leaves(table: &toml::Table) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(t) => out.extend(
                leaves(t)
                    .into_iter()
                    .map(|(sub, v)| (format!("{k}.{sub}"), v)),
            ),
            v => out.push((k.clone(), v.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_win_key_by_key() {
        let mut base: toml::Table =
            toml::from_str("[pull]\norder = ['a', 'b']\n[remote.a]\ndaily_request_limit = 5\nbudget_reset = 'UTC'\n").unwrap();
        let over: toml::Table =
            toml::from_str("[pull]\norder = ['b']\n[remote.a]\ndaily_request_limit = 9\n").unwrap();
        merge(&mut base, over);
        let flat: Vec<String> = leaves(&base)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            flat,
            [
                "pull.order=[\"b\"]",
                "remote.a.budget_reset=\"UTC\"",
                "remote.a.daily_request_limit=9"
            ]
        );
    }
}
