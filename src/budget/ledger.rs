//! The on-disk ledger: one small JSON file per remote, rewritten atomically under a lock.
use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::clock::Clock;
use super::key::{file_stem, normalize_url};
use super::meter::Meter;
use super::window::Window;
use super::{Budget, LedgerError};

/// Overrides the per-user state directory (the ledger lives in `$FERRY_STATE_DIR/budget`); used by
/// tests and by anyone who wants the ledger somewhere else.
pub const STATE_DIR_ENV: &str = "FERRY_STATE_DIR";

/// The version of the file layout below; a file with another version is treated as damaged.
const FORMAT: u32 = 1;

/// A remote's use in the current day window, as the planner and `ferry remote usage` need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes downloaded from the remote in this window.
    pub bytes: u64,
    /// GET/HEAD requests sent to the remote in this window (B2 bills both as Class B).
    pub requests: u64,
    /// LIST and other bucket calls sent in this window (B2's Class C).
    pub lists: u64,
    /// The part of the three counts above that other machines of the team used, as last read
    /// from the team ledger (`[bytes, requests, lists]`; zero without one).
    pub others: [u64; 3],
    /// When the server last reported its cap, the instant until which the remote must be
    /// skipped (its next reset); `None` when no cap is in force at the asked instant.
    pub capped_until: Option<Timestamp>,
    /// The start of the window the counts belong to.
    pub window_start: Timestamp,
    /// The next reset: the counts drop to zero at this instant.
    pub resets_at: Timestamp,
}

/// What [`Ledger::claim`] granted, and the day window it was taken in. The window travels with
/// the claim so that giving back what was not used ([`Ledger::release`]) lands in the day the
/// bytes were claimed from, even when the download straddles the reset: a release after the
/// reset must not lower the new day's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// How many of the asked objects (a prefix, in order) fit.
    pub granted: usize,
    /// The window the claim was recorded in.
    pub window: Window,
}

/// The per-user budget ledger. Cheap to clone; every method opens the files it needs, so handles
/// in several threads or processes see each other's writes.
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
    clock: Clock,
}

/// One remote's file, as stored. Instants are RFC 3339 strings so the file reads well by hand.
///
/// `lists` came after format 1 was first written: a file without it (an older Ferry's) reads as
/// no list calls, and an older Ferry reading a newer file ignores the field, so the format
/// number stays 1 and both versions can share a state directory.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    format: u32,
    url: String,
    window_start: Timestamp,
    window_end: Timestamp,
    bytes: u64,
    requests: u64,
    #[serde(default)]
    lists: u64,
    capped_until: Option<Timestamp>,
    /// The team's use by other machines today, as last read from the team ledger.
    #[serde(default)]
    others: [u64; 3],
    /// How much of this machine's own use is already published to the team ledger.
    #[serde(default)]
    published: [u64; 3],
}

impl Entry {
    /// The entry as it counts at `now`: an expired window starts again from zero in the window
    /// `now` falls in; an expired cap is dropped.
    fn current(stored: Option<Entry>, url: &str, window: Window, now: Timestamp) -> Entry {
        let mut entry = stored.unwrap_or(Entry {
            format: FORMAT,
            url: url.to_string(),
            window_start: window.start,
            window_end: window.end,
            bytes: 0,
            requests: 0,
            lists: 0,
            capped_until: None,
            others: [0; 3],
            published: [0; 3],
        });
        let stored_window = Window {
            start: entry.window_start,
            end: entry.window_end,
        };
        if !stored_window.is_current(now) {
            entry.window_start = window.start;
            entry.window_end = window.end;
            entry.bytes = 0;
            entry.requests = 0;
            entry.lists = 0;
            entry.others = [0; 3];
            entry.published = [0; 3];
        }
        if entry.capped_until.is_some_and(|until| now >= until) {
            entry.capped_until = None;
        }
        entry
    }

    fn window(&self) -> Window {
        Window {
            start: self.window_start,
            end: self.window_end,
        }
    }

