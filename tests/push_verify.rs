//! Push hashes what it reads (dvc issue #10498): a cache object whose bytes no longer match its
//! name, even one with the trusted 0444 mode, is never uploaded, to a local directory or to S3
//! (small objects are checked in memory, large ones while they stream, before the last part).
mod common;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

const BIG: usize = 9 << 20;

/// A repository with `data/` holding a small good file, a small file and a big (9 MiB, past
/// the in-memory limit) file whose cache copies are then damaged in place, same size, mode
/// 0444 kept. Returns the keys of the two damaged objects and of the good one.
fn repo_with_damaged_cache(
    remote_url: &str,
    extra_config: &str,
) -> (tempfile::TempDir, [String; 3]) {
    let repo = git_repo();
    let root = repo.path();
    ok(ferry(root).args(["init", "-q"]));
    ok(ferry(root).args(["remote", "add", "-d", "r", remote_url]));
    if !extra_config.is_empty() {
        std::fs::write(root.join(".dvc/config.local"), extra_config).unwrap();
    }
    let big: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
    write(root, "data/good.txt", "good\n");
    write(root, "data/small.txt", "small\n");
    write(root, "data/big.bin", &big);
    ok(ferry(root).args(["add", "data"]));
    let keys = [key_of(b"small\n"), key_of(&big), key_of(b"good\n")];
    for (key, len) in [(&keys[0], 6), (&keys[1], BIG)] {
        let path = root.join(".dvc/cache").join(key);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&path, vec![b'X'; len]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    (repo, keys)
}

fn assert_refused(out: &std::process::Output) {
    let stderr = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        format!("{stdout}{stderr}").contains("corrupt and was not uploaded"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

#[test]
fn a_damaged_cache_object_never_reaches_a_local_remote() {
    let remote = tempfile::tempdir().unwrap();
    let (repo, [small, big, good]) =
        repo_with_damaged_cache(&remote.path().display().to_string(), "");
    assert_refused(&run(ferry(repo.path()).arg("push")));
    let on_remote = |k: &str| remote.path().join(k).exists();
    assert!(on_remote(&good), "the good object is uploaded");
    assert!(!on_remote(&small), "damaged small object uploaded");
    assert!(!on_remote(&big), "damaged big object uploaded");
    // no temp file is left where the objects would have gone
    for key in [&small, &big] {
        let dir = remote
            .path()
            .join(Path::new(key.as_str()).parent().unwrap());
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
    }
}

#[test]
fn a_damaged_big_cache_object_never_completes_an_s3_upload() {
    let prefix = unique_prefix("push-verify");
    let url = format!("s3://{}/{prefix}", s3_bucket());
    let config = format!(
        "['remote \"r\"']\n    endpointurl = {}\n    access_key_id = {}\n    secret_access_key = {}\n",
        s3_endpoint(),
        s3_key(),
        s3_secret()
    );
    let (repo, [small, big, good]) = repo_with_damaged_cache(&url, &config);
    assert_refused(&run(ferry(repo.path()).arg("push")));
    let remote = ferry::remote::open(&s3_spec("check", url)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let keys = rt.block_on(remote.list("")).unwrap();
    assert!(keys.contains(&good), "{keys:?}");
    assert!(!keys.contains(&small) && !keys.contains(&big), "{keys:?}");
    for k in keys {
        rt.block_on(remote.delete(&k)).unwrap();
    }
}
