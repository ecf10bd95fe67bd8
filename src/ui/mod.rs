//! Output for people: results on stdout, `WARNING:`/`ERROR:`/`hint:` on stderr, logs via tracing.
pub mod json;
pub mod progress;
pub mod time;
pub mod wrap;

use std::io::{IsTerminal, Write};

/// Prints results and messages, honouring `-q`; messages are wrapped to the terminal's width
/// (80 when it does not tell; `COLUMNS` overrides; not wrapped when piped) and coloured only on a terminal without `NO_COLOR`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Printer {
    quiet: bool,
    color: bool,
}

/// The indent of a wrapped message's continuation lines.
const HANG: usize = 2;

/// Whether stderr may get colour: a terminal, `NO_COLOR` unset or empty, `TERM` not `dumb`.
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

impl Printer {
    /// A printer; with `quiet` only errors are shown.
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            color: stderr_color(),
        }
    }

    /// Whether `-q` was given.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Whether stdout is a terminal (progress bars, TAB handling).
    pub fn is_tty(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    /// A result line on stdout, as it is (tables, DVC's own lines).
    pub fn line(&self, text: &str) {
        if !self.quiet {
            progress::suspend(|| {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{text}");
            });
        }
    }

    /// Free text on stdout (a header, a note under a table), wrapped to the width.
    pub fn text(&self, text: &str) {
        match wrap::width(wrap::Stream::Stdout) {
            Some(w) => self.line(&wrap::wrap("", text, HANG, w)),
            None => self.line(text),
        }
    }

    /// Raw text on stdout, no newline added.
    pub fn raw(&self, text: &str) {
        if !self.quiet {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        }
    }

    /// A `WARNING:` line on stderr.
    pub fn warn(&self, text: &str) {
        if !self.quiet {
            self.message("WARNING: ", console::Style::new().yellow(), text);
        }
    }

    /// A `note:` line on stderr: something worth knowing that needs no action (a cap that was
    /// hit while another remote supplied the rest).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            self.message("note: ", console::Style::new().cyan(), text);
        }
    }

    /// An `ERROR:` line on stderr; shown even with `-q`.
    pub fn error(&self, text: &str) {
        self.message("ERROR: ", console::Style::new().red(), text);
    }

    /// A `hint:` line on stderr; shown even with `-q`, since it belongs to an error.
    pub fn hint(&self, text: &str) {
        self.message("hint: ", console::Style::new().cyan(), text);
    }

    /// `prefix` + `text` wrapped on stderr, the prefix coloured when colour is on.
    fn message(&self, prefix: &str, style: console::Style, text: &str) {
        let shown = styled_message(prefix, style, text, self.color);
        progress::suspend(|| eprintln!("{shown}"));
    }
}

/// `prefix` + `text` wrapped to stderr's width with a hanging indent, the prefix coloured when
/// `color` (the width is measured without the colour codes).
fn styled_message(prefix: &str, style: console::Style, text: &str, color: bool) -> String {
    let wrapped = match wrap::width(wrap::Stream::Stderr) {
        Some(w) => wrap::wrap(prefix, text, HANG, w),
        None => format!("{prefix}{text}"),
    };
    match wrapped.strip_prefix(prefix) {
        Some(rest) if color => format!("{}{rest}", style.force_styling(true).apply_to(prefix)),
        _ => wrapped,
    }
}

/// Sets up tracing logs on stderr: `-v` info (per-remote decisions: routing, retries, budgets),
/// `-vv` debug (a line per request), `-vvv` trace; `FERRY_LOG` overrides. Colour only when
/// [`stderr_color`] allows it; lines are written above any progress bar.
pub fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("ferry={level}")));
    // The S3 signer debug-logs its credential providers with the secret key in them: never
    // shown, whatever FERRY_LOG asks for.
    if let Ok(d) = "reqsign_core=off".parse() {
        filter = filter.add_directive(d);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogLine(Vec::new()))
        .with_ansi(false)
        .event_format(LogFormat {
            color: stderr_color(),
        })
        .try_init();
}

/// Renders a log event as Ferry's own messages look: `WARNING:`/`ERROR:` like the
/// [`Printer`]'s, `info:`/`debug:`/`trace:` for `-v`/`-vv`/`-vvv`, wrapped to the width.
struct LogFormat {
    color: bool,
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for LogFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use tracing_subscriber::fmt::FormatFields;
        let mut text = String::new();
        ctx.format_fields(
            tracing_subscriber::fmt::format::Writer::new(&mut text),
            event,
        )?;
        let style = console::Style::new();
        let (prefix, style) = match *event.metadata().level() {
            tracing::Level::ERROR => ("ERROR: ", style.red()),
            tracing::Level::WARN => ("WARNING: ", style.yellow()),
            tracing::Level::INFO => ("info: ", style.green()),
            tracing::Level::DEBUG => ("debug: ", style.blue()),
            tracing::Level::TRACE => ("trace: ", style.magenta()),
        };
        writeln!(
            writer,
            "{}",
            styled_message(prefix, style, &text, self.color)
        )
    }
}

/// One log event, buffered and written to stderr whole (above the progress bars) when dropped.
struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            progress::suspend(|| {
                let _ = std::io::stderr().lock().write_all(&self.0);
            });
        }
    }
}

/// A byte count for people, in decimal units as storage providers bill them (`1.5 GB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// DVC's plural for counts in summaries: `1 file`, `2 files`.
pub fn files(n: usize) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
}
