//! What a person sees: progress lines without a terminal, silence with `-q`, wrapped messages,
//! versioned JSON, `ferry config`, completions of remote names. Real binary, real test server.
mod common;

use std::path::Path;

use common::{HttpServer, ferry, git_repo, ok, run, text, write};
use tempfile::TempDir;

/// A repository with a 2 MB `data.bin` pushed to an HTTP remote `store` on `server`, the cache
/// and workspace copy then removed, so that a pull has it all to download.
fn pushed_then_gone(server: &HttpServer) -> TempDir {
    let repo = git_repo();
    let dir = repo.path();
    ok(ferry(dir).args(["init"]));
    ok(ferry(dir).args(["remote", "add", "-d", "store", &server.url("store")]));
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(dir, "data.bin", &data);
    ok(ferry(dir).args(["add", "data.bin"]));
    ok(ferry(dir).args(["push"]));
    std::fs::remove_dir_all(dir.join(".dvc/cache")).unwrap();
    std::fs::remove_file(dir.join("data.bin")).unwrap();
    repo
}

/// Rates and times vary from run to run.
fn filtered(line: &str) -> String {
    let rate = regex::Regex::new(r"[0-9.]+ [kMGT]?B/s").unwrap();
    let eta = regex::Regex::new(r"ETA [0-9hms]+").unwrap();
    eta.replace_all(&rate.replace_all(line, "[RATE]"), "ETA [T]")
        .into_owned()
}

