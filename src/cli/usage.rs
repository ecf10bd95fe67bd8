//! `ferry remote usage`: each remote's use today in B2's three meters (downloaded bytes,
//! Class B GET/HEAD, Class C LIST) against its daily limits, the team's share when the team
//! ledger is on, and when the window resets; what the team used to read off the B2 dashboard.
//! `--reset NAME` forgets a cap mark by hand.
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use super::Ctx;
use crate::error::Exit;
use crate::ops::usage::{UsageReport, UsageRow};
use crate::repo::Repo;
use crate::ui::time::{at, until};

/// Show each remote's use of its daily budgets and when they reset.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as JSON (exact bytes, RFC 3339 instants).
    #[arg(long)]
    json: bool,
    /// Forget the cap mark of remote NAME (after the cap was lifted); today's counts stay.
    #[arg(long, value_name = "NAME")]
    reset: Option<String>,
}

/// Prints every configured remote's use, in config order (or clears a cap mark).
pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let settings = super::transfer::settings(&repo)?;
    if let Some(name) = &args.reset {
        let name = name.to_lowercase();
        let text = if crate::ops::usage::reset(&repo, &settings, &name)? {
            format!("Cleared the cap mark of '{name}': the next pull tries it again.")
        } else {
            format!("'{name}' is not marked capped; nothing to clear.")
        };
        ctx.out.line(&text);
        return Ok(Exit::Ok);
    }
    let report = crate::ops::usage::usage(&repo, &settings)?;
    if args.json {
        ctx.out.line(&crate::ui::json::report(&to_json(&report))?);
    } else if report.rows.is_empty() {
        ctx.out
            .warn("no remotes configured; add one with `ferry remote add NAME URL`");
    } else {
        ctx.out.raw(&to_text(&report, &TimeZone::system()));
    }
    Ok(Exit::Ok)
}

/// The report as `--json` prints it: one object per remote, in config order.
fn to_json(report: &UsageReport) -> serde_json::Value {
    let rows: Vec<_> = report
        .rows
        .iter()
        .map(|row| {
            let usage = &row.usage;
            let mut value = json!({
                "name": row.name,
                "url": row.url,
                "reset_zone": row.zone.name,
                "window_start": usage.window_start.to_string(),
                "resets_at": usage.resets_at.to_string(),
                "bytes": usage.bytes,
                "bytes_limit": row.budget.limit_bytes,
                "requests": usage.requests,
                "requests_limit": row.budget.limit_requests,
                "lists": usage.lists,
                "lists_limit": row.budget.limit_lists,
                "capped_until": usage.capped_until.map(|t| t.to_string()),
            });
            if let Some(next) = row.next_window {
                value["next_window"] = json!({
                    "from": next.start.to_string(),
                    "resets_at": next.end.to_string(),
                });
            }
            if let Some(team) = &row.team {
                let members: Vec<_> = team
                    .members
                    .iter()
                    .map(|(id, [b, r, l])| {
                        json!({"member": id, "bytes": b, "requests": r, "lists": l})
                    })
                    .collect();
                value["team"] = json!({
                    "others": {
                        "bytes": usage.others[0],
                        "requests": usage.others[1],
                        "lists": usage.others[2],
                    },
                    "members": members,
                    "error": team.error,
                });
            }
            value
        })
        .collect();
    let mut out = serde_json::Map::new();
    if let Some(team) = &report.team {
        out.insert(
            "team".into(),
            json!({"remote": team.remote, "member": team.member}),
        );
    }
    out.insert("remotes".into(), serde_json::Value::Array(rows));
    serde_json::Value::Object(out)
}

/// The report for people: a block per remote with a bar per limit.
fn to_text(report: &UsageReport, local: &TimeZone) -> String {
    let mut out = String::new();
    if let Some(team) = &report.team {
        out += &format!(
            "team ledger on '{}'; this machine is member {}\n",
            team.remote, team.member
        );
    }
    let me = report.team.as_ref().map_or("", |t| t.member.as_str());
    for row in &report.rows {
        out += &block(row, report.now, local, me);
    }
    out
}

