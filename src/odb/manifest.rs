//! `.dir` manifests: the JSON list of a directory's files, byte-identical to DVC's
//! `json.dumps(sorted_entries, sort_keys=True)` (dvc-format.md §2).
use std::fmt::Write as _;

/// One file of a tracked directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the directory, `/`-separated.
    pub relpath: String,
    /// The file's md5 (32 lowercase hex digits).
    pub md5: String,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON, or not a list of `{md5, relpath}`.
    #[error("malformed directory manifest: {0}")]
    Malformed(String),
    /// A path that would leave the directory or is otherwise unsafe to create.
    #[error(
        "directory manifest has an unsafe path '{0}' (absolute, '..', empty, NUL, .git or .dvc component)"
    )]
    UnsafePath(String),
}

/// Sorts entries as DVC does (by relpath in code-point order, i.e. UTF-8 byte order).
pub fn sort(entries: &mut [Entry]) {
    entries.sort_unstable_by(|a, b| a.relpath.as_bytes().cmp(b.relpath.as_bytes()));
}

/// Serializes sorted entries exactly as DVC 3 writes a `.dir` object.
pub fn to_json(entries: &[Entry]) -> Vec<u8> {
    to_json_pairs(
        entries.len(),
        entries.iter().map(|e| (e.relpath.as_str(), e.md5.as_str())),
    )
}

/// [`to_json`] of sorted `(relpath, md5)` pairs borrowed from elsewhere (no `Entry` copies of
/// a million paths); `len` sizes the buffer.
pub fn to_json_pairs<R: AsRef<str>, M: AsRef<str>>(
    len: usize,
    entries: impl Iterator<Item = (R, M)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(len * 80 + 2);
    stream_json_pairs(entries, |piece| out.extend_from_slice(piece));
    out
}

/// The md5 of the bytes [`to_json_pairs`] would return, without holding them (a million-file
/// directory's manifest is about 80 MB).
pub fn md5_of_pairs<R: AsRef<str>, M: AsRef<str>>(entries: impl Iterator<Item = (R, M)>) -> String {
    let mut md5 = crate::hash::md5::Md5::new();
    stream_json_pairs(entries, |piece| md5.update(piece));
    crate::hash::hex_digest(md5)
}

/// Bytes of JSON [`stream_json_pairs`] gathers before handing them on.
const PIECE: usize = 64 << 10;

/// The JSON of sorted `(relpath, md5)` pairs as DVC writes a `.dir`, handed to `sink` in
/// pieces of about [`PIECE`] bytes.
pub fn stream_json_pairs<R: AsRef<str>, M: AsRef<str>>(
    entries: impl Iterator<Item = (R, M)>,
    mut sink: impl FnMut(&[u8]),
) {
    let mut out = String::with_capacity(PIECE + 1024);
    out.push('[');
    for (i, (relpath, md5)) in entries.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("{\"md5\": ");
        py_json_string(&mut out, md5.as_ref());
        out.push_str(", \"relpath\": ");
        py_json_string(&mut out, relpath.as_ref());
        out.push('}');
        if out.len() >= PIECE {
            sink(out.as_bytes());
            out.clear();
        }
    }
    out.push(']');
    sink(out.as_bytes());
}

/// Python's `json.dumps` string encoding with `ensure_ascii=True` (also used for `--json`).
pub fn py_json_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut buf = [0u16; 2];
                for unit in ch.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// One entry as it appears in a `.dir` object, borrowed from its bytes where no escape was
/// decoded (parsing a million entries builds no JSON tree).
#[derive(serde::Deserialize)]
struct RawEntry<'a> {
    #[serde(borrow)]
    md5: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    relpath: Option<std::borrow::Cow<'a, str>>,
}

/// Parses a `.dir` object, rejecting any entry whose path could escape the directory.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, ManifestError> {
    let mut entries = Vec::new();
    for_each(bytes, |relpath, md5| {
        entries.push(Entry {
            relpath: relpath.to_string(),
            md5: md5.to_ascii_lowercase(),
        });
    })?;
    Ok(entries)
}

/// The md5s a `.dir` object lists, 16 bytes each, in its order (what a completeness check
/// needs of a million-file manifest: 16 MB instead of its entries' strings).
pub fn md5s(bytes: &[u8]) -> Result<Vec<[u8; 16]>, ManifestError> {
    let mut out = Vec::new();
    for_each(bytes, |_, md5| {
        let mut raw = [0u8; 16];
        // checked to be 32 hex digits by `for_each`
        if hex::decode_to_slice(md5, &mut raw).is_ok() {
            out.push(raw);
        }
    })?;
    Ok(out)
}

