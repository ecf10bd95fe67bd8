//! The objects outputs need: a file's object, or a directory's files followed by its `.dir`
//! manifest (so a remote never advertises a tree it lacks).
use crate::hash::HashInfo;
use crate::odb::{Odb, OdbError};
use crate::repo::out::Out;

use super::Object;

/// The objects of one output that are knowable from the local cache. For a directory whose
/// manifest is not in the cache only the `.dir` itself is returned (`complete = false`).
pub fn of_out(odb: &Odb, out: &Out) -> Result<(Vec<Object>, bool), OdbError> {
    let Some(hash) = out.hash.clone() else {
        return Ok((Vec::new(), true));
    };
    if !hash.is_dir() {
        return Ok((
            vec![Object {
                hash,
                size: out.size,
                out: out.rel.clone(),
            }],
            true,
        ));
    }
    let dir = Object {
        hash: hash.clone(),
        size: None,
        out: out.rel.clone(),
    };
    if !odb.contains(&hash) {
        return Ok((vec![dir], false));
    }
    let mut objects: Vec<Object> = odb
        .read_manifest(&hash)?
        .into_iter()
        .filter(|e| out.selects_file(&e.relpath))
        .map(|e| Object {
            hash: HashInfo {
                md5: e.md5,
                legacy: hash.legacy,
            },
            size: None,
            out: format!("{}/{}", out.rel, e.relpath),
        })
        .collect();
    objects.push(dir);
    Ok((objects, true))
}

/// Removes repeated objects (two outputs sharing a file), keeping the first.
pub fn dedup(objects: Vec<Object>) -> Vec<Object> {
    let mut seen = std::collections::HashSet::new();
    objects
        .into_iter()
        .filter(|o| seen.insert(o.hash.clone()))
        .collect()
}
