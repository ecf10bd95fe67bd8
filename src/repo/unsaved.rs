//! Which outputs a checkout without `--force` would refuse to overwrite, found before anything
//! is restored: dvc's checkout is all-or-nothing, so one output with unsaved changes leaves
//! every other output as it is too. The rules are `checkout::checkout_out`'s.
use std::path::PathBuf;

use crate::hash::HashInfo;
use crate::hash::state::State;
use crate::odb::{self, Odb};

use super::checkout::CheckoutError;
use super::out::Out;
use super::safepath::Bounds;
use super::workspace::{self, Current};

/// The workspace path holding content of `out` that is in neither the recorded version nor the
/// cache (what a checkout would lose), if any. An out whose data is missing from the cache is
/// not unsaved here: the checkout reports it as missing.
pub fn unsaved_change(
    odb: &Odb,
    bounds: &Bounds,
    out: &Out,
    state: &mut State,
) -> Result<Option<PathBuf>, CheckoutError> {
    let Some(recorded) = out.hash.clone() else {
        return Ok(None);
    };
    let meta = std::fs::symlink_metadata(&out.path);
    if meta.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
        let target = std::fs::metadata(&out.path);
        let followable =
            target.as_ref().is_ok_and(|m| m.is_file()) && bounds.check_link(&out.path).is_ok();
        if !followable {
            return Ok(target.is_ok().then(|| out.path.clone()));
        }
    }
    let legacy = recorded.legacy;
    let saved = |f: &workspace::FileInfo| odb.contains(&f.hash(legacy));
    let current = workspace::current(bounds, &out.path, legacy, state)?;
    if !out.parts.is_empty() {
        return parts_unsaved(odb, out, &recorded, &current);
    }
    if current.hash(legacy).as_ref() == Some(&recorded) {
        return Ok(None);
    }
    Ok(match (&current, recorded.is_dir()) {
        (Current::Missing, _) => None,
        (Current::File { file, .. }, _) => (!saved(file)).then(|| out.path.clone()),
        (Current::Dir { files, .. }, false) => {
            files.iter().any(|f| !saved(f)).then(|| out.path.clone())
        }
        (Current::Dir { files, .. }, true) => {
            if !odb.contains(&recorded) {
                return Ok(None);
            }
            let entries = odb.read_manifest(&recorded)?;
            let wanted: std::collections::HashMap<&str, &str> = entries
                .iter()
                .map(|e| (e.relpath.as_str(), e.md5.as_str()))
                .collect();
            files
                .iter()
                .filter(|f| !wanted.get(&*f.rel).is_some_and(|m| f.md5_is(m)))
                .filter(|f| {
                    wanted.contains_key(&*f.rel)
                        || !f.rel.rsplit('/').next().is_some_and(odb::is_temp_name)
                })
                .find(|f| !saved(f))
                .map(|f| f.path_in(&out.path))
        }
    })
}

/// For a checkout of some files of a directory: a selected file whose content would be lost.
fn parts_unsaved(
    odb: &Odb,
    out: &Out,
    recorded: &HashInfo,
    current: &Current,
) -> Result<Option<PathBuf>, CheckoutError> {
    let Current::Dir { files, .. } = current else {
        return Ok(None);
    };
    if !odb.contains(recorded) {
        return Ok(None);
    }
    let entries = odb.read_manifest(recorded)?;
    let wanted: std::collections::HashMap<&str, &str> = entries
        .iter()
        .filter(|e| out.selects_file(&e.relpath))
        .map(|e| (e.relpath.as_str(), e.md5.as_str()))
        .collect();
    Ok(files
        .iter()
        .filter(|f| wanted.get(&*f.rel).is_some_and(|m| !f.md5_is(m)))
        .find(|f| !odb.contains(&f.hash(recorded.legacy)))
        .map(|f| f.path_in(&out.path)))
}
