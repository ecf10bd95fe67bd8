//! `ferry init` makes exactly the files `dvc init` makes.
mod common;
use common::*;

#[test]
fn init_matches_dvc_init() {
    let a = git_repo();
    let b = git_repo();
    ok(ferry(a.path()).arg("init"));
    ok(dvc(b.path()).arg("init").arg("-q"));
    for f in [".dvc/config", ".dvc/.gitignore", ".dvcignore"] {
        assert_eq!(read(a.path(), f), read(b.path(), f), "{f} differs");
    }
    assert!(a.path().join(".dvc/tmp/btime").exists());
    // A second init changes nothing and says so.
    let out = run(ferry(a.path()).arg("init"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("exists"));
}

#[test]
fn init_no_scm_matches_dvc() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    ok(ferry(a.path()).args(["init", "--no-scm"]));
    ok(dvc(b.path()).args(["init", "--no-scm", "-q"]));
    assert_eq!(read(a.path(), ".dvc/config"), read(b.path(), ".dvc/config"));
    assert!(!a.path().join(".dvc/.gitignore").exists());
}
