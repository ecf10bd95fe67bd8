//! The team's day from `seed-guide.md`, end to end (issue 4's "done when"): a repository made
//! with dvc and one S3 remote `myremote`; the guide's setup (`remote rename myremote backblaze`,
//! the DagsHub-style HTTP remote with `--local` basic auth, `backblaze` as default); `push
//! --all-remotes`; a fresh clone pulls while the S3 side hits B2's cap part-way and still
//! completes from the HTTP remote; the next pull that day leaves the capped remote alone; after
//! the reset `sync` refills the S3 remote from the HTTP one; `status --remotes` shows both
//! complete. S3 is SeaweedFS behind the fault proxy that answers B2's exact cap response.
mod common;
use std::path::Path;
use std::process::Command;

use common::*;

const DAY: &str = "2026-11-27T15:00:00Z";
const NEXT_DAY: &str = "2026-11-28T00:00:05Z";
const TOKEN: &str = "dagshub-token-0123";

/// `ferry` with a private budget ledger, a fixed clock and no user-level DVC config.
fn fy(dir: &Path, state: &Path, now: &str) -> Command {
    common::fixture::sandboxed(dir, state, now)
}

/// What a teammate types after cloning: the secrets that live in the untracked config.local.
fn credentials(dir: &Path, state: &Path) {
    for (remote, key, value) in [
        ("backblaze", "access_key_id", s3_key()),
        ("backblaze", "secret_access_key", s3_secret()),
        ("dagshub", "auth", "basic".into()),
        ("dagshub", "user", "alice".into()),
        ("dagshub", "password", TOKEN.into()),
    ] {
        ok(fy(dir, state, DAY).args(["remote", "modify", "--local", remote, key, &value]));
    }
}

fn clone(src: &Path, keep: &mut Vec<tempfile::TempDir>) -> std::path::PathBuf {
    let dir = common::fixture::git_clone(src);
    let path = dir.path().to_path_buf();
    keep.push(dir);
    path
}

fn same_tree(a: &Path, b: &Path, files: &[(String, Vec<u8>)]) {
    for (rel, bytes) in files {
        assert_eq!(
            std::fs::read(b.join(rel)).unwrap_or_default(),
            *bytes,
            "{rel} differs"
        );
        assert!(a.join(rel).exists());
    }
}

