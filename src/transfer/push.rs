//! Pushing to one or many remotes at once: each remote is asked what it already holds, each
//! local object is read once and sent to every remote that lacks it (each remote with its own
//! concurrency and retries), and a directory's `.dir` goes only after all its files made it.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::Semaphore;

use super::copy::{Payload, upload};
use super::exists::{holds, present, present_ids};
use super::id::Id;
use super::remotes::Handle;
use super::verified::Verified;
use super::{Object, Progress};
use crate::hash::HashInfo;
use crate::odb::Odb;
use crate::remote::{ErrorKind, Op, Presence, RemoteError};
use crate::repo::out::Out;

/// What one remote got.
#[derive(Debug, Default, serde::Serialize)]
pub struct PushRow {
    /// Objects uploaded.
    pub uploaded: u64,
    /// Bytes uploaded.
    pub bytes: u64,
    /// Objects it already held.
    pub already: u64,
    /// Directories whose files were not checked because the remote cannot list and holds
    /// their `.dir` (which DVC and Ferry upload last, so it vouches for them).
    pub trusted_dirs: u64,
    /// Directories whose files were not checked because an earlier push saw them all on this
    /// remote and its `.dir` is still there ([`super::verified`]; `--verify` checks them).
    pub recorded_dirs: u64,
    /// Objects that failed, with the error.
    pub failed: Vec<(Object, RemoteError)>,
    /// Set when the remote could not even be checked (then nothing was sent).
    pub unreachable: Option<RemoteError>,
}

/// What a push did, per target remote.
#[derive(Debug, Default, serde::Serialize)]
pub struct PushReport {
    /// One row per target, in the given order.
    pub rows: Vec<(String, PushRow)>,
    /// Objects missing from the local cache (DVC warns and carries on).
    pub missing_local: Vec<Object>,
}

/// One target: a remote and the outputs that go to it.
pub struct Target<'a> {
    /// The remote.
    pub handle: &'a Handle,
    /// The outputs to push there.
    pub outs: Vec<&'a Out>,
}

/// Where the per-remote push records live ([`super::verified`]) and whether to trust them.
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    /// The records' directory (`.dvc/tmp/ferry/verified`); `None` keeps none.
    pub dir: Option<&'a std::path::Path>,
    /// False for `--verify`: every file is checked and the records are rebuilt.
    pub trust: bool,
}

/// A directory to push: its `.dir` object, the output it came from (to name its files in
/// messages) and its files as compact ids, sorted, each once (shared, never copied: a
/// million-file directory's 17 MB of ids are held once however many targets it goes to; its
/// paths are never held, only read again from the manifest to name a failure).
struct Dir<'a> {
    object: Object,
    out: &'a Out,
    files: Arc<Vec<Id>>,
}

/// What one target should hold of its outputs, only objects present locally.
#[derive(Default)]
struct Wanted<'a> {
    /// Every file object, sorted, each once.
    files: Vec<Id>,
    /// The directories, each once.
    dirs: Vec<Dir<'a>>,
}

/// What a single-file output tells of its object, which a directory's files lack: its size
/// (from the `.dvc` file) and its name.
struct Named {
    size: Option<u64>,
    out: String,
}

