//! `ferry sync`, `ferry status --remotes` and `ferry gc --cloud` end to end, against the real
//! SeaweedFS, local-directory remotes and the DVC-protocol HTTP test server (with its faults).
//! Every run has its own budget ledger (`FERRY_STATE_DIR`) and its own S3 prefix, emptied at
//! the end.
mod common;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture::{runtime, s3_credential_args, sandboxed};
use common::*;
use ferry::remote::{self, RemoteSpec};

/// The budget day every test runs on, and the day after (the caps seen on `DAY` are over).
const DAY: &str = "2026-11-27T15:00:00Z";
const NEXT_DAY: &str = "2026-11-28T15:00:00Z";

/// `ferry` in `dir` with a private ledger, on the budget clock of `DAY`, and no global/system
/// DVC config.
fn fy(dir: &Path) -> Command {
    sandboxed(dir, &dir.join(".test-state"), DAY)
}

/// A DVC repo tracking `a.txt` (one file) and, when `n > 0`, `data/` (a directory of `n` files).
fn repo(n: usize) -> tempfile::TempDir {
    let dir = git_repo();
    let d = dir.path();
    ok(fy(d).arg("init"));
    write(d, ".gitignore", ".test-state\n");
    write(d, "a.txt", "alpha\n");
    for i in 0..n {
        write(
            d,
            &format!("data/f{i:02}.txt"),
            format!("file number {i}\n"),
        );
    }
    ok(fy(d).args(["add", "a.txt"]));
    if n > 0 {
        ok(fy(d).args(["add", "data"]));
    }
    dir
}

/// Every object file under a local (or HTTP test server) remote root: key → bytes.
fn objects_in(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let base = root.join("files/md5");
    let Ok(dirs) = std::fs::read_dir(&base) else {
        return out;
    };
    for d in dirs.flatten() {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let key = format!("files/md5/{}/{name}", d.file_name().to_string_lossy());
            out.insert(key, std::fs::read(f.path()).unwrap());
        }
    }
    out
}

/// The objects the repo's cache holds right after `repo()`: key → bytes.
fn cache_objects(d: &Path) -> BTreeMap<String, Vec<u8>> {
    objects_in(&d.join(".dvc/cache"))
}

fn add_local(d: &Path, name: &str, root: &Path) {
    ok(fy(d).args(["remote", "add", name, &root.display().to_string()]));
}

fn add_http(d: &Path, name: &str, server: &HttpServer) {
    ok(fy(d).args(["remote", "add", name, &server.url("")]));
}

/// An S3 remote on the shared SeaweedFS under a fresh prefix; returns the spec for cleanup.
fn add_s3(d: &Path, name: &str, label: &str) -> RemoteSpec {
    let url = format!("s3://{}/{}", s3_bucket(), unique_prefix(label));
    add_s3_at(d, name, &url, &s3_endpoint());
    s3_spec(name, url)
}

/// S3 remote `name` at `url` through `endpoint`, with the test credentials in `config.local`.
fn add_s3_at(d: &Path, name: &str, url: &str, endpoint: &str) {
    ok(fy(d).args(["remote", "add", name, url]));
    ok(fy(d).args(["remote", "modify", name, "endpointurl", endpoint]));
    for args in s3_credential_args(name) {
        ok(fy(d).args(args));
    }
}

/// Every key under an S3 remote with its bytes.
fn s3_objects(spec: &RemoteSpec) -> BTreeMap<String, Vec<u8>> {
    use futures::StreamExt;
    let rt = runtime();
    rt.block_on(async {
        let r = remote::open(spec).unwrap();
        let mut out = BTreeMap::new();
        for key in r.list("").await.unwrap() {
            let mut bytes = Vec::new();
            let mut s = r.read(&key).await.unwrap();
            while let Some(chunk) = s.next().await {
                bytes.extend_from_slice(&chunk.unwrap());
            }
            out.insert(key, bytes);
        }
        out
    })
}

/// Deletes `keys` from an S3 remote.
fn s3_delete(spec: &RemoteSpec, keys: &[String]) {
    let rt = runtime();
    rt.block_on(async {
        let r = remote::open(spec).unwrap();
        for key in keys {
            r.delete(key).await.unwrap();
        }
    });
}

/// Empties an S3 remote's prefix (the SeaweedFS is shared and long-running).
fn s3_empty(spec: &RemoteSpec) {
    let rt = runtime();
    rt.block_on(async {
        let r = remote::open(spec).unwrap();
        for key in r.list("").await.unwrap() {
            r.delete(&key).await.unwrap();
        }
    });
}

