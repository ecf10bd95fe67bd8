//! Copies across remotes: how much of the wanted set each remote holds, which objects are on
//! fewer than `redundancy.min_copies` remotes, and which unused objects `gc --cloud` may delete
//! from a remote without leaving fewer than `min_copies` copies. Only remotes count as copies;
//! the local cache of one machine is not a copy anyone else can rely on.
use std::collections::{HashMap, HashSet};

use futures::StreamExt;

use super::Object;
use super::exists::{holds, present};
use super::remotes::Handle;
use super::wanted::Wanted;
use crate::hash::HashInfo;
use crate::odb::Odb;
use crate::remote::{ErrorKind, Op, RemoteError};

/// A number of objects and their known bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Count {
    /// Objects.
    pub objects: u64,
    /// Bytes (of the objects whose size is known).
    pub bytes: u64,
}

impl Count {
    fn add(&mut self, bytes: Option<u64>) {
        self.objects += 1;
        self.bytes += bytes.unwrap_or(0);
    }
}

/// One remote's share of the wanted set.
#[derive(Debug, serde::Serialize)]
pub struct RemoteCopies {
    /// The remote's name.
    pub name: String,
    /// Wanted objects it holds.
    pub present: Count,
    /// Wanted objects it lacks.
    pub missing: Count,
    /// Set when it could not be checked (then it counts as holding nothing).
    pub error: Option<RemoteError>,
}

/// An object on fewer remotes than `min_copies`.
#[derive(Debug, serde::Serialize)]
pub struct Thin {
    /// The object.
    pub object: Object,
    /// Remotes holding it.
    pub holders: Vec<String>,
}

/// The redundancy report of `status --remotes`.
#[derive(Debug, serde::Serialize)]
pub struct Replication {
    /// The required number of remote copies.
    pub min_copies: u32,
    /// The whole wanted set.
    pub wanted: Count,
    /// One row per remote, in the given order.
    pub remotes: Vec<RemoteCopies>,
    /// Objects held by fewer than `min_copies` remotes.
    pub thin: Vec<Thin>,
}

/// Which of `keys` each remote holds (with sizes where a listing told them); a remote that
/// cannot be checked maps to its error.
async fn holdings(
    handles: &[&Handle],
    keys: &[String],
) -> Vec<Result<HashMap<String, Option<u64>>, RemoteError>> {
    futures::stream::iter(handles)
        .map(|h| present(&h.remote, keys))
        .buffered(handles.len().max(1))
        .collect()
        .await
}

/// Counts the copies of every wanted object on every remote in `handles`; each remote's present
/// and missing counts are of what belongs on it (`handles[i].1`, as `sync` would fill it).
pub async fn replication(
    odb: &Odb,
    wanted: &Wanted,
    handles: &[(Handle, Wanted)],
    min_copies: u32,
) -> Replication {
    let objects: Vec<&Object> = wanted.all().collect();
    let keys: Vec<String> = objects.iter().map(|o| o.key()).collect();
    let refs: Vec<&Handle> = handles.iter().map(|(h, _)| h).collect();
    let held = holdings(&refs, &keys).await;
    // What an object must weigh to count as a copy: from its `.dvc` file or manifest, else the
    // cache; a copy of another size on a remote (cut, or not the object) is no copy.
    let expected: HashMap<&String, Option<u64>> = objects
        .iter()
        .zip(&keys)
        .map(|(o, k)| {
            let size = o
                .size
                .or_else(|| std::fs::metadata(odb.path(&o.hash)).ok().map(|m| m.len()));
            (k, size)
        })
        .collect();
    let size_of = |o: &Object, key: &str| -> Option<u64> {
        o.size
            .or_else(|| std::fs::metadata(odb.path(&o.hash)).ok().map(|m| m.len()))
            .or_else(|| {
                held.iter()
                    .find_map(|h| h.as_ref().ok()?.get(key).copied().flatten())
            })
    };
    let sizes: Vec<Option<u64>> = objects
        .iter()
        .zip(&keys)
        .map(|(o, k)| size_of(o, k))
        .collect();
    let mut report = Replication {
        min_copies,
        wanted: Count::default(),
        remotes: Vec::new(),
        thin: Vec::new(),
    };
    for size in &sizes {
        report.wanted.add(*size);
    }
    let size_by_key: HashMap<&String, Option<u64>> =
        keys.iter().zip(sizes.iter().copied()).collect();
    for ((h, belongs), found) in handles.iter().zip(&held) {
        let mut row = RemoteCopies {
            name: h.name.clone(),
            present: Count::default(),
            missing: Count::default(),
            error: found.as_ref().err().cloned(),
        };
        for key in belongs.all().map(Object::key) {
            let size = size_by_key.get(&key).copied().flatten();
            match found {
                Ok(f) if holds(f, &key, expected.get(&key).copied().flatten()) => {
                    row.present.add(size)
                }
                _ => row.missing.add(size),
            }
        }
        report.remotes.push(row);
    }
    for (o, key) in objects.iter().zip(&keys) {
        let holders: Vec<String> = refs
            .iter()
            .zip(&held)
            .filter(|(_, f)| {
                f.as_ref()
                    .is_ok_and(|f| holds(f, key, expected.get(key).copied().flatten()))
            })
            .map(|(h, _)| h.name.clone())
            .collect();
        if (holders.len() as u64) < u64::from(min_copies) {
            report.thin.push(Thin {
                object: (*o).clone(),
                holders,
            });
        }
    }
    report
}

