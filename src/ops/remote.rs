//! Remote edits (`ferry remote add|rename|remove|modify|default`): the same files and text as
//! `dvc remote …`, plus Ferry's settings in `.dvc/ferry.toml`, the `dagshub://` and `b2://`
//! presets and which file each key goes to; secrets kept out of tracked files. Messages go
//! through a [`Reporter`], in the order DVC prints them.
use std::path::{Path, PathBuf};

use super::Reporter;
use crate::config::edit::Levels;
use crate::config::ferry::{self, FerryFile};
use crate::config::{ConfigError, Level, is_secret, url_has_password};
use crate::error::{Exit, UserError};

/// What `remote add` was asked, resolved from the command line.
#[derive(Debug, Clone)]
pub struct Add {
    /// The remote's name as typed.
    pub name: String,
    /// Its URL or preset URL.
    pub url: String,
    /// The file to write.
    pub level: Level,
    /// Also make it the default remote.
    pub default: bool,
    /// Overwrite an existing remote of that name.
    pub force: bool,
    /// `b2://` only: the bucket's region.
    pub region: Option<String>,
    /// `dagshub://` only: the user the token belongs to.
    pub user: Option<String>,
    /// `dagshub://` only: whether a token variable was named (then `token` reads it).
    pub token_env: bool,
    /// `b2://` only: leave the daily limits unset instead of B2's free tier
    /// ([`B2_FREE_TIER`]).
    pub no_free_tier: bool,
    /// `dagshub://` only: DagsHub's S3 endpoint (`s3://dvc`, which can list) instead of its
    /// DVC HTTP endpoint.
    pub s3: bool,
}

/// B2's free tier per day (account-wide): 1 GB downloaded, 2,500 Class B calls (GET/HEAD),
/// 2,500 Class C calls (LIST); what the `b2://` preset writes to `.dvc/ferry.toml`.
pub const B2_FREE_TIER: [(&str, &str); 3] = [
    ("daily_download_limit", "1GB"),
    ("daily_request_limit", "2500"),
    ("daily_list_limit", "2500"),
];

/// What `remote modify` was asked.
#[derive(Debug, Clone)]
pub struct Modify {
    /// The remote's name as typed.
    pub name: String,
    /// The option (a DVC key or a Ferry key).
    pub option: String,
    /// The new value; `None` unsets it.
    pub value: Option<String>,
    /// The level asked for with `--local`/`--global`/`--system`, if any.
    pub level: Option<Level>,
}

