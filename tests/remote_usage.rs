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
  downloaded  312.5 MB of 1.0 GB      CAPPED
  requests    125 of 2500             CAPPED
  lists       0 of 2500               [--------------------]   0%
  resets      2026-11-28 00:00 UTC (UTC), 2026-11-27 19:00 EST local, in 7h 12m
  CAPPED      the server reported its cap; skipped until 2026-11-28 00:00 UTC (`ferry pull -r backblaze` tries it once; `ferry remote usage --reset backblaze` forgets the mark)
dagshub (https://dagshub.com/alice/p.dvc)
  downloaded  42.0 kB (no limit)
  requests    3 (no limit)
  lists       0 (no limit)
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
                "lists": 0, "lists_limit": 2500,
                "capped_until": "2026-11-28T00:00:00Z"
            },
            {
                "name": "dagshub", "url": "https://dagshub.com/alice/p.dvc",
                "reset_zone": "America/Los_Angeles",
                "window_start": "2026-11-27T08:00:00Z", "resets_at": "2026-11-28T08:00:00Z",
                "bytes": 42_000, "bytes_limit": null, "requests": 3, "requests_limit": null,
                "lists": 0, "lists_limit": null, "capped_until": null
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

// ---------------------------------------------------------------------------------------------
// The three meters against the server's counts
// ---------------------------------------------------------------------------------------------

mod budget_fixture;
use budget_fixture::Project;
use common::fixture::{S3Prefix, Seen, classes, out_text, served};

/// What the ledger holds for `remote`, as `remote usage --json` shows it: (bytes, Class B,
/// Class C).
fn meters(p: &Project, dir: &Path, state: &Path, remote: &str) -> (u64, Seen) {
    let row = &p.usage(dir, state)[remote];
    (
        row["bytes"].as_u64().unwrap(),
        Seen {
            class_b: row["requests"].as_u64().unwrap(),
            class_c: row["lists"].as_u64().unwrap(),
        },
    )
}

/// Every request of push, pull, `status -c` and `status --remotes` is in the ledger, in B2's
/// three meters, exactly as the proxy in front of SeaweedFS counted them (1,200 objects, so
/// listings take two pages).
#[test]
fn the_three_meters_match_the_servers_counts() {
    let mut p = Project::new(&[("data", 1_200, 64), ("small", 3, 1_000)]);
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let proxy = HttpServer::s3_proxy(&common::s3_endpoint());
    let s3 = S3Prefix::new("meters");
    p.add_s3(st, "backblaze", &s3, proxy.url("").trim_end_matches('/'));
    p.ok(p.src(), st, &["remote", "default", "backblaze"]);
    p.ok(
        p.src(),
        st,
        &["remote", "modify", "backblaze", "daily_list_limit", "2500"],
    );
    p.commit();
    let clone = p.clone_repo();
    p.credentials(&clone, st, "backblaze");
    let other = p.clone_repo();
    p.credentials(&other, st, "backblaze");
    let third = p.clone_repo();
    p.credentials(&third, st, "backblaze");

    let check = |dir: &Path, what: &str| {
        let seen = classes(&proxy.log());
        let (bytes, ledger) = meters(&p, dir, st, "backblaze");
        assert_eq!(ledger, seen, "after {what}: ledger vs server");
        assert_eq!(bytes, served(&proxy), "after {what}: bytes");
        seen
    };
    let out = p.run(p.src(), st, &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let after_push = check(p.src(), "push");
    eprintln!("push: {after_push:?}");
    assert!(after_push.class_c >= 1, "{after_push:?}");

    let out = p.run(&clone, st, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let after_pull = check(&clone, "pull");
    eprintln!(
        "pull: +{} Class B, +{} Class C, {} bytes",
        after_pull.class_b - after_push.class_b,
        after_pull.class_c - after_push.class_c,
        served(&proxy)
    );
    assert!(after_pull.class_b > after_push.class_b, "{after_pull:?}");
    assert!(served(&proxy) >= 1_200 * 64 + 3_000);

    for args in [&["status", "-c"][..], &["status", "--remotes"]] {
        let before = classes(&proxy.log());
        let out = p.run(&clone, st, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", out_text(&out));
        let after = check(&clone, &format!("{args:?}"));
        eprintln!(
            "{args:?}: +{} Class B, +{} Class C",
            after.class_b - before.class_b,
            after.class_c - before.class_c
        );
        assert!(
            after.class_c > before.class_c || after.class_b > before.class_b,
            "{args:?} sent nothing?"
        );
    }
    // fetch into a second clone, sync from backblaze to a local remote in a third (no cache:
    // every object comes from backblaze), doctor's probes.
    let disk = tempfile::tempdir().unwrap();
    let disk_path = disk.path().display().to_string();
    for (dir, args) in [
        (&other, vec!["fetch"]),
        (&third, vec!["remote", "add", "disk", disk_path.as_str()]),
        (&third, vec!["sync", "--to", "disk", "--from", "backblaze"]),
        (&other, vec!["doctor", "-r", "backblaze"]),
    ] {
        let before = classes(&proxy.log());
        let out = p.run(dir, st, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", out_text(&out));
        let after = check(dir, &format!("{args:?}"));
        eprintln!(
            "{args:?}: +{} Class B, +{} Class C",
            after.class_b - before.class_b,
            after.class_c - before.class_c
        );
    }
    let usage = &p.usage(&clone, st)["backblaze"];
    assert_eq!(usage["lists_limit"], 2500);
}

// ---------------------------------------------------------------------------------------------
// Honest cap state
// ---------------------------------------------------------------------------------------------

/// A repository whose `data/` is on an HTTP test server (default remote `dagshub`, one
/// request at a time), and a fresh clone of it.
fn on_http(state: &Path) -> (Project, HttpServer, tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let http = HttpServer::start(root.path(), "", "");
    let mut p = Project::new(&[("data", 4, 500)]);
    let url = http.url("store");
    p.ok(p.src(), state, &["remote", "add", "-d", "dagshub", &url]);
    p.ok(
        p.src(),
        state,
        &["remote", "modify", "dagshub", "jobs", "1"],
    );
    p.ok(
        p.src(),
        state,
        &["remote", "modify", "dagshub", "daily_download_limit", "1MB"],
    );
    p.ok(p.src(), state, &["push"]);
    p.commit();
    let clone = p.clone_repo();
    (p, http, root, clone)
}

fn capped_until(p: &Project, dir: &Path, state: &Path) -> serde_json::Value {
    p.usage(dir, state)["dagshub"]["capped_until"].clone()
}

/// The ledger's cap mark is not the last word: `-r NAME` sends one request (and only one)
/// to a remote marked capped; a cap answer keeps the mark, a served read clears it; plain
/// commands trust the mark and send nothing.
#[test]
fn a_named_remote_is_tried_once_despite_the_mark_and_a_served_read_clears_it() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let (p, http, _root, clone) = on_http(st);

    http.control(r#"{"cap": true, "clear_log": true}"#);
    let out = p.run(&clone, st, &["pull"]);
    assert_ne!(out.status.code(), Some(0), "{}", out_text(&out));
    assert_eq!(http.log().len(), 1, "jobs 1: nothing after the cap answer");
    assert_eq!(capped_until(&p, &clone, st), "2026-11-28T00:00:00Z");

    // Marked: a plain pull sends nothing.
    http.control(r#"{"clear_log": true}"#);
    let out = p.run(&clone, st, &["pull"]);
    assert_ne!(out.status.code(), Some(0), "{}", out_text(&out));
    assert!(http.log().is_empty(), "{:?}", http.log());

    // Named, still capped at the server: exactly one request, and the mark stays.
    let out = p.run(&clone, st, &["pull", "-r", "dagshub", "-j", "4"]);
    assert_ne!(out.status.code(), Some(0), "{}", out_text(&out));
    let log = http.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].status, 403);
    assert_eq!(capped_until(&p, &clone, st), "2026-11-28T00:00:00Z");

    // The cap is lifted: plain pulls still trust the mark, a named one tries and clears it.
    http.control(r#"{"reset": true, "clear_log": true}"#);
    let out = p.run(&clone, st, &["pull"]);
    assert_ne!(out.status.code(), Some(0), "{}", out_text(&out));
    assert!(http.log().is_empty(), "{:?}", http.log());
    let out = p.run(&clone, st, &["pull", "-r", "dagshub", "-j", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    for f in 0..4 {
        assert_eq!(
            std::fs::read(clone.join(format!("data/f{f:03}"))).unwrap(),
            budget_fixture::blob(f, 500)
        );
    }
    assert_eq!(capped_until(&p, &clone, st), serde_json::Value::Null);
    assert_eq!(http.log().len(), 5, "the manifest and 4 files");
}

/// `remote usage` shows CAPPED (not an empty bar) and how to get out; `--reset NAME` forgets
/// the mark by hand; doctor, whose probe the server answers, clears a stale mark and says so
/// instead of showing "can read" next to "capped".
#[test]
fn usage_reset_and_doctor_clear_a_stale_cap_mark() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let (p, http, _root, clone) = on_http(st);
    http.control(r#"{"cap": true}"#);
    let _ = p.run(&clone, st, &["pull"]);
    let text_out = p.ok(&clone, st, &["remote", "usage"]);
    let lines: Vec<&str> = text_out.lines().collect();
    assert!(
        lines[1].starts_with("  downloaded  ") && lines[1].ends_with("  CAPPED"),
        "{text_out}"
    );
    assert!(
        !text_out.contains('%'),
        "no bar for a capped remote: {text_out}"
    );
    assert!(
        text_out.contains("`ferry remote usage --reset dagshub` forgets the mark"),
        "{text_out}"
    );

    assert_eq!(
        p.ok(&clone, st, &["remote", "usage", "--reset", "dagshub"]),
        "Cleared the cap mark of 'dagshub': the next pull tries it again.\n"
    );
    assert_eq!(capped_until(&p, &clone, st), serde_json::Value::Null);
    assert_eq!(
        p.ok(&clone, st, &["remote", "usage", "--reset", "dagshub"]),
        "'dagshub' is not marked capped; nothing to clear.\n"
    );

    // Marked again while the server is capped; doctor agrees with it.
    let _ = p.run(&clone, st, &["pull"]);
    let out = p.run(&clone, st, &["doctor", "-r", "dagshub"]);
    let doc = text(&out.stdout);
    assert!(doc.contains("capped until"), "{doc}");
    assert!(!doc.contains("can read"), "{doc}");
    // The cap is lifted: doctor's probe is answered, so the mark goes, and it says why.
    http.control(r#"{"reset": true}"#);
    let out = p.run(&clone, st, &["doctor", "-r", "dagshub"]);
    let doc = text(&out.stdout);
    assert!(doc.contains("can read"), "{doc}");
    assert!(!doc.contains("capped until"), "{doc}");
    assert!(
        doc.contains("the cap marked earlier today is cleared: the server answered this probe"),
        "{doc}"
    );
    assert_eq!(capped_until(&p, &clone, st), serde_json::Value::Null);
    let out = p.run(&clone, st, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
}

/// `budget_reset` changed in the middle of a day: the window in force keeps its reset (the
/// counts of the day are not lost or split), `remote usage` says so, and the new zone applies
/// from that reset on.
#[test]
fn a_reset_zone_change_applies_from_the_next_reset_and_usage_says_so() {
    let dir = repo();
    let state = tempfile::tempdir().unwrap();
    let utc = jiff::tz::TimeZone::UTC;
    ledger(state.path(), NOON)
        .record(&key(dir.path(), "backblaze"), &utc, 1_000, 2)
        .unwrap();
    ok(ferry(dir.path()).args([
        "remote",
        "modify",
        "backblaze",
        "budget_reset",
        "America/Los_Angeles",
    ]));
    let out = usage(dir.path(), state.path(), NOON, false);
    let shown = text(&out.stdout);
    let block: Vec<&str> = shown.lines().take(6).collect();
    assert_eq!(
        block[4..],
        [
            "  resets      2026-11-27 16:00 PST (America/Los_Angeles), 2026-11-27 19:00 EST local, in 7h 12m",
            "  zone        budget_reset changed today: this window keeps its reset; America/Los_Angeles applies from then on (the next reset after it: 2026-11-28 00:00 PST)",
        ],
        "{shown}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&usage(dir.path(), state.path(), NOON, true).stdout).unwrap();
    let json = &report["remotes"];
    assert_eq!(json[0]["bytes"], 1_000);
    assert_eq!(
        json[0]["next_window"],
        serde_json::json!({"from": "2026-11-28T00:00:00Z", "resets_at": "2026-11-28T08:00:00Z"})
    );
    assert!(json[1].get("next_window").is_none());

    // After the old reset: counts start again, the new zone's midnight is the next reset.
    let after = "2026-11-28T00:00:01Z";
    let report: serde_json::Value =
        serde_json::from_slice(&usage(dir.path(), state.path(), after, true).stdout).unwrap();
    let json = &report["remotes"];
    assert_eq!(
        (json[0]["bytes"].clone(), json[0]["requests"].clone()),
        (0.into(), 0.into())
    );
    assert_eq!(json[0]["resets_at"], "2026-11-28T08:00:00Z");
    assert!(json[0].get("next_window").is_none());
    assert!(!text(&usage(dir.path(), state.path(), after, false).stdout).contains("  zone  "));
}

// ---------------------------------------------------------------------------------------------
// Presets
// ---------------------------------------------------------------------------------------------

/// `b2://` writes B2's free tier as the remote's daily limits (a limit already set is kept);
/// `--no-free-tier` writes none.
#[test]
fn the_b2_preset_sets_the_free_tier_unless_told_not_to() {
    let dir = git_repo();
    let d = dir.path();
    ok(ferry(d).arg("init"));
    let said = ok(ferry(d).args([
        "remote",
        "add",
        "backblaze",
        "b2://bkt/data",
        "--region",
        "us-west-004",
    ]));
    assert!(
        said.contains("B2's free tier is the daily budget in .dvc/ferry.toml (daily_download_limit = 1GB, daily_request_limit = 2500, daily_list_limit = 2500)"),
        "{said}"
    );
    assert_eq!(
        read(d, ".dvc/ferry.toml"),
        "[remote.backblaze]\ndaily_download_limit = \"1GB\"\ndaily_request_limit = 2500\ndaily_list_limit = 2500\n"
    );
    ok(ferry(d).args([
        "remote",
        "modify",
        "backblaze",
        "daily_download_limit",
        "5GB",
    ]));
    ok(ferry(d).args([
        "remote",
        "add",
        "-f",
        "backblaze",
        "b2://bkt/data",
        "--region",
        "us-west-004",
    ]));
    assert!(read(d, ".dvc/ferry.toml").contains("daily_download_limit = \"5GB\""));

    ok(ferry(d).args([
        "remote",
        "add",
        "paid",
        "b2://bkt/other",
        "--region",
        "us-west-004",
        "--no-free-tier",
    ]));
    assert!(!read(d, ".dvc/ferry.toml").contains("paid"));
    let out = run(ferry(d).args(["remote", "add", "x", "s3://b/p", "--no-free-tier"]));
    assert_eq!(out.status.code(), Some(254), "{}", text(&out.stderr));
}

/// `dagshub://USER/REPO --s3` writes DagsHub's documented S3 form, byte for byte, and the
/// pinned dvc reads it; the HTTP form stays the default.
#[test]
fn the_dagshub_preset_writes_the_s3_form_that_dvc_reads() {
    let dir = git_repo();
    let d = dir.path();
    ok(dvc(d).args(["init", "-q"]));
    let said = ok(ferry(d)
        .args([
            "remote",
            "add",
            "-d",
            "dh",
            "dagshub://alice/proj",
            "--s3",
            "--token-env",
            "FERRY_TEST_DH_TOKEN",
        ])
        .env("FERRY_TEST_DH_TOKEN", "t0ken-value"));
    assert!(!said.contains("t0ken-value"), "{said}");
    assert_eq!(
        read(d, ".dvc/config"),
        "[core]\n    remote = dh\n['remote \"dh\"']\n    url = s3://dvc\n    endpointurl = https://dagshub.com/alice/proj.s3\n"
    );
    assert_eq!(
        read(d, ".dvc/config.local"),
        "['remote \"dh\"']\n    access_key_id = t0ken-value\n    secret_access_key = t0ken-value\n"
    );
    let remotes = ok(dvc(d).args(["remote", "list"]));
    assert_eq!(
        remotes.split_whitespace().collect::<Vec<_>>(),
        ["dh", "s3://dvc", "(default)"],
        "{remotes}"
    );
    let listed = ok(dvc(d).args(["config", "-l"]));
    for line in [
        "core.remote=dh",
        "remote.dh.url=s3://dvc",
        "remote.dh.endpointurl=https://dagshub.com/alice/proj.s3",
        "remote.dh.access_key_id=t0ken-value",
        "remote.dh.secret_access_key=t0ken-value",
    ] {
        assert!(listed.lines().any(|l| l == line), "no {line} in:\n{listed}");
    }
    ok(ferry(d).args(["remote", "add", "web", "dagshub://alice/proj"]));
    assert!(read(d, ".dvc/config").contains("url = https://dagshub.com/alice/proj.dvc"));
}
