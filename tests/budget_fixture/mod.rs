//! A repository with data on the shared SeaweedFS behind the counting (fault) proxy, for the
//! budget tests: what Ferry's ledger says it used is compared with what the proxy saw.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// A weekday afternoon, so no test depends on today's date.
pub const DAY: &str = "2026-11-27T15:00:00Z";

/// Deterministic bytes: object `i` of `len` bytes, different for every `i`.
pub fn blob(i: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x = (i as u64 + 7).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// What a server saw, in B2's classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// Object GET/HEAD requests (Class B).
    pub class_b: u64,
    /// LIST-class requests (Class C).
    pub class_c: u64,
}

/// Sorts a server log into B2's classes (uploads and deletes, Class A, are left out).
pub fn classes(log: &[LoggedRequest]) -> Seen {
    let mut seen = Seen::default();
    for l in log {
        let query = l.path.split_once('?').map_or("", |(_, q)| q);
        let list = query
            .split('&')
            .any(|p| p.starts_with("list-type=") || p == "uploads" || p.starts_with("uploads="));
        match l.method.as_str() {
            "GET" if list => seen.class_c += 1,
            "GET" | "HEAD" => seen.class_b += 1,
            _ => {}
        }
    }
    seen
}

/// The object bytes the proxy served with GETs so far (its control answer's `served`).
pub fn served(proxy: &HttpServer) -> u64 {
    let state: serde_json::Value = serde_json::from_str(&proxy.control("{}")).unwrap();
    state["served"].as_u64().unwrap()
}

/// A prefix of the test bucket, emptied when dropped.
pub struct S3Prefix {
    pub prefix: String,
}

impl S3Prefix {
    pub fn new(label: &str) -> S3Prefix {
        S3Prefix {
            prefix: unique_prefix(label),
        }
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", s3_bucket(), self.prefix)
    }

    /// Every key under the prefix, straight from SeaweedFS.
    pub fn keys(&self) -> Vec<String> {
        let r = ferry::remote::open(&s3_spec("check", self.url())).unwrap();
        runtime().block_on(r.list("")).unwrap()
    }
}

impl Drop for S3Prefix {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let r = ferry::remote::open(&s3_spec("check", self.url())).unwrap();
        let keys = self.keys();
        runtime().block_on(async {
            for k in keys {
                let _ = r.delete(&k).await;
            }
        });
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A git repository with DVC outputs and remotes; commands run with a state directory of the
/// caller's choosing (one per "machine").
pub struct Project {
    pub src: tempfile::TempDir,
    pub clones: Vec<tempfile::TempDir>,
}

impl Project {
    /// A repository whose outputs are `(out, files)`: a directory `out/` of `files` blobs of
    /// `size` bytes each, added with `ferry add` (not yet committed).
    pub fn new(outs: &[(&str, usize, usize)]) -> Project {
        let p = Project {
            src: git_repo(),
            clones: Vec::new(),
        };
        let state = tempfile::tempdir().unwrap();
        ok(&mut p.ferry(p.src(), state.path(), &["init", "-q"]));
        let mut i = 0;
        for (out, files, size) in outs {
            for f in 0..*files {
                write(p.src(), &format!("{out}/f{f:03}"), blob(i, *size));
                i += 1;
            }
            ok(&mut p.ferry(p.src(), state.path(), &["add", "-q", out]));
        }
        p
    }

    pub fn src(&self) -> &Path {
        self.src.path()
    }

    /// `ferry ARGS` in `dir` with the ledger in `state`, at [`DAY`], no user/system config.
    pub fn ferry(&self, dir: &Path, state: &Path, args: &[&str]) -> Command {
        let mut cmd = ferry(dir);
        cmd.args(args)
            .env("FERRY_STATE_DIR", state)
            .env("FERRY_NOW", DAY)
            .env("DVC_GLOBAL_CONFIG_DIR", state)
            .env("DVC_SYSTEM_CONFIG_DIR", state);
        cmd
    }

    pub fn run(&self, dir: &Path, state: &Path, args: &[&str]) -> Output {
        run(&mut self.ferry(dir, state, args))
    }

    /// [`Project::run`] at instant `now` instead of [`DAY`].
    pub fn run_at(&self, dir: &Path, state: &Path, now: &str, args: &[&str]) -> Output {
        run(self.ferry(dir, state, args).env("FERRY_NOW", now))
    }

    pub fn ok(&self, dir: &Path, state: &Path, args: &[&str]) -> String {
        ok(&mut self.ferry(dir, state, args))
    }

    /// Adds S3 remote `name` at `prefix` through `endpoint`, credentials in `config.local`.
    pub fn add_s3(&self, state: &Path, name: &str, prefix: &S3Prefix, endpoint: &str) {
        let dir = self.src();
        self.ok(dir, state, &["remote", "add", name, &prefix.url()]);
        self.ok(
            dir,
            state,
            &["remote", "modify", name, "endpointurl", endpoint],
        );
        self.credentials(dir, state, name);
    }

    /// The S3 test credentials for remote `name` in `dir`'s `config.local`.
    pub fn credentials(&self, dir: &Path, state: &Path, name: &str) {
        for (k, v) in [
            ("access_key_id", s3_key()),
            ("secret_access_key", s3_secret()),
        ] {
            self.ok(dir, state, &["remote", "modify", "--local", name, k, &v]);
        }
    }

    /// Commits everything in the source repository.
    pub fn commit(&self) {
        for args in [&["add", "-A"][..], &["commit", "-q", "-m", "data"]] {
            ok(Command::new("git").current_dir(self.src()).args(args));
        }
    }

    /// A fresh clone of the committed source (no cache, no `config.local`).
    pub fn clone_repo(&mut self) -> PathBuf {
        let dir = tempfile::Builder::new()
            .prefix("ferry-clone-")
            .tempdir()
            .unwrap();
        ok(Command::new("git").args([
            "clone",
            "-q",
            &self.src().display().to_string(),
            &dir.path().display().to_string(),
        ]));
        let path = dir.path().to_path_buf();
        self.clones.push(dir);
        path
    }

    /// `ferry remote usage --json` in `dir`, by remote name (the team form's `remotes` too).
    pub fn usage(&self, dir: &Path, state: &Path) -> BTreeMap<String, serde_json::Value> {
        let out = self.ok(dir, state, &["remote", "usage", "--json"]);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let rows = json.get("remotes").cloned().unwrap_or(json);
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r.clone()))
            .collect()
    }
}

pub fn out_text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}