/// `remote add`: writes the remote (a preset expanded into plain DVC config) to `a.level`;
/// a DagsHub token comes from `token(user)` (the CLI asks for it).
pub fn add(
    out: &dyn Reporter,
    levels: &Levels,
    cwd: &Path,
    a: Add,
    token: &dyn Fn(&str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<Exit> {
    let name = a.name.to_lowercase();
    let level = a.level;
    let preset = Preset::parse(&a.url)?;
    if a.region.is_some() && !matches!(preset, Preset::B2 { .. }) {
        return Err(usage("--region is only for b2:// URLs").into());
    }
    if (a.token_env || a.user.is_some() || a.s3) && !matches!(preset, Preset::Dagshub { .. }) {
        return Err(usage("--token-env, --user and --s3 are only for dagshub:// URLs").into());
    }
    if a.no_free_tier && !matches!(preset, Preset::B2 { .. }) {
        return Err(usage("--no-free-tier is only for b2:// URLs").into());
    }
    match preset {
        Preset::None => {
            if a.default {
                out.line(&format!("Setting '{name}' as a default remote."));
            }
            let url = levels.store_url(level, cwd, &a.url)?;
            levels.add(level, &name, &url, a.default, a.force)?;
            if url_has_password(&url) && level != Level::Local {
                out.warn(&format!(
                    "the URL of '{name}' holds a password and was written to {}. Keep credentials out of it:\n    ferry remote add -f {}{name} <URL without user:password@>\n    ferry remote modify --local {name} user <user>\n    ferry remote modify --local {name} password <password>",
                    levels.path(level)?.display(),
                    level.flag()
                ));
            }
        }
        Preset::B2 { bucket_path } => {
            let Some(region) = a.region else {
                return Err(UserError::config(format!(
                    "b2:// needs the bucket's region: '{}'",
                    a.url
                ))
                .with_hint(format!(
                    "add `--region <region>`, the part after `s3.` in the bucket's endpoint, e.g. `ferry remote add {name} {} --region us-west-004`",
                    a.url
                ))
                .into());
            };
            let url = format!("s3://{bucket_path}");
            let endpoint = format!("https://s3.{region}.backblazeb2.com");
            if a.default {
                out.line(&format!("Setting '{name}' as a default remote."));
            }
            // A broken ferry.toml is refused before the DVC config changes.
            let ferry_file = match levels.dvc_dir() {
                Some(dir) if !a.no_free_tier => open_checked(Some(dir))?,
                _ => None,
            };
            levels.add(level, &name, &url, a.default, a.force)?;
            levels.modify(level, &name, "endpointurl", Some(&endpoint))?;
            levels.modify(level, &name, "region", Some(&region))?;
            let limits = match ferry_file {
                Some(mut ff) => {
                    let set: Vec<String> = ff
                        .remote_entries(&name)
                        .into_iter()
                        .map(|(k, _)| k)
                        .collect();
                    let mut written = Vec::new();
                    for (key, value) in B2_FREE_TIER {
                        if !set.iter().any(|k| k == key) {
                            ff.set_remote_key(&name, key, Some(value))?;
                            written.push(format!("{key} = {value}"));
                        }
                    }
                    ff.save()?;
                    if written.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "\nB2's free tier is the daily budget in .dvc/ferry.toml ({});                              change it with `ferry remote modify {name} <key> <value>`, or add                              the remote with --no-free-tier for none.",
                            written.join(", ")
                        )
                    }
                }
                None => String::new(),
            };
            out.line(&format!(
                "Added '{name}' as {url} with endpointurl {endpoint} and region {region}.\n\
                 DVC itself does not know b2:// URLs; this s3:// form works in both dvc and ferry.\n\
                 Set a B2 application key (not the master key) with:\n    \
                 ferry remote modify --local {name} access_key_id <keyID>\n    \
                 ferry remote modify --local {name} secret_access_key <applicationKey>{limits}"
            ));
        }
        Preset::Dagshub { owner, repo } if a.s3 => {
            // DagsHub's documented S3 form: bucket `dvc` at the repository's endpoint, the token
            // as both keys (https://dagshub.com/docs/feature_guide/dagshub_storage/).
            let url = "s3://dvc";
            let endpoint = format!("https://dagshub.com/{owner}/{repo}.s3");
            let user = a.user.unwrap_or(owner);
            let token = token(&user)?;
            if a.default {
                out.line(&format!("Setting '{name}' as a default remote."));
            }
            levels.add(level, &name, url, a.default, a.force)?;
            levels.modify(level, &name, "endpointurl", Some(&endpoint))?;
            match token {
                Some(token) => {
                    levels.modify(Level::Local, &name, "access_key_id", Some(&token))?;
                    levels.modify(Level::Local, &name, "secret_access_key", Some(&token))?;
                    out.line(&format!(
                        "Added '{name}' as {url} with endpointurl {endpoint} (DagsHub's S3 \
                         endpoint, which can list); the token is in .dvc/config.local."
                    ));
                }
                None => {
                    out.line(&format!(
                        "Added '{name}' as {url} with endpointurl {endpoint} (DagsHub's S3 \
                         endpoint, which can list)."
                    ));
                    out.warn(&format!(
                        "no DagsHub token given. Set it as both keys with:\n    ferry remote modify --local {name} access_key_id <token>\n    ferry remote modify --local {name} secret_access_key <token>\n(tokens: https://dagshub.com/user/settings/tokens)"
                    ));
                }
            }
        }
        Preset::Dagshub { owner, repo } => {
            let url = format!("https://dagshub.com/{owner}/{repo}.dvc");
            let user = a.user.unwrap_or(owner);
            let token = token(&user)?;
            if a.default {
                out.line(&format!("Setting '{name}' as a default remote."));
            }
            levels.add(level, &name, &url, a.default, a.force)?;
            levels.modify(Level::Local, &name, "auth", Some("basic"))?;
            levels.modify(Level::Local, &name, "user", Some(&user))?;
            match token {
                Some(token) => {
                    levels.modify(Level::Local, &name, "password", Some(&token))?;
                    out.line(&format!(
                        "Added '{name}' as {url}; user '{user}' and token are in .dvc/config.local."
                    ));
                }
                None => {
                    out.line(&format!(
                        "Added '{name}' as {url}; user '{user}' is in .dvc/config.local."
                    ));
                    out.warn(&format!(
                        "no DagsHub token given. Set it with:\n    ferry remote modify --local {name} password <token>\n(or add the remote again with `--token-env VAR`; tokens: https://dagshub.com/user/settings/tokens)"
                    ));
                }
            }
        }
    }
    Ok(Exit::Ok)
}

