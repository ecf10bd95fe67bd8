//! A file object named in 17 bytes without a heap allocation: what push keeps per file of a
//! million-file directory (a [`HashInfo`]'s hex `String` costs ~60 bytes more, an
//! [`super::Object`] with its path ~150).
use std::collections::HashSet;

use crate::hash::HashInfo;

/// A file object (never a `.dir`): its hash kind and binary md5. Ids sort as their keys do
/// (legacy `ab/…` before `files/md5/ab/…`), so sorted ids group by listing prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id {
    /// `true` for a legacy (`md5-dos2unix`) hash, whose key has no `files/md5/` base.
    pub legacy: bool,
    /// The md5.
    pub md5: [u8; 16],
}

impl Ord for Id {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (!self.legacy, self.md5).cmp(&(!other.legacy, other.md5))
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Id {
    /// The id of a file hash; `None` for a `.dir` or a malformed md5.
    pub fn of(hash: &HashInfo) -> Option<Id> {
        Self::of_hex(&hash.md5, hash.legacy)
    }

    /// The id of 32 hex digits of the given kind.
    pub fn of_hex(md5: &str, legacy: bool) -> Option<Id> {
        let mut raw = [0u8; 16];
        hex::decode_to_slice(md5, &mut raw).ok()?;
        Some(Id { legacy, md5: raw })
    }

    /// The id an object key names (a listing's), `None` for a `.dir` or any other file.
    pub fn of_key(key: &str) -> Option<Id> {
        let (legacy, rest) = match key.strip_prefix("files/md5/") {
            Some(rest) => (false, rest),
            None => (true, key),
        };
        let (head, tail) = rest.split_once('/')?;
        if head.len() != 2 || tail.len() != 30 {
            return None;
        }
        let mut hex = [0u8; 32];
        hex[..2].copy_from_slice(head.as_bytes());
        hex[2..].copy_from_slice(tail.as_bytes());
        let mut raw = [0u8; 16];
        hex::decode_to_slice(hex, &mut raw).ok()?;
        Some(Id { legacy, md5: raw })
    }

    /// Its hash, for the cache and messages.
    pub fn hash(&self) -> HashInfo {
        HashInfo {
            md5: hex::encode(self.md5),
            legacy: self.legacy,
        }
    }

    /// Its key in a cache or remote.
    pub fn key(&self) -> String {
        crate::odb::key(&self.hash())
    }

    /// The listing prefix its key lies under (`files/md5/ab/`, `ab/` for a legacy one).
    pub fn prefix(&self) -> String {
        let head = hex::encode(&self.md5[..1]);
        if self.legacy {
            format!("{head}/")
        } else {
            format!("files/md5/{head}/")
        }
    }
}

/// A set of objects a million files cost 17 MB in, for membership tests (what gc keeps): files
/// as sorted ids, the few others (`.dir` manifests, a hash no id can name) whole.
#[derive(Debug, Default)]
pub struct ObjectSet {
    ids: Vec<Id>,
    others: HashSet<HashInfo>,
}

impl ObjectSet {
    /// The set of `ids` (in any order, repeats allowed) and `others`.
    pub fn new(mut ids: Vec<Id>, others: HashSet<HashInfo>) -> ObjectSet {
        ids.sort_unstable();
        ids.dedup();
        ObjectSet { ids, others }
    }

    /// Whether `hash` is in the set.
    pub fn contains(&self, hash: &HashInfo) -> bool {
        self.others.contains(hash)
            || Id::of(hash).is_some_and(|id| self.ids.binary_search(&id).is_ok())
    }
}

/// The ids of `ids` (sorted) that the cache `odb` lacks, sorted: a directory listing per
/// two-digit cache directory in place of a stat per object.
pub fn not_cached(odb: &crate::odb::Odb, ids: &[Id]) -> Vec<Id> {
    let mut lacking = Vec::new();
    // legacy ids sort first
    for legacy in [true, false] {
        let md5s: Vec<[u8; 16]> = ids
            .iter()
            .filter(|id| id.legacy == legacy)
            .map(|id| id.md5)
            .collect();
        lacking.extend(
            odb.missing_raw(legacy, &md5s)
                .into_iter()
                .map(|md5| Id { legacy, md5 }),
        );
    }
    lacking.sort_unstable();
    lacking
}

/// One bit per index of a sorted id list: what a report over a million files keeps per file
/// and remote (125 KB), in place of a set of hashes.
pub struct Bits(Vec<u64>);

impl Bits {
    /// `n` bits, all clear.
    pub fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }

    /// Sets bit `i`; whether it was clear.
    pub fn set(&mut self, i: usize) -> bool {
        let was = self.get(i);
        self.0[i / 64] |= 1 << (i % 64);
        !was
    }

    /// Clears bit `i`.
    pub fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }

    /// Whether bit `i` is set.
    pub fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::Id;
    use crate::hash::HashInfo;

    #[test]
    fn an_id_and_its_key_round_trip() {
        for legacy in [false, true] {
            let hash = HashInfo {
                md5: "d8e8fca2dc0f896fd7cb4cb0031ba249".into(),
                legacy,
            };
            let id = Id::of(&hash).expect("a file hash");
            assert_eq!(id.hash(), hash);
            assert_eq!(id.key(), crate::odb::key(&hash));
            assert_eq!(Id::of_key(&id.key()), Some(id));
            assert!(id.key().starts_with(&id.prefix()));
        }
        assert_eq!(
            Id::of(&HashInfo::md5("d8e8fca2dc0f896fd7cb4cb0031ba249.dir")),
            None
        );
        assert_eq!(
            Id::of_key("files/md5/d8/e8fca2dc0f896fd7cb4cb0031ba249.dir"),
            None
        );
        assert_eq!(Id::of_key("files/md5/d8/.tmp"), None);
    }

    #[test]
    fn ids_sort_as_their_keys() {
        let ids: Vec<Id> = [
            ("ff000000000000000000000000000000", false),
            ("00000000000000000000000000000000", true),
            ("0f000000000000000000000000000000", false),
            ("ff000000000000000000000000000001", true),
        ]
        .into_iter()
        .map(|(h, legacy)| Id::of_hex(h, legacy).unwrap())
        .collect();
        let mut by_id = ids.clone();
        by_id.sort();
        let mut by_key = ids;
        by_key.sort_by_key(Id::key);
        assert_eq!(by_id, by_key);
    }
}
