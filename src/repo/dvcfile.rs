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

/// Updates out number `index` of an existing `.dvc` file's text in place: changed values are
/// replaced on their own lines, new keys go at the end of the entry (as ruamel does), and
/// everything else (comments, `desc`, `meta`, order) is kept. `None` if the text is not laid
/// out in a way this editor understands; the caller then writes the file afresh.
pub fn update_in_place(text: &str, index: usize, rec: &Recorded) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let outs_line = lines.iter().position(|l| l.trim_end() == "outs:")?;
    let (item_indent, starts) = item_starts(&lines, outs_line)?;
    let start = *starts.get(index)?;
    let end = starts
        .get(index + 1)
        .copied()
        .unwrap_or_else(|| block_end(&lines, outs_line, item_indent));
    let key_indent = item_indent + 2;
    let mut item: Vec<String> = lines[start..end].iter().map(|l| l.to_string()).collect();
    let mut set = |key: &str, value: Option<String>| {
        let pos = item
            .iter()
            .position(|l| line_key(l, key_indent, item_indent) == Some(key));
        match (pos, value) {
            (Some(i), Some(v)) => item[i] = replace_value(&item[i], key, &v),
            (Some(i), None) if i > 0 => {
                item.remove(i);
            }
            (None, Some(v)) => {
                let last = item
                    .iter()
                    .rposition(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .unwrap_or(0);
                if !item[last].ends_with('\n') {
                    item[last].push('\n');
                }
                item.insert(last + 1, format!("{}{key}: {v}\n", " ".repeat(key_indent)));
            }
            _ => {}
        }
    };
    let mut md5 = String::new();
    write_value(&mut md5, 0, 0, &rec.hash.md5);
    set("md5", Some(md5.trim_start().to_string()));
    set("size", Some(rec.size.to_string()));
    set("nfiles", rec.nfiles.map(|n| n.to_string()));
    set("isexec", rec.isexec.then(|| "true".to_string()));
    if !rec.hash.legacy {
        set("hash", Some("md5".into()));
    }
    let mut out: String = lines[..start].concat();
    out.extend(item);
    out.push_str(&lines[end..].concat());
    Some(out)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The indentation of the `- ` items under `outs:` and the line numbers where each starts.
fn item_starts(lines: &[&str], outs_line: usize) -> Option<(usize, Vec<usize>)> {
    let first = (outs_line + 1..lines.len()).find(|&i| !is_blank_or_comment(lines[i]))?;
    let indent = indent_of(lines[first]);
    if !lines[first][indent..].starts_with("- ") {
        return None;
    }
    let end = block_end(lines, outs_line, indent);
    let starts = (first..end)
        .filter(|&i| indent_of(lines[i]) == indent && lines[i][indent..].starts_with("- "))
        .collect();
    Some((indent, starts))
}

/// The first line after the `outs:` block.
fn block_end(lines: &[&str], outs_line: usize, item_indent: usize) -> usize {
    (outs_line + 1..lines.len())
        .find(|&i| {
            let l = lines[i];
            !is_blank_or_comment(l)
                && (indent_of(l) < item_indent
                    || (indent_of(l) == item_indent && !l[item_indent..].starts_with('-')))
        })
        .unwrap_or(lines.len())
}

/// The key of an item line at `key_indent` (or the first `- key:` line).
fn line_key(line: &str, key_indent: usize, item_indent: usize) -> Option<&str> {
    let body = if indent_of(line) == item_indent && line[item_indent..].starts_with("- ") {
        &line[item_indent + 2..]
    } else if indent_of(line) == key_indent {
        &line[key_indent..]
    } else {
        return None;
    };
    let (key, _) = body.split_once(':')?;
    Some(key.trim())
}

/// Replaces the scalar after `key:` on one line, keeping an inline comment.
fn replace_value(line: &str, key: &str, value: &str) -> String {
    let Some(colon) = line.find(&format!("{key}:")) else {
        return line.to_string();
    };
    let head = &line[..colon + key.len() + 1];
    let rest = &line[colon + key.len() + 1..];
    let comment = rest
        .find(" #")
        .map(|i| rest[i..].trim_end_matches('\n').to_string())
        .unwrap_or_default();
    format!("{head} {value}{comment}\n")
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
        let new = update_in_place(old, 0, &rec("f3abb86bd34cf4d52698f14c0da1dc60", 3)).unwrap();
        assert_eq!(
            new,
            "# my comment\nouts:\n- md5: f3abb86bd34cf4d52698f14c0da1dc60\n  size: 3\n  hash: md5\n  path: g\n  desc: some data   # inline\n  meta:\n    owner: me\n"
        );
    }

    #[test]
    fn a_changed_legacy_out_gets_hash_appended() {
        let old = "outs:\n- md5: 4fcc82a88ee38e0aa16c17f512c685c9\n  size: 14\n  path: a.txt\n";
        let new = update_in_place(old, 0, &rec("a10edbbb8f28f8e98ee6b649ea2556f4", 7)).unwrap();
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
            let _ = update_in_place(&text, 0, &rec("f3abb86bd34cf4d52698f14c0da1dc60", 3));
        }
    }
}
