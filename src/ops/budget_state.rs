//! A remote's daily budget as an operation leaves it: today's use of B2's three meters (bytes,
//! GET/HEAD, LIST), their limits and the cap, so that the transfer reports (`push`, `pull`,
//! `fetch`, `sync` and their plans) can say in `--json` and text how much room is left.
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::budget::Budget;
use crate::transfer::remotes::Handle;

/// Today's use and limits of one remote, read from the ledger after the operation.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetState {
    /// Bytes downloaded from it in this window (this machine, and the team's share when known).
    pub bytes: u64,
    /// `daily_download_limit`; `None` is unlimited.
    pub bytes_limit: Option<u64>,
    /// GET/HEAD requests sent in this window (B2 Class B).
    pub requests: u64,
    /// `daily_request_limit`; `None` is unlimited.
    pub requests_limit: Option<u64>,
    /// LIST-class calls sent in this window (B2 Class C).
    pub lists: u64,
    /// `daily_list_limit`; `None` is unlimited.
    pub lists_limit: Option<u64>,
    /// Whether the server reported its cap (in this run or earlier in this window).
    pub capped: bool,
    /// Until when no GET or HEAD goes to it, when it is capped and the ledger knows the reset.
    pub capped_until: Option<Timestamp>,
    /// The zone its window resets in (`budget_reset`).
    pub reset_zone: String,
    /// The next reset of its counts.
    pub resets_at: Timestamp,
    /// The zone itself, for showing times to people.
    #[serde(skip)]
    pub zone: TimeZone,
}

impl BudgetState {
    /// The state of `handle`'s budget now (its meter flushed first); `None` when it has no
    /// account (no ledger could be opened) or the ledger cannot be read.
    pub fn of(handle: &Handle) -> Option<BudgetState> {
        let account = handle.remote.account()?;
        let usage = account.usage().ok()?;
        let limits = Budget::from(&handle.settings);
        Some(BudgetState {
            bytes: usage.bytes,
            bytes_limit: limits.limit_bytes,
            requests: usage.requests,
            requests_limit: limits.limit_requests,
            lists: usage.lists,
            lists_limit: limits.limit_lists,
            capped: usage.capped_until.is_some() || handle.remote.is_capped(),
            capped_until: usage.capped_until,
            reset_zone: handle.settings.budget_reset.name.clone(),
            resets_at: usage.resets_at,
            zone: handle.settings.budget_reset.tz.clone(),
        })
    }

    /// When the cap ends (or, when the ledger has no mark, the window's reset), for people:
    /// `2026-11-28 00:00 UTC` in the remote's own zone.
    pub fn reset_text(&self) -> String {
        crate::ui::time::at(self.capped_until.unwrap_or(self.resets_at), &self.zone)
    }
}
