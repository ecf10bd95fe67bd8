//! The repository half of `ferry doctor`: what in the setup leaks secrets or breaks commands —
//! a secret in a file git shares, `.dvc/config.local` not ignored or readable by others, and
//! remote names in `.dvc/ferry.toml` that no config defines. No network.
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{Check, Places, Status};
use crate::config::ferry::{FerryError, FerrySettings};
use crate::config::level::read_raw;
use crate::config::{is_secret, url_has_password};
use crate::repo::Repo;

/// Every repository check, in checklist order.
pub fn checks(
    repo: &Repo,
    settings: &FerrySettings,
    settings_error: Option<&FerryError>,
    places: &Places,
) -> Vec<Check> {
    let git = Git::of(repo);
    let mut out = vec![tracked_secrets(repo, settings_error, &git, places)];
    if let Some(e) = settings_error.filter(|e| !matches!(e, FerryError::Secret { .. })) {
        let mut c = Check::new("ferry_toml", Status::Fail, e.to_string());
        c.fix = crate::error::Hint::hint(e);
        out.push(c);
    }
    out.push(config_local_ignored(&git, places));
    out.push(config_local_private(repo, places));
    out.extend(remote_names(repo, settings, places));
    out
}

/// Asks git about the repository's files; `None` when git is not in use or not available.
struct Git<'a> {
    root: Option<&'a Path>,
}

