//! The remotes an operation works with: every configured remote in pull order, a router over
//! some of them (warning when budgets cannot be tracked), and the wanted roots with the
//! directory file lists the cache lacks fetched first.
use crate::budget::Ledger;
use crate::config::ferry::FerrySettings;
use crate::repo::Repo;
use crate::repo::out::Out;
use crate::transfer::NoProgress;
use crate::transfer::remotes;
use crate::transfer::router::{Lane, Router};
use crate::transfer::wanted::{self, Root};

/// Every configured remote: the pull order first, then the others in config order.
pub fn all_remotes(repo: &Repo, settings: &FerrySettings) -> Vec<String> {
    let mut names = settings.pull_order(&repo.config);
    for n in repo.config.remote_names() {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// A router over `names`, in order; a ledger that cannot be opened adds a warning (the
/// remotes then run without budgets).
pub fn router(
    repo: &Repo,
    settings: &FerrySettings,
    names: &[String],
    jobs: Option<usize>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Router> {
    let handles = remotes::open_all(&repo.config, settings, names, jobs)?;
    if let Err(e) = Ledger::open_default() {
        warnings.push(format!("download budgets are not tracked: {e}"));
    }
    Ok(Router::new(handles.into_iter().map(Lane::new).collect()))
}

/// The roots of `outs`, with the directory file lists the cache lacks fetched (verified) from
/// the remotes in pull order, so expanding them finds their files.
pub fn roots_of(
    repo: &Repo,
    settings: &FerrySettings,
    outs: &[Out],
    jobs: Option<usize>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Vec<Root>> {
    let roots = wanted::of_outs(outs);
    let odb = repo.odb();
    if roots
        .iter()
        .any(|r| r.hash.is_dir() && !odb.contains(&r.hash))
    {
        let order = settings.pull_order(&repo.config);
        let router = router(repo, settings, &order, jobs, warnings)?;
        super::runtime()?.block_on(wanted::fetch_manifests(&odb, &roots, &router, &NoProgress))?;
        router.flush_usage();
    }
    Ok(roots)
}