/// What `gc --cloud` would do on one remote.
#[derive(Debug, Default, serde::Serialize)]
pub struct GcPlan {
    /// Unused objects to delete, with their sizes.
    pub delete: Vec<(HashInfo, u64)>,
    /// Unused objects kept because deleting them would leave fewer than `min_copies` copies,
    /// with the remotes holding them now.
    pub keep: Vec<(HashInfo, Vec<String>)>,
    /// Other remotes that could not be checked (they count as holding nothing).
    pub unchecked: Vec<RemoteError>,
}

/// `gc --cloud` finds unused objects by listing: a remote that cannot be listed (HTTP) is
/// refused with an `Unsupported` error saying so.
pub fn check_listable(target: &Handle) -> Result<(), RemoteError> {
    if target.remote.capabilities().list {
        return Ok(());
    }
    Err(RemoteError::new(
        ErrorKind::Unsupported,
        &target.name,
        format!(
            "remote '{}' ({}) cannot be listed, so its unused objects cannot be found: gc --cloud is not possible there",
            target.name, target.url
        ),
    ))
}

/// Plans `gc --cloud` on `target`: every object it holds that `used` does not name is unused;
/// an unused object is deleted only if at least `min_copies` other remotes hold it.
pub async fn plan_gc(
    target: &Handle,
    others: &[Handle],
    used: &HashSet<HashInfo>,
    min_copies: u32,
) -> Result<GcPlan, RemoteError> {
    check_listable(target)?;
    let unused: Vec<(HashInfo, u64)> = target
        .remote
        .list_sized("")
        .await?
        .into_iter()
        .filter_map(|(k, n)| crate::odb::parse_key(&k).map(|h| (h, n)))
        .filter(|(h, _)| !used.contains(h))
        .collect();
    let keys: Vec<String> = unused.iter().map(|(h, _)| crate::odb::key(h)).collect();
    let others: Vec<&Handle> = others.iter().filter(|h| h.name != target.name).collect();
    let held = holdings(&others, &keys).await;
    let mut plan = GcPlan {
        unchecked: held
            .iter()
            .filter_map(|h| h.as_ref().err().cloned())
            .collect(),
        ..Default::default()
    };
    for ((hash, size), key) in unused.into_iter().zip(&keys) {
        let elsewhere: Vec<String> = others
            .iter()
            .zip(&held)
            // A copy elsewhere of another size than the one about to be deleted is no copy.
            .filter(|(_, f)| f.as_ref().is_ok_and(|f| holds(f, key, Some(size))))
            .map(|(h, _)| h.name.clone())
            .collect();
        if (elsewhere.len() as u64) < u64::from(min_copies) {
            let mut holders = vec![target.name.clone()];
            holders.extend(elsewhere);
            plan.keep.push((hash, holders));
        } else {
            plan.delete.push((hash, size));
        }
    }
    Ok(plan)
}

/// Deletes `hashes` from `target`; returns the failures (every one, with the reason, when the
/// remote cannot delete at all: nothing is sent then).
pub async fn delete(target: &Handle, hashes: &[HashInfo]) -> Vec<(HashInfo, RemoteError)> {
    if let Err(e) = target.remote.require(Op::Delete) {
        return hashes.iter().map(|h| (h.clone(), e.clone())).collect();
    }
    let results: Vec<Option<(HashInfo, RemoteError)>> = futures::stream::iter(hashes)
        .map(|h| async move {
            target
                .remote
                .delete(&crate::odb::key(h))
                .await
                .err()
                .map(|e| (h.clone(), e))
        })
        .buffer_unordered(target.remote.jobs())
        .collect()
        .await;
    results.into_iter().flatten().collect()
}
