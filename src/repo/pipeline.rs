//! `dvc.yaml` pipelines read as dvc reads them (`vars`, `foreach`/`do`, `matrix`, `wdir`,
//! `${…}` interpolation), merged with the hashes their `dvc.lock` records, so stage outs carry
//! their own flags (`cache`, `push`, `remote`, `persist`) and stage status can be computed.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value;

use super::Repo;
use super::out::{Origin, Out};
use crate::hash::HashInfo;

/// A `dvc.yaml` or `dvc.lock` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Not readable.
    #[error("cannot read '{path}': {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not valid YAML, not DVC's schema, or an interpolation that cannot be resolved.
    #[error("'{path}' is not a valid pipeline file: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl crate::error::Hint for PipelineError {
    fn hint(&self) -> Option<String> {
        match self {
            PipelineError::Invalid { path, .. } => Some(format!(
                "fix '{}' (`dvc status` shows the same problem), or restore it with `git checkout -- {}`",
                path.display(),
                path.display()
            )),
            PipelineError::Read { .. } => None,
        }
    }
}

/// One output of a stage as `dvc.yaml` declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageOut {
    /// The path as written (after interpolation), relative to the stage's `wdir`.
    pub def_path: String,
    /// `cache:` (default true; metrics and plots too).
    pub cache: bool,
    /// `persist: true`.
    pub persist: bool,
    /// `push:` (default true).
    pub push: bool,
    /// `remote:`.
    pub remote: Option<String>,
}

/// One params file a stage depends on, with the keys it tracks (empty: the whole file).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamsDep {
    /// The file as written (default `params.yaml`), relative to the stage's `wdir`.
    pub def_path: String,
    /// Dotted keys, in declaration order.
    pub keys: Vec<String>,
}

/// What `dvc.lock` records for one dep or out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LockEntry {
    /// The recorded hash.
    pub hash: Option<HashInfo>,
    /// Recorded size.
    pub size: Option<u64>,
    /// Recorded number of files.
    pub nfiles: Option<u64>,
    /// Recorded exec bit.
    pub isexec: bool,
}

/// A stage's entry in `dvc.lock`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LockStage {
    /// The command that last ran.
    pub cmd: Json,
    /// Deps by their `path:`.
    pub deps: HashMap<String, LockEntry>,
    /// Outs by their `path:`.
    pub outs: HashMap<String, LockEntry>,
    /// Params values by file, then by key.
    pub params: HashMap<String, Map<String, Json>>,
}

/// One stage of a pipeline (a `foreach`/`matrix` entry counts once per generated stage).
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Its name (`train`, `build@us`).
    pub name: String,
    /// Its working directory relative to the repository root (`""` for the root).
    pub wdir: String,
    /// `cmd:` (a string or a list).
    pub cmd: Json,
    /// Path deps as written, relative to `wdir`.
    pub deps: Vec<String>,
    /// Params deps.
    pub params: Vec<ParamsDep>,
    /// `outs`, then `metrics`, then `plots`, as dvc orders them.
    pub outs: Vec<StageOut>,
    /// `frozen: true`.
    pub frozen: bool,
    /// `always_changed: true`.
    pub always_changed: bool,
    /// Its lock entry, if it ever ran.
    pub lock: Option<LockStage>,
}

impl Stage {
    /// A path relative to `wdir` as a path relative to the repository root.
    pub fn rel(&self, def_path: &str) -> Result<String, String> {
        join_rel(&self.wdir, def_path)
    }
}

/// A `dvc.yaml` with its stages in declaration order.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The `dvc.yaml`, relative to the root.
    pub file: String,
    /// Its `dvc.lock`, relative to the root.
    pub lock_file: String,
    /// The stages.
    pub stages: Vec<Stage>,
}

/// The `dvc.lock` beside a `dvc.yaml`.
pub fn lock_of(yaml_rel: &str) -> String {
    match yaml_rel.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/dvc.lock"),
        None => "dvc.lock".into(),
    }
}

/// The `dvc.yaml` beside a `dvc.lock`.
pub fn yaml_of(lock_rel: &str) -> String {
    match lock_rel.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/dvc.yaml"),
        None => "dvc.yaml".into(),
    }
}

