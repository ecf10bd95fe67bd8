//! Drop-in for dvc's data commands (issue 14), against the pinned dvc in twin repositories: the
//! same starting files, one command by `ferry` in one twin and by `dvc` in the other, then the
//! files (byte for byte), exit codes and output compared.
mod common;
use std::path::Path;

use common::*;

/// Two git+DVC repositories, `a` made by ferry, `b` by dvc.
fn twins() -> (tempfile::TempDir, tempfile::TempDir) {
    let a = git_repo();
    let b = git_repo();
    ok(ferry(a.path()).arg("init"));
    ok(dvc(b.path()).args(["init", "-q"]));
    (a, b)
}

/// Writes the same file in both twins.
fn both(a: &Path, b: &Path, rel: &str, content: &str) {
    write(a, rel, content);
    write(b, rel, content);
}

fn yaml(text: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

/// `.dvc` layouts dvc reads. Where dvc keeps the layout (comments, flow style) or normalizes
/// the encoding (CRLF, BOM), ferry's file is byte-identical to dvc's; where dvc reformats the
/// whole file (4-space indents, quoted keys), ferry keeps the user's layout and changes only
/// the values, and both files hold the same document.
#[test]
fn re_adding_hand_formatted_dvc_files() {
    const OLD: &str = "0cc175b9c0f1b6a831c399e269772661";
    let same_bytes = [
        (
            "comments",
            format!(
                "# top\nouts:\n- md5: {OLD}   # the hash\n  size: 2   # sz\n  hash: md5\n  path: g\n  desc: my data # d\n  meta:\n    owner: me\n"
            ),
        ),
        (
            "crlf",
            format!("outs:\r\n- md5: {OLD}\r\n  size: 2\r\n  hash: md5\r\n  path: g\r\n"),
        ),
        (
            "bom",
            format!("\u{feff}outs:\n- md5: {OLD}\n  size: 2\n  hash: md5\n  path: g\n"),
        ),
        (
            "flow",
            format!("outs: [{{md5: {OLD}, size: 2, hash: md5, path: g}}]\n"),
        ),
        (
            "flow item, legacy",
            format!("outs:\n- {{md5: {OLD}, size: 2, path: g}}\n"),
        ),
    ];
    for (case, old) in &same_bytes {
        let (a, b) = twins();
        both(a.path(), b.path(), "g.dvc", old);
        both(a.path(), b.path(), "g", "hello world\n");
        ok(ferry(a.path()).args(["add", "g"]));
        ok(dvc(b.path()).args(["add", "-q", "g"]));
        assert_eq!(
            read(a.path(), "g.dvc"),
            read(b.path(), "g.dvc"),
            "{case}: ferry's file differs from dvc's"
        );
        assert!(
            ok(dvc(a.path()).arg("status")).contains("up to date"),
            "{case}"
        );
    }

    let kept_layout = [
        (
            "4-space indents",
            format!(
                "outs:\n    -   md5: {OLD}\n        size: 2\n        hash: md5\n        path: g\n"
            ),
            "outs:\n    -   md5: 6f5902ac237024bdd0c176cb93063dc4\n        size: 12\n        hash: md5\n        path: g\n",
        ),
        (
            "quoted keys",
            format!("outs:\n- \"md5\": \"{OLD}\"\n  \"size\": 2\n  \"path\": \"g\"\n"),
            "outs:\n- \"md5\": 6f5902ac237024bdd0c176cb93063dc4\n  \"size\": 12\n  \"path\": \"g\"\n  \"hash\": md5\n",
        ),
    ];
    for (case, old, expected) in &kept_layout {
        let (a, b) = twins();
        both(a.path(), b.path(), "g.dvc", old);
        both(a.path(), b.path(), "g", "hello world\n");
        ok(ferry(a.path()).args(["add", "g"]));
        ok(dvc(b.path()).args(["add", "-q", "g"]));
        let ours = read(a.path(), "g.dvc");
        assert_eq!(&ours, expected, "{case}");
        assert_eq!(yaml(&ours), yaml(&read(b.path(), "g.dvc")), "{case}");
        assert!(
            ok(dvc(a.path()).arg("status")).contains("up to date"),
            "{case}"
        );
        // and ferry reads dvc's rewrite of the same file
        assert!(
            ok(ferry(b.path()).arg("status")).contains("up to date"),
            "{case}"
        );
    }
}

/// A layout the in-place editor does not keep (an anchor) is written in dvc's canonical form,
/// the same bytes dvc writes, and never as YAML with a duplicate key.
#[test]
fn layouts_that_cannot_be_kept_get_dvcs_canonical_form() {
    let (a, b) = twins();
    let old = "outs:\n- md5: &h 0cc175b9c0f1b6a831c399e269772661\n  size: 2\n  hash: md5\n  path: g\n  meta:\n    was: *h\n    tags: [x, y]\n    empty: {}\n";
    both(a.path(), b.path(), "g.dvc", old);
    both(a.path(), b.path(), "g", "hello world\n");
    ok(ferry(a.path()).args(["add", "g"]));
    ok(dvc(b.path()).args(["add", "-q", "g"]));
    let ours = read(a.path(), "g.dvc");
    assert_eq!(yaml(&ours), yaml(&read(b.path(), "g.dvc")));
    assert!(ok(dvc(a.path()).arg("status")).contains("up to date"));
    assert_eq!(ours.matches("md5:").count(), 1, "{ours}");
}

/// Runs the same command line in both twins (`ferry …` and `dvc …`); returns both outputs.
fn twin_run(a: &Path, b: &Path, args: &[&str]) -> (std::process::Output, std::process::Output) {
    (run(ferry(a).args(args)), run(dvc(b).args(args)))
}

/// `add` of a file inside a tracked directory re-records the directory in its `.dvc` file
/// (same bytes, same `git add` advice as dvc); what dvc refuses, ferry refuses with the same
/// reason and exit code, writing nothing.
#[test]
fn add_inside_a_tracked_dir_and_what_add_refuses() {
    let (a, b) = twins();
    both(a.path(), b.path(), "data/a.csv", "1\n");
    ok(ferry(a.path()).args(["add", "data"]));
    ok(dvc(b.path()).args(["add", "-q", "data"]));
    both(a.path(), b.path(), "data/new.csv", "2\n");
    let (ours, theirs) = twin_run(a.path(), b.path(), &["add", "data/new.csv"]);
    assert_eq!(ours.status.code(), Some(0));
    assert_eq!(theirs.status.code(), Some(0));
    // the same advice, but for ferry's own `config` (which writes dvc's `core.autostage`)
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout).replace("dvc config", "ferry config")
    );
    assert!(
        text(&ours.stdout).contains("git add data.dvc"),
        "{}",
        text(&ours.stdout)
    );
    assert_eq!(read(a.path(), "data.dvc"), read(b.path(), "data.dvc"));
    assert!(!a.path().join("data/new.csv.dvc").exists());

    // a file git tracks
    both(a.path(), b.path(), "tracked.txt", "t\n");
    for root in [a.path(), b.path()] {
        ok(std::process::Command::new("git")
            .current_dir(root)
            .args(["add", "tracked.txt"]));
    }
    // a symlinked directory, and a file through it
    for root in [a.path(), b.path()] {
        write(root, "real/f", "r\n");
        std::os::unix::fs::symlink("real", root.join("link")).unwrap();
    }
    // a stage output
    for root in [a.path(), b.path()] {
        ok(dvc(root).args([
            "stage",
            "add",
            "-q",
            "-n",
            "s",
            "-o",
            "out.txt",
            "echo o > out.txt",
        ]));
        write(root, "out.txt", "o\n");
    }
    for (target, reason) in [
        (
            "tracked.txt",
            "output 'tracked.txt' is already tracked by SCM (e.g. Git)",
        ),
        (
            "link",
            "Cannot add files inside symlinked directories to DVC.",
        ),
        (
            "link/f",
            "Cannot add files inside symlinked directories to DVC.",
        ),
        (
            "out.txt",
            "cannot update 'out.txt': overlaps with an output of stage: 's' in 'dvc.yaml'.",
        ),
    ] {
        let (ours, theirs) = twin_run(a.path(), b.path(), &["add", target]);
        assert_eq!(theirs.status.code(), Some(1), "dvc add {target}");
        assert_eq!(ours.status.code(), Some(1), "ferry add {target}");
        for (who, out) in [("ferry", &ours), ("dvc", &theirs)] {
            assert!(
                text(&out.stderr).contains(reason),
                "{who} add {target}: {}",
                text(&out.stderr)
            );
        }
        let dvcfile = format!("{target}.dvc");
        assert!(!a.path().join(&dvcfile).exists(), "{dvcfile} written");
    }
}

