//! Multi-remote routing end to end (issue 4 items 2–5): the real `ferry` binary against local
//! remotes, the DVC-protocol HTTP test server and SeaweedFS's S3 behind the fault proxy.
//! Budgets live in a private `FERRY_STATE_DIR`; `FERRY_NOW` moves the clock across the reset.
//! Every test checks what the remotes saw (request logs, listings), the workspace bytes, the
//! exit code and the per-remote report rows.
mod common;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fixture;
use common::fixture::{
    S3Prefix, class_b, copy_keys, files_under, git_clone, git_commit_all, local_remote, object_key,
    out_text, recorded_md5, s3_credential_args, sandboxed, served,
};
use common::*;

/// The day every test runs on (budgets count per UTC day), its reset, and a moment after it.
const DAY: &str = "2026-11-27T15:00:00Z";
const RESET: &str = "2026-11-28T00:00:00Z";
const NEXT_DAY: &str = "2026-11-28T00:00:01Z";

/// Deterministic bytes: object `i` of `len` bytes (this suite's salt).
fn blob(i: usize, len: usize) -> Vec<u8> {
    fixture::blob(1, i, len)
}

/// A project: a git repo with `data/` (a directory output of `files`) committed, the remotes
/// configured in `.dvc/config` (tracked, so clones have them), and a private ledger.
struct Project {
    src: tempfile::TempDir,
    state: tempfile::TempDir,
    /// `data/<name>` and its bytes.
    files: Vec<(String, Vec<u8>)>,
    /// Clones made by `clone()`, kept alive with the project.
    clones: Vec<tempfile::TempDir>,
}

impl Project {
    /// `n` files of `size` bytes each under `data/`.
    fn new(n: usize, size: usize) -> Project {
        let src = git_repo();
        let state = tempfile::tempdir().unwrap();
        let files: Vec<(String, Vec<u8>)> = (0..n)
            .map(|i| (format!("f{i:03}"), blob(i, size)))
            .collect();
        let p = Project {
            src,
            state,
            files,
            clones: Vec::new(),
        };
        ok(&mut p.ferry(p.src(), &["init", "-q"]));
        for (name, bytes) in &p.files {
            write(p.src(), &format!("data/{name}"), bytes);
        }
        ok(&mut p.ferry(p.src(), &["add", "-q", "data"]));
        p
    }

    fn src(&self) -> &Path {
        self.src.path()
    }

    /// `ferry ARGS` in `dir` with this project's ledger and no user/system DVC config.
    fn ferry(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = sandboxed(dir, self.state.path(), DAY);
        cmd.args(args);
        cmd
    }

    /// Runs `ferry ARGS` in `dir` and returns its output, whatever the exit code.
    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        run(&mut self.ferry(dir, args))
    }

    /// Runs `ferry ARGS` in `dir`, which must succeed; returns stdout.
    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        ok(&mut self.ferry(dir, args))
    }

    /// Commits everything in the source repo (the remotes' config included).
    fn commit(&self) {
        git_commit_all(self.src(), "data");
    }

    /// A fresh clone of the committed source: no cache, no data, no `config.local`.
    fn clone(&mut self) -> PathBuf {
        let dir = git_clone(self.src());
        let path = dir.path().to_path_buf();
        self.clones.push(dir);
        path
    }

    /// Adds local remote `name` at `dir` (the default remote when `default`).
    fn add_local(&self, name: &str, dir: &Path, default: bool) {
        let dir = dir.display().to_string();
        let mut args = vec!["remote", "add", name, &dir];
        if default {
            args.push("-d");
        }
        self.ok(self.src(), &args);
    }

    /// Every data file's object key.
    fn keys(&self) -> Vec<String> {
        self.files.iter().map(|(_, b)| key_of(b)).collect()
    }

    /// The key of the `data/` manifest, as recorded in `data.dvc`.
    fn dir_key(&self) -> String {
        object_key(&recorded_md5(self.src(), "data.dvc"))
    }

    /// Total bytes of the data files.
    fn data_bytes(&self) -> u64 {
        self.files.iter().map(|(_, b)| b.len() as u64).sum()
    }

    /// Asserts `dir/data` holds exactly the project's files, byte for byte.
    fn assert_workspace(&self, dir: &Path) {
        for (name, bytes) in &self.files {
            let got = std::fs::read(dir.join("data").join(name))
                .unwrap_or_else(|e| panic!("data/{name} in {}: {e}", dir.display()));
            assert!(got == *bytes, "data/{name} differs");
        }
        let n = std::fs::read_dir(dir.join("data")).unwrap().count();
        assert_eq!(n, self.files.len(), "no extra files in data/");
    }

    /// Objects in a clone's cache (files only, no temp files).
    fn cached(&self, dir: &Path) -> Vec<String> {
        files_under(&dir.join(".dvc/cache"))
    }

    /// `ferry remote usage --json` in `dir` at `now`, by remote name.
    fn usage(&self, dir: &Path, now: &str) -> BTreeMap<String, serde_json::Value> {
        let out = self.ok_at(dir, now, &["remote", "usage", "--json"]);
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        let rows: Vec<serde_json::Value> =
            serde_json::from_value(report["remotes"].clone()).unwrap();
        rows.into_iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r))
            .collect()
    }

    fn ok_at(&self, dir: &Path, now: &str, args: &[&str]) -> String {
        ok(self.ferry(dir, args).env("FERRY_NOW", now))
    }

    fn run_at(&self, dir: &Path, now: &str, args: &[&str]) -> Output {
        run(self.ferry(dir, args).env("FERRY_NOW", now))
    }

    /// Size of every object key the project has (files and the manifest), from a full remote.
    fn sizes(&self, full: &Path) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = self
            .files
            .iter()
            .map(|(_, b)| (key_of(b), b.len() as u64))
            .collect();
        let dir = self.dir_key();
        out.insert(
            dir.clone(),
            std::fs::metadata(full.join(&dir)).unwrap().len(),
        );
        out
    }
}

