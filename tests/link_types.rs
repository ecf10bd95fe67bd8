//! `cache.type` hardlink and symlink, and `cache.shared group`, against the real dvc: twin
//! repositories get the same data and the same commands, and every workspace file and cache
//! directory must end up the same (link kind, link target relative to the repository, inode
//! shared with the cache object, mode) with the same exit codes.
mod common;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;

/// What one workspace file is, as comparable between the twins.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    /// A symlink to this path, relative to the repository root.
    Symlink(String),
    /// A regular file with this mode, and whether it is the inode of its cache object.
    File { mode: u32, cache_inode: bool },
}

fn shape(root: &Path, rel: &str, cached: &BTreeMap<u64, String>) -> Shape {
    let path = root.join(rel);
    let meta = std::fs::symlink_metadata(&path).unwrap();
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&path).unwrap();
        let inside = target
            .strip_prefix(root)
            .unwrap_or_else(|_| panic!("{rel} links outside the repository: {target:?}"));
        return Shape::Symlink(inside.to_string_lossy().into_owned());
    }
    Shape::File {
        mode: meta.permissions().mode() & 0o7777,
        cache_inode: cached.contains_key(&meta.ino()),
    }
}

/// Inode → path of every file in the cache.
fn cache_inodes(root: &Path) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for e in walkdir(&root.join(".dvc/cache")) {
        let m = std::fs::symlink_metadata(&e).unwrap();
        if m.is_file() {
            out.insert(m.ino(), e.to_string_lossy().into_owned());
        }
    }
    out
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        out.push(p.clone());
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walkdir(&p));
        }
    }
    out.sort();
    out
}

const FILES: [&str; 4] = [
    "data/a.txt",
    "data/sub/b.txt",
    "data/sub/c.bin",
    "single.txt",
];

fn shapes(root: &Path) -> Vec<(String, Shape)> {
    let cached = cache_inodes(root);
    FILES
        .iter()
        .map(|f| (f.to_string(), shape(root, f, &cached)))
        .collect()
}

/// Two repositories with the same data and `[cache]` settings, one for each tool.
fn twins(cache_section: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let (f, d) = (git_repo(), git_repo());
    ok(ferry(f.path()).args(["init", "-q"]));
    ok(dvc(d.path()).args(["init", "-q"]));
    for root in [f.path(), d.path()] {
        let config = root.join(".dvc/config");
        let mut text = std::fs::read_to_string(&config).unwrap_or_default();
        text.push_str(cache_section);
        std::fs::write(&config, text).unwrap();
        write(root, "data/a.txt", "a\n");
        write(root, "data/sub/b.txt", "b\n");
        write(root, "data/sub/c.bin", [0u8, 1, 2, 3]);
        write(root, "single.txt", "single\n");
    }
    (f, d)
}

/// Runs the same arguments in both twins and checks the exit codes agree.
fn both(f: &Path, d: &Path, args: &[&str]) {
    let a = run(ferry(f).args(args));
    let b = run(dvc(d).args(args));
    assert_eq!(
        a.status.code(),
        b.status.code(),
        "exit codes of {args:?} differ\nferry: {}\ndvc: {}",
        text(&a.stderr),
        text(&b.stderr)
    );
    assert!(a.status.success(), "{args:?}: {}", text(&a.stderr));
}

fn same_shapes(f: &Path, d: &Path, kind: &str, after: &str) {
    let (ours, theirs) = (shapes(f), shapes(d));
    assert_eq!(ours, theirs, "cache.type {kind}, after {after}");
    for (file, s) in &ours {
        match (kind, s) {
            ("symlink", Shape::Symlink(t)) => {
                assert!(t.starts_with(".dvc/cache/files/md5/"), "{t}")
            }
            ("hardlink", Shape::File { mode, cache_inode }) => {
                assert!(*cache_inode, "{file} is not the cache object's inode");
                assert_eq!(*mode, 0o444, "{file}");
            }
            _ => panic!("cache.type {kind}: {file} is {s:?}"),
        }
    }
}

#[test]
fn hardlink_and_symlink_link_the_workspace_to_the_cache_like_dvc() {
    for kind in ["hardlink", "symlink"] {
        let (f, d) = twins(&format!("[cache]\n    type = {kind}\n"));
        let (f, d) = (f.path(), d.path());
        both(f, d, &["add", "data"]);
        both(f, d, &["add", "single.txt"]);
        same_shapes(f, d, kind, "add");
        // the bytes are still readable through the links
        assert_eq!(read(f, "data/sub/b.txt"), "b\n");
        assert_eq!(read(f, "single.txt"), "single\n");
        // a second add of unchanged data changes nothing
        let before = shapes(f);
        both(f, d, &["add", "data"]);
        assert_eq!(shapes(f), before);

        for root in [f, d] {
            std::fs::remove_dir_all(root.join("data")).unwrap();
            std::fs::remove_file(root.join("single.txt")).unwrap();
        }
        both(f, d, &["checkout"]);
        same_shapes(f, d, kind, "checkout");

        // a changed file replaced by the user, then committed, is linked again
        for root in [f, d] {
            std::fs::remove_file(root.join("data/a.txt")).unwrap();
            write(root, "data/a.txt", "changed\n");
        }
        both(f, d, &["commit", "-f", "data.dvc"]);
        same_shapes(f, d, kind, "commit");
        assert_eq!(read(f, "data/a.txt"), "changed\n");
        assert_eq!(read(f, "data.dvc"), read(d, "data.dvc"));
    }
}

/// Mode of every directory and file in the cache, by path relative to the cache.
fn cache_modes(root: &Path) -> BTreeMap<String, u32> {
    let cache = root.join(".dvc/cache");
    walkdir(&cache)
        .into_iter()
        .map(|p| {
            let mode = std::fs::symlink_metadata(&p).unwrap().permissions().mode() & 0o7777;
            (
                p.strip_prefix(&cache)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                mode,
            )
        })
        .collect()
}

#[test]
fn a_group_shared_cache_gets_dvcs_modes() {
    let (f, d) = twins("[cache]\n    shared = group\n");
    let (f, d) = (f.path(), d.path());
    both(f, d, &["add", "data"]);
    both(f, d, &["add", "single.txt"]);
    let (ours, theirs) = (cache_modes(f), cache_modes(d));
    assert_eq!(ours, theirs);
    assert_eq!(ours.get("files/md5"), Some(&0o2775), "{ours:?}");
    assert!(
        ours.values().all(|m| *m == 0o2775 || *m == 0o444),
        "{ours:?}"
    );
    assert_eq!(
        std::fs::metadata(f.join(".dvc/cache"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        std::fs::metadata(d.join(".dvc/cache"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
    );
}
