//! The objects every remote should hold: what the workspace's `.dvc` files and `dvc.lock`
//! record now and, for `--all-commits`, what they recorded in any commit of the git history;
//! expanded through the directory manifests into files first, each directory's `.dir` after.
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

use super::id::{Id, ObjectSet};
use super::router::{Routed, Router};
use super::{Object, Progress};
use crate::hash::HashInfo;
use crate::odb::Odb;
use crate::repo::dvcfile;
use crate::repo::out::Out;

/// One recorded output: a file's object or a directory's `.dir`.
#[derive(Debug, Clone)]
pub struct Root {
    /// The recorded hash.
    pub hash: HashInfo,
    /// The recorded size (the whole tree's for a directory).
    pub size: Option<u64>,
    /// Where it is recorded, for messages (`data/x`, or `data/x@1a2b3c4` from history).
    pub name: String,
    /// The output's own `remote:`: then it belongs on that remote only.
    pub remote: Option<String>,
    /// `push: false` outputs never go to any remote.
    pub push: bool,
}

impl Root {
    /// The root's own object, named by where it is recorded (a directory's recorded size is
    /// its tree's, not its `.dir`'s, so a `.dir` gets none).
    pub fn object(&self) -> Object {
        Object {
            hash: self.hash.clone(),
            size: if self.hash.is_dir() { None } else { self.size },
            out: self.name.clone(),
        }
    }
}

/// The roots that belong on remote `name`: pushable, and not pinned to another remote (DVC's
/// rule for `push`, so a sync never spreads data its owner kept to one remote or to none).
pub fn for_remote(roots: &[Root], name: &str) -> Vec<Root> {
    roots
        .iter()
        .filter(|r| r.push && r.remote.as_deref().is_none_or(|own| own == name))
        .cloned()
        .collect()
}

/// Reading the git history failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// `git` could not be run or refused (not a git repository, no commits).
    #[error("cannot read the git history of '{root}': {message}")]
    Git { root: PathBuf, message: String },
}

impl crate::error::Hint for HistoryError {
    fn hint(&self) -> Option<String> {
        Some("--all-commits needs a git repository with commits; drop it to sync only the workspace's outputs".into())
    }
}

/// The cached outputs of the workspace, one root per distinct hash.
pub fn of_outs(outs: &[Out]) -> Vec<Root> {
    let mut seen = HashSet::new();
    outs.iter()
        .filter(|o| o.cache && !o.imported)
        .filter_map(|o| {
            let hash = o.hash.clone()?;
            seen.insert(hash.clone()).then(|| Root {
                hash,
                size: o.size,
                name: o.rel.clone(),
                remote: o.remote.clone(),
                push: o.push,
            })
        })
        .collect()
}

/// Every cached output recorded by a `.dvc` file or `dvc.lock` in any commit reachable from
/// any ref, plus the files that could not be parsed (named `path@rev`), which are skipped.
pub fn of_history(root: &Path) -> Result<(Vec<Root>, Vec<String>), HistoryError> {
    let revs = git(root, &["log", "--all", "--format=%H"])?;
    of_revs(root, &revs)
}

/// The revisions dvc's `-a` (each branch's tip), `-T` (each tag) and `-A` (every commit)
/// select, newest first, each once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Revisions {
    /// `-a/--all-branches`.
    pub all_branches: bool,
    /// `-T/--all-tags`.
    pub all_tags: bool,
    /// `-A/--all-commits`.
    pub all_commits: bool,
}

impl Revisions {
    /// Whether any revision beyond the workspace is asked for.
    pub fn any(&self) -> bool {
        self.all_branches || self.all_tags || self.all_commits
    }
}

