//! Issue 12's "done when", counted at the servers: three faulty remotes at once (two S3
//! prefixes behind fault proxies in front of SeaweedFS, one DVC-protocol HTTP server), each
//! drawing from a fixed seed among 500, 429/503 with `Retry-After`, resets, stalls, truncated and
//! flipped bodies, one of them capping after N bytes as B2 does; a plain directory remote last
//! in the pull order serves what the limits leave. Through push, two pulls at once, a fetch and
//! two syncs at once (all on one day, `FERRY_NOW`), the bytes and GET/HEAD requests each server
//! answered never pass its configured daily limits, the capped remote gets no GET/HEAD after
//! its first cap answer (in that run and the later ones), and push leaves no remote with a
//! `.dir` whose files it lacks.
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fixture::{
    class_b, files_under, git_clone, out_text, s3_credential_args, sandboxed, served,
};
use common::{
    HttpServer, git_repo, ok, run, s3_bucket, s3_endpoint, s3_spec, unique_prefix, write,
};

const DAY: &str = "2026-11-27T15:00:00Z";
const FILES: usize = 24;
const SIZE: usize = 6_000;
/// s3a's and dh's daily limits (bytes, GET/HEAD requests); s3b caps after `CAP_AFTER` bytes.
const S3A_LIMITS: (u64, usize) = (70_000, 40);
const DH_LIMITS: (u64, usize) = (80_000, 70);
const CAP_AFTER: u64 = 40_000;
/// Requests at once per remote.
const JOBS: usize = 2;

fn blob(i: usize) -> Vec<u8> {
    common::fixture::blob(11, i, SIZE)
}

struct World {
    src: tempfile::TempDir,
    state: tempfile::TempDir,
    clones: Vec<tempfile::TempDir>,
    s3a: (HttpServer, String),
    s3b: (HttpServer, String),
    dh: (HttpServer, tempfile::TempDir),
    disk: tempfile::TempDir,
    /// GET/HEADs that arrived at s3b after its first cap answer, once it has answered one.
    after_cap: std::sync::Mutex<Option<usize>>,
}

