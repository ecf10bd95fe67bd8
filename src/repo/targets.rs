//! Target lists as dvc's flags widen them: `--glob` (shell patterns), `-R` (every `.dvc` file
//! and `dvc.yaml` under a directory) and `-d/--with-deps` (the stages a target's stage depends
//! on, transitively).
use std::path::{Path, PathBuf};

use crate::error::UserError;

use super::Repo;
use super::index::{self, Target};
use super::out::Origin;

/// Each target read as a glob pattern relative to `cwd` (`*`, `?`, `[…]`, `**`), replaced by
/// the paths it matches, sorted; a pattern matching nothing is an error, as in dvc.
pub fn expand_globs(repo: &Repo, cwd: &Path, targets: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for pattern in targets {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| UserError::failed(format!("'{pattern}' is not a valid glob: {e}")))?
            .compile_matcher();
        let mut found: Vec<String> = Vec::new();
        let walker = ignore::WalkBuilder::new(cwd)
            .standard_filters(false)
            .filter_entry(|e| !matches!(e.file_name().to_str(), Some(".git" | ".dvc")))
            .build();
        for entry in walker.flatten() {
            let Ok(rel) = entry.path().strip_prefix(cwd) else {
                continue;
            };
            if !rel.as_os_str().is_empty() && entry.path().starts_with(&repo.root) {
                let rel = index::to_posix(rel);
                if glob.is_match(&rel) {
                    found.push(rel);
                }
            }
        }
        if found.is_empty() {
            return Err(
                UserError::failed(format!("Glob ['{pattern}'] has no matches."))
                    .with_hint("check the pattern (quote it so the shell leaves it to ferry)")
                    .into(),
            );
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// `-R`: a target that is a directory stands for every `.dvc` file and `dvc.yaml` under it.
pub fn recursive(repo: &Repo, cwd: &Path, targets: &[String]) -> Vec<String> {
    let files = index::declaring_files(repo);
    let mut out = Vec::new();
    for t in targets {
        let abs = index::normalize(&cwd.join(t));
        if !abs.is_dir() {
            out.push(t.clone());
            continue;
        }
        let under: Vec<String> = files
            .iter()
            .filter(|f| !f.ends_with("dvc.lock"))
            .map(|f| repo.root.join(f))
            .filter(|f| f.starts_with(&abs))
            .map(|f| f.display().to_string())
            .collect();
        if under.is_empty() {
            out.push(t.clone());
        } else {
            out.extend(under);
        }
    }
    out
}

/// `-d/--with-deps`: the targets plus every stage (and `.dvc` file) producing a dependency of
/// a selected stage, transitively.
pub fn with_deps(repo: &Repo, cwd: &Path, targets: &[String]) -> anyhow::Result<Vec<String>> {
    let outs = index::collect(repo, cwd, &[])?;
    let mut stages = Vec::new();
    for file in index::declaring_files(repo)
        .iter()
        .filter(|f| f.ends_with("dvc.yaml"))
    {
        stages.push(super::pipeline::load(repo, file)?);
    }
    let overlaps = |a: &Path, b: &Path| a.starts_with(b) || b.starts_with(a);
    let mut out: Vec<String> = targets.to_vec();
    let mut todo: Vec<(PathBuf, String)> = Vec::new();
    for text in targets {
        let t = Target::parse(cwd, text);
        for p in &stages {
            for s in &p.stages {
                let selected = t.names_stage(repo, &p.lock_file, &s.name)
                    || outs.iter().any(|o| {
                        matches!(&o.origin, Origin::Lock { file, stage } if *file == p.lock_file && *stage == s.name)
                            && t.selects(repo, o)
                    });
                if selected {
                    todo.push((repo.root.join(&p.file), s.name.clone()));
                }
            }
        }
    }
    let mut seen: Vec<(PathBuf, String)> = Vec::new();
    while let Some((yaml, name)) = todo.pop() {
        if seen.contains(&(yaml.clone(), name.clone())) {
            continue;
        }
        seen.push((yaml.clone(), name.clone()));
        let Some(stage) = stages
            .iter()
            .filter(|p| repo.root.join(&p.file) == yaml)
            .flat_map(|p| &p.stages)
            .find(|s| s.name == name)
        else {
            continue;
        };
        for dep in &stage.deps {
            let Ok(rel) = stage.rel(dep) else { continue };
            let dep_abs = repo.root.join(rel);
            for o in outs.iter().filter(|o| overlaps(&o.path, &dep_abs)) {
                match &o.origin {
                    Origin::Lock { file, stage } => todo.push((
                        repo.root.join(super::pipeline::yaml_of(file)),
                        stage.clone(),
                    )),
                    Origin::DvcFile { file, .. } => {
                        let f = repo.root.join(file).display().to_string();
                        if !out.contains(&f) {
                            out.push(f);
                        }
                    }
                }
            }
        }
        let t = format!("{}:{name}", yaml.display());
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}
