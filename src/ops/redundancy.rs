//! `status --remotes`: what every configured remote holds of the wanted objects (each counted
//! against what belongs on it, as `sync` would fill it) and which objects are on fewer remotes
//! than `redundancy.min_copies`.
use serde::Serialize;

use super::lanes;
use crate::config::ferry::FerrySettings;
use crate::error::UserError;
use crate::repo::Repo;
use crate::repo::out::Out;
use crate::transfer::Object;
use crate::transfer::redundancy::{Replication, replication};
use crate::transfer::wanted;

/// The copies of the wanted objects across the remotes.
#[derive(Debug, Serialize)]
pub struct Copies {
    /// Things the user should know before the results (no ledger).
    pub warnings: Vec<String>,
    /// Per remote what it holds and lacks, and the under-replicated objects.
    pub replication: Replication,
    /// Directories whose file lists are in no cache or remote (their files are not counted).
    pub unknown_dirs: Vec<Object>,
}

/// Counts every wanted object of `outs` on every configured remote.
pub fn copies(
    repo: &Repo,
    settings: &FerrySettings,
    outs: &[Out],
    jobs: Option<usize>,
) -> anyhow::Result<Copies> {
    let names = lanes::all_remotes(repo, settings);
    if names.is_empty() {
        return Err(UserError::failed("no remote is configured")
            .with_hint("add remotes with `ferry remote add NAME URL`")
            .into());
    }
    let mut warnings = Vec::new();
    let roots = lanes::roots_of(repo, settings, outs, jobs, &mut warnings)?;
    let odb = repo.odb();
    let wanted = wanted::expand_ids(&odb, &roots);
    let handles: Vec<_> = crate::transfer::remotes::open_all(&repo.config, settings, &names, jobs)?
        .into_iter()
        .map(|h| {
            let belongs = wanted::for_remote(&roots, &h.name);
            (h, belongs)
        })
        .collect();
    let replication = super::runtime()?.block_on(replication(
        &odb,
        &roots,
        &wanted,
        &handles,
        settings.min_copies(),
    ));
    Ok(Copies {
        warnings,
        replication,
        unknown_dirs: wanted.unknown_dirs,
    })
}
