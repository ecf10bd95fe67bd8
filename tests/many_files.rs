//! Directories of more files than one batch of the streamed transfers (fetch hands the router
//! 4,096 objects at a time, checkout places 4,096 files at a time, push keeps 17-byte ids):
//! push, fetch and checkout still move every object once, name a failed or missing file by its
//! path, and leave the workspace byte for byte as it was.
mod common;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::fixture::{files_under, object_key, out_text, recorded_md5};
use common::*;

/// Files in `data/`: more than a batch, so the batches' seams are crossed.
const FILES: usize = 5000;

/// The content of `data/`'s file `i`: every tenth file repeats file 0's bytes and every 97th is
/// empty, so one object stands for many files in the same manifest.
fn content(i: usize) -> String {
    if i.is_multiple_of(97) {
        String::new()
    } else if i.is_multiple_of(10) {
        "shared\n".to_string()
    } else {
        format!("file {i}\n")
    }
}

fn rel(i: usize) -> String {
    format!("data/d{:02}/f{i:05}.txt", i % 37)
}

/// A repository with `data/` (a directory of [`FILES`] files), `more/` (a directory sharing
/// two of its objects) and `one.txt` (a file sharing another), added, and a local remote `r`.
fn repo() -> (tempfile::TempDir, PathBuf) {
    let (repo, remote) = common::fixture::repo_with_inner_remote();
    let root = repo.path();
    for i in 0..FILES {
        write(root, &rel(i), content(i));
    }
    write(root, "more/a.txt", content(1));
    write(root, "more/b.txt", "only in more\n");
    write(root, "more/c.txt", content(10));
    write(root, "one.txt", content(2));
    ok(ferry(root).args(["add", "data", "more", "one.txt"]));
    (repo, remote)
}

/// The md5 of `bytes`, as an object key of the DVC 3 layout.
fn key(bytes: &[u8]) -> String {
    use md5::Digest;
    object_key(&hex::encode(md5::Md5::digest(bytes)))
}

/// Every object key the outputs need (files and the two `.dir`s).
fn wanted(root: &Path) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = (0..FILES).map(|i| key(content(i).as_bytes())).collect();
    keys.insert(key(b"only in more\n"));
    for dvc in ["data.dvc", "more.dvc"] {
        keys.insert(object_key(&recorded_md5(root, dvc)));
    }
    keys
}

#[test]
fn more_files_than_a_batch_are_pushed_pulled_and_checked_out_once_each() {
    let (repo, remote) = repo();
    let root = repo.path();
    let out = ok(ferry(root).args(["push", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let wanted = wanted(root);
    let on_remote: BTreeSet<String> = files_under(&remote).into_iter().collect();
    assert_eq!(on_remote, wanted, "every object once, nothing else");
    assert_eq!(
        doc["remotes"][0]["pushed"]["objects"],
        wanted.len(),
        "{out}"
    );

    std::fs::remove_dir_all(root.join(".dvc/cache")).unwrap();
    for dir in ["data", "more"] {
        std::fs::remove_dir_all(root.join(dir)).unwrap();
    }
    std::fs::remove_file(root.join("one.txt")).unwrap();
    let out = ok(ferry(root).args(["pull", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["fetched"]["objects"], wanted.len(), "{out}");
    assert_eq!(doc["checkout"]["added"], FILES + 3 + 1, "{out}");
    for i in 0..FILES {
        assert_eq!(read(root, &rel(i)), content(i), "{}", rel(i));
    }
    assert_eq!(read(root, "more/c.txt"), content(10));
    assert_eq!(read(root, "one.txt"), content(2));
    let placed = files_under(&root.join("data"));
    assert_eq!(placed.len(), FILES, "no other file (no temp file left)");
    assert!(ok(ferry(root).args(["status"])).contains("up to date"));
}

/// The md5 an object key names.
fn hex_of(key: &str) -> String {
    key.trim_start_matches("files/md5/").replace('/', "")
}

#[test]
fn a_file_the_cache_lacks_is_named_by_push_and_stops_checkout_before_any_file() {
    let (repo, _remote) = repo();
    let root = repo.path();
    let lost = key(content(4321).as_bytes());
    std::fs::remove_file(root.join(".dvc/cache").join(&lost)).unwrap();

    let out = run(ferry(root).args(["push", "--json"]));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["missing_local"],
        serde_json::json!([{"md5": hex_of(&lost), "path": rel(4321)}]),
        "{}",
        out_text(&out)
    );

    std::fs::remove_dir_all(root.join("data")).unwrap();
    let out = run(ferry(root).args(["checkout", "data"]));
    assert!(!out.status.success(), "{}", out_text(&out));
    assert!(
        text(&out.stderr).contains("Checkout failed for following targets:\ndata\n"),
        "{}",
        out_text(&out)
    );
    assert!(
        !root.join("data").exists() || files_under(&root.join("data")).is_empty(),
        "nothing placed before the check"
    );
}

#[test]
fn a_failed_upload_of_a_directory_file_is_reported_with_its_path() {
    let (repo, remote) = repo();
    let root = repo.path();
    // a directory where one object should go: its upload fails, the others go
    let blocked = key(content(1234).as_bytes());
    std::fs::create_dir_all(remote.join(&blocked).join("x")).unwrap();
    let out = run(ferry(root).args(["push", "--json"]));
    assert!(!out.status.success(), "{}", out_text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = doc["remotes"][0]["failed"].to_string();
    assert!(failed.contains(&rel(1234)), "{failed}");
    assert!(
        failed.contains("data"),
        "the .dir is held back too: {failed}"
    );
    let on_remote: BTreeSet<String> = files_under(&remote).into_iter().collect();
    let data_dir = wanted(root)
        .into_iter()
        .filter(|k| k.ends_with(".dir"))
        .filter(|k| !on_remote.contains(k))
        .count();
    assert_eq!(data_dir, 1, "data's .dir is not uploaded, more's is");
}
