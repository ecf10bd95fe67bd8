//! Text wrapped to the terminal's width at word boundaries, with hanging indents: what the
//! printer does to warnings, hints, errors and free text, so that nothing breaks mid-word at 80
//! columns.
use std::io::IsTerminal;

/// The width assumed on a terminal that does not tell its size.
pub const DEFAULT_WIDTH: usize = 80;

/// Which stream a text goes to (their terminals may differ in width).
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Results.
    Stdout,
    /// Messages and progress.
    Stderr,
}

/// The width to wrap at: `COLUMNS` when set; else, on a terminal, its width (80 when it does
/// not tell); else none: text piped to a file or a program keeps its lines whole, so that logs
/// and scripts can search them.
pub fn width(stream: Stream) -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| *n >= 20)
    {
        return Some(n);
    }
    let size = match stream {
        Stream::Stdout if std::io::stdout().is_terminal() => {
            terminal_size::terminal_size_of(std::io::stdout())
        }
        Stream::Stderr if std::io::stderr().is_terminal() => {
            terminal_size::terminal_size_of(std::io::stderr())
        }
        _ => return None,
    };
    Some(
        size.map(|(w, _)| usize::from(w.0))
            .filter(|w| *w >= 20)
            .unwrap_or(DEFAULT_WIDTH),
    )
}

/// `prefix` + `text`, each of the text's own lines wrapped to `width` at word boundaries. A
/// wrapped line continues under its first word plus `indent` (a hanging indent); a word longer
/// than the width (a URL, a path, a hash) is never split. Lines that fit are left as they are,
/// spaces and all, so tables and command examples keep their shape.
pub fn wrap(prefix: &str, text: &str, indent: usize, width: usize) -> String {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let first = if i == 0 { prefix } else { "" };
        let whole = format!("{first}{line}");
        if textwrap::core::display_width(&whole) <= width {
            out.push(whole);
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        let hang = " ".repeat(lead + indent);
        let first_indent = format!("{first}{}", &line[..lead]);
        let options = textwrap::Options::new(width)
            .initial_indent(&first_indent)
            .subsequent_indent(&hang)
            .break_words(false)
            .word_separator(textwrap::WordSeparator::AsciiSpace)
            .word_splitter(textwrap::WordSplitter::NoHyphenation);
        out.extend(
            textwrap::wrap(line.trim_start(), options)
                .into_iter()
                .map(|l| l.into_owned()),
        );
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_word_boundaries_with_a_hanging_indent() {
        let text = "remote 'backblaze' reported its download cap earlier today; skipped without a request until its reset at 00:00 UTC";
        let wrapped = wrap("WARNING: ", text, 2, 80);
        insta::assert_snapshot!(wrapped, @r"
        WARNING: remote 'backblaze' reported its download cap earlier today; skipped
          without a request until its reset at 00:00 UTC
        ");
        for line in wrapped.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
    }

    #[test]
    fn long_words_stay_whole_and_short_lines_keep_their_shape() {
        let url = format!("https://example.com/{}", "a".repeat(90));
        let text = format!(
            "cannot read {url}\n  ferry remote modify b2 daily_download_limit 2GB   # more"
        );
        let wrapped = wrap("ERROR: ", &text, 2, 60);
        assert!(wrapped.lines().any(|l| l.trim() == url), "{wrapped}");
        assert!(wrapped.ends_with("\n  ferry remote modify b2 daily_download_limit 2GB   # more"));
    }

    #[test]
    fn an_indented_line_continues_under_itself() {
        let text = "  - data/train.csv: the remote holds an older copy than the one the workspace needs now";
        assert_eq!(
            wrap("", text, 2, 40),
            "  - data/train.csv: the remote holds an\n    older copy than the one the\n    workspace needs now"
        );
    }
}
