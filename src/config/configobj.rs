//! The configobj INI dialect DVC reads and writes (configobj 5.0.9 as DVC 3.67.1 drives it).
//!
//! Reading follows configobj's grammar closely enough that every file DVC accepts parses to the
//! same values (quotes, comma lists, inline comments, triple-quoted multi-line values). Writing
//! rebuilds the whole file the way DVC does (dvc-format.md §5.1): comments dropped, 4-space
//! indent, plain sections first, then the `remote`/`machine`/`db` named sections, values quoted by
//! configobj's `_quote` rules. The output is byte-identical to DVC's.
use indexmap::IndexMap;

/// One value as configobj parses it: a string, or a list when written unquoted with commas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A plain (possibly quoted) string.
    Str(String),
    /// A comma list such as `type = reflink, copy`; `joined` is the items joined by `,`, so
    /// callers that want text get what DVC's string splitting would see.
    List {
        /// The items, unquoted.
        items: Vec<String>,
        /// `items.join(",")`.
        joined: String,
    },
}

impl Value {
    /// A list value.
    pub fn list(items: Vec<String>) -> Self {
        let joined = items.join(",");
        Value::List { items, joined }
    }

    /// The value as text (lists joined with `,`).
    pub fn as_str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            Value::List { joined, .. } => joined,
        }
    }
}

/// The keys of one section, in file order (new keys go last, replaced keys keep their place).
pub type Section = IndexMap<String, Value>;

/// The kinds of named sections DVC writes as `['kind "name"']`, in the order DVC writes them.
pub const NAMED_KINDS: [&str; 3] = ["remote", "machine", "db"];

/// A DVC config file as DVC holds it in memory: plain sections, then named sections per kind.
/// Section names and keys are lowercased on parse, as DVC's `_lower_keys` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDoc {
    /// `[core]`, `[cache]`, … in file order.
    pub plain: IndexMap<String, Section>,
    /// `remote`, `machine` and `db` sections by name, each map in file order.
    pub named: [IndexMap<String, Section>; 3],
}

/// A line that configobj would refuse; the message is configobj's own wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line}.")]
pub struct ParseError {
    /// configobj's description, e.g. `Duplicate keyword name`.
    pub message: String,
    /// 1-based line number.
    pub line: usize,
}

/// A value configobj cannot write (it raises `ConfigObjError`; DVC then crashes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Value \"{0}\" cannot be safely quoted.")]
pub struct QuoteError(pub String);

impl ConfigDoc {
    /// The named sections of `kind` (`remote`, `machine`, `db`).
    pub fn named(&self, kind: &str) -> &IndexMap<String, Section> {
        &self.named[kind_index(kind)]
    }

    /// The named sections of `kind`, mutable.
    pub fn named_mut(&mut self, kind: &str) -> &mut IndexMap<String, Section> {
        &mut self.named[kind_index(kind)]
    }

    /// The remotes, by name.
    pub fn remotes(&self) -> &IndexMap<String, Section> {
        self.named("remote")
    }

    /// The remotes, mutable.
    pub fn remotes_mut(&mut self) -> &mut IndexMap<String, Section> {
        self.named_mut("remote")
    }

