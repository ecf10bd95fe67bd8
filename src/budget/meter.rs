//! Batching in front of the ledger, so a pull of many small objects does not take a file lock
//! per object.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use jiff::tz::TimeZone;

use super::key::normalize_url;
use super::{Ledger, LedgerError};

/// Pending bytes that trigger a write to the ledger. A crash loses at most this much
/// accounting, well under any daily cap worth configuring.
const FLUSH_BYTES: u64 = 8 * 1024 * 1024;
/// Pending requests that trigger a write (B2 allows 2,500 a day; 32 is ~1%).
const FLUSH_REQUESTS: u64 = 32;

/// Counts one remote's downloads in memory and writes them to the [`Ledger`] every
/// [`FLUSH_BYTES`] / [`FLUSH_REQUESTS`], on [`Meter::flush`] and when dropped.
///
/// `add` is lock-free (atomics), so one `Arc<Meter>` can be shared by every transfer task of a
/// remote. A flush does a small blocking file write (a few milliseconds at most).
#[derive(Debug)]
pub struct Meter {
    ledger: Ledger,
    /// Normalised, so warnings never show credentials.
    url: String,
    tz: TimeZone,
    bytes: AtomicU64,
    requests: AtomicU64,
    warned: AtomicBool,
}

impl Meter {
    pub(crate) fn new(ledger: Ledger, url: &str, tz: TimeZone) -> Meter {
        Meter {
            ledger,
            url: normalize_url(url),
            tz,
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// Counts `bytes` downloaded and `requests` GET/HEAD calls sent. Never fails: if the ledger
    /// cannot be written the counts stay pending for the next flush and a warning is logged once,
    /// because losing budget accounting must not fail a download that succeeded.
    pub fn add(&self, bytes: u64, requests: u64) {
        let pending_bytes = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let pending_requests = self.requests.fetch_add(requests, Ordering::Relaxed) + requests;
        if (pending_bytes >= FLUSH_BYTES || pending_requests >= FLUSH_REQUESTS)
            && let Err(e) = self.flush()
        {
            self.warn(&e);
        }
    }

    /// Writes the pending counts to the ledger now (e.g. at the end of a pull, to report
    /// errors). On failure the counts stay pending.
    pub fn flush(&self) -> Result<(), LedgerError> {
        let bytes = self.bytes.swap(0, Ordering::Relaxed);
        let requests = self.requests.swap(0, Ordering::Relaxed);
        if bytes == 0 && requests == 0 {
            return Ok(());
        }
        match self.ledger.record(&self.url, &self.tz, bytes, requests) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.bytes.fetch_add(bytes, Ordering::Relaxed);
                self.requests.fetch_add(requests, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    fn warn(&self, e: &LedgerError) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!("budget use of '{}' not recorded: {e}", self.url);
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            self.warned.store(false, Ordering::Relaxed);
            self.warn(&e);
        }
    }
}
