//! The push record (`transfer::verified`): a directory an earlier push saw whole on a remote is
//! taken as there while its `.dir` is, so a no-op push does not list the remote; a `.dir` gone
//! from the remote (dvc's `gc --cloud`), `--verify`, or a push of only part of a directory
//! never lets a missing file stay missing.
mod common;
use std::path::{Path, PathBuf};

use common::*;

const FILES: [(&str, &str); 3] = [
    ("data/a.txt", "a\n"),
    ("data/sub/b.txt", "b\n"),
    ("data/c.txt", "c\n"),
];

/// A repository with `data/` (three files) added and committed, and a local remote `r`.
fn repo() -> (tempfile::TempDir, PathBuf) {
    let (repo, remote) = common::fixture::repo_with_inner_remote();
    let root = repo.path();
    for (rel, content) in FILES {
        write(root, rel, content);
    }
    ok(ferry(root).args(["add", "data"]));
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "data"]);
    (repo, remote)
}

fn git(root: &Path, args: &[&str]) {
    ok(std::process::Command::new("git")
        .current_dir(root)
        .args(args));
}

/// Which of the three files' objects the remote holds.
fn on_remote(remote: &Path) -> Vec<bool> {
    FILES
        .iter()
        .map(|(_, c)| remote.join(key_of(c.as_bytes())).is_file())
        .collect()
}

/// The data objects (not `.dir`) under the remote.
fn remote_files(remote: &Path) -> usize {
    walk(remote)
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with(".dir"))
        .count()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_no_op_push_trusts_the_record_and_verify_checks_every_file() {
    let (repo, remote) = repo();
    let root = repo.path();
    assert_eq!(ok(ferry(root).arg("push")), "4 files pushed\n");
    assert_eq!(on_remote(&remote), [true, true, true]);
    // A file removed from the remote by hand, its `.dir` left: the record still vouches for
    // the directory, so the no-op push sends nothing and does not look at the files.
    std::fs::remove_file(remote.join(key_of(b"b\n"))).unwrap();
    assert_eq!(ok(ferry(root).arg("push")), "Everything is up to date.\n");
    assert_eq!(on_remote(&remote), [true, false, true]);
    let verbose = run(ferry(root).args(["push", "-v"]));
    assert!(
        text(&verbose.stderr).contains(
            "remote 'r': directories taken as complete from the push record (their .dir is \
             there; `ferry push --verify` checks every file): 1"
        ),
        "{}",
        text(&verbose.stderr)
    );
    // --verify checks every file and uploads the missing one; after it the record is back.
    assert_eq!(
        ok(ferry(root).args(["push", "--verify"])),
        "1 file pushed\n"
    );
    assert_eq!(on_remote(&remote), [true, true, true]);
    assert_eq!(ok(ferry(root).arg("push")), "Everything is up to date.\n");
}

#[test]
fn dvc_gc_cloud_removing_the_directory_makes_the_next_push_upload_it_all() {
    let (repo, remote) = repo();
    let root = repo.path();
    ok(ferry(root).arg("push"));
    assert_eq!(remote_files(&remote), 3);
    // The directory leaves the workspace; dvc's gc --cloud removes its objects and its `.dir`.
    let kept = std::fs::read(root.join("data.dvc")).unwrap();
    std::fs::remove_file(root.join("data.dvc")).unwrap();
    write(root, "other.txt", "other\n");
    ok(ferry(root).args(["add", "other.txt"]));
    ok(ferry(root).arg("push"));
    ok(dvc(root).args(["gc", "-w", "-c", "-f"]));
    assert_eq!(
        on_remote(&remote),
        [false, false, false],
        "dvc's gc --cloud left objects"
    );
    assert!(
        walk(&remote)
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".dir")),
        "dvc's gc --cloud left the .dir"
    );
    // The directory comes back (gc emptied the local cache too, so it is added again, the same
    // hash): the record's `.dir` is gone from the remote, so every file is checked and
    // uploaded again.
    ok(ferry(root).args(["add", "data"]));
    assert_eq!(std::fs::read(root.join("data.dvc")).unwrap(), kept);
    assert_eq!(ok(ferry(root).arg("push")), "4 files pushed\n");
    assert_eq!(on_remote(&remote), [true, true, true]);
}

#[test]
fn a_push_of_part_of_a_directory_is_not_recorded_as_the_whole() {
    let (repo, remote) = repo();
    let root = repo.path();
    let part = ok(ferry(root).args(["push", "data/a.txt"]));
    assert_eq!(on_remote(&remote), [true, false, false], "{part}");
    // The full push that follows checks and uploads the files the part left out.
    assert_eq!(ok(ferry(root).arg("push")), "2 files pushed\n");
    assert_eq!(on_remote(&remote), [true, true, true]);
}

#[test]
fn each_remote_has_its_own_record() {
    let (repo, remote) = repo();
    let root = repo.path();
    ok(ferry(root).arg("push"));
    // the same remote name pointed at an empty directory: nothing is taken from the old record
    let moved = root.join("remote2");
    std::fs::create_dir_all(&moved).unwrap();
    ok(ferry(root)
        .args(["remote", "modify", "r", "url"])
        .arg(&moved));
    assert_eq!(ok(ferry(root).arg("push")), "4 files pushed\n");
    assert_eq!(on_remote(&moved), [true, true, true]);
    assert_eq!(on_remote(&remote), [true, true, true]);
}