/// `commit -f` of an out whose `.dvc` file has no hash yet records it and makes git ignore it,
/// as dvc does; both tools call the out "modified" before.
#[test]
fn commit_force_of_an_out_without_a_hash() {
    let (a, b) = twins();
    both(a.path(), b.path(), "g", "g\n");
    both(a.path(), b.path(), "g.dvc", "outs:\n- path: g\n");
    let (ours, theirs) = twin_run(a.path(), b.path(), &["status", "--json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&ours.stdout).unwrap(),
        serde_json::from_slice::<serde_json::Value>(&theirs.stdout).unwrap()
    );
    let (ours, theirs) = twin_run(a.path(), b.path(), &["commit", "-f", "g.dvc"]);
    assert_eq!(ours.status.code(), theirs.status.code());
    for f in ["g.dvc", ".gitignore"] {
        assert_eq!(read(a.path(), f), read(b.path(), f), "{f}");
    }
    assert_eq!(read(a.path(), ".gitignore"), "/g\n");
}

/// Both twins' stderr with their own root replaced by `<root>`.
fn stderr_of(out: &std::process::Output, root: &Path) -> String {
    text(&out.stderr).replace(&root.display().to_string(), "<root>")
}

/// Exit codes where ferry used to differ: `fetch` of data on no remote warns and exits 0,
/// `checkout` of a target that is not tracked exits 255.
#[test]
fn fetch_of_missing_data_warns_and_checkout_of_an_unknown_target_exits_255() {
    let (a, b) = twins();
    for root in [a.path(), b.path()] {
        let remote = root.join("remote");
        std::fs::create_dir_all(&remote).unwrap();
        ok(dvc(root).args(["remote", "add", "-d", "r"]).arg(&remote));
        write(root, "x", "x\n");
    }
    ok(ferry(a.path()).args(["add", "x"]));
    ok(dvc(b.path()).args(["add", "-q", "x"]));
    for root in [a.path(), b.path()] {
        std::fs::remove_dir_all(root.join(".dvc/cache")).unwrap();
    }
    let (ours, theirs) = twin_run(a.path(), b.path(), &["fetch"]);
    assert_eq!(theirs.status.code(), Some(0));
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours.stderr));
    for out in [&ours, &theirs] {
        let err = text(&out.stderr);
        assert!(
            err.starts_with("WARNING: Some of the cache files")
                && err.contains("401b30e3b8b5d629635a5c613cdb7919"),
            "{err}"
        );
    }
    let (ours, theirs) = twin_run(a.path(), b.path(), &["checkout", "nonexistent"]);
    assert_eq!(theirs.status.code(), Some(255));
    assert_eq!(ours.status.code(), Some(255));
    for out in [&ours, &theirs] {
        assert!(
            text(&out.stderr).starts_with("ERROR: Did you mean `git checkout nonexistent`?: 'nonexistent' does not exist as an output or a stage name"),
            "{}",
            text(&out.stderr)
        );
    }
}

