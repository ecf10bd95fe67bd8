//! Local `status` of every stage, as dvc computes it: `.dvc` files (their deps, e.g.
//! `import-url` sources, `always_changed`, and outs) and `dvc.yaml` stages (changed deps hashed
//! through the state cache, params compared by value, changed command, `always changed`,
//! frozen stages' deps left out, never-run stages), in dvc's JSON shape.
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use super::Repo;
use super::index::{self, Target};
use super::out::Out;
use super::pipeline::{self, ParamsDep};
use super::safepath::SafePathError;
use super::status::{OutStatus, out_status};
use super::workspace::{self, Current, WorkspaceError};
use crate::hash::HashInfo;
use crate::hash::state::State;

/// A params file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    /// Not readable or not parseable.
    #[error("Unable to read parameters from '{path}': {message}")]
    Unreadable { path: String, message: String },
}

impl crate::error::Hint for ParamsError {
    fn hint(&self) -> Option<String> {
        Some(
            "fix the params file (YAML, JSON or TOML; Python params files need `dvc status`)"
                .into(),
        )
    }
}

/// What the local status found.
#[derive(Debug, Default)]
pub struct Report {
    /// Changed stages in dvc's shape: `{stage: [{"changed deps": …}, {"changed outs": …}, "always changed", …]}`.
    pub stages: Map<String, Json>,
    /// Whether the project tracks anything at all.
    pub tracked: bool,
    /// Frozen stages among those looked at (dvc warns about each).
    pub frozen: Vec<String>,
}

impl Report {
    /// The report as dvc prints it when run in `cwd` below the root: `.dvc` files and changed
    /// outs and deps named relative to `cwd` (`x.txt`, `../../top.txt`), in the same order.
    pub fn relative_to(mut self, root: &Path, cwd: &Path) -> Report {
        let cwd = index::normalize(cwd);
        if cwd == root || !cwd.starts_with(root) {
            return self;
        }
        let rel = |p: &str| crate::config::paths::relative_to(&root.join(p), &cwd);
        self.stages = std::mem::take(&mut self.stages)
            .into_iter()
            .map(|(key, mut entries)| {
                for entry in entries.as_array_mut().into_iter().flatten() {
                    for kind in ["changed outs", "changed deps"] {
                        if let Some(paths) = entry.get_mut(kind).and_then(Json::as_object_mut) {
                            *paths = std::mem::take(paths)
                                .into_iter()
                                .map(|(p, st)| (rel(&p), st))
                                .collect();
                        }
                    }
                }
                let key = if key.ends_with(".dvc") {
                    rel(&key)
                } else {
                    key
                };
                (key, entries)
            })
            .collect();
        self
    }
}

/// A path dep with what was recorded for it.
struct Dep {
    shown: String,
    abs: PathBuf,
    inside: bool,
    rec: Option<HashInfo>,
}

/// A params dep: shown path, absolute path, what it tracks, what the lock recorded.
type Params = (String, PathBuf, ParamsDep, Option<Map<String, Json>>);

/// One stage to look at.
struct Unit {
    key: String,
    decl: PathBuf,
    lock_file: Option<String>,
    name: Option<String>,
    frozen: bool,
    always_changed: bool,
    cmd_changed: bool,
    deps: Vec<Dep>,
    params: Vec<Params>,
    outs: Vec<Out>,
}