    /// A plain section's key as text.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.plain.get(section)?.get(key).map(Value::as_str)
    }

    /// A plain section, created empty (at the end) when missing.
    pub fn plain_mut(&mut self, section: &str) -> &mut Section {
        self.plain.entry(section.to_string()).or_default()
    }

    /// Merges `other` over `self` key by key, as DVC's `merge` does: sections and remotes new to
    /// `self` are appended, existing keys are replaced in place.
    pub fn merge(&mut self, other: &ConfigDoc) {
        for (name, keys) in &other.plain {
            let into = self.plain.entry(name.clone()).or_default();
            for (k, v) in keys {
                into.insert(k.clone(), v.clone());
            }
        }
        for (i, kind) in other.named.iter().enumerate() {
            for (name, keys) in kind {
                let into = self.named[i].entry(name.clone()).or_default();
                for (k, v) in keys {
                    into.insert(k.clone(), v.clone());
                }
            }
        }
    }

    /// Parses configobj text. Section names and keys are lowercased (DVC's `_lower_keys`).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<&str> = text.lines().collect();
        let mut doc = ConfigDoc::default();
        // Where keys go: None before the first section (top-level scalars, which DVC rejects).
        let mut current: Option<(Option<usize>, String)> = None;
        let mut seen_sections: Vec<String> = Vec::new();
        let mut seen_keys: Vec<String> = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            let lineno = i + 1;
            i += 1;
            let sline = line.trim();
            if sline.is_empty() || sline.starts_with('#') {
                continue;
            }
            if let Some(name) = section_marker(line).map_err(|m| err(m, lineno))? {
                if seen_sections.contains(&name) {
                    return Err(err("Duplicate section name", lineno));
                }
                seen_sections.push(name.clone());
                seen_keys.clear();
                let lowered = name.to_lowercase();
                let (kind, key) = match split_named(&lowered) {
                    Some((kind, sub)) => (Some(kind_index(kind)), sub.to_string()),
                    None => (None, lowered),
                };
                match kind {
                    Some(k) => doc.named[k].entry(key.clone()).or_default(),
                    None => doc.plain.entry(key.clone()).or_default(),
                };
                current = Some((kind, key));
                continue;
            }
            let Some((key, raw)) = keyword(line) else {
                return Err(err(
                    &format!("Invalid line ({line:?}) (matched as neither section nor keyword)"),
                    lineno,
                ));
            };
            let value = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
                let (value, next) = multiline(raw, &lines, i)
                    .map_err(|_| err("Parse error in multiline value", lineno))?;
                i = next;
                Value::Str(value)
            } else {
                handle_value(raw).ok_or_else(|| err("Parse error in value", lineno))?
            };
            let key = unquote(key);
            if seen_keys.iter().any(|k| k == key) {
                return Err(err("Duplicate keyword name", lineno));
            }
            seen_keys.push(key.to_string());
            let Some((kind, name)) = &current else {
                return Err(err("a key outside of any section", lineno));
            };
            let section = match kind {
                Some(k) => doc.named[*k].entry(name.clone()).or_default(),
                None => doc.plain.entry(name.clone()).or_default(),
            };
            section.insert(key.to_lowercase(), value);
        }
        Ok(doc)
    }

    /// Serializes the way DVC's `_save_config` does: empty plain sections dropped, named sections
    /// after plain ones (kept even when empty), `key = value` lines indented by 4 spaces, and a
    /// final newline (an empty config is written as a single `\n`).
    pub fn write(&self) -> Result<String, QuoteError> {
        let mut out: Vec<String> = Vec::new();
        let mut section = |marker: &str, keys: &Section| -> Result<(), QuoteError> {
            out.push(format!("[{}]", quote(marker, false)?));
            for (k, v) in keys {
                out.push(format!("    {} = {}", quote(k, false)?, quote_value(v)?));
            }
            Ok(())
        };
        for (name, keys) in &self.plain {
            if !keys.is_empty() {
                section(name, keys)?;
            }
        }
        for (kind, sections) in NAMED_KINDS.iter().zip(&self.named) {
            for (name, keys) in sections {
                section(&format!("{kind} \"{name}\""), keys)?;
            }
        }
        let mut text = out.join("\n");
        text.push('\n');
        Ok(text)
    }
}

fn kind_index(kind: &str) -> usize {
    NAMED_KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

fn err(message: &str, line: usize) -> ParseError {
    ParseError {
        message: message.to_string(),
        line,
    }
}

/// `remote "x"` (DVC's regex `^\s*(remote|machine|db)\s*"(.*)"\s*$`) → `("remote", "x")`.
fn split_named(section: &str) -> Option<(&'static str, &str)> {
    let s = section.trim();
    NAMED_KINDS.iter().find_map(|kind| {
        let rest = s.strip_prefix(kind)?.trim_start();
        let inner = rest.strip_prefix('"')?.strip_suffix('"')?;
        Some((*kind, inner))
    })
}

/// A section marker line → its (unquoted) name; `Ok(None)` when the line is not a marker.
fn section_marker(line: &str) -> Result<Option<String>, &'static str> {
    let s = line.trim_start();
    if !s.starts_with('[') {
        return Ok(None);
    }
    // Strip an inline comment that follows the closing brackets.
    let mut depth_open = 0;
    let mut rest = s;
    while let Some(r) = rest.strip_prefix('[') {
        depth_open += 1;
        rest = r.trim_start();
    }
    let body = match rest.find(']') {
        Some(_) => rest,
        None => return Ok(None),
    };
    let (name, after) = if body.starts_with('"') || body.starts_with('\'') {
        let q = &body[..1];
        match body[1..].find(q) {
            Some(end) => (&body[..end + 2], &body[end + 2..]),
            None => return Ok(None),
        }
    } else {
        match body.find(']') {
            Some(end) => (body[..end].trim_end(), &body[end..]),
            None => return Ok(None),
        }
    };
    let mut after = after.trim_start();
    let mut depth_close = 0;
    while let Some(r) = after.strip_prefix(']') {
        depth_close += 1;
        after = r.trim_start();
    }
    if depth_close == 0 || !(after.is_empty() || after.starts_with('#')) || name.is_empty() {
        return Ok(None);
    }
    if depth_open != depth_close {
        return Err("Cannot compute the section depth");
    }
    if depth_open != 1 {
        return Err("Section too nested");
    }
    Ok(Some(unquote(name).to_string()))
}