/// With unsaved changes in one out, checkout restores nothing (not even the outs that are
/// simply missing) and refuses with dvc's message and exit code.
#[test]
fn checkout_is_all_or_nothing() {
    let (a, b) = twins();
    for root in [a.path(), b.path()] {
        write(root, "a", "a\n");
        write(root, "b", "b\n");
        write(root, "d/f", "f\n");
    }
    ok(ferry(a.path()).args(["add", "a", "b", "d"]));
    ok(dvc(b.path()).args(["add", "-q", "a", "b", "d"]));
    for root in [a.path(), b.path()] {
        std::fs::remove_file(root.join("a")).unwrap();
        std::fs::remove_file(root.join("d/f")).unwrap();
        write(root, "b", "changed\n");
    }
    let (ours, theirs) = twin_run(a.path(), b.path(), &["checkout"]);
    assert_eq!(theirs.status.code(), Some(255));
    assert_eq!(ours.status.code(), Some(255));
    let expected = "ERROR: Can't remove the following unsaved files without confirmation. Use `--force` to force.\n<root>/b\n";
    assert!(
        stderr_of(&theirs, b.path()).starts_with(expected),
        "{}",
        stderr_of(&theirs, b.path())
    );
    assert!(
        stderr_of(&ours, a.path()).starts_with(expected),
        "{}",
        stderr_of(&ours, a.path())
    );
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    for root in [a.path(), b.path()] {
        assert!(
            !root.join("a").exists() && !root.join("d/f").exists(),
            "nothing restored"
        );
        assert_eq!(read(root, "b"), "changed\n");
    }
}

/// Commands Ferry leaves to dvc name the dvc command line to run instead of clap's
/// "unrecognized subcommand"; a typo still gets clap's message.
#[test]
fn dvc_only_commands_say_to_run_dvc() {
    let (a, _b) = twins();
    for (args, line) in [
        (&["diff", "HEAD~1"][..], "dvc diff HEAD~1"),
        (&["repro"], "dvc repro"),
        (
            &["import", "https://x/y", "a b"],
            "dvc import https://x/y 'a b'",
        ),
        (&["ls", "--json", "."], "dvc ls --json ."),
    ] {
        let out = run(ferry(a.path()).args(args));
        assert_eq!(out.status.code(), Some(254), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with(&format!("ERROR: not in ferry: run `{line}`\nhint: ")),
            "{args:?}: {err}"
        );
    }
    let typo = run(ferry(a.path()).arg("pusj"));
    assert_eq!(typo.status.code(), Some(254));
    assert!(text(&typo.stderr).contains("unrecognized subcommand 'pusj'"));
}

