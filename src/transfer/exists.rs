//! Which objects a remote holds. One LIST per key prefix (`files/md5/ab/`) beats one HEAD per
//! object when many are checked (and on B2 a LIST is a Class C call, not a capped Class B one);
//! remotes that cannot list are asked per object. The remote's stack retries each request on
//! transient failures (as DVC retries its reads), limits how many run at once and charges them
//! to its budget, so one 500 does not fail a whole push or status.
use std::collections::{BTreeSet, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};

use crate::remote::{Presence, RemoteError, Stack};

/// Above this many keys a listable remote is listed rather than asked per key.
pub const LIST_THRESHOLD: usize = 16;

/// The subset of `keys` present on `remote` with their sizes when the check revealed them.
pub async fn present(
    remote: &Stack,
    keys: &[String],
) -> Result<HashMap<String, Option<u64>>, RemoteError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    if remote.capabilities().list && keys.len() > LIST_THRESHOLD {
        return listed(remote, keys).await;
    }
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

/// Whether `found` (the answer of [`present`] or [`listed`]) holds `key` as an object of
/// `expected` bytes: a size the remote revealed that differs is not the object (a web page, a
/// truncated upload), so it counts as absent and gets uploaded again.
pub fn holds(found: &HashMap<String, Option<u64>>, key: &str, expected: Option<u64>) -> bool {
    found
        .get(key)
        .is_some_and(|size| Presence::Present(*size).holds(expected))
}

/// The subset of `keys` present on a listable `remote`, with sizes, by one LIST per key prefix
/// (never a HEAD: on B2 a HEAD is a capped Class B call).
pub async fn listed(
    remote: &Stack,
    keys: &[String],
) -> Result<HashMap<String, Option<u64>>, RemoteError> {
    let prefixes: BTreeSet<String> = keys.iter().map(|k| prefix_of(k)).collect();
    let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let listed: Vec<Vec<(String, u64)>> = futures::stream::iter(prefixes)
        .map(|p| async move { remote.list_sized(&p).await })
        .buffer_unordered(remote.jobs())
        .try_collect()
        .await?;
    Ok(listed
        .into_iter()
        .flatten()
        .filter(|(k, _)| wanted.contains(k.as_str()))
        .map(|(k, n)| (k, Some(n)))
        .collect())
}

/// The listing prefix of a key: everything up to and including its last `/`.
fn prefix_of(key: &str) -> String {
    key.rfind('/')
        .map(|i| key[..=i].to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
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
    }
}
