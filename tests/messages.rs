//! Issue 17: every message true in the situation that prints it. Each test builds the
//! situation with real servers (SeaweedFS, the fault proxy in front of it, the project's HTTP
//! server, a port nobody listens on) and snapshots the whole output at 80 columns, then checks
//! the `--json` report of the same run.
mod common;

use common::cli::{Env, add_s3, down_url, fits, forget, json_doc, repo_with, settings, whole};
use common::{HttpServer, s3_endpoint, s3_secret};
use tempfile::TempDir;

const DATA: &str = "the training data\n";

/// Both remotes refuse the credentials, one HTTP and one S3: each gets the advice for its own
/// kind (no password hint for S3, no key pair for HTTP), and nothing claims a fallback.
#[test]
fn two_refusing_remotes_get_advice_for_their_own_kind() {
    let env = Env::new();
    let repo = repo_with(&env, &[("data.txt", DATA)]);
    let d = repo.path();
    let store = TempDir::new().unwrap();
    let server = HttpServer::start(store.path(), "alice", "right-pass-9Kq");
    env.ok(d, &["remote", "add", "-d", "hub", &server.url("store")]);
    env.ok(d, &["remote", "modify", "--local", "hub", "user", "alice"]);
    env.ok(
        d,
        &[
            "remote",
            "modify",
            "--local",
            "hub",
            "password",
            "right-pass-9Kq",
        ],
    );
    add_s3(&env, d, "bucket", &s3_endpoint(), &s3_secret());
    env.ok(d, &["push", "--all-remotes"]);
    env.ok(
        d,
        &[
            "remote",
            "modify",
            "--local",
            "hub",
            "password",
            "wrong-pass-3Zx",
        ],
    );
    env.ok(
        d,
        &[
            "remote",
            "modify",
            "--local",
            "bucket",
            "secret_access_key",
            "wrong-secret-5Yw",
        ],
    );
    forget(d, &["data.txt"]);
    let _s = settings(&[(d, "[REPO]")]).bind_to_scope();
    let out = env.run(d, &["pull"]);
    let text = whole(&out);
    insta::assert_snapshot!("two_refusing_pull", text);
    assert_eq!(out.status.code(), Some(251));
    // one `hint:` block per remote, each for its own kind
    let hints: Vec<String> = text
        .split("\nhint: ")
        .skip(1)
        .map(|h| h.replace("\n  ", " "))
        .collect();
    assert_eq!(hints.len(), 2, "{text}");
    let (hub, bucket) = (&hints[0], &hints[1]);
    assert!(
        hub.contains("remote 'hub'") && bucket.contains("remote 'bucket'"),
        "{text}"
    );
    assert!(
        hub.contains("password") && !hub.contains("secret_access_key"),
        "{text}"
    );
    assert!(
        bucket.contains("access_key_id") && !bucket.contains("password"),
        "{text}"
    );
    assert!(!text.contains("taken from the other remotes"), "{text}");
    assert!(!text.contains("wrong-pass") && !text.contains("wrong-secret"));

    let out = env.run(d, &["fetch", "--json"]);
    assert_eq!(out.status.code(), Some(251), "{}", whole(&out));
    let doc = json_doc(&out);
    assert_eq!(doc["fetched"]["objects"], 0);
    let tried: Vec<(&str, &str)> = doc["failed"][0]["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["remote"].as_str().unwrap(), t["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tried,
        [
            ("hub", "credentials_refused"),
            ("bucket", "credentials_refused")
        ]
    );
    assert_eq!(doc["remotes"][0]["disabled"], "credentials_refused");
    assert_eq!(doc["remotes"][1]["error"]["kind"], "auth");
}

