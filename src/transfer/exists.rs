//! Which objects a remote holds: the one existence policy of push, `status -c`/`--remotes`,
//! sync, `gc --cloud` and fetch. Per remote it picks the cheapest way by counting requests:
//!
//! * a remote that cannot list is asked per key (HEAD);
//! * a listable one is first listed under one key prefix (`files/md5/ab/`, one LIST); the
//!   number found there, times the 256 prefixes, estimates the remote's size (as dvc does from
//!   one prefix). Then whichever costs fewer requests: the other prefixes one LIST each, one
//!   walk of the whole remote (1,000 keys a page), or one HEAD per key left;
//! * a remote whose download cap is exhausted refuses HEADs but not LISTs (B2 bills a LIST as
//!   Class C), so a capped remote, or one that answers a HEAD with its cap, is listed instead.
//!
//! So `status -c` of N objects costs at most ceil(remote objects / 1,000) + 2 LISTs, or fewer
//! HEADs. The remote's stack retries each request on transient failures, limits how many run
//! at once and charges them to its budget.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};

use super::id::Id;
use crate::remote::{ErrorKind, Presence, RemoteError, Stack};

/// Keys a LIST page returns (S3's ListObjectsV2, B2's, dvc's `LIST_OBJECT_PAGE_SIZE`).
pub const LIST_PAGE: u64 = 1000;

/// Key prefixes under one base (`00/` … `ff/`): the fan-out of DVC's layout.
const FANOUT: u64 = 256;

/// A walk's answer is held whole until it is sorted through; one expected to bring more keys
/// than this is split into its prefixes (one answer each) when they cost at most an eighth
/// more requests, so checking a million-object remote holds a prefix's keys at a time.
const WALK_MAX: u64 = 100_000;

/// Which of `keys` `remote` holds, with their sizes where the answer told them.
pub async fn present(
    remote: &Stack,
    keys: &[String],
) -> Result<HashMap<String, Option<u64>>, RemoteError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    if !remote.capabilities().list {
        return heads(remote, keys).await;
    }
    if remote.is_capped() {
        return listed(remote, keys).await;
    }
    if keys.len() == 1 {
        return match heads(remote, keys).await {
            Err(e) if e.kind == ErrorKind::Quota => listed(remote, keys).await,
            other => other,
        };
    }
    check(remote, keys, true).await
}

/// Which of `keys` a listable `remote` holds, with sizes, by LIST only (never a HEAD: on B2 a
/// HEAD is a capped Class B call, and a listing tells the sizes a budget planner needs).
pub async fn listed(
    remote: &Stack,
    keys: &[String],
) -> Result<HashMap<String, Option<u64>>, RemoteError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    check(remote, keys, false).await
}

/// Whether `found` (the answer of [`present`] or [`listed`]) holds `key` as an object of
/// `expected` bytes: a size the remote revealed that differs is not the object (a web page, a
/// truncated upload), so it counts as absent and gets uploaded again.
pub fn holds(found: &HashMap<String, Option<u64>>, key: &str, expected: Option<u64>) -> bool {
    found
        .get(key)
        .is_some_and(|size| Presence::Present(*size).holds(expected))
}

/// How to check the keys left after the first prefix's listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// One LIST per remaining prefix.
    Prefixes,
    /// One walk of each base (`files/md5/`), page by page.
    Walk,
    /// One HEAD per remaining key.
    Heads,
}

/// The cheapest way, in requests, to check `left_keys` keys under `left_prefixes` prefixes
/// (over `bases` bases) after one prefix listed `sample` keys. `heads_allowed` is false for a
/// LIST-only check.
fn choose(sample: u64, left_prefixes: u64, left_keys: u64, bases: u64, heads_allowed: bool) -> Way {
    let pages = |n: u64| n.div_ceil(LIST_PAGE).max(1);
    let prefixes = left_prefixes * pages(sample);
    let walk = bases * pages(sample.max(1) * FANOUT);
    let heads = if heads_allowed { left_keys } else { u64::MAX };
    let walk_too_big = sample.saturating_mul(FANOUT) > WALK_MAX && prefixes <= walk + walk / 8;
    if heads <= prefixes.min(walk) {
        Way::Heads
    } else if walk < prefixes && !walk_too_big {
        Way::Walk
    } else {
        Way::Prefixes
    }
}