/// Reads the pipeline `yaml_rel` (relative to the root) and its lock.
pub fn load(repo: &Repo, yaml_rel: &str) -> Result<Pipeline, PipelineError> {
    let path = repo.root.join(yaml_rel);
    let text = read(&path)?;
    let lock_file = lock_of(yaml_rel);
    let lock_path = repo.root.join(&lock_file);
    let lock_text = match std::fs::read_to_string(&lock_path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(PipelineError::Read {
                path: lock_path,
                source,
            });
        }
    };
    let dir = yaml_rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let lock = match &lock_text {
        Some(t) => parse_lock(t).map_err(|message| PipelineError::Invalid {
            path: lock_path.clone(),
            message,
        })?,
        None => HashMap::new(),
    };
    let stages = parse(&text, dir, &|rel| {
        std::fs::read_to_string(repo.root.join(rel)).ok()
    })
    .map_err(|message| PipelineError::Invalid {
        path: path.clone(),
        message,
    })?;
    let stages = stages
        .into_iter()
        .map(|mut s| {
            s.lock = lock.get(&s.name).cloned();
            s
        })
        .collect();
    Ok(Pipeline {
        file: yaml_rel.to_string(),
        lock_file,
        stages,
    })
}

fn read(path: &Path) -> Result<String, PipelineError> {
    std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl Pipeline {
    /// Every stage out as an [`Out`], flags from `dvc.yaml`, hashes from `dvc.lock`, each
    /// checked by `check` (the safe-path rule) before it is returned.
    pub fn outs(
        &self,
        repo: &Repo,
        check: &dyn Fn(&str, &Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<Out>> {
        let mut outs = Vec::new();
        for stage in &self.stages {
            for o in &stage.outs {
                let rel = stage
                    .rel(&o.def_path)
                    .map_err(|message| PipelineError::Invalid {
                        path: repo.root.join(&self.file),
                        message: format!("stage '{}': {message}", stage.name),
                    })?;
                let abs = repo.root.join(&rel);
                check(&rel, &abs)?;
                let rec = stage
                    .lock
                    .as_ref()
                    .and_then(|l| l.outs.get(&o.def_path))
                    .cloned()
                    .unwrap_or_default();
                outs.push(Out {
                    origin: Origin::Lock {
                        file: self.lock_file.clone(),
                        stage: stage.name.clone(),
                    },
                    def_path: o.def_path.clone(),
                    rel,
                    path: abs,
                    hash: rec.hash,
                    size: rec.size,
                    nfiles: rec.nfiles,
                    isexec: rec.isexec,
                    cache: o.cache,
                    remote: o.remote.clone(),
                    push: o.push,
                    imported: false,
                    parts: Vec::new(),
                });
            }
        }
        Ok(outs)
    }
}

/// Joins `def_path` onto `base` (both relative, `/`-separated), refusing paths that leave the
/// repository or are absolute.
pub fn join_rel(base: &str, def_path: &str) -> Result<String, String> {
    if def_path.starts_with('/') || def_path.contains('\0') {
        return Err(format!("path '{def_path}' is absolute or invalid"));
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for comp in def_path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("path '{def_path}' points outside the repository"));
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(format!("path '{def_path}' is the repository root"));
    }
    Ok(parts.join("/"))
}

/// YAML as JSON (mapping keys as strings), the form params and interpolation work on.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Json::Number)
                    .unwrap_or(Json::Null)
            }
        }
        Value::String(s) => Json::String(s.clone()),
        Value::Sequence(s) => Json::Array(s.iter().map(to_json).collect()),
        Value::Mapping(m) => {
            Json::Object(m.iter().map(|(k, v)| (key_string(k), to_json(v))).collect())
        }
        Value::Tagged(t) => to_json(&t.value),
    }
}

fn key_string(k: &Value) -> String {
    match to_json(k) {
        Json::String(s) => s,
        other => to_str(&other),
    }
}

/// dvc's `to_str`: how a value is spliced into a string.
fn to_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Bool(b) => b.to_string(),
        Json::Null => "None".into(),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn parse_yaml(text: &str) -> Result<Json, String> {
    super::yaml::check_depth(text)?;
    let v: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    Ok(to_json(&v))
}