impl World {
    fn ferry(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = sandboxed(dir, self.state.path(), DAY);
        cmd.args(args);
        cmd
    }

    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        ok(&mut self.ferry(dir, args))
    }

    fn credentials(&self, dir: &Path) {
        for name in ["s3a", "s3b"] {
            for args in s3_credential_args(name) {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.ok(dir, &args);
            }
        }
    }

    fn clone(&mut self) -> PathBuf {
        let dir = git_clone(self.src.path());
        let path = dir.path().to_path_buf();
        self.clones.push(dir);
        self.credentials(&path);
        path
    }

    /// Runs `args` in each of `dirs` at once; their outputs, in order.
    fn at_once(&self, dirs: &[PathBuf], args: &[&str]) -> Vec<Output> {
        let children: Vec<_> = dirs
            .iter()
            .map(|d| {
                self.ferry(d, args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect()
    }

    /// Every limit held at every server so far, and the capped remote got nothing after its
    /// cap answer.
    fn check(&self, step: &str, processes: usize) {
        for (name, server, (bytes, requests)) in [
            ("s3a", &self.s3a.0, S3A_LIMITS),
            ("dh", &self.dh.0, DH_LIMITS),
        ] {
            let log = server.log();
            let sent = class_b(&log).len();
            let served = served(server);
            eprintln!("{step}: {name} served {served}/{bytes} bytes, {sent}/{requests} GET/HEADs");
            assert!(served <= bytes, "{step}: {name} served {served} > {bytes}");
            assert!(
                sent <= requests,
                "{step}: {name} answered {sent} > {requests}"
            );
            let usage = &self.usage()[name];
            assert_eq!(
                (usage["bytes"].as_u64(), usage["requests"].as_u64()),
                (Some(served), Some(sent as u64)),
                "{step}: the ledger of {name} holds what its server counted"
            );
        }
        // After the first cap answer only requests each process sent before its own first cap
        // answer reached it may still arrive: at most `JOBS` at once per process (less the one
        // answered first); in the later runs that day none at all.
        let log = self.s3b.0.log();
        let seen = class_b(&log);
        let after = seen
            .iter()
            .filter(|l| l.status == 403)
            .map(|l| l.t)
            .reduce(f64::min)
            .map(|capped| {
                seen.iter()
                    .filter(|l| l.t0 > capped)
                    .cloned()
                    .collect::<Vec<_>>()
            });
        if let Some(after) = after {
            assert!(after.iter().all(|l| l.status == 403), "{step}: {after:?}");
            let mut first = self.after_cap.lock().unwrap();
            match *first {
                None => {
                    assert!(
                        after.len() < processes * JOBS,
                        "{step}: s3b got {} GET/HEADs after its cap answer: {after:?}",
                        after.len()
                    );
                    *first = Some(after.len());
                }
                Some(n) => assert_eq!(
                    after.len(),
                    n,
                    "{step}: s3b got GET/HEADs in a run after its cap answer: {after:?}"
                ),
            }
        }
        eprintln!(
            "{step}: s3b served {} bytes (cap after {CAP_AFTER}), {} GET/HEADs",
            served(&self.s3b.0),
            seen.len()
        );
    }

    /// `ferry remote usage --json`, by remote name.
    fn usage(&self) -> std::collections::BTreeMap<String, serde_json::Value> {
        let src = self.src.path().to_path_buf();
        let report: serde_json::Value =
            serde_json::from_str(&self.ok(&src, &["remote", "usage", "--json"])).unwrap();
        assert_eq!(report["schema"], 1);
        let rows: Vec<serde_json::Value> =
            serde_json::from_value(report["remotes"].clone()).unwrap();
        rows.into_iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r))
            .collect()
    }

    /// Every remote that holds the `.dir` holds every file it lists.
    fn no_dir_without_its_files(&self, want: &BTreeSet<String>, dir_key: &str) {
        let rt = common::fixture::runtime();
        let mut holdings: Vec<(&str, BTreeSet<String>)> = Vec::new();
        for (name, url) in [("s3a", &self.s3a.1), ("s3b", &self.s3b.1)] {
            let remote = ferry::remote::open(&s3_spec("check", url.clone())).unwrap();
            holdings.push((
                name,
                rt.block_on(remote.list("")).unwrap().into_iter().collect(),
            ));
        }
        holdings.push((
            "dh",
            files_under(&self.dh.1.path().join("store"))
                .into_iter()
                .collect(),
        ));
        for (name, keys) in holdings {
            if keys.contains(dir_key) {
                let lacking: Vec<&String> = want.difference(&keys).collect();
                assert!(
                    lacking.is_empty(),
                    "{name} holds the .dir but lacks {lacking:?}"
                );
            }
        }
    }
}

fn chaos(seed: u64, extra: &str) -> String {
    format!(
        r#"{{"chaos": {{"seed": {seed}, "rate": 0.3, "kinds": ["500", "429", "503", "reset", "truncate", "flip", "stall"]}}, "retry_after": 1, "stall": 3{extra}}}"#
    )
}

