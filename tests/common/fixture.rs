//! Pieces the end-to-end tests share beyond the binaries and servers: deterministic data, a
//! sandboxed `ferry` command (private ledger, fixed day, no user or system DVC config), clones,
//! S3 test prefixes and what a server saw, sorted into B2's billing classes.

use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

use super::{HttpServer, LoggedRequest, ferry, ok, s3_bucket, s3_key, s3_secret, s3_spec, text};

/// Deterministic bytes: object `i` of `len` bytes, different for every `i` and every `salt`
/// (each suite has its own salt, so suites sharing a remote never share an object).
pub fn blob(salt: u64, i: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x = (i as u64 + salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `ferry` in `dir` with its ledger and config levels in `state`, at instant `now` (RFC 3339),
/// so a test depends neither on the machine's config nor on today's date.
pub fn sandboxed(dir: &Path, state: &Path, now: &str) -> Command {
    let mut cmd = ferry(dir);
    cmd.env("FERRY_STATE_DIR", state)
        .env("FERRY_NOW", now)
        .env("DVC_GLOBAL_CONFIG_DIR", state)
        .env("DVC_SYSTEM_CONFIG_DIR", state);
    cmd
}

/// Drops every `FERRY_REMOTE_*` override the test run's environment carries, so a test sees
/// only the remotes it configured.
pub fn without_remote_overrides(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("FERRY_REMOTE_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// The two `remote modify --local NAME …` argument lists that give remote `name` the S3 test
/// credentials (in `config.local`, which clones do not get).
pub fn s3_credential_args(name: &str) -> [Vec<String>; 2] {
    [
        ("access_key_id", s3_key()),
        ("secret_access_key", s3_secret()),
    ]
    .map(|(k, v)| {
        ["remote", "modify", "--local", name, k, &v]
            .map(String::from)
            .to_vec()
    })
}

/// A fresh clone of the git repository at `src` (no cache, no data, no `config.local`).
pub fn git_clone(src: &Path) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ferry-clone-")
        .tempdir()
        .expect("tempdir");
    ok(Command::new("git")
        .arg("clone")
        .arg("-q")
        .arg(src)
        .arg(dir.path()));
    dir
}

/// Commits everything in the git repository at `repo`.
pub fn git_commit_all(repo: &Path, message: &str) {
    for args in [&["add", "-A"][..], &["commit", "-q", "-m", message]] {
        ok(Command::new("git").current_dir(repo).args(args));
    }
}

/// A git repository with Ferry initialised and a default local remote `r` in its own
/// git-ignored `remote/` directory; returns the repository and the remote's path.
pub fn repo_with_inner_remote() -> (TempDir, std::path::PathBuf) {
    let repo = super::git_repo();
    let root = repo.path();
    let remote = root.join("remote");
    std::fs::create_dir_all(&remote).expect("remote dir");
    ok(ferry(root).args(["init", "-q"]));
    ok(ferry(root).args(["remote", "add", "-d", "r"]).arg(&remote));
    std::fs::write(root.join(".gitignore"), "/remote\n").expect(".gitignore");
    (repo, remote)
}

/// An empty directory to serve as a local remote.
pub fn local_remote() -> TempDir {
    tempfile::Builder::new()
        .prefix("ferry-remote-")
        .tempdir()
        .expect("tempdir")
}

/// Copies `keys` from one local remote (or HTTP server root) to another.
pub fn copy_keys(from: &Path, to: &Path, keys: &[String]) {
    for k in keys {
        let dst = to.join(k);
        std::fs::create_dir_all(dst.parent().expect("a key has a parent")).expect("mkdir");
        std::fs::copy(from.join(k), dst).expect("copy");
    }
}

/// Every file under `root`, relative with `/` separators, sorted (empty when `root` does not
/// exist).
pub fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

/// A command's exit code and both streams, for assertion messages.
pub fn out_text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// The object bytes a test server or fault proxy served with GETs so far (its control
/// answer's `served`).
pub fn served(server: &HttpServer) -> u64 {
    let state: serde_json::Value =
        serde_json::from_str(&server.control("{}")).expect("control answer is JSON");
    state["served"].as_u64().expect("`served` is a number")
}

/// What a server saw, in B2's classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// Object GET/HEAD requests (Class B).
    pub class_b: u64,
    /// LIST-class requests (Class C).
    pub class_c: u64,
}

/// Whether a logged request is a LIST-class call (ListObjectsV2, ListMultipartUploads).
pub fn is_list(l: &LoggedRequest) -> bool {
    let query = l.path.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .any(|p| p.starts_with("list-type=") || p == "uploads" || p.starts_with("uploads="))
}

/// The object GET/HEAD requests of a log (Class B; LISTs are Class C).
pub fn class_b(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    log.iter()
        .filter(|l| (l.method == "GET" || l.method == "HEAD") && !is_list(l))
        .collect()
}

/// Sorts a server log into B2's classes (uploads and deletes, Class A, are left out).
pub fn classes(log: &[LoggedRequest]) -> Seen {
    let mut seen = Seen::default();
    for l in log {
        match l.method.as_str() {
            "GET" if is_list(l) => seen.class_c += 1,
            "GET" | "HEAD" => seen.class_b += 1,
            _ => {}
        }
    }
    seen
}

/// A one-thread runtime for the tests that call the library's remotes directly.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A prefix of the test bucket no other test uses, emptied when dropped.
pub struct S3Prefix {
    pub prefix: String,
}

impl S3Prefix {
    pub fn new(label: &str) -> S3Prefix {
        S3Prefix {
            prefix: super::unique_prefix(label),
        }
    }

    /// `s3://BUCKET/PREFIX`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", s3_bucket(), self.prefix)
    }

    /// The library's view of the prefix, straight to SeaweedFS (no proxy).
    pub fn remote(&self) -> std::sync::Arc<dyn ferry::remote::Remote> {
        ferry::remote::open(&s3_spec("check", self.url())).expect("open the prefix")
    }

    /// Every key under the prefix, straight from SeaweedFS.
    pub fn keys(&self) -> Vec<String> {
        runtime()
            .block_on(self.remote().list(""))
            .expect("list the prefix")
    }

    /// Deletes `keys` behind Ferry's back.
    pub fn delete(&self, keys: &[String]) {
        let r = self.remote();
        runtime().block_on(async {
            for k in keys {
                r.delete(k).await.expect("delete");
            }
        });
    }
}

impl Drop for S3Prefix {
    fn drop(&mut self) {
        // A failing test's panic must stay the one reported, not abort the whole binary.
        if std::thread::panicking() {
            return;
        }
        let keys = self.keys();
        self.delete(&keys);
    }
}

/// The md5 recorded by the `.dvc` file `repo/dvc_file` (its first out's `- md5:` line).
pub fn recorded_md5(repo: &Path, dvc_file: &str) -> String {
    let dvc = super::read(repo, dvc_file);
    dvc.lines()
        .find_map(|l| l.trim().strip_prefix("- md5: "))
        .unwrap_or_else(|| panic!("no md5 in {dvc_file}:\n{dvc}"))
        .trim()
        .to_string()
}

/// The DVC 3 object key (`files/md5/xx/…`) of an md5.
pub fn object_key(md5: &str) -> String {
    format!("files/md5/{}/{}", &md5[..2], &md5[2..])
}