/// The outputs recorded at the selected revisions, as [`Out`]s named `path@rev` (for push and
/// fetch: they are never checked out), plus the files that could not be parsed.
pub fn outs_at(repo_root: &Path, sel: Revisions) -> Result<(Vec<Out>, Vec<String>), HistoryError> {
    let mut revs = String::new();
    if sel.all_commits {
        revs = git(repo_root, &["log", "--all", "--format=%H"])?;
    } else {
        for (on, refs) in [
            (sel.all_branches, "refs/heads"),
            (sel.all_tags, "refs/tags"),
        ] {
            if on {
                let tips = git(
                    repo_root,
                    &["for-each-ref", "--format=%(objectname)^{commit}", refs],
                )?;
                for tip in tips.lines().filter(|l| !l.is_empty()) {
                    revs.push_str(&git(repo_root, &["rev-parse", tip])?);
                }
            }
        }
    }
    let (roots, unreadable) = of_revs(repo_root, &revs)?;
    let outs = roots
        .into_iter()
        .map(|r| Out {
            origin: crate::repo::out::Origin::DvcFile {
                file: r.name.clone(),
                index: 0,
            },
            def_path: r.name.clone(),
            path: repo_root.join(&r.name),
            rel: r.name,
            hash: Some(r.hash),
            size: r.size,
            nfiles: None,
            isexec: false,
            cache: true,
            remote: r.remote,
            push: r.push,
            imported: false,
            parts: Vec::new(),
        })
        .collect();
    Ok((outs, unreadable))
}

/// The roots recorded by the `.dvc` files and `dvc.lock`s of each revision in `revs` (one
/// commit id a line).
fn of_revs(root: &Path, revs: &str) -> Result<(Vec<Root>, Vec<String>), HistoryError> {
    let mut blobs_seen = HashSet::new();
    let mut hashes_seen = HashSet::new();
    let mut roots = Vec::new();
    let mut unreadable = Vec::new();
    for rev in revs.lines().filter(|l| !l.is_empty()) {
        let tree = git(root, &["ls-tree", "-r", rev])?;
        for line in tree.lines() {
            let Some((meta, path)) = line.split_once('\t') else {
                continue;
            };
            let mut meta = meta.split_whitespace();
            let (Some(_), Some("blob"), Some(oid)) = (meta.next(), meta.next(), meta.next()) else {
                continue;
            };
            let name = path.rsplit('/').next().unwrap_or(path);
            let is_lock = name == "dvc.lock";
            if !(is_lock || name.ends_with(".dvc")) || !blobs_seen.insert(oid.to_string()) {
                continue;
            }
            let short = &rev[..rev.len().min(7)];
            let text = git(root, &["show", &format!("{rev}:{path}")])?;
            let parsed = if is_lock {
                let yaml_path = crate::repo::pipeline::yaml_of(path);
                let read = |rel: &str| git(root, &["show", &format!("{rev}:{rel}")]).ok();
                let lock_dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let flags = read(&yaml_path)
                    .map(|yaml| crate::repo::pipeline::parse(&yaml, lock_dir, &read));
                match flags {
                    Some(Err(e)) => Err(e),
                    Some(Ok(stages)) => {
                        outs_of_lock_text(&text).map(|outs| with_flags(outs, &stages, lock_dir))
                    }
                    None => outs_of_lock_text(&text),
                }
            } else {
                dvcfile::parse(&text, Path::new(path))
                    .map(|entries| {
                        entries
                            .into_iter()
                            .filter(|e| e.cache)
                            .filter_map(|e| {
                                Some(Recorded {
                                    hash: e.hash()?,
                                    size: e.size,
                                    path: e.path,
                                    remote: e.remote,
                                    push: e.push,
                                    stage: String::new(),
                                })
                            })
                            .collect()
                    })
                    .map_err(|e| e.to_string())
            };
            let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            match parsed {
                Ok(outs) => {
                    for out in outs {
                        if hashes_seen.insert(out.hash.clone()) {
                            let rel = if dir.is_empty() {
                                out.path
                            } else {
                                format!("{dir}/{}", out.path)
                            };
                            roots.push(Root {
                                hash: out.hash,
                                size: out.size,
                                name: format!("{rel}@{short}"),
                                remote: out.remote,
                                push: out.push,
                            });
                        }
                    }
                }
                Err(_) => unreadable.push(format!("{path}@{short}")),
            }
        }
    }
    Ok((roots, unreadable))
}