/// Calls `f(relpath, md5)` for each entry of a `.dir` object as it is parsed (nothing but the
/// current entry is held), after the checks [`parse`] makes: 32 hex digits, a safe path.
pub fn for_each(bytes: &[u8], f: impl FnMut(&str, &str)) -> Result<(), ManifestError> {
    each_of(serde_json::Deserializer::from_slice(bytes), f)
}

/// [`for_each`] over a manifest read from `reader` as it is parsed: a million-file manifest
/// (about 80 MB) is never held whole, only the current entry.
pub fn for_each_read(
    reader: impl std::io::Read,
    f: impl FnMut(&str, &str),
) -> Result<(), ManifestError> {
    let reader = std::io::BufReader::with_capacity(1 << 18, reader);
    each_of(serde_json::Deserializer::from_reader(reader), f)
}

/// The parse both [`for_each`] and [`for_each_read`] make.
fn each_of<'r, R: serde_json::de::Read<'r>>(
    mut de: serde_json::Deserializer<R>,
    f: impl FnMut(&str, &str),
) -> Result<(), ManifestError> {
    use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};

    /// The callback, and the refusal that stopped the parse (serde's errors carry text only).
    struct Each<F>(F, Option<ManifestError>);
    impl<'de, F: FnMut(&str, &str)> Visitor<'de> for &mut Each<F> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of {md5, relpath}")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(item) = seq.next_element::<RawEntry>()? {
                let refused = match (&item.md5, &item.relpath) {
                    (None, _) => Some(ManifestError::Malformed("an entry has no md5".into())),
                    (_, None) => Some(ManifestError::Malformed("an entry has no relpath".into())),
                    (Some(md5), _)
                        if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) =>
                    {
                        Some(ManifestError::Malformed(format!("bad md5 '{md5}'")))
                    }
                    (_, Some(relpath)) => check_relpath(relpath).err(),
                };
                if let Some(e) = refused {
                    self.1 = Some(e);
                    return Err(A::Error::custom("refused entry"));
                }
                if let (Some(md5), Some(relpath)) = (&item.md5, &item.relpath) {
                    (self.0)(relpath, md5);
                }
            }
            Ok(())
        }
    }
    impl<'de, F: FnMut(&str, &str)> DeserializeSeed<'de> for &mut Each<F> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    let mut each = Each(f, None);
    let parsed = (&mut each).deserialize(&mut de).and_then(|()| de.end());
    match (parsed, each.1) {
        (_, Some(refused)) => Err(refused),
        (Ok(()), None) => Ok(()),
        (Err(e), None) => Err(ManifestError::Malformed(e.to_string())),
    }
}

