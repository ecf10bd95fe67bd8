//! Writing YAML scalars exactly as DVC's ruamel.yaml round-trip dumper does (width 80, YAML 1.2
//! implicit types, plain/single/double quoting, folding of long values), so `.dvc` files Ferry
//! writes are byte-identical to `dvc add`'s (dvc-format.md §1.5).
use std::sync::LazyLock;

use regex::Regex;

const BEST_WIDTH: usize = 80;

/// Appends ` value` (the space included) for a mapping value whose key ends at `column`,
/// folding onto lines indented by `indent` like ruamel does.
pub fn write_value(out: &mut String, column: usize, indent: usize, value: &str) {
    let mut w = Writer {
        out,
        column,
        indent,
        whitespace: false,
    };
    match choose_style(value) {
        Style::Plain => w.plain(value),
        Style::Single => w.single_quoted(value),
        Style::Double => w.double_quoted(value),
    }
}

#[derive(Debug, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

fn choose_style(value: &str) -> Style {
    let a = analyze(value);
    if !a.empty && a.allow_block_plain && plain_resolves_to_str(value) {
        return Style::Plain;
    }
    if a.allow_double_quoted && (value.contains('\'') || value.contains('\n')) {
        return Style::Double;
    }
    if a.allow_single_quoted && !a.multiline {
        return Style::Single;
    }
    Style::Double
}

struct Analysis {
    empty: bool,
    multiline: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
    allow_double_quoted: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_ws_or_end(c: Option<&char>) -> bool {
    match c {
        None => true,
        Some(c) => matches!(c, '\0' | ' ' | '\t' | '\r') || is_break(*c),
    }
}

/// A port of ruamel's `Emitter.analyze_scalar` for block context with `allow_unicode`.
fn analyze(scalar: &str) -> Analysis {
    if scalar.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_block_plain: true,
            allow_single_quoted: true,
            allow_double_quoted: true,
        };
    }
    let chars: Vec<char> = scalar.chars().collect();
    let (mut block_indicators, mut line_breaks, mut special) = (false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    if scalar.starts_with("---") || scalar.starts_with("...") {
        block_indicators = true;
    }
    let mut preceded_by_ws = true;
    let mut followed_by_ws = chars.len() == 1 || is_ws_or_end(chars.get(1));
    let (mut previous_space, mut previous_break) = (false, false);
    for (index, &ch) in chars.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                block_indicators = true;
            }
            if (ch == '?' || ch == ':') && followed_by_ws {
                block_indicators = true;
            }
            if ch == '-' && followed_by_ws {
                block_indicators = true;
            }
        } else {
            if ch == ':' && followed_by_ws {
                block_indicators = true;
            }
            if ch == '#' && preceded_by_ws {
                block_indicators = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            let c = ch as u32;
            let unicode_ok = (c == 0x85
                || (0xA0..=0xD7FF).contains(&c)
                || (0xE000..=0xFFFD).contains(&c)
                || (0x10000..=0x10FFFF).contains(&c))
                && c != 0xFEFF;
            if !unicode_ok {
                special = true;
            }
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = is_ws_or_end(Some(&ch));
        followed_by_ws = index + 2 >= chars.len() || is_ws_or_end(chars.get(index + 2));
    }
    let mut allow_block_plain = true;
    let mut allow_single_quoted = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        allow_block_plain = false;
    }
    if break_space || special || space_break {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if line_breaks || block_indicators {
        allow_block_plain = false;
    }
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_block_plain,
        allow_single_quoted,
        allow_double_quoted: true,
    }
}

