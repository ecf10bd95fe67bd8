//! Checking out only some files of a tracked directory (`checkout data/dir/inner/i1`, or a
//! `pull` of them), as dvc's granular targets do: the other files of the directory are left
//! as they are.
use std::fs;

use crate::hash::HashInfo;
use crate::hash::state::State;
use crate::odb::Odb;

use super::checkout::{Change, CheckoutError, LinkType, place};
use super::out::Out;
use super::safepath::{self, Bounds};
use super::workspace::{self, Current};

/// Restores the files of directory output `out` that [`Out::selects_file`] selects. A selected
/// file with content that is in neither the recorded version nor the cache is refused without
/// `force`, before anything is written.
pub fn checkout_parts(
    odb: &Odb,
    bounds: &Bounds,
    out: &Out,
    links: &[LinkType],
    force: bool,
    state: &mut State,
) -> Result<Change, CheckoutError> {
    let recorded = super::checkout::recorded_hash(out)?;
    if !odb.contains(&recorded) {
        return Err(CheckoutError::MissingCache(out.rel.clone()));
    }
    let legacy = recorded.legacy;
    let entries: Vec<_> = odb
        .read_manifest(&recorded)?
        .into_iter()
        .filter(|e| out.selects_file(&e.relpath))
        .collect();
    safepath::check_tree_parents(&out.path, entries.iter().map(|e| e.relpath.as_str()))?;
    let existed = out.path.exists();
    let mut todo = Vec::new();
    for e in &entries {
        let hash = HashInfo {
            md5: e.md5.clone(),
            legacy,
        };
        if !odb.contains(&hash) {
            return Err(CheckoutError::MissingCache(format!(
                "{}/{}",
                out.rel, e.relpath
            )));
        }
        let dest = out.path.join(&e.relpath);
        match workspace::current(bounds, &dest, legacy, state)? {
            Current::File { file, .. } if file.md5_is(&e.md5) => continue,
            Current::File { file, .. } if !force && !odb.contains(&file.hash(legacy)) => {
                return Err(CheckoutError::Unsaved(dest));
            }
            Current::Dir { .. } if !force => return Err(CheckoutError::Unsaved(dest)),
            _ => {}
        }
        todo.push((dest, hash));
    }
    for (dest, hash) in &todo {
        if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir_all(dest).map_err(|e| {
                CheckoutError::Io(format!("cannot remove '{}': {e}", dest.display()))
            })?;
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| {
                CheckoutError::Io(format!("cannot create '{}': {e}", parent.display()))
            })?;
        }
        place(odb, hash, dest, links, false, state)?;
    }
    Ok(match (todo.len(), existed) {
        (0, _) => Change::Unchanged,
        (n, true) => Change::Modified(n),
        (n, false) => Change::Added(n),
    })
}