fn remote_dir(label: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::Builder::new().prefix(label).tempdir().unwrap();
    let p = t.path().join("store");
    (t, p)
}

#[test]
fn sync_fills_two_remotes_from_the_cache_then_refills_one_from_the_other() {
    let dir = repo(20);
    let d = dir.path();
    let expected = cache_objects(d);
    assert_eq!(expected.len(), 22, "a.txt, 20 files, one .dir");
    let s3 = add_s3(d, "seaweed", "sync-two");
    let (_keep, local) = remote_dir("ferry-sync-local");
    add_local(d, "mirror", &local);

    let out = ok(fy(d).arg("sync"));
    assert_eq!(
        row(&out, "seaweed"),
        [
            "seaweed",
            "0",
            "22",
            row(&out, "seaweed")[3],
            "local cache 22",
            "ok"
        ]
    );
    assert_eq!(row(&out, "mirror")[2], "22");
    assert_eq!(s3_objects(&s3), expected);
    assert_eq!(objects_in(&local), expected);

    // Nothing left to do: both report everything already there.
    let out = ok(fy(d).arg("sync"));
    assert_eq!(row(&out, "seaweed")[1..3], ["22", "0"]);
    assert_eq!(row(&out, "mirror")[1..3], ["22", "0"]);

    // The cache is gone and the local remote lost everything: it is refilled from S3, the
    // directory's file list is learnt from S3 first, and the workspace is not touched.
    std::fs::remove_dir_all(d.join(".dvc/cache")).unwrap();
    std::fs::remove_dir_all(&local).unwrap();
    std::fs::remove_file(d.join("a.txt")).unwrap();
    let out = ok(fy(d).args(["sync", "--to", "mirror"]));
    let r = row(&out, "mirror");
    assert_eq!(r[1..3], ["0", "22"], "{out}");
    assert_eq!(r[4], "local cache 1, seaweed 21", "{out}");
    assert_eq!(objects_in(&local), expected);
    assert!(
        !d.join("a.txt").exists(),
        "sync must not touch the workspace"
    );
    let cached = cache_objects(d);
    assert_eq!(
        cached.len(),
        1,
        "only the .dir manifest is fetched into the cache"
    );
    assert!(cached.keys().all(|k| k.ends_with(".dir")));
    s3_empty(&s3);
}