/// The status of the stages `targets` select (all when empty), relative to `cwd`.
pub fn local(
    repo: &Repo,
    cwd: &Path,
    targets: &[String],
    state: &mut State,
) -> anyhow::Result<Report> {
    let units = units(repo)?;
    let mut report = Report {
        tracked: !units.is_empty(),
        ..Report::default()
    };
    let mut picked: Vec<(usize, Option<Vec<usize>>)> = Vec::new();
    if targets.is_empty() {
        picked = (0..units.len()).map(|i| (i, None)).collect();
    }
    for text in targets {
        let t = Target::parse(cwd, text);
        let before = picked.len();
        for (i, u) in units.iter().enumerate() {
            let whole = match (&u.lock_file, &u.name) {
                (Some(lock), Some(name)) => t.names_stage(repo, lock, name),
                _ => t.stage.is_none() && u.decl == t.abs,
            };
            if whole {
                picked.push((i, None));
                continue;
            }
            if t.stage.is_some() {
                continue;
            }
            let outs: Vec<usize> = (0..u.outs.len())
                .filter(|&j| t.abs.starts_with(&u.outs[j].path))
                .collect();
            if !outs.is_empty() {
                picked.push((i, Some(outs)));
            }
        }
        if picked.len() == before {
            return Err(crate::error::UserError::failed(format!(
                "'{text}' does not exist as an output or a stage name in the project"
            ))
            .with_hint(
                "name a .dvc file, a tracked path or a stage; `ferry status` lists what is tracked",
            )
            .into());
        }
    }
    let odb = repo.odb();
    let bounds = repo.bounds();
    for (i, filter) in picked {
        let u = &units[i];
        let mut entries = Vec::new();
        if u.frozen {
            report.frozen.push(u.key.clone());
        } else {
            let mut deps = Map::new();
            for d in &u.deps {
                if let Some(st) = dep_status(&bounds, d, state)? {
                    deps.insert(d.shown.clone(), st.into());
                }
            }
            for (shown, abs, p, info) in &u.params {
                if let Some(st) = params_status(shown, abs, p, info.as_ref())? {
                    deps.insert(shown.clone(), st);
                }
            }
            if !deps.is_empty() {
                entries.push(serde_json::json!({ "changed deps": deps }));
            }
        }
        let mut outs = Map::new();
        for (j, o) in u.outs.iter().enumerate() {
            if filter.as_ref().is_some_and(|f| !f.contains(&j)) {
                continue;
            }
            let st = out_status(&odb, &bounds, o, state)?;
            if st != OutStatus::Clean {
                outs.insert(o.rel.clone(), st.as_str().into());
            }
        }
        if !outs.is_empty() {
            entries.push(serde_json::json!({ "changed outs": outs }));
        }
        if u.always_changed {
            entries.push("always changed".into());
        }
        if u.cmd_changed {
            entries.push("changed command".into());
        }
        if !entries.is_empty() {
            report.stages.insert(u.key.clone(), Json::Array(entries));
        }
    }
    Ok(report)
}

/// Every stage of the project: `.dvc` files and `dvc.yaml` stages, in file order.
fn units(repo: &Repo) -> anyhow::Result<Vec<Unit>> {
    let files = index::declaring_files(repo);
    let mut units = Vec::new();
    for file in &files {
        if file.ends_with("dvc.yaml") {
            let p = pipeline::load(repo, file)?;
            let outs = index::outs_of_pipeline(repo, file)?;
            for s in &p.stages {
                let rel = |def: &str| {
                    s.rel(def)
                        .map_err(|message| pipeline::PipelineError::Invalid {
                            path: repo.root.join(file),
                            message: format!("stage '{}': {message}", s.name),
                        })
                };
                let mut deps = Vec::new();
                for d in &s.deps {
                    let r = rel(d)?;
                    deps.push(Dep {
                        abs: repo.root.join(&r),
                        shown: r,
                        inside: true,
                        rec: s
                            .lock
                            .as_ref()
                            .and_then(|l| l.deps.get(d))
                            .and_then(|e| e.hash.clone()),
                    });
                }
                let mut params = Vec::new();
                for p in &s.params {
                    let r = rel(&p.def_path)?;
                    let info = s
                        .lock
                        .as_ref()
                        .and_then(|l| l.params.get(&p.def_path))
                        .cloned();
                    params.push((r.clone(), repo.root.join(&r), p.clone(), info));
                }
                units.push(Unit {
                    key: if file == "dvc.yaml" {
                        s.name.clone()
                    } else {
                        format!("{file}:{}", s.name)
                    },
                    decl: repo.root.join(file),
                    lock_file: Some(p.lock_file.clone()),
                    name: Some(s.name.clone()),
                    frozen: s.frozen,
                    always_changed: s.always_changed,
                    cmd_changed: s.lock.as_ref().is_some_and(|l| l.cmd != s.cmd),
                    deps,
                    params,
                    outs: outs
                        .iter()
                        .filter(|o| {
                            matches!(&o.origin, super::out::Origin::Lock { stage, .. } if *stage == s.name)
                        })
                        .cloned()
                        .collect(),
                });
            }
        } else if file.ends_with(".dvc") {
            units.push(dvcfile_unit(repo, file)?);
        } else if !files.contains(&pipeline::yaml_of(file)) {
            // a dvc.lock without its dvc.yaml: its outs, by stage (read and checked as always)
            for out in index::outs_of_lockfile(repo, file)? {
                let super::out::Origin::Lock { stage, .. } = &out.origin else {
                    continue;
                };
                match units.iter_mut().find(|u| {
                    u.lock_file.as_deref() == Some(file.as_str()) && u.name.as_ref() == Some(stage)
                }) {
                    Some(u) => u.outs.push(out),
                    None => units.push(Unit {
                        key: stage.clone(),
                        decl: repo.root.join(file),
                        lock_file: Some(file.clone()),
                        name: Some(stage.clone()),
                        frozen: false,
                        always_changed: false,
                        cmd_changed: false,
                        deps: Vec::new(),
                        params: Vec::new(),
                        outs: vec![out],
                    }),
                }
            }
        }
    }
    Ok(units)
}