/// Pushes each target's outputs to it. Never fails as a whole: failures are in the report.
///
/// Memory stays flat in the number of files: per file only its 17-byte [`Id`] is kept (in its
/// directory's list, the target's list and the queue of uploads), manifests are read as they
/// are parsed, and the remote's answers are sorted through as they arrive.
pub async fn push(
    odb: &Odb,
    targets: &[Target<'_>],
    records: Records<'_>,
    progress: &dyn Progress,
) -> PushReport {
    let mut report = PushReport {
        rows: targets
            .iter()
            .map(|t| (t.handle.name.clone(), PushRow::default()))
            .collect(),
        ..Default::default()
    };
    let mut verified: Vec<Verified> = targets
        .iter()
        .map(|t| match records.dir {
            Some(dir) => Verified::load(dir, &t.handle.url, &t.handle.ledger_key, records.trust),
            None => Verified::none(),
        })
        .collect();
    // Directories an earlier push saw whole on a target, whose `.dir` is still there: their
    // manifests are not even read.
    let mut vouched: Vec<HashSet<HashInfo>> = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        let found = recorded_dirs(odb, t, &mut verified[ti]).await;
        vouched.push(found.unwrap_or_else(|e| {
            report.rows[ti].1.unreachable = Some(e);
            HashSet::new()
        }));
    }
    let mut missing_local: HashMap<HashInfo, Object> = HashMap::new();
    let mut named: HashMap<Id, Named> = HashMap::new();
    // A directory's files, read once for all the targets it goes to.
    let mut read: HashMap<HashInfo, Arc<Vec<Id>>> = HashMap::new();
    // What each target should hold; and the dirs of outputs pushed only in part (granular
    // targets), which the record never takes.
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut partial: Vec<HashSet<HashInfo>> = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        let mut want = Wanted::default();
        let mut parts = HashSet::new();
        let mut seen = HashSet::new();
        for out in t.outs.iter().filter(|o| o.cache && o.push && !o.imported) {
            let Some(hash) = out.hash.as_ref() else {
                continue;
            };
            if vouched[ti].contains(hash) {
                if seen.insert(hash.clone()) {
                    let row = &mut report.rows[ti].1;
                    row.recorded_dirs += 1;
                    row.already += 1 + out.nfiles.unwrap_or(0);
                }
                continue;
            }
            if !out.parts.is_empty() {
                parts.insert(hash.clone());
            }
            // A directory's `.dir` goes once, but each output of it brings the files it selects
            // (two granular targets of one directory select different files).
            let first = seen.insert(hash.clone());
            let granular_dir = hash.is_dir() && !out.parts.is_empty();
            if !first && !granular_dir {
                continue;
            }
            let object = Object {
                hash: hash.clone(),
                size: out.size,
                out: out.rel.clone(),
            };
            if !hash.is_dir() {
                let Some(id) = Id::of(hash) else {
                    continue;
                };
                if odb.contains(hash) {
                    want.files.push(id);
                    named.entry(id).or_insert(Named {
                        size: out.size,
                        out: out.rel.clone(),
                    });
                } else {
                    missing_local.entry(hash.clone()).or_insert(object);
                }
                continue;
            }
            if !odb.contains(hash) {
                missing_local.entry(hash.clone()).or_insert(Object {
                    size: None,
                    ..object
                });
                continue;
            }
            let files = match read.get(hash).filter(|_| out.parts.is_empty()) {
                Some(files) => Arc::clone(files),
                None => {
                    let Ok(files) = dir_files(odb, out, hash) else {
                        continue;
                    };
                    let files = Arc::new(files);
                    if out.parts.is_empty() {
                        read.insert(hash.clone(), Arc::clone(&files));
                    }
                    files
                }
            };
            let md5s: Vec<[u8; 16]> = files.iter().map(|id| id.md5).collect();
            let lacking = odb.missing_raw(hash.legacy, &md5s);
            drop(md5s);
            if lacking.is_empty() {
                want.files.extend(files.iter().copied());
            } else {
                let lacking: HashSet<Id> = lacking
                    .into_iter()
                    .map(|md5| Id {
                        legacy: hash.legacy,
                        md5,
                    })
                    .collect();
                want.files
                    .extend(files.iter().filter(|id| !lacking.contains(id)).copied());
                for (id, label) in labels(odb, out, hash, &lacking) {
                    missing_local.entry(id.hash()).or_insert(Object {
                        hash: id.hash(),
                        size: None,
                        out: label,
                    });
                }
            }
            if first {
                want.dirs.push(Dir {
                    object: Object {
                        size: None,
                        ..object
                    },
                    out,
                    files,
                });
            }
        }
        want.files.sort_unstable();
        want.files.dedup();
        wanted.push(want);
        partial.push(parts);
    }
    drop(read);
    // Per target, the objects missing locally that it lacks too: DVC warns only about objects
    // "neither locally nor on remote", and never uploads a `.dir` whose files would be absent.
    let mut missing_local: Vec<Object> = missing_local.into_values().collect();
    let keys: Vec<String> = missing_local.iter().map(Object::key).collect();
    let mut absent: Vec<HashSet<HashInfo>> = Vec::new();
    for t in targets {
        let there = if keys.is_empty() {
            HashMap::new()
        } else {
            present(&t.handle.remote, &keys).await.unwrap_or_default()
        };
        absent.push(
            missing_local
                .iter()
                .filter(|o| !holds(&there, &o.key(), o.size))
                .map(|o| o.hash.clone())
                .collect(),
        );
    }
    missing_local.retain(|o| absent.iter().all(|a| a.contains(&o.hash)));
    report.missing_local = missing_local;
    let absent_ids: Vec<HashSet<Id>> = absent
        .iter()
        .map(|a| a.iter().filter_map(Id::of).collect())
        .collect();

    // Ask every target what it holds. A remote that can list is checked for every file of a
    // directory, whatever `.dir` it holds (another tool, or a gc, may have left it incomplete):
    // one LIST per prefix costs little. Only where the remote cannot list does a `.dir` on it
    // vouch for its files (uploaded last), which saves a request per file; the row says so.
    // Each need is a file and a target lacking it, sorted so a file's targets are together.
    let mut needs: Vec<(Id, u32)> = Vec::new();
    let mut dir_needs: Vec<Vec<&Dir>> = Vec::new();
    for (ti, (t, want)) in targets.iter().zip(&mut wanted).enumerate() {
        let remote = &t.handle.remote;
        if report.rows[ti].1.unreachable.is_some() {
            dir_needs.push(Vec::new());
            continue;
        }
        // A remote that cannot take uploads fails before anything is checked or sent.
        if let Err(e) = remote.require(Op::Write) {
            report.rows[ti].1.unreachable = Some(e);
            dir_needs.push(Vec::new());
            continue;
        }
        let dir_keys: Vec<String> = want.dirs.iter().map(|d| d.object.key()).collect();
        let dirs_there = match present(remote, &dir_keys).await {
            Ok(p) => p,
            Err(e) => {
                report.rows[ti].1.unreachable = Some(e);
                dir_needs.push(Vec::new());
                continue;
            }
        };
        let there_dir = |d: &Dir| holds(&dirs_there, &d.object.key(), local_size(odb, &d.object));
        let trusting = !remote.capabilities().list;
        let mut vouched: Vec<Id> = want
            .dirs
            .iter()
            .filter(|d| trusting && there_dir(d))
            .flat_map(|d| d.files.iter().copied())
            .collect();
        vouched.sort_unstable();
        vouched.dedup();
        let files = std::mem::take(&mut want.files);
        let wanted_files = files.len();
        let to_check: Vec<Id> = if vouched.is_empty() {
            files
        } else {
            files
                .into_iter()
                .filter(|id| vouched.binary_search(id).is_err())
                .collect()
        };
        let row = &mut report.rows[ti].1;
        row.already += (wanted_files - to_check.len()) as u64;
        drop(vouched);
        let there = match present_ids(remote, &to_check).await {
            Ok(p) => p,
            Err(e) => {
                report.rows[ti].1.unreachable = Some(e);
                dir_needs.push(Vec::new());
                continue;
            }
        };
        let row = &mut report.rows[ti].1;
        if trusting {
            row.trusted_dirs += want.dirs.iter().filter(|d| there_dir(d)).count() as u64;
        }
        for (id, found) in to_check.into_iter().zip(there) {
            let expected = || expected_size(odb, &named, &id);
            let held = match found {
                None => false,
                Some(None) => true,
                Some(size) => Presence::Present(size).holds(expected()),
            };
            if held {
                row.already += 1;
            } else {
                needs.push((id, ti as u32));
            }
        }
        let mut mine = Vec::new();
        for d in &want.dirs {
            // A `.dir` already there stays; any file it lacks was queued above.
            if there_dir(d) {
                row.already += 1;
            } else {
                mine.push(d);
            }
        }
        dir_needs.push(mine);
    }
    // Consecutive uploads go to different remote directories (the md5's first byte sorts
    // last): on a local remote, objects linked into one directory wait for each other on its
    // lock, so a push in key order used one core of two.
    needs.sort_unstable_by_key(|(id, ti)| (spread(id), *ti));
    let total: u64 = needs.len() as u64 + dir_needs.iter().map(|d| d.len() as u64).sum::<u64>();
    let bytes: u64 = needs
        .iter()
        .map(|(id, _)| expected_size(odb, &named, id).unwrap_or(0))
        .sum();
    progress.add_total(total, bytes);

    let rows: Vec<Mutex<PushRow>> = report.rows.drain(..).map(|(_, r)| Mutex::new(r)).collect();
    let failed_hashes: Vec<Mutex<HashSet<HashInfo>>> =
        targets.iter().map(|_| Mutex::new(HashSet::new())).collect();
    // Each remote's stack limits its uploads to its `jobs`; this only bounds the queue.
    let width = targets
        .iter()
        .map(|t| t.handle.remote.jobs())
        .max()
        .unwrap_or(1);
    let memory = Semaphore::new(MEMORY_BUDGET_MIB as usize);
    let ctx = Ctx {
        odb,
        targets,
        rows: &rows,
        memory: &memory,
        failed: &failed_hashes,
        progress,
    };

    let send_part = |part: std::ops::Range<usize>, width: usize| {
        futures::stream::iter(needs[part].chunk_by(|a, b| a.0 == b.0)).for_each_concurrent(
            width,
            |group| {
                let id = group[0].0;
                let label = named
                    .get(&id)
                    .map_or_else(|| hex::encode(id.md5), |n| n.out.clone());
                let object = Object {
                    hash: id.hash(),
                    size: None,
                    out: label,
                };
                let to = group.iter().map(|(_, ti)| *ti as usize).collect();
                ctx.send(object, to)
            },
        )
    };
    on_every_core(&needs, width, send_part).await;
    drop(needs);
    // Directories last, and only where every file made it.
    let mut dir_work: Vec<(Object, Vec<usize>)> = Vec::new();
    for (ti, dirs) in dir_needs.into_iter().enumerate() {
        for d in dirs {
            if lacks_any(&d.files, &absent_ids[ti], &HashSet::new()) {
                progress.done(0);
                continue;
            }
            let broken = ctx.failed[ti]
                .lock()
                .map(|f| lacks_any(&d.files, &HashSet::new(), &f))
                .unwrap_or(true);
            if broken {
                let e = RemoteError::new(
                    ErrorKind::Permanent,
                    &targets[ti].handle.name,
                    "not uploaded because some of its files failed",
                );
                if let Ok(mut row) = ctx.rows[ti].lock() {
                    row.failed.push((d.object.clone(), e));
                }
                progress.done(0);
            } else {
                dir_work.push((d.object.clone(), vec![ti]));
            }
        }
    }
    futures::stream::iter(dir_work)
        .for_each_concurrent(width, |(d, ts)| ctx.send(d, ts))
        .await;

    // A directory whose every file and `.dir` are on the target now goes into its record.
    for (ti, want) in wanted.iter().enumerate() {
        let reached = ctx.rows[ti].lock().is_ok_and(|r| r.unreachable.is_none());
        let Ok(failed) = ctx.failed[ti].lock() else {
            continue;
        };
        if !reached {
            continue;
        }
        let lacks = |h: &HashInfo| failed.contains(h) || absent[ti].contains(h);
        for d in &want.dirs {
            let hash = &d.object.hash;
            if !partial[ti].contains(hash)
                && !lacks(hash)
                && !lacks_any(&d.files, &absent_ids[ti], &failed)
            {
                verified[ti].insert(hash);
            }
        }
        verified[ti].save();
    }

    let mut rows: Vec<PushRow> = rows
        .into_iter()
        .map(|r| r.into_inner().unwrap_or_default())
        .collect();
    for (row, want) in rows.iter_mut().zip(&wanted) {
        name_failures(odb, row, want, &named);
    }
    report.rows = targets
        .iter()
        .zip(rows)
        .map(|(t, r)| (t.handle.name.clone(), r))
        .collect();
    report
}

