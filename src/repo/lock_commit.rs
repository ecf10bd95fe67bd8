//! `commit` of `dvc.yaml` stages as dvc does it: the stage's deps, params values and outs are
//! recorded anew in its `dvc.lock` entry (the other entries' text is kept), and its cached outs
//! go into the cache.
use std::path::Path;

use serde_json::{Map, Value as Json};

use super::Repo;
use super::add::write_atomic;
use super::pipeline::{Pipeline, Stage};
use super::safepath;
use super::workspace::{self, Current};
use super::yaml::write_value;
use crate::error::UserError;
use crate::hash::HashInfo;
use crate::hash::state::State;
use crate::odb::Odb;

/// What a dep or out is recorded with in the lock.
struct Recorded {
    path: String,
    hash: HashInfo,
    size: u64,
    nfiles: Option<u64>,
    isexec: bool,
}

/// Records `stage` of `pipeline` in its `dvc.lock` and its cached outs in the cache.
pub fn commit_stage(
    repo: &Repo,
    odb: &Odb,
    state: &mut State,
    pipeline: &Pipeline,
    stage: &Stage,
) -> anyhow::Result<()> {
    let lock_path = repo.root.join(&pipeline.lock_file);
    safepath::check_metadata(&repo.root, &lock_path)?;
    let bounds = repo.bounds();
    let rel = |def: &str| {
        stage.rel(def).map_err(|m| {
            UserError::failed(format!(
                "stage '{}' in '{}': {m}",
                stage.name, pipeline.file
            ))
        })
    };
    let mut deps = Vec::new();
    for d in &stage.deps {
        let abs = repo.root.join(rel(d)?);
        safepath::check_parents(&repo.root, &abs)?;
        let current = workspace::current(&bounds, &abs, false, state)?;
        let Some(r) = record(d, &current) else {
            return Err(UserError::failed(format!(
                "failed to commit - dependency '{}' does not exist",
                rel(d)?
            ))
            .with_hint("restore it, or remove it from the stage's deps in dvc.yaml")
            .into());
        };
        deps.push(r);
    }
    let mut outs = Vec::new();
    for o in &stage.outs {
        let out_rel = rel(&o.def_path)?;
        let abs = repo.root.join(&out_rel);
        safepath::check_parents(&repo.root, &abs)?;
        let current = workspace::current(&bounds, &abs, false, state)?;
        let Some(r) = record(&o.def_path, &current) else {
            return Err(UserError::failed(format!(
                "failed to commit - output '{out_rel}' does not exist"
            ))
            .with_hint("create it (run `dvc repro`), or restore it with `ferry checkout`")
            .into());
        };
        if o.cache {
            cache(odb, &abs, &current)?;
            if let (Current::Dir { hash, files, .. }, Some(snap_dir)) =
                (&current, super::snapshot::dir_of(state))
            {
                super::snapshot::record_stored(&snap_dir, &repo.root, &abs, odb, hash, files);
            }
        }
        outs.push(r);
    }
    let mut params: Vec<(String, Map<String, Json>)> = Vec::new();
    for p in &stage.params {
        let path = repo.root.join(rel(&p.def_path)?);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            UserError::failed(format!(
                "failed to commit - cannot read params file '{}': {e}",
                p.def_path
            ))
        })?;
        let all = super::pipeline::params_of(&p.def_path, &text)
            .map_err(|m| UserError::failed(format!("Unable to read parameters from {m}")))?;
        let mut values = Map::new();
        if p.keys.is_empty() {
            values = all;
        } else {
            let whole = Json::Object(all);
            let mut missing = Vec::new();
            for k in &p.keys {
                match super::pipeline::lookup(&whole, k) {
                    Some(v) => {
                        values.insert(k.clone(), v.clone());
                    }
                    None => missing.push(k.as_str()),
                }
            }
            if !missing.is_empty() {
                return Err(UserError::failed(format!(
                    "failed to commit - Parameters '{}' are missing from '{}'.",
                    missing.join(", "),
                    p.def_path
                ))
                .into());
            }
        }
        params.push((p.def_path.clone(), values));
    }
    state.flush();
    let old = match std::fs::read_to_string(&lock_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot read '{}': {e}",
                lock_path.display()
            ));
        }
    };
    // an unchanged command keeps its text (ruamel's folding of long quoted strings included)
    let old_cmd = stage
        .lock
        .as_ref()
        .filter(|l| l.cmd == stage.cmd)
        .and_then(|_| cmd_lines(&old, &stage.name));
    let entry = render_entry(stage, old_cmd, deps, params, outs);
    let text = splice(&old, &stage.name, &entry);
    write_atomic(&lock_path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write '{}': {e}", lock_path.display()))?;
    Ok(())
}

