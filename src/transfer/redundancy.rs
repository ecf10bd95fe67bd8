//! Copies across remotes: how much of the wanted set each remote holds, which objects are on
//! fewer than `redundancy.min_copies` remotes, and which unused objects `gc --cloud` may delete
//! from a remote without leaving fewer than `min_copies` copies. Only remotes count as copies;
//! the local cache of one machine is not a copy anyone else can rely on.
use std::collections::{HashMap, HashSet};

use futures::StreamExt;

use super::Object;
use super::exists::{Found, holds, present, present_ids_and};
use super::id::{Bits, Id, ObjectSet};
use super::remotes::Handle;
use super::wanted::{Root, WantedIds, expand_ids, file_name, root_files};
use crate::hash::HashInfo;
use crate::odb::Odb;
use crate::remote::{ErrorKind, Op, Presence, RemoteError};

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

impl RemoteCopies {
    /// Counts one object that belongs on this remote, as held (`has`) or missing.
    fn count(&mut self, has: bool, size: Option<u64>) {
        if has {
            self.present.add(size)
        } else {
            self.missing.add(size)
        }
    }
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

/// What one remote holds of the wanted set: per file id (in the wanted order) and for the
/// other objects by key.
type Held = Result<(Found, HashMap<String, Option<u64>>), RemoteError>;

/// Whether one remote's answer holds wanted file `i` as an object of `expected` bytes (when
/// known): a copy of another size is no copy.
fn holds_file(found: &Held, i: usize, expected: Option<u64>) -> bool {
    found
        .as_ref()
        .is_ok_and(|(f, _)| f[i].is_some_and(|got| Presence::Present(got).holds(expected)))
}

/// The bits of `wanted`'s files that `roots` bring, and the keys of the other objects they
/// bring.
fn belonging(odb: &Odb, wanted: &WantedIds, roots: &[Root]) -> (Bits, HashSet<String>) {
    let mut bits = Bits::new(wanted.files.len());
    let mine = expand_ids(odb, roots);
    for id in &mine.files {
        if let Ok(i) = wanted.files.binary_search(id) {
            bits.set(i);
        }
    }
    (bits, mine.others().map(Object::key).collect())
}

/// Counts the copies of every wanted object of `roots` (expanded as `wanted`) on every remote
/// in `handles`; each remote's present and missing counts are of what its own roots bring
/// (`handles[i].1`, as `sync` would fill it). Per file only its id, one answer per remote and a
/// bit per remote are held; only the objects on too few remotes are named.
pub async fn replication(
    odb: &Odb,
    roots: &[Root],
    wanted: &WantedIds,
    handles: &[(Handle, Vec<Root>)],
    min_copies: u32,
) -> Replication {
    let other_keys: Vec<String> = wanted.others().map(Object::key).collect();
    let held: Vec<Held> = futures::stream::iter(handles)
        .map(|(h, _)| present_ids_and(&h.remote, &wanted.files, &other_keys))
        .buffered(handles.len().max(1))
        .collect()
        .await;
    // What an object must weigh to count as a copy: from its `.dvc` file or manifest, else the
    // cache; a copy of another size on a remote (cut, or not the object) is no copy.
    let cached = |hash: &HashInfo| std::fs::metadata(odb.path(hash)).ok().map(|m| m.len());
    let expected_file = |id: &Id| {
        wanted
            .recorded
            .get(id)
            .copied()
            .or_else(|| cached(&id.hash()))
    };
    let mut report = Replication {
        min_copies,
        wanted: Count::default(),
        remotes: handles
            .iter()
            .zip(&held)
            .map(|((h, _), found)| RemoteCopies {
                name: h.name.clone(),
                present: Count::default(),
                missing: Count::default(),
                error: found.as_ref().err().cloned(),
            })
            .collect(),
        thin: Vec::new(),
    };
    let belongs: Vec<(Bits, HashSet<String>)> = handles
        .iter()
        .map(|(_, roots)| belonging(odb, wanted, roots))
        .collect();
    let mut thin = Bits::new(wanted.files.len());
    for (i, id) in wanted.files.iter().enumerate() {
        let expected = expected_file(id);
        let told = held.iter().find_map(|h| h.as_ref().ok()?.0[i].flatten());
        let size = expected.or(told);
        report.wanted.add(size);
        let mut holders = 0u64;
        for (r, found) in held.iter().enumerate() {
            let has = holds_file(found, i, expected);
            holders += u64::from(has);
            if belongs[r].0.get(i) {
                report.remotes[r].count(has, size);
            }
        }
        if holders < u64::from(min_copies) {
            thin.set(i);
        }
    }
    let holders_of = |i: usize| -> Vec<String> {
        let expected = expected_file(&wanted.files[i]);
        handles
            .iter()
            .zip(&held)
            .filter(|(_, found)| holds_file(found, i, expected))
            .map(|((h, _), _)| h.name.clone())
            .collect()
    };
    // the files on too few remotes, named as `expand` names them (the first root's name)
    let mut named = Bits::new(wanted.files.len());
    let bad: HashSet<&HashInfo> = wanted.bad_dirs.iter().map(|(o, _)| &o.hash).collect();
    for root in roots.iter().filter(|r| !bad.contains(&r.hash)) {
        let _ = root_files(odb, root, |id, relpath| {
            if let Ok(i) = wanted.files.binary_search(&id)
                && thin.get(i)
                && named.set(i)
            {
                report.thin.push(Thin {
                    object: Object {
                        hash: id.hash(),
                        size: wanted.recorded.get(&id).copied(),
                        out: file_name(root, relpath),
                    },
                    holders: holders_of(i),
                });
            }
        });
    }
    for (o, key) in wanted.others().zip(&other_keys) {
        let expected = o.size.or_else(|| cached(&o.hash));
        let told = held
            .iter()
            .find_map(|h| h.as_ref().ok()?.1.get(key).copied().flatten());
        let size = expected.or(told);
        report.wanted.add(size);
        let mut holders = Vec::new();
        for (r, ((h, _), found)) in handles.iter().zip(&held).enumerate() {
            let has = found.as_ref().is_ok_and(|(_, f)| holds(f, key, expected));
            if has {
                holders.push(h.name.clone());
            }
            if belongs[r].1.contains(key) {
                report.remotes[r].count(has, size);
            }
        }
        if (holders.len() as u64) < u64::from(min_copies) {
            report.thin.push(Thin {
                object: o.clone(),
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
    used: &ObjectSet,
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