/// Runs `send(part, width)` over the ranges of `needs` (sorted, an id's targets together): split
/// in one part per core, each driven on its own thread, on a multi-thread runtime. One task polling every
/// upload would do a local remote's file work (inline, a few syscalls an object) on one core
/// only. A network remote loses nothing: the stack bounds its requests whatever the threads.
async fn on_every_core<F, Fut>(needs: &[(Id, u32)], width: usize, send: F)
where
    F: Fn(std::ops::Range<usize>, usize) -> Fut + Sync,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Handle::current();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let multi = runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread;
    if !multi || cores < 2 || needs.len() < 2 * cores {
        return send(0..needs.len(), width).await;
    }
    let mut parts = Vec::with_capacity(cores);
    let mut start = 0;
    for k in (1..=cores).rev() {
        let mut end = start + (needs.len() - start) / k;
        while k > 1 && end > start && end < needs.len() && needs[end].0 == needs[end - 1].0 {
            end += 1;
        }
        if k == 1 {
            end = needs.len();
        }
        parts.push(start..end);
        start = end;
    }
    let width = width.div_ceil(cores);
    std::thread::scope(|scope| {
        for part in parts {
            let (runtime, send) = (runtime.clone(), &send);
            scope.spawn(move || runtime.block_on(send(part, width)));
        }
    });
}

