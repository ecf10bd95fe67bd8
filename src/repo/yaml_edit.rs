//! Editing one `outs` entry of a `.dvc` file in place: the text is parsed with positions
//! (saphyr-parser's events) and only the changed values are rewritten, so indentation, quoted
//! keys, comments and flow style stay as the user wrote them. `None` whenever the layout is one
//! this editor does not handle (anchors, tags, block scalars where a value changes, a removed
//! first key of a block item); the caller then writes DVC's canonical form.
use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// One change to a key of the entry: a new value already rendered as YAML (`Some`), or the
/// key removed (`None`).
pub type Change<'a> = (&'a str, Option<String>);

/// The text with the changes applied to `outs[index]`, or `None` (see the module doc).
pub fn edit_item(text: &str, index: usize, changes: &[Change<'_>]) -> Option<String> {
    let root = parse(text)?;
    let outs = root.get("outs")?;
    let Kind::Seq(items) = &outs.kind else {
        return None;
    };
    let item = items.get(index)?;
    let Kind::Map(entries) = &item.kind else {
        return None;
    };
    let first_key = &entries.first()?.0;
    let quote = match &first_key.kind {
        Kind::Scalar {
            style: ScalarStyle::DoubleQuoted,
            ..
        } => "\"",
        Kind::Scalar {
            style: ScalarStyle::SingleQuoted,
            ..
        } => "'",
        _ => "",
    };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut appended = String::new();
    for (key, value) in changes {
        let pos = entries.iter().position(|(k, _)| k.scalar() == Some(key));
        match (pos, value) {
            (Some(i), Some(new)) => {
                let v = &entries[i].1;
                let Kind::Scalar { value: old, style } = &v.kind else {
                    return None;
                };
                if !matches!(
                    style,
                    ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
                ) {
                    return None;
                }
                if old == new && *style == ScalarStyle::Plain {
                    continue;
                }
                let end = v.end?;
                edits.push(replace_keeping_comment(text, v.start, end, new));
            }
            (Some(i), None) => edits.push(removal(text, item, entries, i)?),
            (None, Some(new)) => {
                if item.flow {
                    appended.push_str(&format!(", {quote}{key}{quote}: {new}"));
                } else {
                    appended.push_str(&format!(
                        "{}{quote}{key}{quote}: {new}\n",
                        " ".repeat(first_key.col)
                    ));
                }
            }
            (None, None) => {}
        }
    }
    if !appended.is_empty() {
        let last_end = entries.last()?.1.end?;
        if item.flow {
            edits.push((last_end, last_end, appended));
        } else {
            let (at, lead) = match text[last_end..].find('\n') {
                Some(nl) => (last_end + nl + 1, ""),
                None => (text.len(), "\n"),
            };
            edits.push((at, at, format!("{lead}{appended}")));
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    let mut floor = usize::MAX;
    for (start, end, with) in edits {
        if end > floor {
            return None;
        }
        out.replace_range(start..end, &with);
        floor = start;
    }
    Some(out)
}

/// The edit replacing the value at `start..end` by `new`; a comment after it on the same line
/// keeps its column where it can, one space away otherwise (as ruamel does).
fn replace_keeping_comment(
    text: &str,
    start: usize,
    end: usize,
    new: &str,
) -> (usize, usize, String) {
    let rest = &text[end..];
    let gap = rest.len() - rest.trim_start_matches(' ').len();
    if gap > 0 && rest[gap..].starts_with('#') {
        let old_width = text[start..end].chars().count();
        let new_width = new.chars().count();
        let keep = (old_width + gap).saturating_sub(new_width).max(1);
        return (start, end + gap, format!("{new}{}", " ".repeat(keep)));
    }
    (start, end, new.to_string())
}

/// The edit removing entry `i` of the item.
fn removal(
    text: &str,
    item: &Node,
    entries: &[(Node, Node)],
    i: usize,
) -> Option<(usize, usize, String)> {
    let (key, value) = &entries[i];
    let value_end = value.end?;
    if item.flow {
        return Some(match (i, entries.len()) {
            (0, 1) => (key.start, value_end, String::new()),
            (0, _) => (key.start, entries[1].0.start, String::new()),
            _ => (entries[i - 1].1.end?, value_end, String::new()),
        });
    }
    let line_start = text[..key.start].rfind('\n').map_or(0, |n| n + 1);
    if !text[line_start..key.start].chars().all(|c| c == ' ') {
        return None;
    }
    let line_end = text[value_end..]
        .find('\n')
        .map_or(text.len(), |n| value_end + n + 1);
    Some((line_start, line_end, String::new()))
}

/// A parsed node with its byte positions.
#[derive(Debug)]
struct Node {
    kind: Kind,
    /// Byte offset of its first character (the quote or bracket included).
    start: usize,
    /// Byte offset just past its last character; `None` where it is not known (block scalars).
    end: Option<usize>,
    /// Column (in characters) of its first character.
    col: usize,
    /// Written in flow style (`{…}`, `[…]`).
    flow: bool,
}

#[derive(Debug)]
enum Kind {
    Scalar { value: String, style: ScalarStyle },
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
}

impl Node {
    fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// The document's root node; `None` for anything but one document free of anchors, aliases
/// and tags.
fn parse(text: &str) -> Option<Node> {
    let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    bytes.push(text.len());
    let mut b = Builder {
        text,
        bytes,
        parser: Parser::new_from_str(text),
    };
    loop {
        match b.next()? {
            (Event::StreamStart | Event::DocumentStart(_), _) => {}
            (ev, span) => {
                let root = b.node(ev, span, 0)?;
                return match b.next()? {
                    (Event::DocumentEnd, _) => match b.next()? {
                        (Event::StreamEnd, _) => Some(root),
                        _ => None,
                    },
                    _ => None,
                };
            }
        }
    }
}

struct Builder<'a> {
    text: &'a str,
    /// Byte offset of each character index (and of the end).
    bytes: Vec<usize>,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Option<(Event<'a>, Span)> {
        self.parser.next_event()?.ok()
    }

    fn byte(&self, char_index: usize) -> Option<usize> {
        self.bytes.get(char_index).copied()
    }

    fn node(&mut self, ev: Event<'a>, span: Span, depth: usize) -> Option<Node> {
        if depth > super::yaml::MAX_DEPTH {
            return None;
        }
        let start = self.byte(span.start.index())?;
        let col = span.start.col();
        match ev {
            Event::Scalar(value, style, 0, None) => {
                let end = match style {
                    ScalarStyle::Plain => Some(self.byte(span.end.index())?),
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                        Some(quoted_end(self.text, start)?)
                    }
                    _ => None,
                };
                Some(Node {
                    kind: Kind::Scalar {
                        value: value.into_owned(),
                        style,
                    },
                    start,
                    end,
                    col,
                    flow: false,
                })
            }
            Event::MappingStart(0, None) => {
                let flow = self.text[start..].starts_with('{');
                let mut entries = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if ev == Event::MappingEnd {
                        let end = if flow {
                            Some(self.byte(span.end.index())?)
                        } else {
                            entries.last().and_then(|(_, v): &(Node, Node)| v.end)
                        };
                        return Some(Node {
                            kind: Kind::Map(entries),
                            start,
                            end,
                            col,
                            flow,
                        });
                    }
                    let key = self.node(ev, span, depth + 1)?;
                    let (ev, span) = self.next()?;
                    let value = self.node(ev, span, depth + 1)?;
                    entries.push((key, value));
                }
            }
            Event::SequenceStart(0, None) => {
                let flow = self.text[start..].starts_with('[');
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if ev == Event::SequenceEnd {
                        let end = if flow {
                            Some(self.byte(span.end.index())?)
                        } else {
                            items.last().and_then(|v: &Node| v.end)
                        };
                        return Some(Node {
                            kind: Kind::Seq(items),
                            start,
                            end,
                            col,
                            flow,
                        });
                    }
                    items.push(self.node(ev, span, depth + 1)?);
                }
            }
            _ => None,
        }
    }
}

