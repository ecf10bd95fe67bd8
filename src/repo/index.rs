//! Collecting the repository's outputs: every `.dvc` file (skipping git-ignored and
//! `.dvcignore`d paths, as DVC's index does) and every `dvc.yaml` stage output (flags from
//! `dvc.yaml`, hashes from its `dvc.lock`).
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_yaml_ng::Value;

use super::Repo;
use super::dvcfile::{self, DvcFileError};
use super::out::{Origin, Out};
use super::safepath::{self, SafePathError};
use crate::hash::HashInfo;

/// Every `.dvc` file, `dvc.yaml` and `dvc.lock` under the repository root (outside nested
/// sub-repositories), relative, sorted.
pub fn declaring_files(repo: &Repo) -> Vec<String> {
    let mut files = Vec::new();
    let walker = ignore::WalkBuilder::new(&repo.root)
        .hidden(false)
        .git_global(false)
        .git_exclude(false)
        .ignore(false)
        .require_git(false)
        .parents(false)
        .add_custom_ignore_filename(".dvcignore")
        .filter_entry(|e| {
            !matches!(e.file_name().to_str(), Some(".git" | ".dvc" | ".hg")) && !is_subrepo(e)
        })
        .build();
    for entry in walker.flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let name = entry.file_name().as_encoded_bytes();
        if !(name.ends_with(b".dvc") || name == b"dvc.lock" || name == b"dvc.yaml") {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(&repo.root) else {
            continue;
        };
        match rel.to_str() {
            Some(_) => files.push(to_posix(rel)),
            None => tracing::warn!(
                "skipping '{}': the file name is not valid UTF-8",
                rel.display()
            ),
        }
    }
    files.sort_by(|a, b| walk_order(a, b));
    files
}

/// dvc's order of declaring files (its walk of the workspace): a directory's own files before
/// its subdirectories, names in order at each level.
fn walk_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    for i in 0..pa.len().min(pb.len()) {
        if pa[i] != pb[i] {
            let (a_file, b_file) = (i + 1 == pa.len(), i + 1 == pb.len());
            return b_file.cmp(&a_file).then(pa[i].cmp(pb[i]));
        }
    }
    pa.len().cmp(&pb.len())
}

/// A git+DVC repository nested inside the project: dvc leaves it, and its `.dvc` files, to
/// itself.
fn is_subrepo(e: &ignore::DirEntry) -> bool {
    e.depth() > 0
        && e.file_type().is_some_and(|t| t.is_dir())
        && e.path().join(".dvc").is_dir()
        && e.path().join(".git").exists()
}

/// `/`-separated form of a relative path (lossy for names that are not UTF-8: callers that
/// record or act on the result check [`super::safepath::utf8`] first).
pub fn to_posix(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Joins a declared path onto the directory of its declaring file, refusing paths that leave
/// the repository.
fn resolve(repo: &Repo, file: &str, def_path: &str) -> Result<(String, PathBuf), String> {
    let base = Path::new(file).parent().unwrap_or(Path::new(""));
    let mut parts: Vec<String> = base
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if Path::new(def_path).is_absolute() {
        return Err(format!(
            "absolute output path '{def_path}' is not supported"
        ));
    }
    for comp in def_path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!(
                        "output path '{def_path}' points outside the repository"
                    ));
                }
            }
            c => parts.push(c.to_string()),
        }
    }
    if parts.is_empty() {
        return Err(format!("output path '{def_path}' is the repository root"));
    }
    let rel = parts.join("/");
    let abs = repo.root.join(&rel);
    Ok((rel, abs))
}

/// The safe-path rule for a declared out, checked when its declaration is read (before any
/// download): not a reserved path, and no symlinked directory on the way to it.
fn check_out(repo: &Repo, file: &str, rel: &str, abs: &Path) -> Result<(), SafePathError> {
    if let Some(why) = safepath::reserved(rel) {
        return Err(SafePathError::Reserved {
            file: file.to_string(),
            path: rel.to_string(),
            why,
        });
    }
    safepath::check_parents(&repo.root, abs)
}

/// The outs of one `.dvc` file.
pub fn outs_of_dvcfile(repo: &Repo, file: &str) -> anyhow::Result<Vec<Out>> {
    let path = repo.root.join(file);
    let (text, entries) = dvcfile::load(&path)?;
    let imported = dvcfile::is_repo_import(&text);
    entries
        .into_iter()
        .enumerate()
        .map(|(index, e)| {
            let (rel, abs) =
                resolve(repo, file, &e.path).map_err(|message| DvcFileError::Invalid {
                    path: path.clone(),
                    message,
                })?;
            check_out(repo, file, &rel, &abs)?;
            Ok(Out {
                origin: Origin::DvcFile {
                    file: file.to_string(),
                    index,
                },
                hash: e.hash(),
                def_path: e.path,
                rel,
                path: abs,
                size: e.size,
                nfiles: e.nfiles,
                isexec: e.isexec,
                cache: e.cache,
                remote: e.remote,
                push: e.push,
                imported,
                parts: Vec::new(),
            })
        })
        .collect()
}

