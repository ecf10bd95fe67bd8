//! `sync`: every target remote ends up holding every wanted object (the workspace's outputs,
//! with `--all-commits` every commit's), copied from the cache or, through the router and its
//! budgets, from the other remotes; or, with `--dry-run`, where each would come from.
use serde::Serialize;

use std::collections::BTreeMap;

use super::budget_state::BudgetState;
use super::fetch::LaneReport;
use super::lanes;
use crate::config::ferry::FerrySettings;
use crate::error::UserError;
use crate::repo::Repo;
use crate::repo::out::Out;
use crate::transfer::remotes::Handle;
use crate::transfer::sync::{PlanRow, TargetRow, learn_sources};
use crate::transfer::wanted::{self, Root};
use crate::transfer::{Object, Progress};

/// What a sync should do, resolved from the command line.
#[derive(Debug, Clone, Default)]
pub struct SyncSpec {
    /// Remotes to fill; empty: every configured remote.
    pub to: Vec<String>,
    /// Remotes to copy from when the cache lacks an object; empty: all, in pull order.
    pub from: Vec<String>,
    /// Carry on after a remote fails.
    pub keep_going: bool,
    /// Plan only: send nothing.
    pub dry_run: bool,
    /// With `dry_run`: list each lacking object with its source.
    pub items: bool,
    /// Also every output any commit records.
    pub all_commits: bool,
    /// Requests at once per remote.
    pub jobs: Option<usize>,
}

/// What a sync did, or (`dry_run`) would do.
#[derive(Debug, Serialize)]
pub struct Synced {
    /// Things the user should know before the results (unreadable history files, no ledger).
    pub warnings: Vec<String>,
    /// Per target, what was copied (empty for a plan).
    pub rows: Vec<TargetRow>,
    /// Per target, what it lacks and where it would come from (empty for a real run).
    pub plan: Vec<PlanRow>,
    /// Directories whose file lists are not in the cache (a plan cannot count their files).
    pub unknown_dirs: Vec<Object>,
    /// The remotes copied from (or, in a plan, that would be), in pull order, with what each
    /// supplied, why objects passed it over, and its budget afterwards.
    pub sources: Vec<LaneReport>,
    /// Each target's budget afterwards (the checks of what it holds are metered), by name.
    pub budgets: BTreeMap<String, BudgetState>,
}

/// Runs (or plans) a sync of `outs` (and, `all_commits`, of history) onto the targets.
pub fn sync(
    repo: &Repo,
    settings: &FerrySettings,
    outs: &[Out],
    spec: &SyncSpec,
    progress: &dyn Progress,
) -> anyhow::Result<Synced> {
    let mut warnings = Vec::new();
    let mut roots = wanted::of_outs(outs);
    if spec.all_commits {
        let (history, unreadable) = wanted::of_history(&repo.root)?;
        for file in unreadable {
            warnings.push(format!(
                "skipping '{file}' of the history: not a valid .dvc file or dvc.lock, so the data it records is not synced (fix it in a new commit if that data matters)"
            ));
        }
        merge(&mut roots, history);
    }
    let all = lanes::all_remotes(repo, settings);
    if all.is_empty() {
        return Err(
            UserError::failed("no remote is configured, so there is nothing to sync")
                .with_hint("add remotes with `ferry remote add NAME URL`")
                .into(),
        );
    }
    let lower = |names: &[String]| names.iter().map(|n| n.to_lowercase()).collect::<Vec<_>>();
    let target_names = if spec.to.is_empty() {
        all.clone()
    } else {
        lower(&spec.to)
    };
    let source_names = if spec.from.is_empty() {
        all
    } else {
        lower(&spec.from)
    };
    let handles =
        crate::transfer::remotes::open_all(&repo.config, settings, &target_names, spec.jobs)?;
    let mut router = lanes::router(repo, settings, &source_names, spec.jobs, &mut warnings)?;
    let odb = repo.odb();
    let rt = super::runtime()?;
    if !spec.dry_run {
        rt.block_on(wanted::fetch_manifests(&odb, &roots, &router, progress))?;
    }
    let mut all = wanted::expand_ids(&odb, &roots);
    rt.block_on(learn_sources(&mut router, &odb, &all, spec.dry_run));
    let unknown_dirs = std::mem::take(&mut all.unknown_dirs);
    // each target expands its own share again: the whole set is not held beside it
    drop(all);
    let targets: Vec<(Handle, Vec<Root>)> = handles
        .into_iter()
        .map(|h| {
            let mine = wanted::for_remote(&roots, &h.name);
            (h, mine)
        })
        .collect();
    if spec.dry_run {
        let plan = rt.block_on(crate::transfer::sync::plan(
            &odb, &targets, &router, spec.items,
        ));
        return Ok(Synced {
            warnings,
            rows: Vec::new(),
            plan,
            unknown_dirs,
            sources: router.lanes.iter().map(LaneReport::of).collect(),
            budgets: target_budgets(&targets),
        });
    }
    let spool = repo.tmp_dir().join("ferry").join("spool");
    let rows = rt.block_on(crate::transfer::sync::sync(
        &odb,
        &spool,
        &targets,
        &router,
        spec.keep_going,
        progress,
    ))?;
    Ok(Synced {
        warnings,
        rows,
        plan: Vec::new(),
        unknown_dirs,
        sources: router.lanes.iter().map(LaneReport::of).collect(),
        budgets: target_budgets(&targets),
    })
}

/// The budget of every target that has a ledger account, by name.
fn target_budgets<T>(targets: &[(Handle, T)]) -> BTreeMap<String, BudgetState> {
    targets
        .iter()
        .filter_map(|(h, _)| Some((h.name.clone(), BudgetState::of(h)?)))
        .collect()
}

/// Adds `more` roots whose hashes are not in `roots` yet.
fn merge(roots: &mut Vec<Root>, more: Vec<Root>) {
    let mut seen: std::collections::HashSet<_> = roots.iter().map(|r| r.hash.clone()).collect();
    roots.extend(more.into_iter().filter(|r| seen.insert(r.hash.clone())));
}