/// A `.dvc` file as a stage: its outs, its path deps (`import-url` sources) and flags.
fn dvcfile_unit(repo: &Repo, file: &str) -> anyhow::Result<Unit> {
    let outs = index::outs_of_dvcfile(repo, file)?;
    let path = repo.root.join(file);
    let text =
        std::fs::read_to_string(&path).map_err(|source| super::dvcfile::DvcFileError::Read {
            path: path.clone(),
            source,
        })?;
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| super::dvcfile::DvcFileError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let doc = pipeline::to_json(&doc);
    let flag = |k: &str| doc.get(k).and_then(Json::as_bool).unwrap_or(false);
    let dir = file.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let mut deps = Vec::new();
    for d in doc
        .get("deps")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        // deps from another repository (`dvc import`) are compared with their source by dvc
        // over git; they are not local files
        if d.get("repo").is_some() {
            continue;
        }
        let Some(def) = d.get("path").and_then(Json::as_str) else {
            continue;
        };
        let legacy = d.get("hash").and_then(Json::as_str) != Some("md5");
        let rec = d.get("md5").and_then(Json::as_str).map(|m| HashInfo {
            md5: m.to_lowercase(),
            legacy,
        });
        let (shown, abs, inside) = match pipeline::join_rel(dir, def) {
            Ok(r) if !def.contains("://") => (r.clone(), repo.root.join(&r), true),
            _ if def.contains("://") => continue,
            _ => {
                let abs = index::normalize(&repo.root.join(dir).join(def));
                let shown = if Path::new(def).is_absolute() {
                    def.to_string()
                } else {
                    abs.display().to_string()
                };
                (shown, abs, false)
            }
        };
        deps.push(Dep {
            shown,
            abs,
            inside,
            rec,
        });
    }
    Ok(Unit {
        key: file.to_string(),
        decl: path,
        lock_file: None,
        name: None,
        // dvc does not warn about a frozen `dvc import`: its deps are checked for updates
        frozen: (flag("frozen") || flag("locked")) && !super::dvcfile::is_repo_import(&text),
        always_changed: flag("always_changed"),
        cmd_changed: false,
        deps,
        params: Vec::new(),
        outs,
    })
}

/// dvc's dep status: `deleted`, `modified` (also for a never-recorded dep that exists), or none.
fn dep_status(
    bounds: &super::safepath::Bounds,
    d: &Dep,
    state: &mut State,
) -> anyhow::Result<Option<&'static str>> {
    let legacy = d.rec.as_ref().is_some_and(|h| h.legacy);
    let now = if d.inside {
        match workspace::current_hash(bounds, &d.abs, legacy, state) {
            Err(WorkspaceError::Unsafe(
                SafePathError::LinkedDir(_) | SafePathError::LinkOutside { .. },
            )) => return Ok(Some("modified")),
            other => other?.map(|(h, _)| h),
        }
    } else {
        match outside_current(&d.abs, legacy)? {
            Some(c) => c.hash(legacy),
            None => return Ok(None),
        }
    };
    let Some(now) = now else {
        return Ok(Some("deleted"));
    };
    Ok(match &d.rec {
        Some(rec) if rec.md5 == now.md5 => None,
        _ => Some("modified"),
    })
}

/// An `import-url` source outside the workspace: only read (hashed), never written. A
/// directory source is not compared (`None`: reported unchanged).
fn outside_current(abs: &Path, legacy: bool) -> anyhow::Result<Option<Current>> {
    match std::fs::metadata(abs) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(Current::Missing)),
        Err(e) => Err(anyhow::anyhow!("cannot read '{}': {e}", abs.display())),
        Ok(m) if m.is_file() => {
            let (md5, _) = if legacy {
                crate::hash::file_md5_dos2unix(abs)?
            } else {
                crate::hash::file_md5(abs)?
            };
            let mut raw = [0u8; 16];
            hex::decode_to_slice(&md5, &mut raw)?;
            Ok(Some(Current::File {
                file: workspace::FileInfo {
                    rel: Box::from(""),
                    md5: raw,
                    fp: crate::hash::state::Fingerprint::of(&m),
                },
                path: abs.to_path_buf(),
                isexec: false,
            }))
        }
        Ok(_) => Ok(None),
    }
}

