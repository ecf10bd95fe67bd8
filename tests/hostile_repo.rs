//! A cloned repository must never make Ferry reach outside its workspace (DESIGN.md §6): every
//! test builds a hostile repository next to an `outside` directory and checks that Ferry refuses
//! with an error naming the path, and that nothing outside was written, truncated or deleted.
mod common;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// A repository `base/repo` beside a victim directory `base/outside`.
struct Hostile {
    _dir: tempfile::TempDir,
    base: PathBuf,
    repo: PathBuf,
    outside: PathBuf,
}

fn setup() -> Hostile {
    let dir = tempfile::Builder::new()
        .prefix("ferry-hostile-")
        .tempdir()
        .expect("tempdir");
    let base = dir.path().canonicalize().expect("canonical");
    let repo = base.join("repo");
    let outside = base.join("outside");
    std::fs::create_dir_all(&repo).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    ok(Command::new("git")
        .current_dir(&repo)
        .args(["init", "-q", "-b", "main"]));
    ok(ferry(&repo).arg("init"));
    Hostile {
        _dir: dir,
        base,
        repo,
        outside,
    }
}

impl Hostile {
    /// Adds `content` as `rel` with ferry (so the object is in the cache) and returns its md5.
    fn cached(&self, rel: &str, content: &str) -> String {
        write(&self.repo, rel, content);
        ok(ferry(&self.repo).args(["add", rel]));
        md5_hex(content.as_bytes())
    }

    /// The ferry command in the repository.
    fn ferry(&self) -> Command {
        ferry(&self.repo)
    }

