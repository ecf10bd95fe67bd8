//! Shared support for the end-to-end tests: temp git repositories, the real `ferry` binary, the
//! pinned real `dvc` (installed by `scripts/test`), and the test servers' addresses.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;
use tempfile::TempDir;

pub mod cli;
pub mod fixture;

/// A command running the `ferry` binary under test in `dir`.
pub fn ferry(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("ferry").expect("ferry binary built");
    cmd.current_dir(dir).env_remove("FERRY_LOG");
    cmd
}

/// The pinned real `dvc`, the oracle. Panics with instructions when it is not installed.
pub fn dvc(dir: &Path) -> Command {
    let bin = std::env::var_os("FERRY_TEST_DVC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-env/venv/bin/dvc"));
    assert!(
        bin.exists(),
        "pinned dvc not found at {}: run the tests with scripts/test",
        bin.display()
    );
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env("DVC_NO_ANALYTICS", "1")
        .env("DVC_STUDIO_OFFLINE", "1")
        .env("ITERATIVE_DO_NOT_TRACK", "1");
    cmd
}

/// Runs `cmd`, panicking with its output when it fails; returns stdout as text.
pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        cmd,
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs `cmd` and returns its whole output, whatever the exit code.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn")
}

/// Bytes as lossy UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh temporary git repository (not yet a DVC repository).
pub fn git_repo() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ferry-test-")
        .tempdir()
        .expect("tempdir");
    ok(Command::new("git")
        .current_dir(dir.path())
        .args(["init", "-q", "-b", "main"]));
    ok(Command::new("git")
        .current_dir(dir.path())
        .args(["config", "user.email", "t@127.0.0.1"]));
    ok(Command::new("git")
        .current_dir(dir.path())
        .args(["config", "user.name", "test"]));
    dir
}

/// Writes `content` to `root/rel`, creating parent directories.
pub fn write(root: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

/// Reads `root/rel` as text.
pub fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// The test S3 endpoint (SeaweedFS started by `scripts/seaweedfs.sh`); same default as `scripts/env.sh`.
pub fn s3_endpoint() -> String {
    std::env::var("FERRY_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8333".into())
}

/// The test bucket; tests use a unique prefix inside it, never the bucket root.
pub fn s3_bucket() -> String {
    std::env::var("FERRY_TEST_S3_BUCKET").unwrap_or_else(|_| "ferry-test".into())
}

/// The test S3 access key id.
pub fn s3_key() -> String {
    std::env::var("FERRY_TEST_S3_KEY").unwrap_or_else(|_| "ferrytestkey".into())
}

/// The test S3 secret access key.
pub fn s3_secret() -> String {
    std::env::var("FERRY_TEST_S3_SECRET").unwrap_or_else(|_| "ferrytestsecret0123456789".into())
}

/// A variable `scripts/test` exports for a server it started, or a panic saying so.
fn started_by_scripts(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the tests with scripts/test, which starts the test servers")
    })
}

/// The strict S3 server (moto with SigV4 checks on, `scripts/moto.sh`), in the same bucket name
/// as SeaweedFS.
pub fn moto_endpoint() -> String {
    started_by_scripts("FERRY_TEST_MOTO_ENDPOINT")
}

/// The only access key moto accepts.
pub fn moto_key() -> String {
    started_by_scripts("FERRY_TEST_MOTO_KEY")
}

/// The secret of [`moto_key`].
pub fn moto_secret() -> String {
    started_by_scripts("FERRY_TEST_MOTO_SECRET")
}

/// A prefix no other test (or test run) uses: `<label>-<pid>-<nanos>`.
pub fn unique_prefix(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{label}-{}-{nanos}", std::process::id())
}

/// One request the HTTP test server answered (from its `GET /__log`).
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Its `Range` header, if it had one.
    pub range: Option<String>,
    /// Server clock, seconds since the epoch: when it was answered.
    pub t: f64,
    /// Server clock: when it arrived.
    pub t0: f64,
}

/// The DVC-protocol HTTP test server (`tests/support/http_server.py`) on 127.0.0.1, serving
/// `root`; killed (by its own process handle) when dropped.
pub struct HttpServer {
    child: std::process::Child,
    /// The port it listens on.
    pub port: u16,
}

impl HttpServer {
    /// Starts a server with basic auth `user`/`pass` (no auth when `user` is empty).
    pub fn start(root: &Path, user: &str, pass: &str) -> HttpServer {
        let mut args = Vec::new();
        if !user.is_empty() {
            args.extend(["--user", user, "--password", pass]);
        }
        Self::start_with(root, &args)
    }