/// dvc's params status: `"deleted"`/`"new"` for the whole file, or `{key: "new"|"deleted"|"modified"}`.
fn params_status(
    shown: &str,
    abs: &Path,
    p: &ParamsDep,
    info: Option<&Map<String, Json>>,
) -> anyhow::Result<Option<Json>> {
    let text = match std::fs::read_to_string(abs) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some("deleted".into())),
        Err(e) => {
            return Err(ParamsError::Unreadable {
                path: shown.into(),
                message: e.to_string(),
            }
            .into());
        }
    };
    let Some(info) = info else {
        return Ok(Some("new".into()));
    };
    if p.def_path.ends_with(".py") {
        return Err(ParamsError::Unreadable {
            path: shown.into(),
            message: "Python params files are not supported by ferry".into(),
        }
        .into());
    }
    let config =
        pipeline::params_of(&p.def_path, &text).map_err(|message| ParamsError::Unreadable {
            path: shown.into(),
            message,
        })?;
    let actual: Map<String, Json> = if p.keys.is_empty() {
        config
    } else {
        let whole = Json::Object(config);
        p.keys
            .iter()
            .filter_map(|k| pipeline::lookup(&whole, k).map(|v| (k.clone(), v.clone())))
            .collect()
    };
    let keys: Vec<String> = if p.keys.is_empty() {
        let mut ks: Vec<String> = actual.keys().cloned().collect();
        for k in info.keys() {
            if !ks.contains(k) {
                ks.push(k.clone());
            }
        }
        ks
    } else {
        p.keys.clone()
    };
    let mut changed = Map::new();
    for k in keys {
        let st = match (actual.get(&k), info.get(&k)) {
            (None, _) => "deleted",
            (Some(_), None) => "new",
            (Some(a), Some(b)) if !py_eq(a, b) => "modified",
            _ => continue,
        };
        changed.insert(k, st.into());
    }
    Ok((!changed.is_empty()).then(|| Json::Object(changed)))
}

/// Python's `==` on parsed values (`1 == 1.0`, `True == 1`).
fn py_eq(a: &Json, b: &Json) -> bool {
    let num = |v: &Json| match v {
        Json::Number(n) => n.as_f64(),
        Json::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    match (a, b) {
        (Json::Number(x), Json::Number(y)) if x.is_i64() && y.is_i64() => x.as_i64() == y.as_i64(),
        (Json::Number(_) | Json::Bool(_), Json::Number(_) | Json::Bool(_))
            if !(a.is_boolean() && b.is_boolean()) =>
        {
            num(a) == num(b)
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_compare_by_python_value() {
        assert!(py_eq(&Json::from(1), &serde_json::json!(1.0)));
        assert!(py_eq(&Json::Bool(true), &Json::from(1)));
        assert!(!py_eq(&Json::from(1), &Json::from(2)));
        assert!(py_eq(
            &serde_json::json!({"a": [1, 2]}),
            &serde_json::json!({"a": [1, 2.0]})
        ));
    }

    #[test]
    fn params_status_names_each_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("params.yaml");
        std::fs::write(&f, "prep:\n  ratio: 0.7\n  seed: 1\nnew: 3\n").unwrap();
        let p = ParamsDep {
            def_path: "params.yaml".into(),
            keys: vec!["prep.ratio".into(), "prep.seed".into(), "gone".into()],
        };
        let info: Map<String, Json> =
            serde_json::from_str(r#"{"prep.ratio": 0.5, "prep.seed": 1, "gone": 1}"#).unwrap();
        let st = params_status("params.yaml", &f, &p, Some(&info))
            .unwrap()
            .unwrap();
        assert_eq!(
            st,
            serde_json::json!({"prep.ratio": "modified", "gone": "deleted"})
        );
        assert_eq!(
            params_status("params.yaml", &f, &p, None).unwrap(),
            Some("new".into())
        );
        let whole = ParamsDep {
            def_path: "params.yaml".into(),
            keys: vec![],
        };
        let info: Map<String, Json> =
            serde_json::from_str(r#"{"prep": {"ratio": 0.7, "seed": 1}}"#).unwrap();
        assert_eq!(
            params_status("params.yaml", &f, &whole, Some(&info)).unwrap(),
            Some(serde_json::json!({"new": "new"}))
        );
    }
}
