//! Pipelines against the real dvc: a three-stage `dvc.yaml` built and run by the pinned dvc
//! (a cached dir out, a `cache: false` metric, a plot, params, a persisted out, a `push: false`
//! out and an out with its own `remote:`), then ferry and dvc compared byte for byte: status
//! text and `--json` after each kind of change, what each remote holds after push, the files
//! after a fresh-clone pull and checkout, `gc -w`, and `.dvc` files with deps.
mod common;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use tempfile::TempDir;

/// What a command did: exit code, stdout, stderr.
type Outcome = (Option<i32>, String, String);

fn outcome(cmd: &mut Command) -> Outcome {
    let o = run(cmd);
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

/// Runs the same arguments with both tools in `repo` and asserts exit code and stdout agree
/// (and stderr too when `same_stderr`); returns ferry's outcome.
fn agree(repo: &Path, args: &[&str], same_stderr: bool) -> Outcome {
    let d = outcome(dvc(repo).args(args));
    let f = outcome(ferry(repo).args(args));
    assert_eq!(f.0, d.0, "exit code of {args:?}\nferry: {f:?}\ndvc: {d:?}");
    assert_eq!(f.1, d.1, "stdout of {args:?}\nferry stderr: {}", f.2);
    if same_stderr {
        assert_eq!(f.2, d.2, "stderr of {args:?}");
    }
    f
}

/// `status` and `status --json` (each with and without `-q`) agree in `repo`.
fn status_agrees(repo: &Path, targets: &[&str]) -> String {
    let mut args = vec!["status"];
    args.extend(targets);
    let text = agree(repo, &args, true).1;
    args.push("--json");
    agree(repo, &args, true);
    args.pop();
    args.push("-q");
    agree(repo, &args, false);
    text
}

fn git(repo: &Path, args: &[&str]) {
    ok(Command::new("git")
        .current_dir(repo)
        .args(["-c", "user.name=t", "-c", "user.email=t@127.0.0.1"])
        .args(args));
}

fn files_under(root: &Path) -> BTreeSet<String> {
    common::fixture::files_under(root).into_iter().collect()
}

/// The workspace (not `.git`, not `.dvc`) as path → bytes.
fn workspace(root: &Path) -> Vec<(String, Vec<u8>)> {
    files_under(root)
        .into_iter()
        .filter(|p| !p.starts_with(".git/") && !p.starts_with(".dvc/"))
        .map(|p| {
            let bytes = std::fs::read(root.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

/// The pipeline repository, run by dvc and committed, with remotes `r1` (default) and `r2`.
struct Project {
    repo: TempDir,
    remotes: TempDir,
}

const DVC_YAML_EXTRA: [(&str, &str); 2] = [
    (
        "    - elsewhere.bin\n",
        "    - elsewhere.bin:\n        remote: r2\n",
    ),
    (
        "    - nopush.bin\n",
        "    - nopush.bin:\n        push: false\n",
    ),
];

fn project() -> Project {
    let repo = git_repo();
    let remotes = tempfile::tempdir().unwrap();
    let r = repo.path();
    ok(dvc(r).args(["init", "-q"]));
    write(r, "raw/in.txt", "a\nb\nc\n");
    write(r, "src/prep.sh", "echo prep\n");
    write(
        r,
        "params.yaml",
        "prep:\n  ratio: 0.5\n  seed: 1\ntrain:\n  epochs: 3\n",
    );
    for (name, default) in [("r1", true), ("r2", false)] {
        let url = remotes.path().join(name);
        std::fs::create_dir_all(&url).unwrap();
        let mut cmd = dvc(r);
        cmd.args(["remote", "add", "-q"]);
        if default {
            cmd.arg("-d");
        }
        ok(cmd.arg(name).arg(&url));
    }
    ok(dvc(r).args([
        "stage",
        "add",
        "-q",
        "-n",
        "prep",
        "-d",
        "src/prep.sh",
        "-d",
        "raw/in.txt",
        "-p",
        "prep.ratio,prep.seed",
        "-o",
        "prepared",
        "mkdir -p prepared && cp raw/in.txt prepared/a.txt && echo b > prepared/b.txt",
    ]));
    ok(dvc(r).args([
        "stage", "add", "-q", "-n", "train", "-d", "prepared", "-p", "train", "-o", "model.bin",
        "-M", "metrics.json", "--plots", "plots.csv", "--outs-persist", "hist.txt",
        "cat prepared/a.txt > model.bin && echo '{\"acc\": 1}' > metrics.json && echo 'x,y' > plots.csv && echo run >> hist.txt",
    ]));
    ok(dvc(r).args([
        "stage",
        "add",
        "-q",
        "-n",
        "eval",
        "-d",
        "model.bin",
        "-O",
        "log.txt",
        "-o",
        "nopush.bin",
        "-o",
        "elsewhere.bin",
        "echo log > log.txt && echo np > nopush.bin && echo el > elsewhere.bin",
    ]));
    let mut yaml = read(r, "dvc.yaml");
    for (from, to) in DVC_YAML_EXTRA {
        assert!(yaml.contains(from), "{yaml}");
        yaml = yaml.replace(from, to);
    }
    write(r, "dvc.yaml", yaml);
    ok(dvc(r).args(["repro", "-q"]));
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "pipeline"]);
    Project { repo, remotes }
}

impl Project {
    /// A copy of the whole repository (cache included) with its own empty remotes.
    fn twin(&self) -> Project {
        let repo = tempfile::Builder::new()
            .prefix("ferry-twin-")
            .tempdir()
            .unwrap();
        ok(Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", self.repo.path().display()))
            .arg(repo.path()));
        let remotes = tempfile::tempdir().unwrap();
        for name in ["r1", "r2"] {
            let url = remotes.path().join(name);
            std::fs::create_dir_all(&url).unwrap();
            ok(dvc(repo.path())
                .args(["remote", "modify", name, "url"])
                .arg(&url));
        }
        Project { repo, remotes }
    }

    fn remote(&self, name: &str) -> BTreeSet<String> {
        files_under(&self.remotes.path().join(name))
    }

    /// A fresh `git clone` (no cache) using the same remotes.
    fn clone(&self) -> TempDir {
        common::fixture::git_clone(self.repo.path())
    }
}

#[test]
fn push_sends_each_stage_out_where_dvc_does() {
    let a = project();
    let b = a.twin();
    let d = outcome(dvc(a.repo.path()).arg("push"));
    let f = outcome(ferry(b.repo.path()).arg("push"));
    assert_eq!(f.0, d.0, "{f:?} vs {d:?}");
    for name in ["r1", "r2"] {
        assert_eq!(b.remote(name), a.remote(name), "remote {name} after push");
    }
    // the cached dir's 2 files + .dir (the model is a copy of one of them), the plot, the
    // persisted out: no metric, no log (cache: false), no nopush.bin (push: false);
    // elsewhere.bin only on r2
    assert_eq!(a.remote("r1").len(), 5, "{:?}", a.remote("r1"));
    assert_eq!(a.remote("r2").len(), 1);
    // dvc prints `status -c` in set order: compare the lines and the parsed JSON
    let sorted = |s: String| s.lines().map(str::to_string).collect::<BTreeSet<_>>();
    for args in [&["status", "-c"][..], &["status", "-r", "r2"]] {
        let d = outcome(dvc(b.repo.path()).args(args));
        let f = outcome(ferry(b.repo.path()).args(args));
        assert_eq!((f.0, sorted(f.1)), (d.0, sorted(d.1)), "{args:?}");
        let json = |cmd: &mut Command| -> serde_json::Value {
            serde_json::from_str(&ok(cmd.args(args).arg("--json"))).unwrap()
        };
        assert_eq!(
            json(&mut ferry(b.repo.path())),
            json(&mut dvc(b.repo.path())),
            "{args:?} --json"
        );
    }
    // nothing new to push a second time
    assert_eq!(
        outcome(ferry(b.repo.path()).arg("push")).1,
        "Everything is up to date.\n"
    );
}

#[test]
fn fresh_clone_pull_and_checkout_agree_with_dvc() {
    let p = project();
    ok(dvc(p.repo.path()).arg("push"));
    let (cd, cf) = (p.clone(), p.clone());
    // nopush.bin is on no remote: both pulls fetch the rest, check it out and fail on it
    let d = outcome(dvc(cd.path()).arg("pull"));
    let f = outcome(ferry(cf.path()).arg("pull"));
    assert_eq!(f.0, d.0, "pull exit\nferry: {f:?}\ndvc: {d:?}");
    assert_eq!(f.0, Some(1));
    // ferry adds its per-remote table (`remote  objects  bytes …`, one row per remote)
    let lines = |s: &str| {
        s.lines()
            .filter(|l| {
                !l.starts_with("remote  ") && !l.starts_with("r1 ") && !l.starts_with("r2 ")
            })
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(lines(&f.1), lines(&d.1), "pull output");
    assert_eq!(
        workspace(cf.path()),
        workspace(cd.path()),
        "files after pull"
    );
    for clone in [cd.path(), cf.path()] {
        status_agrees(clone, &[]);
        agree(clone, &["status", "-c", "--json"], true);
    }
    // a deleted `cache: false` metric and a deleted cached dir; checkout by stage targets
    for clone in [cd.path(), cf.path()] {
        std::fs::remove_file(clone.join("metrics.json")).unwrap();
        std::fs::remove_dir_all(clone.join("prepared")).unwrap();
    }
    status_agrees(cf.path(), &[]);
    let d = outcome(dvc(cd.path()).args(["checkout", "-f", "dvc.yaml:prep", "train"]));
    let f = outcome(ferry(cf.path()).args(["checkout", "-f", "dvc.yaml:prep", "train"]));
    assert_eq!(
        (f.0, &f.1),
        (d.0, &d.1),
        "checkout by stage\nferry: {f:?}\ndvc: {d:?}"
    );
    assert_eq!(
        workspace(cf.path()),
        workspace(cd.path()),
        "files after checkout"
    );
    for args in [
        &["status", "train"][..],
        &["status", "dvc.yaml:eval"],
        &["status", "model.bin"],
    ] {
        agree(cf.path(), args, true);
    }
    agree(cf.path(), &["pull", "dvc.yaml:train"], false);
}

#[test]
fn status_after_each_kind_of_change_agrees_with_dvc() {
    let p = project();
    let r = p.repo.path();
    assert_eq!(
        status_agrees(r, &[]),
        "Data and pipelines are up to date.\n"
    );
    // a param and a source file
    write(
        r,
        "params.yaml",
        "prep:\n  ratio: 0.7\n  seed: 1\ntrain:\n  epochs: 3\n",
    );
    write(r, "src/prep.sh", "echo prep 2\n");
    let text = status_agrees(r, &[]);
    assert!(text.contains("prep.ratio"), "{text}");
    git(r, &["checkout", "-q", "--", "params.yaml", "src/prep.sh"]);
    // an upstream out (a dep of the next stage), a whole-section param, a deleted metric
    let a = r.join("prepared/a.txt");
    let mut perm = std::fs::metadata(&a).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&a, perm).unwrap();
    std::fs::write(&a, "changed\n").unwrap();
    write(
        r,
        "params.yaml",
        "prep:\n  ratio: 0.5\n  seed: 1\ntrain:\n  epochs: 4\n",
    );
    std::fs::remove_file(r.join("metrics.json")).unwrap();
    status_agrees(r, &[]);
    status_agrees(r, &["train"]);
    status_agrees(r, &["dvc.yaml:prep"]);
    status_agrees(r, &["prepared"]);
    // a changed command, always_changed, a frozen stage and a stage that never ran
    let mut yaml = read(r, "dvc.yaml");
    yaml = yaml
        .replace("echo log > log.txt", "echo log2 > log.txt")
        .replace("  eval:\n", "  eval:\n    always_changed: true\n")
        .replace("  train:\n", "  train:\n    frozen: true\n");
    yaml.push_str("  never:\n    cmd: echo hi > never.txt\n    deps:\n    - raw/in.txt\n    params:\n    - prep.seed\n    outs:\n    - never.txt\n");
    write(r, "dvc.yaml", yaml);
    status_agrees(r, &[]);
    status_agrees(r, &["never", "eval"]);
    // a cached out whose object left the cache
    let model = ferry::hash::file_md5(&r.join("model.bin")).unwrap().0;
    let obj = r.join(format!(
        ".dvc/cache/files/md5/{}/{}",
        &model[..2],
        &model[2..]
    ));
    std::fs::remove_file(obj).unwrap();
    status_agrees(r, &["model.bin"]);
}

#[test]
fn gc_keeps_nothing_for_cache_false_outs() {
    let a = project();
    let b = a.twin();
    let cache = |p: &Project| files_under(&p.repo.path().join(".dvc/cache/files"));
    assert_eq!(cache(&a), cache(&b));
    ok(dvc(a.repo.path()).args(["gc", "-w", "-f", "-q"]));
    ok(ferry(b.repo.path()).args(["gc", "-w", "-f", "-q"]));
    assert_eq!(cache(&b), cache(&a), "cache after gc -w");
}

#[test]
fn dvc_files_with_deps_report_as_dvc() {
    let repo = git_repo();
    let r = repo.path();
    let outside = tempfile::tempdir().unwrap();
    ok(dvc(r).args(["init", "-q"]));
    let src = outside.path().join("source.txt");
    std::fs::write(&src, "v1\n").unwrap();
    ok(dvc(r).args(["import-url", "-q"]).arg(&src).arg("imp.txt"));
    write(r, "a.txt", "a\n");
    ok(dvc(r).args(["add", "-q", "a.txt"]));
    let mut a = read(r, "a.txt.dvc");
    a.push_str("always_changed: true\n");
    write(r, "a.txt.dvc", a);
    status_agrees(r, &["imp.txt.dvc"]);
    status_agrees(r, &["a.txt.dvc"]);
    std::fs::write(&src, "v2\n").unwrap();
    status_agrees(r, &["imp.txt.dvc"]);
    std::fs::remove_file(&src).unwrap();
    status_agrees(r, &["imp.txt.dvc"]);
}

#[test]
fn repro_is_left_to_dvc() {
    let p = project();
    let f = outcome(ferry(p.repo.path()).arg("repro"));
    assert_eq!(f.0, Some(254), "{f:?}");
    assert!(f.2.contains("dvc repro"), "{f:?}");
}

#[test]
fn commit_records_changed_stages_in_dvc_lock_as_dvc() {
    let a = project();
    let b = a.twin();
    for p in [&a, &b] {
        let r = p.repo.path();
        write(
            r,
            "params.yaml",
            "prep:\n  ratio: 0.25\n  seed: 1\ntrain:\n  epochs: 1e-5\n",
        );
        write(r, "src/prep.sh", "echo changed\n");
        write(r, "prepared/c.txt", "new\n");
        write(r, "metrics.json", "{\"acc\": 2}\n");
    }
    let (ra, rb) = (a.repo.path(), b.repo.path());
    let d = outcome(dvc(ra).arg("commit"));
    let f = outcome(ferry(rb).arg("commit"));
    assert_eq!(
        (f.0, &f.1),
        (d.0, &d.1),
        "commit without -f\nferry: {f:?}\ndvc: {d:?}"
    );
    assert_eq!(read(rb, "dvc.lock"), read(ra, "dvc.lock"));
    ok(dvc(ra).args(["commit", "-f"]));
    ok(ferry(rb).args(["commit", "-f"]));
    assert_eq!(
        read(rb, "dvc.lock"),
        read(ra, "dvc.lock"),
        "dvc.lock after commit -f"
    );
    // every cached out is in ferry's cache (dvc adds run-cache entries ferry does not keep)
    let cache = |r: &Path| files_under(&r.join(".dvc/cache/files"));
    let (ca, cb) = (cache(ra), cache(rb));
    assert!(cb.is_subset(&ca), "{cb:?} vs {ca:?}");
    assert_eq!(
        status_agrees(rb, &[]),
        "Data and pipelines are up to date.\n"
    );
    status_agrees(ra, &[]);
}

#[test]
fn imported_outs_are_not_pushed_nor_compared_with_the_remote() {
    let source = git_repo();
    let s = source.path();
    let store = tempfile::tempdir().unwrap();
    ok(dvc(s).args(["init", "-q"]));
    ok(dvc(s)
        .args(["remote", "add", "-q", "-d", "origin"])
        .arg(store.path()));
    write(s, "data/one.txt", "one\n");
    write(s, "data/two.txt", "two\n");
    ok(dvc(s).args(["add", "-q", "data"]));
    ok(dvc(s).args(["push", "-q"]));
    git(s, &["add", "-A"]);
    git(s, &["commit", "-q", "-m", "data"]);
    let a = project();
    let r = a.repo.path();
    ok(dvc(r)
        .args(["import", "-q"])
        .arg(s)
        .args(["data", "-o", "imported"]));
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "import"]);
    let b = a.twin();
    let d = outcome(dvc(r).arg("push"));
    let f = outcome(ferry(b.repo.path()).arg("push"));
    assert_eq!(f.0, d.0, "{f:?} vs {d:?}");
    for name in ["r1", "r2"] {
        assert_eq!(b.remote(name), a.remote(name), "remote {name} after push");
    }
    let json = |cmd: &mut Command| -> serde_json::Value {
        serde_json::from_str(&ok(cmd.args(["status", "-c", "--json"]))).unwrap()
    };
    assert_eq!(json(&mut ferry(b.repo.path())), json(&mut dvc(r)));
    status_agrees(b.repo.path(), &["imported.dvc"]);
    // a fresh clone pulls the import from the source repository's remote
    let (cd, cf) = (a.clone(), a.clone());
    let d = outcome(dvc(cd.path()).args(["pull", "imported.dvc"]));
    let f = outcome(ferry(cf.path()).args(["pull", "imported.dvc"]));
    assert_eq!(
        (f.0, &f.1),
        (d.0, &d.1),
        "pull of the import\nferry: {f:?}\ndvc: {d:?}"
    );
    assert_eq!(
        workspace(cf.path()),
        workspace(cd.path()),
        "files after pulling the import"
    );
    assert_eq!(read(cf.path(), "imported/one.txt"), "one\n");
}
