//! Fetching what outputs need into the cache over the router: manifests first (a directory's
//! file list lives in its `.dir` object), then every missing object; and the `--dry-run` plan.
use std::collections::HashMap;

use super::copy::CopyError;
use super::exists::listed;
use super::objects::{dedup, of_out};
use super::router::{FetchOutcome, Routed, Router};
use super::{Object, Progress};
use crate::hash::HashInfo;
use crate::odb::Odb;
use crate::odb::manifest::{self, Entry};
use crate::remote::{ErrorKind, ReadBudget, RemoteError, Stack};
use crate::repo::out::Out;
use futures::StreamExt;
use md5::{Digest, Md5};

/// What a fetch did.
#[derive(Debug, Default, serde::Serialize)]
pub struct FetchReport {
    /// Objects downloaded, with the lane that supplied each.
    pub fetched: Vec<(Object, usize)>,
    /// Objects no remote could supply.
    pub failed: Vec<Routed>,
    /// Directory outputs whose manifest could not be read (unsafe or malformed), with the error.
    pub bad_manifests: Vec<(String, String)>,
}

impl FetchReport {
    fn absorb(&mut self, o: FetchOutcome) {
        self.fetched.extend(o.fetched);
        self.failed.extend(o.failed);
    }
}

/// The objects the outputs still lack locally (after their manifests are local).
fn missing_objects(
    odb: &Odb,
    outs: &[Out],
    report: &mut FetchReport,
) -> Vec<(Object, Option<String>)> {
    let mut wanted = Vec::new();
    for out in outs.iter().filter(|o| o.cache) {
        match of_out(odb, out) {
            Ok((objects, _)) => wanted.extend(objects.into_iter().map(|o| (o, out.remote.clone()))),
            Err(e) => report.bad_manifests.push((out.rel.clone(), e.to_string())),
        }
    }
    let mut seen = std::collections::HashSet::new();
    wanted
        .into_iter()
        .filter(|(o, _)| seen.insert(o.hash.clone()) && !odb.contains(&o.hash))
        .collect()
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
    let rest: Vec<_> = missing_objects(odb, outs, &mut report)
        .into_iter()
        .filter(|(o, _)| !failed.contains(&o.hash))
        .collect();
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