/// Whether a plain scalar with this text would load back as a string under YAML 1.2 (ruamel's
/// implicit resolvers for bool, float, int, merge, null, timestamp, value and yaml tags).
fn plain_resolves_to_str(value: &str) -> bool {
    static RESOLVERS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
        [
            ("tTfF", r"^(?:true|True|TRUE|false|False|FALSE)$"),
            (
                "-+0123456789.",
                r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            ),
            ("-+0123456789", r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$"),
            ("<", r"^(?:<<)$"),
            ("~nN", r"^(?:~|null|Null|NULL|)$"),
            (
                "0123456789",
                r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
            ),
            ("=", r"^(?:=)$"),
            ("!&*", r"^(?:!|&|\*)$"),
        ]
        .into_iter()
        .map(|(first, re)| (first, Regex::new(re).expect("static regex")))
        .collect()
    });
    let Some(first) = value.chars().next() else {
        return false;
    };
    !RESOLVERS
        .iter()
        .any(|(firsts, re)| firsts.contains(first) && re.is_match(value))
}

struct Writer<'a> {
    out: &'a mut String,
    column: usize,
    indent: usize,
    whitespace: bool,
}

impl Writer<'_> {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn write_indent(&mut self) {
        self.out.push('\n');
        self.out.extend(std::iter::repeat_n(' ', self.indent));
        self.column = self.indent;
        self.whitespace = true;
    }

    fn indicator(&mut self, ind: &str, need_whitespace: bool) {
        if self.whitespace || !need_whitespace {
            self.write(ind);
        } else {
            self.write(" ");
            self.write(ind);
        }
        self.whitespace = false;
    }

    fn plain(&mut self, text: &str) {
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut start, mut end) = (false, 0usize, 0usize);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column >= BEST_WIDTH {
                        self.write_indent();
                        self.whitespace = false;
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if ch.is_none() || ch == Some(' ') {
                let data: String = chars[start..end].iter().collect();
                if data.chars().count() + self.column > BEST_WIDTH && self.column > self.indent {
                    self.write_indent();
                    self.whitespace = false;
                }
                self.write(&data);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
            }
            end += 1;
        }
    }

    fn single_quoted(&mut self, text: &str) {
        self.indicator("'", true);
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut start, mut end) = (false, 0usize, 0usize);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > BEST_WIDTH
                        && start != 0
                        && end != chars.len()
                    {
                        self.write_indent();
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if (ch.is_none() || ch == Some(' ') || ch == Some('\'')) && start < end {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
            }
            end += 1;
        }
        self.indicator("'", false);
    }

    fn double_quoted(&mut self, text: &str) {
        self.indicator("\"", true);
        let mut buf = String::new();
        for ch in text.chars() {
            let c = ch as u32;
            let printable = (' '..='~').contains(&ch)
                || (0xA0..=0xD7FF).contains(&c)
                || (0xE000..=0xFFFD).contains(&c)
                || (0x10000..=0x10FFFF).contains(&c);
            if printable
                && !matches!(
                    ch,
                    '"' | '\\' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}'
                )
            {
                buf.push(ch);
                continue;
            }
            let esc = match ch {
                '\0' => "\\0".to_string(),
                '\x07' => "\\a".into(),
                '\x08' => "\\b".into(),
                '\t' => "\\t".into(),
                '\n' => "\\n".into(),
                '\x0B' => "\\v".into(),
                '\x0C' => "\\f".into(),
                '\r' => "\\r".into(),
                '\x1B' => "\\e".into(),
                '"' => "\\\"".into(),
                '\\' => "\\\\".into(),
                '\u{85}' => "\\N".into(),
                '\u{A0}' => "\\_".into(),
                '\u{2028}' => "\\L".into(),
                '\u{2029}' => "\\P".into(),
                _ if c <= 0xFF => format!("\\x{c:02X}"),
                _ if c <= 0xFFFF => format!("\\u{c:04X}"),
                _ => format!("\\U{c:08X}"),
            };
            buf.push_str(&esc);
        }
        self.write(&buf);
        self.indicator("\"", false);
    }
}

/// The deepest nesting accepted in a `.dvc` file, `dvc.lock` or `dvc.yaml`; DVC's own files
/// nest fewer than ten levels.
pub const MAX_DEPTH: usize = 256;