/// `rm` (alias of `remove`), `init -f`, `--cd` do what dvc's `remove`, `init -f`, `--cd` do.
#[test]
fn rm_alias_init_force_and_cd() {
    let (a, b) = twins();
    both(a.path(), b.path(), "sub/x", "x\n");
    ok(ferry(a.path()).args(["add", "sub/x"]));
    ok(dvc(b.path()).args(["add", "-q", "sub/x"]));
    let ours = run(ferry(a.path()).args(["--cd", "sub", "status"]));
    let theirs = run(dvc(b.path()).args(["--cd", "sub", "status"]));
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    assert_eq!(ours.status.code(), theirs.status.code());

    ok(ferry(a.path()).args(["rm", "sub/x.dvc"]));
    ok(dvc(b.path()).args(["remove", "sub/x.dvc"]));
    for root in [a.path(), b.path()] {
        assert!(!root.join("sub/x.dvc").exists());
        assert!(!root.join("sub/.gitignore").exists());
    }

    for root in [a.path(), b.path()] {
        write(root, ".dvc/config", "[core]\n    remote = old\n");
    }
    let (ours, theirs) = twin_run(a.path(), b.path(), &["init"]);
    assert_eq!(theirs.status.code(), Some(1));
    assert_eq!(ours.status.code(), Some(1));
    let (ours, theirs) = twin_run(a.path(), b.path(), &["init", "-f"]);
    assert_eq!(theirs.status.code(), Some(0));
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours.stderr));
    for f in [".dvc/config", ".dvc/.gitignore", ".dvcignore"] {
        assert_eq!(read(a.path(), f), read(b.path(), f), "{f}");
    }
    assert!(
        !a.path().join(".dvc/cache").exists(),
        "dvc init -f drops the cache too"
    );
}

/// `--wait-for-lock` waits for a lock held longer than Ferry's few seconds of patience.
#[test]
fn wait_for_lock_waits_for_the_holder() {
    let (a, _b) = twins();
    write(a.path(), "x", "x\n");
    std::fs::create_dir_all(a.path().join(".dvc/tmp")).unwrap();
    let hold = |secs: &str| {
        std::process::Command::new("flock")
            .current_dir(a.path())
            .args([".dvc/tmp/lock", "sleep", secs])
            .spawn()
            .unwrap()
    };
    let mut holder = hold("5");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let refused = run(ferry(a.path()).args(["add", "x"]));
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("Unable to acquire lock"));
    holder.wait().unwrap();
    let mut holder = hold("5");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    ok(ferry(a.path()).args(["--wait-for-lock", "add", "x"]));
    assert!(started.elapsed() > std::time::Duration::from_secs(4));
    assert!(a.path().join("x.dvc").exists());
    holder.wait().unwrap();
}