#[test]
fn without_a_terminal_progress_is_a_plain_line_every_few_seconds() {
    let root = TempDir::new().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let repo = pushed_then_gone(&server);
    server.control(r#"{"slow": 1.5}"#);
    let out = run(ferry(repo.path())
        .args(["pull"])
        .env("FERRY_PROGRESS_EVERY", "0.4"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("fetching:"))
        .collect();
    assert!(
        lines.len() >= 2,
        "a line every 0.4 s of a 1.5 s wait:\n{stderr}"
    );
    insta::assert_snapshot!(filtered(lines[0]), @"fetching: 0/1 objects, 0 B of 2.0 MB, [RATE]");
    assert!(
        stderr.lines().all(|l| l.starts_with("fetching:")),
        "nothing else on stderr: {stderr}"
    );
    assert_eq!(
        std::fs::read(repo.path().join("data.bin")).unwrap().len(),
        2_000_000
    );
}

#[test]
fn quiet_prints_nothing_at_all() {
    let root = TempDir::new().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let repo = pushed_then_gone(&server);
    server.control(r#"{"slow": 1.0}"#);
    let out = run(ferry(repo.path())
        .args(["pull", "-q"])
        .env("FERRY_PROGRESS_EVERY", "0.2"));
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    assert_eq!(text(&out.stdout), "");
    assert!(repo.path().join("data.bin").exists());
}

#[test]
fn a_slow_push_shows_its_bytes_sent_while_the_server_answers() {
    let root = TempDir::new().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let repo = git_repo();
    let dir = repo.path();
    ok(ferry(dir).args(["init"]));
    ok(ferry(dir).args(["remote", "add", "-d", "store", &server.url("store")]));
    write(dir, "a.txt", "a".repeat(3000));
    ok(ferry(dir).args(["add", "a.txt"]));
    server.control(r#"{"slow": 1.2}"#);
    let out = run(ferry(dir).args(["push"]).env("FERRY_PROGRESS_EVERY", "0.3"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let first = stderr
        .lines()
        .find(|l| l.starts_with("pushing:"))
        .unwrap_or_else(|| panic!("no progress line:\n{stderr}"));
    insta::assert_snapshot!(filtered(first), @"pushing: 0/1 objects, 3.0 kB of 3.0 kB, [RATE], ETA [T]");
}

/// A repository with two local remotes, `backblaze` (the default) and `dagshub`, and its own
/// global config dir (so the user's files are never read).
fn two_remotes() -> (TempDir, TempDir) {
    let repo = git_repo();
    let global = TempDir::new().unwrap();
    let dir = repo.path();
    ok(ferry(dir).args(["init"]));
    let b = dir.join("../b-store").display().to_string();
    ok(ferry(dir).args(["remote", "add", "-d", "backblaze", &b]));
    ok(ferry(dir).args([
        "remote",
        "add",
        "dagshub",
        "https://dagshub.com/alice/proj.dvc",
    ]));
    (repo, global)
}

fn fy(dir: &Path, global: &Path) -> std::process::Command {
    let mut cmd = ferry(dir);
    cmd.env("DVC_GLOBAL_CONFIG_DIR", global)
        .env("DVC_SYSTEM_CONFIG_DIR", global)
        .env_remove("COLUMNS");
    cmd
}

fn all(out: &std::process::Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr)
    )
}

#[test]
fn config_sets_checks_and_tells_where_each_value_is() {
    let (repo, global) = two_remotes();
    let (d, g) = (repo.path(), global.path());
    ok(fy(d, g).args(["config", "pull.order", "dagshub,Backblaze"]));
    ok(fy(d, g).args([
        "config",
        "--local",
        "remote.backblaze.daily_download_limit",
        "1000000 bytes",
    ]));
    ok(fy(d, g).args(["config", "--global", "redundancy.min_copies", "2"]));
    assert_eq!(
        ok(fy(d, g).args(["config", "pull.order"])),
        "dagshub,backblaze\n"
    );
    let settings = ferry::config::ferry::FerrySettings::load(&d.join(".dvc")).unwrap();
    assert_eq!(
        settings
            .remote("backblaze")
            .daily_download_limit
            .map(|b| b.0),
        Some(1_000_000)
    );
    // the global file is read by the command (this process does not see its config dir)
    assert_eq!(
        ok(fy(d, g).args(["config", "redundancy.min_copies"])),
        "2\n"
    );
    let listed = ok(fy(d, g).args(["config", "--list", "--show-origin"]));
    let listed = listed.replace(&g.display().to_string(), "[GLOBAL]");
    insta::assert_snapshot!(listed, @r"
    global	[GLOBAL]/ferry.toml	redundancy.min_copies=2
    repo	.dvc/ferry.toml	pull.order=dagshub,backblaze
    local	.dvc/ferry.local.toml	remote.backblaze.daily_download_limit=1000000 bytes
    ");
    assert!(common::read(d, ".dvc/.gitignore").contains("/ferry.local.toml"));

    // A typo in a key, a remote that does not exist, a bad value: nothing is written.
    let before = common::read(d, ".dvc/ferry.toml");
    let out = run(fy(d, g).args(["config", "remote.backblaze.daily_download_limt", "1GB"]));
    insta::assert_snapshot!(all(&out), @r"
    exit 251
    --- stdout
    --- stderr
    ERROR: 'remote.backblaze.daily_download_limt' is not a Ferry setting
    hint: did you mean 'remote.backblaze.daily_download_limit'?
    ");
    let out = run(fy(d, g).args(["config", "push.remotes", "backblase"]));
    insta::assert_snapshot!(all(&out), @r"
    exit 251
    --- stdout
    --- stderr
    ERROR: push.remotes: there is no remote 'backblase'
    hint: did you mean 'backblaze'?
    ");
    let out = run(fy(d, g).args(["config", "redundancy.min_copies", "0"]));
    assert_eq!(out.status.code(), Some(251), "{}", all(&out));
    assert_eq!(common::read(d, ".dvc/ferry.toml"), before);

    // Unset: gone, and `config KEY` then exits 1 printing nothing.
    ok(fy(d, g).args(["config", "--unset", "pull.order"]));
    let out = run(fy(d, g).args(["config", "pull.order"]));
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(1), String::new())
    );

    // DVC's core.autostage, which `ferry add` advises, is set in .dvc/config.
    ok(fy(d, g).args(["config", "core.autostage", "true"]));
    assert!(common::read(d, ".dvc/config").contains("autostage = true"));
}

#[test]
fn remote_list_verbose_names_the_origin_of_every_value() {
    let (repo, global) = two_remotes();
    let (d, g) = (repo.path(), global.path());
    ok(fy(d, g).args(["remote", "modify", "dagshub", "user", "alice"]));
    ok(fy(d, g).args([
        "remote",
        "modify",
        "--local",
        "dagshub",
        "password",
        "s3cr3t-token",
    ]));
    ok(fy(d, g).args([
        "remote",
        "modify",
        "backblaze",
        "daily_download_limit",
        "1GB",
    ]));
    let out = run(fy(d, g)
        .args(["remote", "list", "-v"])
        .env("FERRY_REMOTE_DAGSHUB_USER", "bob"));
    assert!(!all(&out).contains("s3cr3t-token"));
    // the URL's column depends on the temp dir's name
    let first = regex::Regex::new(r"(?m)^backblaze\s+\S+\s+\(default\)$").unwrap();
    let stdout = first
        .replace(&text(&out.stdout), "backblaze [STORE] (default)")
        .into_owned();
    insta::assert_snapshot!(stdout, @r"
    backblaze [STORE] (default)
        daily_download_limit = 1GB    (repo .dvc/ferry.toml)
    dagshub https://dagshub.com/alice/proj.dvc
        user = bob    (env FERRY_REMOTE_DAGSHUB_USER)
        password = (secret, hidden)    (local .dvc/config.local)
    ");

    // A misspelt option gets the nearest one, not DVC's "extra keys not allowed".
    let out = run(fy(d, g).args([
        "remote",
        "modify",
        "backblaze",
        "daily_download_limt",
        "2GB",
    ]));
    insta::assert_snapshot!(all(&out), @r"
    exit 251
    --- stdout
    --- stderr
    ERROR: remote 'backblaze' has no option 'daily_download_limt'
    hint: did you mean 'daily_download_limit'? (`ferry remote modify backblaze daily_download_limit 2GB`)
    ");
}

#[test]
fn json_reports_carry_their_schema() {
    let (repo, global) = two_remotes();
    let (d, g) = (repo.path(), global.path());
    let listed = ok(fy(d, g).args(["remote", "list", "--json"]));
    let listed = listed.replace(&d.join("../b-store").display().to_string(), "[STORE]");
    insta::assert_snapshot!(listed, @r#"
    {
      "schema": 1,
      "remotes": [
        {
          "name": "backblaze",
          "url": "[STORE]",
          "default": true
        },
        {
          "name": "dagshub",
          "url": "https://dagshub.com/alice/proj.dvc",
          "default": false
        }
      ]
    }
    "#);
    assert_eq!(
        ok(fy(d, g).args(["remote", "list", "--names"])),
        "backblaze\ndagshub\n"
    );
    let state = TempDir::new().unwrap();
    let usage: serde_json::Value = serde_json::from_str(&ok(fy(d, g)
        .args(["remote", "usage", "--json"])
        .env("FERRY_STATE_DIR", state.path())))
    .unwrap();
    assert_eq!(usage["schema"], 1);
    assert_eq!(usage["remotes"][0]["name"], "backblaze");
}

#[test]
fn completions_offer_the_repositorys_remote_names() {
    let (repo, global) = two_remotes();
    let (d, g) = (repo.path(), global.path());
    let script = ok(fy(d, g).args(["completions", "bash"]));
    let bin = assert_cmd::cargo::cargo_bin("ferry");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let complete = |words: &str, cword: usize| {
        let probe = format!(
            "{script}\nCOMP_WORDS=({words}); COMP_CWORD={cword}; _ferry_with_remotes; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = run(std::process::Command::new("bash")
            .arg("-c")
            .arg(probe)
            .current_dir(d)
            .env("PATH", &path)
            .env("DVC_GLOBAL_CONFIG_DIR", g)
            .env("DVC_SYSTEM_CONFIG_DIR", g));
        text(&out.stdout)
    };
    assert_eq!(complete("ferry push -r ''", 3), "backblaze\ndagshub\n");
    assert_eq!(complete("ferry pull --remote d", 3), "dagshub\n");
    assert_eq!(complete("ferry sync --to ''", 3), "backblaze\ndagshub\n");
    assert_eq!(complete("ferry remote modify b", 3), "backblaze\n");
    // once the remote is given, the option is not a remote name
    assert!(!complete("ferry remote modify backblaze ''", 4).contains("dagshub"));
}

#[test]
fn messages_tell_the_truth() {
    // init twice: the hint offers the `-f` that exists and says what it removes.
    let (repo, global) = two_remotes();
    let (d, g) = (repo.path(), global.path());
    let out = run(fy(d, g).args(["init"]));
    let shown = all(&out).replace(&d.display().to_string(), "[REPO]");
    insta::assert_snapshot!(shown, @r"
    exit 1
    --- stdout
    --- stderr
    ERROR: '[REPO]/.dvc' exists.
    hint: this directory is already a DVC repository; nothing was changed (`ferry init -f` starts over: it removes .dvc/, its cache and config included)
    ");

    // The size example the error gives is accepted.
    ok(fy(d, g).args([
        "remote",
        "modify",
        "backblaze",
        "daily_download_limit",
        "1000000 bytes",
    ]));
    let out = run(fy(d, g).args([
        "remote",
        "modify",
        "backblaze",
        "daily_download_limit",
        "lots",
    ]));
    assert!(
        text(&out.stderr).contains("examples: 1GB, 500MiB, 1000000 bytes"),
        "{}",
        all(&out)
    );

    // add advises a command that exists.
    write(d, "a.txt", "a");
    let out = ok(fy(d, g).args(["add", "a.txt"]));
    assert!(out.contains("\tferry config core.autostage true"), "{out}");
    ok(fy(d, g).args(["config", "core.autostage", "true"]));
    write(d, "b.txt", "b");
    assert_eq!(ok(fy(d, g).args(["add", "b.txt"])), "");
}

#[test]
fn warnings_wrap_at_word_boundaries_with_a_hanging_indent() {
    let (repo, global) = two_remotes();
    let (d, g) = (repo.path(), global.path());
    // a secret written to the tracked config: a long warning with commands in it
    let out = run(fy(d, g)
        .args(["remote", "modify", "dagshub", "password", "t0ken"])
        .env("COLUMNS", "60"));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() >= 4, "{stderr}");
    assert!(
        lines[0].starts_with("WARNING: 'password' is a secret"),
        "{stderr}"
    );
    for line in &lines {
        // a word longer than the width (the temp dir's path) stays whole on its own line
        assert!(
            line.chars().count() <= 60 || !line.trim().contains(' '),
            "wider than 60 columns: {line:?}"
        );
    }
    // continuation lines hang under the message; the commands keep their own indent
    assert!(lines[1..].iter().all(|l| l.starts_with("  ")), "{stderr}");
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "    ferry remote modify --local dagshub password <value>",
            "    ferry remote modify --unset dagshub password"
        ]
    );
    // without COLUMNS and without a terminal, the lines are left whole for logs and grep
    let out = run(fy(d, g).args(["remote", "modify", "dagshub", "password", "t0ken"]));
    assert!(
        text(&out.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .contains("which git tracks. Move it")
    );
}

#[test]
fn verbose_shows_each_remotes_decisions_and_very_verbose_each_request() {
    let root = TempDir::new().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let repo = pushed_then_gone(&server);
    server.control(r#"{"fail_500": 1}"#);
    let out = run(ferry(repo.path()).args(["fetch", "-v"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("store") && stderr.contains("retrying:"),
        "-v names the retry and its remote:\n{stderr}"
    );
    assert!(
        !stderr.contains("\u{1b}["),
        "no colour codes off a terminal: {stderr:?}"
    );
    assert!(
        !stderr.contains(": ok"),
        "no per-request lines at -v:\n{stderr}"
    );

    std::fs::remove_dir_all(repo.path().join(".dvc/cache")).unwrap();
    let out = run(ferry(repo.path()).args(["fetch", "-vv"]));
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("read files/md5/") && l.contains(": ok remote=store")),
        "-vv has a line per request:\n{stderr}"
    );
}

#[test]
fn other_long_work_shows_what_it_is_doing_every_few_seconds() {
    let root = TempDir::new().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let repo = pushed_then_gone(&server);
    server.control(r#"{"slow": 1.2}"#);
    let out = run(ferry(repo.path())
        .args(["status", "-c"])
        .env("FERRY_PROGRESS_EVERY", "0.3"));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "no progress line in a 1.2 s wait");
    let secs = regex::Regex::new(r"[0-9]+s$").unwrap();
    for line in lines {
        let shown = secs.replace(line, "[T]");
        assert_eq!(shown, "comparing with the remote: [T]", "{stderr}");
    }
    let out = run(ferry(repo.path())
        .args(["status", "-c", "-q"])
        .env("FERRY_PROGRESS_EVERY", "0.3"));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn local_gc_reports_in_json() {
    let (repo, global) = two_remotes();
    let (d, g) = (repo.path(), global.path());
    write(d, "a.txt", "kept");
    write(d, "b.txt", "dropped");
    ok(fy(d, g).args(["add", "a.txt", "b.txt"]));
    std::fs::remove_file(d.join("b.txt.dvc")).unwrap();
    let out = ok(fy(d, g).args(["gc", "-w", "--dry", "--json"]));
    insta::assert_snapshot!(out, @r#"
    {
      "schema": 1,
      "dry_run": true,
      "removed": [
        "files/md5/41/d368a58ee26891a6a586ddaaa604f8"
      ],
      "repo": 1,
      "legacy": 0
    }
    "#);
    // a real removal asks first, as dvc: scripts pass -f
    let out = ok(fy(d, g).args(["gc", "-w", "-f", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["dry_run"], false);
    assert!(
        !d.join(".dvc/cache")
            .join(report["removed"][0].as_str().unwrap())
            .exists()
    );
    assert!(d.join("a.txt").exists());
}