/// An upload-order key of `id`: its md5 rotated by one byte, so that ids next to each other
/// in this order are in different directories (an id's targets stay together).
fn spread(id: &Id) -> ([u8; 16], bool) {
    let mut key = id.md5;
    key.rotate_left(1);
    (key, id.legacy)
}

/// The files of the directory `hash` that `out` selects, as ids sorted and each once, read from
/// the cache's manifest as it is parsed.
fn dir_files(odb: &Odb, out: &Out, hash: &HashInfo) -> Result<Vec<Id>, crate::odb::OdbError> {
    let mut ids = Vec::new();
    odb.for_each_entry(hash, |relpath, md5| {
        if out.selects_file(relpath)
            && let Some(id) = Id::of_hex(md5, hash.legacy)
        {
            ids.push(id);
        }
    })?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The paths (`out/relpath`, the first entry naming each) of the files `which` of the
/// directory `hash` that `out` selects, read again from its manifest: only failures and
/// missing objects are named, and they are few.
fn labels(odb: &Odb, out: &Out, hash: &HashInfo, which: &HashSet<Id>) -> HashMap<Id, String> {
    let mut found: HashMap<Id, String> = HashMap::new();
    let read = odb.for_each_entry(hash, |relpath, md5| {
        if let Some(id) = Id::of_hex(md5, hash.legacy)
            && which.contains(&id)
            && out.selects_file(relpath)
        {
            found
                .entry(id)
                .or_insert_with(|| format!("{}/{relpath}", out.rel));
        }
    });
    if read.is_err() {
        // the manifest was readable a moment ago; the ids still name the objects
        tracing::debug!(
            "cannot read the manifest {} again to name its files",
            hash.md5
        );
    }
    for id in which {
        found.entry(*id).or_insert_with(|| hex::encode(id.md5));
    }
    found
}

/// Names the files of `row`'s failures by their paths in `want`'s outputs (a directory's file
/// was sent under its md5 only).
fn name_failures(odb: &Odb, row: &mut PushRow, want: &Wanted, named: &HashMap<Id, Named>) {
    let unnamed: HashSet<Id> = row
        .failed
        .iter()
        .filter_map(|(o, _)| Id::of(&o.hash).filter(|id| !named.contains_key(id)))
        .collect();
    if unnamed.is_empty() {
        return;
    }
    let mut found: HashMap<Id, String> = HashMap::new();
    for d in &want.dirs {
        let here: HashSet<Id> = unnamed
            .iter()
            .filter(|id| !found.contains_key(id) && d.files.binary_search(id).is_ok())
            .copied()
            .collect();
        if !here.is_empty() {
            for (id, label) in labels(odb, d.out, &d.object.hash, &here) {
                found.entry(id).or_insert(label);
            }
        }
    }
    for (o, _) in &mut row.failed {
        if let Some(label) = Id::of(&o.hash).and_then(|id| found.get(&id)) {
            o.out = label.clone();
        }
    }
}

/// Whether any of `files` is in `absent` or `failed` (each usually empty).
fn lacks_any(files: &[Id], absent: &HashSet<Id>, failed: &HashSet<HashInfo>) -> bool {
    (!absent.is_empty() && files.iter().any(|id| absent.contains(id)))
        || (!failed.is_empty() && files.iter().any(|id| failed.contains(&id.hash())))
}

/// The size the object `id` must have: from its `.dvc` file when a single-file output names
/// it, else its cache file's.
fn expected_size(odb: &Odb, named: &HashMap<Id, Named>, id: &Id) -> Option<u64> {
    named
        .get(id)
        .and_then(|n| n.size)
        .or_else(|| cache_size(odb, &id.hash()))
}

/// The size of the cache file of `hash`, when there is one.
fn cache_size(odb: &Odb, hash: &HashInfo) -> Option<u64> {
    std::fs::metadata(odb.path(hash)).ok().map(|m| m.len())
}

/// The directories of `t`'s outputs that `record` names and whose `.dir`, of the local one's
/// size, the remote still holds (one existence check for them all); those whose `.dir` is gone
/// are dropped from the record.
async fn recorded_dirs(
    odb: &Odb,
    t: &Target<'_>,
    record: &mut Verified,
) -> Result<HashSet<HashInfo>, RemoteError> {
    if record.is_empty() {
        return Ok(HashSet::new());
    }
    let dirs: HashSet<&HashInfo> = t
        .outs
        .iter()
        .filter(|o| o.cache && o.push && !o.imported)
        .filter_map(|o| o.hash.as_ref())
        .filter(|h| h.is_dir() && record.holds(h) && odb.contains(h))
        .collect();
    if dirs.is_empty() {
        return Ok(HashSet::new());
    }
    let dirs: Vec<Object> = dirs
        .into_iter()
        .map(|h| Object {
            hash: h.clone(),
            size: None,
            out: String::new(),
        })
        .collect();
    let keys: Vec<String> = dirs.iter().map(Object::key).collect();
    let there = present(&t.handle.remote, &keys).await?;
    let mut found = HashSet::new();
    for d in dirs {
        if holds(&there, &d.key(), local_size(odb, &d)) {
            found.insert(d.hash);
        } else {
            record.forget(&d.hash);
        }
    }
    tracing::info!(
        "remote '{}': directories taken as complete from the push record (their .dir is \
         there; `ferry push --verify` checks every file): {}",
        t.handle.name,
        found.len()
    );
    Ok(found)
}

/// The size `object` must have on a remote: from its `.dvc` file or manifest, else its cache
/// file's.
fn local_size(odb: &Odb, object: &Object) -> Option<u64> {
    object.size.or_else(|| cache_size(odb, &object.hash))
}

/// Upload payloads in flight are kept under this many MiB, so memory stays flat whatever the
/// number and size of objects: a small object is held once in memory for all its targets, and
/// the S3 client copies it again into its request buffer (measured: RSS grows by ~2.5× the
/// payloads in flight); a large one is streamed through a multipart upload, which buffers its
/// part being filled plus the parts in flight (~50 MiB of RSS), so large objects go one at a
/// time. 24 MiB keeps every push step under 100 MB.
const MEMORY_BUDGET_MIB: u32 = 24;

/// The MiB of [`MEMORY_BUDGET_MIB`] an object of `size` bytes sent to `targets` remotes takes.
fn buffer_mib(size: u64, targets: usize) -> u32 {
    let mib = if size <= super::copy::SHARED_READ_MAX {
        size.div_ceil(1 << 20)
    } else {
        u64::from(MEMORY_BUDGET_MIB) * targets as u64
    };
    mib.clamp(1, u64::from(MEMORY_BUDGET_MIB)) as u32
}

struct Ctx<'a> {
    odb: &'a Odb,
    targets: &'a [Target<'a>],
    rows: &'a [Mutex<PushRow>],
    /// MiB of upload buffers in flight (see [`MEMORY_BUDGET_MIB`]).
    memory: &'a Semaphore,
    failed: &'a [Mutex<HashSet<HashInfo>>],
    progress: &'a dyn Progress,
}