/// One cached output as a file in history records it.
struct Recorded {
    hash: HashInfo,
    size: Option<u64>,
    path: String,
    remote: Option<String>,
    push: bool,
    stage: String,
}

/// Applies the flags `dvc.yaml` gives each lock out: `cache: false` outs are dropped, `push`
/// and `remote` are taken over.
fn with_flags(
    outs: Vec<Recorded>,
    stages: &[crate::repo::pipeline::Stage],
    lock_dir: &str,
) -> Vec<Recorded> {
    outs.into_iter()
        .filter_map(|mut o| {
            let declared = stages
                .iter()
                .filter(|s| s.name == o.stage)
                .flat_map(|s| s.outs.iter())
                .find(|d| d.def_path == o.path);
            if let Some(d) = declared {
                if !d.cache {
                    return None;
                }
                o.push = d.push;
                o.remote = d.remote.clone();
            }
            // the name is shown relative to the lock's directory: keep the wdir part of it
            if let Some(s) = stages.iter().find(|s| s.name == o.stage)
                && let Ok(rel) = s.rel(&o.path)
            {
                let dir = lock_dir.trim_end_matches('/');
                o.path = match rel.strip_prefix(dir) {
                    Some(r) if !dir.is_empty() => r.trim_start_matches('/').to_string(),
                    _ => rel,
                };
            }
            Some(o)
        })
        .collect()
}

/// The outs of a `dvc.lock` text (schema 2.0).
fn outs_of_lock_text(text: &str) -> Result<Vec<Recorded>, String> {
    crate::repo::yaml::check_depth(text)?;
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    let mut outs = Vec::new();
    let Some(stages) = doc.get("stages").and_then(Value::as_mapping) else {
        return Ok(outs);
    };
    for (name, stage) in stages {
        for v in stage
            .get("outs")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let (Some(path), Some(md5)) = (
                v.get("path").and_then(Value::as_str),
                v.get("md5").and_then(Value::as_str),
            ) else {
                continue;
            };
            let hash = HashInfo {
                md5: md5.to_lowercase(),
                legacy: v.get("hash").and_then(Value::as_str) != Some("md5"),
            };
            if !hash.is_valid() {
                return Err(format!("bad md5 for '{path}'"));
            }
            outs.push(Recorded {
                hash,
                size: v.get("size").and_then(Value::as_u64),
                path: path.to_string(),
                remote: None,
                push: true,
                stage: name.as_str().unwrap_or_default().to_string(),
            });
        }
    }
    Ok(outs)
}