async fn check(
    remote: &Stack,
    keys: &[String],
    heads_allowed: bool,
) -> Result<HashMap<String, Option<u64>>, RemoteError> {
    // prefix → its keys; prefixes grouped by base
    let mut by_prefix: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for k in keys {
        by_prefix.entry(prefix_of(k)).or_default().push(k);
    }
    let bases: BTreeSet<String> = by_prefix.keys().map(|p| base_of(p)).collect();
    let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let keep = |listed: Vec<(String, u64)>, found: &mut HashMap<String, Option<u64>>| {
        found.extend(
            listed
                .into_iter()
                .filter(|(k, _)| wanted.contains(k.as_str()))
                .map(|(k, n)| (k, Some(n))),
        );
    };
    let mut found = HashMap::new();
    let mut prefixes = by_prefix.into_iter();
    let Some((first, _)) = prefixes.next() else {
        return Ok(found);
    };
    let sample = remote.list_sized(&first).await?;
    let sample_n = sample.len() as u64;
    keep(sample, &mut found);
    let rest: Vec<(String, Vec<&String>)> = prefixes.collect();
    if rest.is_empty() {
        return Ok(found);
    }
    let left_keys: u64 = rest.iter().map(|(_, ks)| ks.len() as u64).sum();
    let way = choose(
        sample_n,
        rest.len() as u64,
        left_keys,
        bases.len() as u64,
        heads_allowed,
    );
    tracing::debug!(
        "remote '{}': {left_keys} keys under {} more prefixes, {sample_n} objects under {first}: {way:?}",
        remote.name(),
        rest.len()
    );
    match way {
        Way::Heads => {
            let left: Vec<String> = rest
                .iter()
                .flat_map(|(_, ks)| ks.iter().map(|k| (*k).clone()))
                .collect();
            match heads(remote, &left).await {
                Ok(more) => found.extend(more),
                // the cap answered a HEAD: LISTs still go
                Err(e) if e.kind == ErrorKind::Quota => {
                    let more = lists(remote, rest.into_iter().map(|(p, _)| p)).await?;
                    keep(more, &mut found);
                }
                Err(e) => return Err(e),
            }
        }
        Way::Prefixes => keep(
            lists(remote, rest.into_iter().map(|(p, _)| p)).await?,
            &mut found,
        ),
        Way::Walk => keep(lists(remote, bases.into_iter()).await?, &mut found),
    }
    Ok(found)
}

/// Which of `ids` (sorted, each once) `remote` holds, by the policy of [`present`], in the
/// compact form push needs at a million files: per id, in its order, `None` when absent, else
/// the size the answer told. Listings are sorted through as they arrive, never gathered.
pub async fn present_ids(remote: &Stack, ids: &[Id]) -> Result<Found, RemoteError> {
    Ok(check_ids(remote, ids, &HashSet::new()).await?.found)
}

/// [`present_ids`] of `ids`, and [`present`] of a few `extra` keys (`.dir` manifests) beside
/// them: an extra key under a prefix the ids' check listed is answered by that listing, so it
/// costs no request of its own (no HEAD where a LIST already told).
pub async fn present_ids_and(
    remote: &Stack,
    ids: &[Id],
    extra: &[String],
) -> Result<(Found, HashMap<String, Option<u64>>), RemoteError> {
    let wanted: HashSet<&str> = extra.iter().map(String::as_str).collect();
    let mut checked = check_ids(remote, ids, &wanted).await?;
    let untold: Vec<String> = extra
        .iter()
        .filter(|k| !checked.listed.iter().any(|p| k.starts_with(p.as_str())))
        .cloned()
        .collect();
    checked.extra.extend(present(remote, &untold).await?);
    Ok((checked.found, checked.extra))
}

/// Per id, in its order: `None` when absent, else the size the answer told (if it did).
pub type Found = Vec<Option<Option<u64>>>;

/// What [`check_ids`] learnt: the ids' answer, the extra keys its listings named, and the
/// prefixes (or bases) it listed, under which an extra key not named is absent.
struct Checked {
    found: Found,
    extra: HashMap<String, Option<u64>>,
    listed: Vec<String>,
}

