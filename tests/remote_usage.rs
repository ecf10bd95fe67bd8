//! `ferry remote usage [--json]` reports what the budget ledger holds, against the limits in
//! `.dvc/ferry.toml`, on the clock given by `FERRY_NOW`. The ledger is seeded through the
//! library (the same code `ferry pull` records with) in a private `FERRY_STATE_DIR`.
mod common;
use std::path::Path;
use std::process::Command;

use common::*;
use ferry::budget::{Clock, Ledger, ledger_url};
use ferry::config::Config;

/// 16:48 UTC on 27 Nov 2026: 11:48 in New York, 08:48 in Los Angeles.
const NOON: &str = "2026-11-27T16:48:00Z";

/// A repo with B2 (1 GB, 2,500 requests, UTC reset) and an unlimited HTTP remote whose URL
/// carries credentials and whose budget resets at midnight in Los Angeles.
fn repo() -> tempfile::TempDir {
    let dir = git_repo();
    let d = dir.path();
    ok(ferry(d).arg("init"));
    ok(ferry(d)
        .args(["remote", "add", "-d", "backblaze", "b2://bkt/data"])
        .args(["--region", "us-west-004"]));
    ok(ferry(d).args([
        "remote",
        "add",
        "dagshub",
        "https://alice:tok3n@dagshub.com/alice/p.dvc",
    ]));
    for (remote, key, value) in [
        ("backblaze", "daily_download_limit", "1GB"),
        ("backblaze", "daily_request_limit", "2500"),
        ("dagshub", "budget_reset", "America/Los_Angeles"),
    ] {
        ok(ferry(d).args(["remote", "modify", remote, key, value]));
    }
    dir
}

/// The ledger as the binary opens it with `FERRY_STATE_DIR=state`, at `now`.
fn ledger(state: &Path, now: &str) -> Ledger {
    Ledger::open(state.join("budget")).with_clock(Clock::Fixed(now.parse().unwrap()))
}

fn key(repo: &Path, remote: &str) -> String {
    ledger_url(
        &Config::load(&repo.join(".dvc"))
            .unwrap()
            .remote(remote)
            .unwrap(),
    )
}

fn usage(repo: &Path, state: &Path, now: &str, json: bool) -> std::process::Output {
    let mut cmd: Command = ferry(repo);
    cmd.args(["remote", "usage"])
        .env("FERRY_STATE_DIR", state)
        .env("FERRY_NOW", now)
        .env("TZ", "America/New_York")
        .env("DVC_GLOBAL_CONFIG_DIR", state)
        .env("DVC_SYSTEM_CONFIG_DIR", state);
    if json {
        cmd.arg("--json");
    }
    run(&mut cmd)
}