/// A `key = value` line → (raw key, raw value with any inline comment).
fn keyword(line: &str) -> Option<(&str, &str)> {
    let s = line.trim_start();
    let key_end = match s.chars().next()? {
        q @ ('"' | '\'') => s[1..].find(q).map(|e| e + 2)?,
        '=' => return None,
        _ => s.find('=')?,
    };
    let key = s[..key_end].trim_end();
    let rest = s[key_end..].trim_start().strip_prefix('=')?;
    Some((key, rest.trim_start()))
}

/// configobj's `_unquote`: strips one pair of matching outer quotes.
fn unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// A triple-quoted value starting on `raw`, possibly continuing on the following lines.
/// Returns the value and the index of the next unread line.
fn multiline(raw: &str, lines: &[&str], next: usize) -> Result<(String, usize), ()> {
    let quot = &raw[..3];
    let rest = &raw[3..];
    if let Some(end) = closing(rest, quot) {
        return Ok((rest[..end].to_string(), next));
    }
    if rest.contains(quot) {
        return Err(());
    }
    let mut value = rest.to_string();
    let mut i = next;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        value.push('\n');
        if line.contains(quot) {
            let end = closing(line, quot).ok_or(())?;
            value.push_str(&line[..end]);
            return Ok((value, i));
        }
        value.push_str(line);
    }
    Err(())
}

/// configobj's `^(.*?)'''\s*(#.*)?$`: the first closing triple quote followed only by
/// whitespace and an optional comment.
fn closing(s: &str, quot: &str) -> Option<usize> {
    s.match_indices(quot).map(|(i, _)| i).find(|&i| {
        let after = s[i + 3..].trim_start();
        after.is_empty() || after.starts_with('#')
    })
}

/// configobj's `_handle_value` with `list_values=True`: unquotes, drops an inline comment, and
/// turns comma-separated items into a list. `None` when configobj reports a parse error.
fn handle_value(raw: &str) -> Option<Value> {
    let s = raw;
    let mut items: Vec<String> = Vec::new();
    let mut pos = 0;
    let mut saw_comma = false;
    let mut last: Option<String> = None;
    loop {
        let rest = &s[pos..];
        if rest.is_empty() || rest.starts_with('#') {
            break;
        }
        let (item, len) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let end = rest[1..].find(q)?;
                (rest[1..end + 1].to_string(), end + 2)
            }
            _ => {
                let end = rest.find([',', '#']).unwrap_or(rest.len());
                (rest[..end].trim_end().to_string(), end)
            }
        };
        pos += len;
        let after = s[pos..].trim_start();
        if let Some(r) = after.strip_prefix(',') {
            saw_comma = true;
            items.push(item);
            pos = s.len() - r.trim_start().len();
            continue;
        }
        if after.is_empty() || after.starts_with('#') {
            last = Some(item);
            break;
        }
        return None;
    }
    if !saw_comma {
        return Some(Value::Str(last.unwrap_or_default()));
    }
    if let Some(last) = last {
        items.push(last);
    }
    Some(Value::list(items))
}

const WSPACE_PLUS: &[char] = &[' ', '\r', '\n', '\x0b', '\t', '\'', '"'];