    fn own(&self) -> [u64; 3] {
        [self.bytes, self.requests, self.lists]
    }

    fn usage(&self) -> Usage {
        Usage {
            bytes: self.bytes.saturating_add(self.others[0]),
            requests: self.requests.saturating_add(self.others[1]),
            lists: self.lists.saturating_add(self.others[2]),
            others: self.others,
            capped_until: self.capped_until,
            window_start: self.window_start,
            resets_at: self.window_end,
        }
    }
}

impl Ledger {
    /// The ledger in the per-user state directory (`$FERRY_STATE_DIR/budget`, else
    /// `$XDG_STATE_HOME/ferry/budget`, else `~/.local/state/ferry/budget`), on the clock given by
    /// `FERRY_NOW` or the system. Creates nothing until the first write.
    pub fn open_default() -> Result<Ledger, LedgerError> {
        Ok(Ledger {
            dir: state_dir()?.join("budget"),
            clock: Clock::from_env()?,
        })
    }

    /// The ledger kept in `dir`, on the system clock.
    pub fn open(dir: impl Into<PathBuf>) -> Ledger {
        Ledger {
            dir: dir.into(),
            clock: Clock::System,
        }
    }

    /// The same ledger read and written at the instants of `clock` (tests of day rollover).
    pub fn with_clock(mut self, clock: Clock) -> Ledger {
        self.clock = clock;
        self
    }

    /// The directory holding the ledger files (shown by `ferry remote usage -v` and `doctor`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The instant this ledger treats as now, so callers render resets on the same clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The remote's use so far in the current window of `tz`. Reads without locking (writes are
    /// atomic renames); a missing, damaged or unreadable file counts as no use (module doc).
    pub fn usage(&self, url: &str, tz: &TimeZone) -> Result<Usage, LedgerError> {
        self.usage_at(url, tz, self.clock.now())
    }

    /// Adds downloaded bytes and GET/HEAD requests to the remote's current window and returns
    /// the new totals. Takes the remote's lock for one small read-modify-write; for a stream of
    /// objects prefer a [`Meter`], which batches.
    pub fn record(
        &self,
        url: &str,
        tz: &TimeZone,
        bytes: u64,
        requests: u64,
    ) -> Result<Usage, LedgerError> {
        self.record_at(url, tz, bytes, requests, self.clock.now())
    }

    /// Adds LIST-class calls (B2 Class C) to the remote's current window; returns the totals.
    pub fn record_lists(&self, url: &str, tz: &TimeZone, lists: u64) -> Result<Usage, LedgerError> {
        self.update(url, tz, self.clock.now(), |entry, _| {
            entry.lists = entry.lists.saturating_add(lists);
        })
        .map(|entry| entry.usage())
    }

    /// Sets what the other machines of the team used today (read from the team ledger), which
    /// from now on counts against the limits with this machine's own use.
    pub fn set_others(
        &self,
        url: &str,
        tz: &TimeZone,
        window: Window,
        others: [u64; 3],
    ) -> Result<(), LedgerError> {
        self.update(url, tz, self.clock.now(), |entry, _| {
            if entry.window() == window {
                entry.others = others;
            }
        })
        .map(|_| ())
    }

    /// This machine's use not yet published to the team ledger, in the current window, marked
    /// as published (give it back with [`Ledger::unpublish`] if the record cannot be written).
    /// Use that went down since (claims given back) publishes nothing until it grows again, so
    /// the team's total never undercounts.
    pub fn take_unpublished(
        &self,
        url: &str,
        tz: &TimeZone,
    ) -> Result<(Window, [u64; 3]), LedgerError> {
        let mut delta = [0; 3];
        let entry = self.update(url, tz, self.clock.now(), |entry, _| {
            let own = entry.own();
            for i in 0..3 {
                delta[i] = own[i].saturating_sub(entry.published[i]);
                entry.published[i] = entry.published[i].max(own[i]);
            }
        })?;
        Ok((entry.window(), delta))
    }

