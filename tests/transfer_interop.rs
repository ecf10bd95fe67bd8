//! Transfers end to end against the real servers and the real pinned dvc (issue 3, items 3 and 5):
//! `dvc push` → `ferry pull` and `ferry push` → `dvc pull` on a local directory, SeaweedFS's S3
//! and the DVC-protocol HTTP test server (POST and PUT); `status -c` agreement; DVC's summary
//! lines and exit codes; legacy root-layout remotes; per-output `remote:`/`push: false`;
//! `dvc.lock` outs; corrupt and dying remotes; wrong credentials; secrets; env overrides.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use tempfile::TempDir;

/// The HTTP test server's basic-auth password; must never be printed.
const HTTP_PASSWORD: &str = "hunter2-HttpSecretPw";
const HTTP_USER: &str = "bob";
/// A name needing YAML quoting, gitignore escaping and UTF-8.
const AWKWARD: &str = "we ird é [x]#!.txt";
/// md5 of `data/one.txt` ("one\n").
const ONE_TXT_MD5: &str = "5bbf5a52328e7439ae6e719dfe712200";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Local,
    S3,
    Http,
    HttpPut,
    /// `webdav://` on WsgiDAV (dvc-webdav on dvc's side).
    WebDav,
}

/// One remote named `store` of some kind, with what it takes to configure and inspect it.
struct Store {
    kind: Kind,
    /// The local remote's directory, or the HTTP server's root.
    dir: TempDir,
    server: Option<HttpServer>,
    webdav: Option<WebDavServer>,
    /// The S3 prefix inside the test bucket.
    prefix: String,
}

impl Store {
    fn new(kind: Kind) -> Store {
        let dir = tempfile::Builder::new()
            .prefix("ferry-remote-")
            .tempdir()
            .unwrap();
        let server = matches!(kind, Kind::Http | Kind::HttpPut)
            .then(|| HttpServer::start(dir.path(), HTTP_USER, HTTP_PASSWORD));
        // dvc-webdav makes the collections below the remote's root, not the root itself.
        let webdav = (kind == Kind::WebDav).then(|| {
            std::fs::create_dir(dir.path().join("store")).unwrap();
            WebDavServer::start(dir.path(), HTTP_USER, HTTP_PASSWORD)
        });
        Store {
            kind,
            dir,
            server,
            webdav,
            prefix: unique_prefix("interop"),
        }
    }

    fn url(&self) -> String {
        match self.kind {
            Kind::Local => self.dir.path().display().to_string(),
            Kind::S3 => format!("s3://{}/{}", s3_bucket(), self.prefix),
            Kind::Http | Kind::HttpPut => self.server.as_ref().unwrap().url("store"),
            Kind::WebDav => self.webdav.as_ref().unwrap().url("store"),
        }
    }

    /// The tracked part of the remote's config (no secrets).
    fn section(&self, name: &str) -> String {
        let mut s = format!("['remote \"{name}\"']\n    url = {}\n", self.url());
        match self.kind {
            Kind::S3 => s.push_str(&format!("    endpointurl = {}\n", s3_endpoint())),
            Kind::HttpPut => s.push_str("    method = PUT\n"),
            _ => {}
        }
        s
    }

    /// The `config.local` part: credentials, with the secret unless `with_secret` is false.
    fn local_section(&self, name: &str, secret: Option<&str>) -> String {
        match self.kind {
            Kind::Local => String::new(),
            Kind::S3 => {
                let mut s = format!("['remote \"{name}\"']\n    access_key_id = {}\n", s3_key());
                if let Some(secret) = secret {
                    s.push_str(&format!("    secret_access_key = {secret}\n"));
                }
                s
            }
            Kind::Http | Kind::HttpPut => {
                let mut s =
                    format!("['remote \"{name}\"']\n    auth = basic\n    user = {HTTP_USER}\n");
                if let Some(secret) = secret {
                    s.push_str(&format!("    password = {secret}\n"));
                }
                s
            }
            // dvc-webdav has no `auth` option: a user and password mean basic auth.
            Kind::WebDav => {
                let mut s = format!("['remote \"{name}\"']\n    user = {HTTP_USER}\n");
                if let Some(secret) = secret {
                    s.push_str(&format!("    password = {secret}\n"));
                }
                s
            }
        }
    }

    /// The secret this kind uses (None for a local directory).
    fn secret(&self) -> Option<String> {
        match self.kind {
            Kind::Local => None,
            Kind::S3 => Some(s3_secret()),
            Kind::Http | Kind::HttpPut | Kind::WebDav => Some(HTTP_PASSWORD.into()),
        }
    }

    /// Makes `store` the repo's default remote, credentials in `config.local`.
    fn configure(&self, repo: &Path) {
        self.configure_with(repo, self.secret().as_deref());
    }

