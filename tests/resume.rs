//! Issue 16: an interrupted download of a large object continues with a ranged GET instead of
//! starting over, within a run (a cut body) and across runs (Ctrl-C, then the same command
//! again), and a large object comes as parts read at once. Counted at the servers: the fault
//! proxy in front of the real SeaweedFS (and the project's HTTP server) reports every object
//! byte it sent and every request with its `Range`. No partial file is ever in the cache or the
//! workspace; the restored bytes are the object's.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const MIB: usize = 1 << 20;

/// `len` deterministic bytes for object `seed` (no two runs of a part size repeat).
fn blob(len: usize, seed: u64) -> Vec<u8> {
    common::fixture::blob(seed, 0, len)
}

/// A repository tracking `data.bin` (`data`), pushed to `url`; its cache and workspace copy
/// are then removed, as in a fresh clone. `config` is the remote's `.dvc/config.local` body.
struct Pulled {
    repo: tempfile::TempDir,
    data: Vec<u8>,
    key: String,
}

impl Pulled {
    fn new(data: Vec<u8>, url: &str, push_config: &str) -> Pulled {
        let repo = git_repo();
        let root = repo.path();
        ok(ferry(root).args(["init", "-q"]));
        ok(ferry(root).args(["remote", "add", "-d", "r", url]));
        std::fs::write(root.join(".dvc/config.local"), push_config).unwrap();
        write(root, "data.bin", &data);
        ok(ferry(root).args(["add", "data.bin"]));
        ok(ferry(root).args(["push"]));
        std::fs::remove_dir_all(root.join(".dvc/cache")).unwrap();
        std::fs::remove_file(root.join("data.bin")).unwrap();
        let key = key_of(&data);
        Pulled { repo, data, key }
    }

    fn root(&self) -> &Path {
        self.repo.path()
    }

    fn partial_dir(&self) -> PathBuf {
        self.root().join(".dvc/tmp/ferry/partial")
    }

    /// The names in the partials directory.
    fn partials(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.partial_dir())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The restored file and the cache hold exactly the object, and nothing else is there: no
    /// partial or temp file in the cache or the workspace, no partial left once it is in.
    fn assert_restored(&self) {
        let root = self.root();
        assert!(
            std::fs::read(root.join("data.bin")).unwrap() == self.data,
            "workspace bytes differ"
        );
        assert!(
            std::fs::read(root.join(".dvc/cache").join(&self.key)).unwrap() == self.data,
            "cache bytes differ"
        );
        self.assert_clean();
        assert_eq!(self.partials(), Vec::<String>::new(), "partials left");
    }

    /// The cache holds only object files named by their md5, the workspace only its own files.
    fn assert_clean(&self) {
        let root = self.root();
        for file in common::fixture::files_under(&root.join(".dvc/cache")) {
            assert!(
                file.starts_with("files/md5/")
                    && !file.contains(".tmp")
                    && !file.contains("partial"),
                "stray file in the cache: {file}"
            );
        }
        for file in common::fixture::files_under(root) {
            if file.starts_with(".git/") || file.starts_with(".dvc/") {
                continue;
            }
            assert!(
                ["data.bin", "data.bin.dvc", ".gitignore", ".dvcignore"].contains(&file.as_str()),
                "stray file in the workspace: {file}"
            );
        }
    }
}

/// `.dvc/config.local` for the S3 remote `r` at `endpoint`.
fn s3_config(endpoint: &str) -> String {
    format!(
        "['remote \"r\"']\n    endpointurl = {endpoint}\n    access_key_id = {}\n    secret_access_key = {}\n",
        s3_key(),
        s3_secret()
    )
}

/// An object pushed to SeaweedFS, to be pulled through a fresh fault proxy in front of it.
fn on_s3(data: Vec<u8>) -> (Pulled, HttpServer) {
    let url = format!("s3://{}/{}", s3_bucket(), unique_prefix("resume"));
    let pulled = Pulled::new(data, &url, &s3_config(&s3_endpoint()));
    let proxy = HttpServer::s3_proxy(&s3_endpoint());
    std::fs::write(
        pulled.root().join(".dvc/config.local"),
        s3_config(&proxy.url("")),
    )
    .unwrap();
    (pulled, proxy)
}

/// Object bytes the proxy has sent so far.
fn served(server: &HttpServer) -> u64 {
    let state: serde_json::Value = serde_json::from_str(&server.control("{}")).unwrap();
    state["served"].as_u64().unwrap()
}

/// The GETs of `key` the server answered: (status, Range header).
fn gets(server: &HttpServer, key: &str) -> Vec<(u16, Option<String>)> {
    server
        .log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.split('?').next().unwrap().ends_with(key))
        .map(|r| (r.status, r.range))
        .collect()
}