    /// Gives back a [`Ledger::take_unpublished`] whose record was not written.
    pub fn unpublish(&self, url: &str, window: Window, delta: [u64; 3]) -> Result<(), LedgerError> {
        self.update_in(url, window, |entry| {
            for (p, d) in entry.published.iter_mut().zip(delta) {
                *p = p.saturating_sub(d);
            }
        })
    }

    /// Forgets a cap mark (a read succeeded after it, or `ferry remote usage --reset`); the
    /// day's counts stay. Returns whether a mark was in force.
    pub fn clear_cap(&self, url: &str, tz: &TimeZone) -> Result<bool, LedgerError> {
        let url_n = normalize_url(url);
        let path = self.data_path(&url_n);
        if !path.exists() {
            return Ok(false);
        }
        let mut had = false;
        self.update(url, tz, self.clock.now(), |entry, _| {
            had = entry.capped_until.take().is_some();
        })?;
        Ok(had)
    }

    /// Notes that the server answered "cap exceeded": the remote is skipped until its next reset
    /// in `tz`, which is returned. Later runs that day skip it without sending a request.
    pub fn mark_capped(&self, url: &str, tz: &TimeZone) -> Result<Timestamp, LedgerError> {
        self.mark_capped_at(url, tz, self.clock.now())
    }

    /// Claims, in one locked read-modify-write, the longest prefix of `costs` (bytes, requests
    /// per object, in the order they should be tried) that fits `budget` on top of what every
    /// process has used or claimed today; records it as used and returns how many objects it
    /// covers. A capped remote grants nothing. This is what keeps two `ferry pull`s running at
    /// once under one limit: each takes its share before downloading, never after.
    pub fn claim(
        &self,
        url: &str,
        tz: &TimeZone,
        budget: &Budget,
        costs: &[(u64, u64)],
    ) -> Result<Claim, LedgerError> {
        self.claim_at(url, tz, budget, costs, self.clock.now())
    }

    /// Gives back bytes and requests claimed in `window` that were not used (an object that
    /// failed, went elsewhere, or was interrupted), never going below zero. Once that window has
    /// ended the give-back is dropped: the new day's count never included the claim. Returns the
    /// use in the current window.
    pub fn release(
        &self,
        url: &str,
        tz: &TimeZone,
        window: Window,
        bytes: u64,
        requests: u64,
    ) -> Result<Usage, LedgerError> {
        if bytes > 0 || requests > 0 {
            self.update_in(url, window, |entry| {
                entry.bytes = entry.bytes.saturating_sub(bytes);
                entry.requests = entry.requests.saturating_sub(requests);
            })?;
        }
        self.usage(url, tz)
    }

    /// Adds use that happened in `window` (a [`Meter`] flushing counts gathered before a reset):
    /// into the current window as [`Ledger::record`] does while `window` is current, else into
    /// that window only if the stored file still holds it (otherwise that day is over and its
    /// counts no longer limit anything).
    pub(crate) fn record_in(
        &self,
        url: &str,
        tz: &TimeZone,
        window: Window,
        [bytes, requests, lists]: [u64; 3],
    ) -> Result<(), LedgerError> {
        let add = |entry: &mut Entry| {
            entry.bytes = entry.bytes.saturating_add(bytes);
            entry.requests = entry.requests.saturating_add(requests);
            entry.lists = entry.lists.saturating_add(lists);
        };
        let now = self.clock.now();
        if window.is_current(now) {
            return self.update(url, tz, now, |entry, _| add(entry)).map(|_| ());
        }
        self.update_in(url, window, add)
    }

    /// The window `now` falls in for `tz`, by this ledger's clock.
    pub fn window(&self, tz: &TimeZone) -> Result<Window, LedgerError> {
        Window::at(self.clock.now(), tz)
    }

    /// A batching counter for one remote, shareable across tasks (see [`Meter`]).
    pub fn meter(&self, url: &str, tz: &TimeZone) -> Meter {
        Meter::new(self.clone(), url, tz.clone())
    }

