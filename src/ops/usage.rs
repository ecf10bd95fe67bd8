//! `ferry remote usage`: each remote's use today in the three meters B2 bills by, against its
//! daily limits, the cap in force, the team's share when the team ledger is on, and a reset
//! zone changed during the day. `--reset NAME` forgets a cap mark by hand.
use jiff::Timestamp;

use crate::budget::{Budget, Ledger, Team, Usage, Window, ledger_url, normalize_url};
use crate::config::ferry::{FerrySettings, ResetZone};
use crate::error::UserError;
use crate::repo::Repo;

/// The whole report, in config order.
#[derive(Debug)]
pub struct UsageReport {
    /// One row per configured remote.
    pub rows: Vec<UsageRow>,
    /// The instant the report was made at (the ledger's clock).
    pub now: Timestamp,
    /// The team ledger, when `[team] ledger` is set.
    pub team: Option<TeamInfo>,
}

/// The team ledger as the report shows it.
#[derive(Debug)]
pub struct TeamInfo {
    /// The shared remote the records are on.
    pub remote: String,
    /// This machine's member id.
    pub member: String,
}

/// One remote's use today.
#[derive(Debug)]
pub struct UsageRow {
    /// The remote's name.
    pub name: String,
    /// Its URL without credentials.
    pub url: String,
    /// Its daily limits.
    pub budget: Budget,
    /// The zone its day resets in (`budget_reset`).
    pub zone: ResetZone,
    /// What the ledger holds for today (this machine's use plus the team's, as last read).
    pub usage: Usage,
    /// Set when `budget_reset` changed during the current window (which keeps the reset it
    /// started with): the first window of the new zone, from that reset to the new zone's
    /// next midnight.
    pub next_window: Option<Window>,
    /// The team's records today (limited remotes, with the team ledger on).
    pub team: Option<TeamShare>,
}

/// The team's use of one remote today.
#[derive(Debug)]
pub struct TeamShare {
    /// Each member's published use `[bytes, Class B, Class C]`, this machine's first.
    pub members: Vec<(String, [u64; 3])>,
    /// Why the records could not be read (then `members` is empty).
    pub error: Option<String>,
}

/// Reads every configured remote's use (and, with the team ledger on, the team's records: one
/// LIST per limited remote, metered like any other).
pub fn usage(repo: &Repo, settings: &FerrySettings) -> anyhow::Result<UsageReport> {
    let ledger = Ledger::open_default()?;
    let team = Team::shared(&repo.config, settings, &ledger)
        .map_err(|e| UserError::config(e.to_string()).with_hint(team_hint()))?;
    let mut rows = Vec::new();
    for name in repo.config.remote_names() {
        let spec = repo.config.remote(&name)?;
        let remote = settings.remote(&name);
        let key = ledger_url(&spec);
        let tz = &remote.budget_reset.tz;
        let budget = Budget::from(&remote);
        let share = match &team {
            Some(team) if budget.is_limited() => Some(match team.refresh(&key, tz) {
                Ok(totals) => {
                    let mut members: Vec<_> = totals.members.into_iter().collect();
                    members.sort_by_key(|(m, _)| *m != team.member);
                    TeamShare {
                        members,
                        error: None,
                    }
                }
                Err(e) => TeamShare {
                    members: Vec::new(),
                    error: Some(e),
                },
            }),
            _ => None,
        };
        let usage = ledger.usage(&key, tz)?;
        let fresh = Window::at(ledger.now(), tz)?;
        let next_window = match fresh.end != usage.resets_at {
            true => Some(Window {
                start: usage.resets_at,
                end: Window::at(usage.resets_at, tz)?.end,
            }),
            false => None,
        };
        rows.push(UsageRow {
            name,
            url: normalize_url(&spec.url),
            budget,
            zone: remote.budget_reset,
            usage,
            next_window,
            team: share,
        });
    }
    Ok(UsageReport {
        rows,
        now: ledger.now(),
        team: team.map(|t| TeamInfo {
            remote: t.remote.clone(),
            member: t.member.clone(),
        }),
    })
}

/// `--reset NAME`: forgets the cap mark of remote `name` (the day's counts stay); returns
/// whether one was in force.
pub fn reset(repo: &Repo, settings: &FerrySettings, name: &str) -> anyhow::Result<bool> {
    let spec = repo.config.remote(name)?;
    let ledger = Ledger::open_default()?;
    let tz = settings.remote(name).budget_reset.tz;
    Ok(ledger.clear_cap(&ledger_url(&spec), &tz)?)
}

fn team_hint() -> String {
    "set `[team] ledger` in .dvc/ferry.toml to a configured remote that can list and write (S3, \
     B2), or remove the [team] section"
        .into()
}
