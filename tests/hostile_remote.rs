//! A misbehaving server must never hang Ferry, lose data or leak a secret (issue 10, the remote
//! half): a login page answering every URL, a body that trickles, a body that never ends,
//! credentials written into a remote's URL, a multipart upload that fails half-way. Driven
//! against the DVC-protocol HTTP test server (`tests/support/http_server.py`, also the
//! fault-injecting proxy in front of the shared SeaweedFS) through the binary and the library.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{HttpServer, ferry, key_of, md5_hex, ok, text, write};
use ferry::hash::HashInfo;
use ferry::odb::Odb;
use ferry::remote::{self, ErrorKind, ReadBudget, RemoteSpec, RetryPolicy, Stack, StackConfig};
use ferry::transfer::ObjectMeter;
use ferry::transfer::copy::{CopyError, download};
use tempfile::TempDir;

/// Deterministic bytes of `len`.
fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Runs `cmd`, killing it (by its own handle) if it has not finished within `limit`: a hang
/// fails the test instead of the test run.
fn run_within(cmd: &mut Command, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} still running after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (out, start.elapsed())
}

/// Every file under `root` with its size.
fn files(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), meta.len()));
            }
        }
    }
    out
}

/// A repository holding `data.bin` (`bytes`), with remote `web` (the default) at `url`, and
/// its own budget ledger.
struct Repo {
    dir: TempDir,
    state: TempDir,
}

impl Repo {
    fn new(url: &str, bytes: &[u8]) -> Repo {
        let dir = common::git_repo();
        let r = dir.path();
        ok(ferry(r).args(["init", "-q"]));
        write(r, "data.bin", bytes);
        ok(ferry(r).args(["add", "-q", "data.bin"]));
        ok(ferry(r).args(["remote", "add", "-d", "web", url]));
        Repo {
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
        cmd
    }
}

fn http_spec(url: &str, options: &[(&str, &str)]) -> RemoteSpec {
    RemoteSpec {
        name: "web".into(),
        url: url.into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Item 1: a server answering every GET (and POST) with 200 and a login page.
#[test]
fn a_login_page_is_not_the_object() {
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let repo = Repo::new(&server.url("store"), &data(5000));
    server.control(r#"{"html_page": true}"#);

    let (out, _) = run_within(repo.ferry().arg("push"), Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success() && !stdout.contains("Everything is up to date"),
        "a login page passed for the object:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("web page") && stderr.contains("login page"),
        "the error says what the server answered:\n{stdout}\n{stderr}"
    );
    assert!(files(root.path()).is_empty(), "nothing was stored");

    // The library answer: an error naming the remote, never "present".
    let remote = remote::open(&http_spec(&server.url("store"), &[])).unwrap();
    let err = block_on(remote.stat(&key_of(b"x"))).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent, "{err}");
    assert!(err.to_string().starts_with("remote 'web': HEAD "), "{err}");
}

/// Item 1: an object of the wrong size on the remote (a cut upload, another body) is not held:
/// push uploads it again.
#[test]
fn an_object_of_the_wrong_size_is_uploaded_again() {
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let bytes = data(5000);
    let repo = Repo::new(&server.url("store"), &bytes);
    let stored = root.path().join("store").join(key_of(&bytes));
    write(root.path(), &format!("store/{}", key_of(&bytes)), b"<html>");

    let out = ok(repo.ferry().arg("push"));
    assert!(!out.contains("Everything is up to date"), "{out}");
    assert_eq!(std::fs::read(&stored).unwrap(), bytes, "{out}");
}

/// Item 2: a body that trickles one byte a second is given up after the remote's
/// `read_timeout` (2 s here), each attempt, so a download costs seconds, not hours.
#[test]
fn a_trickling_body_is_given_up_after_read_timeout() {
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let bytes = data(5000);
    write(root.path(), &format!("store/{}", key_of(&bytes)), &bytes);
    server.control(r#"{"trickle": 1}"#);
    let spec = http_spec(&server.url("store"), &[("read_timeout", "2")]);
    let remote = remote::open(&spec).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let odb = Odb::new(cache.path().to_path_buf());
    let hash = HashInfo::md5(md5_hex(&bytes));
    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };

    let start = Instant::now();
    let result = block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            download(
                &stacked(remote, policy),
                &odb,
                &hash,
                sized(5000),
                &ObjectMeter::none(),
            ),
        )
        .await
    });
    let took = start.elapsed();
    let err = match result {
        Err(_) => panic!("the trickle was still being read after 30 s"),
        Ok((Ok(n), _)) => panic!("a trickle of 2 bytes/attempt completed ({n} bytes)"),
        Ok((Err(CopyError::Remote(e)), _)) => e,
        Ok((Err(e), _)) => panic!("{e}"),
    };
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    assert!(
        err.message.contains("stalled") && err.message.contains("read_timeout"),
        "{err}"
    );
    assert_eq!(err.attempts, 2, "{err}");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(10),
        "two attempts of 2 s each took {took:?}"
    );
    assert!(files(cache.path()).is_empty(), "no temp file is left");
    eprintln!("trickle (library): gave up after {took:?} (2 attempts, read_timeout 2 s)");

    // The binary: `ferry pull` with `read_timeout = 2` gives up with every retry in well under
    // a minute, and says why.
    let repo = Repo::new(&server.url("store"), &bytes);
    ok(repo
        .ferry()
        .args(["remote", "modify", "web", "read_timeout", "2"]));
    std::fs::remove_dir_all(repo.path().join(".dvc/cache")).unwrap();
    std::fs::remove_file(repo.path().join("data.bin")).unwrap();
    let (out, took) = run_within(repo.ferry().args(["pull", "-v"]), Duration::from_secs(60));
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("stalled"), "{stderr}");
    assert!(files(&repo.path().join(".dvc/cache")).is_empty());
    eprintln!("trickle (ferry pull): gave up after {took:?}");
}