/// Runs `cmd` with `input` on its stdin.
fn run_with_input(cmd: &mut std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Every file under `root/sub`, relative, sorted.
fn tree(root: &Path, sub: &str) -> Vec<String> {
    common::fixture::files_under(&root.join(sub))
}

/// gc asks first as dvc does: no answer (not interactive) removes nothing and exits 1, `y`
/// goes ahead with dvc's output, `-f` skips the prompt, `--dry` prints no removal warning;
/// `gc --cloud -f` with one remote removes the unused objects there, as dvc does.
#[test]
fn gc_prompts_like_dvc_and_cloud_gc_with_one_remote() {
    let (a, b) = twins();
    for root in [a.path(), b.path()] {
        let remote = root.join("remote");
        std::fs::create_dir_all(&remote).unwrap();
        ok(dvc(root).args(["remote", "add", "-d", "r"]).arg(&remote));
    }
    for v in ["one\n", "two\n", "three\n"] {
        both(a.path(), b.path(), "x", v);
        ok(ferry(a.path()).args(["add", "x"]));
        ok(ferry(a.path()).arg("push"));
        ok(dvc(b.path()).args(["add", "-q", "x"]));
        ok(dvc(b.path()).args(["push", "-q"]));
    }
    let cache_before = tree(a.path(), ".dvc/cache");
    assert_eq!(cache_before, tree(b.path(), ".dvc/cache"));
    assert_eq!(cache_before.len(), 3);

    let (ours, theirs) = twin_run(a.path(), b.path(), &["gc", "-w"]);
    assert_eq!(theirs.status.code(), Some(1));
    assert_eq!(ours.status.code(), Some(1));
    for out in [&ours, &theirs] {
        assert!(
            text(&out.stdout).starts_with("Are you sure you want to proceed? [y/n]: "),
            "{}",
            text(&out.stdout)
        );
    }
    assert_eq!(
        tree(a.path(), ".dvc/cache"),
        cache_before,
        "nothing removed"
    );
    assert_eq!(tree(b.path(), ".dvc/cache"), cache_before);

    let dry = run(ferry(a.path()).args(["gc", "-w", "--dry"]));
    assert_eq!(dry.status.code(), Some(0));
    assert_eq!(text(&dry.stderr), "", "--dry warns of no removal");
    assert!(text(&dry.stdout).contains("Would remove 2 objects from repo cache."));

    both(a.path(), b.path(), "y", "y\n");
    let ours = run_with_input(ferry(a.path()).args(["gc", "-w"]), "n\n");
    let theirs = run_with_input(dvc(b.path()).args(["gc", "-w"]), "n\n");
    assert_eq!(
        (ours.status.code(), theirs.status.code()),
        (Some(1), Some(1))
    );
    let ours = run_with_input(ferry(a.path()).args(["gc", "-w"]), "y\n");
    let theirs = run_with_input(dvc(b.path()).args(["gc", "-w"]), "y\n");
    assert_eq!(theirs.status.code(), Some(0));
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours.stderr));
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    assert_eq!(tree(a.path(), ".dvc/cache"), tree(b.path(), ".dvc/cache"));
    assert_eq!(tree(a.path(), ".dvc/cache").len(), 1);

    assert_eq!(tree(a.path(), "remote").len(), 3);
    let (ours, theirs) = twin_run(a.path(), b.path(), &["gc", "-w", "--cloud", "-f"]);
    assert_eq!(theirs.status.code(), Some(0));
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours.stderr));
    assert_eq!(tree(a.path(), "remote"), tree(b.path(), "remote"));
    assert_eq!(tree(a.path(), "remote").len(), 1, "{}", text(&ours.stdout));
}

/// `status` run in a subdirectory names files relative to it, as dvc does; a git+DVC
/// repository nested in the project is left to itself.
#[test]
fn status_from_a_subdirectory_and_nested_repositories() {
    let (a, b) = twins();
    for (root, tool) in [(a.path(), "ferry"), (b.path(), "dvc")] {
        write(root, "top.txt", "t\n");
        write(root, "a/b/x.txt", "x\n");
        write(root, "a/b/dd/q", "q\n");
        let args = ["add", "top.txt", "a/b/x.txt", "a/b/dd"];
        if tool == "ferry" {
            ok(ferry(root).args(args));
        } else {
            ok(dvc(root).args(args));
        }
        write(root, "top.txt", "t2\n");
        write(root, "a/b/x.txt", "x2\n");
        write(root, "a/b/dd/q", "q2\n");
        let sub = root.join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        ok(std::process::Command::new("git")
            .current_dir(&sub)
            .args(["init", "-q"]));
        ok(dvc(&sub).args(["init", "-q"]));
        write(&sub, "s.txt", "s\n");
        ok(dvc(&sub).args(["add", "-q", "s.txt"]));
        write(&sub, "s.txt", "s2\n");
    }
    for (dir, args) in [
        ("a/b", &["status"][..]),
        ("a/b", &["status", "--json"]),
        ("a", &["status", "b/x.txt.dvc"]),
        ("", &["status"]),
        ("sub", &["status"]),
    ] {
        let ours = run(ferry(&a.path().join(dir)).args(args));
        let theirs = run(dvc(&b.path().join(dir)).args(args));
        assert_eq!(
            text(&ours.stdout),
            text(&theirs.stdout),
            "{args:?} in '{dir}'"
        );
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{args:?} in '{dir}'"
        );
    }
    assert!(
        text(&run(ferry(&a.path().join("a/b")).arg("status")).stdout)
            .contains("modified:           ../../top.txt")
    );
}