/// Refuses absolute paths, `..`, `.`, empty components, NUL, and `.git`/`.dvc` components
/// (Ferry never lists those when adding, so a manifest holding one was made to plant a git hook
/// or a DVC config; dvc does not check this).
pub fn check_relpath(relpath: &str) -> Result<(), ManifestError> {
    let bad = relpath.is_empty()
        || relpath.starts_with('/')
        || relpath.contains('\0')
        || relpath
            .split('/')
            .any(|c| matches!(c, "" | "." | ".." | ".git" | ".dvc"));
    if bad {
        Err(ManifestError::UnsafePath(relpath.to_string()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(relpath: &str, md5: &str) -> Entry {
        Entry {
            relpath: relpath.into(),
            md5: md5.into(),
        }
    }

    #[test]
    fn worked_example_2_is_byte_identical() {
        let mut entries = vec![
            e("a.txt", "7fc56270e7a70fa81a5935b72eacbe29"),
            e("a/b.txt", "9d5ed678fe57bcca610140957afab571"),
            e("a-b.txt", "0d61f8370cad1d412f80b84d143e1257"),
            e("B.txt", "f623e75af30e62bbd73d6df5b50bb7b5"),
            e("é.txt", "3a3ea00cfc35332cedf6e5e9a32e94da"),
            e("a0", "800618943025315f869e4e1f09471012"),
        ];
        sort(&mut entries);
        let json = to_json(&entries);
        assert_eq!(
            crate::hash::md5_bytes(&json),
            "31b4c1ee57f29e2abc2d28f9b32ed790"
        );
        assert_eq!(
            md5_of_pairs(entries.iter().map(|e| (e.relpath.as_str(), e.md5.as_str()))),
            "31b4c1ee57f29e2abc2d28f9b32ed790"
        );
        assert_eq!(parse(&json).unwrap(), entries);
    }

    #[test]
    fn a_long_manifest_streamed_in_pieces_hashes_as_its_bytes() {
        let entries: Vec<Entry> = (0..5000)
            .map(|i| e(&format!("d/é{i:05}"), &format!("{i:032x}")))
            .collect();
        let pairs = || entries.iter().map(|e| (e.relpath.as_str(), e.md5.as_str()));
        let json = to_json_pairs(entries.len(), pairs());
        assert!(json.len() > 3 * PIECE, "{} bytes", json.len());
        assert_eq!(md5_of_pairs(pairs()), crate::hash::md5_bytes(&json));
        assert_eq!(parse(&json).unwrap(), entries);
        let raw = md5s(&json).unwrap();
        assert_eq!(raw.len(), 5000);
        assert_eq!(hex::encode(raw[4999]), entries[4999].md5);
    }

    #[test]
    fn empty_dir_hash() {
        assert_eq!(
            crate::hash::md5_bytes(&to_json(&[])),
            "d751713988987e9331980363e24189ce"
        );
    }

    #[test]
    fn non_bmp_becomes_a_surrogate_pair() {
        let json =
            String::from_utf8(to_json(&[e("😀", "00000000000000000000000000000000")])).unwrap();
        assert!(json.contains("\\ud83d\\ude00"), "{json}");
    }

    #[test]
    fn a_manifest_read_as_it_streams_is_parsed_and_checked_the_same() {
        let text = br#"[{"md5": "7fc56270e7a70fa81a5935b72eacbe29", "relpath": "a\u00e9/b\"q.txt"},
            {"md5": "9D5ED678FE57BCCA610140957AFAB571", "relpath": "c.txt"}]"#;
        let mut from_slice = Vec::new();
        for_each(text, |r, m| from_slice.push((r.to_string(), m.to_string()))).unwrap();
        let mut streamed = Vec::new();
        for_each_read(&text[..], |r, m| {
            streamed.push((r.to_string(), m.to_string()))
        })
        .unwrap();
        assert_eq!(streamed, from_slice);
        assert_eq!(streamed[0].0, "a\u{e9}/b\"q.txt");
        for bad in [
            &br#"[{"md5": "7fc56270e7a70fa81a5935b72eacbe29", "relpath": "../x"}]"#[..],
            br#"[{"md5": "7fc5", "relpath": "x"}]"#,
            br#"[{"md5": "7fc56270e7a70fa81a5935b72eacbe29", "relpath": "x"}] trailing"#,
        ] {
            let streamed = for_each_read(bad, |_, _| {}).map_err(|e| e.to_string());
            let sliced = for_each(bad, |_, _| {}).map_err(|e| e.to_string());
            assert!(streamed.is_err(), "{}", String::from_utf8_lossy(bad));
            assert_eq!(streamed, sliced);
        }
    }

    #[test]
    fn escaping_paths_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "",
            "a/./b",
            "x\0y",
            ".git/hooks/pre-commit",
            "sub/.dvc/config",
        ] {
            let json = format!(
                r#"[{{"md5": "00000000000000000000000000000000", "relpath": {}}}]"#,
                serde_json::to_string(bad).unwrap()
            );
            assert!(
                matches!(parse(json.as_bytes()), Err(ManifestError::UnsafePath(p)) if p == bad),
                "{bad:?} accepted"
            );
            assert!(md5s(json.as_bytes()).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn deep_json_is_refused_by_serde_jsons_recursion_limit() {
        let deep = "[".repeat(100_000);
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(ManifestError::Malformed(_))
        ));
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn parse_never_panics(text in crate::fuzz::text()) {
            let _ = parse(text.as_bytes());
        }

        #[test]
        fn parse_never_panics_near_valid_manifests(text in crate::fuzz::mutated(&[
            r#"[{"md5": "7fc56270e7a70fa81a5935b72eacbe29", "relpath": "a.txt"}, {"md5": "9d5ed678fe57bcca610140957afab571", "relpath": "a/b.txt"}]"#,
            r#"[{"md5": "00000000000000000000000000000000", "relpath": "\u00e9/\ud83d\ude00"}]"#,
        ])) {
            if let Ok(entries) = parse(text.as_bytes()) {
                for e in entries {
                    proptest::prop_assert!(check_relpath(&e.relpath).is_ok());
                }
            }
        }
    }
}