    pub(crate) fn usage_at(
        &self,
        url: &str,
        tz: &TimeZone,
        now: Timestamp,
    ) -> Result<Usage, LedgerError> {
        let url = normalize_url(url);
        let window = Window::at(now, tz)?;
        let stored = self.load(&self.data_path(&url), &url);
        Ok(Entry::current(stored, &url, window, now).usage())
    }

    pub(crate) fn record_at(
        &self,
        url: &str,
        tz: &TimeZone,
        bytes: u64,
        requests: u64,
        now: Timestamp,
    ) -> Result<Usage, LedgerError> {
        self.update(url, tz, now, |entry, _| {
            entry.bytes = entry.bytes.saturating_add(bytes);
            entry.requests = entry.requests.saturating_add(requests);
        })
        .map(|entry| entry.usage())
    }

    pub(crate) fn claim_at(
        &self,
        url: &str,
        tz: &TimeZone,
        budget: &Budget,
        costs: &[(u64, u64)],
        now: Timestamp,
    ) -> Result<Claim, LedgerError> {
        let window = Window::at(now, tz)?;
        if costs.is_empty() {
            return Ok(Claim { granted: 0, window });
        }
        let mut granted = 0;
        let entry = self.update(url, tz, now, |entry, _| {
            let mut left = budget.remaining(&entry.usage());
            granted = costs
                .iter()
                .take_while(|(bytes, requests)| left.reserve(*bytes, *requests))
                .count();
            let (bytes, requests) = costs[..granted]
                .iter()
                .fold((0u64, 0u64), |(b, r), (cb, cr)| {
                    (b.saturating_add(*cb), r.saturating_add(*cr))
                });
            entry.bytes = entry.bytes.saturating_add(bytes);
            entry.requests = entry.requests.saturating_add(requests);
        })?;
        Ok(Claim {
            granted,
            window: entry.window(),
        })
    }

    pub(crate) fn mark_capped_at(
        &self,
        url: &str,
        tz: &TimeZone,
        now: Timestamp,
    ) -> Result<Timestamp, LedgerError> {
        let entry = self.update(url, tz, now, |entry, window| {
            entry.capped_until = entry.capped_until.max(Some(window.end));
        })?;
        Ok(entry.capped_until.unwrap_or(entry.window_end))
    }