async fn check_ids(
    remote: &Stack,
    ids: &[Id],
    extra: &HashSet<&str>,
) -> Result<Checked, RemoteError> {
    let mut seen = Checked {
        found: vec![None; ids.len()],
        extra: HashMap::new(),
        listed: Vec::new(),
    };
    if ids.is_empty() {
        return Ok(seen);
    }
    let can_list = remote.capabilities().list;
    if !can_list || (ids.len() == 1 && !remote.is_capped()) {
        match head_ids(remote, ids, (0..ids.len()).collect(), seen.found).await {
            Err(e) if can_list && e.kind == ErrorKind::Quota => seen.found = vec![None; ids.len()],
            other => {
                seen.found = other?;
                return Ok(seen);
            }
        }
    }
    let heads_allowed = !remote.is_capped();
    let groups: Vec<std::ops::Range<usize>> = {
        let mut groups = Vec::new();
        let mut start = 0;
        for i in 1..=ids.len() {
            let same = |a: &Id, b: &Id| a.legacy == b.legacy && a.md5[0] == b.md5[0];
            if i == ids.len() || !same(&ids[i - 1], &ids[i]) {
                groups.push(start..i);
                start = i;
            }
        }
        groups
    };
    let bases = 1 + u64::from(ids.first().map(|i| i.legacy) != ids.last().map(|i| i.legacy));
    let first = ids[groups[0].start].prefix();
    let sample = remote.list_sized(&first).await?;
    let sample_n = sample.len() as u64;
    mark(ids, extra, sample, &mut seen);
    seen.listed.push(first);
    let rest = &groups[1..];
    if rest.is_empty() {
        return Ok(seen);
    }
    let left_keys: u64 = rest.iter().map(|g| g.len() as u64).sum();
    let way = choose(sample_n, rest.len() as u64, left_keys, bases, heads_allowed);
    tracing::debug!(
        "remote '{}': {left_keys} keys under {} more prefixes, {sample_n} objects in the first: {way:?}",
        remote.name(),
        rest.len()
    );
    let prefixes = || rest.iter().map(|g| ids[g.start].prefix()).collect();
    match way {
        Way::Heads => {
            let left: Vec<usize> = rest.iter().flat_map(|g| g.clone()).collect();
            match head_ids(remote, ids, left, seen.found.clone()).await {
                Ok(more) => {
                    seen.found = more;
                    Ok(seen)
                }
                Err(e) if e.kind == ErrorKind::Quota => {
                    list_ids(remote, prefixes(), ids, extra, seen).await
                }
                Err(e) => Err(e),
            }
        }
        Way::Prefixes => list_ids(remote, prefixes(), ids, extra, seen).await,
        Way::Walk => {
            let mut walks: Vec<String> = ids
                .iter()
                .map(|i| {
                    if i.legacy {
                        String::new()
                    } else {
                        "files/md5/".into()
                    }
                })
                .collect();
            walks.dedup();
            list_ids(remote, walks, ids, extra, seen).await
        }
    }
}

/// Sets, in `seen`, the ids of `ids` and the `extra` keys that `listed` names (with their sizes).
fn mark(ids: &[Id], extra: &HashSet<&str>, listed: Vec<(String, u64)>, seen: &mut Checked) {
    for (key, size) in listed {
        if let Some(i) = Id::of_key(&key).and_then(|id| ids.binary_search(&id).ok()) {
            seen.found[i] = Some(Some(size));
        } else if extra.contains(key.as_str()) {
            seen.extra.insert(key, Some(size));
        }
    }
}

/// [`check_ids`] by listing each of `prefixes`, the listings running at once, each sorted
/// through as it arrives.
async fn list_ids(
    remote: &Stack,
    prefixes: Vec<String>,
    ids: &[Id],
    extra: &HashSet<&str>,
    mut seen: Checked,
) -> Result<Checked, RemoteError> {
    seen.listed.extend(prefixes.iter().cloned());
    futures::stream::iter(prefixes)
        .map(|p| async move { remote.list_sized(&p).await })
        .buffer_unordered(remote.jobs())
        .try_fold(seen, |mut seen, listed| async move {
            mark(ids, extra, listed, &mut seen);
            Ok(seen)
        })
        .await
}

