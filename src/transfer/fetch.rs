//! Fetching what outputs need into the cache over the router: manifests first (a directory's
//! file list lives in its `.dir` object), then every missing object; and the `--dry-run` plan.
use std::collections::HashMap;

use super::copy::CopyError;
use super::exists::listed;
use super::objects::{dedup, of_out};
use super::router::{FetchOutcome, Routed, Router};
use super::{Object, Progress};
use crate::hash::HashInfo;
use crate::hash::md5::Md5;
use crate::odb::Odb;
use crate::odb::manifest::{self, Entry};
use crate::remote::{ErrorKind, ReadBudget, RemoteError, Stack};
use crate::repo::out::Out;
use futures::StreamExt;

/// What a fetch did.
#[derive(Debug, Default, serde::Serialize)]
pub struct FetchReport {
    /// Objects downloaded (counted, not listed: a million-file pull keeps no list).
    pub fetched: u64,
    /// How many of them are `.dir` manifests.
    pub fetched_dirs: u64,
    /// Objects no remote could supply.
    pub failed: Vec<Routed>,
    /// Directory outputs whose manifest could not be read (unsafe or malformed), with the error.
    pub bad_manifests: Vec<(String, String)>,
}

impl FetchReport {
    fn absorb(&mut self, o: FetchOutcome) {
        self.fetched += o.fetched;
        self.fetched_dirs += o.fetched_dirs;
        self.failed.extend(o.failed);
    }
}

fn routed(router: &Router, objects: Vec<(Object, Option<String>)>) -> Vec<Routed> {
    objects
        .into_iter()
        .map(|(object, remote)| {
            let prefer =
                remote.and_then(|name| router.lanes.iter().position(|l| l.handle.name == name));
            Routed {
                object,
                tried: Vec::new(),
                prefer,
            }
        })
        .collect()
}

/// Above this many objects a fetch lists the listable remotes first: a few LISTs tell which
/// GETs would find nothing.
const LIST_THRESHOLD: usize = 16;

/// Lists the listable remotes before sending a single GET, so the router knows who holds what
/// and how big it is: when many objects are wanted from several remotes (one LIST beats many
/// GETs sent to a remote that lacks them), when any remote has a byte limit (the planner needs
/// sizes to stay under it), or for a plan (`plan`). With one remote and no limits a listing
/// tells nothing a GET would not (a 100k-object remote is 100 sequential LIST pages). Remotes
/// that cannot list are never probed here: a probe would be a GET of the object itself.
async fn learn_holdings(router: &mut Router, objects: &[Routed], plan: bool) {
    let keys: Vec<String> = objects.iter().map(|r| r.object.key()).collect();
    let usable = router
        .lanes
        .iter()
        .filter(|l| l.disabled().is_none())
        .count();
    let many = objects.len() > LIST_THRESHOLD && usable > 1;
    // An object's size is the same on every remote, so any listing gives a limited remote's
    // planner the sizes it needs, even when that remote itself cannot list.
    // A call limit needs them too: the budget-optimal order prefers large objects.
    let sizes_needed = router
        .lanes
        .iter()
        .any(|l| l.limits_bytes() || l.limits_calls());
    for lane in &mut router.lanes {
        lane.forget_known();
        let wanted = many || plan || sizes_needed;
        if lane.disabled().is_some() || !lane.handle.remote.capabilities().list || !wanted {
            continue;
        }
        match listed(&lane.handle.remote, &keys).await {
            Ok(found) => lane.set_known(found),
            Err(e) => tracing::info!(
                "could not list what remote '{}' holds: {}",
                lane.handle.name,
                e.message
            ),
        }
    }
}

/// Gives objects of unknown size the size any listing reported (an object's size is the same
/// on every remote), so budgets of remotes that cannot list are planned too.
fn fill_sizes(router: &Router, objects: &mut [Routed]) {
    for r in objects.iter_mut().filter(|r| r.object.size.is_none()) {
        let key = r.object.key();
        r.object.size = router.lanes.iter().find_map(|l| l.known_size(&key));
    }
}

