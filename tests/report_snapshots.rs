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
