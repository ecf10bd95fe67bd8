//! Pushing to one or many remotes at once: each remote is asked what it already holds, each
//! local object is read once and sent to every remote that lacks it (each remote with its own
//! concurrency and retries), and a directory's `.dir` goes only after all its files made it.
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use futures::StreamExt;
use tokio::sync::Semaphore;

use super::copy::{Payload, upload};
use super::exists::{holds, present};
use super::objects::of_out;
use super::remotes::Handle;
use super::verified::Verified;
use super::{Object, Progress};
use crate::hash::HashInfo;
use crate::odb::Odb;
use crate::remote::{ErrorKind, Op, RemoteError};
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

/// A `.dir` object and the files it lists (shared, never copied: a million-file directory's
/// list is held once however many targets it goes to).
type DirObjects = (Object, std::sync::Arc<Vec<Object>>);

/// Where the per-remote push records live ([`super::verified`]) and whether to trust them.
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    /// The records' directory (`.dvc/tmp/ferry/verified`); `None` keeps none.
    pub dir: Option<&'a std::path::Path>,
    /// False for `--verify`: every file is checked and the records are rebuilt.
    pub trust: bool,
}

struct Need {
    object: Object,
    /// Target indexes lacking it.
    targets: Vec<usize>,
}

/// Pushes each target's outputs to it. Never fails as a whole: failures are in the report.
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
    // What each target should hold: files then dirs, only objects present locally; and the
    // dirs of outputs pushed only in part (granular targets), which the record never takes.
    let mut wanted: Vec<(Vec<Object>, Vec<DirObjects>)> = Vec::new();
    let mut partial: Vec<HashSet<HashInfo>> = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        let mut files: Vec<Object> = Vec::new();
        let mut dirs: Vec<DirObjects> = Vec::new();
        let mut parts = HashSet::new();
        let mut seen = HashSet::new();
        for out in t.outs.iter().filter(|o| o.cache && o.push && !o.imported) {
            if let Some(h) = out.hash.as_ref().filter(|h| vouched[ti].contains(*h)) {
                if seen.insert(h.clone()) {
                    let row = &mut report.rows[ti].1;
                    row.recorded_dirs += 1;
                    row.already += 1 + out.nfiles.unwrap_or(0);
                }
                continue;
            }
            if !out.parts.is_empty()
                && let Some(h) = &out.hash
            {
                parts.insert(h.clone());
            }
            let Ok((objects, complete)) = of_out(odb, out) else {
                continue;
            };
            let mut entries = objects;
            let dir = if out.is_dir() { entries.pop() } else { None };
            for o in &entries {
                if !odb.contains(&o.hash) {
                    missing_local
                        .entry(o.hash.clone())
                        .or_insert_with(|| o.clone());
                } else if seen.insert(o.hash.clone()) {
                    files.push(o.clone());
                }
            }
            if let Some(d) = dir {
                if !complete {
                    missing_local.entry(d.hash.clone()).or_insert(d);
                } else if seen.insert(d.hash.clone()) {
                    dirs.push((d, std::sync::Arc::new(entries)));
                }
            }
        }
        wanted.push((files, dirs));
        partial.push(parts);
    }
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

    // Ask every target what it holds. A remote that can list is checked for every file of a
    // directory, whatever `.dir` it holds (another tool, or a gc, may have left it incomplete):
    // one LIST per prefix costs little. Only where the remote cannot list does a `.dir` on it
    // vouch for its files (uploaded last), which saves a request per file; the row says so.
    let mut needs: HashMap<HashInfo, Need> = HashMap::new();
    let mut dir_needs: Vec<Vec<DirObjects>> = Vec::new();
    for (ti, (t, (files, dirs))) in targets.iter().zip(&wanted).enumerate() {
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
        let dir_keys: Vec<String> = dirs.iter().map(|(d, _)| d.key()).collect();
        let dirs_there = match present(remote, &dir_keys).await {
            Ok(p) => p,
            Err(e) => {
                report.rows[ti].1.unreachable = Some(e);
                dir_needs.push(Vec::new());
                continue;
            }
        };
        let trusting = !remote.capabilities().list;
        let vouched: HashSet<&HashInfo> = dirs
            .iter()
            .filter(|(d, _)| trusting && holds(&dirs_there, &d.key(), local_size(odb, d)))
            .flat_map(|(_, e)| e.iter().map(|o| &o.hash))
            .collect();
        let to_check: Vec<&Object> = files
            .iter()
            .filter(|o| !vouched.contains(&o.hash))
            .collect();
        let keys: Vec<String> = to_check.iter().map(|o| o.key()).collect();
        let there = match present(remote, &keys).await {
            Ok(p) => p,
            Err(e) => {
                report.rows[ti].1.unreachable = Some(e);
                dir_needs.push(Vec::new());
                continue;
            }
        };
        let row = &mut report.rows[ti].1;
        row.already += (files.len() - to_check.len()) as u64;
        if trusting {
            row.trusted_dirs += dirs
                .iter()
                .filter(|(d, _)| holds(&dirs_there, &d.key(), local_size(odb, d)))
                .count() as u64;
        }
        for o in to_check {
            if holds(&there, &o.key(), local_size(odb, o)) {
                row.already += 1;
            } else {
                needs
                    .entry(o.hash.clone())
                    .or_insert_with(|| Need {
                        object: o.clone(),
                        targets: Vec::new(),
                    })
                    .targets
                    .push(ti);
            }
        }
        let mut mine = Vec::new();
        for (d, entries) in dirs {
            // A `.dir` already there stays; any file it lacks was queued above.
            if holds(&dirs_there, &d.key(), local_size(odb, d)) {
                row.already += 1;
            } else {
                mine.push((d.clone(), std::sync::Arc::clone(entries)));
            }
        }
        dir_needs.push(mine);
    }
    let total: u64 = needs.values().map(|n| n.targets.len() as u64).sum::<u64>()
        + dir_needs.iter().map(|d| d.len() as u64).sum::<u64>();
    let bytes: u64 = needs
        .values()
        .map(|n| local_size(odb, &n.object).unwrap_or(0) * n.targets.len() as u64)
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

    futures::stream::iter(needs.into_values())
        .for_each_concurrent(width, |need| ctx.send(need.object, need.targets))
        .await;
    // Directories last, and only where every file made it.
    let dir_work: Vec<(Object, Vec<usize>)> = dir_needs
        .into_iter()
        .enumerate()
        .flat_map(|(ti, dirs)| dirs.into_iter().map(move |(d, entries)| (ti, d, entries)))
        .filter_map(|(ti, d, entries)| {
            if entries.iter().any(|e| absent[ti].contains(&e.hash)) {
                progress.done(0);
                return None;
            }
            let broken = ctx.failed[ti]
                .lock()
                .map(|f| entries.iter().any(|e| f.contains(&e.hash)))
                .unwrap_or(true);
            if broken {
                let e = RemoteError::new(
                    ErrorKind::Permanent,
                    &targets[ti].handle.name,
                    "not uploaded because some of its files failed",
                );
                if let Ok(mut row) = ctx.rows[ti].lock() {
                    row.failed.push((d, e));
                }
                progress.done(0);
                None
            } else {
                Some((d, vec![ti]))
            }
        })
        .collect();
    futures::stream::iter(dir_work)
        .for_each_concurrent(width, |(d, ts)| ctx.send(d, ts))
        .await;

    // A directory whose every file and `.dir` are on the target now goes into its record.
    for (ti, (_, dirs)) in wanted.iter().enumerate() {
        let reached = ctx.rows[ti].lock().is_ok_and(|r| r.unreachable.is_none());
        let Ok(failed) = ctx.failed[ti].lock() else {
            continue;
        };
        if !reached {
            continue;
        }
        let lacks = |h: &HashInfo| failed.contains(h) || absent[ti].contains(h);
        for (d, entries) in dirs {
            if !partial[ti].contains(&d.hash)
                && !lacks(&d.hash)
                && !entries.iter().any(|e| lacks(&e.hash))
            {
                verified[ti].insert(&d.hash);
            }
        }
        verified[ti].save();
    }

    report.rows = targets
        .iter()
        .zip(rows)
        .map(|(t, r)| (t.handle.name.clone(), r.into_inner().unwrap_or_default()))
        .collect();
    report
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
    object.size.or_else(|| {
        std::fs::metadata(odb.path(&object.hash))
            .ok()
            .map(|m| m.len())
    })
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