    fn configure_with(&self, repo: &Path, secret: Option<&str>) {
        write(
            repo,
            ".dvc/config",
            format!("[core]\n    remote = store\n{}", self.section("store")),
        );
        let local = self.local_section("store", secret);
        if !local.is_empty() {
            write(repo, ".dvc/config.local", local);
        }
    }

    /// Every object key on the remote (relative to its root).
    fn keys(&self) -> BTreeSet<String> {
        match self.kind {
            Kind::Local => files_under(self.dir.path()),
            Kind::Http | Kind::HttpPut | Kind::WebDav => {
                files_under(&self.dir.path().join("store"))
            }
            Kind::S3 => block_on(self.s3().list("")).unwrap().into_iter().collect(),
        }
    }

    fn http(&self) -> &HttpServer {
        self.server.as_ref().unwrap()
    }

    fn s3(&self) -> std::sync::Arc<dyn ferry::remote::Remote> {
        let spec = ferry::remote::RemoteSpec {
            name: "store".into(),
            url: self.url(),
            options: [
                ("endpointurl", s3_endpoint()),
                ("access_key_id", s3_key()),
                ("secret_access_key", s3_secret()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        };
        ferry::remote::open(&spec).unwrap()
    }
}

impl Drop for Store {
    /// The SeaweedFS is shared and long-running: leave the prefix empty.
    fn drop(&mut self) {
        if self.kind == Kind::S3 {
            let remote = self.s3();
            block_on(async {
                for key in remote.list("").await.unwrap_or_default() {
                    let _ = remote.delete(&key).await;
                }
            });
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Files under `root` (recursive, `/`-separated, relative), skipping `.git`.
fn files_under(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// The cache's object keys as a DVC 3 remote lays them out (`files/md5/xx/…`).
fn cache_keys(repo: &Path) -> BTreeSet<String> {
    files_under(&repo.join(".dvc/cache"))
        .into_iter()
        .filter(|k| k.starts_with("files/md5/"))
        .collect()
}

/// Temp files (`.xxx.tmp`) anywhere in the repository, cache included.
fn temp_files(repo: &Path) -> Vec<String> {
    files_under(repo)
        .into_iter()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            name.starts_with('.') && name.ends_with(".tmp")
        })
        .collect()
}

/// The tracked data: a nested directory with an empty file, a binary file, an awkward name.
fn write_data(root: &Path) {
    write(root, "data/one.txt", "one\n");
    write(root, "data/sub/two.txt", "two\n");
    write(root, "data/sub/empty", "");
    let bin: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    write(root, "single.bin", bin);
    write(root, AWKWARD, "awkward\r\nbytes\n");
}

/// The workspace bytes of the tracked data.
fn data_bytes(repo: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for rel in files_under(&repo.join("data")) {
        let p = format!("data/{rel}");
        out.insert(p.clone(), std::fs::read(repo.join(&p)).unwrap());
    }
    for rel in ["single.bin", AWKWARD] {
        if let Ok(b) = std::fs::read(repo.join(rel)) {
            out.insert(rel.to_string(), b);
        }
    }
    out
}

fn commit(repo: &Path, msg: &str) {
    ok(Command::new("git").current_dir(repo).args(["add", "-A"]));
    ok(Command::new("git").current_dir(repo).args([
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@127.0.0.1",
        "commit",
        "-q",
        "-m",
        msg,
    ]));
}

/// A fresh `git clone` of `src` with its (untracked) `config.local` copied over.
fn clone(src: &Path) -> TempDir {
    let dir = common::fixture::git_clone(src);
    let local = src.join(".dvc/config.local");
    if local.exists() {
        std::fs::copy(local, dir.path().join(".dvc/config.local")).unwrap();
    }
    dir
}

/// A committed DVC repository holding the data, added by `tool` ("dvc" or "ferry"), with
/// `store` as its default remote.
fn repo_with_data(store: &Store, tool: &str) -> TempDir {
    let repo = git_repo();
    let r = repo.path();
    // `ferry init` writes what `dvc init` writes (tests/init.rs) and saves a dvc start-up.
    ok(ferry(r).args(["init", "-q"]));
    write_data(r);
    let mut add = if tool == "dvc" { dvc(r) } else { ferry(r) };
    ok(add.args(["add", "-q", "data", "single.bin", AWKWARD]));
    store.configure(r);
    commit(r, "data");
    repo
}

/// The last non-empty stdout line.
fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// `status -c --json` of a tool, parsed.
fn cloud_json(cmd: &mut Command, extra: &[&str]) -> BTreeMap<String, String> {
    let out = ok(cmd.args(["status", "-c", "--json"]).args(extra));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Asserts dvc and ferry report the same `status -c` (and `-r NAME` when given) and returns it.
fn status_agrees(repo: &Path, extra: &[&str]) -> BTreeMap<String, String> {
    let f = cloud_json(&mut ferry(repo), extra);
    let d = cloud_json(&mut dvc(repo), extra);
    assert_eq!(
        f,
        d,
        "ferry vs dvc `status -c {extra:?}` in {}",
        repo.display()
    );
    f
}

// ---------------------------------------------------------------------------------------------
// Round trips

/// dvc push → ferry pull in a fresh clone; ferry push → dvc pull in a fresh clone; same keys.
fn roundtrip(kind: Kind) {
    let store = Store::new(kind);
    let a = repo_with_data(&store, "dvc");
    let a = a.path();
    let pushed = ok(dvc(a).arg("push"));
    assert_eq!(last_line(&pushed), "6 files pushed", "{pushed}");
    let keys = store.keys();
    assert_eq!(keys, cache_keys(a), "dvc's keys are the cache's layout");
    assert!(keys.iter().all(|k| k.starts_with("files/md5/")), "{keys:?}");
    assert!(status_agrees(a, &[]).is_empty());
    assert_eq!(
        ok(ferry(a).args(["status", "-c"])).trim(),
        "Cache and remote 'store' are in sync."
    );

    // ferry pull in a fresh clone restores identical bytes.
    let b = clone(a);
    let b = b.path();
    let out = ok(ferry(b).arg("pull"));
    assert_eq!(
        last_line(&out),
        "6 files fetched and 5 files added",
        "{out}"
    );
    assert_eq!(data_bytes(b), data_bytes(a));
    assert_eq!(cache_keys(b), keys);
    assert!(temp_files(b).is_empty(), "{:?}", temp_files(b));
    assert_eq!(
        last_line(&ok(ferry(b).arg("pull"))),
        "Everything is up to date."
    );

    // ferry push of changed data; dvc sees the remote in sync and pulls it.
    write(b, "data/three.txt", "three\n");
    write(b, "single.bin", "replaced\n");
    ok(ferry(b).args(["add", "-q", "data", "single.bin"]));
    commit(b, "more");
    let pushed = ok(ferry(b).arg("push"));
    assert_eq!(last_line(&pushed), "3 files pushed", "{pushed}");
    assert_eq!(store.keys(), cache_keys(b), "ferry writes DVC's layout");
    assert_eq!(
        last_line(&ok(ferry(b).arg("push"))),
        "Everything is up to date."
    );
    assert_eq!(
        last_line(&ok(dvc(b).arg("push"))),
        "Everything is up to date."
    );
    assert!(status_agrees(b, &[]).is_empty());

    let c = clone(b);
    let c = c.path();
    let dvc_out = ok(dvc(c).arg("pull"));
    assert_eq!(data_bytes(c), data_bytes(b));
    let d = clone(b);
    let d = d.path();
    let ferry_out = ok(ferry(d).arg("pull"));
    assert_eq!(data_bytes(d), data_bytes(b));
    assert_eq!(last_line(&ferry_out), last_line(&dvc_out), "same summary");

    if let Some(server) = &store.server {
        let uploads: BTreeSet<String> = server
            .log()
            .into_iter()
            .filter(|r| r.method == "POST" || r.method == "PUT")
            .map(|r| r.method)
            .collect();
        let want = if kind == Kind::HttpPut { "PUT" } else { "POST" };
        assert_eq!(uploads, BTreeSet::from([want.to_string()]));
    }
}

#[test]
fn roundtrip_local() {
    roundtrip(Kind::Local);
}

#[test]
fn roundtrip_s3() {
    roundtrip(Kind::S3);
}

#[test]
fn roundtrip_http_post() {
    roundtrip(Kind::Http);
}

#[test]
fn roundtrip_http_put() {
    roundtrip(Kind::HttpPut);
}

#[test]
fn roundtrip_webdav() {
    roundtrip(Kind::WebDav);
}

// ---------------------------------------------------------------------------------------------
// status -c

/// Both tools agree before, during and after pushes, and on a clone with an empty cache.
fn status_cloud(kind: Kind) {
    let store = Store::new(kind);
    let a = repo_with_data(&store, "ferry");
    let a = a.path();
    let all_new = status_agrees(a, &[]);
    assert_eq!(all_new.len(), 6, "{all_new:?}");
    assert!(all_new.values().all(|s| s == "new"), "{all_new:?}");

    ok(ferry(a).args(["push", "single.bin.dvc"]));
    let partial = status_agrees(a, &[]);
    assert!(!partial.contains_key("single.bin") && partial.len() == 5);
    // The text form too (DVC's line order is a set's: compare sorted lines).
    let sorted = |s: String| {
        let mut lines: Vec<String> = s.lines().map(String::from).collect();
        lines.sort();
        lines
    };
    let f = sorted(ok(ferry(a).args(["status", "-c"])));
    assert_eq!(f, sorted(ok(dvc(a).args(["status", "-c"]))));
    assert!(
        f.contains(&"\tnew:                data/sub/empty".to_string()),
        "{f:?}"
    );
    ok(dvc(a).args(["push", "data.dvc"]));
    assert_eq!(status_agrees(a, &[]).keys().collect::<Vec<_>>(), [AWKWARD]);
    ok(ferry(a).arg("push"));
    assert!(status_agrees(a, &[]).is_empty());
    assert!(status_agrees(a, &["-r", "store"]).is_empty());
    for tool in [ferry(a), dvc(a)] {
        let mut tool = tool;
        assert_eq!(
            ok(tool.args(["status", "-c"])).trim(),
            "Cache and remote 'store' are in sync."
        );
    }

    // An empty cache: dvc reads the directory's manifest from the remote; so must ferry.
    let b = clone(a);
    let b = b.path();
    let f = cloud_json(&mut ferry(b), &[]);
    let _ = std::fs::remove_dir_all(b.join(".dvc/cache"));
    let d = cloud_json(&mut dvc(b), &[]);
    assert_eq!(f, d, "empty cache");
    assert!(f.contains_key("data/sub/two.txt"), "{f:?}");
    assert!(f.values().all(|s| s == "deleted"), "{f:?}");
}

#[test]
fn status_cloud_local() {
    status_cloud(Kind::Local);
}

#[test]
fn status_cloud_s3() {
    status_cloud(Kind::S3);
}

#[test]
fn status_cloud_http() {
    status_cloud(Kind::Http);
}

#[test]
fn status_cloud_webdav() {
    status_cloud(Kind::WebDav);
}

// ---------------------------------------------------------------------------------------------
// Summary lines and exit codes

#[test]
fn summaries_and_exit_codes_match_dvc() {
    let store = Store::new(Kind::Local);
    let a = repo_with_data(&store, "dvc");
    let a = a.path();
    // Unknown -r: DVC fails the command (exit 1); Ferry exits 251, a configuration error, as
    // its README says (issue 12), with DVC's message.
    for cmd in [&["push"][..], &["pull"], &["fetch"], &["status", "-c"]] {
        let f = run(ferry(a).args(cmd).args(["-r", "nonexist"]));
        let d = run(dvc(a).args(cmd).args(["-r", "nonexist"]));
        assert_eq!(d.status.code(), Some(1), "{cmd:?}");
        assert_eq!(f.status.code(), Some(251), "{cmd:?}: {}", stderr(&f));
        assert!(
            stderr(&f).contains("remote 'nonexist' doesn't exist"),
            "{}",
            stderr(&f)
        );
    }

    // Only single.bin reaches the remote: a clone misses the rest.
    let pushed = ok(ferry(a).args(["push", "single.bin.dvc"]));
    assert_eq!(last_line(&pushed), "1 file pushed");
    let b = clone(a);
    let b = b.path();
    let c = clone(a);
    let c = c.path();
    let f = run(ferry(b).arg("pull"));
    let d = run(dvc(c).arg("pull"));
    assert_eq!(f.status.code(), Some(1), "{}", stderr(&f));
    assert_eq!(d.status.code(), Some(1), "{}", stderr(&d));
    assert_eq!(last_line(&stdout(&f)), last_line(&stdout(&d)));
    assert_eq!(last_line(&stdout(&f)), "1 file fetched and 1 file added");
    let err = stderr(&f);
    assert!(
        err.contains(
            "ERROR: failed to pull data from the cloud - Checkout failed for following targets:"
        ) && err.contains("\ndata\n")
            && err.contains(AWKWARD),
        "{err}"
    );
    assert!(!err.contains("\nsingle.bin\n"), "{err}");
    let f = run(ferry(b).args(["pull", "--allow-missing"]));
    let d = run(dvc(c).args(["pull", "--allow-missing"]));
    assert_eq!(f.status.code(), Some(0), "{}", stderr(&f));
    assert_eq!(d.status.code(), Some(0), "{}", stderr(&d));

    // The rest arrives; a second run has nothing to do.
    let pushed = ok(ferry(a).arg("push"));
    assert_eq!(last_line(&pushed), "5 files pushed");
    assert_eq!(
        last_line(&ok(ferry(a).arg("push"))),
        "Everything is up to date."
    );
    let out = ok(ferry(b).arg("fetch"));
    assert_eq!(last_line(&out), "5 files fetched");
    let out = ok(ferry(b).arg("pull"));
    assert_eq!(last_line(&out), "4 files added");
    assert_eq!(
        last_line(&ok(ferry(b).arg("pull"))),
        "Everything is up to date."
    );
    assert_eq!(
        last_line(&ok(ferry(b).arg("fetch"))),
        "Everything is up to date."
    );
    assert_eq!(data_bytes(b), data_bytes(a));

    // An object gone from the cache but on the remote: no warning (DVC warns only about objects
    // "neither locally nor on remote"); pushing to an empty remote: the warning, exit 0.
    let md5 = recorded_md5(b, "single.bin");
    std::fs::remove_file(b.join(".dvc/cache").join(key_of(&md5))).unwrap();
    std::fs::remove_file(b.join(".dvc/cache").join(key_of(ONE_TXT_MD5))).unwrap();
    for mut tool in [ferry(b), dvc(b)] {
        let out = run(tool.arg("push"));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(last_line(&stdout(&out)), "Everything is up to date.");
        assert!(!stderr(&out).contains("WARNING"), "{}", stderr(&out));
    }
    let other = tempfile::tempdir().unwrap();
    ok(dvc(b).args(["remote", "add", "other"]).arg(other.path()));
    let out = run(ferry(b).args(["push", "-r", "other"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The directory's other files go, its `.dir` does not (its file list would lie).
    assert_eq!(last_line(&stdout(&out)), "3 files pushed");
    let err = stderr(&out);
    assert!(
        err.contains(
            "WARNING: Some of the cache files do not exist neither locally nor on remote. Missing cache files:\n"
        ) && err.contains(&format!("md5: {md5}"))
            && err.contains(&format!("md5: {ONE_TXT_MD5}")),
        "{err}"
    );
    let on_other = files_under(other.path());
    assert_eq!(on_other.len(), 3, "{on_other:?}");
    assert!(
        on_other.iter().all(|k| !k.ends_with(".dir")),
        "{on_other:?}"
    );
    assert_eq!(last_line(&ok(ferry(b).arg("fetch"))), "2 files fetched");

    // No default remote: push and status -c fail like DVC; a pull with nothing to do is fine.
    ok(dvc(b).args(["remote", "default", "--unset"]));
    for cmd in [&["push"][..], &["status", "-c"]] {
        let f = run(ferry(b).args(cmd));
        let d = run(dvc(b).args(cmd));
        assert_eq!(f.status.code(), d.status.code(), "{cmd:?}");
        assert_eq!(f.status.code(), Some(1));
        assert!(
            stderr(&f).contains("config file error: no remote specified in"),
            "{}",
            stderr(&f)
        );
    }
    // (Ferry's pull order falls back to the configured remotes: DESIGN.md §3.)
    let f = run(ferry(b).arg("pull"));
    assert_eq!(f.status.code(), Some(0), "{}", stderr(&f));
    assert_eq!(last_line(&stdout(&f)), "Everything is up to date.");
}

// ---------------------------------------------------------------------------------------------
// Legacy 2.x outputs and the root layout

#[test]
fn legacy_outputs_pull_from_and_push_to_the_root_layout() {
    let fx = legacy_fixture();
    let repo = fx.path().join("repo");
    let remote_keys = files_under(&fx.path().join("remote"));
    assert!(remote_keys.iter().all(|k| !k.starts_with("files/")));
    std::fs::remove_dir_all(repo.join(".dvc/cache")).unwrap();
    std::fs::remove_dir_all(repo.join("d")).unwrap();
    std::fs::remove_file(repo.join("crlf.txt")).unwrap();

    let out = ok(ferry(&repo).arg("pull"));
    assert_eq!(last_line(&out), "6 files fetched and 5 files added");
    assert_eq!(
        std::fs::read(repo.join("crlf.txt")).unwrap(),
        b"line1\r\nline2\r\n"
    );
    assert_eq!(std::fs::read(repo.join("d/b.bin")).unwrap(), b"bin\0\r\n");
    assert_eq!(files_under(&repo.join(".dvc/cache")), remote_keys);
    assert!(temp_files(&repo).is_empty());
    assert!(ok(dvc(&repo).arg("status")).contains("up to date"));
    assert!(status_agrees(&repo, &[]).is_empty());

    // ferry push of legacy outs writes the root layout, as dvc 3 does.
    let fresh = tempfile::tempdir().unwrap();
    ok(dvc(&repo)
        .args(["remote", "add", "fresh"])
        .arg(fresh.path()));
    let out = ok(ferry(&repo).args(["push", "-r", "fresh"]));
    assert_eq!(last_line(&out), "6 files pushed");
    assert_eq!(files_under(fresh.path()), remote_keys);
    assert!(status_agrees(&repo, &["-r", "fresh"]).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Per-output `remote:` and `push: false`; dvc.lock outs

/// Appends `line` to the single out entry of `file` (a `.dvc` file as `dvc add` wrote it).
fn add_out_key(repo: &Path, file: &str, line: &str) {
    let mut text = read(repo, file);
    text.push_str(&format!("  {line}\n"));
    write(repo, file, text);
}

fn two_remote_config(repo: &Path, r1: &Path, r2: &Path) {
    write(
        repo,
        ".dvc/config",
        format!(
            "[core]\n    remote = r1\n['remote \"r1\"']\n    url = {}\n['remote \"r2\"']\n    url = {}\n",
            r1.display(),
            r2.display()
        ),
    );
}

#[test]
fn per_output_remote_and_push_false_behave_as_in_dvc() {
    let dvc_side = git_repo();
    let d = dvc_side.path();
    ok(dvc(d).args(["init", "-q"]));
    for f in ["a.txt", "b.txt", "c.txt"] {
        write(d, f, format!("{f}\n"));
    }
    ok(dvc(d).args(["add", "-q", "a.txt", "b.txt", "c.txt"]));
    add_out_key(d, "b.txt.dvc", "remote: r2");
    add_out_key(d, "c.txt.dvc", "push: false");
    // The same repository twice, each with its own pair of local remotes.
    let ferry_side = tempfile::tempdir().unwrap();
    let f = ferry_side.path().join("repo");
    ok(Command::new("cp").arg("-a").arg(d).arg(&f));
    let remotes = tempfile::tempdir().unwrap();
    let [d1, d2, f1, f2] = ["d1", "d2", "f1", "f2"].map(|n| remotes.path().join(n));
    two_remote_config(d, &d1, &d2);
    two_remote_config(&f, &f1, &f2);

    for extra in [&[][..], &["-r", "r1"], &["-r", "r2"]] {
        status_agrees(d, extra);
    }
    let dout = ok(dvc(d).arg("push"));
    let fout = ok(ferry(&f).arg("push"));
    assert_eq!(last_line(&fout), last_line(&dout));
    assert_eq!(last_line(&fout), "2 files pushed");
    assert_eq!(files_under(&f1), files_under(&d1));
    assert_eq!(files_under(&f2), files_under(&d2));
    assert_eq!(files_under(&f2).len(), 1, "only b.txt goes to r2");
    for extra in [&[][..], &["-r", "r1"], &["-r", "r2"]] {
        status_agrees(d, extra);
        status_agrees(&f, extra);
    }
    // `-r r2` takes the outs without a remote of their own too, never the push: false one.
    let dout = ok(dvc(d).args(["push", "-r", "r2"]));
    let fout = ok(ferry(&f).args(["push", "-r", "r2"]));
    assert_eq!(last_line(&fout), last_line(&dout));
    assert_eq!(files_under(&f2), files_under(&d2));
    assert_eq!(files_under(&f2).len(), 2);

    // Pulling in fresh clones: the `remote: r2` out comes from r2; the unpushed one is missing.
    commit(&f, "outs");
    let c1 = clone(&f);
    let c2 = clone(&f);
    let fo = run(ferry(c1.path()).arg("pull"));
    let dv = run(dvc(c2.path()).arg("pull"));
    assert_eq!(fo.status.code(), dv.status.code(), "{}", stderr(&fo));
    assert_eq!(fo.status.code(), Some(1));
    for c in [c1.path(), c2.path()] {
        assert_eq!(read(c, "a.txt"), "a.txt\n");
        assert_eq!(read(c, "b.txt"), "b.txt\n");
        assert!(!c.join("c.txt").exists());
    }
    assert!(stderr(&fo).contains("Checkout failed for following targets:\nc.txt"));
}

#[test]
fn dvc_lock_outs_are_pushed_and_pulled() {
    let store = Store::new(Kind::Local);
    let repo = git_repo();
    let r = repo.path();
    ok(dvc(r).args(["init", "-q"]));
    ok(dvc(r).args([
        "stage",
        "add",
        "-q",
        "-n",
        "gen",
        "-o",
        "out.txt",
        "-o",
        "outdir",
        "echo generated > out.txt && mkdir -p outdir && echo x > outdir/x.txt",
    ]));
    ok(dvc(r).args(["repro", "-q"]));
    store.configure(r);
    commit(r, "stage");
    let out = ok(ferry(r).arg("push"));
    assert_eq!(last_line(&out), "3 files pushed");
    assert_eq!(store.keys(), cache_keys(r));
    assert!(status_agrees(r, &[]).is_empty());
    let c1 = clone(r);
    let c2 = clone(r);
    let dv = ok(dvc(c1.path()).arg("pull"));
    let fo = ok(ferry(c2.path()).arg("pull"));
    assert_eq!(last_line(&fo), last_line(&dv));
    for c in [c1.path(), c2.path()] {
        assert_eq!(read(c, "out.txt"), "generated\n");
        assert_eq!(read(c, "outdir/x.txt"), "x\n");
    }
}

// ---------------------------------------------------------------------------------------------
// Faults: corrupt objects, remotes dying mid-transfer

/// The md5 recorded for `out` in `<out>.dvc`.
fn recorded_md5(repo: &Path, out: &str) -> String {
    let text = read(repo, &format!("{out}.dvc"));
    let line = text
        .lines()
        .find_map(|l| l.trim_start_matches("- ").strip_prefix("md5: "))
        .unwrap();
    line.trim().to_string()
}

fn key_of(md5: &str) -> String {
    format!("files/md5/{}/{}", &md5[..2], &md5[2..])
}

#[test]
fn corrupt_remote_objects_never_enter_cache_or_workspace() {
    // Local remote: one object's bytes overwritten (same length).
    let store = Store::new(Kind::Local);
    let a = repo_with_data(&store, "ferry");
    let a = a.path();
    ok(ferry(a).arg("push"));
    let key = key_of(&recorded_md5(a, "single.bin"));
    let path = store.dir.path().join(&key);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, vec![b'X'; len]).unwrap();
    let b = clone(a);
    let b = b.path();
    let out = run(ferry(b).arg("pull"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("corrupt") && err.contains("'store'"), "{err}");
    assert!(!cache_keys(b).contains(&key), "corrupt object cached");
    assert!(!b.join("single.bin").exists(), "corrupt object checked out");
    assert_eq!(read(b, "data/sub/two.txt"), "two\n", "the rest is restored");
    assert!(temp_files(b).is_empty(), "{:?}", temp_files(b));

    // HTTP remote serving every body with a flipped byte: nothing lands, then a clean rerun.
    let store = Store::new(Kind::Http);
    let a = repo_with_data(&store, "ferry");
    let a = a.path();
    ok(ferry(a).arg("push"));
    let b = clone(a);
    let b = b.path();
    store.http().control(r#"{"corrupt": true}"#);
    let out = run(ferry(b).arg("pull"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("corrupt") && err.contains("'store'"), "{err}");
    assert!(cache_keys(b).is_empty(), "{:?}", cache_keys(b));
    assert!(data_bytes(b).is_empty());
    assert!(temp_files(b).is_empty(), "{:?}", temp_files(b));
    let out = run(ferry(b).arg("fetch"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
    store.http().control(r#"{"reset": true}"#);
    let out = ok(ferry(b).arg("pull"));
    assert_eq!(last_line(&out), "6 files fetched and 5 files added");
    assert_eq!(data_bytes(b), data_bytes(a));
}

#[test]
fn a_remote_dying_mid_transfer_keeps_finished_work_and_a_rerun_completes() {
    let mut store = Store::new(Kind::Http);
    let a = repo_with_data(&store, "ferry");
    let a = a.path();
    ok(ferry(a).arg("push"));
    let b = clone(a);
    let b = b.path();
    // Every body is cut after 100 bytes: only the small single file survives (the manifest and
    // single.bin are longer).
    store.http().control(r#"{"die_after": 100}"#);
    let out = run(ferry(b).arg("pull"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("'store'"), "{err}");
    assert_eq!(
        cache_keys(b),
        BTreeSet::from([key_of(&recorded_md5(a, AWKWARD))])
    );
    assert_eq!(read(b, AWKWARD), "awkward\r\nbytes\n");
    assert!(!b.join("single.bin").exists() && !b.join("data").exists());
    assert!(temp_files(b).is_empty(), "{:?}", temp_files(b));

    // The server goes away altogether: a clear failure, nothing half-written.
    let port = store.http().port;
    drop(store.server.take());
    let out = run(ferry(b).arg("pull"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("'store'"), "{err}");
    assert!(temp_files(b).is_empty(), "{:?}", temp_files(b));

    // Back on the same port: the rerun fetches only what is missing.
    restart_http(&mut store, port);
    let out = ok(ferry(b).arg("pull"));
    assert_eq!(last_line(&out), "5 files fetched and 4 files added");
    assert_eq!(data_bytes(b), data_bytes(a));
    assert!(temp_files(b).is_empty(), "{:?}", temp_files(b));
    let gets = store
        .http()
        .log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&recorded_md5(a, AWKWARD)[2..]))
        .count();
    assert_eq!(
        gets, 0,
        "the object kept from the first run is not downloaded again"
    );
}

/// Restarts the store's HTTP server on its old port (its config keeps working).
fn restart_http(store: &mut Store, port: u16) {
    store.server = Some(HttpServer::start_with(
        store.dir.path(),
        &[
            "--port",
            &port.to_string(),
            "--user",
            HTTP_USER,
            "--password",
            HTTP_PASSWORD,
        ],
    ));
}

#[test]
fn push_rides_out_500s_and_a_dead_remote_fails_clearly_then_finishes() {
    let mut store = Store::new(Kind::Http);
    let a = repo_with_data(&store, "ferry");
    let a = a.path();
    // Transient 500s on the existence checks and uploads are retried, as DVC retries reads.
    store.http().control(r#"{"fail_500": 3}"#);
    let out = ok(ferry(a).arg("push"));
    assert_eq!(last_line(&out), "6 files pushed");
    store.http().control(r#"{"fail_500": 2}"#);
    assert!(cloud_json(&mut ferry(a), &[]).is_empty());

    write(a, "data/new.txt", "new\n");
    ok(ferry(a).args(["add", "-q", "data"]));
    let port = store.http().port;
    drop(store.server.take());
    let out = run(ferry(a).arg("push"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("failed to push data to the cloud") && err.contains("'store'"),
        "{err}"
    );
    restart_http(&mut store, port);
    let out = ok(ferry(a).arg("push"));
    assert_eq!(last_line(&out), "2 files pushed");
    assert_eq!(store.keys(), cache_keys(a));
}

// ---------------------------------------------------------------------------------------------
// Credentials: wrong ones, secrets never printed, environment overrides

const WRONG_SECRET: &str = "Wr0ngSecretValue-xyz";

fn all_output(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// Asserts no secret (nor HTTP basic-auth token made from it) appears in `text`.
fn no_secrets(text: &str, secrets: &[&str]) {
    use base64::Engine;
    for s in secrets {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{HTTP_USER}:{s}"));
        assert!(!text.contains(s), "secret {s:?} printed:\n{text}");
        assert!(
            !text.contains(&token),
            "basic token of {s:?} printed:\n{text}"
        );
    }
}

fn wrong_credentials(kind: Kind) {
    let store = Store::new(kind);
    let a = repo_with_data(&store, "ferry");
    let a = a.path();
    ok(ferry(a).arg("push"));
    let real = store.secret().unwrap();
    store.configure_with(a, Some(WRONG_SECRET));
    let b = clone(a);
    let b = b.path();
    let runs = [
        (a, vec!["push", "-vvv"]),
        (a, vec!["status", "-c", "-vvv"]),
        (b, vec!["fetch", "-vvv"]),
        (b, vec!["pull", "-vvv"]),
    ];
    for (dir, args) in runs {
        let out = run(ferry(dir).args(&args));
        let all = all_output(&out);
        assert_eq!(out.status.code(), Some(251), "{args:?}: {all}");
        assert!(all.contains("'store'"), "{args:?} names the remote: {all}");
        assert!(
            all.contains("ferry remote modify --local store"),
            "{args:?} says how to fix it: {all}"
        );
        assert!(
            !all.contains("missing-files"),
            "{args:?}: not 'missing': {all}"
        );
        no_secrets(&all, &[WRONG_SECRET, &real]);
    }
    // Every crate's logs, not only Ferry's: still no secret, good or bad.
    for (dir, cmd) in [(a, "push"), (b, "pull")] {
        let out = run(ferry(dir).arg(cmd).env("FERRY_LOG", "trace"));
        no_secrets(&all_output(&out), &[WRONG_SECRET, &real]);
    }
    assert!(cache_keys(b).is_empty());
}

#[test]
fn wrong_credentials_s3() {
    wrong_credentials(Kind::S3);
}

#[test]
fn wrong_credentials_webdav() {
    wrong_credentials(Kind::WebDav);
}

#[test]
fn wrong_credentials_http() {
    wrong_credentials(Kind::Http);
}

/// `FERRY_REMOTE_STORE_<KEY>` supplies the secret `config.local` lacks, for push and pull.
fn env_override(kind: Kind, var: &str) {
    let store = Store::new(kind);
    let a = repo_with_data(&store, "ferry");
    let a = a.path();
    store.configure_with(a, None);
    let secret = store.secret().unwrap();
    let out = run(ferry(a).arg("push"));
    assert_ne!(out.status.code(), Some(0), "{}", all_output(&out));
    let out = run(ferry(a)
        .arg("push")
        .env(var, &secret)
        .env("FERRY_LOG", "trace"));
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(last_line(&stdout(&out)), "6 files pushed");
    no_secrets(&all_output(&out), &[&secret]);
    let b = clone(a);
    let b = b.path();
    let out = run(ferry(b).args(["pull", "-vvv"]).env(var, &secret));
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    no_secrets(&all_output(&out), &[&secret]);
    assert_eq!(data_bytes(b), data_bytes(a));
}

#[test]
fn env_overrides_supply_credentials_s3() {
    env_override(Kind::S3, "FERRY_REMOTE_STORE_SECRET_ACCESS_KEY");
}

#[test]
fn env_overrides_supply_credentials_http() {
    env_override(Kind::Http, "FERRY_REMOTE_STORE_PASSWORD");
}
