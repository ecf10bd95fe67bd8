//! Output for people: results on stdout, `WARNING:`/`ERROR:`/`hint:` on stderr, logs via tracing.
pub mod json;
pub mod progress;
pub mod time;

use std::io::{IsTerminal, Write};

/// Prints results and messages, honouring `-q`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Printer {
    quiet: bool,
}

impl Printer {
    /// A printer; with `quiet` only errors are shown.
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// Whether `-q` was given.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Whether stdout is a terminal (progress bars, TAB handling).
    pub fn is_tty(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    /// A result line on stdout.
    pub fn line(&self, text: &str) {
        if !self.quiet {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{text}");
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
            eprintln!("WARNING: {text}");
        }
    }

    /// An `ERROR:` line on stderr; shown even with `-q`.
    pub fn error(&self, text: &str) {
        eprintln!("ERROR: {text}");
    }

    /// A `hint:` line on stderr; shown even with `-q`, since it belongs to an error.
    pub fn hint(&self, text: &str) {
        eprintln!("hint: {text}");
    }
}

/// Sets up tracing logs on stderr: `-v` info, `-vv` debug, `-vvv` trace; `FERRY_LOG` overrides.
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
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
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