    /// Lock, read, change, write to a temp file, rename over, unlock.
    fn update(
        &self,
        url: &str,
        tz: &TimeZone,
        now: Timestamp,
        change: impl FnOnce(&mut Entry, Window),
    ) -> Result<Entry, LedgerError> {
        let url = normalize_url(url);
        let window = Window::at(now, tz)?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| LedgerError::io("create the directory of the", &self.dir, e))?;
        let path = self.data_path(&url);
        let _lock = lock(&path.with_extension("lock"))?;
        let stored = self.load(&path, &url);
        if stored.is_none() && path.exists() {
            // Damaged: keep it for inspection; the rename below starts a fresh file.
            let _ = std::fs::rename(&path, path.with_extension("json.corrupt"));
        }
        let mut entry = Entry::current(stored, &url, window, now);
        change(&mut entry, window);
        self.write(&path, &entry)?;
        Ok(entry)
    }

    /// Lock, read, and change the stored entry only if it still holds `window`; a file that has
    /// moved on to a later window (or holds none) is left as it is.
    fn update_in(
        &self,
        url: &str,
        window: Window,
        change: impl FnOnce(&mut Entry),
    ) -> Result<(), LedgerError> {
        let url = normalize_url(url);
        let path = self.data_path(&url);
        if !self.dir.exists() {
            return Ok(());
        }
        let _lock = lock(&path.with_extension("lock"))?;
        let Some(mut entry) = self.load(&path, &url) else {
            return Ok(());
        };
        if entry.window() != window {
            return Ok(());
        }
        change(&mut entry);
        self.write(&path, &entry)
    }

    fn data_path(&self, normalized_url: &str) -> PathBuf {
        self.dir.join(format!("{}.json", file_stem(normalized_url)))
    }

    /// The stored entry, or `None` when there is none or it cannot be used (warned once).
    fn load(&self, path: &Path, url: &str) -> Option<Entry> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                warn_once(path, &format!("cannot read it ({e})"));
                return None;
            }
        };
        match serde_json::from_slice::<Entry>(&text) {
            Ok(entry) if entry.format == FORMAT && entry.url == url => Some(entry),
            Ok(entry) if entry.format != FORMAT => {
                warn_once(path, &format!("unknown format {}", entry.format));
                None
            }
            Ok(_) => {
                warn_once(path, "it belongs to another URL");
                None
            }
            Err(e) => {
                warn_once(path, &format!("it is damaged ({e})"));
                None
            }
        }
    }

    fn write(&self, path: &Path, entry: &Entry) -> Result<(), LedgerError> {
        let io = |e| LedgerError::io("write", path, e);
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(io)?;
        let text = serde_json::to_vec_pretty(entry).map_err(|e| io(e.into()))?;
        tmp.write_all(&text).map_err(io)?;
        tmp.as_file().sync_data().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

/// Takes the exclusive lock guarding one remote's file; released when the returned file drops,
/// including when the process dies. The lock lives in its own file because the data file is
/// replaced by rename on every write, and a lock on a replaced inode would guard nothing.
fn lock(path: &Path) -> Result<File, LedgerError> {
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(|e| LedgerError::io("open the lock of the", path, e))?;
    file.lock()
        .map_err(|e| LedgerError::io("lock the", path, e))?;
    Ok(file)
}

/// `$FERRY_STATE_DIR`, else `$XDG_STATE_HOME/ferry` (when absolute, as the XDG spec requires),
/// else `$HOME/.local/state/ferry`.
fn state_dir() -> Result<PathBuf, LedgerError> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var(STATE_DIR_ENV) {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_STATE_HOME").filter(|d| d.is_absolute()) {
        return Ok(dir.join("ferry"));
    }
    var("HOME")
        .map(|home| home.join(".local/state/ferry"))
        .ok_or(LedgerError::NoStateDir)
}

