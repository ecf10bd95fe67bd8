//! `status -c`: compare the local cache with one remote, object by object, as DVC reports it
//! (`new` = only local, `deleted` = only remote, `missing` = neither).
use std::collections::{BTreeMap, HashMap, HashSet};

use super::ObjectMeter;
use super::copy::{CopyError, download};
use super::exists::present_ids_and;
use super::id::{Id, not_cached};
use super::remotes::Handle;
use crate::hash::HashInfo;
use crate::odb::{Odb, OdbError};
use crate::remote::{ErrorKind, ReadBudget, RemoteError};
use crate::repo::out::Out;

/// One object's state across cache and remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum CloudState {
    /// Only in the local cache.
    New,
    /// Only on the remote.
    Deleted,
    /// Neither here nor there.
    Missing,
}

impl CloudState {
    /// DVC's word.
    pub fn as_str(self) -> &'static str {
        match self {
            CloudState::New => "new",
            CloudState::Deleted => "deleted",
            CloudState::Missing => "missing",
        }
    }
}

/// Path (as DVC names it: the output, or `output/relpath` for a directory's file) → state, for
/// every object that is not on both sides. Like DVC, a directory's manifest missing from the
/// cache is first downloaded (verified) from the remote, so its files can be compared too.
///
/// Memory stays flat in the number of files: a file is held as its 17-byte [`Id`] while cache
/// and remote are asked, manifests are read as they are parsed (twice: once for the ids, once
/// to name what differs), and only the objects that differ get a name.
pub async fn compare(
    odb: &Odb,
    outs: &[&Out],
    remote: &Handle,
) -> Result<BTreeMap<String, CloudState>, RemoteError> {
    fetch_manifests(odb, outs, remote).await?;
    let cached: Vec<&Out> = outs.iter().copied().filter(|o| o.cache).collect();
    let mut ids = Vec::new();
    // `.dir` manifests (and a hash no id can name): few, held whole with their first name
    let mut others: Vec<(String, HashInfo)> = Vec::new();
    let mut other_seen = HashSet::new();
    let mut unreadable = HashSet::new();
    for (i, out) in cached.iter().enumerate() {
        let before = ids.len();
        let read = each_object(odb, out, |hash, relpath| match hash.id() {
            Some(id) => ids.push(id),
            None => {
                let hash = hash.whole();
                if other_seen.insert(hash.clone()) {
                    others.push((name(out, relpath), hash));
                }
            }
        });
        if read.is_err() {
            // like an output whose objects cannot be known: left out whole
            ids.truncate(before);
            unreadable.insert(i);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let other_keys: Vec<String> = others.iter().map(|(_, h)| crate::odb::key(h)).collect();
    let (there, others_there) = present_ids_and(&remote.remote, &ids, &other_keys).await?;

    let mut differ: HashMap<Id, CloudState> = HashMap::new();
    let lacking = not_cached(odb, &ids);
    for (id, there) in ids.iter().zip(&there) {
        if let Some(state) = state(lacking.binary_search(id).is_err(), there.is_some()) {
            differ.insert(*id, state);
        }
    }
    drop(ids);
    drop(there);
    drop(lacking);
    let mut result = BTreeMap::new();
    for (i, out) in cached.iter().enumerate() {
        if differ.is_empty() {
            break;
        }
        if unreadable.contains(&i) {
            continue;
        }
        // one name per object, the first out's, as dvc's set of objects keeps it
        let _ = each_object(odb, out, |hash, relpath| {
            if let Some(state) = hash.id().and_then(|id| differ.remove(&id)) {
                result.insert(name(out, relpath), state);
            }
        });
    }
    for ((name, hash), key) in others.into_iter().zip(other_keys) {
        if let Some(state) = state(odb.contains(&hash), others_there.contains_key(&key)) {
            result.insert(name, state);
        }
    }
    Ok(result)
}

/// DVC's word for an object by where it is; `None` when it is on both sides.
fn state(local: bool, remote: bool) -> Option<CloudState> {
    match (local, remote) {
        (true, false) => Some(CloudState::New),
        (false, true) => Some(CloudState::Deleted),
        (false, false) => Some(CloudState::Missing),
        (true, true) => None,
    }
}

/// An object as [`each_object`] meets it: an output's own hash, or a manifest entry's md5.
enum Met<'a> {
    Own(&'a HashInfo),
    Entry(&'a str, bool),
}

impl Met<'_> {
    fn id(&self) -> Option<Id> {
        match self {
            Met::Own(hash) => Id::of(hash),
            Met::Entry(md5, legacy) => Id::of_hex(md5, *legacy),
        }
    }

    fn whole(&self) -> HashInfo {
        match self {
            Met::Own(hash) => (*hash).clone(),
            Met::Entry(md5, legacy) => HashInfo {
                md5: md5.to_string(),
                legacy: *legacy,
            },
        }
    }
}

/// Calls `f` for each object of `out` knowable from the cache, in the order of
/// [`super::objects::of_out`]: a directory's selected files (with their relpath), then its
/// `.dir`; a file output's own object (relpath `None`). An error means the manifest could not
/// be read, part of it may have been met.
fn each_object(
    odb: &Odb,
    out: &Out,
    mut f: impl FnMut(Met<'_>, Option<&str>),
) -> Result<(), OdbError> {
    let Some(hash) = out.hash.as_ref() else {
        return Ok(());
    };
    if hash.is_dir() && odb.contains(hash) {
        odb.for_each_entry(hash, |relpath, md5| {
            if out.selects_file(relpath) {
                f(Met::Entry(md5, hash.legacy), Some(relpath));
            }
        })?;
    }
    f(Met::Own(hash), None);
    Ok(())
}

/// How DVC names an object of `out`: the output, or `output/relpath` for a directory's file.
fn name(out: &Out, relpath: Option<&str>) -> String {
    match relpath {
        Some(relpath) => format!("{}/{relpath}", out.rel),
        None => out.rel.clone(),
    }
}

/// Downloads the `.dir` manifests of `outs` that the cache lacks. One the remote does not hold
/// (or holds corrupt) stays absent and shows as missing; a cache that cannot be written only
/// costs the detail of that directory's files.
async fn fetch_manifests(odb: &Odb, outs: &[&Out], remote: &Handle) -> Result<(), RemoteError> {
    let wanted: HashSet<&HashInfo> = outs
        .iter()
        .filter(|o| o.cache && o.is_dir())
        .filter_map(|o| o.hash.as_ref())
        .filter(|h| !odb.contains(h))
        .collect();
    for hash in wanted {
        match download(
            &remote.remote,
            odb,
            hash,
            ReadBudget::default(),
            &ObjectMeter::none(),
        )
        .await
        .0
        {
            Ok(_) => {}
            Err(CopyError::Remote(e))
                if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Corrupt) =>
            {
                tracing::info!(
                    "manifest {hash} not read from remote '{}': {}",
                    remote.name,
                    e.message
                );
            }
            Err(CopyError::Remote(e)) => return Err(e),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    Ok(())
}
