//! `.dvc` files: reading any valid YAML, writing new ones byte-identical to `dvc add`, and
//! updating existing ones in place so comments, `desc`, `meta` and key order survive
//! (dvc-format.md §1).
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::yaml::write_value;
use crate::hash::HashInfo;

/// A `.dvc` file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DvcFileError {
    /// Not readable.
    #[error("cannot read '{path}': {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not valid YAML or not DVC's schema.
    #[error("'{path}' is not a valid .dvc file: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl crate::error::Hint for DvcFileError {
    fn hint(&self) -> Option<String> {
        match self {
            DvcFileError::Invalid { path, .. } => Some(format!(
                "fix '{}' by hand, or restore it with `git checkout -- {}`",
                path.display(),
                path.display()
            )),
            DvcFileError::Read { .. } => None,
        }
    }
}

/// One `outs` entry as read from a `.dvc` file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutEntry {
    /// `path:`, relative to the `.dvc` file's directory.
    pub path: String,
    /// `md5:` (lowercased), if any.
    pub md5: Option<String>,
    /// `hash: md5` present (DVC 3) or absent (legacy 2.x).
    pub hash_md5: bool,
    /// `size:`.
    pub size: Option<u64>,
    /// `nfiles:`.
    pub nfiles: Option<u64>,
    /// `isexec: true`.
    pub isexec: bool,
    /// `cache:` (default true).
    pub cache: bool,
    /// `remote:`.
    pub remote: Option<String>,
    /// `push:` (default true).
    pub push: bool,
}

impl OutEntry {
    /// The recorded hash, if any.
    pub fn hash(&self) -> Option<HashInfo> {
        self.md5.as_ref().map(|m| HashInfo {
            md5: m.clone(),
            legacy: !self.hash_md5,
        })
    }
}

/// Parses a `.dvc` file's text into its outs.
pub fn parse(text: &str, path: &Path) -> Result<Vec<OutEntry>, DvcFileError> {
    let invalid = |message: String| DvcFileError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    super::yaml::check_depth(text).map_err(invalid)?;
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let map = match &doc {
        Value::Mapping(m) => m,
        Value::Null => return Err(invalid("the file is empty".into())),
        _ => return Err(invalid("expected a mapping at the top level".into())),
    };
    let outs = match map.get("outs") {
        Some(Value::Sequence(s)) => s,
        Some(_) => return Err(invalid("'outs' must be a list".into())),
        None => return Ok(Vec::new()),
    };
    outs.iter()
        .enumerate()
        .map(|(i, v)| parse_out(v).map_err(|m| invalid(format!("outs[{i}]: {m}"))))
        .collect()
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_out(v: &Value) -> Result<OutEntry, String> {
    let m = v.as_mapping().ok_or("expected a mapping")?;
    let path = m
        .get("path")
        .and_then(scalar_string)
        .ok_or("missing 'path'")?;
    if path.is_empty() || path.contains('\0') {
        return Err("empty or invalid 'path'".into());
    }
    let md5 = m
        .get("md5")
        .map(|v| scalar_string(v).ok_or("'md5' must be a string"))
        .transpose()?
        .map(|s| s.to_lowercase());
    if let Some(md5) = &md5 {
        let info = HashInfo::md5(md5.clone());
        if !info.is_valid() {
            return Err(format!("'md5' value '{md5}' is not an md5"));
        }
    }
    let hash_md5 = match m.get("hash") {
        None => false,
        Some(v) if v.as_str() == Some("md5") => true,
        Some(_) => return Err("unsupported 'hash' (only md5 is supported)".into()),
    };
    let uint = |key: &str| -> Result<Option<u64>, String> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or(format!("'{key}' must be a non-negative integer")),
        }
    };
    let boolean = |key: &str, default: bool| -> Result<bool, String> {
        match m.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or(format!("'{key}' must be true or false")),
        }
    };
    Ok(OutEntry {
        path,
        md5,
        hash_md5,
        size: uint("size")?,
        nfiles: uint("nfiles")?,
        isexec: boolean("isexec", false)?,
        cache: boolean("cache", true)?,
        remote: m.get("remote").and_then(scalar_string),
        push: boolean("push", true)?,
    })
}

/// Whether a `.dvc` file's text is a `dvc import` (a dep naming another repository with
/// `repo:`), whose outs dvc never pushes nor compares with the project's remotes.
pub fn is_repo_import(text: &str) -> bool {
    serde_yaml_ng::from_str::<Value>(text).is_ok_and(|doc| {
        doc.get("deps")
            .and_then(Value::as_sequence)
            .is_some_and(|deps| deps.iter().any(|d| d.get("repo").is_some()))
    })
}

/// Reads and parses a `.dvc` file.
pub fn load(path: &Path) -> Result<(String, Vec<OutEntry>), DvcFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| DvcFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = normalize(&text);
    let outs = parse(&text, path)?;
    Ok((text, outs))
}