/// Targets inside a tracked directory act on just those files, as dvc's granular targets:
/// `checkout data/dir/inner/i1` restores one file, `status -c data/dir/f3` compares one file
/// (and the `.dir`), `pull data/dir/f1` downloads the `.dir` and one file, not all seven objects.
#[test]
fn targets_inside_a_tracked_directory() {
    let (a, b) = twins();
    for (root, tool) in [(a.path(), "ferry"), (b.path(), "dvc")] {
        let remote = root.join("remote");
        std::fs::create_dir_all(&remote).unwrap();
        ok(dvc(root).args(["remote", "add", "-d", "r"]).arg(&remote));
        for f in ["f1", "f2", "f3", "inner/i1", "inner/i2"] {
            write(root, &format!("data/dir/{f}"), format!("{f}\n"));
        }
        let cmd = |args: &[&str]| {
            if tool == "ferry" {
                ok(ferry(root).args(args))
            } else {
                ok(dvc(root).args(args))
            }
        };
        cmd(&["add", "data/dir"]);
        cmd(&["push"]);
        std::fs::remove_dir_all(root.join("data/dir")).unwrap();
    }
    let (ours, theirs) = twin_run(a.path(), b.path(), &["checkout", "data/dir/inner/i1"]);
    assert_eq!(
        (ours.status.code(), theirs.status.code()),
        (Some(0), Some(0))
    );
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    assert_eq!(tree(a.path(), "data"), tree(b.path(), "data"));
    assert_eq!(
        tree(a.path(), "data"),
        [".gitignore", "dir.dvc", "dir/inner/i1"]
    );

    // an unsaved change in the named file is refused; one elsewhere in the directory is not
    // in the way
    for root in [a.path(), b.path()] {
        write(root, "data/dir/inner/i1", "edited\n");
        write(root, "data/dir/f2", "other edit\n");
    }
    let (ours, theirs) = twin_run(a.path(), b.path(), &["checkout", "data/dir/inner/i1"]);
    assert_eq!(
        (ours.status.code(), theirs.status.code()),
        (Some(255), Some(255))
    );
    let (ours, theirs) = twin_run(a.path(), b.path(), &["checkout", "data/dir/f1"]);
    assert_eq!(
        (ours.status.code(), theirs.status.code()),
        (Some(0), Some(0))
    );
    for root in [a.path(), b.path()] {
        assert_eq!(read(root, "data/dir/f1"), "f1\n");
        assert_eq!(read(root, "data/dir/f2"), "other edit\n");
        std::fs::remove_dir_all(root.join("data/dir")).unwrap();
        std::fs::remove_dir_all(root.join(".dvc/cache")).unwrap();
    }

    let (ours, theirs) = twin_run(
        a.path(),
        b.path(),
        &["status", "-c", "--json", "data/dir/f3"],
    );
    assert_eq!(
        (ours.status.code(), theirs.status.code()),
        (Some(0), Some(0))
    );
    let json = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(json(&ours), json(&theirs));
    assert_eq!(json(&ours), serde_json::json!({"data/dir/f3": "deleted"}));

    let (ours, theirs) = twin_run(a.path(), b.path(), &["pull", "data/dir/f1"]);
    assert_eq!(theirs.status.code(), Some(0));
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours.stderr));
    assert_eq!(tree(a.path(), ".dvc/cache"), tree(b.path(), ".dvc/cache"));
    assert_eq!(tree(a.path(), ".dvc/cache").len(), 2, "the .dir and f1");
    assert_eq!(tree(a.path(), "data"), tree(b.path(), "data"));
    assert_eq!(
        text(&ours.stdout).lines().next(),
        text(&theirs.stdout).lines().next()
    );
}

/// Runs `args` in both twins and checks the exit codes are `code` for both.
fn twin_code(
    a: &Path,
    b: &Path,
    args: &[&str],
    code: i32,
) -> (std::process::Output, std::process::Output) {
    let (ours, theirs) = twin_run(a, b, args);
    assert_eq!(
        theirs.status.code(),
        Some(code),
        "dvc {args:?}: {}",
        text(&theirs.stderr)
    );
    assert_eq!(
        ours.status.code(),
        Some(code),
        "ferry {args:?}: {}",
        text(&ours.stderr)
    );
    (ours, theirs)
}

