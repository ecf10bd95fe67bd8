//! The status snapshot (`.dvc/tmp/ferry/snapshot/`) never makes status lie: after each way a
//! tracked directory or its cache can change, `ferry status` says what the real `dvc status`
//! says on the same repository, whether it answered from the snapshot (`-vv` tells) or walked.
mod common;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;

/// A time long past: timestamps this old are trusted by the snapshot's racy-timestamp rule.
fn long_ago() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000)
}

/// Sets the mtime of `path` and of everything under it to [`long_ago`].
fn age(path: &Path) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            age(&e.unwrap().path());
        }
    }
    set_mtime(path, long_ago());
}

fn set_mtime(path: &Path, when: SystemTime) {
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// A stamp no clock reading of this run reaches: what a change made in the same clock tick as
/// the walk (or the check) that recorded it looks like to the racy-timestamp rule, without
/// having to hit that tick.
fn this_tick() -> SystemTime {
    SystemTime::now() + Duration::from_secs(24 * 3600)
}

const FILES: [(&str, &str); 7] = [
    ("data/a/f1", "one\n"),
    ("data/a/f2", "two\n"),
    ("data/a/f3", "three\n"),
    ("data/b/g1", "gee one\n"),
    ("data/b/g2", "gee two\n"),
    ("data/a.b", "dot\n"),
    ("data/top.txt", "top\n"),
];

/// A repository with `data/` added by Ferry, its tree and cache directories aged, and one
/// status run (which records the cache side): the next status can answer from the snapshot.
fn setup() -> tempfile::TempDir {
    let repo = git_repo();
    let root = repo.path();
    ok(ferry(root).arg("init"));
    for (rel, body) in FILES {
        write(root, rel, body);
    }
    age(&root.join("data"));
    ok(ferry(root).args(["add", "data"]));
    age(&root.join(".dvc/cache"));
    ok(ferry(root).arg("status"));
    repo
}

/// What one `ferry status --json -vv` said, and whether the workspace and the cache side were
/// answered from the snapshot.
struct Seen {
    json: Value,
    workspace_fast: bool,
    cache_fast: bool,
}

fn ferry_status(root: &Path) -> Seen {
    let out = run(ferry(root).args(["status", "--json", "-vv"]));
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "ferry status failed: {stderr}\n{}",
        text(&out.stdout)
    );
    Seen {
        json: serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout))),
        workspace_fast: stderr.contains("hashed from its status snapshot"),
        cache_fast: stderr.contains("unchanged since its snapshot"),
    }
}

fn dvc_status(root: &Path) -> Value {
    serde_json::from_str(&ok(dvc(root).args(["status", "--json"]))).unwrap()
}

/// Ferry's status equals dvc's; returns what Ferry saw.
fn same_as_dvc(root: &Path, what: &str) -> Seen {
    let seen = ferry_status(root);
    assert_eq!(seen.json, dvc_status(root), "after {what}");
    seen
}

fn modified() -> Value {
    serde_json::json!({"data.dvc": [{"changed outs": {"data": "modified"}}]})
}

fn snapshot_file(root: &Path) -> PathBuf {
    root.join(".dvc/tmp/ferry/snapshot").join(md5_hex(b"data"))
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(bytes))
}

#[test]
fn unchanged_data_is_answered_from_the_snapshot() {
    let repo = setup();
    let seen = same_as_dvc(repo.path(), "nothing");
    assert_eq!(seen.json, serde_json::json!({}));
    assert!(
        seen.workspace_fast && seen.cache_fast,
        "the snapshot was not used"
    );
    assert!(snapshot_file(repo.path()).is_file());
}

#[test]
fn a_file_edited_in_place_with_the_same_size_is_found_without_a_walk() {
    let repo = setup();
    let root = repo.path();
    // in place: same inode, same size, new mtime; the directory's mtime does not move
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(root.join("data/a/f2"))
        .unwrap();
    f.write_all(b"TWO\n").unwrap();
    drop(f);
    let seen = same_as_dvc(root, "an edit in place");
    assert_eq!(seen.json, modified());
    assert!(
        seen.workspace_fast,
        "the directory did not change: no walk needed"
    );
    // the old bytes back (the mtime stays new): clean again, still from the snapshot
    write(root, "data/a/f2", "two\n");
    let seen = same_as_dvc(root, "the edit undone");
    assert_eq!(seen.json, serde_json::json!({}));
    assert!(seen.workspace_fast);
}

