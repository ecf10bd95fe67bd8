//! `status`: the workspace against the cache and the records (dvc's data and stage status),
//! or (`-c`, `-r`) the cache against one remote.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::config::ferry::FerrySettings;
use crate::repo::Repo;
use crate::repo::out::Out;
use crate::transfer::cloud_status::{CloudState, compare};
use crate::transfer::remotes;

/// dvc's stage status of the targets (what changed since the records), with the state cache
/// updated for the files hashed on the way.
pub fn local(
    repo: &Repo,
    cwd: &Path,
    targets: &[String],
) -> anyhow::Result<crate::repo::stage_status::Report> {
    let mut state = repo.state();
    let report = crate::repo::stage_status::local(repo, cwd, targets, &mut state)?;
    state.flush();
    Ok(report)
}

/// `status -c` against one remote.
#[derive(Debug, Serialize)]
pub struct CloudStatus {
    /// The remote compared with (`-r`, else the default remote).
    pub remote: String,
    /// Every object not on both sides, by the path dvc names it with.
    pub diff: BTreeMap<String, CloudState>,
}

/// Compares the cache with remote `remote` (else the default remote) for the outputs that go
/// there by default: like dvc, `push: false` outputs, outputs with their own `remote:` and
/// imports are left out (`status --remotes` shows every remote's holdings).
pub fn cloud(
    repo: &Repo,
    settings: &FerrySettings,
    outs: &[Out],
    remote: Option<&str>,
    jobs: Option<usize>,
) -> anyhow::Result<CloudStatus> {
    let name = remotes::default_name(&repo.config, remote, &repo.root)?;
    let selected: Vec<&Out> = outs
        .iter()
        .filter(|o| o.push && o.remote.is_none() && !o.imported)
        .collect();
    let handle = remotes::open(&repo.config, settings, &name, jobs)?;
    let diff = super::runtime()?.block_on(compare(&repo.odb(), &selected, &handle))?;
    Ok(CloudStatus { remote: name, diff })
}