/// The bytes the HTTP test server has sent in object bodies.
fn served(server: &HttpServer) -> u64 {
    let state: serde_json::Value = serde_json::from_str(&server.control("{}")).unwrap();
    state["served"].as_u64().unwrap()
}

/// Item 3: a chunked body that never ends is cut off as soon as it passes the object's size
/// (from the `.dvc` file); the temp file is removed and the object refused as corrupt.
#[test]
fn an_endless_body_is_cut_at_the_object_size() {
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), "", "");
    let bytes = data(5000);
    let repo = Repo::new(&server.url("store"), &bytes);
    ok(repo.ferry().arg("push"));
    std::fs::remove_dir_all(repo.path().join(".dvc/cache")).unwrap();
    std::fs::remove_file(repo.path().join("data.bin")).unwrap();
    server.control(r#"{"endless": true, "served": 0}"#);

    let (out, took) = run_within(repo.ferry().arg("pull"), Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("corrupt copies (discarded: wrong md5 or longer than the object)"),
        "the object is refused as too long:\n{stdout}\n{stderr}"
    );
    let cached = files(&repo.path().join(".dvc/cache"));
    assert!(cached.is_empty(), "no object and no temp file: {cached:?}");
    assert!(!repo.path().join("data.bin").exists());
    let sent = served(&server);
    assert!(
        sent < 16 << 20,
        "the server got to send {sent} bytes before Ferry hung up"
    );
    eprintln!("endless body: the server sent {sent} bytes in all; pull gave up after {took:?}");

    // The library: the same refusal, and the temp file is gone.
    let remote = remote::open(&http_spec(&server.url("store"), &[])).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let odb = Odb::new(cache.path().to_path_buf());
    let hash = HashInfo::md5(md5_hex(&bytes));
    let policy = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let err = match block_on(download(
        &stacked(remote, policy),
        &odb,
        &hash,
        sized(5000),
        &ObjectMeter::none(),
    ))
    .0
    {
        Err(CopyError::Remote(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert!(
        err.message.contains("should be at most 5000 bytes"),
        "{err}"
    );
    assert!(files(cache.path()).is_empty());
    eprintln!("endless body (library): {err}");
}

/// Distinctive secrets, so a grep finds any copy of them.
const S3_URL_SECRET: &str = "UrlSecret-hostile-5c9e1d";
const HTTP_URL_PASSWORD: &str = "UrlPassword-hostile-7a3f02";

/// Item 4: credentials written into remote URLs (`s3://KEY:SECRET@bucket/…`,
/// `http://user:pass@host/…`) never show in any output, log, report or state file, and still
/// work as credentials.
#[test]
fn secrets_in_urls_never_leak() {
    use base64::Engine as _;
    let root = tempfile::tempdir().unwrap();
    let server = HttpServer::start(root.path(), "alice", HTTP_URL_PASSWORD);
    let web = format!(
        "http://alice:{HTTP_URL_PASSWORD}@127.0.0.1:{}/store",
        server.port
    );
    let bytes = data(5000);
    let repo = Repo::new(&web, &bytes);
    let r = repo.path();
    let bucket = common::s3_bucket();
    let prefix = common::unique_prefix("hostile-secrets");
    let endpoint = common::s3_endpoint();
    let bad = format!(
        "s3://{}:{S3_URL_SECRET}@{bucket}/{prefix}/bad",
        common::s3_key()
    );
    let good = format!(
        "s3://{}:{}@{bucket}/{prefix}/good",
        common::s3_key(),
        common::s3_secret()
    );
    for (name, url) in [("bad", &bad), ("good", &good)] {
        ok(repo.ferry().args(["remote", "add", name, url]));
        ok(repo
            .ferry()
            .args(["remote", "modify", name, "endpointurl", &endpoint]));
    }

    let mut outputs = Vec::new();
    let mut run = |args: &[&str], trace: bool| {
        let mut cmd = repo.ferry();
        cmd.args(args).env("AWS_EC2_METADATA_DISABLED", "true");
        if trace {
            cmd.env("FERRY_LOG", "trace");
        }
        let (out, _) = run_within(&mut cmd, Duration::from_secs(120));
        let both = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
        outputs.push((args.join(" "), both.clone()));
        (out.status.success(), both)
    };
    assert!(run(&["push", "-r", "web", "-v"], true).0);
    let (pushed, out) = run(&["push", "-r", "good", "-v"], false);
    assert!(pushed, "credentials in an S3 URL are used: {out}");
    assert!(!run(&["push", "-r", "bad", "-v"], true).0);
    run(&["remote", "list"], false);
    run(&["remote", "list", "-v"], false);
    run(&["doctor"], false);
    run(&["doctor", "--json"], false);
    run(&["doctor", "--write", "-v"], true);
    run(&["status", "-c", "-r", "bad"], false);
    run(&["remote", "usage"], false);
    run(&["remote", "usage", "--json"], false);
    std::fs::remove_dir_all(r.join(".dvc/cache")).unwrap();
    std::fs::remove_file(r.join("data.bin")).unwrap();
    let (pulled, out) = run(&["pull", "-r", "bad", "-v"], true);
    assert!(!pulled, "{out}");
    assert!(run(&["fetch", "-r", "web", "-v"], true).0);
    assert!(run(&["pull", "-r", "good", "-v"], true).0);

    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{HTTP_URL_PASSWORD}"));
    let secrets = [
        S3_URL_SECRET.to_string(),
        HTTP_URL_PASSWORD.to_string(),
        common::s3_secret(),
        basic,
    ];
    for (cmd, out) in &outputs {
        for s in &secrets {
            assert!(
                !out.contains(s.as_str()),
                "`ferry {cmd}` printed a secret:\n{out}"
            );
        }
    }
    // Every file Ferry keeps for itself: the ledger and its state, the per-remote indexes.
    let mut kept = files(repo.state.path());
    kept.extend(files(&r.join(".dvc/tmp")));
    assert!(
        files(repo.state.path())
            .iter()
            .any(|(p, _)| p.extension().is_some_and(|e| e == "json")),
        "the ledger was written: {kept:?}"
    );
    for (path, _) in kept {
        let content = std::fs::read(&path).unwrap();
        let content = String::from_utf8_lossy(&content);
        for s in &secrets {
            assert!(
                !content.contains(s.as_str()),
                "{} holds a secret:\n{content}",
                path.display()
            );
        }
    }
}

/// Multipart uploads under `prefix` of the test bucket, as botocore sees them
/// (`tests/support/s3_uploads.py`); `action` is `list`, `create KEY` or `abort-all`.
fn s3_uploads(prefix: &str, action: &[&str]) -> serde_json::Value {
    let python = std::env::var("FERRY_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/s3_uploads.py");
    let out = ok(Command::new(python)
        .arg(script)
        .args(["--endpoint", &common::s3_endpoint()])
        .args(["--bucket", &common::s3_bucket()])
        .args(["--key", &common::s3_key()])
        .args(["--secret", &common::s3_secret()])
        .args(["--prefix", prefix])
        .args(action));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Item 5: a multipart upload whose last part fails (S3 answers 500; OpenDAL only sees it when
/// closing the writer) is aborted: no AbortMultipartUpload went out before, and the parts
/// stayed stored (and billed on B2). `ferry doctor --write` reports uploads left incomplete.
#[test]
fn a_failed_multipart_upload_is_aborted() {
    let proxy = HttpServer::s3_proxy(&common::s3_endpoint());
    let prefix = common::unique_prefix("hostile-multipart");
    let mut spec = common::s3_spec("seaweed", format!("s3://{}/{prefix}", common::s3_bucket()));
    spec.options.insert(
        "endpointurl".into(),
        proxy.url("").trim_end_matches('/').into(),
    );
    let remote = remote::open(&spec).unwrap();
    // 20 MiB: parts of 8, 8 and 4 MiB; the third goes out in `close`.
    let bytes = data(20 << 20);
    let key = key_of(&bytes);
    proxy.control(r#"{"fail_part": 3}"#);
    let body: remote::ByteStream = Box::pin(futures::stream::iter(
        bytes
            .chunks(1 << 20)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    ));
    let err = block_on(remote.write(&key, body, bytes.len() as u64)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    let log = proxy.log();
    assert!(
        log.iter()
            .any(|r| r.method == "PUT" && r.path.contains("partNumber=3") && r.status == 500),
        "the part failed: {log:?}"
    );
    assert!(
        log.iter()
            .any(|r| r.method == "DELETE" && r.path.contains("uploadId=")),
        "AbortMultipartUpload was sent: {log:?}"
    );
    let left = s3_uploads(&format!("{prefix}/"), &["list"]);
    assert_eq!(left, serde_json::json!([]), "no incomplete upload is left");
    assert!(!block_on(remote.exists(&key)).unwrap());

    // Leftovers of a killed process (or another tool): doctor --write lists them, with a fix.
    proxy.control(r#"{"reset": true}"#);
    let leftover = format!("{prefix}/files/md5/aa/leftover");
    s3_uploads(&format!("{prefix}/"), &["create", &leftover]);
    let repo = common::git_repo();
    ok(ferry(repo.path()).args(["init", "-q"]));
    let state = tempfile::tempdir().unwrap();
    let add = |args: &[&str]| {
        ok(ferry(repo.path())
            .env("FERRY_STATE_DIR", state.path())
            .args(args))
    };
    add(&["remote", "add", "-d", "s3", &spec.url]);
    add(&[
        "remote",
        "modify",
        "s3",
        "endpointurl",
        &common::s3_endpoint(),
    ]);
    add(&[
        "remote",
        "modify",
        "--local",
        "s3",
        "access_key_id",
        &common::s3_key(),
    ]);
    add(&[
        "remote",
        "modify",
        "--local",
        "s3",
        "secret_access_key",
        &common::s3_secret(),
    ]);
    let doctor = |args: &[&str]| {
        let (out, _) = run_within(
            ferry(repo.path())
                .env("FERRY_STATE_DIR", state.path())
                .args(["doctor", "--write"])
                .args(args),
            Duration::from_secs(60),
        );
        text(&out.stdout)
    };
    let human = doctor(&[]);
    assert!(
        human.contains("1 incomplete multipart upload(s) under s3://")
            && human.contains("aws s3api abort-multipart-upload")
            && human.contains("files/md5/aa/leftover"),
        "{human}"
    );
    let json: serde_json::Value = serde_json::from_str(&doctor(&["--json"])).unwrap();
    let check = json["remotes"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "incomplete_uploads")
        .cloned()
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(check["status"], "warn", "{check}");
    assert_eq!(
        s3_uploads(&format!("{prefix}/"), &["abort-all"])["aborted"],
        1
    );
    let clean = doctor(&[]);
    assert!(clean.contains("no incomplete multipart uploads"), "{clean}");
}

/// Item 1, where it would lose data: `gc --cloud` keeps an object when the only other copy has
/// the wrong size (cut, or not the object): that copy does not count.
#[test]
fn gc_cloud_does_not_count_a_copy_of_the_wrong_size() {
    let base = tempfile::tempdir().unwrap();
    let (a, b) = (base.path().join("a"), base.path().join("b"));
    let bytes = data(5000);
    let repo = Repo::new(&a.display().to_string(), &bytes);
    let r = repo.path();
    ok(repo
        .ferry()
        .args(["remote", "add", "b", &b.display().to_string()]));
    ok(repo.ferry().args(["push", "-r", "web"]));
    ok(repo.ferry().args(["push", "-r", "b"]));
    let key = key_of(&bytes);
    std::fs::write(b.join(&key), &bytes[..100]).unwrap();
    std::fs::remove_file(r.join("data.bin.dvc")).unwrap();

    let out = ok(repo
        .ferry()
        .args(["gc", "-w", "--cloud", "-r", "web", "-f"]));
    assert!(
        a.join(&key).exists(),
        "the last good copy was deleted:\n{out}"
    );
    assert!(out.contains(&format!("{key}: held by web")), "{out}");
}

/// Item 2 on S3: the same guard bounds a trickling GET through the fault proxy.
#[test]
fn a_trickling_s3_body_is_given_up_after_read_timeout() {
    use futures::StreamExt;
    let proxy = HttpServer::s3_proxy(&common::s3_endpoint());
    let prefix = common::unique_prefix("hostile-trickle");
    let mut spec = common::s3_spec("seaweed", format!("s3://{}/{prefix}", common::s3_bucket()));
    spec.options.insert(
        "endpointurl".into(),
        proxy.url("").trim_end_matches('/').into(),
    );
    spec.options.insert("read_timeout".into(), "2".into());
    let remote = remote::open(&spec).unwrap();
    let bytes = data(5000);
    let key = key_of(&bytes);
    let body: remote::ByteStream = Box::pin(futures::stream::iter([Ok(
        bytes::Bytes::copy_from_slice(&bytes),
    )]));
    block_on(remote.write(&key, body, bytes.len() as u64)).unwrap();
    proxy.control(r#"{"trickle": 1}"#);

    let start = Instant::now();
    let result = block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            let mut stream = remote.read(&key).await?;
            let mut got = 0;
            while let Some(chunk) = stream.next().await {
                got += chunk?.len();
            }
            Ok::<usize, remote::RemoteError>(got)
        })
        .await
    });
    let took = start.elapsed();
    proxy.control(r#"{"reset": true}"#);
    block_on(remote.delete(&key)).unwrap();
    let err = match result {
        Err(_) => panic!("the trickle was still being read after 30 s"),
        Ok(Ok(n)) => panic!("a trickle completed ({n} bytes)"),
        Ok(Err(e)) => e,
    };
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    assert!(err.message.contains("stalled"), "{err}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    eprintln!("trickle (S3 read): gave up after {took:?}: {err}");
}

/// `remote` in its layer stack with `policy` and no budget account, as the library opens it.
fn stacked(remote: std::sync::Arc<dyn remote::Remote>, policy: RetryPolicy) -> Stack {
    Stack::new(
        remote,
        StackConfig {
            jobs: 4,
            policy,
            account: None,
        },
    )
}

/// A read of an object known to be `size` bytes.
fn sized(size: u64) -> ReadBudget {
    ReadBudget {
        size: Some(size),
        claimed: false,
    }
}
