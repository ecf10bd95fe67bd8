//! Whole-output snapshots (insta) of the per-remote tables and reports: `push --all-remotes`,
//! `status --remotes`, `sync --dry-run` and `sync`, `fetch --dry-run` and a `pull` that falls
//! back per object. Two directory remotes, fixed contents, so every count and size is fixed;
//! temporary paths are filtered.
mod common;

use std::path::Path;

use common::{ferry, git_repo, key_of, ok, write};

const FILES: usize = 10;

/// The bytes of file `i`: sizes differ so that byte columns say something.
fn content(i: usize) -> String {
    format!("{i}\n").repeat(10 + 50 * i)
}

/// Runs ferry in `dir` at a fixed time (it must succeed); its stdout.
fn stdout(dir: &Path, args: &[&str]) -> String {
    ok(ferry(dir)
        .args(args)
        .env("FERRY_NOW", "2026-06-01T12:00:00Z"))
}

fn delete(remote: &Path, files: &[usize]) {
    for i in files {
        std::fs::remove_file(remote.join(key_of(content(*i).as_bytes()))).unwrap();
    }
}

#[test]
fn the_per_remote_reports() {
    let repo = git_repo();
    let d = repo.path();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    ok(ferry(d).arg("init"));
    for i in 0..FILES {
        write(d, &format!("data/f{i}.txt"), content(i));
    }
    ok(ferry(d).args(["add", "data"]));
    let (a_url, b_url) = (
        a.path().display().to_string(),
        b.path().display().to_string(),
    );
    ok(ferry(d).args(["remote", "add", "-d", "a", &a_url]));
    ok(ferry(d).args(["remote", "add", "b", &b_url]));
    write(d, ".dvc/ferry.toml", "[redundancy]\nmin_copies = 2\n");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&a_url), "[REMOTE_A]");
    settings.add_filter(&regex_escape(&b_url), "[REMOTE_B]");
    let _guard = settings.bind_to_scope();

    insta::assert_snapshot!("push_all_remotes", stdout(d, &["push", "--all-remotes"]));

    delete(b.path(), &[1, 4, 7]);
    insta::assert_snapshot!("status_remotes", stdout(d, &["status", "--remotes"]));
    insta::assert_snapshot!(
        "sync_dry_run",
        stdout(d, &["sync", "--dry-run", "--to", "b"])
    );
    insta::assert_snapshot!("sync", stdout(d, &["sync", "--to", "b"]));

    // `a` loses four files; a fresh cache and workspace pull them from `b`.
    delete(a.path(), &[0, 2, 3, 9]);
    std::fs::remove_dir_all(d.join(".dvc/cache")).unwrap();
    std::fs::remove_dir_all(d.join("data")).unwrap();
    insta::assert_snapshot!("fetch_dry_run", stdout(d, &["fetch", "--dry-run"]));
    insta::assert_snapshot!("pull_with_fallback", stdout(d, &["pull"]));
    for i in 0..FILES {
        assert_eq!(common::read(d, &format!("data/f{i}.txt")), content(i));
    }
}