/// The byte just past the closing quote of the quoted scalar starting at `start`.
fn quoted_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let quote = *bytes.get(start)?;
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            c if c == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(key: &'a str, v: &str) -> Change<'a> {
        (key, Some(v.to_string()))
    }

    #[test]
    fn values_change_and_the_layout_stays() {
        let four = "outs:\n    -   md5: aa\n        size: 2\n        path: g\n";
        assert_eq!(
            edit_item(
                four,
                0,
                &[set("md5", "bb"), set("size", "10"), set("hash", "md5")]
            )
            .unwrap(),
            "outs:\n    -   md5: bb\n        size: 10\n        path: g\n        hash: md5\n"
        );
        let quoted = "outs:\n- \"md5\": 'aa'   # c\n  \"path\": g";
        assert_eq!(
            edit_item(quoted, 0, &[set("md5", "bbbb"), set("hash", "md5")]).unwrap(),
            "outs:\n- \"md5\": bbbb   # c\n  \"path\": g\n  \"hash\": md5\n"
        );
        let flow = "outs: [{md5: aa, size: 2, path: g}]\n";
        assert_eq!(
            edit_item(flow, 0, &[set("md5", "bb"), set("hash", "md5")]).unwrap(),
            "outs: [{md5: bb, size: 2, path: g, hash: md5}]\n"
        );
        let nested = "outs:\n- md5: aa\n  path: g\n  meta:\n    a: [1, 2]\n# end\n";
        assert_eq!(
            edit_item(nested, 0, &[set("hash", "md5")]).unwrap(),
            "outs:\n- md5: aa\n  path: g\n  meta:\n    a: [1, 2]\n  hash: md5\n# end\n"
        );
    }

    #[test]
    fn comments_keep_their_column_when_they_can() {
        let text = "outs:\n- md5: aa\n  size: 2   # sz\n  path: g\n";
        assert_eq!(
            edit_item(text, 0, &[set("size", "1234")]).unwrap(),
            "outs:\n- md5: aa\n  size: 1234 # sz\n  path: g\n"
        );
        assert_eq!(
            edit_item(text, 0, &[set("size", "123456")]).unwrap(),
            "outs:\n- md5: aa\n  size: 123456 # sz\n  path: g\n"
        );
    }

    #[test]
    fn removals_and_the_cases_left_to_the_canonical_form() {
        let text = "outs:\n- md5: aa\n  isexec: true  # x\n  path: g\n";
        assert_eq!(
            edit_item(text, 0, &[("isexec", None)]).unwrap(),
            "outs:\n- md5: aa\n  path: g\n"
        );
        let flow = "outs:\n- {md5: aa, isexec: true, path: g}\n";
        assert_eq!(
            edit_item(flow, 0, &[("isexec", None)]).unwrap(),
            "outs:\n- {md5: aa, path: g}\n"
        );
        assert_eq!(
            edit_item(flow, 0, &[("md5", None)]).unwrap(),
            "outs:\n- {isexec: true, path: g}\n"
        );
        for unsupported in [
            "outs:\n- md5: &a aa\n  path: g\n",
            "outs:\n- md5: !!str aa\n  path: g\n",
            "outs:\n- md5: |\n    aa\n  path: g\n",
        ] {
            assert!(
                edit_item(unsupported, 0, &[set("md5", "bb")]).is_none(),
                "{unsupported}"
            );
        }
        assert!(edit_item("outs:\n- md5: aa\n  path: g\n", 0, &[("md5", None)]).is_none());
    }
}
