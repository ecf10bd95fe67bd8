//! Progress for people. Transfers ([`TransferProgress`]): on a terminal, a bar by bytes with
//! objects, rate and ETA, a line per remote when several are in use and a bar per large object
//! in flight, every line fitted to the terminal's width; when stderr is not a terminal, a plain
//! line every few seconds; nothing with `-q`. Other long work ([`Activity`]): a spinner with
//! what is being done and for how long, or the same plain lines.
use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::human_bytes;
use crate::transfer::{ObjectMeter, ObjectSink, Progress};

/// How often the plain (non-terminal) progress line is printed, unless `FERRY_PROGRESS_EVERY`
/// (seconds) says otherwise.
const PLAIN_EVERY: Duration = Duration::from_secs(3);

/// Objects at least this large get a bar of their own while they move.
const LARGE_OBJECT: u64 = 8_000_000;

/// At most this many per-object bars at once (the rest still count in the totals).
const MAX_OBJECT_LINES: usize = 4;

/// The rate is measured over this window, so a stall shows as a falling rate.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// How the display is drawn, decided once per command from `-q` and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Plain,
    Silent,
}

fn mode(quiet: bool) -> Mode {
    if quiet {
        Mode::Silent
    } else if std::io::stderr().is_terminal()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
    {
        Mode::Bar
    } else {
        Mode::Plain
    }
}

fn plain_every() -> Duration {
    std::env::var("FERRY_PROGRESS_EVERY")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(PLAIN_EVERY)
}

/// Every bar of the process draws through this one, so that a line printed while bars are
/// shown ([`suspend`]) is printed above them instead of through them.
fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// Runs `print` with the bars (if any are shown) taken off the screen and redrawn after it:
/// how the printer and the logs write while a bar is up.
pub fn suspend<R>(print: impl FnOnce() -> R) -> R {
    match MULTI_USED.get() {
        Some(()) => multi().suspend(print),
        None => print(),
    }
}

/// Set once a bar was ever shown (until then, [`suspend`] need not touch the terminal).
static MULTI_USED: OnceLock<()> = OnceLock::new();

fn add_bar(bar: ProgressBar) -> ProgressBar {
    MULTI_USED.get_or_init(|| ());
    multi().add(bar)
}

/// The terminal's width for stderr, 80 when unknown.
pub fn term_width() -> usize {
    terminal_size::terminal_size_of(std::io::stderr())
        .map(|(w, _)| usize::from(w.0))
        .filter(|w| *w > 0)
        .unwrap_or(80)
}

/// Bytes per second over the last [`RATE_WINDOW`].
#[derive(Default)]
struct Rate(VecDeque<(Instant, u64)>);

