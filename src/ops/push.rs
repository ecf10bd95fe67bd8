//! `push`: which remotes a push goes to, which outputs go to each (DVC's rule), then the upload
//! fan-out of [`crate::transfer::push`].
use std::collections::BTreeMap;

use super::budget_state::BudgetState;
use crate::config::ferry::FerrySettings;
use crate::repo::Repo;
use crate::repo::out::Out;
use crate::transfer::Progress;
use crate::transfer::push::{PushReport, Records, Target, push as push_to};
use crate::transfer::remotes::{self, Handle};

/// Where a push goes, resolved from the command line.
#[derive(Debug, Clone, Default)]
pub struct PushTo {
    /// `-r NAME`: this remote only.
    pub remote: Option<String>,
    /// `--all-remotes`: every configured remote.
    pub all_remotes: bool,
    /// `-j N`: requests at once per remote.
    pub jobs: Option<usize>,
    /// `--verify`: check every file on the remotes, whatever an earlier push recorded.
    pub verify: bool,
}

/// What a push did, and how to show it.
#[derive(Debug)]
pub struct Pushed {
    /// One row per target remote.
    pub report: PushReport,
    /// Whether the user asked for several remotes (a table), rather than several remotes only
    /// coming from outputs' own `remote:` (DVC's one-line summary, summed).
    pub fan_out: bool,
    /// What the user should know besides the report: copies `redundancy.min_copies` asks for
    /// that this push does not make, objects only another remote can supply.
    pub warnings: Vec<String>,
    /// Each target's budget after the push (its HEADs and LISTs are metered), by name; a
    /// remote without a ledger is left out.
    pub budgets: BTreeMap<String, BudgetState>,
}

/// Pushes `outs` where `to` says: `-r`, else every remote with `--all-remotes`, else the push
/// remotes (`push.remotes`, default the default remote) plus outputs' own `remote:`.
pub fn push(
    repo: &Repo,
    settings: &FerrySettings,
    outs: &[Out],
    to: &PushTo,
    progress: &dyn Progress,
) -> anyhow::Result<Pushed> {
    let names: Vec<String> = if let Some(r) = &to.remote {
        vec![r.to_lowercase()]
    } else if to.all_remotes {
        repo.config.remote_names()
    } else {
        let mut names = settings.push_remotes(&repo.config);
        names.extend(outs.iter().filter_map(|o| o.remote.clone()));
        names
    };
    if names.is_empty() {
        remotes::default_name(&repo.config, None, &repo.root)?;
    }
    let handles: Vec<Handle> = remotes::open_all(&repo.config, settings, &names, to.jobs)?;
    let default_targets = settings.push_remotes(&repo.config);
    let targets: Vec<Target> = handles
        .iter()
        .map(|h| Target {
            handle: h,
            outs: outs
                .iter()
                .filter(|o| goes_to(o, &h.name, to, &default_targets))
                .collect(),
        })
        .filter(|t| !t.outs.is_empty() || to.all_remotes || to.remote.is_some())
        .collect();
    let record_dir = repo.tmp_dir().join("ferry").join("verified");
    let records = Records {
        dir: Some(&record_dir),
        trust: !to.verify,
    };
    let report = super::runtime()?.block_on(push_to(&repo.odb(), &targets, records, progress));
    let fan_out = targets.len() > 1 && (to.all_remotes || default_targets.len() > 1);
    let warnings = advice(repo, settings, to, &names, &report);
    let budgets = targets
        .iter()
        .filter_map(|t| Some((t.handle.name.clone(), BudgetState::of(t.handle)?)))
        .collect();
    Ok(Pushed {
        report,
        fan_out,
        warnings,
        budgets,
    })
}

/// Issue 15 item 6: a plain push that cannot make the copies `redundancy.min_copies` asks for
/// names the remotes it leaves out; `-r X` with objects the local cache lacks points to
/// `ferry sync --to X`, which copies them from another remote.
fn advice(
    repo: &Repo,
    settings: &FerrySettings,
    to: &PushTo,
    names: &[String],
    report: &PushReport,
) -> Vec<String> {
    let mut out = Vec::new();
    let others: Vec<String> = repo
        .config
        .remote_names()
        .into_iter()
        .filter(|n| !names.contains(n))
        .collect();
    let copies = settings.min_copies();
    let plain = to.remote.is_none() && !to.all_remotes && settings.push.remotes.is_none();
    if plain && copies as usize > names.len() && !others.is_empty() {
        out.push(format!(
            "redundancy.min_copies is {copies}, but a plain push sends to {} only; not pushed \
             to: {}. Run `ferry push --all-remotes` (or `ferry sync --to {}`), or set \
             push.remotes in .dvc/ferry.toml so every push fans out",
            quoted(names),
            quoted(&others),
            others.join(",")
        ));
    }
    if let Some(target) = &to.remote
        && !report.missing_local.is_empty()
        && !others.is_empty()
    {
        let n = report.missing_local.len();
        out.push(format!(
            "{n} object{} not in the local cache {} not pushed to '{target}'; if another remote \
             ({}) holds {}, copy {} remote to remote with `ferry sync --to {target}`",
            if n == 1 { " is" } else { "s are" },
            if n == 1 { "and was" } else { "and were" },
            quoted(&others),
            if n == 1 { "it" } else { "them" },
            if n == 1 { "it" } else { "them" },
        ));
    }
    out
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// DVC's rule: `-r X` pushes only outs without a `remote:` or with `remote: X`; a plain push
/// sends an out with `remote: X` to X and the others to the push remotes.
fn goes_to(out: &Out, remote: &str, to: &PushTo, defaults: &[String]) -> bool {
    match (&out.remote, &to.remote) {
        (Some(own), _) if !to.all_remotes => own == remote,
        (_, Some(_)) => true,
        _ => to.all_remotes || defaults.iter().any(|d| d == remote),
    }
}