#[test]
fn usage_shows_use_limits_bars_resets_and_caps() {
    let dir = repo();
    let state = tempfile::tempdir().unwrap();
    let utc = jiff::tz::TimeZone::UTC;
    let la = jiff::tz::TimeZone::get("America/Los_Angeles").unwrap();
    let l = ledger(state.path(), NOON);
    l.record(&key(dir.path(), "backblaze"), &utc, 312_500_000, 120)
        .unwrap();
    l.record(&key(dir.path(), "backblaze"), &utc, 0, 5).unwrap();
    l.mark_capped(&key(dir.path(), "backblaze"), &utc).unwrap();
    l.record(&key(dir.path(), "dagshub"), &la, 42_000, 3)
        .unwrap();

    let out = usage(dir.path(), state.path(), NOON, false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\
backblaze (s3://bkt/data)
  downloaded  312.5 MB of 1.0 GB      [######--------------]  31%
  requests    125 of 2500             [#-------------------]   5%
  resets      2026-11-28 00:00 UTC (UTC), 2026-11-27 19:00 EST local, in 7h 12m
  CAPPED      the server reported its cap; skipped until 2026-11-28 00:00 UTC
dagshub (https://dagshub.com/alice/p.dvc)
  downloaded  42.0 kB (no limit)
  requests    3 (no limit)
  resets      2026-11-28 00:00 PST (America/Los_Angeles), 2026-11-28 03:00 EST local, in 15h 12m
"
    );
    assert!(!text(&out.stdout).contains("tok3n"));

    let out = usage(dir.path(), state.path(), NOON, true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], 1);
    let json = &report["remotes"];
    assert_eq!(
        *json,
        serde_json::json!([
            {
                "name": "backblaze", "url": "s3://bkt/data", "reset_zone": "UTC",
                "window_start": "2026-11-27T00:00:00Z", "resets_at": "2026-11-28T00:00:00Z",
                "bytes": 312_500_000, "bytes_limit": 1_000_000_000u64,
                "requests": 125, "requests_limit": 2500,
                "capped_until": "2026-11-28T00:00:00Z"
            },
            {
                "name": "dagshub", "url": "https://dagshub.com/alice/p.dvc",
                "reset_zone": "America/Los_Angeles",
                "window_start": "2026-11-27T08:00:00Z", "resets_at": "2026-11-28T08:00:00Z",
                "bytes": 42_000, "bytes_limit": null, "requests": 3, "requests_limit": null,
                "capped_until": null
            }
        ])
    );
}

#[test]
fn each_remote_resets_at_midnight_in_its_own_zone() {
    let dir = repo();
    let state = tempfile::tempdir().unwrap();
    let utc = jiff::tz::TimeZone::UTC;
    let la = jiff::tz::TimeZone::get("America/Los_Angeles").unwrap();
    let l = ledger(state.path(), NOON);
    l.record(&key(dir.path(), "backblaze"), &utc, 1_000, 1)
        .unwrap();
    l.mark_capped(&key(dir.path(), "backblaze"), &utc).unwrap();
    l.record(&key(dir.path(), "dagshub"), &la, 2_000, 2)
        .unwrap();

    // 01:00 UTC next day: B2 (UTC) has reset, Los Angeles is still at 17:00 of the same day.
    let out = usage(dir.path(), state.path(), "2026-11-28T01:00:00Z", true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], 1);
    let json = &report["remotes"];
    assert_eq!(json[0]["bytes"], 0);
    assert_eq!(json[0]["capped_until"], serde_json::Value::Null);
    assert_eq!(json[0]["resets_at"], "2026-11-29T00:00:00Z");
    assert_eq!(json[1]["bytes"], 2_000);
    assert_eq!(json[1]["resets_at"], "2026-11-28T08:00:00Z");

    let out = usage(dir.path(), state.path(), "2026-11-28T08:00:00Z", true);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], 1);
    let json = &report["remotes"];
    assert_eq!(
        (json[1]["bytes"].clone(), json[1]["requests"].clone()),
        (0.into(), 0.into())
    );
}

#[test]
fn a_damaged_ledger_warns_and_counts_from_zero() {
    let dir = repo();
    let state = tempfile::tempdir().unwrap();
    let utc = jiff::tz::TimeZone::UTC;
    ledger(state.path(), NOON)
        .record(&key(dir.path(), "backblaze"), &utc, 5, 1)
        .unwrap();
    let budget = state.path().join("budget");
    for entry in std::fs::read_dir(&budget).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::write(&path, "{ not json").unwrap();
        }
    }
    let out = usage(dir.path(), state.path(), NOON, true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], 1);
    let json = &report["remotes"];
    assert_eq!(json[0]["bytes"], 0);
    assert!(
        text(&out.stderr).contains("ignoring budget ledger"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_malformed_clock_is_a_config_error_and_outside_a_repo_is_253() {
    let dir = repo();
    let state = tempfile::tempdir().unwrap();
    let out = usage(dir.path(), state.path(), "tomorrow", false);
    assert_eq!(out.status.code(), Some(251));
    assert!(
        text(&out.stderr).contains("FERRY_NOW='tomorrow'"),
        "{}",
        text(&out.stderr)
    );

    let outside = tempfile::tempdir().unwrap();
    let out = usage(outside.path(), state.path(), NOON, false);
    assert_eq!(out.status.code(), Some(253), "{}", text(&out.stderr));
}
