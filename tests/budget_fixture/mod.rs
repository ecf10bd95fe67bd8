//! A repository with data on the shared SeaweedFS behind the counting (fault) proxy, for the
//! budget tests: what Ferry's ledger says it used is compared with what the proxy saw.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::fixture::{self, S3Prefix};
use crate::common::*;

/// A weekday afternoon, so no test depends on today's date.
pub const DAY: &str = "2026-11-27T15:00:00Z";

/// Deterministic bytes: object `i` of `len` bytes (this suite's salt).
pub fn blob(i: usize, len: usize) -> Vec<u8> {
    fixture::blob(7, i, len)
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
        let mut cmd = fixture::sandboxed(dir, state, DAY);
        cmd.args(args);
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
        for args in fixture::s3_credential_args(name) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.ok(dir, state, &args);
        }
    }

    /// Commits everything in the source repository.
    pub fn commit(&self) {
        fixture::git_commit_all(self.src(), "data");
    }

    /// A fresh clone of the committed source (no cache, no `config.local`).
    pub fn clone_repo(&mut self) -> PathBuf {
        let dir = fixture::git_clone(self.src());
        let path = dir.path().to_path_buf();
        self.clones.push(dir);
        path
    }

    /// The size of the `.dir` manifest of output `out` in the source's cache.
    pub fn manifest_len(&self, out: &str) -> u64 {
        let md5 = fixture::recorded_md5(self.src(), &format!("{out}.dvc"));
        let path = self
            .src()
            .join(".dvc/cache")
            .join(fixture::object_key(&md5));
        std::fs::metadata(path).unwrap().len()
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