/// Refuses YAML nested deeper than [`MAX_DEPTH`] in one linear pass, before the text reaches
/// serde_yaml_ng: it stops at 128 levels itself, but only after its parser has gone through the
/// whole nesting, which takes seconds on 50,000 nested `[` (35 s on 100,000). Counts flow brackets outside quoted scalars and comments plus block levels
/// (indentation and `- `/`? `/`: ` indicators); block scalars (`|`, `>`) are skipped. It may
/// overcount a little, so a real DVC file is never refused. Called by every YAML reader: the
/// `.dvc` parser and both `dvc.lock` readers (Ferry does not read `dvc.yaml`; a reader added for
/// it must call this first). `.dir` manifests are JSON: serde_json stops at 128 levels itself.
pub fn check_depth(text: &str) -> Result<(), String> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
    }
    let too_deep = || Err(format!("nested deeper than {MAX_DEPTH} levels"));
    let mut flow = 0usize;
    let mut quote = Quote::None;
    let mut indents: Vec<usize> = Vec::new();
    let mut block_scalar: Option<usize> = None;
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw).as_bytes();
        let indent = raw.iter().take_while(|&&b| b == b' ').count();
        let line = &raw[indent..];
        let mut value_start = false;
        if quote == Quote::None && flow == 0 {
            if let Some(parent) = block_scalar {
                if line.is_empty() || indent > parent {
                    continue;
                }
                block_scalar = None;
            }
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            while indents.last().is_some_and(|&i| i >= indent) {
                indents.pop();
            }
            indents.push(indent);
            value_start = true;
        }
        let mut j = 0;
        while j < line.len() {
            let c = line[j];
            let next_blank = line.get(j + 1).is_none_or(|b| matches!(b, b' ' | b'\t'));
            match quote {
                Quote::Single => {
                    if c == b'\'' {
                        if line.get(j + 1) == Some(&b'\'') {
                            j += 1;
                        } else {
                            quote = Quote::None;
                        }
                    }
                    j += 1;
                    continue;
                }
                Quote::Double => {
                    if c == b'\\' {
                        j += 1;
                    } else if c == b'"' {
                        quote = Quote::None;
                    }
                    j += 1;
                    continue;
                }
                Quote::None => {}
            }
            match c {
                b'#' if j == 0 || matches!(line[j - 1], b' ' | b'\t') => break,
                b'\'' | b'"'
                    if value_start
                        || (flow > 0 && (j == 0 || b" \t[{,:".contains(&line[j - 1]))) =>
                {
                    quote = if c == b'"' {
                        Quote::Double
                    } else {
                        Quote::Single
                    };
                    value_start = false;
                }
                b'[' | b'{' if flow > 0 || value_start => flow += 1,
                b']' | b'}' if flow > 0 => flow -= 1,
                b'-' | b'?' if flow == 0 && value_start && next_blank => {
                    indents.push(indent + j + 1);
                }
                b':' if flow == 0 && next_blank => value_start = true,
                b'|' | b'>' if flow == 0 && value_start => {
                    block_scalar = Some(indent);
                    break;
                }
                b'&' | b'!' if value_start => {
                    while j + 1 < line.len() && !matches!(line[j + 1], b' ' | b'\t') {
                        j += 1;
                    }
                }
                b' ' | b'\t' => {}
                _ if flow == 0 => value_start = false,
                _ => {}
            }
            if flow + indents.len() > MAX_DEPTH {
                return too_deep();
            }
            j += 1;
        }
        if flow + indents.len() > MAX_DEPTH {
            return too_deep();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever serde_yaml_ng itself accepts (it stops at 128 levels) passes the pre-scan, in
    /// every shape its emitter and hand-written files use.
    #[test]
    fn nothing_serde_accepts_is_refused() {
        use serde_yaml_ng::{Mapping, Value};
        type Wrap = fn(Value) -> Value;
        let shapes: [(&str, Wrap); 3] = [
            ("seq", |v| Value::Sequence(vec![v])),
            ("map", |v| {
                let mut m = Mapping::new();
                m.insert("k".into(), v);
                Value::Mapping(m)
            }),
            ("seq of map", |v| {
                let mut m = Mapping::new();
                m.insert("k".into(), v);
                m.insert("other".into(), "x [y".into());
                Value::Sequence(vec![Value::Mapping(m)])
            }),
        ];
        let mut checked = 0;
        for (name, wrap) in shapes {
            for depth in [1, 10, 60, 120] {
                let mut v = Value::String("leaf: '[{'".into());
                for _ in 0..depth {
                    v = wrap(v);
                }
                let block = serde_yaml_ng::to_string(&v).unwrap();
                let flow = serde_json::to_string(&v).unwrap();
                for text in [block, flow] {
                    if serde_yaml_ng::from_str::<Value>(&text).is_ok() {
                        assert!(check_depth(&text).is_ok(), "{name} at depth {depth}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 20, "only {checked} texts were accepted by serde");
    }

    #[test]
    fn deep_nesting_is_refused_and_real_files_pass() {
        assert!(
            check_depth(&format!(
                "outs:\n- path: a\n  meta: {}",
                "[".repeat(100_000)
            ))
            .is_err()
        );
        assert!(check_depth(&"{a: ".repeat(300)).is_err());
        let mut block = String::new();
        for i in 0..300 {
            block.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        assert!(check_depth(&block).is_err());
        assert!(check_depth(&format!("{}x\n", "- ".repeat(300))).is_err());
        for ok in [
            "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  size: 2\n  hash: md5\n  path: g\n",
            &format!("outs:\n- path: '{}'\n", "[".repeat(1000)),
            &format!("outs:\n- path: \"{}\"\n", "{".repeat(1000)),
            &format!("outs:\n- path: a\n  desc: |\n    {}\n", "[".repeat(1000)),
            &format!("# {}\nouts: []\n", "[".repeat(1000)),
            &"- path: we[ir]d\n".repeat(1000),
            "stages:\n  s:\n    cmd: echo [x\n    outs:\n    - path: a\n      meta: {a: [1, {b: 2}]}\n",
        ] {
            assert!(check_depth(ok).is_ok(), "{ok:.80}");
        }
    }

    fn path_line(v: &str) -> String {
        let mut s = String::from("  path:");
        write_value(&mut s, 7, 4, v);
        s
    }

    #[test]
    fn quoting_matches_ruamel() {
        for plain in [
            "yes",
            "no",
            "on",
            "off",
            "-a",
            "a:b",
            "a#b",
            "x y",
            "a,b",
            "a\\b",
            ".hidden",
            "12:30",
            "é.txt",
            "日本.txt",
            "we[ir]d*#!.txt",
        ] {
            assert_eq!(path_line(plain), format!("  path: {plain}"), "{plain}");
        }
        for single in [
            "123",
            "1.5",
            "1e3",
            "0x1F",
            "true",
            "True",
            "false",
            "null",
            "Null",
            "~",
            "a: b",
            "#x",
            "a #b",
            "[x]",
            "{x}",
            "*x",
            "&x",
            "!x",
            "%x",
            "@x",
            "`x",
            "2023-01-01",
            "",
            " lead",
            "trail ",
            "\"dq\"",
        ] {
            assert_eq!(path_line(single), format!("  path: '{single}'"), "{single}");
        }
        assert_eq!(path_line("'q'"), "  path: \"'q'\"");
        assert_eq!(path_line("a\tb"), "  path: \"a\\tb\"");
    }

    #[test]
    fn long_values_fold_like_ruamel() {
        assert_eq!(
            path_line(&"a".repeat(72)),
            format!("  path: {}", "a".repeat(72))
        );
        assert_eq!(
            path_line(&"a".repeat(73)),
            format!("  path: \n    {}", "a".repeat(73))
        );
        assert_eq!(
            path_line(&format!("{} bbb", "a".repeat(70))),
            format!("  path: {} \n    bbb", "a".repeat(70))
        );
        assert_eq!(
            path_line(&format!("{} bbb", "a".repeat(72))),
            format!("  path: {}\n    bbb", "a".repeat(72))
        );
        assert_eq!(
            path_line(&"ab ".repeat(30)),
            "  path: 'ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab\n    ab ab ab ab ab '"
        );
    }
}
