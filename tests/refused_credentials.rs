//! Refused credentials on real servers (moto with strict SigV4, SeaweedFS, the DVC-protocol HTTP
//! test server): every transfer command exits 251 naming the remote, with a hint for that
//! remote's kind; the pull summary never claims a fallback that did not happen; `doctor` tells
//! a wrong secret from an unknown key where the server's answer says which.
mod common;

use std::path::Path;
use std::process::Command;

use common::{HttpServer, NginxServer, ferry, ok, run, text, write};
use tempfile::TempDir;

/// A git + DVC repository with one tracked directory, and a private budget ledger.
struct Repo {
    dir: TempDir,
    state: TempDir,
}

impl Repo {
    fn new() -> Self {
        let dir = common::git_repo();
        ok(ferry(dir.path()).args(["init", "-q"]));
        for i in 0..20 {
            write(dir.path(), &format!("data/f{i}"), format!("object {i}\n"));
        }
        ok(ferry(dir.path()).args(["add", "-q", "data"]));
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
        cmd.env("FERRY_STATE_DIR", self.state.path());
        common::fixture::without_remote_overrides(&mut cmd);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(self.ferry().args(args))
    }

    /// Runs `ferry ARGS`: exit code and stderr.
    fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = run(self.ferry().args(args));
        (out.status.code().unwrap_or(-1), text(&out.stderr))
    }

    /// Drops the local cache and the workspace copy (where still there), so pull and fetch
    /// must download.
    fn forget_data(&self) {
        for dir in [".dvc/cache", "data"] {
            let _ = std::fs::remove_dir_all(self.path().join(dir));
        }
    }

    /// An S3 remote `name` at `endpoint` in a prefix of its own, with this key pair.
    fn add_s3(&self, name: &str, endpoint: &str, key: &str, secret: &str) {
        let url = format!(
            "s3://{}/{}",
            common::s3_bucket(),
            common::unique_prefix("refused")
        );
        self.ok(&["remote", "add", "-d", name, &url]);
        self.ok(&["remote", "modify", name, "endpointurl", endpoint]);
        self.ok(&["remote", "modify", "--local", name, "access_key_id", key]);
        self.ok(&[
            "remote",
            "modify",
            "--local",
            name,
            "secret_access_key",
            secret,
        ]);
    }
}

/// Every transfer command against `remote` exits 251, names it and gives `hint_words`.
fn all_commands_refused(repo: &Repo, remote: &str, hint_words: &[&str], secret: &str) {
    // Uploads first: once the cache is gone there is nothing left to push.
    for args in [
        vec!["push"],
        vec!["push", "-r", remote],
        vec!["status", "-c"],
        vec!["fetch"],
        vec!["pull"],
        vec!["pull", "-r", remote],
    ] {
        if args[0] == "fetch" || args[0] == "pull" {
            repo.forget_data();
        }
        let (code, stderr) = repo.fails(&args);
        assert_eq!(code, 251, "ferry {args:?} exit code; stderr:\n{stderr}");
        assert!(
            stderr.contains(&format!("remote '{remote}'")),
            "ferry {args:?} names the remote:\n{stderr}"
        );
        let hint = stderr
            .lines()
            .skip_while(|l| !l.starts_with("hint:"))
            .collect::<Vec<_>>()
            .join("\n");
        let advice = if args[0] == "fetch" || args[0] == "pull" {
            // The remote's own advice comes with the warning naming it.
            &stderr
        } else {
            &hint
        };
        for word in hint_words {
            assert!(
                advice.contains(word),
                "ferry {args:?}: no '{word}' in the advice:\n{stderr}"
            );
        }
        assert!(!stderr.contains(secret), "secret printed:\n{stderr}");
        assert!(
            !stderr.contains("taken from the other remotes"),
            "a fallback that did not happen is claimed:\n{stderr}"
        );
        if args[0] == "fetch" || args[0] == "pull" {
            assert!(
                stderr.contains("no other remote supplied its objects"),
                "{stderr}"
            );
        }
    }
}

const S3_ADVICE: &[&str] = &[
    "ferry remote modify --local",
    "access_key_id",
    "secret_access_key",
];

#[test]
fn moto_wrong_secret_and_unknown_key_exit_251_and_doctor_tells_them_apart() {
    let repo = Repo::new();
    let key = common::moto_key();
    repo.add_s3(
        "strict",
        &common::moto_endpoint(),
        &key,
        &common::moto_secret(),
    );
    repo.ok(&["push"]);
    // Data only in the remote, then a wrong secret.
    let wrong = "wrong-secret-moto-5Tq1";
    repo.ok(&[
        "remote",
        "modify",
        "--local",
        "strict",
        "secret_access_key",
        wrong,
    ]);
    all_commands_refused(&repo, "strict", S3_ADVICE, wrong);

    let out = run(repo.ferry().args(["doctor", "-r", "strict"]));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(251), "{stdout}");
    assert!(stdout.contains("SignatureDoesNotMatch"), "{stdout}");
    assert!(
        stdout.contains("secret access key does not match"),
        "{stdout}"
    );

    repo.ok(&[
        "remote",
        "modify",
        "--local",
        "strict",
        "access_key_id",
        "AKIAFERRYUNKNOWNKEY0",
    ]);
    let out = run(repo.ferry().args(["doctor", "-r", "strict"]));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(251), "{stdout}");
    assert!(stdout.contains("InvalidAccessKeyId"), "{stdout}");
    assert!(
        stdout.contains("does not know this access key id"),
        "{stdout}"
    );
    assert!(!stdout.contains("SignatureDoesNotMatch"), "{stdout}");
}