fn record(path: &str, current: &Current) -> Option<Recorded> {
    let hash = current.hash(false)?;
    Some(match current {
        Current::Missing => return None,
        Current::File { file, isexec, .. } => Recorded {
            path: path.to_string(),
            hash,
            size: file.size(),
            nfiles: None,
            isexec: *isexec,
        },
        Current::Dir { files, size, .. } => Recorded {
            path: path.to_string(),
            hash,
            size: *size,
            nfiles: Some(files.len() as u64),
            isexec: false,
        },
    })
}

fn cache(odb: &Odb, abs: &Path, current: &Current) -> anyhow::Result<()> {
    let failed = |p: &Path, e: std::io::Error| {
        anyhow::Error::from(
            UserError::failed(format!("cannot store '{}' in the cache: {e}", p.display()))
                .with_hint(
                    "check that the cache directory (cache.dir) is writable and has free space",
                ),
        )
    };
    match current {
        Current::Missing => Ok(()),
        Current::File { file, path, .. } => odb
            .insert_file(path, &file.hash(false))
            .map_err(|e| failed(path, e)),
        Current::Dir { hash, files, .. } => {
            let source = |i: usize| crate::odb::Source {
                size: files[i].size(),
                path: files[i].path_in(abs),
            };
            odb.insert_files(false, files.len(), |i| files[i].md5, source)
                .map_err(|e| failed(&e.path, e.source))?;
            super::add::insert_manifest(odb, files, hash).map_err(|e| failed(abs, e))
        }
    }
}

/// The stage's lock entry as dvc writes it: `cmd`, deps and outs sorted by path (`path, hash,
/// md5, size, nfiles, isexec`), params by file (`params.yaml` first) with sorted keys.
fn render_entry(
    stage: &Stage,
    old_cmd: Option<String>,
    mut deps: Vec<Recorded>,
    mut params: Vec<(String, Map<String, Json>)>,
    mut outs: Vec<Recorded>,
) -> String {
    let mut s = format!("  {}:\n", stage.name);
    match &stage.cmd {
        _ if old_cmd.is_some() => s.push_str(old_cmd.as_deref().unwrap_or_default()),
        Json::Array(items) => {
            s.push_str("    cmd:\n");
            for c in items {
                s.push_str("    -");
                write_value(&mut s, 5, 6, &scalar(c));
                s.push('\n');
            }
        }
        c => {
            s.push_str("    cmd:");
            write_value(&mut s, 8, 6, &scalar(c));
            s.push('\n');
        }
    }
    let list = |s: &mut String, key: &str, items: &mut Vec<Recorded>| {
        if items.is_empty() {
            return;
        }
        items.sort_by(|a, b| a.path.cmp(&b.path));
        s.push_str(&format!("    {key}:\n"));
        for r in items.iter() {
            s.push_str("    - path:");
            write_value(s, 11, 8, &r.path);
            s.push_str(&format!(
                "\n      hash: md5\n      md5: {}\n      size: {}\n",
                r.hash.md5, r.size
            ));
            if let Some(n) = r.nfiles {
                s.push_str(&format!("      nfiles: {n}\n"));
            }
            if r.isexec {
                s.push_str("      isexec: true\n");
            }
        }
    };
    list(&mut s, "deps", &mut deps);
    params.sort_by(|a, b| (a.0 != "params.yaml", &a.0).cmp(&(b.0 != "params.yaml", &b.0)));
    if !params.is_empty() {
        s.push_str("    params:\n");
        for (file, values) in &params {
            s.push_str(&format!("      {file}:"));
            let mut keys: Vec<&String> = values.keys().collect();
            keys.sort();
            if keys.is_empty() {
                s.push_str(" {}\n");
                continue;
            }
            s.push('\n');
            for k in keys {
                value(&mut s, 8, k, &values[k]);
            }
        }
    }
    list(&mut s, "outs", &mut outs);
    s
}