/// The values `add`/`commit` record for an out.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The new hash.
    pub hash: HashInfo,
    /// Total size.
    pub size: u64,
    /// Number of files, for directories.
    pub nfiles: Option<u64>,
    /// Exec bit, for single files.
    pub isexec: bool,
}

/// The text of a new single-output `.dvc` file, exactly as `dvc add` writes it.
pub fn render_new(path: &str, rec: &Recorded) -> String {
    let mut s = String::from("outs:\n- md5:");
    write_value(&mut s, 6, 4, &rec.hash.md5);
    s.push_str(&format!("\n  size: {}\n", rec.size));
    if let Some(n) = rec.nfiles {
        s.push_str(&format!("  nfiles: {n}\n"));
    }
    if rec.isexec {
        s.push_str("  isexec: true\n");
    }
    s.push_str("  hash: md5\n  path:");
    write_value(&mut s, 7, 4, path);
    s.push('\n');
    s
}

/// A `.dvc` file's text as the editor works on it: without a UTF-8 BOM and with LF line
/// endings (DVC reads both and writes neither).
pub fn normalize(text: &str) -> String {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n")
}

/// The new text of an existing `.dvc` file whose out number `index` now records `rec`.
/// Only the changed values are rewritten (indentation, quoted keys, comments and flow style
/// stay); a layout the in-place editor cannot keep is written in DVC's canonical form instead.
/// Either way the result is read back and must hold exactly the old document with the new
/// values (no duplicate key, nothing lost), or nothing is written.
pub fn update(
    text: &str,
    index: usize,
    rec: &Recorded,
    path: &Path,
) -> Result<String, DvcFileError> {
    let invalid = |message: String| DvcFileError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let text = normalize(text);
    let mut doc: Value = serde_yaml_ng::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let changes = changes_for(rec);
    let item = doc
        .get_mut("outs")
        .and_then(Value::as_sequence_mut)
        .and_then(|outs| outs.get_mut(index))
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| invalid(format!("outs[{index}] is not a mapping")))?;
    let mut rendered: Vec<(&str, Option<String>)> = Vec::new();
    for (key, value) in &changes {
        match value {
            Some(v) => {
                item.insert(Value::from(*key), v.clone());
                rendered.push((key, Some(scalar_text(v))));
            }
            None => {
                item.shift_remove(*key);
                rendered.push((key, None));
            }
        }
    }
    let reads_as_expected = |candidate: &str| {
        super::yaml::check_depth(candidate).is_ok()
            && parse(candidate, path).is_ok()
            && serde_yaml_ng::from_str::<Value>(candidate).is_ok_and(|v| v == doc)
    };
    if let Some(edited) = super::yaml_edit::edit_item(&text, index, &rendered)
        && reads_as_expected(&edited)
    {
        return Ok(edited);
    }
    let canonical = render_canonical(&doc).ok_or_else(|| {
        invalid("holds values Ferry cannot write back (tags or complex keys)".into())
    })?;
    if reads_as_expected(&canonical) {
        Ok(canonical)
    } else {
        Err(invalid(
            "cannot be rewritten without changing its meaning".into(),
        ))
    }
}

/// The keys `add`/`commit` set on an out (`Some`) or drop (`None`), in the order ruamel
/// appends new ones.
fn changes_for(rec: &Recorded) -> Vec<(&'static str, Option<Value>)> {
    let mut changes = vec![
        ("md5", Some(Value::from(rec.hash.md5.clone()))),
        ("size", Some(Value::from(rec.size))),
        ("nfiles", rec.nfiles.map(Value::from)),
        ("isexec", rec.isexec.then_some(Value::Bool(true))),
    ];
    if !rec.hash.legacy {
        changes.push(("hash", Some(Value::from("md5"))));
    }
    changes
}