impl<'a> Git<'a> {
    fn of(repo: &'a Repo) -> Self {
        let usable = repo.uses_scm()
            && Command::new("git")
                .arg("-C")
                .arg(&repo.root)
                .args(["rev-parse", "--git-dir"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        Self {
            root: usable.then_some(repo.root.as_path()),
        }
    }

    /// Runs `git -C ROOT args… -- path`; `None` without git, else whether it exited 0.
    fn ask(&self, args: &[&str], path: &str) -> Option<bool> {
        let root = self.root?;
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .arg("--")
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .map(|s| s.success())
    }

    fn tracks(&self, path: &str) -> Option<bool> {
        self.ask(&["ls-files", "--error-unmatch"], path)
    }

    fn ignores(&self, path: &str) -> Option<bool> {
        self.ask(&["check-ignore", "-q"], path)
    }
}

/// Secrets in `.dvc/config` or `.dvc/ferry.toml`, which are meant to be committed.
fn tracked_secrets(
    repo: &Repo,
    settings_error: Option<&FerryError>,
    git: &Git,
    places: &Places,
) -> Check {
    let mut found = Vec::new();
    let mut fixes = Vec::new();
    if let Ok(doc) = read_raw(&repo.dvc_dir.join("config")) {
        for (name, section) in doc.remotes() {
            for (key, value) in section.iter() {
                if is_secret(key) {
                    found.push(format!("remote.{name}.{key} in .dvc/config"));
                    fixes.push(format!(
                        "ferry remote modify --local {name} {key} <value>\nferry remote modify --unset {name} {key}"
                    ));
                } else if key == "url" && url_has_password(value.as_str()) {
                    found.push(format!("a password in the URL of '{name}' in .dvc/config"));
                    fixes.push(format!(
                        "ferry remote add -f {name} <URL without user:password@>\nferry remote modify --local {name} user <user>\nferry remote modify --local {name} password <password>"
                    ));
                }
            }
        }
    }
    if let Some(FerryError::Secret { remote, key, .. }) = settings_error {
        found.push(format!("remote.{remote}.{key} in .dvc/ferry.toml"));
        fixes.push(format!(
            "# delete the line `{key} = …` under [remote.{remote}] in {}, then:\nferry remote modify --local {remote} {key} <value>",
            places.show(".dvc/ferry.toml")
        ));
    }
    if found.is_empty() {
        return Check::ok(
            "tracked_secrets",
            "no secrets in .dvc/config or .dvc/ferry.toml",
        );
    }
    let tracked = [".dvc/config", ".dvc/ferry.toml"]
        .iter()
        .any(|p| git.tracks(p) == Some(true));
    let whose = if tracked {
        "tracked by git"
    } else {
        "meant to be committed"
    };
    fixes.push("# if it was ever committed, revoke it and set a new one".into());
    Check::new(
        "tracked_secrets",
        Status::Fail,
        format!("secret in a file {whose}: {}", found.join(", ")),
    )
    .fix(fixes.join("\n"))
}

/// `.dvc/config.local` (where secrets belong) must never reach git.
fn config_local_ignored(git: &Git, places: &Places) -> Check {
    const FILE: &str = ".dvc/config.local";
    if git.tracks(FILE) == Some(true) {
        return Check::new(
            "config_local_ignored",
            Status::Fail,
            ".dvc/config.local is tracked by git: its secrets are in the repository",
        )
        .fix(format!(
            "git rm --cached {0} && git commit -m 'Stop tracking config.local'\necho /config.local >> {1}\n# and revoke every secret it held",
            places.show(FILE),
            places.show(".dvc/.gitignore")
        ));
    }
    match git.ignores(FILE) {
        None => Check::skip(
            "config_local_ignored",
            "config.local: not a git repository (nothing to ignore)",
        ),
        Some(true) => Check::ok(
            "config_local_ignored",
            ".dvc/config.local is ignored by git",
        ),
        Some(false) => Check::new(
            "config_local_ignored",
            Status::Warn,
            ".dvc/config.local is not ignored by git: `git add -A` would commit its secrets",
        )
        .fix(format!(
            "echo /config.local >> {}",
            places.show(".dvc/.gitignore")
        )),
    }
}

/// `.dvc/config.local` holds credentials: only its owner should read it (DVC writes it 0600).
fn config_local_private(repo: &Repo, places: &Places) -> Check {
    let path = repo.dvc_dir.join("config.local");
    let Ok(meta) = std::fs::metadata(&path) else {
        return Check::skip(
            "config_local_private",
            "config.local: none (no local secrets)",
        );
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Check::ok(
            "config_local_private",
            format!(".dvc/config.local is private (mode {mode:o})"),
        );
    }
    Check::new(
        "config_local_private",
        Status::Warn,
        format!(".dvc/config.local is readable by other users (mode {mode:o})"),
    )
    .fix(format!("chmod 600 {}", places.show(".dvc/config.local")))
}

/// Names in `pull.order`/`push.remotes` that no config level defines break pull and push; a
/// leftover `[remote.NAME]` section is only dead weight.
fn remote_names(repo: &Repo, settings: &FerrySettings, places: &Places) -> Vec<Check> {
    let known = repo.config.remote_names();
    let file = places.show(".dvc/ferry.toml");
    let mut out = Vec::new();
    let lists = [
        ("pull.order", settings.pull.order.as_deref()),
        ("push.remotes", settings.push.remotes.as_deref()),
    ];
    for (list, names) in lists {
        for name in names.unwrap_or_default() {
            let name = name.to_lowercase();
            if !known.contains(&name) {
                out.push(
                    Check::new(
                        "remote_names",
                        Status::Fail,
                        format!("{list} in .dvc/ferry.toml names '{name}', which is not a remote"),
                    )
                    .fix(format!(
                        "ferry remote add {name} <URL>   # or remove '{name}' from {list} in {file}"
                    )),
                );
            }
        }
    }
    for name in settings.remote.keys().filter(|n| !known.contains(n)) {
        out.push(
            Check::new(
                "remote_names",
                Status::Warn,
                format!("[remote.{name}] in .dvc/ferry.toml belongs to no remote"),
            )
            .fix(format!(
                "# delete the [remote.{name}] section from {file}, or: ferry remote add {name} <URL>"
            )),
        );
    }
    if known.is_empty() {
        out.push(
            Check::new("remote_names", Status::Warn, "no remotes configured")
                .fix("ferry remote add -d <name> <URL>"),
        );
    } else if out.is_empty() {
        out.push(Check::ok(
            "remote_names",
            "pull.order and push.remotes name existing remotes",
        ));
    }
    out
}
