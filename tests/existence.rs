//! The existence policy at the servers (`transfer::exists`): `status -c` on an HTTP remote
//! sends HEADs and downloads no object bytes (a ranged 1-byte GET where HEAD is refused), and on
//! S3 with 2,000+ objects it sends no more LISTs than the pinned dvc does on the same remote,
//! both counted at the same proxy.
mod common;

use std::path::Path;

use common::{
    HttpServer, LoggedRequest, dvc, ferry, git_repo, ok, run, s3_bucket, s3_endpoint, s3_key,
    s3_secret, text, unique_prefix, write,
};

/// A repository with `n` small files under `data/`, added (not pushed).
fn repo_with_files(n: usize) -> tempfile::TempDir {
    let repo = git_repo();
    ok(ferry(repo.path()).arg("init"));
    for i in 0..n {
        write(
            repo.path(),
            &format!("data/f{i:05}.txt"),
            format!("object {i}\n"),
        );
    }
    ok(ferry(repo.path()).args(["add", "data"]));
    repo
}

/// The `served` figure of the server's fault state: object bytes sent so far.
fn served(server: &HttpServer) -> u64 {
    let state: serde_json::Value =
        serde_json::from_str(&server.control("{}")).expect("control JSON");
    state["served"].as_u64().expect("served")
}

fn status_c(dir: &Path) -> String {
    ok(ferry(dir).args(["status", "-c"]))
}

#[test]
fn status_c_on_http_sends_heads_and_downloads_no_object_bytes() {
    let repo = repo_with_files(30);
    let store = tempfile::tempdir().unwrap();
    let server = HttpServer::start(store.path(), "", "");
    ok(ferry(repo.path()).args(["remote", "add", "-d", "http", &server.url("store")]));
    ok(ferry(repo.path()).args(["push"]));
    // Two files go missing on the server.
    for i in [3, 17] {
        let key = common::key_of(format!("object {i}\n").as_bytes());
        std::fs::remove_file(store.path().join("store").join(key)).unwrap();
    }

    let before = served(&server);
    server.control(r#"{"clear_log": true}"#);
    let out = status_c(repo.path());
    insta::assert_snapshot!("status_c_http", out);
    let log = server.log();
    assert_eq!(
        log.len(),
        31,
        "one request per object (30 files + .dir): {log:?}"
    );
    assert!(log.iter().all(|r| r.method == "HEAD"), "{log:?}");
    assert_eq!(served(&server), before, "no object byte was sent");

    // A server that refuses HEAD is asked for one byte per object, never a whole GET.
    server.control(r#"{"no_head": true, "clear_log": true}"#);
    let before = served(&server);
    assert_eq!(status_c(repo.path()), out, "the same answer");
    let log = server.log();
    let heads: Vec<&LoggedRequest> = log.iter().filter(|r| r.method == "HEAD").collect();
    let gets: Vec<&LoggedRequest> = log.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(
        (heads.len(), gets.len(), log.len()),
        (31, 31, 62),
        "{log:?}"
    );
    assert!(heads.iter().all(|r| r.status == 405), "{log:?}");
    assert!(
        gets.iter().all(|r| r.range.as_deref() == Some("bytes=0-0")),
        "{log:?}"
    );
    assert_eq!(
        gets.iter().filter(|r| r.status == 206).count(),
        29,
        "{log:?}"
    );
    assert_eq!(served(&server) - before, 29, "one byte per present object");
}

/// Configures S3 remote `name` at `url` with its endpoint and the credentials (in
/// `config.local`, as dvc reads them too).
fn add_s3(dir: &Path, name: &str, url: &str, endpoint: &str, default: bool) {
    let mut args = vec!["remote", "add", name, url];
    if default {
        args.push("-d");
    }
    ok(ferry(dir).args(&args));
    ok(ferry(dir).args(["remote", "modify", name, "endpointurl", endpoint]));
    let (key, secret) = (s3_key(), s3_secret());
    ok(ferry(dir).args(["remote", "modify", "--local", name, "access_key_id", &key]));
    ok(ferry(dir).args([
        "remote",
        "modify",
        "--local",
        name,
        "secret_access_key",
        &secret,
    ]));
}

/// The `.dir` hash `data.dvc` records.
fn dir_hash(repo: &Path) -> ferry::hash::HashInfo {
    let dvc_file = std::fs::read_to_string(repo.join("data.dvc")).unwrap();
    let md5 = dvc_file
        .lines()
        .find_map(|l| l.trim().trim_start_matches("- ").strip_prefix("md5: "))
        .expect("md5 in data.dvc");
    ferry::hash::HashInfo::md5(md5.trim())
}

fn lists(log: &[LoggedRequest]) -> usize {
    log.iter()
        .filter(|r| r.method == "GET" && r.path.contains("list-type="))
        .count()
}

fn heads(log: &[LoggedRequest]) -> usize {
    log.iter().filter(|r| r.method == "HEAD").count()
}

#[test]
fn status_c_on_2000_s3_objects_lists_no_more_than_dvc() {
    const FILES: usize = 2100;
    let repo = repo_with_files(FILES);
    let url = format!("s3://{}/{}", s3_bucket(), unique_prefix("exists"));
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    add_s3(
        repo.path(),
        "s3",
        &url,
        proxy.url("").trim_end_matches('/'),
        true,
    );
    // Filled straight on SeaweedFS, not through the (slow) proxy.
    add_s3(repo.path(), "direct", &url, &s3_endpoint(), false);
    ok(ferry(repo.path()).args(["push", "-r", "direct"]));
    // Without its `.dir` on the remote, dvc checks every file too (with it, dvc takes the
    // directory as complete without looking: the trust push no longer has).
    let dir_key = ferry::odb::key(&dir_hash(repo.path()));
    let remote = ferry::remote::open(&common::s3_spec("check", url.clone())).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(remote.delete(&dir_key)).unwrap();

    proxy.control(r#"{"clear_log": true}"#);
    let ours = status_c(repo.path());
    let log = proxy.log();
    let (ferry_lists, ferry_heads) = (lists(&log), heads(&log));

    proxy.control(r#"{"clear_log": true}"#);
    let out = run(dvc(repo.path()).args(["status", "-c", "-r", "s3"]));
    assert!(out.status.success(), "dvc: {}", text(&out.stderr));
    assert_eq!(ours, text(&out.stdout), "the same answer as dvc");
    let log = proxy.log();
    let (dvc_lists, dvc_heads) = (lists(&log), heads(&log));
    eprintln!(
        "status -c of {} objects: ferry {ferry_lists} LIST + {ferry_heads} HEAD, dvc {dvc_lists} LIST + {dvc_heads} HEAD",
        FILES + 1
    );
    assert!(
        ferry_lists <= dvc_lists,
        "ferry sent {ferry_lists} LISTs, dvc {dvc_lists}"
    );
    assert!(
        ferry_lists + ferry_heads <= dvc_lists + dvc_heads,
        "ferry {ferry_lists}+{ferry_heads} requests, dvc {dvc_lists}+{dvc_heads}"
    );
    // ceil(2,101 / 1,000) pages plus the sampled prefix
    assert!(ferry_lists <= 4, "{ferry_lists} LISTs");
    assert!(ours.contains("new:"), "the .dir is reported: {ours}");
    assert_eq!(ferry_heads, 0);
}