/// Fetches everything `outs` need that the cache lacks.
pub async fn fetch(
    odb: &Odb,
    outs: &[Out],
    router: &mut Router,
    progress: &dyn Progress,
) -> Result<FetchReport, CopyError> {
    let mut report = FetchReport::default();
    let manifests: Vec<(Object, Option<String>)> = outs
        .iter()
        .filter(|o| o.cache && o.is_dir())
        .filter_map(|o| {
            o.hash.clone().map(|h| {
                (
                    Object {
                        hash: h,
                        size: None,
                        out: o.rel.clone(),
                    },
                    o.remote.clone(),
                )
            })
        })
        .filter(|(o, _)| !odb.contains(&o.hash))
        .collect();
    let manifests = dedup_routed(manifests);
    progress.add_total(manifests.len() as u64, 0);
    let mut first = routed(router, manifests);
    learn_holdings(router, &first, false).await;
    fill_sizes(router, &mut first);
    report.absorb(router.fetch(odb, first, progress).await?);
    // A manifest that failed above is not tried (nor reported) a second time.
    let failed: std::collections::HashSet<_> = report
        .failed
        .iter()
        .map(|r| r.object.hash.clone())
        .collect();
    // Without limits and with one remote to ask, nothing needs the whole list at once (no
    // budget order, no listing to learn from): the objects go in bounded batches, read from the
    // manifests as they are parsed, so memory stays flat in the number of files.
    let usable = router
        .lanes
        .iter()
        .filter(|l| l.disabled().is_none())
        .count();
    let limited = router
        .lanes
        .iter()
        .any(|l| l.limits_bytes() || l.limits_calls());
    if usable <= 1 && !limited {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let producer = {
            let (odb, outs) = (odb.clone(), outs.to_vec());
            tokio::task::spawn_blocking(move || {
                let mut bad = Vec::new();
                missing_in_batches(&odb, &outs, &failed, &mut bad, |batch| {
                    tx.blocking_send(batch).is_ok()
                });
                bad
            })
        };
        while let Some(batch) = rx.recv().await {
            let batch = routed(router, batch);
            let known_bytes = batch.iter().filter_map(|r| r.object.size).sum();
            progress.add_total(batch.len() as u64, known_bytes);
            let outcome = router.fetch(odb, batch, progress).await;
            match outcome {
                Ok(o) => report.absorb(o),
                Err(e) => {
                    drop(rx);
                    let _ = producer.await;
                    return Err(e);
                }
            }
        }
        if let Ok(bad) = producer.await {
            report.bad_manifests.extend(bad);
        }
        return Ok(report);
    }
    // The budget order and the listings need every missing object at once; the objects already
    // cached never are (a no-op pull over several remotes holds nothing per file).
    let mut rest = Vec::new();
    missing_in_batches(odb, outs, &failed, &mut report.bad_manifests, |batch| {
        rest.extend(batch);
        true
    });
    let rest = routed(router, rest);
    let known_bytes = rest.iter().filter_map(|r| r.object.size).sum();
    progress.add_total(rest.len() as u64, known_bytes);
    let mut rest = rest;
    learn_holdings(router, &rest, false).await;
    fill_sizes(router, &mut rest);
    router.order_for_budget(&mut rest);
    report.absorb(router.fetch(odb, rest, progress).await?);
    Ok(report)
}

/// Objects a batched fetch hands the router at a time.
const FETCH_BATCH: usize = 4096;