#[test]
fn every_change_to_the_tree_is_seen() {
    type Change = fn(&Path);
    let changes: [(&str, Change, bool); 7] = [
        (
            "a file replaced by rename",
            |r| {
                write(r, "data/a/f2.new", "TWO\n");
                std::fs::rename(r.join("data/a/f2.new"), r.join("data/a/f2")).unwrap();
            },
            true,
        ),
        ("a file added", |r| write(r, "data/b/g3", "new\n"), true),
        (
            "a file removed",
            |r| std::fs::remove_file(r.join("data/top.txt")).unwrap(),
            true,
        ),
        (
            "a file renamed",
            |r| std::fs::rename(r.join("data/a/f3"), r.join("data/a/f4")).unwrap(),
            true,
        ),
        (
            "a new subdirectory with a file",
            |r| write(r, "data/c/h1", "aitch\n"),
            true,
        ),
        (
            "a new empty subdirectory (dvc ignores it)",
            |r| std::fs::create_dir(r.join("data/empty")).unwrap(),
            false,
        ),
        (
            "a .dvcignore that now ignores a file",
            |r| write(r, ".dvcignore", "g1\n"),
            true,
        ),
    ];
    for (what, change, is_modified) in changes {
        let repo = setup();
        let root = repo.path();
        assert!(ferry_status(root).workspace_fast, "{what}: not set up");
        change(root);
        let seen = same_as_dvc(root, what);
        let expected = if is_modified {
            modified()
        } else {
            serde_json::json!({})
        };
        assert_eq!(seen.json, expected, "{what}");
        assert!(
            !seen.workspace_fast,
            "{what}: answered from a stale snapshot"
        );
        // and again, from whatever the walk recorded
        same_as_dvc(root, what);
    }
}

/// Data written just before `add`, as a user does it (nothing aged): the first status after
/// `add` answers both sides from the records `add` wrote, and a cache object deleted right
/// after `add` is still seen.
#[test]
fn the_first_status_after_add_answers_from_what_add_recorded() {
    let repo = git_repo();
    let root = repo.path();
    ok(ferry(root).arg("init"));
    for (rel, body) in FILES {
        write(root, rel, body);
    }
    // past the filesystem clock's tick the data was written in (a few ms on coarse clocks)
    std::thread::sleep(Duration::from_millis(50));
    ok(ferry(root).args(["add", "data"]));
    let seen = same_as_dvc(root, "add");
    assert_eq!(seen.json, serde_json::json!({}));
    assert!(
        seen.workspace_fast && seen.cache_fast,
        "the first status walked or listed the cache"
    );
    deleting_an_object_is_seen(root, "a cache object deleted right after add");
}

/// A stage's directory output committed by `ferry commit`: the first status after it answers
/// from the records `commit` wrote, as after `add`.
#[test]
fn the_first_status_after_a_stage_commit_answers_from_what_commit_recorded() {
    let repo = git_repo();
    let root = repo.path();
    ok(ferry(root).arg("init"));
    write(
        root,
        "dvc.yaml",
        "stages:\n  make:\n    cmd: echo made\n    outs:\n    - data\n",
    );
    for (rel, body) in FILES {
        write(root, rel, body);
    }
    std::thread::sleep(Duration::from_millis(50));
    ok(ferry(root).args(["commit", "-f"]));
    assert!(
        root.join("dvc.lock").is_file(),
        "the stage was not committed"
    );
    let seen = same_as_dvc(root, "commit");
    assert_eq!(seen.json, serde_json::json!({}));
    assert!(
        seen.workspace_fast && seen.cache_fast,
        "the first status walked or listed the cache"
    );
}

/// A file stamped at or after the clock reading of the walk that recorded it (as one written in
/// the walk's own tick is) is never trusted: written again with the same size and given the
/// same stamp back (what a second write in that tick looks like), it is found modified, from
/// its bytes (the state cache's entry for that stamp is as young). dvc says clean here: its
/// state cache trusts the stamp.
#[test]
fn a_file_changed_in_the_tick_of_the_walk_is_seen() {
    let repo = setup();
    let root = repo.path();
    let f2 = root.join("data/a/f2");
    let tick = this_tick();
    set_mtime(&f2, tick);
    // a walk (add of unchanged data) records f2 with its young stamp
    ok(ferry(root).args(["add", "data"]));
    assert_eq!(ferry_status(root).json, serde_json::json!({}));
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new().write(true).open(&f2).unwrap();
    f.write_all(b"TWO\n").unwrap();
    drop(f);
    set_mtime(&f2, tick);
    let seen = ferry_status(root);
    assert_eq!(seen.json, modified());
    assert!(seen.workspace_fast, "the directory did not change");
}

/// The state cache keeps the racy-timestamp rule too: a file hashed in its own tick is not
/// remembered, so a same-size rewrite in that tick is seen by a walk (no snapshot to answer
/// from), for a directory's file and for a file output alike. dvc's state has no such rule.
#[test]
fn a_file_changed_in_the_tick_it_was_hashed_is_seen_by_a_walk() {
    let repo = setup();
    let root = repo.path();
    write(root, "model.bin", "weights v1\n");
    let tick = this_tick();
    let (f2, model) = (root.join("data/a/f2"), root.join("model.bin"));
    set_mtime(&f2, tick);
    set_mtime(&model, tick);
    ok(ferry(root).args(["add", "data"]));
    ok(ferry(root).args(["add", "model.bin"]));
    assert_eq!(ferry_status(root).json, serde_json::json!({}));
    for (path, body) in [(&f2, "TWO\n"), (&model, "weights v2\n")] {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_all(body.as_bytes()).unwrap();
        drop(f);
        set_mtime(path, tick);
    }
    std::fs::remove_dir_all(root.join(".dvc/tmp/ferry/snapshot")).unwrap();
    let seen = ferry_status(root);
    assert!(!seen.workspace_fast, "answered from a snapshot");
    assert_eq!(
        seen.json,
        serde_json::json!({
            "data.dvc": [{"changed outs": {"data": "modified"}}],
            "model.bin.dvc": [{"changed outs": {"model.bin": "modified"}}],
        })
    );
}