#[test]
fn first_failing_remote_stops_the_sync_unless_keep_going() {
    let dir = repo(2);
    let d = dir.path();
    let (_t, http_root) = remote_dir("ferry-sync-http");
    std::fs::create_dir_all(&http_root).unwrap();
    let server = HttpServer::start(&http_root, "", "");
    server.control(r#"{"auth_fail": true}"#);
    add_http(d, "dagshub", &server);
    let (_keep, local) = remote_dir("ferry-sync-local");
    add_local(d, "mirror", &local);

    let out = run(fy(d).args(["sync", "--to", "dagshub,mirror"]));
    // The failure is refused credentials: a configuration problem (README: 251).
    assert_eq!(out.status.code(), Some(251));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(row(&stdout, "dagshub").last(), Some(&"unreachable"));
    assert_eq!(row(&stdout, "mirror").last(), Some(&"not attempted"));
    assert!(stderr.contains("failed to sync remote dagshub"), "{stderr}");
    assert!(stderr.contains("--keep-going"), "{stderr}");
    assert!(
        objects_in(&local).is_empty(),
        "nothing may reach the remote after the failure"
    );

    let out = run(fy(d).args(["sync", "--to", "dagshub", "--to", "mirror", "--keep-going"]));
    assert_eq!(out.status.code(), Some(251));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(row(&stdout, "dagshub").last(), Some(&"unreachable"));
    assert_eq!(row(&stdout, "mirror").last(), Some(&"ok"));
    assert!(
        stderr.contains("failed to sync remote dagshub\n"),
        "{stderr}"
    );
    assert_eq!(objects_in(&local), cache_objects(d));
    assert!(objects_in(&http_root).is_empty());
}

#[test]
fn dry_run_sends_nothing_then_the_real_run_sends_the_plan() {
    let dir = repo(3);
    let d = dir.path();
    let (_t, http_root) = remote_dir("ferry-sync-http");
    std::fs::create_dir_all(&http_root).unwrap();
    let server = HttpServer::start(&http_root, "", "");
    add_http(d, "dagshub", &server);

    let out = ok(fy(d).args(["sync", "--dry-run"]));
    assert!(out.starts_with("Plan (dry run, nothing sent):"), "{out}");
    let r = row(&out, "dagshub");
    assert_eq!(r[1], "5", "{out}");
    assert!(r[3].starts_with("local cache 5 ("), "{out}");
    let log = server.log();
    assert!(!log.is_empty(), "the plan asks what the remote holds");
    // dvc-http asks for existence with a GET whose body is dropped: only misses here.
    assert!(
        log.iter()
            .all(|e| matches!(e.method.as_str(), "HEAD" | "GET") && e.status == 404),
        "a dry run only asks: {log:?}"
    );
    assert!(objects_in(&http_root).is_empty());

    let out = ok(fy(d).arg("sync"));
    assert_eq!(row(&out, "dagshub")[2], "5");
    assert_eq!(objects_in(&http_root), cache_objects(d));
    let writes = server
        .log()
        .iter()
        .filter(|e| e.method == "POST" || e.method == "PUT")
        .count();
    assert_eq!(writes, 5);
}

#[test]
fn a_corrupt_source_is_reported_leaves_nothing_and_the_next_source_serves() {
    let dir = repo(0);
    let d = dir.path();
    let (_t, http_root) = remote_dir("ferry-sync-http");
    std::fs::create_dir_all(&http_root).unwrap();
    let server = HttpServer::start(&http_root, "", "");
    add_http(d, "dagshub", &server);
    let (_k1, good) = remote_dir("ferry-sync-good");
    add_local(d, "good", &good);
    let (_k2, target) = remote_dir("ferry-sync-target");
    add_local(d, "target", &target);
    ok(fy(d).args(["sync", "--to", "dagshub,good", "a.txt"]));
    std::fs::remove_dir_all(d.join(".dvc/cache")).unwrap();
    server.control(r#"{"corrupt": true}"#);
    let key = key_of(b"alpha\n");

    let out = run(fy(d).args(["sync", "--to", "target", "--from", "dagshub", "a.txt"]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("dagshub: corrupt copy"), "{stderr}");
    assert!(!target.join(&key).exists(), "a corrupt copy must not land");

    let out = ok(fy(d).args(["sync", "--to", "target", "--from", "dagshub,good", "a.txt"]));
    assert_eq!(row(&out, "target")[4], "good 1", "{out}");
    assert_eq!(std::fs::read(target.join(&key)).unwrap(), b"alpha\n");
}

#[test]
fn all_commits_syncs_every_recorded_version() {
    let dir = repo(0);
    let d = dir.path();
    let git = |args: &[&str]| ok(Command::new("git").current_dir(d).args(args));
    git(&["add", "-A"]);
    git(&["commit", "-qm", "v1"]);
    write(d, "a.txt", "beta\n");
    ok(fy(d).args(["add", "a.txt"]));
    git(&["add", "-A"]);
    git(&["commit", "-qm", "v2"]);
    let (_k, local) = remote_dir("ferry-sync-hist");
    add_local(d, "mirror", &local);

    ok(fy(d).arg("sync"));
    let held = objects_in(&local);
    assert!(held.contains_key(&key_of(b"beta\n")));
    assert!(!held.contains_key(&key_of(b"alpha\n")));

    let out = ok(fy(d).args(["sync", "--all-commits"]));
    assert_eq!(row(&out, "mirror")[2], "1", "{out}");
    assert_eq!(objects_in(&local)[&key_of(b"alpha\n")], b"alpha\n");
}

fn min_copies(d: &Path, n: u32) {
    write(
        d,
        ".dvc/ferry.toml",
        format!("[redundancy]\nmin_copies = {n}\n"),
    );
}

#[test]
fn status_remotes_counts_each_remote_and_lists_thin_objects() {
    let dir = repo(0);
    let d = dir.path();
    write(d, "b.txt", "bravo!\n");
    ok(fy(d).args(["add", "b.txt"]));
    min_copies(d, 2);
    let s3 = add_s3(d, "seaweed", "status-remotes");
    let (_k, local) = remote_dir("ferry-status-local");
    add_local(d, "mirror", &local);
    ok(fy(d).args(["sync", "--to", "seaweed"]));
    ok(fy(d).args(["sync", "--to", "mirror", "a.txt.dvc"]));

    let out = ok(fy(d).args(["status", "--remotes", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["min_copies"], 2);
    assert_eq!(v["local_cache_counted"], false);
    assert_eq!(v["wanted"]["objects"], 2);
    assert_eq!(v["wanted"]["bytes"], 13);
    let remotes = v["remotes"].as_array().unwrap();
    let by_name = |n: &str| remotes.iter().find(|r| r["name"] == n).unwrap().clone();
    assert_eq!(
        by_name("seaweed")["present"],
        serde_json::json!({"objects": 2, "bytes": 13})
    );
    assert_eq!(
        by_name("seaweed")["missing"],
        serde_json::json!({"objects": 0, "bytes": 0})
    );
    assert_eq!(
        by_name("mirror")["present"],
        serde_json::json!({"objects": 1, "bytes": 6})
    );
    assert_eq!(
        by_name("mirror")["missing"],
        serde_json::json!({"objects": 1, "bytes": 7})
    );
    assert_eq!(
        v["under_replicated"],
        serde_json::json!([{"path": "b.txt", "md5": md5_hex(b"bravo!\n"), "remotes": ["seaweed"]}])
    );

    let out = ok(fy(d).args(["status", "--remotes"]));
    assert!(
        out.contains("the local cache is not counted as a copy; redundancy.min_copies = 2"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  b.txt ({}): only on seaweed",
            md5_hex(b"bravo!\n")
        )),
        "{out}"
    );
    assert_eq!(row(&out, "mirror").last(), Some(&"incomplete"));
    assert_eq!(row(&out, "seaweed").last(), Some(&"complete"));

    ok(fy(d).arg("sync"));
    let out = ok(fy(d).args(["status", "--remotes"]));
    assert!(
        out.contains("Every object is on at least 2 remotes."),
        "{out}"
    );
    s3_empty(&s3);
}

#[test]
fn gc_cloud_deletes_unused_objects_but_keeps_min_copies() {
    let dir = repo(0);
    let d = dir.path();
    write(d, "old1.txt", "old one\n");
    write(d, "old2.txt", "old two\n");
    ok(fy(d).args(["add", "old1.txt", "old2.txt"]));
    min_copies(d, 2);
    let (_k, base) = remote_dir("ferry-gc");
    let (r, s, t) = (base.join("r"), base.join("s"), base.join("t"));
    add_local(d, "r", &r);
    add_local(d, "s", &s);
    add_local(d, "t", &t);
    ok(fy(d).args(["sync", "--to", "r,s,t", "old1.txt.dvc"]));
    ok(fy(d).args(["sync", "--to", "r,s", "old2.txt.dvc"]));
    ok(fy(d).args(["sync", "--to", "r", "a.txt.dvc"]));
    std::fs::remove_file(d.join("old1.txt.dvc")).unwrap();
    std::fs::remove_file(d.join("old2.txt.dvc")).unwrap();
    let (k1, k2, ka) = (
        key_of(b"old one\n"),
        key_of(b"old two\n"),
        key_of(b"alpha\n"),
    );

    let out = ok(fy(d).args(["gc", "-w", "--cloud", "-r", "r", "--dry"]));
    assert!(
        out.contains(&format!("Would remove {k1} from remote 'r'")),
        "{out}"
    );
    assert!(
        !out.contains(&format!("Would remove {k2} from remote")),
        "{out}"
    );
    assert!(out.contains(&format!("  {k2}: held by r, s")), "{out}");
    assert!(
        out.contains("deleting would leave fewer than 2 copies"),
        "{out}"
    );
    assert!(r.join(&k1).exists(), "--dry deletes nothing");

    let out = ok(fy(d).args(["gc", "-w", "--cloud", "-r", "r", "-f"]));
    assert!(out.contains("Removed 1 objects from remote 'r'."), "{out}");
    assert!(!r.join(&k1).exists());
    assert!(r.join(&k2).exists(), "under-replicated: kept");
    assert!(r.join(&ka).exists(), "used: kept");
    assert!(
        s.join(&k1).exists() && t.join(&k1).exists(),
        "other remotes untouched"
    );

    // min_copies = 0 is DVC's gc: every unused object goes, used ones stay.
    min_copies(d, 0);
    let out = ok(fy(d).args(["gc", "-w", "--cloud", "-r", "r", "-f"]));
    assert!(out.contains("Removed 1 objects from remote 'r'."), "{out}");
    assert!(!r.join(&k2).exists());
    assert!(r.join(&ka).exists());
}

#[test]
fn gc_cloud_on_an_http_remote_says_it_cannot_be_listed() {
    let dir = repo(0);
    let d = dir.path();
    let (_t, http_root) = remote_dir("ferry-gc-http");
    std::fs::create_dir_all(&http_root).unwrap();
    let server = HttpServer::start(&http_root, "", "");
    add_http(d, "dagshub", &server);
    let out = run(fy(d).args(["gc", "-w", "--cloud", "-r", "dagshub"]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot be listed"), "{stderr}");
    assert!(
        stderr.contains("gc --cloud is not possible there"),
        "{stderr}"
    );
    assert!(server.log().iter().all(|e| e.method != "DELETE"));
}

/// The S3 remote `name` behind the fault proxy, sharing `spec`'s bucket and prefix.
fn add_s3_via(d: &Path, name: &str, spec: &RemoteSpec, proxy: &HttpServer) {
    add_s3_at(d, name, &spec.url, &proxy.url(""));
}

fn usage_of(d: &Path, remote: &str) -> serde_json::Value {
    let out = ok(fy(d).args(["remote", "usage", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_value(report["remotes"].clone()).unwrap();
    rows.into_iter().find(|r| r["name"] == remote).unwrap()
}

#[test]
fn a_capped_source_is_passed_over_at_once_and_budgets_are_recorded() {
    let dir = repo(20);
    let d = dir.path();
    let expected = cache_objects(d);
    let direct = add_s3(d, "seaweed", "sync-cap");
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    add_s3_via(d, "backblaze", &direct, &proxy);
    let (_t, http_root) = remote_dir("ferry-sync-http");
    std::fs::create_dir_all(&http_root).unwrap();
    let server = HttpServer::start(&http_root, "", "");
    add_http(d, "dagshub", &server);
    let (_k, local) = remote_dir("ferry-sync-mirror");
    add_local(d, "mirror", &local);
    ok(fy(d).args(["sync", "--to", "seaweed,dagshub"]));
    std::fs::remove_dir_all(d.join(".dvc/cache")).unwrap();

    // B2's cap answer on the first download: backblaze is never asked for another object.
    proxy.control(r#"{"cap": true, "clear_log": true}"#);
    let out = ok(fy(d).args(["sync", "--to", "mirror", "--from", "backblaze,dagshub"]));
    assert_eq!(row(&out, "mirror")[4], "local cache 1, dagshub 21", "{out}");
    assert_eq!(objects_in(&local), expected);
    let gets: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|e| e.method == "GET" && !e.path.contains("list-type="))
        .collect();
    assert_eq!(gets.len(), 1, "one capped answer, then no more: {gets:?}");
    assert_eq!(gets[0].status, 403);
    assert!(usage_of(d, "backblaze")["capped_until"].is_string());
    let data_bytes: u64 = expected.values().map(|v| v.len() as u64).sum();
    assert_eq!(
        usage_of(d, "dagshub")["bytes"],
        data_bytes,
        "every byte came from dagshub: the .dir into the cache, the rest streamed"
    );

    // The next sync that day does not even try the capped remote.
    std::fs::remove_dir_all(&local).unwrap();
    std::fs::remove_dir_all(d.join(".dvc/cache")).unwrap();
    proxy.control(r#"{"clear_log": true}"#);
    let out = ok(fy(d).args(["sync", "--to", "mirror", "--from", "backblaze,dagshub"]));
    assert_eq!(row(&out, "mirror")[4], "local cache 1, dagshub 21", "{out}");
    assert!(proxy.log().is_empty(), "{:?}", proxy.log());

    // Objects lost from the capped remote: sync refills it all the same (uploads and LISTs are
    // not capped), and `status --remotes` then shows every remote complete.
    let lost = [
        key_of(b"alpha\n"),
        key_of(b"file number 3\n"),
        key_of(b"file number 7\n"),
    ];
    s3_delete(&direct, &lost);
    let out = ok(fy(d).args(["sync", "--to", "backblaze"]));
    assert_eq!(row(&out, "backblaze")[1..3], ["19", "3"], "{out}");
    assert_eq!(row(&out, "backblaze")[4], "dagshub 3", "{out}");
    assert_eq!(s3_objects(&direct), expected);
    let out = ok(fy(d).args(["status", "--remotes", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for r in v["remotes"].as_array().unwrap() {
        assert_eq!(r["missing"]["objects"], 0, "{out}");
        assert_eq!(r["present"]["objects"], 22, "{out}");
    }

    // After the daily reset (a day later on the budget clock) the cap is over: backblaze is
    // the first source again.
    proxy.control(r#"{"reset": true, "clear_log": true}"#);
    std::fs::remove_dir_all(&local).unwrap();
    let out = ok(fy(d).env("FERRY_NOW", NEXT_DAY).args([
        "sync",
        "--to",
        "mirror",
        "--from",
        "backblaze,dagshub",
    ]));
    assert_eq!(
        row(&out, "mirror")[4],
        "local cache 1, backblaze 21",
        "{out}"
    );
    assert_eq!(objects_in(&local), expected);
    s3_empty(&direct);
}

#[test]
fn a_source_budget_holds_and_the_overflow_comes_from_the_next_source() {
    let dir = repo(0);
    let d = dir.path();
    for i in 0..10 {
        let name = format!("n{i}.txt");
        write(d, &name, format!("twenty bytes, no. {i}\n"));
        ok(fy(d).args(["add", &name]));
    }
    let (_k, base) = remote_dir("ferry-sync-budget");
    add_local(d, "a", &base.join("a"));
    add_local(d, "b", &base.join("b"));
    add_local(d, "mirror", &base.join("mirror"));
    ok(fy(d).args(["sync", "--to", "a,b"]));
    std::fs::remove_dir_all(d.join(".dvc/cache")).unwrap();
    ok(fy(d).args(["remote", "modify", "a", "daily_download_limit", "100B"]));

    let out = ok(fy(d).args(["sync", "--to", "mirror", "--from", "a,b"]));
    let from = row(&out, "mirror")[4].to_string();
    let count = |name: &str| -> u64 {
        from.split(", ")
            .find_map(|p| p.strip_prefix(&format!("{name} ")))
            .map(|n| n.parse().unwrap())
            .unwrap_or(0)
    };
    assert_eq!(count("a") + count("b"), 11, "{out}");
    let used = usage_of(d, "a")["bytes"].as_u64().unwrap();
    assert!(used <= 100, "a's budget is 100 B, {used} used");
    assert!(used > 80, "a is used until no 20-byte object fits: {used}");
    assert_eq!(objects_in(&base.join("mirror")).len(), 11);
}

#[test]
fn sync_keeps_pinned_outputs_on_their_remote_and_push_false_outputs_home() {
    let dir = repo(0);
    let d = dir.path();
    write(d, "b.txt", "private\n");
    write(d, "c.txt", "common\n");
    ok(fy(d).args(["add", "b.txt", "c.txt"]));
    let dvc_a = read(d, "a.txt.dvc");
    write(d, "a.txt.dvc", format!("{dvc_a}  remote: mirror\n"));
    let dvc_b = read(d, "b.txt.dvc");
    write(d, "b.txt.dvc", format!("{dvc_b}  push: false\n"));
    let (_k, base) = remote_dir("ferry-sync-pinned");
    add_local(d, "mirror", &base.join("mirror"));
    add_local(d, "other", &base.join("other"));

    let out = ok(fy(d).arg("sync"));
    assert_eq!(row(&out, "mirror")[2], "2", "{out}");
    assert_eq!(row(&out, "other")[2], "1", "{out}");
    let (ka, kb, kc) = (
        key_of(b"alpha\n"),
        key_of(b"private\n"),
        key_of(b"common\n"),
    );
    let mirror = objects_in(&base.join("mirror"));
    let other = objects_in(&base.join("other"));
    assert_eq!(mirror.keys().cloned().collect::<Vec<_>>(), {
        let mut v = vec![ka.clone(), kc.clone()];
        v.sort();
        v
    });
    assert_eq!(other.keys().cloned().collect::<Vec<_>>(), vec![kc.clone()]);
    assert!(!mirror.contains_key(&kb) && !other.contains_key(&kb));

    // status --remotes counts each remote against what belongs on it, and still reports the
    // object that is on no remote at all.
    let out = ok(fy(d).args(["status", "--remotes", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for r in v["remotes"].as_array().unwrap() {
        assert_eq!(r["missing"]["objects"], 0, "{out}");
    }
    assert_eq!(v["remotes"][0]["present"]["objects"], 2, "{out}");
    assert_eq!(
        v["under_replicated"],
        serde_json::json!([{"path": "b.txt", "md5": md5_hex(b"private\n"), "remotes": []}])
    );
}
