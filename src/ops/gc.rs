//! Local `gc --workspace`: delete cache objects no workspace output uses.
use std::collections::HashSet;

use crate::hash::HashInfo;
use crate::odb::Odb;
use crate::repo::out::Out;

/// What a local gc removed (or, dry, would remove).
#[derive(Debug, Default)]
pub struct GcReport {
    /// The objects, in the cache's order.
    pub removed: Vec<HashInfo>,
    /// How many of them are in the DVC 3 (`files/md5/`) layout.
    pub repo: usize,
    /// How many are in the legacy (root) layout.
    pub legacy: usize,
}

/// Every object `outs` use: their hashes and, for directories whose manifest is local, the
/// manifest's files.
pub fn used(odb: &Odb, outs: &[Out]) -> HashSet<HashInfo> {
    let mut used: HashSet<HashInfo> = HashSet::new();
    // `cache: false` outs (metrics, logs) keep nothing in the cache, as in dvc.
    for out in outs.iter().filter(|o| o.cache) {
        let Some(hash) = out.hash.clone() else {
            continue;
        };
        if hash.is_dir()
            && let Ok(entries) = odb.read_manifest(&hash)
        {
            used.extend(entries.into_iter().map(|e| HashInfo {
                md5: e.md5,
                legacy: hash.legacy,
            }));
        }
        used.insert(hash);
    }
    used
}

/// Deletes (unless `dry`) every cache object `outs` do not use. The caller holds the repo lock.
pub fn gc_local(odb: &Odb, outs: &[Out], dry: bool) -> anyhow::Result<GcReport> {
    let used = used(odb, outs);
    let mut report = GcReport::default();
    for obj in odb.list()? {
        if used.contains(&obj) {
            continue;
        }
        if !dry {
            std::fs::remove_file(odb.path(&obj))?;
        }
        if obj.legacy {
            report.legacy += 1
        } else {
            report.repo += 1
        }
        report.removed.push(obj);
    }
    Ok(report)
}