#[test]
fn the_teams_day_with_a_cap_a_fallback_and_a_refill() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let dag_root = tempfile::tempdir().unwrap();
    let dagshub = HttpServer::start(dag_root.path(), "alice", TOKEN);
    let s3_url = format!("s3://{}/{}", s3_bucket(), unique_prefix("teamday"));
    let mut clones = Vec::new();

    // The repository as the team runs it today: made with dvc, one remote called `myremote`.
    let alice = git_repo();
    let a = alice.path();
    ok(dvc(a).args(["init", "-q"]));
    ok(dvc(a).args(["remote", "add", "-d", "myremote", &s3_url]));
    ok(dvc(a).args([
        "remote",
        "modify",
        "myremote",
        "endpointurl",
        proxy.url("").trim_end_matches('/'),
    ]));
    ok(dvc(a).args([
        "remote",
        "modify",
        "--local",
        "myremote",
        "access_key_id",
        &s3_key(),
    ]));
    ok(dvc(a).args([
        "remote",
        "modify",
        "--local",
        "myremote",
        "secret_access_key",
        &s3_secret(),
    ]));
    let mut files: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("data/img{i:02}.bin"), vec![i as u8; 20_000 + i]))
        .collect();
    files.push((
        "model.bin".into(),
        (0..100_000u32).map(|i| (i % 251) as u8).collect(),
    ));
    for (rel, bytes) in &files {
        write(a, rel, bytes);
    }
    ok(fy(a, st, DAY).args(["add", "data", "model.bin"]));

    // The guide's setup, step by step, with ferry.
    ok(fy(a, st, DAY).args(["remote", "rename", "myremote", "backblaze"]));
    ok(fy(a, st, DAY).args(["remote", "add", "dagshub", &dagshub.url("repo.dvc")]));
    for (key, value) in [("auth", "basic"), ("user", "alice"), ("password", TOKEN)] {
        ok(fy(a, st, DAY).args(["remote", "modify", "dagshub", "--local", key, value]));
    }
    ok(fy(a, st, DAY).args(["remote", "default", "backblaze"]));
    // Two downloads at a time from B2, so "part-way" is well defined for the cap below.
    ok(fy(a, st, DAY).args(["remote", "modify", "backblaze", "jobs", "2"]));
    let listed = ok(fy(a, st, DAY).args(["remote", "list"]));
    assert!(
        listed.contains("backblaze") && listed.contains("dagshub") && !listed.contains("myremote"),
        "{listed}"
    );
    assert!(
        !read(a, ".dvc/config").contains(TOKEN) && read(a, ".dvc/config.local").contains(TOKEN)
    );
    // dvc still reads the renamed configuration (nothing orphaned in config.local).
    assert!(ok(dvc(a).args(["remote", "list"])).contains("backblaze"));

    // Push to all remotes: one row per remote, both ok.
    let out = ok(fy(a, st, DAY).args(["push", "--all-remotes"]));
    assert!(
        out.lines()
            .any(|l| l.starts_with("backblaze") && l.ends_with("ok")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("dagshub") && l.ends_with("ok")),
        "{out}"
    );
    ok(Command::new("git").current_dir(a).args(["add", "-A"]));
    ok(Command::new("git")
        .current_dir(a)
        .args(["commit", "-q", "-m", "data on two remotes"]));

    // Bob clones and pulls; B2's cap hits part-way; the pull still completes from DagsHub.
    proxy.control(r#"{"cap_after_bytes": 150000, "clear_log": true}"#);
    let bob = clone(a, &mut clones);
    credentials(&bob, st);
    let out = run(fy(&bob, st, DAY).arg("pull"));
    let shown = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{shown}");
    same_tree(a, &bob, &files);
    assert!(text(&out.stdout).contains("cap reached"), "{shown}");
    assert!(
        proxy.log().iter().any(|l| l.status == 403),
        "the cap was really hit"
    );
    let served = |remote: &str| -> u64 {
        let line = text(&out.stdout)
            .lines()
            .find(|l| l.starts_with(remote))
            .map(str::to_string)
            .unwrap_or_default();
        line.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        served("backblaze") > 0 && served("dagshub") > 0,
        "both remotes served part: {shown}"
    );
    assert_eq!(served("backblaze") + served("dagshub"), 22, "{shown}");

    // The next pull that day does not touch the capped remote at all.
    proxy.control(r#"{"clear_log": true}"#);
    let carol = clone(a, &mut clones);
    credentials(&carol, st);
    let out = run(fy(&carol, st, DAY).arg("pull"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    same_tree(a, &carol, &files);
    assert!(
        proxy.log().is_empty(),
        "capped remote was contacted: {:?}",
        proxy.log()
    );

    // Meanwhile Bob adds data and pushes it only to DagsHub, so backblaze lacks it.
    write(&bob, "data/img99.bin", b"new image from bob\n");
    ok(fy(&bob, st, DAY).args(["add", "data"]));
    ok(fy(&bob, st, DAY).args(["push", "-r", "dagshub"]));

    // After the reset B2 serves again; `sync` (from a clone without the data in its cache, so
    // the copy goes remote to remote) refills backblaze.
    proxy.control(r#"{"reset": true, "clear_log": true}"#);
    std::fs::remove_dir_all(bob.join(".dvc/cache")).unwrap();
    let out = run(fy(&bob, st, NEXT_DAY).args(["sync", "--to", "backblaze"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        proxy
            .log()
            .iter()
            .any(|l| l.method == "PUT" && l.path.contains("files/md5/")),
        "sync wrote to backblaze: {:?}",
        proxy.log()
    );

    // Both remotes now hold everything.
    let report: serde_json::Value = serde_json::from_str(&ok(fy(&bob, st, NEXT_DAY).args([
        "status",
        "--remotes",
        "--json",
    ])))
    .unwrap();
    for r in report["remotes"].as_array().unwrap() {
        assert_eq!(
            r["missing"]["objects"], 0,
            "{} incomplete: {report}",
            r["name"]
        );
    }
    let human = ok(fy(&bob, st, NEXT_DAY).args(["status", "--remotes"]));
    assert!(!human.contains("incomplete"), "{human}");
}