fn git(root: &Path, args: &[&str]) -> Result<String, HistoryError> {
    let failed = |message: String| HistoryError::Git {
        root: root.to_path_buf(),
        message,
    };
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| failed(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The wanted objects of some roots, expanded through the directory manifests in the local cache,
/// in a form a million files cost 17 MB in: every file once as a sorted [`Id`], the few other
/// objects whole.
#[derive(Debug, Default)]
pub struct WantedIds {
    /// Every file an id can name, sorted, each once.
    pub files: Vec<Id>,
    /// The sizes file roots record (a directory's files have none recorded).
    pub recorded: HashMap<Id, u64>,
    /// Files no id can name (a hand-edited md5), whole.
    pub odd: Vec<Object>,
    /// `.dir` objects whose manifest is in the cache.
    pub dirs: Vec<Object>,
    /// `.dir` objects whose manifest is on no reachable source (their files are unknown).
    pub unknown_dirs: Vec<Object>,
    /// Directories whose manifest is in the cache but unreadable, with the error.
    pub bad_dirs: Vec<(Object, String)>,
}

impl WantedIds {
    /// The wanted objects as a set for membership tests (what `gc --cloud` keeps).
    pub fn into_set(self) -> ObjectSet {
        let others = self.others().map(|o| o.hash.clone()).collect();
        ObjectSet::new(self.files, others)
    }

    /// The objects other than `files`: odd files, then the `.dir`s (known or not).
    pub fn others(&self) -> impl Iterator<Item = &Object> {
        self.odd
            .iter()
            .chain(&self.dirs)
            .chain(&self.unknown_dirs)
            .chain(self.bad_dirs.iter().map(|(d, _)| d))
    }
}

/// Expands `roots` through the manifests in the local cache, read as they are parsed.
pub fn expand_ids(odb: &Odb, roots: &[Root]) -> WantedIds {
    let mut wanted = WantedIds::default();
    let mut odd_seen = HashSet::new();
    for root in roots {
        let object = root.object();
        let before = wanted.files.len();
        let files = &mut wanted.files;
        match root_files(odb, root, |id, _| files.push(id)) {
            Ok(RootFiles::File(Some(id))) => {
                if let Some(size) = root.size {
                    wanted.recorded.entry(id).or_insert(size);
                }
            }
            Ok(RootFiles::File(None)) => {
                if odd_seen.insert(root.hash.clone()) {
                    wanted.odd.push(object);
                }
            }
            Ok(RootFiles::Dir) => wanted.dirs.push(object),
            Ok(RootFiles::Unknown) => wanted.unknown_dirs.push(object),
            Err(e) => {
                wanted.files.truncate(before);
                wanted.bad_dirs.push((object, e.to_string()));
            }
        }
    }
    wanted.files.sort_unstable();
    wanted.files.dedup();
    wanted
}

/// What [`root_files`] found a root to be.
#[derive(Debug, PartialEq, Eq)]
pub enum RootFiles {
    /// A file root, with its id (`None` when its md5 is not one).
    File(Option<Id>),
    /// A directory whose manifest was read.
    Dir,
    /// A directory whose manifest is not in the cache.
    Unknown,
}

/// Calls `f(id, relpath)` for the files of `root` in manifest order: a file root's own
/// object (relpath `None`), or each file its directory's manifest lists. An error means the
/// manifest could not be read: part of it may have been met.
pub fn root_files(
    odb: &Odb,
    root: &Root,
    mut f: impl FnMut(Id, Option<&str>),
) -> Result<RootFiles, crate::odb::OdbError> {
    if !root.hash.is_dir() {
        let id = Id::of(&root.hash);
        if let Some(id) = id {
            f(id, None);
        }
        return Ok(RootFiles::File(id));
    }
    if !odb.contains(&root.hash) {
        return Ok(RootFiles::Unknown);
    }
    let legacy = root.hash.legacy;
    odb.for_each_entry(&root.hash, |relpath, md5| {
        if let Some(id) = Id::of_hex(md5, legacy) {
            f(id, Some(relpath));
        }
    })?;
    Ok(RootFiles::Dir)
}

/// How a file of `root` is named in reports: the root, or `root/relpath` for a directory's file.
pub fn file_name(root: &Root, relpath: Option<&str>) -> String {
    match relpath {
        Some(relpath) => format!("{}/{relpath}", root.name),
        None => root.name.clone(),
    }
}

/// Brings the `.dir` manifests of `roots` that the cache lacks into it over the router (they
/// are small), so their files become known. What no remote supplied stays unknown.
pub async fn fetch_manifests(
    odb: &Odb,
    roots: &[Root],
    router: &Router,
    progress: &dyn Progress,
) -> Result<(), super::copy::CopyError> {
    let mut missing: Vec<Routed> = roots
        .iter()
        .filter(|r| r.hash.is_dir() && !odb.contains(&r.hash))
        .map(|r| Routed {
            object: Object {
                hash: r.hash.clone(),
                size: None,
                out: r.name.clone(),
            },
            tried: Vec::new(),
            prefer: None,
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if router.lanes.iter().any(|l| l.limits_bytes()) {
        learn_sizes(router, &mut missing).await;
    }
    progress.add_total(missing.len() as u64, 0);
    router.fetch(odb, missing, progress).await.map(|_| ())
}

/// Gives `objects` the sizes the first listable remote that holds them reports (an object's
/// size is the same everywhere), so a byte limit is planned and claimed with what each read
/// costs, not charged only once the bytes have arrived.
async fn learn_sizes(router: &Router, objects: &mut [Routed]) {
    let keys: Vec<String> = objects.iter().map(|r| r.object.key()).collect();
    for lane in router
        .lanes
        .iter()
        .filter(|l| l.disabled().is_none() && l.handle.remote.capabilities().list)
    {
        let Ok(found) = super::exists::listed(&lane.handle.remote, &keys).await else {
            continue;
        };
        for r in objects.iter_mut().filter(|r| r.object.size.is_none()) {
            r.object.size = found.get(&r.object.key()).copied().flatten();
        }
        if objects.iter().all(|r| r.object.size.is_some()) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Root, expand_ids};
    use crate::hash::HashInfo;
    use crate::odb::Odb;
    use crate::odb::manifest::{Entry, to_json};

    fn root(hash: &HashInfo, name: &str, size: Option<u64>) -> Root {
        Root {
            hash: hash.clone(),
            size,
            name: name.into(),
            remote: None,
            push: true,
        }
    }

    /// The expanded set holds each file once (a file root's size recorded), the directories by
    /// whether their manifest is there and readable, and answers as a set for them only.
    #[test]
    fn expand_ids_holds_each_object_once() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().to_path_buf());
        let (a, b) = ("0".repeat(32), "f".repeat(32));
        let entry = |relpath: &str, md5: &str| Entry {
            relpath: relpath.into(),
            md5: md5.into(),
        };
        let manifest = to_json(&[entry("x", &b), entry("y", &a)]);
        let good = HashInfo::md5(format!("{}.dir", "1".repeat(32)));
        odb.insert_bytes(&manifest, &good).unwrap();
        let bad = HashInfo::md5(format!("{}.dir", "2".repeat(32)));
        odb.insert_bytes(b"not json", &bad).unwrap();
        let unknown = HashInfo::md5(format!("{}.dir", "3".repeat(32)));
        let roots = [
            root(&HashInfo::md5(a.clone()), "a.bin", Some(5)),
            root(&good, "data", Some(9)),
            root(&bad, "broken", None),
            root(&unknown, "gone", None),
        ];
        let wanted = expand_ids(&odb, &roots);
        let hex: Vec<String> = wanted.files.iter().map(|id| id.hash().md5).collect();
        assert_eq!(hex, [a.clone(), b.clone()]);
        assert_eq!(wanted.recorded.values().copied().collect::<Vec<_>>(), [5]);
        let names = |objects: &[crate::transfer::Object]| -> Vec<String> {
            objects.iter().map(|o| o.out.clone()).collect()
        };
        assert_eq!(names(&wanted.dirs), ["data"]);
        assert_eq!(names(&wanted.unknown_dirs), ["gone"]);
        assert_eq!(wanted.bad_dirs.len(), 1);
        assert_eq!(wanted.others().count(), 3);
        let set = wanted.into_set();
        for hash in [&HashInfo::md5(b.clone()), &good, &bad, &unknown] {
            assert!(set.contains(hash), "{hash:?}");
        }
        assert!(!set.contains(&HashInfo::md5("e".repeat(32))));
        assert!(!set.contains(&HashInfo {
            md5: b,
            legacy: true
        }));
    }

    #[test]
    fn lock_outs_are_read_with_their_hash_kind() {
        let text = "schema: '2.0'\nstages:\n  train:\n    cmd: x\n    outs:\n    - path: model.bin\n      hash: md5\n      md5: 0123456789abcdef0123456789abcdef\n      size: 5\n    - path: old\n      md5: 0123456789abcdef0123456789abcdef.dir\n";
        let outs = super::outs_of_lock_text(text).unwrap();
        assert_eq!(outs.len(), 2);
        assert!(!outs[0].hash.legacy);
        assert_eq!(outs[0].size, Some(5));
        assert_eq!(outs[0].path, "model.bin");
        assert!(outs[1].hash.legacy && outs[1].hash.is_dir());
        assert!(
            super::outs_of_lock_text("stages:\n  s:\n    outs:\n    - path: a\n      md5: nope\n")
                .is_err()
        );
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn lock_text_never_panics(text in crate::fuzz::text()) {
            let _ = super::outs_of_lock_text(&text);
        }
    }
}