/// Reads a `dvc.lock` text into its stages.
fn parse_lock(text: &str) -> Result<HashMap<String, LockStage>, String> {
    let doc = parse_yaml(text)?;
    let mut out = HashMap::new();
    let Some(stages) = doc.get("stages").and_then(Json::as_object) else {
        return Ok(out);
    };
    for (name, st) in stages {
        let entries = |key: &str| -> Result<HashMap<String, LockEntry>, String> {
            let mut m = HashMap::new();
            for v in st.get(key).and_then(Json::as_array).into_iter().flatten() {
                let path = v
                    .get("path")
                    .and_then(Json::as_str)
                    .ok_or(format!("stage '{name}': a {key} entry has no path"))?;
                let legacy = v.get("hash").and_then(Json::as_str) != Some("md5");
                let hash = v.get("md5").and_then(Json::as_str).map(|m| HashInfo {
                    md5: m.to_lowercase(),
                    legacy,
                });
                if hash.as_ref().is_some_and(|h| !h.is_valid()) {
                    return Err(format!("stage '{name}': bad md5 for '{path}'"));
                }
                m.insert(
                    path.to_string(),
                    LockEntry {
                        hash,
                        size: v.get("size").and_then(Json::as_u64),
                        nfiles: v.get("nfiles").and_then(Json::as_u64),
                        isexec: v.get("isexec").and_then(Json::as_bool).unwrap_or(false),
                    },
                );
            }
            Ok(m)
        };
        let params = st
            .get("params")
            .and_then(Json::as_object)
            .map(|files| {
                files
                    .iter()
                    .map(|(f, v)| (f.clone(), v.as_object().cloned().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            name.clone(),
            LockStage {
                cmd: st.get("cmd").cloned().unwrap_or(Json::Null),
                deps: entries("deps")?,
                outs: entries("outs")?,
                params,
            },
        );
    }
    Ok(out)
}

/// Parses `dvc.yaml` text found in directory `dir` (relative to the root); `read` gives the
/// text of a file relative to the root (for `vars` files and the default `params.yaml`).
pub fn parse(
    text: &str,
    dir: &str,
    read: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Stage>, String> {
    let doc = parse_yaml(text)?;
    let Some(top) = doc.as_object() else {
        return Err("expected a mapping at the top level".into());
    };
    let mut ctx = Map::new();
    let vars = top.get("vars").cloned().unwrap_or(Json::Array(Vec::new()));
    load_vars(&mut ctx, &vars, dir, read, true)?;
    let mut stages = Vec::new();
    let Some(defs) = top.get("stages") else {
        return Ok(stages);
    };
    let defs = defs.as_object().ok_or("'stages' must be a mapping")?;
    for (name, def) in defs {
        let def = def
            .as_object()
            .ok_or(format!("stage '{name}' must be a mapping"))?;
        if let Some(each) = def.get("foreach") {
            let template = def
                .get("do")
                .ok_or(format!("stage '{name}': 'foreach' needs 'do'"))?;
            let each = resolve(each, &ctx).map_err(|m| format!("stage '{name}': {m}"))?;
            let items: Vec<(String, Json, bool)> = match &each {
                Json::Object(m) => m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone(), true))
                    .collect(),
                Json::Array(a) if a.iter().any(|v| v.is_object() || v.is_array()) => a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), v.clone(), false))
                    .collect(),
                Json::Array(a) => a.iter().map(|v| (to_str(v), v.clone(), false)).collect(),
                _ => {
                    return Err(format!(
                        "stage '{name}': 'foreach' must be a list or mapping"
                    ));
                }
            };
            for (key, item, with_key) in items {
                let mut c = ctx.clone();
                c.insert("item".into(), item);
                if with_key {
                    c.insert("key".into(), Json::String(key.clone()));
                }
                let def = template
                    .as_object()
                    .ok_or(format!("stage '{name}': 'do' must be a mapping"))?;
                stages.push(stage(&format!("{name}@{key}"), def, &c, dir, read)?);
            }
        } else if let Some(matrix) = def.get("matrix") {
            let matrix = resolve(matrix, &ctx).map_err(|m| format!("stage '{name}': {m}"))?;
            let matrix = matrix
                .as_object()
                .ok_or(format!("stage '{name}': 'matrix' must be a mapping"))?;
            let mut combos: Vec<(Vec<String>, Map<String, Json>)> = vec![(Vec::new(), Map::new())];
            for (k, values) in matrix {
                let values = values
                    .as_array()
                    .ok_or(format!("stage '{name}': matrix '{k}' must be a list"))?;
                let mut next = Vec::new();
                for (frags, d) in &combos {
                    for (i, v) in values.iter().enumerate() {
                        let mut frags = frags.clone();
                        frags.push(if v.is_object() || v.is_array() {
                            format!("{k}{i}")
                        } else {
                            to_str(v)
                        });
                        let mut d = d.clone();
                        d.insert(k.clone(), v.clone());
                        next.push((frags, d));
                    }
                }
                combos = next;
            }
            let mut template = def.clone();
            template.remove("matrix");
            for (frags, d) in combos {
                let key = frags.join("-");
                let mut c = ctx.clone();
                c.insert("item".into(), Json::Object(d));
                c.insert("key".into(), Json::String(key.clone()));
                stages.push(stage(&format!("{name}@{key}"), &template, &c, dir, read)?);
            }
        } else {
            stages.push(stage(name, def, &ctx, dir, read)?);
        }
    }
    Ok(stages)
}

