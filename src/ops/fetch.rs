//! `fetch` (and the download half of `pull`): open the remotes in pull order (or `-r`), route
//! every object the outputs lack over them with their budgets, then fetch imports from their
//! source repositories; or, with `--dry-run`, plan all that without downloading data.
use std::collections::BTreeMap;

use serde::Serialize;

use super::budget_state::BudgetState;
use super::lanes;
use crate::budget::Remaining;
use crate::config::ferry::FerrySettings;
use crate::remote::RemoteError;
use crate::repo::Repo;
use crate::repo::out::Out;
use crate::transfer::Progress;
use crate::transfer::fetch::{FetchReport, Plan};
use crate::transfer::router::{Lane, Router, Skip};

/// Where a fetch takes its data from, resolved from the command line.
#[derive(Debug, Clone, Default)]
pub struct FetchFrom {
    /// `-r NAME`: this remote only.
    pub remote: Option<String>,
    /// `--no-fallback`: only the first remote of the order.
    pub no_fallback: bool,
    /// `-j N`: requests at once per remote.
    pub jobs: Option<usize>,
    /// A pull's workspace twins of large downloads (see [`crate::odb::twins`]).
    pub twins: Option<std::sync::Arc<crate::odb::twins::Twins>>,
}

/// One remote of the order and what it did (or, in a plan, would do) in this run.
#[derive(Debug, Clone, Serialize)]
pub struct LaneReport {
    /// The remote's name.
    pub name: String,
    /// Objects it supplied (a plan: would supply).
    pub objects: u64,
    /// Bytes it supplied (a plan: would supply, known sizes).
    pub bytes: u64,
    /// Objects that went on to another remote after this one, by reason.
    pub fell_back: BTreeMap<String, u64>,
    /// Outputs whose copy on this remote failed its md5 check.
    pub corrupt: Vec<String>,
    /// Why the remote was taken out of the run, if it was.
    pub disabled: Option<Skip>,
    /// The error that took it out (not a cap the ledger remembered).
    pub cause: Option<RemoteError>,
    /// When the ledger said at the start that the remote is capped: its reset.
    pub capped_until: Option<jiff::Timestamp>,
    /// Its budget at the start of the run.
    pub budget_before: Remaining,
    /// Its budget after the run (a plan: after what was planned).
    pub budget_after: Remaining,
    /// Whether a listing told what it holds (else it was assumed to hold what was routed there).
    pub listed: bool,
    /// Its budget as the run left it (today's use of the three meters, limits, cap); `None`
    /// without a ledger.
    pub budget: Option<BudgetState>,
}

impl LaneReport {
    /// The report of `lane` as the run (or plan) left it.
    pub(crate) fn of(lane: &Lane) -> Self {
        let stats = lane.stats();
        Self {
            name: lane.handle.name.clone(),
            objects: stats.objects,
            bytes: stats.bytes,
            fell_back: stats.fell_back,
            corrupt: stats.corrupt,
            disabled: lane.disabled(),
            cause: lane.cause(),
            capped_until: lane.capped_until(),
            budget_before: lane.budget_start,
            budget_after: lane.budget_left(),
            listed: lane.listed(),
            budget: BudgetState::of(&lane.handle),
        }
    }
}

/// An imported output's data its source repository could not supply.
#[derive(Debug, Clone, Serialize)]
pub struct ImportShortfall {
    /// The `.dvc` file of the import.
    pub file: String,
    /// The source repository's URL.
    pub url: String,
    /// How many objects were not fetched.
    pub objects: usize,
}

/// What a fetch did.
#[derive(Debug, Serialize)]
pub struct Fetched {
    /// Things the user should know before the results (no remote, no ledger).
    pub warnings: Vec<String>,
    /// The remotes of the order, in order; `report`'s lane indexes point here.
    pub lanes: Vec<LaneReport>,
    /// The objects fetched and those no remote supplied.
    pub report: FetchReport,
    /// Imports whose source repository lacked some of their data.
    pub imports: Vec<ImportShortfall>,
    /// Whether the remotes of the order fetched or failed anything themselves (imports come
    /// from their source repositories' remotes).
    pub routed: bool,
}

/// What a fetch would do (`--dry-run`): nothing downloaded but `.dir` file lists, nothing
/// written to the cache.
#[derive(Debug, Serialize)]
pub struct Planned {
    /// Things the user should know before the plan.
    pub warnings: Vec<String>,
    /// The remotes of the order with their share of the plan and budgets before and after;
    /// `plan`'s lane indexes point here.
    pub lanes: Vec<LaneReport>,
    /// What no remote can supply, the directories whose file list no remote supplied.
    pub plan: Plan,
}