    /// Files in `outside`, relative, sorted.
    fn outside_files(&self) -> Vec<String> {
        let mut out: Vec<String> = walk(&self.outside)
            .into_iter()
            .map(|p| {
                p.strip_prefix(&self.outside)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        out.sort();
        out
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A one-out `.dvc` file.
fn dvcfile(md5: &str, size: usize, path: &str, extra: &str) -> String {
    format!("outs:\n- md5: {md5}\n  size: {size}\n  hash: md5\n{extra}  path: {path}\n")
}

/// Runs `cmd`, asserts it failed with an `ERROR:` naming `needle`, returns stderr.
fn refused(cmd: &mut Command, needle: &str) -> String {
    let out: Output = run(cmd);
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "{cmd:?} succeeded\nstdout:\n{}\nstderr:\n{stderr}",
        text(&out.stdout)
    );
    assert!(
        stderr.contains("ERROR") && stderr.contains(needle),
        "{cmd:?}: error does not name '{needle}':\n{stderr}"
    );
    stderr
}

#[test]
fn a_symlinked_parent_of_an_out_is_never_written_through() {
    for absolute in [false, true] {
        let h = setup();
        let md5 = h.cached("real/x", "payload\n");
        let target = if absolute {
            h.outside.clone()
        } else {
            PathBuf::from("../outside")
        };
        symlink(&target, h.repo.join("data")).unwrap();
        write(&h.repo, "x.dvc", dvcfile(&md5, 8, "data/x", ""));
        refused(h.ferry().arg("checkout"), "data");
        refused(h.ferry().args(["checkout", "--force"]), "data");
        refused(h.ferry().arg("pull"), "data");
        assert!(h.outside_files().is_empty(), "{:?}", h.outside_files());
    }
}

#[test]
fn a_symlink_inside_a_tracked_directory_is_never_written_through() {
    let h = setup();
    write(&h.repo, "td/a.txt", "a\n");
    write(&h.repo, "td/sub/b.txt", "b\n");
    ok(h.ferry().args(["add", "td"]));
    std::fs::remove_dir_all(h.repo.join("td/sub")).unwrap();
    symlink("../../outside", h.repo.join("td/sub")).unwrap();
    refused(h.ferry().arg("checkout"), "td/sub");
    refused(h.ferry().args(["checkout", "--force"]), "td/sub");
    assert!(h.outside_files().is_empty(), "{:?}", h.outside_files());
}

#[test]
fn an_out_that_is_a_symlink_to_a_directory_is_replaced_not_emptied() {
    let h = setup();
    write(&h.repo, "td/a.txt", "a\n");
    ok(h.ferry().args(["add", "td"]));
    write(&h.outside, "precious.txt", "keep me\n");
    std::fs::remove_dir_all(h.repo.join("td")).unwrap();
    symlink("../outside", h.repo.join("td")).unwrap();
    refused(h.ferry().arg("checkout"), "td");
    ok(h.ferry().args(["checkout", "--force"]));
    assert_eq!(h.outside_files(), ["precious.txt"]);
    assert_eq!(read(&h.outside, "precious.txt"), "keep me\n");
    let meta = std::fs::symlink_metadata(h.repo.join("td")).unwrap();
    assert!(meta.is_dir(), "td is still a link");
    assert_eq!(read(&h.repo, "td/a.txt"), "a\n");
}

#[test]
fn add_through_a_symlinked_directory_is_refused_as_dvc_refuses_it() {
    let h = setup();
    write(&h.outside, "x", "outside data\n");
    symlink("../outside", h.repo.join("link")).unwrap();
    refused(h.ferry().args(["add", "link/x"]), "link");
    assert_eq!(h.outside_files(), ["x"]);
    assert!(!h.repo.join("link.dvc").exists());

    let d = git_repo();
    ok(dvc(d.path()).args(["init", "-q"]));
    symlink(&h.outside, d.path().join("link")).unwrap();
    let out = run(dvc(d.path()).args(["add", "-q", "link/x"]));
    assert!(!out.status.success(), "dvc added through a symlinked dir");
}

#[test]
fn add_refuses_a_symlink_to_a_file_outside_and_follows_one_inside() {
    let h = setup();
    write(&h.outside, "secret.txt", "id_rsa\n");
    write(&h.repo, "d/ok.txt", "ok\n");
    symlink("../../outside/secret.txt", h.repo.join("d/secret")).unwrap();
    refused(h.ferry().args(["add", "d"]), "d/secret");
    assert!(!h.repo.join("d.dvc").exists());
    let cache = h.repo.join(".dvc/cache");
    let stored: Vec<PathBuf> = walk(&cache);
    assert!(
        !stored
            .iter()
            .any(|p| std::fs::read(p).is_ok_and(|b| b == b"id_rsa\n")),
        "the outside file's bytes reached the cache"
    );

    // A link to a file inside the repository is followed, as dvc follows it: same .dvc bytes.
    std::fs::remove_file(h.repo.join("d/secret")).unwrap();
    write(&h.repo, "inside.txt", "inside\n");
    symlink("../inside.txt", h.repo.join("d/inner")).unwrap();
    ok(h.ferry().args(["add", "d"]));
    let d = git_repo();
    ok(dvc(d.path()).args(["init", "-q"]));
    write(d.path(), "d/ok.txt", "ok\n");
    write(d.path(), "inside.txt", "inside\n");
    symlink("../inside.txt", d.path().join("d/inner")).unwrap();
    ok(dvc(d.path()).args(["add", "-q", "d"]));
    assert_eq!(read(&h.repo, "d.dvc"), read(d.path(), "d.dvc"));
}

#[test]
fn symlinked_metadata_is_never_written_through() {
    // .dvc/tmp/lock -> a victim: neither truncated nor written.
    let h = setup();
    write(&h.base, "victim", "precious\n");
    std::fs::create_dir_all(h.repo.join(".dvc/tmp")).unwrap();
    let _ = std::fs::remove_file(h.repo.join(".dvc/tmp/lock"));
    symlink("../../../victim", h.repo.join(".dvc/tmp/lock")).unwrap();
    write(&h.repo, "f", "f\n");
    refused(h.ferry().args(["add", "f"]), ".dvc/tmp/lock");
    assert_eq!(read(&h.base, "victim"), "precious\n");

    // .gitignore -> a victim: not appended to.
    let h = setup();
    write(&h.base, "victim", "precious\n");
    symlink("../victim", h.repo.join(".gitignore")).unwrap();
    write(&h.repo, "f", "f\n");
    refused(h.ferry().args(["add", "f"]), ".gitignore");
    assert_eq!(read(&h.base, "victim"), "precious\n");
    assert!(
        !h.repo.join("f.dvc").exists(),
        "f.dvc written before the refusal"
    );

    // .dvc/tmp -> outside: nothing is created there.
    let h = setup();
    let _ = std::fs::remove_dir_all(h.repo.join(".dvc/tmp"));
    symlink("../../outside", h.repo.join(".dvc/tmp")).unwrap();
    write(&h.repo, "f", "f\n");
    refused(h.ferry().args(["add", "f"]), ".dvc/tmp");
    refused(h.ferry().arg("status"), ".dvc/tmp");
    assert!(h.outside_files().is_empty(), "{:?}", h.outside_files());

    // A committed .dvc/cache -> outside with no cache.dir configured: refused.
    let h = setup();
    let _ = std::fs::remove_dir_all(h.repo.join(".dvc/cache"));
    symlink("../../outside", h.repo.join(".dvc/cache")).unwrap();
    ok(Command::new("git")
        .current_dir(&h.repo)
        .args(["add", "-f", ".dvc/cache"]));
    write(&h.repo, "f", "f\n");
    refused(h.ferry().args(["add", "f"]), ".dvc/cache");
    assert!(h.outside_files().is_empty(), "{:?}", h.outside_files());

    // The same link made locally (not committed) is the user's own choice, kept as dvc keeps it.
    let h = setup();
    let _ = std::fs::remove_dir_all(h.repo.join(".dvc/cache"));
    symlink(&h.outside, h.repo.join(".dvc/cache")).unwrap();
    h.cached("f", "f\n");
    assert_eq!(h.outside_files().len(), 1, "{:?}", h.outside_files());
}

/// A large download goes through `.dvc/tmp/ferry/partial/`, and a push writes its record in
/// `.dvc/tmp/ferry/verified/`: a cloned repository that carries links there gets a refusal (for
/// the directories) or has the link removed (a partial file), and the link's target is never
/// written.
#[test]
fn partial_downloads_and_push_records_are_never_written_through_a_symlink() {
    const LARGE: usize = 9 << 20;
    let data: String = (0..LARGE)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let md5 = md5_hex(data.as_bytes());
    let push_to_remote = |h: &Hostile| {
        let remote = h.base.join("remote");
        std::fs::create_dir_all(&remote).unwrap();
        ok(h.ferry().args(["remote", "add", "-d", "r"]).arg(&remote));
        h.cached("big.bin", &data);
        ok(h.ferry().arg("push"));
        std::fs::remove_dir_all(h.repo.join(".dvc/cache")).unwrap();
        std::fs::remove_file(h.repo.join("big.bin")).unwrap();
    };

    // The partial file itself -> a victim: the link is removed, the pull completes, the victim
    // is untouched.
    let h = setup();
    push_to_remote(&h);
    write(&h.base, "victim", "precious\n");
    let partial = h.repo.join(".dvc/tmp/ferry/partial");
    std::fs::create_dir_all(&partial).unwrap();
    symlink(
        h.base.join("victim"),
        partial.join(format!("{md5}.partial")),
    )
    .unwrap();
    let out = run(h.ferry().arg("pull"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("symbolic link where Ferry keeps its partial downloads"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(read(&h.base, "victim"), "precious\n");
    assert!(read(&h.repo, "big.bin") == data, "the pulled file is whole");

    // The directories -> outside: refused before anything is downloaded.
    for dir in ["partial", "verified"] {
        let h = setup();
        push_to_remote(&h);
        std::fs::create_dir_all(h.repo.join(".dvc/tmp/ferry")).unwrap();
        symlink(&h.outside, h.repo.join(".dvc/tmp/ferry").join(dir)).unwrap();
        refused(h.ferry().arg("pull"), dir);
        refused(h.ferry().arg("push"), dir);
        assert!(h.outside_files().is_empty(), "{:?}", h.outside_files());
    }
}

/// The reserved outs: each is refused by status, fetch, checkout and pull before anything is
/// downloaded or written.
#[test]
fn reserved_outs_are_refused_before_any_download() {
    let script = "#!/bin/sh\necho pwned > /tmp/ferry-pwned\n";
    for (decl, declared, planted) in [
        ("hook.dvc", ".git/hooks/pre-commit", ".git/hooks/pre-commit"),
        ("conf.dvc", ".dvc/config.local", ".dvc/config.local"),
        ("x.dvc", "other.dvc", "other.dvc"),
        ("sub/y.dvc", "../z.dvc", "z.dvc"),
    ] {
        let h = setup();
        let remote = h.base.join("remote");
        ok(h.ferry().args(["remote", "add", "-d", "r"]).arg(&remote));
        let md5 = h.cached("payload.sh", script);
        ok(h.ferry().arg("push"));
        std::fs::remove_dir_all(h.repo.join(".dvc/cache")).unwrap();
        write(
            &h.repo,
            decl,
            dvcfile(&md5, script.len(), declared, "  isexec: true\n"),
        );
        let name = planted.rsplit('/').next().unwrap_or(planted);
        for args in [
            &["status"][..],
            &["fetch"],
            &["checkout"],
            &["pull"],
            &["pull", "--force"],
        ] {
            refused(h.ferry().args(args), name);
        }
        assert!(!h.repo.join(planted).exists(), "{planted} was written");
        assert!(
            walk(&h.repo.join(".dvc/cache")).is_empty(),
            "something was downloaded for {declared}"
        );
    }

    let h = setup();
    let md5 = h.cached("payload.sh", script);
    write(
        &h.repo,
        "dvc.lock",
        format!(
            "schema: '2.0'\nstages:\n  s:\n    cmd: true\n    outs:\n    - path: .git/hooks/post-checkout\n      hash: md5\n      md5: {md5}\n      size: {}\n      isexec: true\n",
            script.len()
        ),
    );
    refused(h.ferry().arg("checkout"), ".git/hooks/post-checkout");
    assert!(!h.repo.join(".git/hooks/post-checkout").exists());
}

#[test]
fn a_manifest_entry_under_git_is_refused() {
    let h = setup();
    write(&h.repo, "td/a.txt", "a\n");
    ok(h.ferry().args(["add", "td"]));
    let md5 = md5_hex(b"a\n");
    let manifest = format!(r#"[{{"md5": "{md5}", "relpath": ".git/hooks/pre-commit"}}]"#);
    let dir_md5 = md5_hex(manifest.as_bytes());
    let obj = h.repo.join(format!(
        ".dvc/cache/files/md5/{}/{}.dir",
        &dir_md5[..2],
        &dir_md5[2..]
    ));
    std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
    std::fs::write(&obj, &manifest).unwrap();
    write(
        &h.repo,
        "td.dvc",
        format!("outs:\n- md5: {dir_md5}.dir\n  size: 2\n  nfiles: 1\n  hash: md5\n  path: td\n"),
    );
    refused(
        h.ferry().args(["checkout", "--force"]),
        ".git/hooks/pre-commit",
    );
    assert!(!h.repo.join("td/.git").exists());
}

#[test]
fn non_utf8_names_are_refused_not_merged() {
    let h = setup();
    let d = h.repo.join("d");
    std::fs::create_dir_all(&d).unwrap();
    for (byte, content) in [(0xffu8, "one\n"), (0xfe, "two\n")] {
        let name = [byte, b'.', b'b', b'i', b'n'];
        std::fs::write(d.join(std::ffi::OsStr::from_bytes(&name)), content).unwrap();
    }
    let stderr = refused(h.ferry().args(["add", "d"]), ".bin");
    assert!(
        stderr.contains("d/\\xff.bin") || stderr.contains("d/\\xfe.bin"),
        "{stderr}"
    );
    assert!(!h.repo.join("d.dvc").exists());
    assert!(walk(&h.repo.join(".dvc/cache")).is_empty());
}

#[test]
fn a_leftover_temp_file_is_removed_not_called_an_unsaved_change() {
    let h = setup();
    write(&h.repo, "td/a.txt", "a\n");
    write(&h.repo, "td/b.txt", "b\n");
    ok(h.ferry().args(["add", "td"]));
    std::fs::remove_file(h.repo.join("td/b.txt")).unwrap();
    write(&h.repo, "td/.Ab3_-Cd4Ef5Gh6Ij7Kl8Mn.tmp", "half a copy");
    write(&h.repo, ".Zz9_-Yy8Xx7Ww6Vv5Uu4Tt.tmp", "beside a file out");
    h.cached("f", "f\n");
    ok(h.ferry().arg("checkout"));
    assert!(!h.repo.join("td/.Ab3_-Cd4Ef5Gh6Ij7Kl8Mn.tmp").exists());
    assert!(!h.repo.join(".Zz9_-Yy8Xx7Ww6Vv5Uu4Tt.tmp").exists());
    assert_eq!(read(&h.repo, "td/b.txt"), "b\n");
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| {
            !p.starts_with(dir.join(".dvc"))
                && !p.starts_with(dir.join(".git"))
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp"))
        })
        .collect()
}

#[test]
fn ctrl_c_during_checkout_leaves_no_temp_file_and_a_rerun_finishes() {
    let h = setup();
    let chunk = vec![7u8; 1 << 20];
    let mut content = Vec::new();
    for i in 0..24u8 {
        content.clear();
        for _ in 0..4 {
            content.extend_from_slice(&chunk);
        }
        content.push(i);
        write(&h.repo, &format!("big/{i}.bin"), &content);
    }
    ok(h.ferry().args(["add", "big"]));
    std::fs::remove_dir_all(h.repo.join("big")).unwrap();
    let child = h
        .ferry()
        .arg("checkout")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let start = std::time::Instant::now();
    while temp_files(&h.repo).is_empty() && start.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    ok(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let status = child.wait_with_output().expect("wait").status;
    assert!(
        status.code() == Some(252) || status.success(),
        "checkout ended with {status}"
    );
    assert!(temp_files(&h.repo).is_empty(), "{:?}", temp_files(&h.repo));
    ok(h.ferry().arg("checkout"));
    assert!(temp_files(&h.repo).is_empty(), "{:?}", temp_files(&h.repo));
    assert_eq!(walk(&h.repo.join("big")).len(), 24);
    let status = ok(h.ferry().arg("status"));
    assert!(!status.contains("modified"), "{status}");
}

#[test]
fn a_full_disk_is_named_with_the_path() {
    let h = setup();
    let content = vec![1u8; 2 << 20];
    write(&h.repo, "big.bin", &content);
    ok(h.ferry().args(["add", "big.bin"]));
    let mnt = h.repo.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    write(
        &h.repo,
        "mnt.dvc",
        dvcfile(&md5_hex(&content), content.len(), "mnt/big.bin", ""),
    );
    let stderr = refused(
        h.ferry().args(["checkout", "mnt.dvc"]),
        "no space left on device",
    );
    assert!(stderr.contains("mnt/big.bin"), "{stderr}");
    assert!(temp_files(&h.repo).is_empty(), "{:?}", temp_files(&h.repo));
}

#[test]
fn deeply_nested_yaml_is_rejected_quickly() {
    let h = setup();
    write(
        &h.repo,
        "x.dvc",
        format!(
            "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  size: 1\n  hash: md5\n  path: x\n  meta: {}\n",
            "[".repeat(100_000)
        ),
    );
    refused(h.ferry().arg("status"), "nested deeper than");
    std::fs::remove_file(h.repo.join("x.dvc")).unwrap();
    write(
        &h.repo,
        "dvc.lock",
        format!(
            "schema: '2.0'\nstages:\n  s:\n    cmd: {}\n",
            "{a: ".repeat(100_000)
        ),
    );
    refused(h.ferry().arg("status"), "nested deeper than");
}

#[test]
fn repository_config_files_are_never_written_through_a_symlink() {
    let h = setup();
    write(&h.base, "victim", "# my dotfile\n");
    std::fs::remove_file(h.repo.join(".dvc/config")).unwrap();
    symlink("../../victim", h.repo.join(".dvc/config")).unwrap();
    refused(
        h.ferry().args(["remote", "add", "r", "/tmp/ferry-nowhere"]),
        ".dvc/config",
    );
    assert_eq!(read(&h.base, "victim"), "# my dotfile\n");

    let h = setup();
    ok(h.ferry().args(["remote", "add", "r", "/tmp/ferry-nowhere"]));
    write(&h.base, "victim", "# my dotfile\n");
    symlink("../../victim", h.repo.join(".dvc/config.local")).unwrap();
    refused(
        h.ferry()
            .args(["remote", "add", "--local", "r2", "/tmp/ferry-nowhere"]),
        "config.local",
    );
    assert_eq!(read(&h.base, "victim"), "# my dotfile\n");

    let h = setup();
    write(&h.base, "victim", "# my dotfile\n");
    symlink("../../victim", h.repo.join(".dvc/ferry.toml")).unwrap();
    ok(h.ferry().args(["remote", "add", "r", "/tmp/ferry-nowhere"]));
    refused(
        h.ferry()
            .args(["remote", "modify", "r", "daily_download_limit", "1GB"]),
        "ferry.toml",
    );
    assert_eq!(read(&h.base, "victim"), "# my dotfile\n");
}