    /// Starts a server with extra command-line arguments (e.g. `--auth-header X-Token --password t`).
    pub fn start_with(root: &Path, args: &[&str]) -> HttpServer {
        let mut all = vec!["--root".to_string(), root.display().to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        Self::spawn(&all)
    }

    /// Starts the same script as a fault-injecting proxy in front of an S3 server (e.g.
    /// `s3_endpoint()`): point an S3 remote's `endpointurl` at `url("")` and switch faults with
    /// `control` (B2's cap answers, 503 SlowDown, 500s, cut or corrupted bodies).
    pub fn s3_proxy(upstream: &str) -> HttpServer {
        Self::spawn(&["--upstream".to_string(), upstream.to_string()])
    }

    fn spawn(args: &[String]) -> HttpServer {
        use std::io::BufRead;
        let python = std::env::var("FERRY_TEST_PYTHON")
            .ok()
            .filter(|p| Path::new(p).exists())
            .unwrap_or_else(|| "python3".into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/http_server.py");
        // The server stands for another machine: under a shifted test clock (libfaketime, see
        // scripts/test) it keeps the real one, as SeaweedFS does.
        let mut child = Command::new(python)
            .env_remove("LD_PRELOAD")
            .env_remove("FAKETIME")
            .arg(script)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("start tests/support/http_server.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read PORT line");
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("http_server.py printed {line:?}, not PORT <n>"));
        HttpServer { child, port }
    }

    /// `http://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }

    /// Merges `json` into the fault state (see the script's doc), e.g. `{"fail_500": 2}`.
    pub fn control(&self, json: &str) -> String {
        self.raw("POST", "/__control", json)
    }

    /// Every object request answered so far.
    pub fn log(&self) -> Vec<LoggedRequest> {
        let body = self.raw("GET", "/__log", "");
        let entries: Vec<serde_json::Value> = serde_json::from_str(&body).expect("log JSON");
        entries
            .into_iter()
            .map(|e| LoggedRequest {
                method: e["method"].as_str().unwrap_or_default().to_string(),
                path: e["path"].as_str().unwrap_or_default().to_string(),
                status: e["status"].as_u64().unwrap_or_default() as u16,
                range: e["range"].as_str().map(str::to_string),
                t: e["t"].as_f64().unwrap_or_default(),
                t0: e["t0"].as_f64().unwrap_or_default(),
            })
            .collect()
    }

    fn raw(&self, method: &str, path: &str, body: &str) -> String {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            conn,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut answer = String::new();
        conn.read_to_string(&mut answer).expect("receive");
        answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real WebDAV server (WsgiDAV, pinned in `SERVER_PIP_PINS` of `scripts/env.sh`) on a free
/// 127.0.0.1 port, serving `root` with basic auth; killed (by its own process handle) when
/// dropped.
pub struct WebDavServer {
    child: std::process::Child,
    /// The port it listens on.
    pub port: u16,
    _conf: TempDir,
}

impl WebDavServer {
    /// Starts WsgiDAV over `root` with the one account `user`/`pass`.
    pub fn start(root: &Path, user: &str, pass: &str) -> WebDavServer {
        let env = std::env::var_os("FERRY_TEST_ENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-env"));
        let bin = std::env::var_os("FERRY_TEST_WSGIDAV")
            .map(PathBuf::from)
            .unwrap_or_else(|| env.join("servers-venv/bin/wsgidav"));
        assert!(
            bin.exists(),
            "WsgiDAV not found at {}: run the tests with scripts/test",
            bin.display()
        );
        let port = free_port();
        let conf = tempfile::tempdir().expect("tempdir");
        let config = serde_json::json!({
            "host": "127.0.0.1",
            "port": port,
            "verbose": 1,
            "logging": {"enable_loggers": []},
            "provider_mapping": {"/": root.display().to_string()},
            "http_authenticator": {
                "domain_controller": null,
                "accept_basic": true,
                "accept_digest": false,
                "default_to_digest": false,
            },
            "simple_dc": {"user_mapping": {"*": {user: {"password": pass}}}},
            "dir_browser": {"enable": false},
        });
        let file = conf.path().join("wsgidav.json");
        std::fs::write(&file, config.to_string()).expect("write WsgiDAV config");
        let log = std::fs::File::create(conf.path().join("wsgidav.log")).expect("log file");
        let child = Command::new(bin)
            .env_remove("LD_PRELOAD")
            .env_remove("FAKETIME")
            .arg("--config")
            .arg(&file)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start wsgidav");
        let server = WebDavServer {
            child,
            port,
            _conf: conf,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "WsgiDAV did not listen on port {port} within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }

    /// `webdav://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "webdav://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }
}

impl Drop for WebDavServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx (the Debian package, installed by `scripts/test`) as a DVC HTTP remote the way teams
/// run it: `dav_methods PUT DELETE`, `create_full_put_path on`, `auth_basic`, on a free
/// 127.0.0.1 port, serving `root`; stopped (by its own process handle) when dropped.
pub struct NginxServer {
    child: std::process::Child,
    /// The port it listens on.
    pub port: u16,
    _conf: TempDir,
}

impl NginxServer {
    /// The nginx binary, or `None` when it is not installed (`scripts/test` installs it).
    pub fn binary() -> Option<PathBuf> {
        let bin = std::env::var_os("FERRY_TEST_NGINX")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
        bin.exists().then_some(bin)
    }

    /// Starts nginx over `root` with the one account `user`/`pass`.
    pub fn start(bin: &Path, root: &Path, user: &str, pass: &str) -> NginxServer {
        use std::os::unix::fs::MetadataExt;
        let port = free_port();
        let conf = tempfile::tempdir().expect("tempdir");
        let dir = conf.path().display().to_string();
        std::fs::write(
            conf.path().join("htpasswd"),
            format!("{user}:{{PLAIN}}{pass}\n"),
        )
        .expect("write htpasswd");
        // Run as root, workers would switch to `nobody` and could not write into the test's
        // private temp directories.
        let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let config = format!(
            "{user_line}worker_processes 1;\n\
             error_log {dir}/error.log;\n\
             pid {dir}/nginx.pid;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
               access_log off;\n\
               client_body_temp_path {dir}/body;\n\
               proxy_temp_path {dir}/proxy;\n\
               fastcgi_temp_path {dir}/fastcgi;\n\
               uwsgi_temp_path {dir}/uwsgi;\n\
               scgi_temp_path {dir}/scgi;\n\
               client_max_body_size 0;\n\
               server {{\n\
                 listen 127.0.0.1:{port};\n\
                 root {root};\n\
                 location / {{\n\
                   dav_methods PUT DELETE;\n\
                   create_full_put_path on;\n\
                   dav_access user:rw group:r all:r;\n\
                   auth_basic \"ferry test\";\n\
                   auth_basic_user_file {dir}/htpasswd;\n\
                 }}\n\
               }}\n\
             }}\n",
            user_line = if as_root { "user root;\n" } else { "" },
            root = root.display(),
        );
        let file = conf.path().join("nginx.conf");
        std::fs::write(&file, config).expect("write nginx.conf");
        let child = Command::new(bin)
            .env_remove("LD_PRELOAD")
            .env_remove("FAKETIME")
            .arg("-p")
            .arg(conf.path())
            .arg("-c")
            .arg(&file)
            .args(["-g", "daemon off;"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("start nginx");
        let server = NginxServer {
            child,
            port,
            _conf: conf,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not listen on port {port} within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }

    /// `http://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }
}

impl Drop for NginxServer {
    /// SIGTERM to the master by its PID (a fast shutdown that takes its workers down too;
    /// SIGKILL would leave them serving), then reap it.
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let stopped = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A TCP port nothing listens on now, on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Unpacks the legacy fixture: a repository made once with dvc 2.58.2 (`repo/`: a CRLF text file
/// and a directory, no `hash:` keys) and the local remote it pushed to in the root layout
/// (`remote/`). Returns the temp dir holding both.
pub fn legacy_fixture() -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures-legacy.tar");
    ok(Command::new("tar")
        .arg("xf")
        .arg(tar)
        .arg("-C")
        .arg(dir.path()));
    dir
}

/// The md5 of `bytes`, as lowercase hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(bytes))
}

/// The DVC 3 key (`files/md5/xx/…`) of an object with these bytes.
pub fn key_of(bytes: &[u8]) -> String {
    let h = md5_hex(bytes);
    format!("files/md5/{}/{}", &h[..2], &h[2..])
}

/// The row of a report table whose first cell is `remote`, split into cells (columns are
/// separated by at least two spaces).
pub fn row<'a>(stdout: &'a str, remote: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(remote))
        .unwrap_or_else(|| panic!("no row for {remote} in:\n{stdout}"))
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// The spec of remote `name` at `url` on the shared SeaweedFS, with the test credentials.
pub fn s3_spec(name: &str, url: String) -> ferry::remote::RemoteSpec {
    ferry::remote::RemoteSpec {
        name: name.into(),
        url,
        options: [
            ("endpointurl".to_string(), s3_endpoint()),
            ("access_key_id".to_string(), s3_key()),
            ("secret_access_key".to_string(), s3_secret()),
        ]
        .into_iter()
        .collect(),
    }
}