/// Object GETs in a server log (no listings), as object keys (`files/md5/…`) with statuses.
fn gets(log: &[LoggedRequest]) -> Vec<(String, u16)> {
    log.iter()
        .filter(|l| l.method == "GET" && !l.path.contains("list-type="))
        .map(|l| {
            let path = l.path.split('?').next().unwrap();
            let key = path.find("files/md5/").map_or(path, |i| &path[i..]);
            (key.to_string(), l.status)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Fallback per object
// ---------------------------------------------------------------------------------------------

/// 20 files (above the listing threshold): the first remote is listed and lacks half of them,
/// so those go straight to the second remote; one row per remote says who served what and why
/// objects passed on.
#[test]
fn fallback_per_object_between_listed_local_remotes() {
    let mut p = Project::new(20, 3000);
    let (a, b) = (local_remote(), local_remote());
    p.add_local("a", a.path(), true);
    p.add_local("b", b.path(), false);
    p.ok(p.src(), &["push", "-r", "b"]);
    p.commit();
    // `a` holds the manifest and the even files only.
    let keys = p.keys();
    let even: Vec<String> = keys.iter().step_by(2).cloned().collect();
    copy_keys(b.path(), a.path(), &even);
    copy_keys(b.path(), a.path(), &[p.dir_key()]);

    let clone = p.clone();
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    let half_bytes = 10 * 3000;
    let dir_len = std::fs::metadata(a.path().join(p.dir_key())).unwrap().len();
    assert_eq!(
        row(&stdout, "a"),
        vec![
            "a",
            "11",
            &ferry::ui::human_bytes(half_bytes + dir_len),
            "10 not found"
        ],
        "{stdout}"
    );
    assert_eq!(
        row(&stdout, "b"),
        vec!["b", "10", &ferry::ui::human_bytes(half_bytes), "-"],
        "{stdout}"
    );
    let usage = p.usage(&clone, DAY);
    assert_eq!(usage["a"]["bytes"], half_bytes + dir_len);
    assert_eq!(usage["b"]["bytes"], half_bytes);
    assert_eq!(
        usage["b"]["requests"], 11,
        "one GET per object, none for what a listing showed absent, and the push's HEAD of \
         the `.dir` (every request is metered)"
    );
}

/// 6 files (below the listing threshold) and an HTTP first remote that cannot list: each
/// missing object costs one 404 there, then comes from the second remote.
#[test]
fn fallback_per_object_after_404s_on_an_http_remote() {
    let mut p = Project::new(6, 5000);
    let root = local_remote();
    let server = HttpServer::start(root.path(), "", "");
    let full = local_remote();
    p.ok(
        p.src(),
        &["remote", "add", "-d", "dh", &server.url("store")],
    );
    p.add_local("full", full.path(), false);
    p.ok(p.src(), &["push", "-r", "full"]);
    p.commit();
    let keys = p.keys();
    let store = root.path().join("store");
    copy_keys(full.path(), &store, &keys[..2]);
    copy_keys(full.path(), &store, &[p.dir_key()]);
    server.control(r#"{"clear_log": true}"#);

    let clone = p.clone();
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "dh")[1], "3", "{stdout}");
    assert_eq!(row(&stdout, "dh")[3], "4 not found", "{stdout}");
    assert_eq!(row(&stdout, "full")[1], "4", "{stdout}");
    let mut seen = gets(&server.log());
    seen.sort();
    let mut expected: Vec<(String, u16)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), if i < 2 { 200 } else { 404 }))
        .chain([(p.dir_key(), 200)])
        .collect();
    expected.sort();
    assert_eq!(seen, expected, "one GET per object, no retry of a 404");
}