/// `add --glob`, `--no-commit`, `-o`/`-f` with dvc's meaning: the same `.dvc` files, cache and
/// errors.
#[test]
fn add_glob_no_commit_and_out() {
    let (a, b) = twins();
    for f in ["g/a.csv", "g/b.csv", "g/sub/c.csv", "g/skip.txt"] {
        both(a.path(), b.path(), f, &format!("{f}\n"));
    }
    twin_code(a.path(), b.path(), &["add", "--glob", "g/*.csv"], 0);
    for f in ["g/a.csv.dvc", "g/b.csv.dvc", "g/.gitignore"] {
        assert_eq!(read(a.path(), f), read(b.path(), f), "{f}");
    }
    assert!(
        !a.path().join("g/sub/c.csv.dvc").exists() && !a.path().join("g/skip.txt.dvc").exists()
    );
    let (ours, theirs) = twin_code(a.path(), b.path(), &["add", "--glob", "zz*"], 1);
    for out in [&ours, &theirs] {
        assert!(
            text(&out.stderr).contains("Glob ['zz*'] has no matches."),
            "{}",
            text(&out.stderr)
        );
    }

    let (a, b) = twins();
    both(a.path(), b.path(), "d/f", "f\n");
    both(a.path(), b.path(), "x", "x\n");
    twin_code(a.path(), b.path(), &["add", "--no-commit", "d", "x"], 0);
    for f in ["d.dvc", "x.dvc", ".gitignore"] {
        assert_eq!(read(a.path(), f), read(b.path(), f), "{f}");
    }
    assert!(tree(a.path(), ".dvc/cache").is_empty() && tree(b.path(), ".dvc/cache").is_empty());
    let (ours, theirs) = twin_code(a.path(), b.path(), &["status", "--json"], 0);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&ours.stdout).unwrap(),
        serde_json::from_slice::<serde_json::Value>(&theirs.stdout).unwrap()
    );

    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "e.csv", "ext\n");
    let src = outside.path().join("e.csv").display().to_string();
    for root in [a.path(), b.path()] {
        std::fs::create_dir_all(root.join("data")).unwrap();
    }
    twin_code(a.path(), b.path(), &["add", &src, "-o", "data/e.csv"], 0);
    for f in ["data/e.csv", "data/e.csv.dvc", "data/.gitignore"] {
        assert_eq!(read(a.path(), f), read(b.path(), f), "{f}");
    }
    // (dvc leaves a `.tmp` file of its own in the cache here; ferry leaves none)
    let objects = |root: &Path| -> Vec<String> {
        tree(root, ".dvc/cache")
            .into_iter()
            .filter(|f| !f.ends_with(".tmp"))
            .collect()
    };
    assert_eq!(tree(a.path(), ".dvc/cache"), objects(b.path()));
    let (ours, theirs) = twin_code(a.path(), b.path(), &["add", &src, "-o", "data/e.csv"], 1);
    for out in [&ours, &theirs] {
        assert!(
            text(&out.stderr).contains("The file 'data/e.csv' already exists locally."),
            "{}",
            text(&out.stderr)
        );
    }
    twin_code(
        a.path(),
        b.path(),
        &["add", "-f", &src, "-o", "data/e.csv"],
        0,
    );
}

/// `checkout --summary`, `--allow-missing`, and `-R` for status/commit/checkout.
#[test]
fn checkout_summary_allow_missing_and_recursive() {
    let (a, b) = twins();
    for f in ["a", "b", "d/f", "d/g", "sub/x", "sub/deep/y"] {
        both(a.path(), b.path(), f, &format!("{f}\n"));
    }
    let files = ["a", "b", "d", "sub/x", "sub/deep/y"];
    ok(ferry(a.path()).arg("add").args(files));
    ok(dvc(b.path()).args(["add", "-q"]).args(files));
    for root in [a.path(), b.path()] {
        std::fs::remove_file(root.join("a")).unwrap();
        std::fs::remove_dir_all(root.join("d")).unwrap();
        write(root, "b", "changed\n");
    }
    let (ours, theirs) = twin_code(a.path(), b.path(), &["checkout", "--summary", "-f"], 0);
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    assert_eq!(text(&ours.stdout), "1 file modified and 3 files added\n");
    let (ours, theirs) = twin_code(a.path(), b.path(), &["checkout", "--summary"], 0);
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    assert_eq!(text(&ours.stdout), "No changes.\n");

    for root in [a.path(), b.path()] {
        std::fs::remove_file(root.join("a")).unwrap();
        let key = md5_hex(b"a\n");
        std::fs::remove_file(root.join(format!(
            ".dvc/cache/files/md5/{}/{}",
            &key[..2],
            &key[2..]
        )))
        .unwrap();
    }
    twin_code(a.path(), b.path(), &["checkout"], 255);
    twin_code(a.path(), b.path(), &["checkout", "--allow-missing"], 0);

    for root in [a.path(), b.path()] {
        write(root, "sub/x", "x2\n");
        write(root, "sub/deep/y", "y2\n");
    }
    for args in [&["status", "-R", "sub"][..], &["status", "-R", "sub/deep"]] {
        let (ours, theirs) = twin_code(a.path(), b.path(), args, 0);
        assert_eq!(text(&ours.stdout), text(&theirs.stdout), "{args:?}");
    }
    twin_code(a.path(), b.path(), &["commit", "-f", "-R", "sub/deep"], 0);
    assert_eq!(
        read(a.path(), "sub/deep/y.dvc"),
        read(b.path(), "sub/deep/y.dvc")
    );
    assert_eq!(read(a.path(), "sub/x.dvc"), read(b.path(), "sub/x.dvc"));
    for root in [a.path(), b.path()] {
        write(root, "sub/deep/y", "y3\n");
    }
    let (ours, theirs) = twin_code(a.path(), b.path(), &["checkout", "-f", "-R", "sub"], 0);
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    assert_eq!(read(a.path(), "sub/x"), "sub/x\n");
    assert_eq!(read(a.path(), "sub/deep/y"), "y2\n");
}