fn quote_value(v: &Value) -> Result<String, QuoteError> {
    match v {
        Value::Str(s) => quote(s, true),
        Value::List { items, .. } => match items.len() {
            0 => Ok(",".into()),
            1 => Ok(format!("{},", quote(&items[0], false)?)),
            _ => Ok(items
                .iter()
                .map(|i| quote(i, false))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")),
        },
    }
}

/// configobj's `_quote`: leaves a value bare unless it must be quoted, then picks `"…"`, `'…'`
/// or a triple quote the way configobj does.
pub fn quote(value: &str, multiline: bool) -> Result<String, QuoteError> {
    if value.is_empty() {
        return Ok("\"\"".into());
    }
    let has_s = value.contains('\'');
    let has_d = value.contains('"');
    let need_triple = multiline && ((has_s && has_d) || value.contains('\n'));
    let single = |v: &str| -> Result<String, QuoteError> {
        if has_s && has_d {
            Err(QuoteError(v.into()))
        } else if has_d {
            Ok(format!("'{v}'"))
        } else {
            Ok(format!("\"{v}\""))
        }
    };
    if need_triple {
        return match (value.contains("\"\"\""), value.contains("'''")) {
            (true, true) => Err(QuoteError(value.into())),
            (false, _) => Ok(format!("'''{value}'''")),
            (true, false) => Ok(format!("\"\"\"{value}\"\"\"")),
        };
    }
    if value.contains('\n') {
        return Err(QuoteError(value.into()));
    }
    let first = value.chars().next().unwrap_or(' ');
    let last = value.chars().last().unwrap_or(' ');
    if !WSPACE_PLUS.contains(&first) && !WSPACE_PLUS.contains(&last) && !value.contains(',') {
        if value.contains('#') {
            return single(value);
        }
        return Ok(value.to_string());
    }
    single(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(v: &str) -> String {
        quote(v, true).unwrap()
    }

    #[test]
    fn quoting_matches_configobj() {
        // Observed with DVC 3.67.1 / configobj 5.0.9 (`dvc remote modify h user VALUE`).
        assert_eq!(q("a#b"), "\"a#b\"");
        assert_eq!(q("a,b"), "\"a,b\"");
        assert_eq!(q(" a"), "\" a\"");
        assert_eq!(q("'x'"), "\"'x'\"");
        assert_eq!(q("\"x\""), "'\"x\"'");
        assert_eq!(q("a'b"), "a'b");
        assert_eq!(q("a b"), "a b");
        assert_eq!(q("x#y'z\""), "'''x#y'z\"'''");
        assert_eq!(q(""), "\"\"");
        assert_eq!(q("a=b;c"), "a=b;c");
        assert_eq!(q("p#a,s s\"w"), "'p#a,s s\"w'");
        assert_eq!(q("a'''b\""), "'''a'''b\"'''");
        assert_eq!(q("a\nb"), "'''a\nb'''");
        assert_eq!(quote("remote \"x\"", false).unwrap(), "'remote \"x\"'");
    }

    #[test]
    fn parse_reads_what_dvc_reads() {
        let text = "# top\n[remote \"X\"] # c\n  URL = /tmp/x  # inline\n[core]\nremote = x\n\
                    [cache]\ntype = reflink, copy\n['remote \"y\"']\n    password = 'p#a,s s\"w'\n\
                    user = '''a'b\"c'''\n    empty =\n    ml = '''a\nb'''\n";
        let doc = ConfigDoc::parse(text).unwrap();
        assert_eq!(doc.remotes()["x"]["url"], Value::Str("/tmp/x".into()));
        assert_eq!(doc.get("core", "remote"), Some("x"));
        assert_eq!(
            doc.plain["cache"]["type"],
            Value::list(vec!["reflink".into(), "copy".into()])
        );
        let y = &doc.remotes()["y"];
        assert_eq!(y["password"].as_str(), "p#a,s s\"w");
        assert_eq!(y["user"].as_str(), "a'b\"c");
        assert_eq!(y["empty"].as_str(), "");
        assert_eq!(y["ml"].as_str(), "a\nb");
    }

    #[test]
    fn write_orders_plain_sections_first() {
        let doc = ConfigDoc::parse(
            "[remote \"x\"]\nurl = /tmp/x\n[cache]\ntype = copy\n[core]\nremote = x\n[empty]\n",
        )
        .unwrap();
        assert_eq!(
            doc.write().unwrap(),
            "[cache]\n    type = copy\n[core]\n    remote = x\n['remote \"x\"']\n    url = /tmp/x\n"
        );
        assert_eq!(ConfigDoc::default().write().unwrap(), "\n");
    }

    #[test]
    fn roundtrip_preserves_values() {
        let mut doc = ConfigDoc::default();
        let r = doc.remotes_mut().entry("h".into()).or_default();
        for (i, v) in ["a#b", " a", "x#y'z\"", "", "a\nb", "p#a,s s\"w"]
            .iter()
            .enumerate()
        {
            r.insert(format!("k{i}"), Value::Str(v.to_string()));
        }
        let text = doc.write().unwrap();
        assert_eq!(ConfigDoc::parse(&text).unwrap(), doc);
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = ConfigDoc::parse("[core]\na = 1\na = 2\n").unwrap_err();
        assert_eq!(e.to_string(), "Duplicate keyword name at line 3.");
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn parse_never_panics(text in crate::fuzz::text()) {
            if let Ok(doc) = ConfigDoc::parse(&text) {
                let _ = doc.write();
            }
        }

        #[test]
        fn parse_never_panics_near_valid_configs(text in crate::fuzz::mutated(&[
            "[core]\n    remote = r\n    autostage = true\n['remote \"r\"']\n    url = s3://b/p\n    endpointurl = http://127.0.0.1:8333\n",
            "[cache]\n    type = \"reflink,copy\"\n    dir = '''../c'''\n# comment\n[remote \"h\"]\nurl = https://x/y # tail\n",
        ])) {
            if let Ok(doc) = ConfigDoc::parse(&text) {
                let _ = doc.write();
            }
        }
    }
}