#[test]
fn seaweedfs_wrong_secret_exits_251() {
    let repo = Repo::new();
    repo.add_s3(
        "seaweed",
        &common::s3_endpoint(),
        &common::s3_key(),
        &common::s3_secret(),
    );
    repo.ok(&["push"]);
    let wrong = "wrong-secret-seaweed-8Kd3";
    repo.ok(&[
        "remote",
        "modify",
        "--local",
        "seaweed",
        "secret_access_key",
        wrong,
    ]);
    all_commands_refused(&repo, "seaweed", S3_ADVICE, wrong);
}

#[test]
fn http_wrong_password_exits_251_with_http_advice() {
    let repo = Repo::new();
    let store = tempfile::tempdir().unwrap();
    let server = HttpServer::start(store.path(), "alice", "right-token-2Vb8");
    repo.ok(&["remote", "add", "-d", "hub", &server.url("store")]);
    repo.ok(&["remote", "modify", "hub", "auth", "basic"]);
    repo.ok(&["remote", "modify", "--local", "hub", "user", "alice"]);
    repo.ok(&[
        "remote",
        "modify",
        "--local",
        "hub",
        "password",
        "right-token-2Vb8",
    ]);
    repo.ok(&["push"]);
    let wrong = "wrong-token-7Hn4";
    repo.ok(&["remote", "modify", "--local", "hub", "password", wrong]);
    all_commands_refused(
        &repo,
        "hub",
        &["ferry remote modify --local hub", "user", "password"],
        wrong,
    );
}

/// With a good second remote, the warning about the refusing one says its objects came from
/// elsewhere — and the pull succeeds.
#[test]
fn a_real_fallback_is_reported_as_one() {
    let repo = Repo::new();
    let store = tempfile::tempdir().unwrap();
    let server = HttpServer::start(store.path(), "alice", "right-token-2Vb8");
    repo.ok(&["remote", "add", "-d", "hub", &server.url("store")]);
    repo.ok(&["remote", "modify", "--local", "hub", "user", "alice"]);
    repo.ok(&["remote", "modify", "--local", "hub", "password", "nope"]);
    let backup = tempfile::tempdir().unwrap();
    repo.ok(&["remote", "add", "backup", backup.path().to_str().unwrap()]);
    repo.ok(&["push", "-r", "backup"]);
    repo.forget_data();
    let out = run(repo.ferry().arg("pull"));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("remote 'hub' refused our credentials")
            && stderr.contains("its objects were taken from the other remotes"),
        "{stderr}"
    );
}

/// nginx refuses DVC's default POST upload: `doctor --write` says to switch to `method PUT`.
#[test]
fn doctor_write_suggests_method_put_on_nginx() {
    let Some(bin) = NginxServer::binary() else {
        eprintln!("SKIPPED: nginx is not installed (scripts/test installs nginx-light)");
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let server = NginxServer::start(&bin, store.path(), "alice", "ngx-pass-4Rt");
    let repo = Repo::new();
    repo.ok(&["remote", "add", "-d", "web", &server.url("store")]);
    repo.ok(&["remote", "modify", "web", "auth", "basic"]);
    repo.ok(&["remote", "modify", "--local", "web", "user", "alice"]);
    repo.ok(&[
        "remote",
        "modify",
        "--local",
        "web",
        "password",
        "ngx-pass-4Rt",
    ]);
    let out = run(repo.ferry().args(["doctor", "--write"]));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ferry remote modify web method PUT"),
        "{stdout}"
    );
    repo.ok(&["remote", "modify", "web", "method", "PUT"]);
    let out = run(repo.ferry().args(["doctor", "--write"]));
    assert!(out.status.success(), "{}", text(&out.stdout));
    repo.ok(&["push"]);
}

/// A machine whose clock is a year off (libfaketime, installed by scripts/test) signs every S3
/// request at the wrong time: SeaweedFS answers RequestTimeTooSkewed, and Ferry says the clock
/// is the problem, not the keys (it used to say "the credentials were rejected").
#[test]
fn a_clock_far_from_the_servers_is_named_not_the_credentials() {
    let repo = Repo::new();
    repo.add_s3(
        "sw",
        &common::s3_endpoint(),
        &common::s3_key(),
        &common::s3_secret(),
    );
    let out = run(Command::new("faketime")
        .args(["-f", "+400d"])
        .arg(assert_cmd::cargo::cargo_bin("ferry"))
        .arg("push")
        .current_dir(repo.path())
        .env("FERRY_STATE_DIR", repo.state.path())
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(251), "{stderr}");
    assert!(stderr.contains("RequestTimeTooSkewed"), "{stderr}");
    assert!(
        stderr.contains("set this machine's clock right"),
        "{stderr}"
    );
    assert!(!stderr.contains("credentials were rejected"), "{stderr}");
    assert!(!stderr.contains(&common::s3_secret()), "{stderr}");
}