/// `-d/--with-deps`: the stages a target stage depends on are included, as in dvc.
#[test]
fn with_deps_includes_upstream_stages() {
    let (a, b) = twins();
    for root in [a.path(), b.path()] {
        write(root, "raw.txt", "raw\n");
        ok(dvc(root).args(["add", "-q", "raw.txt"]));
        ok(dvc(root).args([
            "stage",
            "add",
            "-q",
            "-n",
            "prep",
            "-d",
            "raw.txt",
            "-o",
            "prep.txt",
            "cp raw.txt prep.txt",
        ]));
        ok(dvc(root).args([
            "stage",
            "add",
            "-q",
            "-n",
            "train",
            "-d",
            "prep.txt",
            "-o",
            "model.txt",
            "cp prep.txt model.txt",
        ]));
        ok(dvc(root).args(["repro", "-q"]));
        write(root, "raw.txt", "raw changed\n");
        write(root, "prep.txt", "prep changed\n");
    }
    let json = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).unwrap()
    };
    for args in [
        &["status", "--json", "train"][..],
        &["status", "--json", "-d", "train"],
    ] {
        let (ours, theirs) = twin_code(a.path(), b.path(), args, 0);
        assert_eq!(json(&ours), json(&theirs), "{args:?}");
    }
    let (ours, _) = twin_code(a.path(), b.path(), &["status", "--json", "-d", "train"], 0);
    assert_eq!(json(&ours).as_object().unwrap().len(), 3, "{}", json(&ours));
}

fn git(root: &Path, args: &[&str]) {
    ok(std::process::Command::new("git")
        .current_dir(root)
        .args(args));
}

/// push/fetch `-a/-T/-A` (what branches, tags, all commits record), `-R` and push `--glob`,
/// as dvc: the same objects end up on the remote and in the cache.
#[test]
fn push_and_fetch_revisions_recursive_and_glob() {
    let (a, b) = twins();
    for (root, tool) in [(a.path(), "ferry"), (b.path(), "dvc")] {
        let remote = root.join("remote");
        std::fs::create_dir_all(&remote).unwrap();
        ok(dvc(root).args(["remote", "add", "-d", "r"]).arg(&remote));
        let add = |args: &[&str]| {
            if tool == "ferry" {
                ok(ferry(root).arg("add").args(args))
            } else {
                ok(dvc(root).args(["add", "-q"]).args(args))
            }
        };
        write(root, "x", "v1\n");
        add(&["x"]);
        git(root, &["add", "-A"]);
        git(root, &["commit", "-qm", "v1"]);
        git(root, &["tag", "t1"]);
        write(root, "x", "v2\n");
        add(&["x"]);
        git(root, &["commit", "-qam", "v2"]);
        git(root, &["checkout", "-qb", "side"]);
        write(root, "x", "v3\n");
        add(&["x"]);
        git(root, &["commit", "-qam", "v3"]);
        git(root, &["checkout", "-q", "main"]);
        ok(dvc(root).args(["checkout", "-q"]));
        write(root, "sub/deep/y", "y\n");
        write(root, "sub/z.csv", "z\n");
        add(&["sub/deep/y", "sub/z.csv"]);
    }
    let remote = |root: &Path| tree(root, "remote");
    for (args, objects) in [
        (&["push", "-R", "sub/deep"][..], 1),
        (&["push", "--glob", "sub/*.dvc"], 2),
        (&["push", "-T"], 4),
        (&["push", "-a"], 5),
        (&["push", "-A"], 5),
    ] {
        twin_code(a.path(), b.path(), args, 0);
        assert_eq!(remote(a.path()), remote(b.path()), "{args:?}");
        assert_eq!(remote(a.path()).len(), objects, "{args:?}");
    }
    for root in [a.path(), b.path()] {
        std::fs::remove_dir_all(root.join(".dvc/cache")).unwrap();
    }
    let cache = |root: &Path| -> Vec<String> {
        tree(root, ".dvc/cache")
            .into_iter()
            .filter(|f| !f.ends_with(".tmp"))
            .collect()
    };
    for (args, objects) in [(&["fetch", "-T"][..], 4), (&["fetch", "-A"], 5)] {
        twin_code(a.path(), b.path(), args, 0);
        assert_eq!(cache(a.path()), cache(b.path()), "{args:?}");
        assert_eq!(cache(a.path()).len(), objects, "{args:?}");
    }
}