fn block(row: &UsageRow, now: Timestamp, local: &TimeZone, me: &str) -> String {
    let usage = &row.usage;
    let capped = usage.capped_until.is_some();
    let mut out = format!("{} ({})\n", row.name, row.url);
    out += &meter_line(
        "downloaded",
        usage.bytes,
        row.budget.limit_bytes,
        format_bytes,
        capped,
    );
    out += &meter_line(
        "requests",
        usage.requests,
        row.budget.limit_requests,
        |n| n.to_string(),
        capped,
    );
    out += &meter_line(
        "lists",
        usage.lists,
        row.budget.limit_lists,
        |n| n.to_string(),
        false,
    );
    if let Some(team) = &row.team {
        out += &team_lines(team, usage.others, me);
    }
    out += &format!(
        "  resets      {} ({}), {} local, in {}\n",
        at(usage.resets_at, &row.zone.tz),
        row.zone.name,
        at(usage.resets_at, local),
        until(now, usage.resets_at),
    );
    if let Some(next) = row.next_window {
        out += &format!(
            "  zone        budget_reset changed today: this window keeps its reset; {} \
             applies from then on (the next reset after it: {})\n",
            row.zone.name,
            at(next.end, &row.zone.tz),
        );
    }
    if let Some(capped) = usage.capped_until {
        out += &format!(
            "  CAPPED      the server reported its cap; skipped until {} (`ferry pull -r {}` \
             tries it once; `ferry remote usage --reset {}` forgets the mark)\n",
            at(capped, &row.zone.tz),
            row.name,
            row.name
        );
    }
    out
}

/// `  team        3.2 kB, 4 requests, 4 lists published by 3 members` and a line per member
/// (this machine's marked), or why the records could not be read.
fn team_lines(team: &crate::ops::usage::TeamShare, others: [u64; 3], me: &str) -> String {
    if let Some(e) = &team.error {
        return format!(
            "  team        cannot read the team ledger ({e}); counting the others' use as last \
             read today: {}\n",
            figures(others)
        );
    }
    let total = team.members.iter().fold([0u64; 3], |mut a, (_, c)| {
        for (x, y) in a.iter_mut().zip(c) {
            *x = x.saturating_add(*y);
        }
        a
    });
    let mut out = format!(
        "  team        {} published by {} member{}\n",
        figures(total),
        team.members.len(),
        if team.members.len() == 1 { "" } else { "s" }
    );
    for (member, cost) in &team.members {
        let this = if member == me { " (this machine)" } else { "" };
        out += &format!("    {member}{this}  {}\n", figures(*cost));
    }
    out
}

fn figures([b, r, l]: [u64; 3]) -> String {
    format!("{}, {r} requests, {l} lists", format_bytes(b))
}

/// `  downloaded  312.5 MB of 1.0 GB  [######--------------]  31%`, `(no limit)`, or CAPPED
/// in place of the bar once the server reported its cap (a bar would show room there is not).
fn meter_line(
    label: &str,
    used: u64,
    limit: Option<u64>,
    show: fn(u64) -> String,
    capped: bool,
) -> String {
    match (limit, capped) {
        (Some(limit), false) => {
            let amount = format!("{} of {}", show(used), show(limit));
            format!("  {label:<10}  {amount:<22}  {}\n", bar(used, limit))
        }
        (Some(limit), true) => {
            let amount = format!("{} of {}", show(used), show(limit));
            format!("  {label:<10}  {amount:<22}  CAPPED\n")
        }
        (None, true) => format!("  {label:<10}  {} (no limit) CAPPED\n", show(used)),
        (None, false) => format!("  {label:<10}  {} (no limit)\n", show(used)),
    }
}

const BAR_WIDTH: u64 = 20;

/// `[#####---------------]  25%`; full (and over 100%) when the use passed the limit.
fn bar(used: u64, limit: u64) -> String {
    let percent = if limit == 0 {
        100
    } else {
        (u128::from(used) * 100 / u128::from(limit)) as u64
    };
    let filled = (percent * BAR_WIDTH / 100).min(BAR_WIDTH) as usize;
    format!(
        "[{}{}] {percent:>3}%",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH as usize - filled)
    )
}

/// Decimal units, as providers bill (B2's "1 GB" is 10^9 bytes).
fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_fills_with_use_and_stays_full_past_the_limit() {
        assert_eq!(bar(0, 1000), "[--------------------]   0%");
        assert_eq!(bar(250, 1000), "[#####---------------]  25%");
        assert_eq!(bar(1500, 1000), "[####################] 150%");
        assert_eq!(bar(0, 0), "[####################] 100%");
    }

    #[test]
    fn bytes_use_decimal_units() {
        assert_eq!(format_bytes(999), "999 B");
        assert_eq!(format_bytes(312_500_000), "312.5 MB");
        assert_eq!(format_bytes(1_000_000_000), "1.0 GB");
    }
}
