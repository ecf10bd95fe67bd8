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
}

impl TransferProgress {
    /// A progress display for `verb` ("fetching", "pushing"); silent when `quiet`.
    pub fn new(verb: &'static str, quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (!quiet && tty).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} objects, {binary_bytes_per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(verb);
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
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    fn done(&self, bytes: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let moved = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(bar) = &self.bar {
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