/// The outs recorded in a `dvc.lock` (DVC schema 2.0).
pub fn outs_of_lockfile(repo: &Repo, file: &str) -> anyhow::Result<Vec<Out>> {
    let path = repo.root.join(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read '{}'", path.display()))?;
    outs_of_lock_text(repo, file, &text)
}

/// The outs of `dvc.lock` text read from `file` (relative to the root), checked by the
/// safe-path rule.
fn outs_of_lock_text(repo: &Repo, file: &str, text: &str) -> anyhow::Result<Vec<Out>> {
    let path = repo.root.join(file);
    super::yaml::check_depth(text).map_err(|message| DvcFileError::Invalid {
        path: path.clone(),
        message,
    })?;
    let invalid = |message: String| DvcFileError::Invalid {
        path: path.clone(),
        message,
    };
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut outs = Vec::new();
    let Some(stages) = doc.get("stages").and_then(Value::as_mapping) else {
        return Ok(outs);
    };
    for (name, stage) in stages {
        let stage_name = name.as_str().unwrap_or_default().to_string();
        let Some(list) = stage.get("outs").and_then(Value::as_sequence) else {
            continue;
        };
        for v in list {
            let Some(def_path) = v.get("path").and_then(Value::as_str) else {
                return Err(invalid(format!("stage '{stage_name}': an out has no path")).into());
            };
            let (rel, abs) = resolve(repo, file, def_path).map_err(&invalid)?;
            check_out(repo, file, &rel, &abs)?;
            let legacy = v.get("hash").and_then(Value::as_str) != Some("md5");
            let hash = v.get("md5").and_then(Value::as_str).map(|m| HashInfo {
                md5: m.to_lowercase(),
                legacy,
            });
            if hash.as_ref().is_some_and(|h| !h.is_valid()) {
                return Err(
                    invalid(format!("stage '{stage_name}': bad md5 for '{def_path}'")).into(),
                );
            }
            outs.push(Out {
                origin: Origin::Lock {
                    file: file.to_string(),
                    stage: stage_name.clone(),
                },
                def_path: def_path.to_string(),
                rel,
                path: abs,
                hash,
                size: v.get("size").and_then(Value::as_u64),
                nfiles: v.get("nfiles").and_then(Value::as_u64),
                isexec: v.get("isexec").and_then(Value::as_bool).unwrap_or(false),
                cache: true,
                remote: None,
                push: true,
                imported: false,
                parts: Vec::new(),
            });
        }
    }
    Ok(outs)
}

/// Every out of the repository, or only those selected by `targets` (paths relative to `cwd`:
/// a `.dvc` file, an output path, a path inside a tracked directory (which selects the whole
/// output), a `dvc.lock` stage name, or a directory containing outputs).
pub fn collect(repo: &Repo, cwd: &Path, targets: &[String]) -> anyhow::Result<Vec<Out>> {
    let files = declaring_files(repo);
    let mut all = Vec::new();
    for file in &files {
        if file.ends_with("dvc.yaml") {
            all.extend(outs_of_pipeline(repo, file)?);
        } else if file.ends_with("dvc.lock") {
            // a lock beside its dvc.yaml is read with it; an orphan lock keeps its outs
            if !files.contains(&super::pipeline::yaml_of(file)) {
                all.extend(outs_of_lockfile(repo, file)?);
            }
        } else {
            all.extend(outs_of_dvcfile(repo, file)?);
        }
    }
    if targets.is_empty() {
        return Ok(all);
    }
    let mut selected = Vec::new();
    for target in targets {
        let t = Target::parse(cwd, target);
        let matches: Vec<&Out> = all.iter().filter(|o| t.selects(repo, o)).collect();
        if matches.is_empty() {
            return Err(crate::error::UserError::failed(format!(
                "'{target}' does not exist as an output or a stage name in the project"
            ))
            .with_hint(
                "name a .dvc file, a tracked path or a stage; `ferry status` lists what is tracked",
            )
            .into());
        }
        for m in matches {
            // a target strictly inside a tracked directory selects only that part of it
            let part = (m.is_dir() && t.abs != m.path)
                .then(|| t.abs.strip_prefix(&m.path).ok().map(to_posix))
                .flatten()
                .filter(|p| !p.is_empty());
            match selected
                .iter_mut()
                .find(|s: &&mut Out| s.path == m.path && s.origin == m.origin)
            {
                None => {
                    let mut m = m.clone();
                    m.parts.extend(part);
                    selected.push(m);
                }
                Some(s) if s.parts.is_empty() => {}
                Some(s) => match part {
                    Some(p) => s.parts.push(p),
                    None => s.parts.clear(),
                },
            }
        }
    }
    Ok(selected)
}

/// The stages and outs of one `dvc.yaml`, checked by the safe-path rule.
pub fn outs_of_pipeline(repo: &Repo, file: &str) -> anyhow::Result<Vec<Out>> {
    let pipeline = super::pipeline::load(repo, file)?;
    pipeline.outs(repo, &|rel, abs| Ok(check_out(repo, file, rel, abs)?))
}

/// A target as the user gave it: `path/dvc.yaml:stage`, `stage`, a `.dvc` file, a
/// `dvc.yaml`, an output path or a directory holding outputs.
#[derive(Debug, Clone)]
pub struct Target {
    /// The target as typed, for messages.
    pub text: String,
    /// The absolute path it names.
    pub abs: PathBuf,
    /// With `file:stage`, the pipeline file and the stage name.
    pub stage: Option<(PathBuf, String)>,
}

impl Target {
    /// Reads `text` relative to `cwd` (a `dvc.yaml:stage` form names a pipeline's stage).
    pub fn parse(cwd: &Path, text: &str) -> Target {
        let stage = text.rsplit_once(':').and_then(|(file, stage)| {
            (file.ends_with("dvc.yaml") && !stage.is_empty())
                .then(|| (normalize(&cwd.join(file)), stage.to_string()))
        });
        Target {
            text: text.to_string(),
            abs: normalize(&cwd.join(text)),
            stage,
        }
    }

    /// Whether the target names the stage `name` of the pipeline whose lock is `lock_file`
    /// (`stage`, `dvc.yaml`, `dvc.yaml:stage`).
    pub fn names_stage(&self, repo: &Repo, lock_file: &str, name: &str) -> bool {
        let yaml = repo.root.join(super::pipeline::yaml_of(lock_file));
        match &self.stage {
            Some((file, stage)) => *file == yaml && stage == name,
            None => self.text == name || self.abs == yaml || self.abs == repo.root.join(lock_file),
        }
    }

    /// Whether the target selects `out` (its stage, its declaring file, the out or a path
    /// inside or above it).
    pub fn selects(&self, repo: &Repo, out: &Out) -> bool {
        match &out.origin {
            Origin::Lock { file, stage } if self.names_stage(repo, file, stage) => true,
            _ if self.stage.is_some() => false,
            origin => {
                repo.root.join(origin.file()) == self.abs
                    || out.path.starts_with(&self.abs)
                    || self.abs.starts_with(&out.path)
            }
        }
    }
}

/// Resolves `.` and `..` lexically.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Repo {
        Repo {
            root: PathBuf::from("/nonexistent-ferry-root"),
            dvc_dir: PathBuf::from("/nonexistent-ferry-root/.dvc"),
            config: crate::config::Config::default(),
        }
    }

    #[test]
    fn declaring_files_come_in_dvcs_walk_order() {
        let mut files = vec![
            "a/b/x.dvc",
            "top.dvc",
            "a/b/dd.dvc",
            "a/z.dvc",
            "b.dvc",
            "a/b/c/d.dvc",
        ];
        files.sort_by(|a, b| walk_order(a, b));
        assert_eq!(
            files,
            [
                "b.dvc",
                "top.dvc",
                "a/z.dvc",
                "a/b/dd.dvc",
                "a/b/x.dvc",
                "a/b/c/d.dvc"
            ]
        );
    }

    #[test]
    fn lock_outs_under_git_are_refused() {
        let text = "schema: '2.0'\nstages:\n  s:\n    cmd: x\n    outs:\n    - path: .git/hooks/pre-commit\n      md5: 0cc175b9c0f1b6a831c399e269772661\n";
        let err = outs_of_lock_text(&repo(), "dvc.lock", text).unwrap_err();
        assert!(err.to_string().contains(".git/hooks/pre-commit"), "{err}");
        let ok = text.replace(".git/hooks/", "");
        assert_eq!(
            outs_of_lock_text(&repo(), "dvc.lock", &ok).unwrap().len(),
            1
        );
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn lock_reader_never_panics(text in crate::fuzz::text()) {
            let _ = outs_of_lock_text(&repo(), "sub/dvc.lock", &text);
        }

        #[test]
        fn lock_reader_never_panics_near_valid_locks(text in crate::fuzz::mutated(&[
            "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n    - path: data\n      hash: md5\n      md5: 83d36553a910a84c55e99b18af88174f.dir\n    outs:\n    - path: model.pt\n      hash: md5\n      md5: 0cc175b9c0f1b6a831c399e269772661\n      size: 2\n      isexec: true\n    - path: ../up\n      md5: 0cc175b9c0f1b6a831c399e269772661\n",
        ])) {
            let _ = outs_of_lock_text(&repo(), "sub/dvc.lock", &text);
        }
    }
}
