//! Transfer progress: a bar with objects, bytes, rate and ETA on a terminal; a plain line every
//! few seconds otherwise; nothing with `-q`.
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::transfer::Progress;

/// How often the plain (non-terminal) progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Progress for one transfer command.
pub struct TransferProgress {
    verb: &'static str,
    bar: Option<ProgressBar>,
    plain: bool,
    total: AtomicU64,
    done: AtomicU64,
    bytes: AtomicU64,
    last_line: Mutex<Instant>,
    started: Instant,
}

impl TransferProgress {
    /// A progress display for `verb` ("fetching", "pushing"); silent when `quiet`.
    pub fn new(verb: &'static str, quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (!quiet && tty).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} objects, {msg}, ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(verb);
            bar
        });
        Self {
            verb,
            bar,
            plain: !quiet && !tty,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            last_line: Mutex::new(Instant::now()),
            started: Instant::now(),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for TransferProgress {
    fn add_total(&self, objects: u64, _bytes: u64) {
        let total = self.total.fetch_add(objects, Ordering::Relaxed) + objects;
        if let Some(bar) = &self.bar
            && total > 0
        {
            bar.set_length(total);
            if bar.is_hidden() {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
        }
    }

    fn done(&self, bytes: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let moved = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(bar) = &self.bar {
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} ({}/s)",
                super::human_bytes(moved),
                super::human_bytes((moved as f64 / secs) as u64)
            ));
            bar.inc(1);
        } else if self.plain
            && let Ok(mut last) = self.last_line.lock()
            && last.elapsed() >= PLAIN_EVERY
        {
            *last = Instant::now();
            eprintln!(
                "{}: {done}/{} objects, {}",
                self.verb,
                self.total.load(Ordering::Relaxed),
                super::human_bytes(moved)
            );
        }
    }
}
