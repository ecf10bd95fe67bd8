//! `gc --workspace`: delete cache objects no workspace output uses; with `--cloud`, a remote's
//! too, keeping `redundancy.min_copies` copies on the remotes.
use std::collections::HashSet;

use serde::Serialize;

use crate::config::ferry::FerrySettings;
use crate::error::UserError;
use crate::hash::HashInfo;
use crate::odb::Odb;
use crate::remote::RemoteError;
use crate::repo::Repo;
use crate::repo::out::Out;
use crate::transfer::id::{Id, ObjectSet};
use crate::transfer::redundancy::{GcPlan, check_listable, delete, plan_gc};
use crate::transfer::remotes::{self, Handle};
use crate::transfer::wanted;

/// What a local gc removed (or, dry, would remove).
#[derive(Debug, Default, Serialize)]
pub struct GcReport {
    /// The objects, in the cache's order.
    pub removed: Vec<HashInfo>,
    /// How many of them are in the DVC 3 (`files/md5/`) layout.
    pub repo: usize,
    /// How many are in the legacy (root) layout.
    pub legacy: usize,
}

/// Every object `outs` use: their hashes and, for directories whose manifest is local, the
/// manifest's files, these as sorted 17-byte ids (a million-file directory costs 17 MB here).
pub fn used(odb: &Odb, outs: &[Out]) -> ObjectSet {
    let (mut files, mut others) = (Vec::new(), HashSet::new());
    // `cache: false` outs (metrics, logs) keep nothing in the cache, as in dvc.
    for out in outs.iter().filter(|o| o.cache) {
        let Some(hash) = out.hash.clone() else {
            continue;
        };
        if hash.is_dir() && odb.contains(&hash) {
            let read = odb.for_each_entry(&hash, |_, md5| match Id::of_hex(md5, hash.legacy) {
                Some(id) => files.push(id),
                None => {
                    others.insert(HashInfo {
                        md5: md5.to_string(),
                        legacy: hash.legacy,
                    });
                }
            });
            if let Err(e) = read {
                tracing::debug!("manifest of '{}' not read for gc: {e}", out.rel);
            }
        }
        others.insert(hash);
    }
    ObjectSet::new(files, others)
}

/// Deletes (unless `dry`) every cache object `outs` do not use. The caller holds the repo lock.
pub fn gc_local(odb: &Odb, outs: &[Out], dry: bool) -> anyhow::Result<GcReport> {
    let used = used(odb, outs);
    let mut report = GcReport::default();
    let mut failed = None;
    odb.for_each_object(|obj| {
        if failed.is_some() || used.contains(&obj) {
            return;
        }
        if !dry && let Err(e) = std::fs::remove_file(odb.path(&obj)) {
            failed = Some(e);
            return;
        }
        if obj.legacy {
            report.legacy += 1
        } else {
            report.repo += 1
        }
        report.removed.push(obj);
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(report),
    }
}

/// The remote `gc --cloud` cleans, opened and checked to be listable before anything is
/// deleted anywhere (so a local gc never runs when the cloud half cannot).
pub struct CloudTarget(Handle);

impl CloudTarget {
    /// Opens `-r remote`, else the default remote, and refuses one that cannot be listed.
    pub fn open(
        repo: &Repo,
        settings: &FerrySettings,
        remote: Option<&str>,
        jobs: Option<usize>,
    ) -> anyhow::Result<CloudTarget> {
        let name = remotes::default_name(&repo.config, remote, &repo.root)?;
        let target = remotes::open(&repo.config, settings, &name, jobs)?;
        check_listable(&target).map_err(|e| {
            UserError::failed(e.message)
                .with_hint("gc --cloud needs a remote that can be listed (S3 or a local directory)")
        })?;
        Ok(CloudTarget(target))
    }

    /// The remote's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }
}

/// What `gc --cloud` did on one remote (or, dry, would do).
#[derive(Debug, Serialize)]
pub struct CloudGcReport {
    /// The remote cleaned.
    pub remote: String,
    /// `redundancy.min_copies`.
    pub min_copies: u32,
    /// Things the user should know before the results (no ledger).
    pub warnings: Vec<String>,
    /// What was (dry: would be) deleted and kept, and the remotes that could not be checked.
    pub plan: GcPlan,
    /// Deletions that failed, with why (always empty when dry).
    pub failed: Vec<(HashInfo, RemoteError)>,
}

/// Deletes from `target` the objects no output of `outs` uses (unless `dry`), keeping any whose
/// deletion would leave fewer than `min_copies` copies on the configured remotes. Refuses when
/// a directory's file list is nowhere to be read: its files could not be told from unused ones.
pub fn gc_cloud(
    repo: &Repo,
    settings: &FerrySettings,
    outs: &[Out],
    target: CloudTarget,
    dry: bool,
    jobs: Option<usize>,
) -> anyhow::Result<CloudGcReport> {
    let target = target.0;
    let name = target.name.clone();
    let mut warnings = Vec::new();
    let wanted = wanted::expand_ids(
        &repo.odb(),
        &super::lanes::roots_of(repo, settings, outs, jobs, &mut warnings)?,
    );
    if let Some(o) = wanted
        .unknown_dirs
        .iter()
        .chain(wanted.bad_dirs.iter().map(|(o, _)| o))
        .next()
    {
        return Err(UserError::failed(format!(
            "cannot tell which files directory '{}' uses: its file list ({}) is neither in the cache nor on any remote; nothing was deleted from remote '{name}'",
            o.out, o.hash.md5
        ))
        .with_hint("fetch or push the directory's data first (`ferry fetch`, `ferry push`)")
        .into());
    }
    let used = wanted.into_set();
    let all = super::lanes::all_remotes(repo, settings);
    let others = remotes::open_all(&repo.config, settings, &all, jobs)?;
    let min_copies = effective_min_copies(
        settings,
        others.iter().filter(|h| h.name != target.name).count(),
    );
    let rt = super::runtime()?;
    let plan = rt.block_on(plan_gc(&target, &others, &used, min_copies))?;
    let failed = if dry || plan.delete.is_empty() {
        Vec::new()
    } else {
        let hashes: Vec<_> = plan.delete.iter().map(|(h, _)| h.clone()).collect();
        rt.block_on(delete(&target, &hashes))
    };
    Ok(CloudGcReport {
        remote: name,
        min_copies,
        warnings,
        plan,
        failed,
    })
}

/// `min_copies` as `gc --cloud` applies it: never more copies than there are other remotes to
/// hold them, so with one remote `gc --cloud` deletes every unused object, as dvc does.
fn effective_min_copies(settings: &FerrySettings, other_remotes: usize) -> u32 {
    settings
        .min_copies()
        .min(u32::try_from(other_remotes).unwrap_or(u32::MAX))
}

/// The `gc --cloud` rule for `target`, said before the prompt: which unused objects stay.
pub fn min_copies_rule(repo: &Repo, settings: &FerrySettings, target: &str) -> String {
    let others = super::lanes::all_remotes(repo, settings)
        .into_iter()
        .filter(|n| n != target)
        .count();
    let need = effective_min_copies(settings, others);
    if need == 0 {
        format!(
            "--cloud removes every unused object from remote '{target}': no other remote is configured to hold copies, so redundancy.min_copies ({}) keeps none",
            settings.min_copies()
        )
    } else {
        format!(
            "--cloud keeps an unused object on remote '{target}' unless {need} of the {others} other remotes hold it (redundancy.min_copies = {})",
            settings.min_copies()
        )
    }
}