/// A damaged ledger file is reported once per process, not once per object the planner asks
/// about.
fn warn_once(path: &Path, why: &str) {
    static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if warned.insert(path.to_path_buf()) {
        tracing::warn!(
            "ignoring budget ledger '{}': {why}; counting this remote's use from zero (remove the file if it is damaged, or set FERRY_STATE_DIR to a directory Ferry may write)",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B2: &str = "s3://bucket/data";

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A ledger in `dir` on a clock frozen at a weekday noon, so no test depends on today.
    fn at_noon(dir: &Path) -> Ledger {
        Ledger::open(dir).with_clock(Clock::Fixed(ts("2026-11-27T12:00:00Z")))
    }

    fn la() -> TimeZone {
        TimeZone::get("America/Los_Angeles").unwrap()
    }

    #[test]
    fn counts_add_up_within_a_utc_day_and_reset_at_midnight() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path());
        let utc = TimeZone::UTC;
        ledger
            .record_at(B2, &utc, 700, 3, ts("2026-11-27T00:00:00Z"))
            .unwrap();
        let u = ledger
            .record_at(B2, &utc, 300, 2, ts("2026-11-27T23:59:59Z"))
            .unwrap();
        assert_eq!((u.bytes, u.requests), (1_000, 5));
        assert_eq!(u.resets_at, ts("2026-11-28T00:00:00Z"));
        let read = ledger
            .usage_at(B2, &utc, ts("2026-11-27T23:59:59.999Z"))
            .unwrap();
        assert_eq!(read, u);

        let next = ledger
            .usage_at(B2, &utc, ts("2026-11-28T00:00:00Z"))
            .unwrap();
        assert_eq!((next.bytes, next.requests), (0, 0));
        assert_eq!(next.window_start, ts("2026-11-28T00:00:00Z"));
        let after = ledger
            .record_at(B2, &utc, 5, 1, ts("2026-11-28T00:00:01Z"))
            .unwrap();
        assert_eq!((after.bytes, after.requests), (5, 1));
    }

    #[test]
    fn a_los_angeles_window_rolls_over_at_local_midnight_not_utc() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path());
        // 09:00 PST on 26 Nov, then 01:00 UTC on 27 Nov (17:00 PST, still 26 Nov locally).
        ledger
            .record_at(B2, &la(), 10, 1, ts("2026-11-26T17:00:00Z"))
            .unwrap();
        let same = ledger
            .record_at(B2, &la(), 10, 1, ts("2026-11-27T01:00:00Z"))
            .unwrap();
        assert_eq!(same.bytes, 20, "UTC midnight is not the LA reset");
        assert_eq!(same.resets_at, ts("2026-11-27T08:00:00Z"));
        let before = ledger
            .usage_at(B2, &la(), ts("2026-11-27T07:59:59Z"))
            .unwrap();
        assert_eq!(before.bytes, 20);
        let after = ledger
            .usage_at(B2, &la(), ts("2026-11-27T08:00:00Z"))
            .unwrap();
        assert_eq!(after.bytes, 0);
        assert_eq!(after.resets_at, ts("2026-11-28T08:00:00Z"));
    }

    #[test]
    fn a_cap_mark_holds_until_the_reset_and_then_expires() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path());
        let utc = TimeZone::UTC;
        let until = ledger
            .mark_capped_at(B2, &utc, ts("2026-11-27T15:00:00Z"))
            .unwrap();
        assert_eq!(until, ts("2026-11-28T00:00:00Z"));
        let later = ledger
            .usage_at(B2, &utc, ts("2026-11-27T23:00:00Z"))
            .unwrap();
        assert_eq!(later.capped_until, Some(until));
        let next_day = ledger
            .usage_at(B2, &utc, ts("2026-11-28T00:00:00Z"))
            .unwrap();
        assert_eq!(next_day.capped_until, None);
        // Other remotes are unaffected.
        let other = ledger.usage_at(
            "https://dagshub.com/u/r.dvc",
            &utc,
            ts("2026-11-27T23:00:00Z"),
        );
        assert_eq!(other.unwrap().capped_until, None);
    }

    #[test]
    fn claims_take_what_fits_in_order_and_releases_give_back() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path());
        let utc = TimeZone::UTC;
        let now = ts("2026-11-27T10:00:00Z");
        let budget = Budget {
            limit_bytes: Some(1_000),
            limit_requests: Some(5),
            limit_lists: None,
        };
        ledger.record_at(B2, &utc, 100, 1, now).unwrap();
        let claim = ledger
            .claim_at(B2, &utc, &budget, &[(500, 1), (300, 1), (200, 1)], now)
            .unwrap();
        assert_eq!(
            claim.granted, 2,
            "800 of the 900 left; the third would pass the limit"
        );
        let u = ledger.usage_at(B2, &utc, now).unwrap();
        assert_eq!((u.bytes, u.requests), (900, 3));
        let n = ledger
            .claim_at(B2, &utc, &budget, &[(50, 1), (50, 1), (0, 1)], now)
            .unwrap();
        assert_eq!(n.granted, 2, "requests run out before bytes");
        let ledger = ledger.with_clock(Clock::Fixed(now));
        ledger.release(B2, &utc, claim.window, 300, 1).unwrap();
        let u = ledger.usage_at(B2, &utc, now).unwrap();
        assert_eq!((u.bytes, u.requests), (700, 4));
        ledger.mark_capped_at(B2, &utc, now).unwrap();
        let n = ledger.claim_at(B2, &utc, &budget, &[(1, 1)], now).unwrap();
        assert_eq!(n.granted, 0, "a capped remote grants nothing");
        let unlimited = ledger
            .claim_at(
                B2,
                &utc,
                &Budget::default(),
                &[(1, 1)],
                ts("2026-11-28T01:00:00Z"),
            )
            .unwrap();
        assert_eq!(unlimited.granted, 1, "the cap ends at the reset");
    }

    #[test]
    fn concurrent_claims_never_pass_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget {
            limit_bytes: Some(10_000),
            limit_requests: None,
            limit_lists: None,
        };
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let ledger = at_noon(dir.path());
                std::thread::spawn(move || {
                    (0..10)
                        .map(|_| {
                            ledger
                                .claim(B2, &TimeZone::UTC, &budget, &[(300, 1)])
                                .unwrap()
                                .granted
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        let granted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(granted, 33, "10,000 / 300");
        let u = at_noon(dir.path()).usage(B2, &TimeZone::UTC).unwrap();
        assert_eq!(u.bytes, 9_900);
    }

    #[test]
    fn a_cap_mark_in_los_angeles_lasts_to_local_midnight() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path());
        let until = ledger
            .mark_capped_at(B2, &la(), ts("2026-11-27T09:00:00Z"))
            .unwrap();
        assert_eq!(until, ts("2026-11-28T08:00:00Z"));
    }

    #[test]
    fn concurrent_writers_with_their_own_handles_lose_no_counts() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let ledger = at_noon(dir.path());
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        ledger.record(B2, &TimeZone::UTC, 1_000, 1).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let u = at_noon(dir.path()).usage(B2, &TimeZone::UTC).unwrap();
        assert_eq!((u.bytes, u.requests), (200_000, 200));
    }

    #[test]
    fn meters_shared_by_threads_flush_everything_by_drop() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = at_noon(dir.path());
        let meter = std::sync::Arc::new(ledger.meter(B2, &TimeZone::UTC));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let meter = meter.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        meter.add(100_000, 2);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let flushed_early = ledger.usage(B2, &TimeZone::UTC).unwrap();
        assert!(flushed_early.bytes > 0, "batches flush before the end");
        drop(meter);
        let u = ledger.usage(B2, &TimeZone::UTC).unwrap();
        assert_eq!((u.bytes, u.requests), (40_000_000, 800));
    }

    #[test]
    fn a_damaged_file_counts_as_empty_and_is_moved_aside_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = at_noon(dir.path());
        let utc = TimeZone::UTC;
        ledger.record(B2, &utc, 50, 1).unwrap();
        let path = ledger.data_path(&normalize_url(B2));
        std::fs::write(&path, b"{\"format\": 1, \"url\": trunc").unwrap();
        let u = ledger.usage(B2, &utc).unwrap();
        assert_eq!((u.bytes, u.requests, u.capped_until), (0, 0, None));

        let u = ledger.record(B2, &utc, 7, 1).unwrap();
        assert_eq!((u.bytes, u.requests), (7, 1));
        let aside = std::fs::read(path.with_extension("json.corrupt")).unwrap();
        assert_eq!(aside, b"{\"format\": 1, \"url\": trunc");
        assert_eq!(ledger.usage(B2, &utc).unwrap().bytes, 7);
    }

    #[test]
    fn an_unwritable_ledger_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"").unwrap();
        let ledger = at_noon(&blocker.join("budget"));
        let err = ledger.record(B2, &TimeZone::UTC, 1, 1).unwrap_err();
        assert!(matches!(err, LedgerError::Io { .. }), "{err}");
        assert_eq!(ledger.usage(B2, &TimeZone::UTC).unwrap().bytes, 0);
    }

    #[test]
    fn the_file_keeps_the_url_without_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = at_noon(dir.path());
        let url = "https://alice:tok3n-s3cret@dagshub.com/alice/data.dvc";
        ledger.record(url, &TimeZone::UTC, 1, 1).unwrap();
        ledger.mark_capped(url, &TimeZone::UTC).unwrap();
        let mut texts = String::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            texts += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
        }
        assert!(
            texts.contains("\"url\": \"https://dagshub.com/alice/data.dvc\""),
            "{texts}"
        );
        assert!(
            !texts.contains("tok3n") && !texts.contains("alice:"),
            "{texts}"
        );
        let plain = ledger.usage("https://dagshub.com/alice/data.dvc/", &TimeZone::UTC);
        assert_eq!(
            plain.unwrap().bytes,
            1,
            "same budget with or without userinfo"
        );
    }

    #[test]
    fn a_fixed_clock_drives_the_public_methods() {
        let dir = tempfile::tempdir().unwrap();
        let day1 = Ledger::open(dir.path()).with_clock(Clock::Fixed(ts("2026-11-27T12:00:00Z")));
        day1.record(B2, &TimeZone::UTC, 10, 1).unwrap();
        day1.mark_capped(B2, &TimeZone::UTC).unwrap();
        let day2 = day1
            .clone()
            .with_clock(Clock::Fixed(ts("2026-11-28T12:00:00Z")));
        let u = day2.usage(B2, &TimeZone::UTC).unwrap();
        assert_eq!((u.bytes, u.capped_until), (0, None));
        assert_eq!(day1.usage(B2, &TimeZone::UTC).unwrap().bytes, 10);
    }

    #[test]
    fn a_claim_released_after_the_reset_gives_back_to_its_own_day_only() {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget {
            limit_bytes: Some(1_000),
            limit_requests: None,
            limit_lists: None,
        };
        for (tz, before, after) in [
            (
                TimeZone::UTC,
                "2026-11-27T23:59:59Z",
                "2026-11-28T00:00:01Z",
            ),
            // 23:59:59 PST is 07:59:59 UTC; the LA reset is 08:00 UTC.
            (la(), "2026-11-28T07:59:59Z", "2026-11-28T08:00:01Z"),
        ] {
            let url = format!("s3://bucket/{}", tz.iana_name().unwrap_or("x"));
            let late = Ledger::open(dir.path()).with_clock(Clock::Fixed(ts(before)));
            let claim = late.claim(&url, &tz, &budget, &[(600, 1)]).unwrap();
            assert_eq!(claim.granted, 1);
            let next_day = late.clone().with_clock(Clock::Fixed(ts(after)));
            next_day.record(&url, &tz, 400, 1).unwrap();
            let u = next_day.release(&url, &tz, claim.window, 600, 1).unwrap();
            assert_eq!(
                (u.bytes, u.requests),
                (400, 1),
                "the new day keeps its own use ({tz:?})"
            );
        }
    }

    #[test]
    fn a_release_in_the_same_window_gives_back_and_a_fresh_file_takes_none() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = at_noon(dir.path());
        let utc = TimeZone::UTC;
        let window = ledger.window(&utc).unwrap();
        let u = ledger.release(B2, &utc, window, 10, 1).unwrap();
        assert_eq!((u.bytes, u.requests), (0, 0), "nothing to give back from");
        let budget = Budget {
            limit_bytes: Some(100),
            limit_requests: None,
            limit_lists: None,
        };
        let claim = ledger.claim(B2, &utc, &budget, &[(80, 1)]).unwrap();
        assert_eq!(claim.window, window);
        let u = ledger.release(B2, &utc, claim.window, 30, 0).unwrap();
        assert_eq!((u.bytes, u.requests), (50, 1));
    }

    #[test]
    fn a_meter_charges_counts_made_before_the_reset_to_the_old_day() {
        let dir = tempfile::tempdir().unwrap();
        let utc = TimeZone::UTC;
        let now = std::sync::Arc::new(Mutex::new(ts("2026-11-27T23:59:59Z")));
        let ledger = Ledger::open(dir.path()).with_clock(Clock::Manual(now.clone()));
        let meter = ledger.meter(B2, &utc);
        meter.add(500, 1);
        *now.lock().unwrap() = ts("2026-11-28T00:00:01Z");
        meter.add(7, 1);
        drop(meter);
        let u = ledger.usage(B2, &utc).unwrap();
        assert_eq!((u.bytes, u.requests), (7, 1), "only the new day's counts");
    }
}