/// A cache directory stamped at or after the clock reading of the check (as one changed in the
/// check's own tick is) is never recorded: an object deleted from it and the stamp put back is
/// still seen.
#[test]
fn a_cache_directory_changed_in_the_tick_of_the_check_is_seen() {
    let repo = setup();
    let root = repo.path();
    let md5 = md5_hex(b"gee two\n");
    let dir = root.join(".dvc/cache/files/md5").join(&md5[..2]);
    let tick = this_tick();
    set_mtime(&dir, tick);
    let seen = same_as_dvc(root, "a cache directory stamped in the check's tick");
    assert_eq!(seen.json, serde_json::json!({}));
    assert!(!seen.cache_fast, "the cache directory's stamp moved");
    std::fs::remove_file(dir.join(&md5[2..])).unwrap();
    set_mtime(&dir, tick);
    let seen = same_as_dvc(root, "an object deleted in that tick");
    assert_eq!(
        seen.json,
        serde_json::json!({"data.dvc": [{"changed outs": {"data": "not in cache"}}]})
    );
    assert!(!seen.cache_fast);
}

#[test]
fn a_deleted_cache_object_is_seen() {
    let repo = setup();
    let root = repo.path();
    assert!(ferry_status(root).cache_fast, "not set up");
    deleting_an_object_is_seen(root, "a cache object deleted");
}

/// Deletes the cache object of `data/b/g2` and checks that status, like dvc, says the output is
/// not in the cache, without the cache snapshot's answer.
fn deleting_an_object_is_seen(root: &Path, what: &str) {
    let md5 = md5_hex(b"gee two\n");
    std::fs::remove_file(
        root.join(".dvc/cache/files/md5")
            .join(&md5[..2])
            .join(&md5[2..]),
    )
    .unwrap();
    let seen = same_as_dvc(root, what);
    assert_eq!(
        seen.json,
        serde_json::json!({"data.dvc": [{"changed outs": {"data": "not in cache"}}]})
    );
    assert!(!seen.cache_fast);
}

#[test]
fn a_planted_symlink_is_never_read_or_written_through() {
    let repo = setup();
    let root = repo.path();
    let snap = snapshot_file(root);
    let cache_snap = PathBuf::from(format!("{}.cache", snap.display()));
    let outside = tempfile::tempdir().unwrap();
    // the decoys are the repository's own valid records: followed, they would be believed
    for (record, decoy) in [(&snap, "ws"), (&cache_snap, "cache")] {
        let target = outside.path().join(decoy);
        std::fs::rename(record, &target).unwrap();
        std::os::unix::fs::symlink(&target, record).unwrap();
    }
    let before: Vec<Vec<u8>> = ["ws", "cache"]
        .iter()
        .map(|d| std::fs::read(outside.path().join(d)).unwrap())
        .collect();
    let seen = same_as_dvc(root, "planted links");
    assert!(
        !seen.workspace_fast && !seen.cache_fast,
        "a link was followed"
    );
    for (d, bytes) in ["ws", "cache"].iter().zip(&before) {
        assert_eq!(
            &std::fs::read(outside.path().join(d)).unwrap(),
            bytes,
            "{d}"
        );
    }
    for record in [&snap, &cache_snap] {
        let meta = std::fs::symlink_metadata(record).unwrap();
        assert!(
            meta.is_file(),
            "{} not rewritten in place of the link",
            record.display()
        );
    }
    assert!(
        ferry_status(root).workspace_fast,
        "the rewritten snapshot is used"
    );
}

#[test]
fn a_truncated_or_damaged_snapshot_is_ignored() {
    let repo = setup();
    let root = repo.path();
    let snap = snapshot_file(root);
    let good = std::fs::read(&snap).unwrap();
    // the recorded .dir md5 (after magic, version and kind) flipped: believed, status would
    // say modified
    let mut damaged = good.clone();
    damaged[13] ^= 0xff;
    for (what, bytes) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("damaged", damaged),
        ("garbage", b"not a snapshot at all".to_vec()),
        ("empty", Vec::new()),
    ] {
        std::fs::write(&snap, &bytes).unwrap();
        let seen = same_as_dvc(root, what);
        assert_eq!(seen.json, serde_json::json!({}), "{what}");
        assert!(!seen.workspace_fast, "{what}: believed");
        assert!(ferry_status(root).workspace_fast, "{what}: not rewritten");
    }
}