/// The objects the outputs still lack locally (after their manifests are local), handed to
/// `send` in batches of [`FETCH_BATCH`] as the manifests are parsed, leaving out the objects in
/// `failed`; stops when `send` says no one listens. Per file only its 17-byte id is kept (to
/// send a file two outputs share once); a manifest that cannot be read goes into `bad`.
fn missing_in_batches(
    odb: &Odb,
    outs: &[Out],
    failed: &std::collections::HashSet<HashInfo>,
    bad: &mut Vec<(String, String)>,
    mut send: impl FnMut(Vec<(Object, Option<String>)>) -> bool,
) {
    use super::id::Id;
    let mut batch = Vec::new();
    let mut open = true;
    // every file of the outputs streamed so far, per output, sorted
    let mut earlier: Vec<Vec<Id>> = Vec::new();
    let mut single: std::collections::HashSet<HashInfo> = std::collections::HashSet::new();
    let seen_before =
        |earlier: &[Vec<Id>], id: &Id| earlier.iter().any(|ids| ids.binary_search(id).is_ok());
    for out in outs.iter().filter(|o| o.cache) {
        let Some(hash) = out.hash.as_ref() else {
            continue;
        };
        let mut offer = |object: Object, batch: &mut Vec<(Object, Option<String>)>| {
            if !failed.contains(&object.hash) && !odb.contains(&object.hash) {
                batch.push((object, out.remote.clone()));
            }
            if batch.len() >= FETCH_BATCH && open {
                open = send(std::mem::take(batch));
            }
        };
        if !hash.is_dir() {
            let id = Id::of(hash);
            if single.insert(hash.clone()) && !id.is_some_and(|id| seen_before(&earlier, &id)) {
                let object = Object {
                    hash: hash.clone(),
                    size: out.size,
                    out: out.rel.clone(),
                };
                offer(object, &mut batch);
            }
            continue;
        }
        if !odb.contains(hash) {
            continue;
        }
        // the files once each: an id taken is marked in a bitset beside the sorted ids
        let mut ids = Vec::new();
        let listed = odb.for_each_entry(hash, |relpath, md5| {
            if out.selects_file(relpath)
                && let Some(id) = Id::of_hex(md5, hash.legacy)
            {
                ids.push(id);
            }
        });
        if let Err(e) = listed {
            bad.push((out.rel.clone(), e.to_string()));
            continue;
        }
        ids.sort_unstable();
        ids.dedup();
        let mut taken = vec![0u64; ids.len().div_ceil(64)];
        let streamed = odb.for_each_entry(hash, |relpath, md5| {
            let Some(id) = Id::of_hex(md5, hash.legacy).filter(|_| out.selects_file(relpath))
            else {
                return;
            };
            let Ok(i) = ids.binary_search(&id) else {
                return;
            };
            if taken[i / 64] & (1 << (i % 64)) != 0 || seen_before(&earlier, &id) {
                return;
            }
            taken[i / 64] |= 1 << (i % 64);
            let object = Object {
                hash: id.hash(),
                size: None,
                out: format!("{}/{relpath}", out.rel),
            };
            offer(object, &mut batch);
        });
        if let Err(e) = streamed {
            bad.push((out.rel.clone(), e.to_string()));
        }
        earlier.push(ids);
        if !open {
            return;
        }
    }
    if !batch.is_empty() && open {
        send(batch);
    }
}

fn dedup_routed(objects: Vec<(Object, Option<String>)>) -> Vec<(Object, Option<String>)> {
    let kept = dedup(objects.iter().map(|(o, _)| o.clone()).collect());
    let remotes: HashMap<_, _> = objects.into_iter().map(|(o, r)| (o.hash, r)).collect();
    kept.into_iter()
        .map(|o| {
            let r = remotes.get(&o.hash).cloned().flatten();
            (o, r)
        })
        .collect()
}

/// One remote's share of a plan.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PlanRow {
    /// Objects it would supply.
    pub objects: u64,
    /// Bytes it would supply (known sizes).
    pub bytes: u64,
}

/// The `--dry-run` plan: per lane what it would supply, and what no remote holds.
#[derive(Debug, Default, serde::Serialize)]
pub struct Plan {
    /// One row per lane, in order.
    pub rows: Vec<PlanRow>,
    /// Objects no remote can supply, with each remote's reason.
    pub unroutable: Vec<Routed>,
    /// Directory outputs whose file list could not be read (their files are not counted).
    pub unknown_dirs: Vec<String>,
    /// Manifests read from remotes (into memory) to plan their directories' files.
    pub manifests_read: u64,
}