/// A scalar as a block mapping value, quoted as ruamel would.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut out = String::new();
            write_value(&mut out, 0, 0, s);
            out.trim_start().to_string()
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A whole document in the layout `dvc` writes (ruamel's round-trip dumper: two-space
/// mappings, sequences not indented under their key, empty collections in flow style); `None`
/// for tagged values or keys that are not scalars.
pub fn render_canonical(doc: &Value) -> Option<String> {
    let mut out = String::new();
    match doc {
        Value::Mapping(m) => emit_map(&mut out, m, 0, false)?,
        _ => return None,
    }
    Some(out)
}

fn key_text(k: &Value) -> Option<String> {
    match k {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(scalar_text(k)),
        _ => None,
    }
}

/// Writes `m` at `indent`; with `inline`, the first key continues the current line (a `- `).
fn emit_map(
    out: &mut String,
    m: &serde_yaml_ng::Mapping,
    indent: usize,
    inline: bool,
) -> Option<()> {
    for (i, (k, v)) in m.iter().enumerate() {
        if !(inline && i == 0) {
            out.push_str(&" ".repeat(indent));
        }
        let key = key_text(k)?;
        out.push_str(&key);
        out.push(':');
        emit_value(out, v, indent, indent + key.chars().count() + 1)?;
    }
    Some(())
}

/// Writes the value of a key at `indent`, the key ending at `column`.
fn emit_value(out: &mut String, v: &Value, indent: usize, column: usize) -> Option<()> {
    match v {
        Value::Mapping(m) if m.is_empty() => out.push_str(" {}\n"),
        Value::Sequence(s) if s.is_empty() => out.push_str(" []\n"),
        Value::Mapping(m) => {
            out.push('\n');
            emit_map(out, m, indent + 2, false)?;
        }
        Value::Sequence(s) => {
            out.push('\n');
            emit_seq(out, s, indent)?;
        }
        Value::String(s) => {
            write_value(out, column, indent + 2, s);
            out.push('\n');
        }
        Value::Null => out.push('\n'),
        Value::Number(_) | Value::Bool(_) => {
            out.push(' ');
            out.push_str(&scalar_text(v));
            out.push('\n');
        }
        Value::Tagged(_) => return None,
    }
    Some(())
}

fn emit_seq(out: &mut String, s: &[Value], indent: usize) -> Option<()> {
    for item in s {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Mapping(m) if !m.is_empty() => {
                out.push(' ');
                emit_map(out, m, indent + 2, true)?;
            }
            Value::Sequence(inner) if !inner.is_empty() => {
                out.push('\n');
                emit_seq(out, inner, indent + 2)?;
            }
            other => emit_value(out, other, indent, indent + 1)?,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(md5: &str, size: u64) -> Recorded {
        Recorded {
            hash: HashInfo::md5(md5),
            size,
            nfiles: None,
            isexec: false,
        }
    }

    #[test]
    fn new_files_match_dvc_add() {
        assert_eq!(
            render_new("a.txt", &rec("b1946ac92492d2347c6235b4d2611184", 6)),
            "outs:\n- md5: b1946ac92492d2347c6235b4d2611184\n  size: 6\n  hash: md5\n  path: a.txt\n"
        );
        let dir = Recorded {
            hash: HashInfo::md5("83d36553a910a84c55e99b18af88174f.dir"),
            size: 28,
            nfiles: Some(4),
            isexec: false,
        };
        assert_eq!(
            render_new("data", &dir),
            "outs:\n- md5: 83d36553a910a84c55e99b18af88174f.dir\n  size: 28\n  nfiles: 4\n  hash: md5\n  path: data\n"
        );
    }

    #[test]
    fn updates_keep_comments_and_user_keys() {
        let old = "# my comment\nouts:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  size: 2\n  hash: md5\n  path: g\n  desc: some data   # inline\n  meta:\n    owner: me\n";
        let new = update(
            old,
            0,
            &rec("f3abb86bd34cf4d52698f14c0da1dc60", 3),
            Path::new("g.dvc"),
        )
        .unwrap();
        assert_eq!(
            new,
            "# my comment\nouts:\n- md5: f3abb86bd34cf4d52698f14c0da1dc60\n  size: 3\n  hash: md5\n  path: g\n  desc: some data   # inline\n  meta:\n    owner: me\n"
        );
    }

    #[test]
    fn a_changed_legacy_out_gets_hash_appended() {
        let old = "outs:\n- md5: 4fcc82a88ee38e0aa16c17f512c685c9\n  size: 14\n  path: a.txt\n";
        let new = update(
            old,
            0,
            &rec("a10edbbb8f28f8e98ee6b649ea2556f4", 7),
            Path::new("a.txt.dvc"),
        )
        .unwrap();
        assert_eq!(
            new,
            "outs:\n- md5: a10edbbb8f28f8e98ee6b649ea2556f4\n  size: 7\n  path: a.txt\n  hash: md5\n"
        );
    }

    #[test]
    fn malformed_files_are_refused_with_the_reason() {
        for bad in [
            "outs: 3\n",
            "outs:\n- size: 3\n",
            "outs:\n- path: a\n  md5: nothex\n",
            "[1, 2\n",
        ] {
            assert!(parse(bad, Path::new("x.dvc")).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn parse_never_panics(text in crate::fuzz::text()) {
            let _ = parse(&text, Path::new("x.dvc"));
        }

        #[test]
        fn parse_never_panics_near_valid_files(text in crate::fuzz::mutated(&[
            "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  size: 2\n  hash: md5\n  path: g\n",
            "# c\nouts:\n- md5: 83d36553a910a84c55e99b18af88174f.dir\n  size: 28\n  nfiles: 4\n  path: 'data x'\n  meta: {a: [1, 2]}\n  isexec: true\n  cache: false\n  remote: r\n",
        ])) {
            let _ = parse(&text, Path::new("x.dvc"));
            let _ = update(&text, 0, &rec("f3abb86bd34cf4d52698f14c0da1dc60", 3), Path::new("x.dvc"));
        }
    }
}