impl Rate {
    fn sample(&mut self, now: Instant, total: u64) -> f64 {
        self.0.push_back((now, total));
        while self.0.len() > 2
            && self
                .0
                .get(1)
                .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            self.0.pop_front();
        }
        match self.0.front() {
            Some((t, n)) if now.duration_since(*t) >= Duration::from_millis(200) => {
                total.saturating_sub(*n) as f64 / now.duration_since(*t).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

#[derive(Default)]
struct RemoteLine {
    bytes: u64,
    active: u32,
    rate: Rate,
}

/// One large object in flight.
struct Flight {
    id: u64,
    remote: String,
    label: String,
    size: u64,
    moved: AtomicU64,
}

/// Everything the display shows, updated from the transfer's tasks.
struct State {
    verb: &'static str,
    objects_total: AtomicU64,
    objects_done: AtomicU64,
    bytes_total: AtomicU64,
    /// Bytes of finished objects, as `Progress::done` reported them.
    settled: AtomicU64,
    /// Bytes reported as they streamed (a retried attempt's bytes taken back).
    streamed: AtomicU64,
    remotes: Mutex<BTreeMap<String, RemoteLine>>,
    flights: Mutex<Vec<Arc<Flight>>>,
    next_id: AtomicU64,
    rate: Mutex<Rate>,
}

/// What one frame shows; built from [`State`] and rendered by [`render`], a pure function.
#[derive(Debug, Clone, Default, PartialEq)]
struct Frame {
    verb: String,
    objects_done: u64,
    objects_total: u64,
    bytes_done: u64,
    bytes_total: u64,
    rate: f64,
    remotes: Vec<RemoteFrame>,
    flights: Vec<FlightFrame>,
}

#[derive(Debug, Clone, PartialEq)]
struct RemoteFrame {
    name: String,
    bytes: u64,
    rate: f64,
    active: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct FlightFrame {
    label: String,
    remote: String,
    moved: u64,
    size: u64,
}

impl State {
    fn new(verb: &'static str) -> Self {
        Self {
            verb,
            objects_total: AtomicU64::new(0),
            objects_done: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            settled: AtomicU64::new(0),
            streamed: AtomicU64::new(0),
            remotes: Mutex::new(BTreeMap::new()),
            flights: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            rate: Mutex::new(Rate::default()),
        }
    }

    fn frame(&self, now: Instant) -> Frame {
        let bytes_done = self
            .streamed
            .load(Ordering::Relaxed)
            .max(self.settled.load(Ordering::Relaxed));
        let rate = self
            .rate
            .lock()
            .map(|mut r| r.sample(now, bytes_done))
            .unwrap_or(0.0);
        let remotes = self
            .remotes
            .lock()
            .map(|mut m| {
                m.iter_mut()
                    .map(|(name, r)| RemoteFrame {
                        name: name.clone(),
                        bytes: r.bytes,
                        rate: r.rate.sample(now, r.bytes),
                        active: r.active,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let flights = self
            .flights
            .lock()
            .map(|f| {
                f.iter()
                    .take(MAX_OBJECT_LINES)
                    .map(|f| FlightFrame {
                        label: f.label.clone(),
                        remote: f.remote.clone(),
                        moved: f.moved.load(Ordering::Relaxed),
                        size: f.size,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let objects_total = self.objects_total.load(Ordering::Relaxed);
        Frame {
            verb: self.verb.to_string(),
            objects_done: self.objects_done.load(Ordering::Relaxed).min(objects_total),
            objects_total,
            bytes_done,
            bytes_total: self.bytes_total.load(Ordering::Relaxed).max(bytes_done),
            rate,
            remotes,
            flights,
        }
    }
}

/// One object's bytes, reported to the shared state as they stream.
struct Track {
    state: Arc<State>,
    remote: String,
    flight: Option<Arc<Flight>>,
    moved: AtomicU64,
}

impl ObjectSink for Track {
    fn moved(&self, bytes: u64) {
        self.moved.fetch_add(bytes, Ordering::Relaxed);
        self.state.streamed.fetch_add(bytes, Ordering::Relaxed);
        if let Some(f) = &self.flight {
            f.moved.fetch_add(bytes, Ordering::Relaxed);
        }
        if let Ok(mut m) = self.state.remotes.lock()
            && let Some(r) = m.get_mut(&self.remote)
        {
            r.bytes += bytes;
        }
    }

    fn restart(&self) {
        let back = self.moved.swap(0, Ordering::Relaxed);
        if back == 0 {
            return;
        }
        self.state.streamed.fetch_sub(back, Ordering::Relaxed);
        if let Some(f) = &self.flight {
            f.moved.store(0, Ordering::Relaxed);
        }
        if let Ok(mut m) = self.state.remotes.lock()
            && let Some(r) = m.get_mut(&self.remote)
        {
            r.bytes = r.bytes.saturating_sub(back);
        }
    }
}

impl Drop for Track {
    fn drop(&mut self) {
        if let Ok(mut m) = self.state.remotes.lock()
            && let Some(r) = m.get_mut(&self.remote)
        {
            r.active = r.active.saturating_sub(1);
        }
        if let Some(f) = &self.flight
            && let Ok(mut flights) = self.state.flights.lock()
        {
            flights.retain(|x| x.id != f.id);
        }
    }
}

/// Progress for one transfer command (push, pull, fetch, sync).
pub struct TransferProgress {
    state: Arc<State>,
    mode: Mode,
    /// Made on the first work announced, so that an empty transfer draws nothing.
    bar: OnceLock<ProgressBar>,
    plain: Option<Ticker>,
}

impl TransferProgress {
    /// A progress display for `verb` ("fetching", "pushing"); silent when `quiet`.
    pub fn new(verb: &'static str, quiet: bool) -> Self {
        let state = Arc::new(State::new(verb));
        let mode = mode(quiet);
        let plain = (mode == Mode::Plain).then(|| {
            let state = state.clone();
            Ticker::start(move |_| {
                let frame = state.frame(Instant::now());
                (frame.objects_total > 0).then(|| plain_line(&frame))
            })
        });
        Self {
            state,
            mode,
            bar: OnceLock::new(),
            plain,
        }
    }

    /// Removes the bar (or stops the plain lines).
    pub fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
        if let Some(t) = &self.plain {
            t.stop();
        }
    }
}

impl Drop for TransferProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A bar whose one template key draws the whole frame, fitted to the width at each draw.
fn bar_for(state: &Arc<State>) -> ProgressBar {
    let shared = state.clone();
    let style = ProgressStyle::with_template("{frame}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "frame",
            move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let lines = render(&shared.frame(Instant::now()), term_width());
                let _ = w.write_str(&lines.join("\n"));
            },
        );
    let bar = add_bar(ProgressBar::new_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

impl Progress for TransferProgress {
    fn add_total(&self, objects: u64, bytes: u64) {
        self.state
            .objects_total
            .fetch_add(objects, Ordering::Relaxed);
        self.state.bytes_total.fetch_add(bytes, Ordering::Relaxed);
        if self.mode == Mode::Bar && objects > 0 {
            self.bar.get_or_init(|| bar_for(&self.state));
        }
    }

    fn done(&self, bytes: u64) {
        self.state.objects_done.fetch_add(1, Ordering::Relaxed);
        self.state.settled.fetch_add(bytes, Ordering::Relaxed);
    }

    fn object(&self, remote: &str, label: &str, size: Option<u64>) -> ObjectMeter {
        if self.mode == Mode::Silent {
            return ObjectMeter::none();
        }
        if let Ok(mut m) = self.state.remotes.lock() {
            m.entry(remote.to_string()).or_default().active += 1;
        }
        let flight = size.filter(|s| *s >= LARGE_OBJECT).map(|size| {
            let f = Arc::new(Flight {
                id: self.state.next_id.fetch_add(1, Ordering::Relaxed),
                remote: remote.to_string(),
                label: label.to_string(),
                size,
                moved: AtomicU64::new(0),
            });
            if let Ok(mut flights) = self.state.flights.lock() {
                flights.push(f.clone());
            }
            f
        });
        ObjectMeter::new(Arc::new(Track {
            state: self.state.clone(),
            remote: remote.to_string(),
            flight,
            moved: AtomicU64::new(0),
        }))
    }
}

/// The lines of one frame, none wider than `width`: the totals, then a line per remote when
/// several are in use, then a bar per large object in flight.
fn render(f: &Frame, width: usize) -> Vec<String> {
    let mut lines = vec![main_line(f, width)];
    if f.remotes.len() > 1 {
        let name_w = f
            .remotes
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(0);
        for r in &f.remotes {
            let text = format!(
                "  {:<name_w$}  {:>9}  {:>11}  {} in flight",
                r.name,
                human_bytes(r.bytes),
                per_sec(r.rate),
                r.active
            );
            lines.push(fit(&text, width));
        }
    }
    for o in &f.flights {
        lines.push(object_line(o, width));
    }
    lines
}

/// `pulling [=====>    ] 45.2 MB/150.0 MB  12/205 objects  20.1 MB/s  ETA 5s`, shortened to
/// fit: the object count goes first, then the rate, then the bar.
fn main_line(f: &Frame, width: usize) -> String {
    let sizes = if f.bytes_total > 0 {
        format!(
            "{}/{}",
            human_bytes(f.bytes_done),
            human_bytes(f.bytes_total)
        )
    } else {
        human_bytes(f.bytes_done)
    };
    let objects = format!("{}/{} objects", f.objects_done, f.objects_total);
    let rate = per_sec(f.rate);
    let eta = eta(f).map(|e| format!("ETA {e}"));
    let fraction =
        fraction(f.bytes_done, f.bytes_total).or_else(|| fraction(f.objects_done, f.objects_total));
    let full: Vec<&str> = [
        Some(sizes.as_str()),
        Some(objects.as_str()),
        Some(rate.as_str()),
        eta.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let no_objects: Vec<&str> = [Some(sizes.as_str()), Some(rate.as_str()), eta.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let least: Vec<&str> = [Some(sizes.as_str()), eta.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    for (fields, with_bar) in [
        (&full, true),
        (&no_objects, true),
        (&least, true),
        (&least, false),
    ] {
        let tail = fields.join("  ");
        let fixed = f.verb.chars().count() + 1 + tail.chars().count();
        if with_bar {
            // ` [` + bar + `] `
            let room = width.saturating_sub(fixed + 4);
            if room >= 10 {
                let bar = bar(fraction.unwrap_or(0.0), room.min(40));
                return format!("{} [{bar}] {tail}", f.verb);
            }
        } else if fixed <= width {
            return format!("{} {tail}", f.verb);
        }
    }
    fit(&format!("{} {}", f.verb, least.join("  ")), width)
}

/// `  model.pt (backblaze) [====>     ] 30.1 MB/150.0 MB`; a long name loses its start.
fn object_line(o: &FlightFrame, width: usize) -> String {
    let sizes = format!("{}/{}", human_bytes(o.moved), human_bytes(o.size));
    let bar_w = 20.min(width / 4);
    let fixed = 2 + 1 + o.remote.chars().count() + 2 + 3 + bar_w + 1 + sizes.chars().count();
    let room = width.saturating_sub(fixed);
    if room < 4 || bar_w < 5 {
        return fit(&format!("  {} {sizes}", o.label), width);
    }
    let label = keep_end(&o.label, room);
    let bar = bar(fraction(o.moved, o.size).unwrap_or(0.0), bar_w);
    format!("  {label} ({}) [{bar}] {sizes}", o.remote)
}

fn fraction(done: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| (done as f64 / total as f64).clamp(0.0, 1.0))
}

fn bar(fraction: f64, width: usize) -> String {
    let full = ((fraction * width as f64) as usize).min(width);
    let mut s = "=".repeat(full);
    if full < width {
        s.push('>');
        s.push_str(&" ".repeat(width - full - 1));
    }
    s
}

fn per_sec(rate: f64) -> String {
    format!("{}/s", human_bytes(rate as u64))
}

/// Time left at the current rate, by bytes.
fn eta(f: &Frame) -> Option<String> {
    if f.bytes_total == 0 || f.rate < 1.0 {
        return None;
    }
    let secs = (f.bytes_total.saturating_sub(f.bytes_done) as f64 / f.rate).ceil() as u64;
    Some(duration(secs))
}

/// `5s`, `1m05s`, `2h03m`.
fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
    }
}

/// `text` cut to `width` characters (the last one an ellipsis when cut).
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        s.push('…');
    }
    s
}

/// `text`'s last `width` characters, an ellipsis first when cut (a path's end says most).
fn keep_end(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    let tail: String = text.chars().skip(n - width.saturating_sub(1)).collect();
    format!("…{tail}")
}

/// The line printed every few seconds when stderr is not a terminal.
fn plain_line(f: &Frame) -> String {
    let mut text = format!(
        "{}: {}/{} objects, {}",
        f.verb,
        f.objects_done,
        f.objects_total,
        human_bytes(f.bytes_done)
    );
    if f.bytes_total > 0 {
        text.push_str(&format!(" of {}", human_bytes(f.bytes_total)));
    }
    text.push_str(&format!(", {}", per_sec(f.rate)));
    if let Some(e) = eta(f) {
        text.push_str(&format!(", ETA {e}"));
    }
    if f.remotes.len() > 1 {
        let per: Vec<String> = f
            .remotes
            .iter()
            .map(|r| format!("{} {}", r.name, human_bytes(r.bytes)))
            .collect();
        text.push_str(&format!(" ({})", per.join(", ")));
    }
    text
}

/// A thread printing a line on stderr every [`plain_every`] until stopped; the closure gets
/// the time since the start and returns the line (or nothing to print).
struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Ticker {
    fn start(line: impl Fn(Duration) -> Option<String> + Send + 'static) -> Self {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let every = plain_every();
        let flag = stop.clone();
        let started = Instant::now();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let (lock, cvar) = &*flag;
                let Ok(mut stopped) = lock.lock() else {
                    return;
                };
                loop {
                    // waits while not stopped, so a stop that came before this thread took the
                    // lock is seen at once instead of after a whole period
                    let Ok((guard, _)) = cvar.wait_timeout_while(stopped, every, |s| !*s) else {
                        return;
                    };
                    stopped = guard;
                    if *stopped {
                        return;
                    }
                    if let Some(text) = line(started.elapsed()) {
                        eprintln!("{text}");
                    }
                }
            })
            .ok();
        Self {
            stop,
            thread: Mutex::new(thread),
        }
    }

    fn stop(&self) {
        let (lock, cvar) = &*self.stop;
        if let Ok(mut s) = lock.lock() {
            *s = true;
        }
        cvar.notify_all();
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

/// Progress for long work that is not a transfer (add, checkout, status, gc, doctor): what is
/// being done and for how long, as a spinner on a terminal or a plain line every few seconds.
pub struct Activity {
    bar: Option<ProgressBar>,
    plain: Option<Ticker>,
}

impl Activity {
    /// Starts showing `what` ("hashing", "checking remotes"); nothing when `quiet`.
    pub fn start(what: &'static str, quiet: bool) -> Self {
        match mode(quiet) {
            Mode::Silent => Self {
                bar: None,
                plain: None,
            },
            Mode::Plain => Self {
                bar: None,
                plain: Some(Ticker::start(move |t| {
                    Some(format!("{what}: {}", duration(t.as_secs())))
                })),
            },
            Mode::Bar => {
                let bar = add_bar(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(what);
                bar.enable_steady_tick(Duration::from_millis(120));
                Self {
                    bar: Some(bar),
                    plain: None,
                }
            }
        }
    }

    /// Stops showing it.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(t) = &self.plain {
            t.stop();
        }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            verb: "pulling".into(),
            objects_done: 12,
            objects_total: 205,
            bytes_done: 45_200_000,
            bytes_total: 150_000_000,
            rate: 20_100_000.0,
            remotes: vec![
                RemoteFrame {
                    name: "backblaze".into(),
                    bytes: 30_100_000,
                    rate: 15_000_000.0,
                    active: 3,
                },
                RemoteFrame {
                    name: "dagshub".into(),
                    bytes: 15_100_000,
                    rate: 5_100_000.0,
                    active: 1,
                },
            ],
            flights: vec![FlightFrame {
                label: "models/very/long/path/to/the/model-weights-final.pt".into(),
                remote: "backblaze".into(),
                moved: 30_100_000,
                size: 150_000_000,
            }],
        }
    }

    /// A ticker stopped before its thread ever waited (a command failing at once) ends at once,
    /// not after a whole [`PLAIN_EVERY`] period: the stop is not a notification it can miss.
    #[test]
    fn a_ticker_stopped_at_once_ends_at_once() {
        for _ in 0..20 {
            let started = Instant::now();
            let ticker = Ticker::start(|_| None);
            ticker.stop();
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "stop took {:?}",
                started.elapsed()
            );
        }
    }

    #[test]
    fn a_frame_at_80_columns() {
        let lines = render(&frame(), 80);
        insta::assert_snapshot!(lines.join("\n"), @r"
        pulling [=====>           ] 45.2 MB/150.0 MB  12/205 objects  20.1 MB/s  ETA 6s
          backblaze    30.1 MB    15.0 MB/s  3 in flight
          dagshub      15.1 MB     5.1 MB/s  1 in flight
          …he/model-weights-final.pt (backblaze) [====>               ] 30.1 MB/150.0 MB
        ");
    }

    #[test]
    fn no_line_is_ever_wider_than_the_terminal() {
        let f = frame();
        for width in 1..=200 {
            for line in render(&f, width) {
                assert!(
                    line.chars().count() <= width,
                    "{} chars at width {width}: {line:?}",
                    line.chars().count()
                );
            }
        }
    }

    #[test]
    fn eta_is_by_bytes_not_objects() {
        // 203 of 205 objects done but most bytes still to come: the ETA says so.
        let f = Frame {
            objects_done: 203,
            objects_total: 205,
            bytes_done: 10_000_000,
            bytes_total: 160_000_000,
            rate: 15_000_000.0,
            ..frame()
        };
        assert_eq!(eta(&f).as_deref(), Some("10s"));
    }

    #[test]
    fn streamed_bytes_count_and_a_retry_takes_them_back() {
        let p = TransferProgress {
            state: Arc::new(State::new("pulling")),
            mode: Mode::Plain,
            bar: OnceLock::new(),
            plain: None,
        };
        p.add_total(2, 20_000_000);
        let big = p.object("backblaze", "model.pt", Some(16_000_000));
        let small = p.object("dagshub", "labels.csv", Some(4_000_000));
        let _ = big.count(Box::pin(futures::stream::empty()));
        let f = p.state.frame(Instant::now());
        assert_eq!(f.flights.len(), 1, "only the large object has a bar");
        assert_eq!(f.remotes.len(), 2);
        let sink = |m: &ObjectMeter, n: u64| {
            let stream: crate::remote::ByteStream = Box::pin(futures::stream::iter(vec![Ok(
                bytes::Bytes::from(vec![0u8; n as usize]),
            )]));
            let counted = m.count(stream);
            futures::executor::block_on(futures::StreamExt::count(counted));
        };
        sink(&big, 5_000_000);
        sink(&small, 4_000_000);
        let f = p.state.frame(Instant::now());
        assert_eq!(f.bytes_done, 9_000_000);
        assert_eq!(f.flights[0].moved, 5_000_000);
        // a retry of the big object starts from its first byte again
        sink(&big, 1_000_000);
        let f = p.state.frame(Instant::now());
        assert_eq!(f.bytes_done, 5_000_000);
        assert_eq!(f.remotes[0].bytes, 1_000_000);
        drop(big);
        p.done(16_000_000);
        let f = p.state.frame(Instant::now());
        assert!(f.flights.is_empty(), "a finished object loses its bar");
        assert_eq!(f.bytes_done, 16_000_000);
        assert_eq!(f.objects_done, 1);
    }
}
