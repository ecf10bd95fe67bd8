//! `status -c`: compare the local cache with one remote, object by object, as DVC reports it
//! (`new` = only local, `deleted` = only remote, `missing` = neither).
use std::collections::{BTreeMap, HashSet};

use super::ObjectMeter;
use super::copy::{CopyError, download};
use super::exists::present;
use super::objects::of_out;
use super::remotes::Handle;
use crate::odb::Odb;
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
pub async fn compare(
    odb: &Odb,
    outs: &[&Out],
    remote: &Handle,
) -> Result<BTreeMap<String, CloudState>, RemoteError> {
    fetch_manifests(odb, outs, remote).await?;
    let mut named: Vec<(String, crate::hash::HashInfo)> = Vec::new();
    let mut seen = HashSet::new();
    for out in outs.iter().filter(|o| o.cache) {
        let Ok((objects, _)) = of_out(odb, out) else {
            continue;
        };
        for o in objects {
            // one name per object, the first out's, as dvc's set of objects keeps it
            if seen.insert(o.hash.clone()) {
                named.push((o.out.clone(), o.hash));
            }
        }
    }
    let keys: Vec<String> = named.iter().map(|(_, h)| crate::odb::key(h)).collect();
    let there = present(&remote.remote, &keys).await?;
    let mut result = BTreeMap::new();
    for ((name, hash), key) in named.into_iter().zip(keys) {
        let local = odb.contains(&hash);
        let remote = there.contains_key(&key);
        let state = match (local, remote) {
            (true, false) => CloudState::New,
            (false, true) => CloudState::Deleted,
            (false, false) => CloudState::Missing,
            (true, true) => continue,
        };
        result.insert(name, state);
    }
    Ok(result)
}

/// Downloads the `.dir` manifests of `outs` that the cache lacks. One the remote does not hold
/// (or holds corrupt) stays absent and shows as missing; a cache that cannot be written only
/// costs the detail of that directory's files.
async fn fetch_manifests(odb: &Odb, outs: &[&Out], remote: &Handle) -> Result<(), RemoteError> {
    let wanted: HashSet<&crate::hash::HashInfo> = outs
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