#[test]
fn limits_and_caps_hold_at_three_faulty_servers_through_every_command() {
    let s3a = HttpServer::s3_proxy(&s3_endpoint());
    let s3b = HttpServer::s3_proxy(&s3_endpoint());
    let dh_root = tempfile::tempdir().unwrap();
    let dh = HttpServer::start(dh_root.path(), "", "");
    let bucket = s3_bucket();
    let mut w = World {
        src: git_repo(),
        state: tempfile::tempdir().unwrap(),
        clones: Vec::new(),
        s3a: (s3a, format!("s3://{bucket}/{}", unique_prefix("faults-a"))),
        s3b: (s3b, format!("s3://{bucket}/{}", unique_prefix("faults-b"))),
        dh: (dh, dh_root),
        disk: tempfile::tempdir().unwrap(),
        after_cap: std::sync::Mutex::new(None),
    };
    let src = w.src.path().to_path_buf();
    w.ok(&src, &["init", "-q"]);
    let mut want = BTreeSet::new();
    for i in 0..FILES {
        let bytes = blob(i);
        want.insert(common::key_of(&bytes));
        write(&src, &format!("data/f{i:02}"), &bytes);
    }
    w.ok(&src, &["add", "-q", "data"]);
    for (name, (proxy, url)) in [("s3a", &w.s3a), ("s3b", &w.s3b)] {
        w.ok(&src, &["remote", "add", name, url]);
        let endpoint = proxy.url("");
        w.ok(
            &src,
            &[
                "remote",
                "modify",
                name,
                "endpointurl",
                endpoint.trim_end_matches('/'),
            ],
        );
    }
    w.ok(&src, &["remote", "add", "dh", &w.dh.0.url("store")]);
    w.ok(
        &src,
        &[
            "remote",
            "add",
            "-d",
            "disk",
            &w.disk.path().display().to_string(),
        ],
    );
    for name in ["s3a", "s3b", "dh"] {
        w.ok(&src, &["remote", "modify", name, "jobs", &JOBS.to_string()]);
        w.ok(&src, &["remote", "modify", name, "read_timeout", "1"]);
    }
    w.credentials(&src);
    write(
        &src,
        ".dvc/ferry.toml",
        format!(
            "[pull]\norder = [\"s3a\", \"s3b\", \"dh\", \"disk\"]\n\n\
             [remote.s3a]\ndaily_download_limit = {}\ndaily_request_limit = {}\n\n\
             [remote.dh]\ndaily_download_limit = {}\ndaily_request_limit = {}\n",
            S3A_LIMITS.0, S3A_LIMITS.1, DH_LIMITS.0, DH_LIMITS.1
        ),
    );
    ok(Command::new("git").current_dir(&src).args(["add", "-A"]));
    ok(Command::new("git")
        .current_dir(&src)
        .args(["commit", "-q", "-m", "data and remotes"]));
    let dir_key = {
        let dvc = std::fs::read_to_string(src.join("data.dvc")).unwrap();
        let md5 = dvc
            .lines()
            .find_map(|l| l.trim().trim_start_matches("- ").strip_prefix("md5: "))
            .unwrap()
            .trim()
            .to_string();
        format!("files/md5/{}/{}", &md5[..2], &md5[2..])
    };
    let mut with_dir = want.clone();
    with_dir.insert(dir_key.clone());

    w.s3a.0.control(&chaos(101, ""));
    w.s3b
        .0
        .control(&chaos(202, &format!(r#", "cap_after_bytes": {CAP_AFTER}"#)));
    w.dh.0.control(&chaos(303, ""));

    // push, rerun until it reports success: each run leaves no `.dir` without its files
    let mut pushed = false;
    for _ in 0..4 {
        let out = run(&mut w.ferry(&src, &["push", "--all-remotes"]));
        w.no_dir_without_its_files(&with_dir, &dir_key);
        w.check("push", 1);
        if out.status.success() {
            pushed = true;
            break;
        }
        eprintln!("push failed, rerun: {}", out_text(&out));
    }
    assert!(pushed, "push completed within four runs");

    // two pulls at once
    let pulls = [w.clone(), w.clone()];
    for (dir, out) in pulls.iter().zip(w.at_once(&pulls, &["pull"])) {
        assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
        for i in 0..FILES {
            assert_eq!(
                std::fs::read(dir.join(format!("data/f{i:02}"))).unwrap(),
                blob(i)
            );
        }
    }
    w.check("two pulls", 2);

    let fetch = w.clone();
    let out = run(&mut w.ferry(&fetch, &["fetch"]));
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    w.check("fetch", 1);

    // two syncs at once, each filling its own empty directory remote from the others
    let syncs = [w.clone(), w.clone()];
    let spares = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (dir, spare) in syncs.iter().zip(&spares) {
        w.ok(
            dir,
            &[
                "remote",
                "add",
                "spare",
                &spare.path().display().to_string(),
            ],
        );
    }
    for out in w.at_once(&syncs, &["sync", "--to", "spare"]) {
        assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    }
    for spare in &spares {
        assert_eq!(
            files_under(spare.path())
                .into_iter()
                .collect::<BTreeSet<_>>(),
            with_dir,
            "the spare got everything"
        );
    }
    w.check("two syncs", 2);

    let statuses: BTreeSet<u16> = [&w.s3a.0, &w.s3b.0, &w.dh.0]
        .iter()
        .flat_map(|s| s.log().into_iter().map(|l| l.status))
        .collect();
    for status in [0, 403, 429, 500, 503] {
        assert!(
            statuses.contains(&status),
            "{status} was injected: {statuses:?}"
        );
    }
}