/// Nothing on any remote for some objects: exit 1 naming each remote's reason per object;
/// `--allow-missing` turns it into 0 with the rest checked out.
#[test]
fn missing_everywhere_lists_each_remotes_reason_and_allow_missing_passes() {
    let mut p = Project::new(3, 1000);
    let (a, b) = (local_remote(), local_remote());
    p.add_local("a", a.path(), true);
    p.add_local("b", b.path(), false);
    p.ok(p.src(), &["push", "-r", "b"]);
    p.commit();
    let gone = &p.keys()[1];
    std::fs::remove_file(b.path().join(gone)).unwrap();

    let clone = p.clone();
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    let stderr = text(&out.stderr);
    let md5 = gone.replace("files/md5/", "").replace('/', "");
    let line = stderr
        .lines()
        .find(|l| l.contains(&md5))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("data/f001"), "{line}");
    assert!(
        line.contains("a: not found") && line.contains("b: not found"),
        "{line}"
    );
    assert_eq!(
        stderr.matches(&md5).count(),
        1,
        "each missing object listed once: {stderr}"
    );

    let clone = p.clone();
    let out = p.run(&clone, &["pull", "--allow-missing"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let cached = p.cached(&clone);
    assert_eq!(
        cached.len(),
        3,
        "the manifest and the two files found: {cached:?}"
    );
    assert!(
        !cached
            .iter()
            .any(|c| gone.ends_with(&c.replace("files/md5/", "")))
    );
    assert!(text(&out.stderr).contains("WARNING"), "{}", out_text(&out));
}

/// `-r R` pins to one remote (no fallback even when it lacks objects); `--no-fallback` uses
/// only the first of the order.
#[test]
fn pin_and_no_fallback_use_one_remote() {
    let mut p = Project::new(4, 1000);
    let (a, b) = (local_remote(), local_remote());
    p.add_local("a", a.path(), true);
    p.add_local("b", b.path(), false);
    p.ok(p.src(), &["push", "-r", "b"]);
    p.commit();
    let keys = p.keys();
    copy_keys(b.path(), a.path(), &keys[..1]);
    copy_keys(b.path(), a.path(), &[p.dir_key()]);
    let b_before = p.usage(p.src(), DAY)["b"]["requests"].clone();

    for args in [&["fetch", "-r", "a"][..], &["fetch", "--no-fallback"][..]] {
        let clone = p.clone();
        let out = p.run(&clone, args);
        // data on none of the remotes tried is a warning for fetch, as in dvc (issue 14)
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", out_text(&out));
        let cached = p.cached(&clone);
        assert_eq!(cached.len(), 2, "{args:?}: manifest + one file: {cached:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("a: not found"), "{stderr}");
        assert!(!stderr.contains("b: "), "b never tried: {stderr}");
        let usage = p.usage(&clone, DAY);
        assert_eq!(
            usage["b"]["requests"], b_before,
            "{args:?}: only the push's checks"
        );
    }
    let clone = p.clone();
    let a_before = p.usage(&clone, DAY)["a"]["requests"].clone();
    let out = p.run(&clone, &["fetch", "-r", "b"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    assert_eq!(p.cached(&clone).len(), 5);
    assert_eq!(
        p.usage(&clone, DAY)["a"]["requests"],
        a_before,
        "a untouched"
    );
}

// ---------------------------------------------------------------------------------------------
// S3 on the shared SeaweedFS (directly or behind the fault proxy)
// ---------------------------------------------------------------------------------------------

/// Adds S3 remote `name` at `prefix` through `endpoint` (SeaweedFS or the fault proxy), with
/// the test credentials in `config.local`.
fn add_s3(p: &Project, dir: &Path, name: &str, prefix: &S3Prefix, endpoint: &str, default: bool) {
    let url = prefix.url();
    let mut args = vec!["remote", "add", name, &url];
    if default {
        args.push("-d");
    }
    p.ok(dir, &args);
    p.ok(dir, &["remote", "modify", name, "endpointurl", endpoint]);
    set_s3_credentials(p, dir, name);
}

fn set_s3_credentials(p: &Project, dir: &Path, name: &str) {
    for args in s3_credential_args(name) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        p.ok(dir, &args);
    }
}

// ---------------------------------------------------------------------------------------------
// Push fan-out
// ---------------------------------------------------------------------------------------------

/// Every key a push sent to the HTTP server, with how many times.
fn uploads(log: &[LoggedRequest], root_path: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in log
        .iter()
        .filter(|l| matches!(l.method.as_str(), "POST" | "PUT") && l.status < 300)
    {
        let k = l
            .path
            .strip_prefix(root_path)
            .unwrap_or(&l.path)
            .to_string();
        *out.entry(k).or_default() += 1;
    }
    out
}

/// Three remotes on `p`: `disk` (a local directory, the default), `dh` (the HTTP server on a
/// root of its own) and `s3` (a fresh prefix on SeaweedFS, named after `label`).
fn disk_dh_s3(
    p: &Project,
    label: &str,
) -> (tempfile::TempDir, tempfile::TempDir, HttpServer, S3Prefix) {
    let local = local_remote();
    let root = local_remote();
    let server = HttpServer::start(root.path(), "", "");
    let s3 = S3Prefix::new(label);
    p.add_local("disk", local.path(), true);
    p.ok(p.src(), &["remote", "add", "dh", &server.url("store")]);
    add_s3(p, p.src(), "s3", &s3, &s3_endpoint(), false);
    (local, root, server, s3)
}

/// `push --all-remotes` and plain `push` with `push.remotes` send every object to every remote
/// exactly once, one report row per remote; a second push sends nothing.
#[test]
fn push_fans_out_to_every_remote_once() {
    let p = Project::new(20, 2000);
    let (local, _root, server, s3) = disk_dh_s3(&p, "fanout");
    let mut all = p.keys();
    all.push(p.dir_key());
    all.sort();

    let out = p.run(p.src(), &["push", "--all-remotes"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let stdout = text(&out.stdout);
    let bytes = p.data_bytes()
        + std::fs::metadata(local.path().join(p.dir_key()))
            .unwrap()
            .len();
    for name in ["disk", "dh", "s3"] {
        assert_eq!(
            row(&stdout, name),
            vec![name, "21", &ferry::ui::human_bytes(bytes), "0", "ok"],
            "{stdout}"
        );
    }
    assert_eq!(files_under(local.path()), all);
    assert_eq!(s3.keys(), all);
    let sent = uploads(&server.log(), "/store/");
    assert_eq!(sent.keys().cloned().collect::<Vec<_>>(), all);
    assert!(sent.values().all(|n| *n == 1), "each object once: {sent:?}");

    // `push.remotes` makes a plain push fan out too; everything is already there.
    write(
        p.src(),
        ".dvc/ferry.toml",
        "[push]\nremotes = [\"disk\", \"dh\", \"s3\"]\n",
    );
    server.control(r#"{"clear_log": true}"#);
    let out = p.run(p.src(), &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let stdout = text(&out.stdout);
    for name in ["disk", "dh", "s3"] {
        assert_eq!(row(&stdout, name)[1], "0", "{stdout}");
        assert_eq!(row(&stdout, name)[3], "21", "{stdout}");
    }
    assert!(uploads(&server.log(), "/store/").is_empty());

    // A new file goes to all three with a plain push.
    write(p.src(), "data/new", b"fresh bytes\n");
    p.ok(p.src(), &["add", "-q", "data"]);
    server.control(r#"{"clear_log": true}"#);
    let out = p.run(p.src(), &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let stdout = text(&out.stdout);
    for name in ["disk", "dh", "s3"] {
        assert_eq!(row(&stdout, name)[1], "2", "file + new manifest: {stdout}");
    }
    let new_key = key_of(b"fresh bytes\n");
    assert!(files_under(local.path()).contains(&new_key));
    assert!(s3.keys().contains(&new_key));
    assert_eq!(uploads(&server.log(), "/store/").len(), 2);
}

/// One remote refusing our credentials and one on a dead port do not stop the third; exit 1
/// names both failed remotes; the good one gets everything.
#[test]
fn push_failing_remotes_do_not_stop_the_others() {
    let p = Project::new(5, 1000);
    let good = local_remote();
    let root = local_remote();
    let server = HttpServer::start(root.path(), "alice", "right");
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    p.ok(
        p.src(),
        &["remote", "add", "-d", "dh", &server.url("store")],
    );
    p.ok(
        p.src(),
        &["remote", "modify", "--local", "dh", "auth", "basic"],
    );
    p.ok(
        p.src(),
        &["remote", "modify", "--local", "dh", "user", "alice"],
    );
    p.ok(
        p.src(),
        &["remote", "modify", "--local", "dh", "password", "wrong"],
    );
    p.ok(
        p.src(),
        &[
            "remote",
            "add",
            "gone",
            &format!("http://127.0.0.1:{dead}/store"),
        ],
    );
    p.add_local("disk", good.path(), false);
    write(
        p.src(),
        ".dvc/ferry.toml",
        "[push]\nremotes = [\"dh\", \"gone\", \"disk\"]\n",
    );
    for args in [&["push"][..], &["push", "--all-remotes"][..]] {
        let out = p.run(p.src(), args);
        // dh refuses the credentials: a configuration problem, 251.
        assert_eq!(out.status.code(), Some(251), "{args:?}: {}", out_text(&out));
        let stderr = text(&out.stderr);
        let last = stderr
            .lines()
            .rfind(|l| l.starts_with("ERROR"))
            .unwrap_or("");
        assert!(
            last.contains("dh") && last.contains("gone") && !last.contains("disk"),
            "{args:?}: the final error names every failed remote: {stderr}"
        );
        assert!(stderr.contains("credentials"), "auth hint: {stderr}");
        assert!(!stderr.contains("wrong"), "no secret in output: {stderr}");
        let stdout = text(&out.stdout);
        assert_eq!(row(&stdout, "dh")[4], "credentials refused", "{stdout}");
        assert_eq!(row(&stdout, "gone")[4], "unreachable", "{stdout}");
        assert_eq!(row(&stdout, "disk")[4], "ok", "{stdout}");
    }
    let mut all = p.keys();
    all.push(p.dir_key());
    all.sort();
    assert_eq!(files_under(good.path()), all);
    assert!(
        files_under(root.path()).is_empty(),
        "nothing stored without credentials"
    );
}

// ---------------------------------------------------------------------------------------------
// Caps and budgets (S3 behind the fault proxy first, a full local remote second)
// ---------------------------------------------------------------------------------------------

/// A project pushed to `s3` (through `proxy`, first in the order) and `disk` (second, full).
/// `s3_settings` are `remote modify s3 KEY VALUE` pairs (limits, jobs), committed.
fn s3_then_disk(
    p: &Project,
    proxy: &HttpServer,
    s3: &S3Prefix,
    disk: &Path,
    s3_settings: &[(&str, &str)],
) {
    add_s3(
        p,
        p.src(),
        "s3",
        s3,
        proxy.url("").trim_end_matches('/'),
        true,
    );
    p.add_local("disk", disk, false);
    for (k, v) in s3_settings {
        p.ok(p.src(), &["remote", "modify", "s3", k, v]);
    }
    p.ok(p.src(), &["push", "--all-remotes"]);
    p.commit();
}

/// A clone with the S3 credentials (they live in the untracked `config.local`).
fn s3_clone(p: &mut Project) -> PathBuf {
    let clone = p.clone();
    set_s3_credentials(p, &clone, "s3");
    clone
}

/// The bytes the proxy served with 200 GETs, by the objects' sizes.
fn served_bytes(log: &[LoggedRequest], sizes: &BTreeMap<String, u64>) -> u64 {
    gets(log)
        .iter()
        .filter(|(_, status)| *status == 200)
        .map(|(k, _)| sizes[k])
        .sum()
}

/// B2's cap answer part-way through a pull: the remote is marked capped at once (its queued
/// objects go to the next remote without another request), the ledger keeps the mark, the next
/// run that day sends it nothing at all, and after the reset it serves again.
#[test]
fn cap_mid_run_reroutes_at_once_and_holds_until_the_reset() {
    let mut p = Project::new(20, 20_000);
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("cap");
    let disk = local_remote();
    // One download at a time on s3, so "after the first cap answer" is well defined.
    s3_then_disk(&p, &proxy, &s3, disk.path(), &[("jobs", "1")]);
    let sizes = p.sizes(disk.path());
    let dir_len = sizes[&p.dir_key()];

    // The manifest and 5 files (101,5xx bytes) pass 100,000; the next GET gets the cap answer.
    proxy.control(r#"{"cap_after_bytes": 100000, "clear_log": true}"#);
    let clone = s3_clone(&mut p);
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(
        row(&stdout, "s3"),
        vec![
            "s3",
            "6",
            &ferry::ui::human_bytes(dir_len + 100_000),
            "15 cap reached"
        ],
        "{stdout}"
    );
    assert_eq!(row(&stdout, "disk")[1], "15", "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "note: remote 's3' reports its download cap is exhausted (until 2026-11-28 00:00 UTC); \
             15 files came from 'disk' instead"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("WARNING"),
        "the cap was made up for: {stderr}"
    );
    let seen = gets(&proxy.log());
    let statuses: Vec<u16> = seen.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        statuses,
        [vec![200; 6], vec![403]].concat(),
        "nothing after the first cap answer: {seen:?}"
    );
    let usage = p.usage(&clone, DAY);
    assert_eq!(usage["s3"]["capped_until"], RESET);
    assert_eq!(usage["s3"]["bytes"], dir_len + 100_000);
    assert_eq!(
        usage["s3"]["requests"], 8,
        "the refused GET counts too, and so does the push's HEAD of the `.dir`"
    );

    // Same day, another clone: s3 is skipped without a single request (not even a LIST).
    proxy.control(r#"{"clear_log": true}"#);
    let clone = s3_clone(&mut p);
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    assert!(proxy.log().is_empty(), "{:?}", proxy.log());
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "s3")[1], "0", "{stdout}");
    assert_eq!(row(&stdout, "s3")[3], "21 cap reached", "{stdout}");
    assert!(
        text(&out.stderr).contains("reported its download cap earlier today"),
        "{}",
        out_text(&out)
    );

    // After the reset (and B2 lifting the cap) s3 serves everything again.
    proxy.control(r#"{"reset": true, "clear_log": true}"#);
    let clone = s3_clone(&mut p);
    let out = p.run_at(&clone, NEXT_DAY, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    assert_eq!(row(&text(&out.stdout), "s3")[1], "21", "{}", out_text(&out));
    assert_eq!(gets(&proxy.log()).len(), 21);
    let usage = p.usage(&clone, NEXT_DAY);
    assert_eq!(usage["s3"]["capped_until"], serde_json::Value::Null);
    assert_eq!(usage["s3"]["bytes"], p.data_bytes() + dir_len);
}

/// `daily_download_limit` below the data: the first remote serves as much as fits and not a
/// byte more (the ledger and the proxy agree), the rest comes from the second; the next pull
/// that day gets only what is left of the budget. The limit is set so that forgetting the
/// manifest's bytes (its size is only known once listed or fetched) would let one file too many
/// through.
#[test]
fn download_limit_keeps_the_first_remote_under_it() {
    let mut p = Project::new(20, 10_000);
    let dir_key = p.dir_key();
    let dir_len = std::fs::metadata(p.src().join(".dvc/cache").join(&dir_key))
        .unwrap()
        .len();
    let limit = 60_000 + dir_len / 2;
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("budget");
    let disk = local_remote();
    s3_then_disk(
        &p,
        &proxy,
        &s3,
        disk.path(),
        &[("daily_download_limit", &limit.to_string())],
    );
    let sizes = p.sizes(disk.path());

    proxy.control(r#"{"clear_log": true}"#);
    let clone = s3_clone(&mut p);
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(
        row(&stdout, "s3")[1],
        "6",
        "the manifest and 5 files: {stdout}"
    );
    assert_eq!(row(&stdout, "s3")[3], "15 over budget", "{stdout}");
    assert_eq!(row(&stdout, "disk")[1], "15", "{stdout}");
    let served = served_bytes(&proxy.log(), &sizes);
    assert_eq!(served, dir_len + 50_000);
    let usage = p.usage(&clone, DAY);
    assert_eq!(usage["s3"]["bytes"], served);
    assert_eq!(usage["s3"]["bytes_limit"], limit);

    // What is left (under one file) still takes the manifest; no file fits.
    proxy.control(r#"{"clear_log": true}"#);
    let clone = s3_clone(&mut p);
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let served2 = served_bytes(&proxy.log(), &sizes);
    assert_eq!(served2, dir_len);
    assert_eq!(p.usage(&clone, DAY)["s3"]["bytes"], served + served2);
    assert!(served + served2 <= limit);
}

/// `daily_request_limit`: the first remote gets exactly that many GET/HEAD requests in the day
/// (the push's HEAD of the `.dir` among them), the rest go on.
#[test]
fn request_limit_keeps_the_first_remote_under_it() {
    let mut p = Project::new(20, 1_000);
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("requests");
    let disk = local_remote();
    s3_then_disk(
        &p,
        &proxy,
        &s3,
        disk.path(),
        &[("daily_request_limit", "8")],
    );
    proxy.control(r#"{"clear_log": true}"#);
    let clone = s3_clone(&mut p);
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "s3")[1], "7", "{stdout}");
    assert_eq!(row(&stdout, "s3")[3], "14 over budget", "{stdout}");
    assert_eq!(gets(&proxy.log()).len(), 7);
    assert_eq!(p.usage(&clone, DAY)["s3"]["requests"], 8);
}

/// Two pulls at once on two clones share one budget: together they stay under the limit, and
/// the ledger counts exactly what the proxy served to both.
#[test]
fn two_pulls_at_once_share_the_budget() {
    let mut p = Project::new(30, 10_000);
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("concurrent");
    let disk = local_remote();
    s3_then_disk(
        &p,
        &proxy,
        &s3,
        disk.path(),
        &[("daily_download_limit", "125kB")],
    );
    let sizes = p.sizes(disk.path());
    proxy.control(r#"{"clear_log": true}"#);
    let (one, two) = (s3_clone(&mut p), s3_clone(&mut p));
    let children: Vec<std::process::Child> = [&one, &two]
        .iter()
        .map(|c| {
            p.ferry(c, &["pull"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    }
    p.assert_workspace(&one);
    p.assert_workspace(&two);
    let served = served_bytes(&proxy.log(), &sizes);
    let usage = p.usage(&one, DAY);
    assert_eq!(usage["s3"]["bytes"], served, "no count lost");
    assert!(
        served <= 125_000,
        "{served} bytes served over a 125 kB limit"
    );
    assert!(
        served >= 100_000,
        "the budget was used, not wasted: {served}"
    );
}

// ---------------------------------------------------------------------------------------------
// Faults on the first remote (HTTP test server), a full local remote second
// ---------------------------------------------------------------------------------------------

/// A project pushed to the HTTP server `dh` (first; basic auth when `user` is not empty) and to
/// `disk` (second, full); `dh_settings` are `remote modify dh KEY VALUE` pairs, committed.
fn http_then_disk(
    p: &Project,
    server: &HttpServer,
    user: &str,
    disk: &Path,
    dh_settings: &[(&str, &str)],
) {
    p.ok(
        p.src(),
        &["remote", "add", "-d", "dh", &server.url("store")],
    );
    if !user.is_empty() {
        p.ok(p.src(), &["remote", "modify", "dh", "auth", "basic"]);
        p.ok(p.src(), &["remote", "modify", "dh", "user", user]);
        p.ok(
            p.src(),
            &["remote", "modify", "--local", "dh", "password", "right"],
        );
    }
    p.add_local("disk", disk, false);
    for (k, v) in dh_settings {
        p.ok(p.src(), &["remote", "modify", "dh", k, v]);
    }
    p.ok(p.src(), &["push", "--all-remotes"]);
    p.commit();
    server.control(r#"{"clear_log": true}"#);
}

/// Credentials refused by the first remote: one request tells, everything comes from the
/// second, and the warning names the remote and how to fix its credentials (no secret shown).
#[test]
fn refused_credentials_fall_back_with_a_clear_warning() {
    let mut p = Project::new(8, 2_000);
    let root = local_remote();
    let server = HttpServer::start(root.path(), "alice", "right");
    let disk = local_remote();
    http_then_disk(&p, &server, "alice", disk.path(), &[]);
    let clone = p.clone();
    p.ok(
        &clone,
        &[
            "remote",
            "modify",
            "--local",
            "dh",
            "password",
            "expired-t0ken",
        ],
    );

    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(
        row(&stdout, "dh"),
        vec!["dh", "0", "0 B", "9 credentials refused"],
        "{stdout}"
    );
    assert_eq!(row(&stdout, "disk")[1], "9", "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("WARNING: remote 'dh' refused our credentials"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ferry remote modify --local dh") && stderr.contains("password"),
        "how to fix it: {stderr}"
    );
    assert!(!format!("{stdout}{stderr}").contains("expired-t0ken"));
    let statuses: Vec<u16> = server.log().iter().map(|l| l.status).collect();
    assert_eq!(statuses, vec![401], "one refused request, then no more");
}

/// 500s and a 429 with `Retry-After` on the first remote are retried there and served by it;
/// the ledger counts every GET, retries included.
#[test]
fn transient_errors_are_retried_then_served() {
    let mut p = Project::new(5, 2_000);
    let root = local_remote();
    let server = HttpServer::start(root.path(), "", "");
    let disk = local_remote();
    http_then_disk(&p, &server, "", disk.path(), &[]);
    server.control(r#"{"fail_500": 2, "throttle": 1, "retry_after": 0}"#);
    let clone = p.clone();
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(
        row(&stdout, "dh")[1..],
        [
            "6",
            &ferry::ui::human_bytes(
                10_000
                    + std::fs::metadata(disk.path().join(p.dir_key()))
                        .unwrap()
                        .len()
            ),
            "-"
        ],
        "{stdout}"
    );
    assert_eq!(row(&stdout, "disk")[1], "0", "{stdout}");
    let seen = gets(&server.log());
    let mut statuses: Vec<u16> = seen.iter().map(|(_, s)| *s).collect();
    statuses.sort();
    assert_eq!(statuses, [vec![200; 6], vec![429], vec![500; 2]].concat());
    let ok: std::collections::BTreeSet<&String> = seen
        .iter()
        .filter(|(_, s)| *s == 200)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(ok.len(), 6, "each object served once");
    assert_eq!(
        p.usage(&clone, DAY)["dh"]["requests"],
        15,
        "9 GETs of the pull and the push's 6 existence GETs (HTTP cannot list)"
    );
}

/// A 429 without `Retry-After` from a remote the user gave a daily limit is its quota running
/// out: capped until the reset, everything else from the next remote.
#[test]
fn a_429_without_retry_after_on_a_limited_remote_is_its_quota() {
    let mut p = Project::new(5, 2_000);
    let root = local_remote();
    let server = HttpServer::start(root.path(), "", "");
    let disk = local_remote();
    http_then_disk(
        &p,
        &server,
        "",
        disk.path(),
        &[("daily_request_limit", "1000")],
    );
    server.control(r#"{"throttle": 1000, "retry_after": null}"#);
    let clone = p.clone();
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "dh")[3], "6 cap reached", "{stdout}");
    let usage = p.usage(&clone, DAY);
    assert_eq!(usage["dh"]["capped_until"], RESET);
    let keys: std::collections::BTreeSet<String> =
        gets(&server.log()).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 1, "only the first object was tried there");
}

/// A corrupt copy on the first remote is discarded (never reaches the cache or workspace) and
/// the object comes from the second; the warning names the remote and the file.
#[test]
fn a_corrupt_copy_is_discarded_and_served_by_the_next_remote() {
    let mut p = Project::new(4, 3_000);
    let (a, b) = (local_remote(), local_remote());
    p.add_local("a", a.path(), true);
    p.add_local("b", b.path(), false);
    p.ok(p.src(), &["push", "--all-remotes"]);
    p.commit();
    let bad = a.path().join(&p.keys()[2]);
    let mut bytes = std::fs::read(&bad).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&bad, bytes).unwrap();

    let clone = p.clone();
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "a")[1], "4", "{stdout}");
    assert_eq!(row(&stdout, "a")[3], "1 corrupt copy", "{stdout}");
    assert_eq!(row(&stdout, "b")[1], "1", "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("remote 'a' holds corrupt copies") && stderr.contains("data/f002"),
        "{stderr}"
    );
    let cached = clone.join(".dvc/cache").join(&p.keys()[2]);
    assert!(std::fs::read(cached).unwrap() == p.files[2].1);
}

// ---------------------------------------------------------------------------------------------
// --dry-run
// ---------------------------------------------------------------------------------------------

/// `pull --dry-run` on a fresh clone prints objects and bytes per remote with each budget
/// before and after, sends no GET for any data file (only listings and the directory's
/// manifest, read into memory), writes nothing to the cache or workspace, and the real pull
/// then does what the plan said.
#[test]
fn dry_run_plans_without_downloading_data() {
    let mut p = Project::new(20, 10_000);
    let dir_key = p.dir_key();
    let dir_len = std::fs::metadata(p.src().join(".dvc/cache").join(&dir_key))
        .unwrap()
        .len();
    let limit = 60_000 + dir_len / 2;
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("dryrun");
    let root = local_remote();
    let server = HttpServer::start(root.path(), "", "");
    add_s3(
        &p,
        p.src(),
        "s3",
        &s3,
        proxy.url("").trim_end_matches('/'),
        true,
    );
    p.ok(p.src(), &["remote", "add", "dh", &server.url("store")]);
    p.ok(
        p.src(),
        &[
            "remote",
            "modify",
            "s3",
            "daily_download_limit",
            &limit.to_string(),
        ],
    );
    p.ok(p.src(), &["push", "--all-remotes"]);
    p.commit();
    proxy.control(r#"{"clear_log": true}"#);
    server.control(r#"{"clear_log": true}"#);

    let clone = s3_clone(&mut p);
    let out = p.run(&clone, &["pull", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let stdout = text(&out.stdout);
    let human = ferry::ui::human_bytes;
    let left = |n: u64| format!("{} left", human(n));
    assert_eq!(
        row(&stdout, "s3"),
        vec![
            "s3".to_string(),
            "6".into(),
            human(dir_len + 50_000),
            left(limit),
            left(limit - dir_len - 50_000),
        ],
        "the manifest and the 5 files that fit: {stdout}"
    );
    assert_eq!(
        row(&stdout, "dh"),
        vec!["dh", "15", &human(150_000), "unlimited", "unlimited"],
        "{stdout}"
    );
    assert!(
        stdout.contains("Not checked (cannot list without downloading): dh"),
        "{stdout}"
    );
    assert_eq!(
        gets(&proxy.log()),
        vec![(dir_key.clone(), 200)],
        "listings and the manifest only"
    );
    assert!(server.log().is_empty(), "{:?}", server.log());
    assert!(p.cached(&clone).is_empty(), "{:?}", p.cached(&clone));
    assert!(!clone.join("data").exists());
    let usage = p.usage(&clone, DAY);
    assert_eq!(
        usage["s3"]["bytes"], dir_len,
        "the manifest read is counted"
    );

    // The pull does what the plan said.
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "s3")[1], "6", "{stdout}");
    assert_eq!(row(&stdout, "dh")[1], "15", "{stdout}");
    assert!(p.usage(&clone, DAY)["s3"]["bytes"].as_u64().unwrap() <= limit);
}

/// A first remote nobody answers at: its objects are retried, then it is taken out of the run
/// and everything comes from the second, with a warning naming it.
#[test]
fn an_unreachable_first_remote_hands_everything_to_the_next() {
    let mut p = Project::new(6, 1_000);
    let disk = local_remote();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    p.ok(
        p.src(),
        &[
            "remote",
            "add",
            "-d",
            "gone",
            &format!("http://127.0.0.1:{dead}/store"),
        ],
    );
    p.add_local("disk", disk.path(), false);
    p.ok(p.src(), &["push", "-r", "disk"]);
    p.commit();
    let clone = p.clone();
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "gone")[1], "0", "{stdout}");
    assert_eq!(row(&stdout, "disk")[1], "7", "{stdout}");
    let why = row(&stdout, "gone")[3].to_string();
    assert!(
        why.contains("retries exhausted") || why.contains("unreachable"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("remote 'gone'"),
        "{}",
        out_text(&out)
    );
}

/// A byte limit on a remote that cannot list (HTTP): the sizes come from the other remote's
/// listing (an object is the same size everywhere), so the planner keeps it under the limit.
#[test]
fn download_limit_on_an_unlistable_remote_uses_sizes_from_the_other() {
    let mut p = Project::new(6, 10_000);
    let root = local_remote();
    let server = HttpServer::start(root.path(), "", "");
    let disk = local_remote();
    http_then_disk(
        &p,
        &server,
        "",
        disk.path(),
        &[("daily_download_limit", "35kB")],
    );
    let sizes = p.sizes(disk.path());
    let dir_len = sizes[&p.dir_key()];
    let clone = p.clone();
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let stdout = text(&out.stdout);
    assert_eq!(
        row(&stdout, "dh")[1],
        "4",
        "the manifest and 3 files: {stdout}"
    );
    assert_eq!(row(&stdout, "dh")[3], "3 over budget", "{stdout}");
    let served = served_bytes(&server.log(), &sizes);
    assert_eq!(served, dir_len + 30_000);
    assert_eq!(p.usage(&clone, DAY)["dh"]["bytes"], served);
}

/// B2 caps downloads, not uploads: a push to a capped S3 remote (its HEADs answer a bare 403)
/// checks what it holds by LIST instead and uploads, alongside the other remote.
#[test]
fn push_to_a_capped_remote_lists_instead_of_heads_and_uploads() {
    let p = Project::new(4, 1_000);
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("capped-push");
    let disk = local_remote();
    add_s3(
        &p,
        p.src(),
        "s3",
        &s3,
        proxy.url("").trim_end_matches('/'),
        true,
    );
    p.add_local("disk", disk.path(), false);
    proxy.control(r#"{"cap": true, "clear_log": true}"#);
    let out = p.run(p.src(), &["push", "--all-remotes"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "s3")[1], "5", "{stdout}");
    assert_eq!(row(&stdout, "s3")[4], "ok", "{stdout}");
    let mut all = p.keys();
    all.push(p.dir_key());
    all.sort();
    assert_eq!(s3.keys(), all);
    assert_eq!(files_under(disk.path()), all);
    let object_gets = gets(&proxy.log());
    assert!(object_gets.is_empty(), "no object read: {object_gets:?}");
}

/// Retries are GETs too: with the request budget fully planned, a failing object is not retried
/// on the limited remote (that would pass the limit) but served by the next one.
#[test]
fn retries_stay_within_the_request_limit() {
    let mut p = Project::new(20, 1_000);
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("retry-budget");
    let disk = local_remote();
    s3_then_disk(
        &p,
        &proxy,
        &s3,
        disk.path(),
        &[("daily_request_limit", "8")],
    );
    let clone = s3_clone(&mut p);
    // The manifest is already local (an earlier, interrupted pull), so the 8 requests are all
    // planned for files; every body is then cut short (a transient failure worth retrying).
    copy_keys(disk.path(), &clone.join(".dvc/cache"), &[p.dir_key()]);
    proxy.control(r#"{"truncate": true, "clear_log": true}"#);
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let seen = gets(&proxy.log());
    assert!(
        !seen.is_empty() && seen.len() <= 8,
        "{} GETs for a limit of 8: {seen:?}",
        seen.len()
    );
    let stdout = text(&out.stdout);
    assert_eq!(row(&stdout, "s3")[1], "0", "{stdout}");
    assert_eq!(row(&stdout, "disk")[1], "20", "{stdout}");
    assert_eq!(
        p.usage(&clone, DAY)["s3"]["requests"],
        seen.len() + 1,
        "every GET of the pull and the push's HEAD of the `.dir`"
    );
}

/// Ctrl-C in the middle of a budgeted pull gives back the claim of every object not
/// downloaded: the ledger keeps no more than the server served (issue 10: it kept the whole
/// claim, so the rerun was refused "over budget"), and the rerun finishes the job.
#[test]
fn an_interrupted_pull_keeps_only_what_was_downloaded() {
    let size = 10_000;
    let mut p = Project::new(40, size);
    let root = local_remote();
    let server = HttpServer::start(root.path(), "", "");
    let disk = local_remote();
    http_then_disk(
        &p,
        &server,
        "",
        disk.path(),
        &[("daily_download_limit", "1MB"), ("jobs", "2")],
    );
    let clone = p.clone();
    server.control(r#"{"slow": 0.3}"#);
    let child = p
        .ferry(&clone, &["pull", "--no-fallback"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while gets(&server.log()).len() < 4 && start.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ok(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(252), "{}", out_text(&out));
    let served: u64 = gets(&server.log())
        .iter()
        .filter(|(k, s)| *s == 200 && !k.ends_with(".dir"))
        .count() as u64
        * size as u64;
    let used = p.usage(&clone, DAY)["dh"]["bytes"].as_u64().unwrap();
    assert!(
        used <= served + 2 * size as u64,
        "ledger keeps {used} bytes after {served} were served (40 objects claimed: 400 kB)"
    );
    server.control(r#"{"reset": true}"#);
    let out = p.run(&clone, &["pull", "--no-fallback"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
}

// ---------------------------------------------------------------------------------------------
// Every request through the layer stack (issue 12)
// ---------------------------------------------------------------------------------------------

/// A project with `s3` (through `proxy`, first in the pull order, with `s3_settings`), `disk`
/// (full) and `spare` (empty, a sync target), all committed; pushed to s3 and disk under
/// whatever faults the proxy has on.
fn three_remotes(
    p: &Project,
    proxy: &HttpServer,
    s3: &S3Prefix,
    disk: &Path,
    spare: &Path,
    s3_settings: &[(&str, &str)],
) {
    add_s3(
        p,
        p.src(),
        "s3",
        s3,
        proxy.url("").trim_end_matches('/'),
        true,
    );
    for (name, dir) in [("disk", disk), ("spare", spare)] {
        p.add_local(name, dir, false);
    }
    for (k, v) in s3_settings {
        p.ok(p.src(), &["remote", "modify", "s3", k, v]);
    }
    p.ok(p.src(), &["remote", "modify", "s3", "jobs", "4"]);
    p.ok(p.src(), &["push", "-r", "s3"]);
    p.ok(p.src(), &["push", "-r", "disk"]);
    p.commit();
}

/// Under injected faults (a fixed seed: 500s, 429 and 503 with `Retry-After`, bodies cut
/// half-way or flipped) on a remote with both daily limits, the bytes and GET/HEAD requests
/// counted at the server never pass them, through push, pull and sync in turn, and the ledger
/// holds exactly what the server counted: failed attempts and existence checks included.
#[test]
fn budgets_hold_at_the_server_under_injected_faults() {
    let mut p = Project::new(30, 8_000);
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("chaos");
    let (disk, spare) = (local_remote(), local_remote());
    let (limit_bytes, limit_requests) = (100_000u64, 30usize);
    proxy.control(r#"{"chaos": {"seed": 12, "rate": 0.35}, "retry_after": 0}"#);
    three_remotes(
        &p,
        &proxy,
        &s3,
        disk.path(),
        spare.path(),
        &[
            ("daily_download_limit", &limit_bytes.to_string()),
            ("daily_request_limit", &limit_requests.to_string()),
        ],
    );
    let check = |p: &Project, step: &str, dir: &Path| {
        let log = proxy.log();
        let requests = class_b(&log).len();
        let served = served(&proxy);
        eprintln!(
            "{step}: server sent {served}/{limit_bytes} bytes, answered {requests}/{limit_requests} GET/HEADs"
        );
        assert!(served <= limit_bytes, "{step}: {served} bytes served");
        assert!(requests <= limit_requests, "{step}: {requests} requests");
        let usage = p.usage(dir, DAY);
        assert_eq!(
            usage["s3"]["requests"], requests,
            "{step}: ledger vs server"
        );
        assert_eq!(usage["s3"]["bytes"], served, "{step}: ledger vs server");
        (served, requests)
    };
    check(&p, "push", p.src());

    let clone = s3_clone(&mut p);
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    let (served, _) = check(&p, "pull", &clone);
    assert!(served > 0, "s3 served part of the pull");

    let clone = s3_clone(&mut p);
    let out = p.run(&clone, &["sync", "--to", "spare"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let mut want: Vec<String> = p.keys();
    want.push(p.dir_key());
    want.sort();
    assert_eq!(files_under(spare.path()), want, "spare got everything");
    check(&p, "sync", &clone);
    let statuses: std::collections::BTreeSet<u16> = proxy.log().iter().map(|l| l.status).collect();
    assert!(
        statuses.contains(&500) && statuses.contains(&429) && statuses.contains(&503),
        "the faults were injected: {statuses:?}"
    );
}

/// B2's cap answer in a pull under faults (one download at a time, so a retry sleeping on
/// `Retry-After` would wake up after it): no GET or HEAD reaches the remote after that answer,
/// neither in that run nor in pull, push and sync runs later that day.
#[test]
fn a_capped_remote_gets_no_request_after_its_cap_answer_that_day() {
    let mut p = Project::new(24, 10_000);
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    let s3 = S3Prefix::new("capday");
    let (disk, spare) = (local_remote(), local_remote());
    three_remotes(&p, &proxy, &s3, disk.path(), spare.path(), &[]);
    p.ok(p.src(), &["remote", "modify", "s3", "jobs", "1"]);
    p.commit();
    proxy.control(
        r#"{"chaos": {"seed": 3, "rate": 0.3}, "retry_after": 1, "cap_after_bytes": 60000, "clear_log": true}"#,
    );
    let clone = s3_clone(&mut p);
    let out = p.run(&clone, &["pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    p.assert_workspace(&clone);
    for args in [
        &["pull"][..],
        &["push", "-r", "s3"][..],
        &["sync", "--to", "spare"][..],
    ] {
        let clone = s3_clone(&mut p);
        let out = p.run(&clone, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", out_text(&out));
    }
    let log = proxy.log();
    let seen = class_b(&log);
    let first_cap = seen
        .iter()
        .position(|l| l.status == 403)
        .unwrap_or_else(|| panic!("the cap was reached: {seen:?}"));
    // `push -r s3` names the remote, so it tries it once despite the mark (issue 15: a cap
    // may have been lifted); the cap answer marks it again and nothing else is sent.
    let after: Vec<u16> = seen[first_cap..].iter().map(|l| l.status).collect();
    assert_eq!(
        after,
        [403, 403],
        "nothing after the cap answer but the named push's probe: {:?}",
        &seen[first_cap..]
    );
    assert_eq!(p.usage(p.src(), DAY)["s3"]["capped_until"], RESET);
}

/// A `.dir` already on a remote does not vouch for its files where the remote can list: three
/// files deleted behind Ferry's back on a local and an S3 remote are uploaded again by a push
/// that does not trust its own record of the first push (`--verify`, or a clone without the
/// record); a plain push trusts the record while the `.dir` is there. An HTTP remote (no
/// listing) is trusted by its `.dir`, and the report says so.
#[test]
fn push_rechecks_every_file_of_a_directory_where_the_remote_can_list() {
    let p = Project::new(20, 2000);
    let (local, root, _server, s3) = disk_dh_s3(&p, "recheck");
    p.ok(p.src(), &["push", "--all-remotes"]);
    let gone: Vec<String> = p.keys().into_iter().take(3).collect();
    for k in &gone {
        std::fs::remove_file(local.path().join(k)).unwrap();
        std::fs::remove_file(root.path().join("store").join(k)).unwrap();
    }
    s3.delete(&gone);

    let trusted = p.run(p.src(), &["push", "--all-remotes"]);
    let stdout = text(&trusted.stdout);
    for name in ["disk", "s3", "dh"] {
        assert_eq!(row(&stdout, name)[1], "0", "{stdout}");
        assert_eq!(
            row(&stdout, name)[3],
            "21",
            "20 files and the .dir: {stdout}"
        );
    }
    let out = p.run(p.src(), &["push", "--all-remotes", "--verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let stdout = text(&out.stdout);
    for name in ["disk", "s3"] {
        assert_eq!(row(&stdout, name)[1], "3", "{stdout}");
        assert_eq!(
            row(&stdout, name)[3],
            "18",
            "17 files and the .dir: {stdout}"
        );
    }
    assert_eq!(row(&stdout, "dh")[1], "0", "{stdout}");
    assert!(
        stdout.contains(
            "note: remote 'dh' cannot list, so 1 directory already there was taken as complete"
        ),
        "{stdout}"
    );
    let mut all = p.keys();
    all.push(p.dir_key());
    all.sort();
    assert_eq!(files_under(local.path()), all);
    assert_eq!(s3.keys(), all);
}

/// The README's exit codes hold at the edges: refused credentials are a configuration problem
/// (251) for pull, fetch, push and `status -c` alike, with the hint naming the fix; an unknown
/// `-r` is one too.
#[test]
fn refused_credentials_and_unknown_remotes_exit_251() {
    let mut p = Project::new(3, 500);
    let root = local_remote();
    let server = HttpServer::start(root.path(), "alice", "right");
    p.ok(
        p.src(),
        &["remote", "add", "-d", "dh", &server.url("store")],
    );
    for (k, v) in [("auth", "basic"), ("user", "alice")] {
        p.ok(p.src(), &["remote", "modify", "dh", k, v]);
    }
    p.ok(
        p.src(),
        &["remote", "modify", "--local", "dh", "password", "right"],
    );
    p.ok(p.src(), &["push"]);
    p.commit();
    let clone = p.clone();
    p.ok(
        &clone,
        &["remote", "modify", "--local", "dh", "password", "wrong"],
    );
    write(&clone, "data/extra", b"new bytes\n");
    for args in [
        &["pull"][..],
        &["fetch"],
        &["status", "-c"],
        &["push", "-r", "dh"],
    ] {
        if args[0] == "push" {
            p.ok(&clone, &["add", "-q", "data"]);
        }
        let out = p.run(&clone, args);
        assert_eq!(out.status.code(), Some(251), "{args:?}: {}", out_text(&out));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("hint: ") && stderr.contains("dh"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("wrong"), "no secret shown: {stderr}");
    }
    for args in [&["push", "-r", "nosuch"][..], &["pull", "-r", "nosuch"]] {
        let out = p.run(&clone, args);
        assert_eq!(out.status.code(), Some(251), "{args:?}: {}", out_text(&out));
        assert!(text(&out.stderr).contains("remote 'nosuch' doesn't exist"));
    }
}