/// Plans a fetch without downloading data or writing the cache: lists what the listable remotes
/// hold, reads the `.dir` manifests the cache lacks into memory (a directory's files cannot be
/// planned without its file list; each is one small GET, counted in the ledger), then routes.
pub async fn plan(odb: &Odb, outs: &[Out], router: &mut Router) -> Plan {
    let mut report = FetchReport::default();
    let mut plan = Plan {
        rows: vec![PlanRow::default(); router.lanes.len()],
        ..Default::default()
    };
    let dirs: Vec<(Object, Option<String>)> = outs
        .iter()
        .filter(|o| o.cache && o.is_dir())
        .filter_map(|o| {
            let hash = o.hash.clone().filter(|h| !odb.contains(h))?;
            let object = Object {
                hash,
                size: None,
                out: o.rel.clone(),
            };
            Some((object, o.remote.clone()))
        })
        .collect();
    let dirs = routed(router, dedup_routed(dirs));
    learn_holdings(router, &dirs, true).await;
    let mut remote_manifests: HashMap<HashInfo, Vec<Entry>> = HashMap::new();
    for mut r in dirs {
        while let Some(i) = router.route(&mut r) {
            let lane = &router.lanes[i];
            match read_manifest(&lane.handle.remote, &r.object.hash).await {
                Ok((entries, bytes)) => {
                    plan.rows[i].objects += 1;
                    plan.rows[i].bytes += bytes;
                    plan.manifests_read += 1;
                    remote_manifests.insert(r.object.hash.clone(), entries);
                    break;
                }
                Err(e) => {
                    let why = router.source_failed(i, &e);
                    r.tried.push((i, why));
                }
            }
        }
        if !remote_manifests.contains_key(&r.object.hash) {
            plan.unknown_dirs.push(r.object.out.clone());
            plan.unroutable.push(r);
        }
    }
    // The manifests' GETs are real use: recorded now, and the budgets re-read before planning.
    router.flush_usage();
    // The same objects in the same order as a real fetch routes them (output by output, a
    // directory's files in manifest order), so the plan is what the pull will do.
    let mut wanted = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for out in outs.iter().filter(|o| o.cache) {
        let objects: Vec<Object> = match out.hash.as_ref().and_then(|h| remote_manifests.get(h)) {
            Some(entries) => {
                let legacy = out.hash.as_ref().is_some_and(|h| h.legacy);
                entries
                    .iter()
                    .map(|e| Object {
                        hash: HashInfo {
                            md5: e.md5.clone(),
                            legacy,
                        },
                        size: None,
                        out: format!("{}/{}", out.rel, e.relpath),
                    })
                    .collect()
            }
            None => match of_out(odb, out) {
                Ok((objects, _)) => objects
                    .into_iter()
                    .filter(|o| !o.hash.is_dir() || odb.contains(&o.hash))
                    .collect(),
                Err(e) => {
                    report.bad_manifests.push((out.rel.clone(), e.to_string()));
                    Vec::new()
                }
            },
        };
        for object in objects {
            if !odb.contains(&object.hash) && seen.insert(object.hash.clone()) {
                wanted.push((object, out.remote.clone()));
            }
        }
    }
    let mut objects = routed(router, wanted);
    learn_holdings(router, &objects, true).await;
    fill_sizes(router, &mut objects);
    router.order_for_budget(&mut objects);
    for r in &mut objects {
        let key = r.object.key();
        match router.route(r) {
            Some(i) => {
                let size = router.lanes[i]
                    .known_size(&key)
                    .or(r.object.size)
                    .unwrap_or(0);
                plan.rows[i].objects += 1;
                plan.rows[i].bytes += size;
            }
            None => plan.unroutable.push(r.clone()),
        }
    }
    plan
}

/// Reads the `.dir` manifest `hash` from `remote` into memory, checked against its md5 and
/// parsed; returns its entries and size. The cache is never written; the stack charges the
/// GETs and bytes to the remote's budget.
async fn read_manifest(remote: &Stack, hash: &HashInfo) -> Result<(Vec<Entry>, u64), RemoteError> {
    let key = crate::odb::key(hash);
    let limit = super::copy::MANIFEST_MAX;
    let key_ref = key.as_str();
    let (bytes, _) = remote
        .read_with(&key, ReadBudget::default(), |mut stream| async move {
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk?);
                if bytes.len() as u64 > limit {
                    let got = bytes.len() as u64;
                    return Err(super::copy::oversized(
                        remote.name(),
                        key_ref,
                        &hash.md5,
                        got,
                        limit,
                    ));
                }
            }
            Ok::<_, RemoteError>(bytes)
        })
        .await;
    let bytes = bytes?;
    let expected = hash.md5.strip_suffix(".dir").unwrap_or(&hash.md5);
    if hex::encode(Md5::digest(&bytes)) != expected {
        return Err(RemoteError::new(
            ErrorKind::Corrupt,
            remote.name(),
            format!(
                "manifest {} does not match its md5: the remote's copy is corrupt",
                hash.md5
            ),
        )
        .with_key(&key));
    }
    let entries = manifest::parse(&bytes).map_err(|e| {
        RemoteError::new(ErrorKind::Permanent, remote.name(), e.to_string()).with_key(&key)
    })?;
    Ok((entries, bytes.len() as u64))
}