/// Merges `vars` entries (inline mappings, or files with optional `:key,key` selections) into
/// `ctx`; with `default`, `params.yaml` in `dir` is loaded first when it exists.
fn load_vars(
    ctx: &mut Map<String, Json>,
    vars: &Json,
    dir: &str,
    read: &dyn Fn(&str) -> Option<String>,
    default: bool,
) -> Result<(), String> {
    let list = match vars {
        Json::Array(a) => a.clone(),
        Json::Null => Vec::new(),
        other => vec![other.clone()],
    };
    let names_default = list.iter().any(|v| {
        v.as_str()
            .is_some_and(|s| s.split(':').next() == Some("params.yaml"))
    });
    if default
        && !names_default
        && let Some(text) = join_rel(dir, "params.yaml").ok().and_then(|p| read(&p))
    {
        merge(ctx, params_of("params.yaml", &text)?);
    }
    for v in list {
        match v {
            Json::Object(m) => merge(ctx, m),
            Json::String(s) => {
                let (file, keys) = match s.split_once(':') {
                    Some((f, k)) => (f.to_string(), Some(k.to_string())),
                    None => (s.clone(), None),
                };
                let rel = join_rel(dir, &file)?;
                let text = read(&rel).ok_or(format!("vars file '{file}' does not exist"))?;
                let all = params_of(&file, &text)?;
                match keys {
                    None => merge(ctx, all),
                    Some(keys) => {
                        for k in keys.split(',').map(str::trim) {
                            if let Some(v) = lookup(&Json::Object(all.clone()), k) {
                                ctx.insert(k.to_string(), v.clone());
                            }
                        }
                    }
                }
            }
            _ => return Err("'vars' entries must be file names or mappings".into()),
        }
    }
    Ok(())
}

fn merge(ctx: &mut Map<String, Json>, more: Map<String, Json>) {
    for (k, v) in more {
        match (ctx.get_mut(&k), v) {
            (Some(Json::Object(a)), Json::Object(b)) => merge(a, b),
            (_, v) => {
                ctx.insert(k, v);
            }
        }
    }
}

/// The top-level mapping of a params file, by its extension (YAML, JSON, TOML).
pub fn params_of(name: &str, text: &str) -> Result<Map<String, Json>, String> {
    let v = if name.ends_with(".json") {
        serde_json::from_str::<Json>(text).map_err(|e| format!("'{name}': {e}"))?
    } else if name.ends_with(".toml") {
        let t: toml::Value = toml::from_str(text).map_err(|e| format!("'{name}': {e}"))?;
        serde_json::to_value(t).map_err(|e| format!("'{name}': {e}"))?
    } else {
        parse_yaml(text).map_err(|e| format!("'{name}': {e}"))?
    };
    match v {
        Json::Object(m) => Ok(m),
        Json::Null => Ok(Map::new()),
        _ => Err(format!("'{name}' must hold a mapping")),
    }
}