#[test]
fn a_cut_body_is_continued_with_a_ranged_get_and_the_object_is_served_once() {
    let size = 20 * MIB;
    let (pulled, proxy) = on_s3(blob(size, 1));
    let cut = size * 6 / 10;
    proxy.control(&format!(r#"{{"cut_once": {cut}}}"#));
    ok(ferry(pulled.root()).args(["pull"]));
    pulled.assert_restored();
    let total = served(&proxy);
    assert_eq!(
        total, size as u64,
        "the cut GET and its continuation: the object once"
    );
    let asked = gets(&proxy, &pulled.key);
    assert_eq!(
        asked,
        vec![(200, None), (206, Some(format!("bytes={cut}-")))],
        "a whole GET cut at 60%, then the rest"
    );
}

#[test]
fn an_interrupted_pull_resumes_on_the_next_run() {
    let size = 24 * MIB;
    let (pulled, proxy) = on_s3(blob(size, 2));
    interrupt_mid_download(&pulled, &proxy, size);
    let first = served(&proxy);
    assert_eq!(
        pulled.partials(),
        vec![
            format!("{}.partial", md5_hex(&pulled.data)),
            format!("{}.parts", md5_hex(&pulled.data))
        ]
    );
    proxy.control(r#"{"rate": 0, "clear_log": true}"#);
    ok(ferry(pulled.root()).args(["pull"]));
    pulled.assert_restored();
    let total = served(&proxy);
    assert!(
        total < size as u64 * 12 / 10,
        "served {total} bytes in all for a {size}-byte object ({first} before the interrupt)"
    );
    let asked = gets(&proxy, &pulled.key);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].0, 206);
    let from: u64 = asked[0]
        .1
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a ranged rest: {asked:?}"));
    assert!(
        from > 0 && from <= first,
        "resumed at {from}, {first} sent before"
    );
}

#[test]
fn a_damaged_partial_is_discarded_and_the_object_fetched_whole() {
    let size = 24 * MIB;
    let (pulled, proxy) = on_s3(blob(size, 3));
    interrupt_mid_download(&pulled, &proxy, size);
    let partial = pulled
        .partial_dir()
        .join(format!("{}.partial", md5_hex(&pulled.data)));
    let mut bytes = std::fs::read(&partial).unwrap();
    assert!(
        bytes.len() > 1000,
        "the partial holds {} bytes",
        bytes.len()
    );
    bytes[1000] ^= 0xFF;
    std::fs::write(&partial, &bytes).unwrap();
    proxy.control(r#"{"rate": 0, "clear_log": true}"#);
    ok(ferry(pulled.root()).args(["pull"]));
    pulled.assert_restored();
    let asked = gets(&proxy, &pulled.key);
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[0].0, 206, "first the rest of the partial: {asked:?}");
    assert_eq!(asked[1], (200, None), "then the object whole: {asked:?}");
}

#[test]
fn a_large_object_comes_in_parts_at_once_and_a_cut_part_continues() {
    let size = 72 * MIB;
    let (pulled, proxy) = on_s3(blob(size, 4));
    proxy.control(&format!(r#"{{"cut_once": {}}}"#, 5 * MIB));
    ok(ferry(pulled.root()).args(["pull"]));
    pulled.assert_restored();
    assert_eq!(served(&proxy), size as u64, "every byte once");
    let mut asked: Vec<String> = gets(&proxy, &pulled.key)
        .into_iter()
        .map(|(status, range)| format!("{status} {}", range.unwrap_or_default()))
        .collect();
    asked.sort();
    let part = 32 * MIB;
    let mut expected = vec![
        format!("206 bytes=0-{}", part - 1),
        format!("206 bytes={part}-{}", 2 * part - 1),
        format!("206 bytes={}-", 2 * part),
    ];
    // The part that was cut asked for its rest.
    let rest = asked
        .iter()
        .find(|a| !expected.contains(a))
        .cloned()
        .unwrap_or_else(|| panic!("no continuation among {asked:?}"));
    expected.push(rest.clone());
    expected.sort();
    assert_eq!(asked, expected);
    let (from, _) = rest
        .strip_prefix("206 bytes=")
        .and_then(|r| r.split_once('-'))
        .unwrap();
    let from: usize = from.parse().unwrap();
    assert_eq!(from % part, 5 * MIB, "continued where the cut left it");
}

#[test]
fn a_server_that_ignores_ranges_still_gives_the_right_bytes() {
    let size = 12 * MIB;
    let dir = tempfile::tempdir().unwrap();
    let server = HttpServer::start(dir.path(), "", "");
    let pulled = Pulled::new(blob(size, 5), &server.url("store"), "");
    let cut = size * 6 / 10;
    server.control(&format!(
        r#"{{"cut_once": {cut}, "ignore_range": true, "clear_log": true}}"#
    ));
    let before = served(&server);
    ok(ferry(pulled.root()).args(["pull"]));
    pulled.assert_restored();
    let asked = gets(&server, &pulled.key);
    assert_eq!(
        asked,
        vec![(200, None), (200, Some(format!("bytes={cut}-")))],
        "the rest was asked for and the whole object came"
    );
    assert_eq!(served(&server) - before, (cut + size) as u64);
}

/// Starts `ferry pull` with the proxy sending slowly, presses Ctrl-C (SIGINT) once about 40% of
/// the object was sent, and checks the run ended as interrupted with nothing in the cache or
/// the workspace.
fn interrupt_mid_download(pulled: &Pulled, proxy: &HttpServer, size: usize) {
    proxy.control(&format!(r#"{{"rate": {}}}"#, 8 * MIB));
    let child = ferry(pulled.root())
        .arg("pull")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while served(proxy) < size as u64 * 4 / 10 {
        assert!(Instant::now() < deadline, "the download never got going");
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(252),
        "interrupted: {}",
        text(&out.stderr)
    );
    assert!(!pulled.root().join("data.bin").exists());
    assert!(!pulled.root().join(".dvc/cache").join(&pulled.key).exists());
    pulled.assert_clean();
}

/// The mode bits of the file at `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_fresh_pull_writes_the_workspace_copy_while_it_downloads() {
    let size = 20 * MIB;
    let (pulled, proxy) = on_s3(blob(size, 6));
    let out = run(ferry(pulled.root()).arg("pull").env("FERRY_LOG", "debug"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    pulled.assert_restored();
    assert_eq!(
        served(&proxy),
        size as u64,
        "one download for cache and workspace"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("data.bin: the copy written while it downloaded"),
        "the workspace file was not the download's twin:\n{stderr}"
    );
    let twin_mode = mode(&pulled.root().join("data.bin"));
    std::fs::remove_file(pulled.root().join("data.bin")).unwrap();
    let out = run(ferry(pulled.root())
        .arg("checkout")
        .env("FERRY_LOG", "debug"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("written while it downloaded"),
        "a checkout copies from the cache"
    );
    pulled.assert_restored();
    assert_eq!(
        twin_mode,
        mode(&pulled.root().join("data.bin")),
        "the twin has the mode of a copy"
    );
}

#[test]
fn a_resumed_download_is_copied_from_the_cache() {
    let size = 24 * MIB;
    let (pulled, proxy) = on_s3(blob(size, 7));
    interrupt_mid_download(&pulled, &proxy, size);
    proxy.control(r#"{"rate": 0, "clear_log": true}"#);
    let out = run(ferry(pulled.root()).arg("pull").env("FERRY_LOG", "debug"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    pulled.assert_restored();
    assert!(
        !text(&out.stderr).contains("written while it downloaded"),
        "bytes from an earlier run are not in a twin: the file is copied from the cache"
    );
}

#[test]
fn a_corrupt_large_object_leaves_no_workspace_copy() {
    let size = 12 * MIB;
    let dir = tempfile::tempdir().unwrap();
    let server = HttpServer::start(dir.path(), "", "");
    let pulled = Pulled::new(blob(size, 8), &server.url("store"), "");
    let stored = dir.path().join("store").join(&pulled.key);
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[size / 2] ^= 0xFF;
    std::fs::write(&stored, &bytes).unwrap();
    let out = run(ferry(pulled.root()).arg("pull"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("corrupt"),
        "{}",
        text(&out.stderr)
    );
    assert!(!pulled.root().join("data.bin").exists());
    assert!(!pulled.root().join(".dvc/cache").join(&pulled.key).exists());
    pulled.assert_clean();
}

#[test]
fn a_large_file_in_a_directory_gets_its_workspace_copy_while_it_downloads() {
    // a `.dir` manifest gives no sizes: the object proves large as it streams
    let repo = git_repo();
    let root = repo.path();
    let url = format!("s3://{}/{}", s3_bucket(), unique_prefix("twin-dir"));
    ok(ferry(root).args(["init", "-q"]));
    ok(ferry(root).args(["remote", "add", "-d", "r", &url]));
    std::fs::write(root.join(".dvc/config.local"), s3_config(&s3_endpoint())).unwrap();
    let large = blob(10 * MIB, 9);
    let small = blob(1000, 10);
    write(root, "d/large.bin", &large);
    write(root, "d/small.bin", &small);
    ok(ferry(root).args(["add", "d"]));
    ok(ferry(root).args(["push"]));
    std::fs::remove_dir_all(root.join(".dvc/cache")).unwrap();
    std::fs::remove_dir_all(root.join("d")).unwrap();
    let out = run(ferry(root).arg("pull").env("FERRY_LOG", "debug"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(root.join("d/large.bin")).unwrap() == large);
    assert!(std::fs::read(root.join("d/small.bin")).unwrap() == small);
    let placed: Vec<String> = text(&out.stderr)
        .lines()
        .filter(|l| l.contains("written while it downloaded"))
        .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
        .collect();
    assert_eq!(
        placed,
        ["large.bin: the copy written while it downloaded"],
        "only the large file has a twin"
    );
    assert_eq!(
        ok(ferry(root).arg("status")).trim(),
        "Data and pipelines are up to date."
    );
}
