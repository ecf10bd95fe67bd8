//! Legacy DVC 2.x outputs (no `hash:` key): a repository made once with dvc 2.58.2 and kept as
//! `tests/fixtures-legacy.tar` (repo/ with a CRLF text file and a directory, plus remote/, the
//! local remote it was pushed to in the root layout).
mod common;
use common::*;

#[test]
fn legacy_outputs_are_clean_and_check_out_from_the_root_layout() {
    let fx = legacy_fixture();
    let repo = fx.path().join("repo");
    assert!(ok(ferry(&repo).arg("status")).contains("Data and pipelines are up to date."));
    std::fs::remove_dir_all(repo.join("d")).unwrap();
    std::fs::remove_file(repo.join("crlf.txt")).unwrap();
    let out = ok(ferry(&repo).arg("status"));
    assert!(
        out.contains("deleted:            d") && out.contains("deleted:            crlf.txt"),
        "{out}"
    );
    ok(ferry(&repo).arg("checkout"));
    assert_eq!(
        std::fs::read(repo.join("crlf.txt")).unwrap(),
        b"line1\r\nline2\r\n"
    );
    assert_eq!(std::fs::read(repo.join("d/b.bin")).unwrap(), b"bin\0\r\n");
    assert!(ok(dvc(&repo).arg("status")).contains("up to date"));
}

#[test]
fn unchanged_legacy_stays_legacy_and_changed_gets_plain_md5() {
    let fx = legacy_fixture();
    let repo = fx.path().join("repo");
    let before = read(&repo, "crlf.txt.dvc");
    ok(ferry(&repo).args(["add", "crlf.txt"]));
    assert_eq!(
        read(&repo, "crlf.txt.dvc"),
        before,
        "unchanged legacy output must stay legacy"
    );

    write(&repo, "crlf.txt", "changed\n");
    ok(ferry(&repo).args(["add", "crlf.txt"]));
    let md5 = md5_hex(b"changed\n");
    assert_eq!(
        read(&repo, "crlf.txt.dvc"),
        format!("outs:\n- md5: {md5}\n  size: 8\n  path: crlf.txt\n  hash: md5\n")
    );
    assert!(
        repo.join(format!(
            ".dvc/cache/files/md5/{}",
            &md5_hex(b"changed\n")[..2]
        ))
        .is_dir()
    );
    assert!(ok(dvc(&repo).arg("status")).contains("up to date"));
}