impl Ctx<'_> {
    /// Reads `object` once and uploads it to every target in `to`, each under its own limit.
    async fn send(&self, object: Object, to: Vec<usize>) {
        let key = object.key();
        // One blocking hop reads a small object (under a 1 MiB reservation); a bigger one is
        // reserved for by its size before it is loaded.
        let Ok(small) = self.memory.acquire_many(1).await else {
            return;
        };
        let mut memory = small;
        let mut loaded = Payload::load_up_to(self.odb, &object.hash, 1 << 20).await;
        if let Ok(Payload::File(_, size, _)) = &loaded {
            let size = *size;
            drop(memory);
            let Ok(big) = self.memory.acquire_many(buffer_mib(size, to.len())).await else {
                return;
            };
            memory = big;
            if size <= super::copy::SHARED_READ_MAX {
                loaded = Payload::load(self.odb, &object.hash).await;
            }
        }
        let _memory = memory;
        let payload = match loaded {
            Ok(p) => p,
            Err(e) => {
                for ti in to {
                    let err = RemoteError::new(
                        ErrorKind::Permanent,
                        &self.targets[ti].handle.name,
                        format!("cannot read the cache file: {e}"),
                    );
                    self.fail(ti, &object, err);
                }
                return;
            }
        };
        let uploads = to.into_iter().map(|ti| {
            let (payload, key, object) = (&payload, &key, &object);
            async move {
                let name = &self.targets[ti].handle.name;
                let meter = self.progress.object(name, &object.out, Some(payload.len()));
                match upload(&self.targets[ti].handle.remote, key, payload, &meter).await {
                    Ok(()) => {
                        if let Ok(mut row) = self.rows[ti].lock() {
                            row.uploaded += 1;
                            row.bytes += payload.len();
                        }
                        self.progress.done(payload.len());
                    }
                    Err(e) => self.fail(ti, object, e),
                }
            }
        });
        futures::future::join_all(uploads).await;
    }

    fn fail(&self, ti: usize, object: &Object, e: RemoteError) {
        if let Ok(mut f) = self.failed[ti].lock() {
            f.insert(object.hash.clone());
        }
        if let Ok(mut row) = self.rows[ti].lock() {
            row.failed.push((object.clone(), e));
        }
        self.progress.done(0);
    }
}