/// The router over the remotes `from` names: `-r`, else the pull order; only the first with
/// `--no-fallback`.
fn router(
    repo: &Repo,
    settings: &FerrySettings,
    from: &FetchFrom,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Router> {
    let mut order = match &from.remote {
        Some(r) => vec![r.to_lowercase()],
        None => settings.pull_order(&repo.config),
    };
    if from.no_fallback {
        order.truncate(1);
    }
    if order.is_empty() {
        warnings.push("No remote provided and no default remote set.".into());
    }
    lanes::router(repo, settings, &order, from.jobs, warnings)
}

/// Plans a fetch of what `outs` lack: per remote the objects and bytes it would supply and its
/// budget before and after; reads only the `.dir` file lists the cache lacks (into memory).
pub fn plan(
    repo: &Repo,
    settings: &FerrySettings,
    outs: &[Out],
    from: &FetchFrom,
) -> anyhow::Result<Planned> {
    let mut warnings = Vec::new();
    let mut router = router(repo, settings, from, &mut warnings)?;
    let plan =
        super::runtime()?.block_on(crate::transfer::fetch::plan(&repo.odb(), outs, &mut router));
    let lanes = router.lanes.iter().map(LaneReport::of).collect();
    Ok(Planned {
        warnings,
        lanes,
        plan,
    })
}

/// Fetches into the cache everything `outs` need that it lacks, per object from the first
/// usable remote of the order; imported outputs come from their source repository's remotes
/// (cloned only when the cache lacks some of their data), as in dvc.
pub fn fetch(
    repo: &Repo,
    settings: &FerrySettings,
    outs: &[Out],
    from: &FetchFrom,
    progress: &dyn Progress,
) -> anyhow::Result<Fetched> {
    let mut warnings = Vec::new();
    let mut router = router(repo, settings, from, &mut warnings)?;
    let mut odb = repo.odb();
    odb.twins = from.twins.clone();
    let rt = super::runtime()?;
    let (imported, outs): (Vec<Out>, Vec<Out>) = outs.iter().cloned().partition(|o| o.imported);
    let mut report = rt.block_on(crate::transfer::fetch::fetch(
        &odb,
        &outs,
        &mut router,
        progress,
    ))?;
    let lanes = router.lanes.iter().map(LaneReport::of).collect();
    let routed = report.fetched > 0 || !report.failed.is_empty();
    let mut imports = Vec::new();
    for (file, outs) in imported_by_file(&imported) {
        if outs.iter().all(|o| {
            o.hash
                .as_ref()
                .is_none_or(|h| crate::repo::status::cache_complete(&odb, h))
        }) {
            continue;
        }
        let Some(src) = std::fs::read_to_string(repo.root.join(&file))
            .ok()
            .and_then(|t| crate::repo::imports::source_of(&t))
        else {
            continue;
        };
        let source = crate::repo::imports::checkout(&repo.root, &file, &src)?;
        let src_settings = FerrySettings::load(&source.repo.dvc_dir)?;
        let src_order = src_settings.pull_order(&source.repo.config);
        let mut src_router = lanes::router(
            &source.repo,
            &src_settings,
            &src_order,
            from.jobs,
            &mut Vec::new(),
        )?;
        let got = rt.block_on(crate::transfer::fetch::fetch(
            &odb,
            &outs,
            &mut src_router,
            progress,
        ))?;
        if !got.failed.is_empty() {
            imports.push(ImportShortfall {
                file: file.clone(),
                url: src.url.clone(),
                objects: got.failed.len(),
            });
        }
        // dvc counts an import's files, not its `.dir`
        report.fetched += got.fetched - got.fetched_dirs;
        report.bad_manifests.extend(got.bad_manifests);
    }
    Ok(Fetched {
        warnings,
        lanes,
        report,
        imports,
        routed,
    })
}

/// Imported outs grouped by the `.dvc` file that declares them.
fn imported_by_file(outs: &[Out]) -> Vec<(String, Vec<Out>)> {
    let mut groups: Vec<(String, Vec<Out>)> = Vec::new();
    for o in outs {
        let file = o.origin.file().to_string();
        match groups.iter_mut().find(|(f, _)| *f == file) {
            Some((_, v)) => v.push(o.clone()),
            None => groups.push((file, vec![o.clone()])),
        }
    }
    groups
}
