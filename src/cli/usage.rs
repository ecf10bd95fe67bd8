//! `ferry remote usage`: each remote's downloads today against its daily limits, and when the
//! window resets — what the team used to read off the B2 dashboard before switching by hand.
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use super::Ctx;
use crate::budget::{Budget, Ledger, Usage, ledger_url, normalize_url};
use crate::config::ferry::{FerrySettings, ResetZone};
use crate::error::Exit;
use crate::repo::Repo;
use crate::ui::time::{at, until};

/// Show each remote's use of its daily download budget and when it resets.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as JSON (exact bytes, RFC 3339 instants).
    #[arg(long)]
    json: bool,
}

/// One configured remote with its limits and its use in the current window.
struct Row {
    name: String,
    /// The configured URL without credentials, as the user knows the remote.
    url: String,
    budget: Budget,
    zone: ResetZone,
    usage: Usage,
}

/// Prints every configured remote's use, in config order.
pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let settings = FerrySettings::load(&repo.dvc_dir)?;
    let ledger = Ledger::open_default()?;
    let mut rows = Vec::new();
    for name in repo.config.remote_names() {
        let spec = repo.config.remote(&name)?;
        let remote = settings.remote(&name);
        let usage = ledger.usage(&ledger_url(&spec), &remote.budget_reset.tz)?;
        rows.push(Row {
            name,
            url: normalize_url(&spec.url),
            budget: Budget {
                limit_bytes: remote.daily_download_limit.map(|size| size.0),
                limit_requests: remote.daily_request_limit,
            },
            zone: remote.budget_reset,
            usage,
        });
    }
    if args.json {
        ctx.out.line(&crate::ui::json::report(
            &json!({ "remotes": to_json(&rows) }),
        )?);
    } else if rows.is_empty() {
        ctx.out
            .warn("no remotes configured; add one with `ferry remote add NAME URL`");
    } else {
        ctx.out
            .raw(&to_text(&rows, ledger.now(), &TimeZone::system()));
    }
    Ok(Exit::Ok)
}

/// The report as `--json` prints it: one object per remote, in config order.
fn to_json(rows: &[Row]) -> serde_json::Value {
    let rows: Vec<_> = rows
        .iter()
        .map(|row| {
            let usage = &row.usage;
            json!({
                "name": row.name,
                "url": row.url,
                "reset_zone": row.zone.name,
                "window_start": usage.window_start.to_string(),
                "resets_at": usage.resets_at.to_string(),
                "bytes": usage.bytes,
                "bytes_limit": row.budget.limit_bytes,
                "requests": usage.requests,
                "requests_limit": row.budget.limit_requests,
                "capped_until": usage.capped_until.map(|t| t.to_string()),
            })
        })
        .collect();
    serde_json::Value::Array(rows)
}

/// The report for people: a block per remote with a bar per limit.
fn to_text(rows: &[Row], now: Timestamp, local: &TimeZone) -> String {
    let mut out = String::new();
    for row in rows {
        let usage = &row.usage;
        out += &format!("{} ({})\n", row.name, row.url);
        out += &meter_line(
            "downloaded",
            usage.bytes,
            row.budget.limit_bytes,
            format_bytes,
        );
        out += &meter_line("requests", usage.requests, row.budget.limit_requests, |n| {
            n.to_string()
        });
        out += &format!(
            "  resets      {} ({}), {} local, in {}\n",
            at(usage.resets_at, &row.zone.tz),
            row.zone.name,
            at(usage.resets_at, local),
            until(now, usage.resets_at),
        );
        if let Some(capped) = usage.capped_until {
            out += &format!(
                "  CAPPED      the server reported its cap; skipped until {}\n",
                at(capped, &row.zone.tz)
            );
        }
    }
    out
}

/// `  downloaded  312.5 MB of 1.0 GB  [######--------------]  31%`, or `(no limit)`.
fn meter_line(label: &str, used: u64, limit: Option<u64>, show: fn(u64) -> String) -> String {
    match limit {
        Some(limit) => {
            let amount = format!("{} of {}", show(used), show(limit));
            format!("  {label:<10}  {amount:<22}  {}\n", bar(used, limit))
        }
        None => format!("  {label:<10}  {} (no limit)\n", show(used)),
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
