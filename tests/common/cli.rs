//! What the output tests share: a command with a fixed clock, private budget ledger and config
//! dirs and an 80-column width (`COLUMNS=80` makes Ferry wrap as on an 80-column terminal), the
//! whole output as one text, insta filters for what changes from run to run, and remotes that
//! fail on purpose.
use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

/// The fixed instant every command of these tests runs at (`FERRY_NOW`).
pub const NOW: &str = "2026-06-01T12:00:00Z";

/// A private ledger and config dirs for one test's commands.
pub struct Env {
    state: TempDir,
    config: TempDir,
}

impl Env {
    /// Fresh, empty dirs.
    pub fn new() -> Env {
        Env {
            state: TempDir::new().expect("tempdir"),
            config: TempDir::new().expect("tempdir"),
        }
    }

    /// `ferry ARGS` in `dir` at [`NOW`], 80 columns, no colour.
    pub fn ferry(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = super::ferry(dir);
        cmd.args(args)
            .env("FERRY_STATE_DIR", self.state.path())
            .env("DVC_GLOBAL_CONFIG_DIR", self.config.path())
            .env("DVC_SYSTEM_CONFIG_DIR", self.config.path())
            .env("FERRY_NOW", NOW)
            .env("COLUMNS", "80")
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .env_remove("FERRY_REMOTE_S3_ACCESS_KEY_ID")
            .env_remove("FERRY_PROGRESS_EVERY");
        cmd
    }

    /// Runs `ferry ARGS`, which must succeed; its stdout.
    pub fn ok(&self, dir: &Path, args: &[&str]) -> String {
        super::ok(&mut self.ferry(dir, args))
    }

    /// Runs `ferry ARGS`; its whole output.
    pub fn run(&self, dir: &Path, args: &[&str]) -> Output {
        super::run(&mut self.ferry(dir, args))
    }
}

/// Exit code, stdout and stderr as one text for a snapshot; progress lines are left out.
pub fn whole(out: &Output) -> String {
    let stderr: Vec<&str> = std::str::from_utf8(&out.stderr)
        .unwrap_or("")
        .lines()
        .filter(|l| !is_progress(l))
        .collect();
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        super::text(&out.stdout),
        stderr.iter().map(|l| format!("{l}\n")).collect::<String>()
    )
}

fn is_progress(line: &str) -> bool {
    [
        "fetching:",
        "pushing:",
        "syncing:",
        "checking out",
        "hashing",
        "listing",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

/// Asserts that no line of `text` is wider than `width` (a table or a long word may be; say
/// which with `except`).
pub fn fits(text: &str, width: usize, except: &[&str]) {
    for line in text.lines() {
        if except.iter().any(|e| line.contains(e)) {
            continue;
        }
        assert!(
            line.chars().count() <= width,
            "wider than {width} columns: {line:?}\nin:\n{text}"
        );
    }
}

/// The one JSON document on stdout (nothing else may be there), checked for `"schema": 1`
/// and an `exit_code` equal to the process's.
pub fn json_doc(out: &Output) -> serde_json::Value {
    let stdout = super::text(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    assert_eq!(doc["schema"], 1, "{stdout}");
    if doc.get("exit_code").is_some() {
        assert_eq!(
            doc["exit_code"].as_i64(),
            out.status.code().map(i64::from),
            "{stdout}"
        );
    }
    doc
}

/// Filters for snapshots: `paths` (temp dirs) by name, ports, unique S3 prefixes.
pub fn settings(paths: &[(&Path, &str)]) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    for (p, name) in paths {
        s.add_filter(&regex::escape(&p.display().to_string()), *name);
    }
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    s.add_filter(r"[a-z]+-\d+-\d{6,}", "[PREFIX]");
    s
}

/// An S3 remote `name` on the shared SeaweedFS (or a proxy in front of it at `endpoint`), in a
/// prefix of its own, with `secret` as its secret key (the right one unless a test wants a
/// refusal); credentials in `config.local`.
pub fn add_s3(env: &Env, dir: &Path, name: &str, endpoint: &str, secret: &str) -> String {
    let url = format!(
        "s3://{}/{}",
        super::s3_bucket(),
        super::unique_prefix("msg")
    );
    env.ok(dir, &["remote", "add", name, &url]);
    env.ok(dir, &["remote", "modify", name, "endpointurl", endpoint]);
    let key = super::s3_key();
    env.ok(
        dir,
        &["remote", "modify", "--local", name, "access_key_id", &key],
    );
    env.ok(
        dir,
        &[
            "remote",
            "modify",
            "--local",
            name,
            "secret_access_key",
            secret,
        ],
    );
    url
}

/// A `ferry init`ed git repository with `files` (name, bytes) added.
pub fn repo_with(env: &Env, files: &[(&str, &str)]) -> TempDir {
    let repo = super::git_repo();
    env.ok(repo.path(), &["init"]);
    for (name, bytes) in files {
        super::write(repo.path(), name, bytes);
        env.ok(repo.path(), &["add", name]);
    }
    repo
}

/// Removes the cache and the given workspace files, so that a pull has them to download.
pub fn forget(dir: &Path, files: &[&str]) {
    let _ = std::fs::remove_dir_all(dir.join(".dvc/cache"));
    for f in files {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

/// A URL on 127.0.0.1 where nothing listens (a remote that is down).
pub fn down_url() -> String {
    format!("http://127.0.0.1:{}/store", super::free_port())
}
