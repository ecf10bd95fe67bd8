//! `ferry doctor` against real servers: the shared SeaweedFS (S3, signed) and the DVC-protocol
//! HTTP test server. Each case — a good remote, wrong credentials, an unreachable host, a capped
//! remote, a secret in a tracked file — must be told apart by its checklist line and its exit
//! code, every problem must come with a fix, and no secret may appear in any output.
mod common;

use std::path::Path;
use std::process::Command;

use common::{HttpServer, ferry, ok, run, text, write};
use tempfile::TempDir;

const S3_REMOTE: &str = "backblaze";
const HTTP_REMOTE: &str = "dagshub";
const HTTP_USER: &str = "alice";
const HTTP_TOKEN: &str = "dagshub-token-6b1f0e";

/// A git + DVC repository and a private budget ledger.
struct Repo {
    dir: TempDir,
    state: TempDir,
}

impl Repo {
    fn new() -> Self {
        let dir = common::git_repo();
        ok(ferry(dir.path()).args(["init", "-q"]));
        Self {
            dir,
            state: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ferry(&self) -> Command {
        let mut cmd = ferry(self.path());
        // A fixed day, so a cap marked in one command still holds in the next whatever the
        // wall clock says.
        cmd.env("FERRY_STATE_DIR", self.state.path())
            .env("FERRY_NOW", "2026-11-27T15:00:00Z");
        common::fixture::without_remote_overrides(&mut cmd);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(self.ferry().args(args))
    }

    /// Runs `ferry doctor ARGS`: exit code, stdout, stderr.
    fn doctor(&self, args: &[&str]) -> (i32, String, String) {
        let out = run(self.ferry().arg("doctor").args(args));
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    /// `ferry doctor --json ARGS`, parsed.
    fn doctor_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let (code, stdout, stderr) = self.doctor(&[&["--json"], args].concat());
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n{stderr}"));
        (code, json)
    }

    /// An S3 remote on the shared SeaweedFS, in a prefix of its own, with `secret`.
    fn add_s3(&self, secret: &str) {
        let url = format!(
            "s3://{}/{}",
            common::s3_bucket(),
            common::unique_prefix("doctor")
        );
        self.add_s3_at(&url, &common::s3_endpoint(), secret);
    }

    fn add_s3_at(&self, url: &str, endpoint: &str, secret: &str) {
        self.ok(&["remote", "add", S3_REMOTE, url]);
        self.ok(&["remote", "modify", S3_REMOTE, "endpointurl", endpoint]);
        self.ok(&["remote", "modify", S3_REMOTE, "region", "us-east-1"]);
        let key = common::s3_key();
        self.ok(&[
            "remote",
            "modify",
            "--local",
            S3_REMOTE,
            "access_key_id",
            &key,
        ]);
        self.ok(&[
            "remote",
            "modify",
            "--local",
            S3_REMOTE,
            "secret_access_key",
            secret,
        ]);
    }

    /// The HTTP remote at `url` with basic auth `HTTP_USER`/`token` in config.local.
    fn add_http(&self, url: &str, token: &str) {
        self.ok(&["remote", "add", HTTP_REMOTE, url]);
        for (k, v) in [("auth", "basic"), ("user", HTTP_USER), ("password", token)] {
            self.ok(&["remote", "modify", "--local", HTTP_REMOTE, k, v]);
        }
    }
}

/// The checklist lines of one remote's block in the human report.
fn block<'a>(stdout: &'a str, remote: &str) -> &'a str {
    let start = stdout
        .find(&format!("{remote}  "))
        .unwrap_or_else(|| panic!("no block for {remote}:\n{stdout}"));
    let rest = &stdout[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// The `problem` field of `remote` in the JSON report.
fn problem(json: &serde_json::Value, remote: &str) -> serde_json::Value {
    json["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == remote)
        .unwrap_or_else(|| panic!("no {remote} in {json}"))["problem"]
        .clone()
}

/// A port on 127.0.0.1 where nothing listens.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn assert_no_secret(outputs: &[&str], secrets: &[&str]) {
    for out in outputs {
        for s in secrets {
            assert!(!out.contains(s), "a secret leaked into:\n{out}");
        }
    }
}

#[test]
fn a_good_s3_remote_passes_every_check_including_write() {
    let repo = Repo::new();
    let secret = common::s3_secret();
    repo.add_s3(&secret);
    let (code, stdout, stderr) = repo.doctor(&["--write"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let b = block(&stdout, S3_REMOTE);
    assert!(b.contains("  s3  s3://"), "{b}");
    assert!(
        b.contains(&format!("(endpoint {})", common::s3_endpoint())),
        "{b}"
    );
    for line in [
        "ok    reachable",
        "ok    credentials accepted",
        "ok    can list",
        "ok    can read (a missing object answers \"not found\")",
        "ok    can write, read back and delete",
        // the probe read back (35 bytes) is charged like any download
        "ok    budget: 35 B downloaded today (no limit); 3 requests (no limit); 2 list calls (no limit); resets ",
    ] {
        assert!(b.contains(line), "missing `{line}` in:\n{b}");
    }
    assert!(
        !stdout.contains("FAIL") && !stdout.contains("warn"),
        "{stdout}"
    );
    assert_no_secret(&[&stdout, &stderr], &[&secret]);

    let (code, json) = repo.doctor_json(&[]);
    assert_eq!(code, 0);
    assert_eq!(json["exit_code"], 0);
    assert!(problem(&json, S3_REMOTE).is_null());
    assert_eq!(json["problems"], serde_json::json!([]));
    // The two probes' HEAD and GET, plus the GET of the write probe read back, are in the ledger.
    let budget = &json["remotes"][0]["budget"];
    assert_eq!(budget["requests"], 5, "{budget}");
    assert!(budget["bytes_limit"].is_null());
}

#[test]
fn wrong_s3_credentials_are_a_configuration_problem_with_the_fix() {
    let repo = Repo::new();
    let wrong = "not-the-secret-0123456789abcdef";
    repo.add_s3(wrong);
    let (code, stdout, stderr) = repo.doctor(&[]);
    assert_eq!(code, 251, "{stdout}\n{stderr}");
    let b = block(&stdout, S3_REMOTE);
    assert!(b.contains("ok    reachable"), "{b}");
    assert!(b.contains("FAIL  credentials refused: "), "{b}");
    assert!(
        b.contains(&format!(
            "fix: ferry remote modify --local {S3_REMOTE} access_key_id <key id>"
        )) && b.contains(&format!(
            "ferry remote modify --local {S3_REMOTE} secret_access_key <secret key>"
        )),
        "{b}"
    );
    assert!(
        b.contains("--    read: not tried (credentials refused)"),
        "{b}"
    );
    assert!(
        stderr.contains(&format!(
            "ERROR: 1 problem: remote '{S3_REMOTE}' credentials refused"
        )),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("hint: ")
    );
    assert_no_secret(&[&stdout, &stderr], &[wrong]);
    let (_, json) = repo.doctor_json(&[]);
    assert_eq!(problem(&json, S3_REMOTE), "credentials_refused");
    assert_eq!(json["exit_code"], 251);
}

#[test]
fn an_unreachable_s3_endpoint_fails_with_exit_1() {
    let repo = Repo::new();
    let endpoint = format!("http://127.0.0.1:{}", dead_port());
    repo.add_s3_at(
        &format!("s3://{}/unreachable", common::s3_bucket()),
        &endpoint,
        &common::s3_secret(),
    );
    let (code, stdout, stderr) = repo.doctor(&[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let b = block(&stdout, S3_REMOTE);
    assert!(b.contains("FAIL  unreachable: "), "{b}");
    assert!(
        b.contains(&format!(
            "fix: ferry remote modify {S3_REMOTE} endpointurl https://…"
        )),
        "{b}"
    );
    assert!(
        b.contains("--    credentials: not tried (unreachable)"),
        "{b}"
    );
    let (_, json) = repo.doctor_json(&[]);
    assert_eq!(problem(&json, S3_REMOTE), "unreachable");
}

#[test]
fn http_remote_good_wrong_token_and_dead_port_are_told_apart() {
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), HTTP_USER, HTTP_TOKEN);

    // Good: reachable, credentials accepted, no listing on HTTP, the write probe cleaned up.
    let good = Repo::new();
    good.add_http(&server.url("store"), HTTP_TOKEN);
    let (code, stdout, stderr) = good.doctor(&["--write"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let b = block(&stdout, HTTP_REMOTE);
    assert!(
        b.contains(&format!("  http  {}", server.url("store"))),
        "{b}"
    );
    assert!(b.contains("ok    credentials accepted"), "{b}");
    assert!(
        b.contains("--    list: not possible on HTTP remotes"),
        "{b}"
    );
    assert!(b.contains("ok    can write, read back and delete"), "{b}");
    let log = server.log();
    assert!(
        log.iter()
            .any(|r| r.method == "POST" && r.path.starts_with("/store/ferry-doctor/probe-")),
        "{log:?}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(root.path().join("store/ferry-doctor"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "probe left: {leftovers:?}");
    assert_no_secret(&[&stdout, &stderr], &[HTTP_TOKEN]);

    // Wrong token: 251 and the commands that set user and token.
    let wrong = Repo::new();
    wrong.add_http(&server.url("store"), "wrong-token-93c2");
    let (code, stdout, stderr) = wrong.doctor(&[]);
    assert_eq!(code, 251, "{stdout}\n{stderr}");
    let b = block(&stdout, HTTP_REMOTE);
    assert!(b.contains("FAIL  credentials refused: "), "{b}");
    assert!(
        b.contains(&format!(
            "ferry remote modify --local {HTTP_REMOTE} password <token>"
        )),
        "{b}"
    );
    assert_no_secret(&[&stdout, &stderr], &["wrong-token-93c2"]);

    // Nothing listening: 1 and "unreachable".
    let dead = Repo::new();
    dead.add_http(
        &format!("http://127.0.0.1:{}/store", dead_port()),
        HTTP_TOKEN,
    );
    let (code, stdout, stderr) = dead.doctor(&[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let b = block(&stdout, HTTP_REMOTE);
    assert!(b.contains("FAIL  unreachable: "), "{b}");
    assert!(
        b.contains(&format!(
            "fix: ferry remote modify {HTTP_REMOTE} url https://…"
        )),
        "{b}"
    );
}

#[test]
fn a_capped_remote_is_reported_until_its_reset_and_marked_for_pulls() {
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), HTTP_USER, HTTP_TOKEN);
    let repo = Repo::new();
    repo.add_http(&server.url("store"), HTTP_TOKEN);
    server.control(r#"{"cap": true}"#);

    let (code, stdout, stderr) = repo.doctor(&[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let b = block(&stdout, HTTP_REMOTE);
    assert!(
        b.contains("ok    credentials accepted (the server answers with its cap)"),
        "{b}"
    );
    assert!(
        b.contains("FAIL  cannot read: the server says its download cap is exceeded"),
        "{b}"
    );
    assert!(b.contains("FAIL  capped until "), "{b}");
    assert!(b.contains("fix: ferry pull   # nothing to fix"), "{b}");
    assert!(
        stderr.contains(&format!("remote '{HTTP_REMOTE}' capped")),
        "{stderr}"
    );

    // The cap is in the ledger, so pulls skip the remote without a request.
    assert!(repo.ok(&["remote", "usage"]).contains("CAPPED"));
    // With the server answering again, doctor's own probe shows the cap is over: it does not
    // report "can read" next to "capped" but clears the mark and says why (issue 15).
    server.control(r#"{"reset": true}"#);
    let (code, json) = repo.doctor_json(&[]);
    assert_eq!(code, 0, "{json}");
    assert!(problem(&json, HTTP_REMOTE).is_null(), "{json}");
    let budget = &json["remotes"][0]["budget"];
    assert!(budget["capped_until"].is_null(), "{budget}");
    assert!(!repo.ok(&["remote", "usage"]).contains("CAPPED"));
}

#[test]
fn a_secret_in_a_tracked_file_is_named_with_its_fix_and_never_shown() {
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let repo = Repo::new();
    repo.ok(&["remote", "add", "-d", "store", &server.url("store")]);
    let (code, stdout, _) = repo.doctor(&[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok    no secrets in .dvc/config or .dvc/ferry.toml"));

    // `remote modify` without --local puts the token in the tracked .dvc/config (it warns).
    let token = "tracked-secret-5d2a";
    repo.ok(&["remote", "modify", "store", "password", token]);
    ok(Command::new("git")
        .current_dir(repo.path())
        .args(["add", ".dvc/config"]));
    let (code, stdout, stderr) = repo.doctor(&[]);
    assert_eq!(code, 251, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "FAIL  secret in a file tracked by git: remote.store.password in .dvc/config"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix: ferry remote modify --local store password <value>")
            && stdout.contains("ferry remote modify --unset store password"),
        "{stdout}"
    );
    assert!(block(&stdout, "store").contains("ok    reachable"));
    assert_no_secret(&[&stdout, &stderr], &[token]);
    let (_, json) = repo.doctor_json(&[]);
    let check = json["repository"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "tracked_secrets")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "fail");
    assert!(
        problem(&json, "store").is_null(),
        "the remote itself is fine"
    );

    // The fix works: doctor is clean again.
    repo.ok(&["remote", "modify", "--local", "store", "password", token]);
    repo.ok(&["remote", "modify", "--unset", "store", "password"]);
    let (code, stdout, _) = repo.doctor(&[]);
    assert_eq!(code, 0, "{stdout}");

    // A secret in ferry.toml, which every other command refuses, is found too.
    write(
        repo.path(),
        ".dvc/ferry.toml",
        format!("[remote.store]\ntoken = \"{token}\"\n"),
    );
    let (code, stdout, stderr) = repo.doctor(&[]);
    assert_eq!(code, 251, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("remote.store.token in .dvc/ferry.toml"),
        "{stdout}"
    );
    assert_no_secret(&[&stdout, &stderr], &[token]);
}

#[test]
fn config_local_exposure_is_warned_and_unknown_remote_names_fail() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let repo = Repo::new();
    repo.ok(&["remote", "add", "-d", "store", &server.url("store")]);
    repo.ok(&["remote", "modify", "--local", "store", "password", "p"]);
    let local = repo.path().join(".dvc/config.local");
    assert_eq!(
        std::fs::metadata(&local).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (code, stdout, _) = repo.doctor(&[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok    .dvc/config.local is ignored by git"));
    assert!(stdout.contains("ok    .dvc/config.local is private (mode 600)"));

    // Not ignored and world-readable: warnings with fixes, exit still 0.
    write(repo.path(), ".dvc/.gitignore", "/tmp\n/cache\n");
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stdout, _) = repo.doctor(&[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("warn  .dvc/config.local is not ignored by git")
            && stdout.contains("fix: echo /config.local >> .dvc/.gitignore"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warn  .dvc/config.local is readable by other users (mode 644)")
            && stdout.contains("fix: chmod 600 .dvc/config.local"),
        "{stdout}"
    );

    // Run from a subdirectory, the fix commands name the files so they work from there.
    std::fs::create_dir(repo.path().join("sub")).unwrap();
    let out = run(repo
        .ferry()
        .current_dir(repo.path().join("sub"))
        .arg("doctor"));
    let root = repo.path().canonicalize().unwrap();
    let sub_stdout = text(&out.stdout);
    assert!(
        sub_stdout.contains(&format!(
            "fix: chmod 600 {}",
            root.join(".dvc/config.local").display()
        )) || sub_stdout.contains(&format!(
            "fix: chmod 600 {}",
            repo.path().join(".dvc/config.local").display()
        )),
        "{sub_stdout}"
    );

    // A name in pull.order that is no remote breaks every pull: a configuration problem.
    write(
        repo.path(),
        ".dvc/ferry.toml",
        "[pull]\norder = [\"store\", \"backblaze\"]\n",
    );
    let (code, stdout, _) = repo.doctor(&[]);
    assert_eq!(code, 251, "{stdout}");
    assert!(
        stdout.contains(
            "FAIL  pull.order in .dvc/ferry.toml names 'backblaze', which is not a remote"
        ) && stdout.contains("fix: ferry remote add backblaze <URL>"),
        "{stdout}"
    );
}

#[test]
fn dash_r_checks_one_remote_and_refuses_unknown_names() {
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), HTTP_USER, HTTP_TOKEN);
    let repo = Repo::new();
    repo.add_http(&server.url("store"), "wrong");
    let dir = tempfile::tempdir().unwrap();
    repo.ok(&[
        "remote",
        "add",
        "-d",
        "store",
        &dir.path().display().to_string(),
    ]);

    let (code, stdout, _) = repo.doctor(&["-r", "store", "--write"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(!stdout.contains(HTTP_REMOTE), "{stdout}");
    assert!(
        block(&stdout, "store").contains("ok    can write, read back and delete"),
        "{stdout}"
    );
    // The directory remote is left as it was: no probe, no empty ferry-doctor/.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let (code, stdout, _) = repo.doctor(&[]);
    assert_eq!(code, 251, "{stdout}");
    assert!(block(&stdout, "store").contains("ok    can read"));

    let (code, _, stderr) = repo.doctor(&["-r", "nosuch"]);
    assert_eq!(code, 251, "{stderr}");
    assert!(stderr.contains("remote 'nosuch' doesn't exist"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
}

/// Ctrl-C ends any command with DVC's 252 and a hint (here a push stuck on a slow server).
#[test]
fn ctrl_c_exits_252() {
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    server.control(r#"{"slow": 30}"#);
    let repo = Repo::new();
    write(repo.path(), "data.txt", "hello\n");
    repo.ok(&["add", "data.txt"]);
    repo.ok(&["remote", "add", "-d", "slow", &server.url("store")]);
    let child = repo
        .ferry()
        .args(["push"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the process catches SIGINT (bit 2 of SigCgt in /proc), i.e. while the
    // push waits on the slow server.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !catches_sigint(child.id()) {
        assert!(
            std::time::Instant::now() < deadline,
            "ferry never set up its Ctrl-C handler"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ok(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(252), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("ERROR: interrupted by the user"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
}

/// Whether process `pid` has a handler for SIGINT (Linux: the SigCgt mask in /proc).
fn catches_sigint(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

/// B2 once its cap is hit, through the fault proxy in front of SeaweedFS: a bare 403 on HEAD
/// and B2's cap XML on GET. Doctor must call that "capped" — not "credentials refused" — and
/// still find out that uploads work (`--write`).
#[test]
fn a_b2_style_cap_on_s3_is_not_mistaken_for_bad_credentials() {
    let proxy = HttpServer::s3_proxy(&common::s3_endpoint());
    let repo = Repo::new();
    repo.add_s3_at(
        &format!(
            "s3://{}/{}",
            common::s3_bucket(),
            common::unique_prefix("doctor-cap")
        ),
        proxy.url("").trim_end_matches('/'),
        &common::s3_secret(),
    );
    proxy.control(r#"{"cap": true}"#);
    let (code, stdout, stderr) = repo.doctor(&["--write"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let b = block(&stdout, S3_REMOTE);
    assert!(
        b.contains("ok    credentials accepted (the server answers with its cap)"),
        "{b}"
    );
    assert!(b.contains("ok    can list"), "{b}");
    assert!(
        b.contains("FAIL  cannot read: the server says its download cap is exceeded"),
        "{b}"
    );
    assert!(
        b.contains("ok    can write and delete (probe under ferry-doctor/; not read back: capped)"),
        "{b}"
    );
    assert!(b.contains("FAIL  capped until "), "{b}");
    let (_, json) = repo.doctor_json(&[]);
    assert_eq!(problem(&json, S3_REMOTE), "capped");
    proxy.control(r#"{"reset": true}"#);
}

/// A bucket that does not exist is a configuration problem with its fix, not "failing".
/// (No `--write` here: SeaweedFS would create the bucket on the first PUT.)
#[test]
fn a_missing_bucket_is_a_configuration_problem() {
    let repo = Repo::new();
    let bucket = format!("ferry-missing-{}", std::process::id());
    repo.add_s3_at(
        &format!("s3://{bucket}/data"),
        &common::s3_endpoint(),
        &common::s3_secret(),
    );
    let (code, stdout, stderr) = repo.doctor(&[]);
    assert_eq!(code, 251, "{stdout}\n{stderr}");
    let b = block(&stdout, S3_REMOTE);
    assert!(b.contains("FAIL  the bucket does not exist: "), "{b}");
    assert!(
        b.contains(&format!(
            "fix: ferry remote modify {S3_REMOTE} url s3://<existing bucket>/<path>"
        )),
        "{b}"
    );
    assert!(
        b.contains("--    read: not tried (the bucket does not exist)"),
        "{b}"
    );
    assert!(
        stderr.contains(&format!("remote '{S3_REMOTE}' misconfigured")),
        "{stderr}"
    );
    let (_, json) = repo.doctor_json(&[]);
    assert_eq!(problem(&json, S3_REMOTE), "config");
}