/// A pull that hit the first remote's cap and got the rest from the second: one `note:` line
/// (the cap, its reset, where the rest came from), no WARNING, no object URL, no advice to do
/// what was just done; the JSON says the same.
#[test]
fn a_pull_through_a_cap_is_one_short_line() {
    let env = Env::new();
    let files: Vec<(String, String)> = (0..6)
        .map(|i| (format!("f{i}.bin"), format!("{i}").repeat(20_000)))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    let repo = repo_with(&env, &refs);
    let d = repo.path();
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    add_s3(
        &env,
        d,
        "b2",
        proxy.url("").trim_end_matches('/'),
        &s3_secret(),
    );
    env.ok(d, &["remote", "default", "b2"]);
    env.ok(d, &["remote", "modify", "b2", "jobs", "1"]);
    let disk = TempDir::new().unwrap();
    env.ok(
        d,
        &["remote", "add", "disk", &disk.path().display().to_string()],
    );
    env.ok(d, &["push", "--all-remotes"]);
    let names: Vec<&str> = refs.iter().map(|(n, _)| *n).collect();
    forget(d, &names);
    proxy.control(r#"{"cap_after_bytes": 50000, "clear_log": true}"#);
    let _s = settings(&[(d, "[REPO]"), (disk.path(), "[DISK]")]).bind_to_scope();
    let out = env.run(d, &["pull"]);
    let text = whole(&out);
    insta::assert_snapshot!("pull_through_a_cap", text);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text.contains("WARNING") && !text.contains("http://"),
        "{text}"
    );
    fits(&text, 80, &[]);
    for (n, b) in &files {
        assert_eq!(&common::read(d, n), b);
    }

    // The same day, again: the ledger's cap mark skips b2 without a request, one note again.
    forget(d, &names);
    proxy.control(r#"{"clear_log": true}"#);
    let out = env.run(d, &["pull", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", whole(&out));
    assert!(proxy.log().is_empty(), "{:?}", proxy.log());
    let stderr = common::text(&out.stderr);
    insta::assert_snapshot!("pull_capped_earlier_stderr", stderr);
    let doc = json_doc(&out);
    assert_eq!(doc["remotes"][0]["name"], "b2");
    assert_eq!(doc["remotes"][0]["disabled"], "cap_reached");
    assert_eq!(doc["remotes"][0]["budget"]["capped"], true);
    assert_eq!(
        doc["remotes"][0]["budget"]["capped_until"],
        "2026-06-02T00:00:00Z"
    );
    assert_eq!(doc["remotes"][1]["received"]["objects"], 6);
    assert_eq!(doc["failed"], serde_json::json!([]));
    assert_eq!(doc["checkout"]["added"], 6);
}

/// One remote of two is down: the table says `ok` for the other, and the error names only the
/// one that got nothing (no "nothing could be uploaded" under a row that uploaded).
#[test]
fn a_push_with_one_remote_down_agrees_with_its_table() {
    let env = Env::new();
    let repo = repo_with(&env, &[("data.txt", DATA)]);
    let d = repo.path();
    let disk = TempDir::new().unwrap();
    env.ok(
        d,
        &[
            "remote",
            "add",
            "-d",
            "backblaze",
            &disk.path().display().to_string(),
        ],
    );
    env.ok(d, &["remote", "add", "dagshub", &down_url()]);
    let _s = settings(&[(d, "[REPO]"), (disk.path(), "[DISK]")]).bind_to_scope();
    let out = env.run(d, &["push", "--all-remotes"]);
    let text = whole(&out);
    insta::assert_snapshot!("push_one_remote_down", text);
    assert_eq!(out.status.code(), Some(1));
    assert!(!text.contains("nothing could be uploaded"), "{text}");
    fits(&text, 80, &["http://"]);

    let out = env.run(d, &["push", "--all-remotes", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_doc(&out);
    insta::assert_snapshot!("push_one_remote_down_json", common::text(&out.stdout));
    let status: Vec<(&str, &str)> = doc["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(status, [("backblaze", "ok"), ("dagshub", "unreachable")]);
    assert_eq!(doc["remotes"][0]["already"], 1, "pushed by the first run");
    assert_eq!(doc["remotes"][1]["error"]["kind"], "transient");
}

/// `sync` whose only source is capped: the hint says when a rerun can succeed (the cap's
/// reset in the remote's zone) and what to do instead, not a bare "rerun".
#[test]
fn a_sync_from_a_capped_source_says_when_it_can_succeed() {
    let env = Env::new();
    let repo = repo_with(&env, &[("data.txt", DATA)]);
    let d = repo.path();
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    add_s3(
        &env,
        d,
        "b2",
        proxy.url("").trim_end_matches('/'),
        &s3_secret(),
    );
    env.ok(d, &["remote", "default", "b2"]);
    env.ok(
        d,
        &[
            "remote",
            "modify",
            "b2",
            "budget_reset",
            "America/Los_Angeles",
        ],
    );
    env.ok(d, &["push"]);
    let disk = TempDir::new().unwrap();
    env.ok(
        d,
        &["remote", "add", "disk", &disk.path().display().to_string()],
    );
    forget(d, &["data.txt"]);
    proxy.control(r#"{"cap": true}"#);
    let _s = settings(&[(d, "[REPO]"), (disk.path(), "[DISK]")]).bind_to_scope();
    let out = env.run(d, &["sync", "--to", "disk"]);
    let text = whole(&out);
    insta::assert_snapshot!("sync_from_capped_source", text);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("2026-06-02 00:00 PDT"),
        "the reset in the remote's zone: {text}"
    );

    let out = env.run(d, &["sync", "--to", "disk", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_doc(&out);
    assert_eq!(doc["remotes"][0]["status"], "failed");
    assert_eq!(doc["sources"][0]["name"], "b2");
    assert_eq!(doc["sources"][0]["budget"]["capped"], true);
}

/// Data on no remote: `pull` fails and says so (push it from a machine that has it), `fetch`
/// warns and succeeds, as dvc; both name the file and every remote's reason.
#[test]
fn data_on_no_remote_says_where_it_was_looked_for() {
    let env = Env::new();
    let repo = repo_with(&env, &[("data.txt", DATA)]);
    let d = repo.path();
    let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    env.ok(
        d,
        &["remote", "add", "-d", "a", &a.path().display().to_string()],
    );
    env.ok(d, &["remote", "add", "b", &b.path().display().to_string()]);
    forget(d, &["data.txt"]);
    let _s = settings(&[(d, "[REPO]")]).bind_to_scope();
    let out = env.run(d, &["pull"]);
    insta::assert_snapshot!("pull_data_on_no_remote", whole(&out));
    assert_eq!(out.status.code(), Some(1));
    let out = env.run(d, &["fetch"]);
    insta::assert_snapshot!("fetch_data_on_no_remote", whole(&out));
    assert_eq!(out.status.code(), Some(0));
}

/// The only remote serves a damaged copy: the warning names the remote and the output, the
/// hint says to push a good copy there; nothing lands in the cache or the workspace.
#[test]
fn a_corrupt_copy_names_the_remote_and_the_fix() {
    let env = Env::new();
    let repo = repo_with(&env, &[("data.txt", DATA)]);
    let d = repo.path();
    let store = TempDir::new().unwrap();
    let server = HttpServer::start(store.path(), "", "");
    env.ok(d, &["remote", "add", "-d", "web", &server.url("store")]);
    env.ok(d, &["push"]);
    forget(d, &["data.txt"]);
    server.control(r#"{"corrupt": true}"#);
    let _s = settings(&[(d, "[REPO]")]).bind_to_scope();
    let out = env.run(d, &["pull"]);
    insta::assert_snapshot!("pull_corrupt_copy", whole(&out));
    assert_eq!(out.status.code(), Some(1));
    assert!(!d.join("data.txt").exists());
    let doc = json_doc(&env.run(d, &["fetch", "--json"]));
    assert_eq!(
        doc["remotes"][0]["corrupt"],
        serde_json::json!(["data.txt"])
    );
    assert_eq!(doc["failed"][0]["tried"][0]["reason"], "corrupt_copy");
}

/// The only remote's daily download limit is smaller than the data: the hint names the limit,
/// its file and the reset in the remote's zone, and how to raise it.
#[test]
fn a_daily_limit_says_which_and_until_when() {
    let env = Env::new();
    let repo = repo_with(&env, &[("data.txt", DATA)]);
    let d = repo.path();
    let a = TempDir::new().unwrap();
    env.ok(
        d,
        &["remote", "add", "-d", "a", &a.path().display().to_string()],
    );
    env.ok(d, &["remote", "modify", "a", "daily_download_limit", "5B"]);
    env.ok(
        d,
        &["remote", "modify", "a", "budget_reset", "Europe/Berlin"],
    );
    env.ok(d, &["push"]);
    forget(d, &["data.txt"]);
    let _s = settings(&[(d, "[REPO]")]).bind_to_scope();
    let out = env.run(d, &["pull"]);
    let text = whole(&out);
    insta::assert_snapshot!("pull_over_daily_limit", text);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains("2026-06-02 00:00 CEST"), "{text}");
    fits(&text, 80, &[]);
}

/// `push` of an output whose data the cache lacks: dvc's warning with the object, and a
/// pointer to `sync --to` when another remote may hold it.
#[test]
fn a_push_of_data_missing_from_the_cache_points_to_sync() {
    let env = Env::new();
    let repo = repo_with(&env, &[("data.txt", DATA)]);
    let d = repo.path();
    let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    env.ok(
        d,
        &["remote", "add", "-d", "a", &a.path().display().to_string()],
    );
    env.ok(d, &["remote", "add", "b", &b.path().display().to_string()]);
    forget(d, &[]);
    let _s = settings(&[(d, "[REPO]")]).bind_to_scope();
    let out = env.run(d, &["push", "-r", "b"]);
    insta::assert_snapshot!("push_missing_from_cache", whole(&out));
    std::fs::remove_file(d.join("data.txt")).unwrap();
    let out = env.run(d, &["checkout", "--allow-missing"]);
    insta::assert_snapshot!("checkout_allow_missing", whole(&out));
    assert_eq!(out.status.code(), Some(0));
}

/// A remote that is down while the others are counted: `status --remotes` names it with the
/// advice for it and exits 1; `gc --cloud` on another remote says it keeps what only the down
/// one might also hold.
#[test]
fn a_remote_down_in_the_copy_counts_is_named_with_advice() {
    let env = Env::new();
    let repo = repo_with(&env, &[("data.txt", DATA), ("old.txt", "old\n")]);
    let d = repo.path();
    let a = TempDir::new().unwrap();
    env.ok(
        d,
        &["remote", "add", "-d", "a", &a.path().display().to_string()],
    );
    env.ok(d, &["push"]);
    std::fs::remove_file(d.join("old.txt.dvc")).unwrap();
    env.ok(d, &["remote", "add", "dagshub", &down_url()]);
    env.ok(d, &["config", "redundancy.min_copies", "2"]);
    let _s = settings(&[(d, "[REPO]"), (a.path(), "[REMOTE_A]")]).bind_to_scope();
    let out = env.run(d, &["status", "--remotes"]);
    insta::assert_snapshot!("status_remotes_one_down", whole(&out));
    assert_eq!(out.status.code(), Some(1));
    let out = env.run(d, &["gc", "-w", "--cloud", "-r", "a", "--dry"]);
    insta::assert_snapshot!("gc_cloud_other_down", whole(&out));
    assert_eq!(out.status.code(), Some(0));
}

/// The first remote keeps failing (500s past the retries) and the second serves everything:
/// one note says where the objects came from and how to look at the failing one, without
/// telling the user to rerun a pull that succeeded.
#[test]
fn a_failing_remote_made_up_for_is_one_note_without_rerun() {
    let env = Env::new();
    let repo = repo_with(&env, &[("data.txt", DATA)]);
    let d = repo.path();
    let store = TempDir::new().unwrap();
    let server = HttpServer::start(store.path(), "", "");
    env.ok(d, &["remote", "add", "-d", "web", &server.url("store")]);
    let disk = TempDir::new().unwrap();
    env.ok(
        d,
        &["remote", "add", "disk", &disk.path().display().to_string()],
    );
    env.ok(d, &["push", "--all-remotes"]);
    forget(d, &["data.txt"]);
    server.control(r#"{"fail_500": 1000}"#);
    let _s = settings(&[(d, "[REPO]")]).bind_to_scope();
    let out = env.run(d, &["pull"]);
    let text = whole(&out);
    insta::assert_snapshot!("pull_failing_remote_made_up_for", text);
    assert_eq!(out.status.code(), Some(0));
    assert!(!text.contains("rerun"), "{text}");
    assert!(
        text.contains("note: remote 'web' failed to serve 1 file (retries exhausted)"),
        "{text}"
    );
    assert_eq!(common::read(d, "data.txt"), DATA);
}
