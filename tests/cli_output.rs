//! What a person sees: progress lines without a terminal, silence with `-q`, wrapped messages,
//! versioned JSON, `ferry config`, completions of remote names. Real binary, real test server.
mod common;

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