/// [`present_ids`] by one HEAD per id of `ids` at the indexes `which`, as many at once as the
/// remote's jobs.
async fn head_ids(
    remote: &Stack,
    ids: &[Id],
    which: Vec<usize>,
    found: Found,
) -> Result<Found, RemoteError> {
    futures::stream::iter(which)
        .map(|i| async move { remote.stat(&ids[i].key()).await.map(|p| (i, p)) })
        .buffer_unordered(remote.jobs())
        .try_fold(found, |mut found, (i, p)| async move {
            if let Presence::Present(size) = p {
                found[i] = Some(size);
            }
            Ok(found)
        })
        .await
}

/// Every key under each of `prefixes`, with sizes, the listings running at once.
async fn lists(
    remote: &Stack,
    prefixes: impl Iterator<Item = String>,
) -> Result<Vec<(String, u64)>, RemoteError> {
    let listed: Vec<Vec<(String, u64)>> = futures::stream::iter(prefixes)
        .map(|p| async move { remote.list_sized(&p).await })
        .buffer_unordered(remote.jobs())
        .try_collect()
        .await?;
    Ok(listed.into_iter().flatten().collect())
}

/// One HEAD per key, as many at once as the remote's jobs.
async fn heads(
    remote: &Stack,
    keys: &[String],
) -> Result<HashMap<String, Option<u64>>, RemoteError> {
    let found: Vec<Option<(String, Option<u64>)>> = futures::stream::iter(keys)
        .map(|k| async move {
            remote.stat(k).await.map(|p| match p {
                Presence::Absent => None,
                Presence::Present(size) => Some((k.clone(), size)),
            })
        })
        .buffer_unordered(remote.jobs())
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// The listing prefix of a key: everything up to and including its last `/`.
fn prefix_of(key: &str) -> String {
    key.rfind('/')
        .map(|i| key[..=i].to_string())
        .unwrap_or_default()
}

/// The base a prefix fans out from: `files/md5/ab/` → `files/md5/`, `ab/` → `` (the root).
fn base_of(prefix: &str) -> String {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    prefix_of(trimmed)
}

#[cfg(test)]
mod tests {
    use super::{Way, choose};
    use std::collections::HashMap;

    #[test]
    fn a_revealed_size_must_match() {
        let found: HashMap<String, Option<u64>> = [("a".into(), Some(5)), ("b".into(), None)]
            .into_iter()
            .collect();
        assert!(super::holds(&found, "a", Some(5)));
        assert!(
            !super::holds(&found, "a", Some(6)),
            "a page of another length"
        );
        assert!(super::holds(&found, "a", None));
        assert!(super::holds(&found, "b", Some(6)), "size not revealed");
        assert!(!super::holds(&found, "c", None));
    }

    #[test]
    fn prefixes() {
        assert_eq!(super::prefix_of("files/md5/ab/cdef"), "files/md5/ab/");
        assert_eq!(super::prefix_of("ab/cdef"), "ab/");
        assert_eq!(super::base_of("files/md5/ab/"), "files/md5/");
        assert_eq!(super::base_of("ab/"), "");
    }

    #[test]
    fn the_cheapest_way_by_requests() {
        // 2,000 wanted objects on a remote of ~2,000: 8 in the sampled prefix, 255 prefixes
        // left; a walk is 3 pages, against 255 LISTs or 1,992 HEADs.
        assert_eq!(choose(8, 255, 1992, 1, true), Way::Walk);
        // 3 wanted objects on a big remote (40 per prefix): 2 HEADs beat 2 LISTs or a walk.
        assert_eq!(choose(40, 2, 2, 1, true), Way::Heads);
        assert_eq!(choose(40, 2, 2, 1, false), Way::Prefixes);
        // 300 objects on a remote of 2.5 million (10,000 per prefix): 300 HEADs, not 2,500
        // pages; LIST-only takes the prefixes (10 pages each) over the walk.
        assert_eq!(choose(10_000, 299, 300, 1, true), Way::Heads);
        assert_eq!(choose(10_000, 200, 300, 1, false), Way::Prefixes);
        // an empty sampled prefix still counts the walk as one page
        assert_eq!(choose(0, 100, 150, 1, true), Way::Walk);
    }
}