/// The URL presets Ferry expands into plain DVC config.
pub enum Preset {
    /// A plain DVC URL.
    None,
    /// `b2://BUCKET/PATH`: S3 at B2's endpoint for the region.
    B2 {
        /// `BUCKET/PATH`.
        bucket_path: String,
    },
    /// `dagshub://USER/REPO`: DagsHub's DVC HTTP endpoint with basic auth (with `--s3`, its S3
    /// endpoint).
    Dagshub {
        /// The repository's owner.
        owner: String,
        /// The repository.
        repo: String,
    },
}

impl Preset {
    /// Which preset `url` asks for; a malformed preset URL is a configuration error.
    pub fn parse(url: &str) -> Result<Self, UserError> {
        if let Some(rest) = url.strip_prefix("b2://") {
            if rest.is_empty() || rest.starts_with('/') {
                return Err(UserError::config(format!("'{url}' names no bucket"))
                    .with_hint("use b2://BUCKET/PATH"));
            }
            return Ok(Preset::B2 {
                bucket_path: rest.to_string(),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://")
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return Err(UserError::config(format!("'{url}' names no bucket"))
                .with_hint("use s3://BUCKET/PATH; nothing was changed"));
        }
        if let Some(rest) = url.strip_prefix("dagshub://") {
            let rest = rest.trim_end_matches('/');
            let rest = rest
                .strip_suffix(".dvc")
                .or_else(|| rest.strip_suffix(".git"))
                .unwrap_or(rest);
            let mut parts = rest.split('/');
            if let (Some(owner), Some(repo), None) = (parts.next(), parts.next(), parts.next())
                && !owner.is_empty()
                && !repo.is_empty()
            {
                return Ok(Preset::Dagshub {
                    owner: owner.to_string(),
                    repo: repo.to_string(),
                });
            }
            return Err(
                UserError::config(format!("'{url}' is not dagshub://USER/REPO"))
                    .with_hint("use the owner and repository from https://dagshub.com/USER/REPO"),
            );
        }
        Ok(Preset::None)
    }
}

/// A command-line usage error (exit 254).
fn usage(msg: &str) -> UserError {
    UserError::failed(msg).with_exit(Exit::Usage)
}

/// `remote rename` at `level`, in every level that holds the remote and in `ferry.toml`.
pub fn rename(
    out: &dyn Reporter,
    levels: &Levels,
    dvc_dir: Option<&Path>,
    name: &str,
    new: &str,
    level: Level,
) -> anyhow::Result<Exit> {
    let old = name.to_lowercase();
    let holders = holders(levels, &old)?;
    // A broken ferry.toml is refused before any DVC file changes, so nothing is half renamed.
    let ferry_file = open_checked(dvc_dir)?;
    levels.rename(level, &old, new)?;
    for (l, path) in holders {
        if l != level {
            out.warn(&format!(
                "renamed '{old}' to '{}' in {} too, so its options there are not left behind",
                new,
                path.display()
            ));
        }
    }
    if let Some(mut ff) = ferry_file {
        ff.rename_remote(&old, &new.to_lowercase());
        ff.save()?;
    }
    Ok(Exit::Ok)
}

/// `ferry.toml` opened for editing after checking it loads (None outside a repository).
fn open_checked(dvc_dir: Option<&Path>) -> anyhow::Result<Option<FerryFile>> {
    let Some(dir) = dvc_dir else { return Ok(None) };
    ferry::FerrySettings::load(dir)?;
    Ok(Some(FerryFile::open(dir)?))
}

/// The levels whose file has a section for `name`.
fn holders(levels: &Levels, name: &str) -> Result<Vec<(Level, PathBuf)>, ConfigError> {
    let mut out = Vec::new();
    for l in Level::ALL {
        let Ok(path) = levels.path(l) else { continue };
        if levels.read_one(l)?.remotes().contains_key(name) {
            out.push((l, path));
        }
    }
    Ok(out)
}

/// `remote remove` at `level` (and leftovers elsewhere), and its `ferry.toml` section once no
/// level defines it.
pub fn remove(
    out: &dyn Reporter,
    levels: &Levels,
    dvc_dir: Option<&Path>,
    name: &str,
    level: Level,
) -> anyhow::Result<Exit> {
    let name = name.to_lowercase();
    let ferry_file = open_checked(dvc_dir)?;
    let removed = levels.remove(level, &name)?;
    for path in &removed.also_from {
        out.warn(&format!(
            "removed the leftover section of '{name}' from {} too",
            path.display()
        ));
    }
    if let Some(mut ff) = ferry_file
        && !levels.read(None)?.remotes().contains_key(&name)
    {
        ff.remove_remote(&name);
        ff.save()?;
    }
    Ok(Exit::Ok)
}

/// `remote modify`: a Ferry key goes to `.dvc/ferry.toml`, a DVC key to DVC's file at
/// `a.level` (the repository's by default), so the user need not know which is which.
pub fn modify(
    out: &dyn Reporter,
    levels: &Levels,
    dvc_dir: Option<&Path>,
    a: Modify,
) -> anyhow::Result<Exit> {
    let name = a.name.to_lowercase();
    let value = a.value.as_deref();
    if ferry::is_ferry_key(&a.option) {
        if let Some(l) = a.level {
            return Err(UserError::config(format!(
                "'{}' is a Ferry setting, kept in .dvc/ferry.toml, not in the {} config",
                a.option,
                l.name()
            ))
            .with_hint(format!(
                "run it without {}: `ferry remote modify {name} {} …`",
                l.flag().trim(),
                a.option
            ))
            .into());
        }
        let Some(dir) = dvc_dir else {
            return Err(ConfigError::NotInRepo.into());
        };
        if !levels.read(None)?.remotes().contains_key(&name) {
            return Err(ConfigError::UnknownRemote(name).into());
        }
        ferry::FerrySettings::load(dir)?;
        let mut ff = FerryFile::open(dir)?;
        ff.set_remote_key(&name, &a.option, value)?;
        ff.save()?;
        return Ok(Exit::Ok);
    }
    let level = a.level.unwrap_or(Level::Repo);
    if value.is_some()
        && let Some(near) = crate::ops::config::misspelt_option(levels, &name, &a.option)
    {
        return Err(
            UserError::config(format!("remote '{name}' has no option '{}'", a.option))
                .with_hint(format!(
                    "did you mean '{near}'? (`ferry remote modify {name} {near} {}`)",
                    value.unwrap_or_default()
                ))
                .into(),
        );
    }
    levels.modify(level, &name, &a.option, value)?;
    if value.is_some() && is_secret(&a.option) && level != Level::Local {
        let path = levels.path(level)?;
        let why = if level == Level::Repo {
            "which git tracks"
        } else {
            "which other users or programs may read"
        };
        out.warn(&format!(
            "'{}' is a secret and was written to {}, {why}. Move it to the git-ignored .dvc/config.local with:\n    ferry remote modify --local {name} {} <value>\n    ferry remote modify {}--unset {name} {}",
            a.option,
            path.display(),
            a.option,
            level.flag(),
            a.option
        ));
    }
    Ok(Exit::Ok)
}

/// `remote default`: unsets, sets (at `level`, the repository's by default) or shows it.
pub fn default(
    out: &dyn Reporter,
    levels: &Levels,
    name: Option<&str>,
    unset: bool,
    level: Option<Level>,
) -> anyhow::Result<Exit> {
    let write_level = level.unwrap_or(Level::Repo);
    if unset {
        levels.unset_default(write_level)?;
        return Ok(Exit::Ok);
    }
    match name {
        None => match levels.default_remote(level)? {
            Some(name) => {
                out.line(&name);
                Ok(Exit::Ok)
            }
            None => {
                out.line("No default remote set");
                Ok(Exit::Failed)
            }
        },
        Some(name) => {
            levels.set_default(write_level, &name.to_lowercase())?;
            Ok(Exit::Ok)
        }
    }
}
