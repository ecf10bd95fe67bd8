//! `ferry status`: what differs between the workspace, the cache and the records.
use super::Ctx;
use crate::error::Exit;
use crate::repo::{Repo, index};

/// Show changed, deleted and uncached outputs.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry status\n  ferry status data.dvc --json\n  ferry status -q && echo clean\n  ferry status --remotes       # copies per remote, under-replicated objects"
)]
pub struct Args {
    /// Limit to these .dvc files, outputs or stages.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Compare the cache with a remote instead of the workspace.
    #[arg(short, long)]
    cloud: bool,
    /// Per configured remote: what it holds and lacks of the workspace's data, and the objects
    /// on fewer remotes than redundancy.min_copies.
    #[arg(long, conflicts_with_all = ["cloud", "remote"])]
    remotes: bool,
    /// The remote to compare with (implies --cloud).
    #[arg(short, long, value_name = "NAME")]
    remote: Option<String>,
    /// Concurrent existence checks.
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Targets that are directories stand for every .dvc file and dvc.yaml under them.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Also show the stages the targets depend on.
    #[arg(short = 'd', long)]
    with_deps: bool,
}

pub fn run(ctx: &Ctx, mut args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    if args.recursive {
        args.targets = crate::repo::targets::recursive(&repo, &ctx.cwd, &args.targets);
    }
    if args.with_deps {
        args.targets = crate::repo::targets::with_deps(&repo, &ctx.cwd, &args.targets)?;
    }
    if args.remotes || args.cloud || args.remote.is_some() {
        let outs = index::collect(&repo, &ctx.cwd, &args.targets)?;
        if args.remotes {
            return super::redundancy::status_remotes(ctx, &repo, &outs, args.json, args.jobs);
        }
        return cloud(ctx, &repo, &outs, &args);
    }
    let report = crate::ops::status::local(&repo, &ctx.cwd, &args.targets)?
        .relative_to(&repo.root, &ctx.cwd);
    for stage in &report.frozen {
        ctx.out.warn(&format!(
            "stage: '{stage}' is frozen. Its dependencies are not going to be shown in the status output."
        ));
    }
    let changed = report.stages;
    if args.json {
        ctx.out
            .line(&crate::ui::json::dumps(&serde_json::Value::Object(
                changed.clone(),
            )));
    } else if !report.tracked && args.targets.is_empty() {
        ctx.out.line("There are no data or pipelines tracked in this project yet.\nSee <https://dvc.org/doc/start> to get started!");
    } else if changed.is_empty() {
        ctx.out.line("Data and pipelines are up to date.");
    } else {
        let mut text = String::new();
        show(&mut text, &serde_json::Value::Object(changed.clone()), 0);
        ctx.out.raw(&text);
    }
    Ok(if ctx.out.is_quiet() && !changed.is_empty() {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// dvc's `CmdDataStatus._show`: strings as lines, `status:` padded to 20 before a path,
/// nested mappings one tab deeper.
fn show(text: &mut String, status: &serde_json::Value, indent: usize) {
    let ind = "\t".repeat(indent);
    match status {
        serde_json::Value::String(s) => text.push_str(&format!("{ind}{s}\n")),
        serde_json::Value::Array(items) => items.iter().for_each(|e| show(text, e, indent)),
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match value {
                    serde_json::Value::String(s) => {
                        text.push_str(&format!("{ind}{:<20}{key}\n", format!("{s}:")))
                    }
                    v if v.as_object().is_some_and(|m| m.is_empty())
                        || v.as_array().is_some_and(|a| a.is_empty()) => {}
                    v => {
                        text.push_str(&format!("{ind}{key}:\n"));
                        show(text, v, indent + 1);
                    }
                }
            }
        }
        _ => {}
    }
}

/// `status -c` / `status -r NAME`: objects not on both the cache and the remote.
fn cloud(
    ctx: &Ctx,
    repo: &Repo,
    outs: &[crate::repo::out::Out],
    args: &Args,
) -> anyhow::Result<Exit> {
    let settings = super::transfer::settings(repo)?.naming(args.remote.as_deref());
    let busy = ctx.busy("comparing with the remote");
    let status =
        crate::ops::status::cloud(repo, &settings, outs, args.remote.as_deref(), args.jobs);
    drop(busy);
    let status = status?;
    let (name, diff) = (status.remote, status.diff);
    if args.json {
        let obj: serde_json::Map<String, serde_json::Value> = diff
            .iter()
            .map(|(p, s)| (p.clone(), s.as_str().into()))
            .collect();
        ctx.out
            .line(&crate::ui::json::dumps(&serde_json::Value::Object(obj)));
    } else if outs.is_empty() {
        ctx.out.line("There are no data or pipelines tracked in this project yet.\nSee <https://dvc.org/doc/start> to get started!");
    } else if diff.is_empty() {
        ctx.out
            .line(&format!("Cache and remote '{name}' are in sync."));
    } else {
        let indent = if args.cloud { "\t" } else { "" };
        let mut text = String::new();
        for (path, state) in &diff {
            text.push_str(&format!(
                "{indent}{:<20}{path}\n",
                format!("{}:", state.as_str())
            ));
        }
        ctx.out.raw(&text);
    }
    Ok(if ctx.out.is_quiet() && !diff.is_empty() {
        Exit::Failed
    } else {
        Exit::Ok
    })
}
