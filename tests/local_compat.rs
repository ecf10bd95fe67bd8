//! The local half against the real dvc: the same data added by `ferry` and by `dvc` gives the
//! same bytes (`.dvc` files, `.dir` objects, cache listing, `.gitignore`), and each tool reads
//! the other's repository.
mod common;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

/// Awkward names DVC must quote, escape or fold, plus nesting, empties and exec bits.
fn make_data(root: &Path) {
    let names = [
        "plain.txt",
        "with space.txt",
        "é.txt",
        "日本.txt",
        "[x]",
        "#hash",
        "!bang",
        "*star",
        "-lead",
        "123",
        "true",
        "null",
        "a: b",
        "'q'",
        "trail ",
    ];
    for n in names {
        write(root, &format!("files/{n}"), format!("content of {n}\n"));
    }
    write(root, &format!("files/{}", "n".repeat(120)), "long\n");
    write(root, "data/one.txt", "one\n");
    write(root, "data/sub/deep/two.txt", "two\n");
    write(root, "data/empty", "");
    write(root, "data/é dir/[x] #1.txt", "x\n");
    write(root, "data/run.sh", "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(
        root.join("data/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("data/emptydir")).unwrap();
    std::fs::create_dir_all(root.join("emptydir")).unwrap();
    write(root, "tool.sh", "#!/bin/sh\n");
    std::fs::set_permissions(root.join("tool.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(root, "empty.bin", "");
}

fn targets(root: &Path) -> Vec<String> {
    let mut t: Vec<String> = std::fs::read_dir(root.join("files"))
        .unwrap()
        .map(|e| format!("files/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    t.sort();
    t.extend(["data", "emptydir", "tool.sh", "empty.bin"].map(String::from));
    t
}

fn listing(root: &Path, sub: &str, suffix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let base = root.join(sub);
    for e in walk(&base) {
        let rel = e
            .strip_prefix(&base)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.ends_with(suffix) {
            out.insert(rel);
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git" || n == ".dvc") {
                continue;
            }
            if p.is_dir() {
                out.extend(walk(&p))
            } else {
                out.push(p)
            }
        }
    }
    out
}

fn init_both() -> (tempfile::TempDir, tempfile::TempDir) {
    let a = git_repo();
    let b = git_repo();
    ok(ferry(a.path()).arg("init"));
    ok(dvc(b.path()).args(["init", "-q"]));
    (a, b)
}

#[test]
fn add_is_byte_identical_to_dvc_add() {
    let (a, b) = init_both();
    make_data(a.path());
    make_data(b.path());
    let t = targets(a.path());
    ok(ferry(a.path()).arg("add").arg("--").args(&t));
    ok(dvc(b.path()).arg("add").arg("-q").arg("--").args(&t));

    let dvcfiles = listing(b.path(), "", ".dvc");
    assert_eq!(dvcfiles.len(), t.len(), "{dvcfiles:?}");
    assert_eq!(listing(a.path(), "", ".dvc"), dvcfiles);
    for f in &dvcfiles {
        assert_eq!(read(a.path(), f), read(b.path(), f), "{f} differs");
    }
    for g in listing(b.path(), "", ".gitignore") {
        assert_eq!(read(a.path(), &g), read(b.path(), &g), "{g} differs");
    }
    let cache_a = listing(a.path(), ".dvc/cache", "");
    let cache_b = listing(b.path(), ".dvc/cache", "");
    assert_eq!(cache_a, cache_b, "cache listings differ");
    for obj in cache_a.iter().filter(|o| o.ends_with(".dir")) {
        let pa = a.path().join(".dvc/cache").join(obj);
        assert_eq!(
            std::fs::read(&pa).unwrap(),
            std::fs::read(b.path().join(".dvc/cache").join(obj)).unwrap(),
            "{obj}"
        );
    }
    for obj in &cache_a {
        let mode = std::fs::metadata(a.path().join(".dvc/cache").join(obj))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o444, "{obj} mode {mode:o}");
    }

    // Each tool is clean on the other's repository.
    assert!(ok(dvc(a.path()).arg("status")).contains("Data and pipelines are up to date."));
    assert!(ok(ferry(b.path()).arg("status")).contains("Data and pipelines are up to date."));

    // After the same changes both report the same paths and statuses.
    for root in [a.path(), b.path()] {
        write(root, "data/one.txt", "changed\n");
        std::fs::remove_file(root.join("tool.sh")).unwrap();
        write(root, "files/plain.txt", "changed too\n");
    }
    for root in [a.path(), b.path()] {
        let theirs: serde_json::Value =
            serde_json::from_str(&ok(dvc(root).args(["status", "--json"]))).unwrap();
        let ours: serde_json::Value =
            serde_json::from_str(&ok(ferry(root).args(["status", "--json"]))).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(ours.as_object().unwrap().len(), 3);
    }
}

#[test]
fn readding_unchanged_data_rewrites_nothing_and_edits_keep_comments() {
    let a = git_repo();
    ok(ferry(a.path()).arg("init"));
    write(a.path(), "g", "ab");
    ok(ferry(a.path()).args(["add", "g"]));
    let with_comment = format!(
        "# my comment\n{}  desc: some data   # inline\n  meta:\n    owner: me\n",
        read(a.path(), "g.dvc")
    );
    write(a.path(), "g.dvc", &with_comment);
    let before = std::fs::metadata(a.path().join("g.dvc"))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = ok(ferry(a.path()).args(["add", "g"]));
    assert!(!out.contains("git add"), "nothing to stage: {out}");
    assert_eq!(
        std::fs::metadata(a.path().join("g.dvc"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );

    write(a.path(), "g", "abc");
    ok(ferry(a.path()).args(["add", "g"]));
    assert_eq!(
        read(a.path(), "g.dvc"),
        "# my comment\nouts:\n- md5: 900150983cd24fb0d6963f7d28e17f72\n  size: 3\n  hash: md5\n  path: g\n  desc: some data   # inline\n  meta:\n    owner: me\n"
    );
    // dvc agrees the edited file is valid and clean.
    assert!(ok(dvc(a.path()).arg("status")).contains("up to date"));
}

#[test]
fn checkout_restores_bytes_and_exec_bit_and_protects_unsaved_changes() {
    let a = git_repo();
    ok(ferry(a.path()).arg("init"));
    make_data(a.path());
    ok(ferry(a.path()).args(["add", "data", "tool.sh"]));
    let original = read(a.path(), "data/sub/deep/two.txt");
    std::fs::remove_dir_all(a.path().join("data")).unwrap();
    std::fs::remove_file(a.path().join("tool.sh")).unwrap();
    let out = ok(ferry(a.path()).arg("checkout"));
    assert!(
        out.contains("A       data/") && out.contains("A       tool.sh"),
        "{out}"
    );
    assert_eq!(read(a.path(), "data/sub/deep/two.txt"), original);
    assert_eq!(read(a.path(), "data/é dir/[x] #1.txt"), "x\n");
    assert!(
        std::fs::metadata(a.path().join("tool.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o100
            != 0
    );

    write(a.path(), "tool.sh", "local edit\n");
    let refused = run(ferry(a.path()).arg("checkout"));
    assert_eq!(refused.status.code(), Some(255));
    assert!(
        text(&refused.stderr).contains("unsaved"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        read(a.path(), "tool.sh"),
        "local edit\n",
        "unsaved change must survive"
    );
    ok(ferry(a.path()).args(["checkout", "--force", "tool.sh"]));
    assert_eq!(read(a.path(), "tool.sh"), "#!/bin/sh\n");

    // A file dropped into the tracked dir is unsaved too; --force removes it.
    write(a.path(), "data/new.txt", "new\n");
    assert_eq!(
        run(ferry(a.path()).arg("checkout")).status.code(),
        Some(255)
    );
    assert!(a.path().join("data/new.txt").exists());
    ok(ferry(a.path()).args(["checkout", "-f"]));
    assert!(!a.path().join("data/new.txt").exists());
    assert!(ok(dvc(a.path()).arg("status")).contains("up to date"));
}

#[test]
fn checkout_follows_cache_type_hardlink_and_symlink() {
    for (kind, check) in [("hardlink", 0), ("symlink", 1)] {
        let a = git_repo();
        ok(ferry(a.path()).arg("init"));
        std::fs::write(
            a.path().join(".dvc/config"),
            format!("[cache]\n    type = {kind}\n"),
        )
        .unwrap();
        write(a.path(), "d/f", "hello\n");
        ok(ferry(a.path()).args(["add", "d"]));
        std::fs::remove_dir_all(a.path().join("d")).unwrap();
        ok(ferry(a.path()).arg("checkout"));
        let meta = std::fs::symlink_metadata(a.path().join("d/f")).unwrap();
        if check == 0 {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(meta.nlink(), 2, "hardlink expected");
        } else {
            assert!(meta.file_type().is_symlink(), "symlink expected");
        }
        assert_eq!(read(a.path(), "d/f"), "hello\n");
    }
}

#[test]
fn commit_remove_and_gc() {
    let a = git_repo();
    ok(ferry(a.path()).arg("init"));
    write(a.path(), "d/f", "v1\n");
    write(a.path(), "x.txt", "x\n");
    ok(ferry(a.path()).args(["add", "d", "x.txt"]));
    write(a.path(), "d/f", "v2\n");
    let refused = run(ferry(a.path()).args(["commit", "d.dvc"]));
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("--force"));
    ok(ferry(a.path()).args(["commit", "-f", "d.dvc"]));
    assert!(ok(dvc(a.path()).arg("status")).contains("up to date"));

    // gc drops the v1 objects (file + old .dir) and nothing in use.
    let dry = ok(ferry(a.path()).args(["gc", "-w", "--dry"]));
    assert!(
        dry.contains("Would remove 2 objects from repo cache."),
        "{dry}"
    );
    ok(ferry(a.path()).args(["gc", "-w", "-f"]));
    assert!(ok(dvc(a.path()).arg("status")).contains("up to date"));
    std::fs::remove_dir_all(a.path().join("d")).unwrap();
    ok(ferry(a.path()).arg("checkout"));
    assert_eq!(read(a.path(), "d/f"), "v2\n");

    ok(ferry(a.path()).args(["remove", "x.txt.dvc"]));
    assert!(!a.path().join("x.txt.dvc").exists());
    assert!(a.path().join("x.txt").exists());
    assert_eq!(read(a.path(), ".gitignore"), "/d\n");
}

#[test]
fn bad_input_gets_clear_errors() {
    let a = git_repo();
    let out = run(ferry(a.path()).arg("status"));
    assert_eq!(out.status.code(), Some(253));
    assert!(text(&out.stderr).contains("not inside of a DVC repository"));

    ok(ferry(a.path()).arg("init"));
    write(a.path(), "broken.dvc", "outs:\n- md5: zzz\n  path: x\n");
    let out = run(ferry(a.path()).arg("status"));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("broken.dvc") && err.contains("hint:"), "{err}");

    std::fs::remove_file(a.path().join("broken.dvc")).unwrap();
    let out = run(ferry(a.path()).args(["add", "missing"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist"));

    // A .dvc path escaping the repository is refused.
    write(
        a.path(),
        "evil.dvc",
        "outs:\n- md5: b1946ac92492d2347c6235b4d2611184\n  size: 6\n  hash: md5\n  path: ../../etc/passwd\n",
    );
    let out = run(ferry(a.path()).arg("checkout"));
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("outside the repository"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_manifest_escaping_the_workspace_is_refused() {
    let a = git_repo();
    ok(ferry(a.path()).arg("init"));
    write(a.path(), "d/f", "hello\n");
    ok(ferry(a.path()).args(["add", "d"]));
    // Forge a .dir object whose entry climbs out of the output, and point d.dvc at it.
    let evil = br#"[{"md5": "b1946ac92492d2347c6235b4d2611184", "relpath": "../escaped"}]"#;
    let md5 = format!("{:x}", md5_of(evil));
    let obj = a.path().join(format!(
        ".dvc/cache/files/md5/{}/{}.dir",
        &md5[..2],
        &md5[2..]
    ));
    std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
    std::fs::write(&obj, evil).unwrap();
    let dvcfile = read(a.path(), "d.dvc");
    let old = dvcfile
        .lines()
        .next()
        .map(|_| {
            dvcfile
                .split("md5: ")
                .nth(1)
                .unwrap()
                .split('\n')
                .next()
                .unwrap()
                .to_string()
        })
        .unwrap();
    write(
        a.path(),
        "d.dvc",
        dvcfile.replace(&old, &format!("{md5}.dir")),
    );
    std::fs::remove_dir_all(a.path().join("d")).unwrap();
    let out = run(ferry(a.path()).arg("checkout"));
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("unsafe path"),
        "{}",
        text(&out.stderr)
    );
    assert!(!a.path().join("escaped").exists());
}

fn md5_of(bytes: &[u8]) -> u128 {
    let out = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    out.stdin.as_ref().unwrap().write_all(bytes).unwrap();
    let o = out.wait_with_output().unwrap();
    u128::from_str_radix(text(&o.stdout).split_whitespace().next().unwrap(), 16).unwrap()
}

#[test]
fn dvc_lock_outputs_are_read() {
    let a = git_repo();
    ok(dvc(a.path()).args(["init", "-q"]));
    write(a.path(), "a.txt", "hello\n");
    ok(dvc(a.path()).args([
        "stage",
        "add",
        "-q",
        "-n",
        "gen",
        "-d",
        "a.txt",
        "-o",
        "out.txt",
        "-o",
        "outdir",
        "cp a.txt out.txt && mkdir -p outdir && cp a.txt outdir/x.txt",
    ]));
    ok(dvc(a.path()).args(["repro", "-q"]));
    assert!(ok(ferry(a.path()).arg("status")).contains("up to date"));
    write(a.path(), "outdir/x.txt", "changed\n");
    let out = ok(ferry(a.path()).args(["status", "--json"]));
    assert_eq!(
        out.trim(),
        r#"{"gen": [{"changed outs": {"outdir": "modified"}}]}"#
    );
    std::fs::remove_dir_all(a.path().join("outdir")).unwrap();
    std::fs::remove_file(a.path().join("out.txt")).unwrap();
    ok(ferry(a.path()).arg("checkout"));
    assert_eq!(read(a.path(), "outdir/x.txt"), "hello\n");
    assert_eq!(read(a.path(), "out.txt"), "hello\n");
}

#[test]
fn the_repository_lock_is_shared_with_dvc() {
    let a = git_repo();
    ok(ferry(a.path()).arg("init"));
    write(a.path(), "f", "x");
    // Hold the lock the way dvc's zc.lockfile does: flock on .dvc/tmp/lock holding " <pid>\n".
    let mut holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(a.path().join(".dvc/tmp/lock"))
        .or_else(|_| std::fs::File::create(a.path().join(".dvc/tmp/lock")))
        .unwrap();
    holder.lock().unwrap();
    use std::io::Write;
    writeln!(holder, " {}", std::process::id()).unwrap();
    let out = run(ferry(a.path()).args(["add", "f"]));
    assert!(
        text(&out.stderr).contains(&format!("process {}", std::process::id())),
        "{}",
        text(&out.stderr)
    );
    drop(holder);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Unable to acquire lock"),
        "{}",
        text(&out.stderr)
    );
    assert!(!a.path().join("f.dvc").exists());
    ok(ferry(a.path()).args(["add", "f"]));
}

#[test]
fn dvcignore_is_respected_like_dvc() {
    let (a, b) = init_both();
    for root in [a.path(), b.path()] {
        std::fs::write(root.join(".dvcignore"), "*.tmp\nsub/skip/\n").unwrap();
        write(root, "dd/keep.txt", "keep\n");
        write(root, "dd/drop.tmp", "drop\n");
        write(root, "dd/sub/skip/x", "x\n");
        write(root, "dd/sub/y", "y\n");
        write(root, "dd/.hidden", "h\n");
    }
    ok(ferry(a.path()).args(["add", "dd"]));
    ok(dvc(b.path()).args(["add", "-q", "dd"]));
    assert_eq!(read(a.path(), "dd.dvc"), read(b.path(), "dd.dvc"));
    // Ignored files never affect status.
    write(a.path(), "dd/more.tmp", "more\n");
    assert!(ok(ferry(a.path()).arg("status")).contains("up to date"));
    // A .dvcignore inside a tracked directory is refused, as dvc refuses it.
    write(a.path(), "dd/sub/.dvcignore", "y\n");
    let out = run(ferry(a.path()).args(["add", "dd"]));
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains(".dvcignore file should not be in collected dir path"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn status_reports_not_in_cache_like_dvc() {
    let (a, b) = init_both();
    for (root, is_ferry) in [(a.path(), true), (b.path(), false)] {
        write(root, "d/x", "x\n");
        write(root, "d/y", "y\n");
        if is_ferry {
            ok(ferry(root).args(["add", "d"]));
        } else {
            ok(dvc(root).args(["add", "-q", "d"]));
        }
        // Drop one file's object from the cache.
        let md5 = "009520053b00386d1173f3988c55d192";
        std::fs::remove_file(root.join(format!(
            ".dvc/cache/files/md5/{}/{}",
            &md5[..2],
            &md5[2..]
        )))
        .unwrap();
    }
    for root in [a.path(), b.path()] {
        let ours: serde_json::Value =
            serde_json::from_str(&ok(ferry(root).args(["status", "--json"]))).unwrap();
        let theirs: serde_json::Value =
            serde_json::from_str(&ok(dvc(root).args(["status", "--json"]))).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(ours["d.dvc"][0]["changed outs"]["d"], "not in cache");
    }
}

#[test]
fn a_path_inside_a_tracked_directory_selects_its_output() {
    let a = git_repo();
    ok(ferry(a.path()).arg("init"));
    write(a.path(), "data/sub/f", "f\n");
    write(a.path(), "other", "o\n");
    ok(ferry(a.path()).args(["add", "data", "other"]));
    std::fs::remove_dir_all(a.path().join("data")).unwrap();
    std::fs::remove_file(a.path().join("other")).unwrap();
    ok(ferry(a.path()).args(["checkout", "data/sub"]));
    assert_eq!(read(a.path(), "data/sub/f"), "f\n");
    assert!(
        !a.path().join("other").exists(),
        "only the named output is restored"
    );
}