/// The value at a dotted key (`a.b`, `a.0`, `a[0]`), as dpath finds it.
pub fn lookup<'a>(v: &'a Json, key: &str) -> Option<&'a Json> {
    let mut cur = v;
    let normalized = key.replace('[', ".").replace(']', "");
    for part in normalized.split('.').filter(|p| !p.is_empty()) {
        cur = match cur {
            Json::Object(m) => m.get(part)?,
            Json::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Replaces `${key}` references: a string that is one reference takes the value's type.
fn resolve(v: &Json, ctx: &Map<String, Json>) -> Result<Json, String> {
    Ok(match v {
        Json::String(s) if s.contains("${") => {
            let t = s.trim();
            if let Some(inner) = t.strip_prefix("${").and_then(|r| r.strip_suffix('}'))
                && !inner.contains('}')
                && !inner.contains("${")
            {
                return lookup_ctx(ctx, inner.trim()).cloned();
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                if rest[..start].ends_with('\\') {
                    out.push_str(&rest[..start - 1]);
                    out.push_str("${");
                    rest = &rest[start + 2..];
                    continue;
                }
                out.push_str(&rest[..start]);
                let end = rest[start..]
                    .find('}')
                    .ok_or(format!("unclosed interpolation in '{s}'"))?;
                let key = rest[start + 2..start + end].trim();
                let val = lookup_ctx(ctx, key)?;
                if val.is_object() || val.is_array() {
                    return Err(format!(
                        "cannot interpolate '{key}' (a list or mapping) in '{s}'"
                    ));
                }
                out.push_str(&to_str(val));
                rest = &rest[start + end + 1..];
            }
            out.push_str(rest);
            Json::String(out)
        }
        Json::Array(a) => Json::Array(
            a.iter()
                .map(|x| resolve(x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, x)| {
                    Ok((
                        resolve(&Json::String(k.clone()), ctx).map(|k| to_str(&k))?,
                        resolve(x, ctx)?,
                    ))
                })
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn lookup_ctx<'a>(ctx: &'a Map<String, Json>, key: &str) -> Result<&'a Json, String> {
    let ctx_json = ctx;
    let mut parts = key.splitn(2, ['.', '[']);
    let head = parts.next().unwrap_or_default();
    let first = ctx_json
        .get(head)
        .ok_or(format!("could not find '{key}'"))?;
    match key.get(head.len()..) {
        Some(rest) if !rest.is_empty() => {
            lookup(first, rest).ok_or(format!("could not find '{key}'"))
        }
        _ => Ok(first),
    }
}

/// One stage from its (not yet interpolated) definition.
fn stage(
    name: &str,
    def: &Map<String, Json>,
    ctx: &Map<String, Json>,
    dir: &str,
    read: &dyn Fn(&str) -> Option<String>,
) -> Result<Stage, String> {
    let at = |m: String| format!("stage '{name}': {m}");
    let mut ctx = ctx.clone();
    let wdir_raw = match def.get("wdir") {
        Some(w) => to_str(&resolve(w, &ctx).map_err(at)?),
        None => ".".into(),
    };
    let wdir = if wdir_raw == "." || wdir_raw.is_empty() {
        dir.to_string()
    } else if dir.is_empty() {
        join_rel("", &wdir_raw).map_err(at)?
    } else {
        join_rel(dir, &wdir_raw).map_err(at)?
    };
    if let Some(vars) = def.get("vars") {
        load_vars(&mut ctx, vars, &wdir, read, false).map_err(at)?;
    }
    let mut def = def.clone();
    def.remove("vars");
    let def = resolve(&Json::Object(def), &ctx).map_err(at)?;
    let get = |k: &str| def.get(k);
    let cmd = get("cmd").cloned().unwrap_or(Json::Null);
    let flag = |k: &str| get(k).and_then(Json::as_bool).unwrap_or(false);
    let mut deps = Vec::new();
    for d in get("deps").and_then(Json::as_array).into_iter().flatten() {
        let d = d.as_str().map(str::to_string).unwrap_or_else(|| to_str(d));
        if !deps.contains(&d) {
            deps.push(d);
        }
    }
    let mut params: Vec<ParamsDep> = Vec::new();
    let list = get("params")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let whole: Vec<String> = list
        .iter()
        .filter_map(Json::as_object)
        .flat_map(|m| {
            m.iter()
                .filter(|(_, v)| v.as_array().is_none_or(|a| a.is_empty()))
                .map(|(k, _)| k.clone())
        })
        .collect();
    let mut add = |file: &str, key: Option<String>| {
        let i = match params.iter().position(|p| p.def_path == file) {
            Some(i) => i,
            None => {
                params.push(ParamsDep {
                    def_path: file.to_string(),
                    keys: Vec::new(),
                });
                params.len() - 1
            }
        };
        if let Some(k) = key
            && !whole.iter().any(|w| w == file)
            && !params[i].keys.contains(&k)
        {
            params[i].keys.push(k);
        }
    };
    for p in &list {
        match p {
            Json::Object(m) => {
                for (file, keys) in m {
                    add(file, None);
                    for k in keys.as_array().into_iter().flatten() {
                        add(file, Some(to_str(k)));
                    }
                }
            }
            other => {
                if !whole.iter().any(|w| w == "params.yaml") {
                    add("params.yaml", Some(to_str(other)));
                }
            }
        }
    }
    let mut outs: Vec<StageOut> = Vec::new();
    for key in ["outs", "metrics", "plots"] {
        for o in get(key).and_then(Json::as_array).into_iter().flatten() {
            let (path, flags) = match o {
                Json::Object(m) if m.len() == 1 => {
                    let (p, f) = m.iter().next().ok_or_else(|| at("empty out".into()))?;
                    (p.clone(), f.as_object().cloned().unwrap_or_default())
                }
                Json::String(s) => (s.clone(), Map::new()),
                other => (to_str(other), Map::new()),
            };
            let b = |k: &str, d: bool| flags.get(k).and_then(Json::as_bool).unwrap_or(d);
            let out = StageOut {
                def_path: path,
                cache: b("cache", true),
                persist: b("persist", false),
                push: b("push", true),
                remote: flags
                    .get("remote")
                    .and_then(Json::as_str)
                    .map(str::to_string),
            };
            match outs.iter_mut().find(|x| x.def_path == out.def_path) {
                Some(x) => *x = out,
                None => outs.push(out),
            }
        }
    }
    Ok(Stage {
        name: name.to_string(),
        wdir,
        cmd,
        deps,
        params,
        outs,
        frozen: flag("frozen"),
        always_changed: flag("always_changed"),
        lock: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(name: &str) -> Option<String> {
        match name {
            "params.yaml" => Some("prep:\n  ratio: 0.5\nmodels: [a, b]\n".into()),
            "sub/cfg.json" => Some("{\"lr\": 0.1, \"n\": 3}".into()),
            _ => None,
        }
    }

    #[test]
    fn stages_carry_their_flags_in_dvc_order() {
        let text = "stages:\n  train:\n    cmd: python train.py ${prep.ratio}\n    deps: [data, src]\n    params:\n    - prep.ratio\n    - sub/cfg.json:\n      - lr\n    outs:\n    - model.bin:\n        remote: r2\n    - hist.txt:\n        persist: true\n    - np.bin:\n        push: false\n    metrics:\n    - m.json:\n        cache: false\n    plots:\n    - p.csv\n";
        let s = parse(text, "", &files).unwrap();
        assert_eq!(s.len(), 1);
        let t = &s[0];
        assert_eq!(t.cmd, Json::String("python train.py 0.5".into()));
        let paths: Vec<_> = t.outs.iter().map(|o| o.def_path.as_str()).collect();
        assert_eq!(
            paths,
            ["model.bin", "hist.txt", "np.bin", "m.json", "p.csv"]
        );
        assert_eq!(t.outs[0].remote.as_deref(), Some("r2"));
        assert!(t.outs[1].persist && !t.outs[2].push && !t.outs[3].cache);
        assert_eq!(t.params[0].keys, ["prep.ratio"]);
        assert_eq!(t.params[1].def_path, "sub/cfg.json");
    }

    #[test]
    fn foreach_and_matrix_generate_dvc_names() {
        let text = "vars:\n- dirs: {us: x, eu: y}\nstages:\n  p:\n    foreach: ${models}\n    do:\n      cmd: echo ${item}\n      outs: ['out-${item}']\n  q:\n    foreach: ${dirs}\n    do:\n      cmd: echo ${key}\n      wdir: ${item}\n      outs: [o]\n  m:\n    matrix:\n      a: [1, 2]\n      b: [x]\n    cmd: echo ${item.a}${item.b}\n    outs: ['m-${item.a}']\n";
        let s = parse(text, "", &files).unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["p@a", "p@b", "q@us", "q@eu", "m@1-x", "m@2-x"]);
        assert_eq!(s[1].outs[0].def_path, "out-b");
        assert_eq!(s[3].wdir, "y");
        assert_eq!(s[3].rel("o").unwrap(), "y/o");
        assert_eq!(s[5].cmd, Json::String("echo 2x".into()));
    }

    #[test]
    fn lock_entries_are_keyed_by_path() {
        let l = parse_lock("schema: '2.0'\nstages:\n  s:\n    cmd: x\n    params:\n      params.yaml:\n        a.b: 1\n    outs:\n    - path: o\n      hash: md5\n      md5: 0123456789abcdef0123456789abcdef\n      size: 3\n").unwrap();
        let s = &l["s"];
        assert_eq!(s.cmd, Json::String("x".into()));
        assert_eq!(s.outs["o"].size, Some(3));
        assert_eq!(s.params["params.yaml"]["a.b"], Json::from(1));
        assert!(parse_lock("stages:\n  s:\n    outs:\n    - path: o\n      md5: zz\n").is_err());
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn readers_never_panic(text in crate::fuzz::text()) {
            let _ = parse(&text, "d", &files);
            let _ = parse_lock(&text);
        }
    }
}