/// A scalar as text for [`write_value`] (which quotes strings that would read as another type).
fn scalar(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `key: value` at `indent`, nested mappings and lists in block style as ruamel writes them.
fn value(s: &mut String, indent: usize, key: &str, v: &Json) {
    let pad = " ".repeat(indent);
    s.push_str(&format!("{pad}{key}:"));
    match v {
        Json::Object(m) if !m.is_empty() => {
            s.push('\n');
            for (k, x) in m {
                value(s, indent + 2, k, x);
            }
        }
        Json::Array(a) if !a.is_empty() => {
            s.push('\n');
            for x in a {
                s.push_str(&format!("{pad}-"));
                match x {
                    Json::Object(_) | Json::Array(_) => {
                        s.push_str(&format!(" {}\n", crate::ui::json::dumps(x)));
                    }
                    x => {
                        typed(s, indent + 1, indent + 2, x);
                        s.push('\n');
                    }
                }
            }
        }
        Json::Object(_) => s.push_str(" {}\n"),
        Json::Array(_) => s.push_str(" []\n"),
        x => {
            typed(s, indent + key.len() + 1, indent + 2, x);
            s.push('\n');
        }
    }
}

/// A scalar keeping its type: numbers and booleans plain, strings quoted where needed.
fn typed(s: &mut String, column: usize, indent: usize, v: &Json) {
    match v {
        Json::String(t) => write_value(s, column, indent, t),
        Json::Null => s.push_str(" null"),
        Json::Bool(b) => s.push_str(if *b { " true" } else { " false" }),
        Json::Number(n) => s.push_str(&format!(" {}", python_number(n))),
        other => s.push_str(&format!(" {}", crate::ui::json::dumps(other))),
    }
}

/// A number as Python's `repr` (what ruamel writes for a float): `0.5`, `1.0`, `1e-05`.
fn python_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or_default();
    if f.fract() == 0.0 && f.abs() < 1e16 {
        return format!("{f:.1}");
    }
    let s = format!("{f:e}");
    if !(1e-4..1e16).contains(&f.abs()) {
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", e.abs());
    }
    f.to_string()
}

/// The `cmd:` lines of the stage's entry in the lock text, as written.
fn cmd_lines(text: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = format!("  {name}:");
    let start = lines.iter().position(|l| l.trim_end() == header)?;
    let cmd = (start + 1..lines.len())
        .take_while(|&i| indent_of(lines[i]) > 2 || lines[i].trim().is_empty())
        .find(|&i| lines[i].starts_with("    cmd:"))?;
    let end = (cmd + 1..lines.len())
        .find(|&i| {
            let l = lines[i];
            !l.trim().is_empty() && (indent_of(l) <= 4 && !l[indent_of(l)..].starts_with("- "))
        })
        .unwrap_or(lines.len());
    let mut s = lines[cmd..end].concat();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Some(s)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Replaces (or appends) the stage's entry under `stages:` in the lock text.
fn splice(old: &str, name: &str, entry: &str) -> String {
    if old.trim().is_empty() {
        return format!("schema: '2.0'\nstages:\n{entry}");
    }
    let lines: Vec<&str> = old.split_inclusive('\n').collect();
    let header = format!("  {name}:");
    let start = lines.iter().position(|l| l.trim_end() == header);
    let Some(start) = start else {
        let mut text = old.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        if !lines.iter().any(|l| l.trim_end() == "stages:") {
            text.push_str("stages:\n");
        }
        text.push_str(entry);
        return text;
    };
    let end = (start + 1..lines.len())
        .find(|&i| {
            let l = lines[i];
            !l.trim().is_empty() && indent_of(l) <= 2
        })
        .unwrap_or(lines.len());
    let mut text: String = lines[..start].concat();
    text.push_str(entry);
    text.push_str(&lines[end..].concat());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_python_repr() {
        let n = |f: f64| python_number(&serde_json::Number::from_f64(f).unwrap());
        assert_eq!(n(0.5), "0.5");
        assert_eq!(n(3.0), "3.0");
        assert_eq!(n(1e-5), "1e-05");
        assert_eq!(n(0.001), "0.001");
    }

    #[test]
    fn an_unchanged_command_keeps_its_folded_text() {
        let lock = "stages:\n  t:\n    cmd: \"a &&\n      b\"\n    deps:\n    - path: x\n  u:\n    cmd:\n    - p\n    - q\n";
        assert_eq!(
            cmd_lines(lock, "t").unwrap(),
            "    cmd: \"a &&\n      b\"\n"
        );
        assert_eq!(
            cmd_lines(lock, "u").unwrap(),
            "    cmd:\n    - p\n    - q\n"
        );
    }

    #[test]
    fn entries_are_replaced_in_place() {
        let old = "schema: '2.0'\nstages:\n  a:\n    cmd: x\n  b:\n    cmd: y\n";
        assert_eq!(
            splice(old, "a", "  a:\n    cmd: z\n"),
            "schema: '2.0'\nstages:\n  a:\n    cmd: z\n  b:\n    cmd: y\n"
        );
        assert_eq!(
            splice(old, "c", "  c:\n    cmd: w\n"),
            format!("{old}  c:\n    cmd: w\n")
        );
        assert_eq!(splice("", "c", "  c:\n"), "schema: '2.0'\nstages:\n  c:\n");
    }
}