/// `text` as a regex matching itself.
fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Issue 17: every report in text at 80 columns (`COLUMNS=80`: Ferry wraps as on an 80-column
/// terminal) and in JSON, on two directory remotes with fixed contents, `a` with a download
/// limit so that budgets show. Each text output is the whole of it (exit code, stdout, stderr).
#[test]
fn every_report_at_80_columns_and_in_json() {
    use common::cli::{Env, fits, json_doc, settings, whole};
    let env = Env::new();
    let repo = git_repo();
    let d = repo.path();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    env.ok(d, &["init"]);
    for i in 0..FILES {
        write(d, &format!("data/f{i}.txt"), content(i));
    }
    write(d, "model.bin", "weights v1\n");
    env.ok(d, &["add", "data", "model.bin"]);
    env.ok(
        d,
        &["remote", "add", "-d", "a", &a.path().display().to_string()],
    );
    env.ok(d, &["remote", "add", "b", &b.path().display().to_string()]);
    env.ok(d, &["remote", "modify", "a", "daily_download_limit", "3kB"]);
    write(
        d,
        ".dvc/ferry.toml",
        format!(
            "{}[redundancy]\nmin_copies = 2\n",
            common::read(d, ".dvc/ferry.toml")
        ),
    );
    let _s = settings(&[
        (a.path(), "[REMOTE_A]"),
        (b.path(), "[REMOTE_B]"),
        (d, "[REPO]"),
    ])
    .bind_to_scope();
    let text = |name: &str, args: &[&str]| {
        let out = env.run(d, args);
        let shown = whole(&out);
        fits(&shown, 80, &["/tmp"]);
        insta::assert_snapshot!(name, shown);
        out
    };
    let json = |name: &str, args: &[&str]| {
        let out = env.run(d, args);
        let doc = json_doc(&out);
        insta::assert_snapshot!(name, common::text(&out.stdout));
        doc
    };

    text("t80_push_all_remotes", &["push", "--all-remotes"]);
    let doc = json(
        "json_push_all_remotes",
        &["push", "--all-remotes", "--json"],
    );
    assert!(
        doc["remotes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "ok")
    );
    text("t80_status", &["status"]);
    text("t80_status_c", &["status", "-c", "-r", "b"]);
    text("t80_remote_list", &["remote", "list"]);
    json("json_remote_list", &["remote", "list", "--json"]);
    text("t80_doctor", &["doctor"]);
    json("json_doctor", &["doctor", "--json"]);

    delete(b.path(), &[1, 4, 7]);
    text("t80_status_remotes", &["status", "--remotes"]);
    text("t80_status_c_missing", &["status", "-c", "-r", "b"]);
    let out = env.run(d, &["status", "-c", "-r", "b", "--json"]);
    // DVC's own shape, byte for byte as dvc prints it: no schema field
    insta::assert_snapshot!("json_status_c_missing", common::text(&out.stdout));
    json("json_status_remotes", &["status", "--remotes", "--json"]);
    text("t80_sync_dry_run", &["sync", "--dry-run"]);
    json("json_sync_dry_run", &["sync", "--dry-run", "--json"]);
    text("t80_sync", &["sync", "--to", "b"]);
    delete(b.path(), &[1, 4, 7]);
    let doc = json("json_sync", &["sync", "--to", "b", "--json"]);
    assert_eq!(doc["remotes"][0]["copied"]["objects"], 3);

    // `a` loses four files; a fresh cache and workspace get them from `b`, `a` within 3 kB.
    delete(a.path(), &[0, 2, 3, 9]);
    let forget = || {
        std::fs::remove_dir_all(d.join(".dvc/cache")).unwrap();
        std::fs::remove_dir_all(d.join("data")).unwrap();
        std::fs::remove_file(d.join("model.bin")).unwrap();
    };
    forget();
    text("t80_fetch_dry_run", &["fetch", "--dry-run"]);
    json("json_fetch_dry_run", &["fetch", "--dry-run", "--json"]);
    let doc = json("json_pull_dry_run", &["pull", "--dry-run", "--json"]);
    assert_eq!(doc["dry_run"], true);
    assert!(!d.join("data").exists(), "a dry run writes nothing");
    text("t80_pull", &["pull"]);
    text("t80_remote_usage", &["remote", "usage"]);
    json("json_remote_usage", &["remote", "usage", "--json"]);
    forget();
    let doc = json("json_pull", &["pull", "--json"]);
    assert_eq!(doc["failed"], serde_json::json!([]));
    forget();
    json("json_fetch", &["fetch", "--json"]);

    write(d, "model.bin", "weights v2\n");
    env.ok(d, &["add", "model.bin"]);
    text("t80_gc_dry", &["gc", "-w", "--dry"]);
    json("json_gc_dry", &["gc", "-w", "--dry", "--json"]);
}
