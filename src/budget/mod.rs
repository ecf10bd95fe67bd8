//! Per-remote daily ledger of bytes and requests (DESIGN.md §3 "Budgets", issue 4 item 4).
//!
//! Free tiers cap downloads per day (Backblaze B2: 1 GB and 2,500 GET/HEAD calls, reset at
//! 00:00 UTC). The router keeps each remote under the limits the user configured, counting what
//! this user already used today in *any* ferry process, and skips a remote whose server reported
//! its cap until that cap resets. This module is that memory; it knows nothing of HTTP or
//! routing.
//!
//! * [`Ledger`]: the per-user store in the XDG state directory, one file per remote keyed by the
//!   remote's URL ([`ledger_url`] of its spec, then [`normalize_url`]: credentials stripped, md5
//!   of it as file name; the normalised URL is kept inside for people reading the directory).
//! * [`Usage`]: use in the current window, [`Window`]: the calendar day in the remote's reset
//!   zone (`budget_reset`, parsed by `config::ferry`), [`Meter`]: batched recording during
//!   transfers.
//! * [`Account`]: one remote's limits, meter, claims and cap for one process, charged by the
//!   remote's layer stack for every request and byte.
//! * [`Budget`] / [`Remaining`]: the planner's arithmetic.
//! * [`Clock`]: `FERRY_NOW` freezes time for tests of rollover and reset.
//! * [`Team`] (`team.rs`): the team ledger, records of every machine's use on a shared remote
//!   (`[team] ledger`), so one account's limits hold for the whole team. It is the one part of
//!   `budget` that sends requests: through a [`crate::remote::Stack`], metered like the rest.
//!
//! **Concurrency.** Each remote has a small JSON file that is only ever replaced whole: write a
//! temp file in the same directory, fsync, rename over. Writers serialise on an exclusive
//! `flock` (std `File::lock`) of a sibling `.lock` file, held for one read-modify-write; the
//! kernel drops it if the process dies, so a killed pull never wedges the next one. Readers
//! take no lock: a rename is atomic, so they see the old or the new file, never half of one.
//! An append-only log would also work but grows without bound and needs compaction; a file per
//! remote of ~250 bytes rewritten every few MB (see [`Meter`]) costs nothing.
//!
//! **Damaged files.** A file that cannot be read or parsed is logged once as a warning and
//! counted as no use; the next write moves it aside as `<name>.json.corrupt` and starts afresh.
//! This can make the router *less* cautious for the rest of that day, which is acceptable: the
//! ledger is this machine's estimate, the server's cap answer is the real limit, and the router
//! treats that answer as "capped until the reset". Refusing to pull over a broken state file
//! would cost users far more than one extra capped request.
mod account;
mod claims;
mod clock;
mod error;
mod key;
mod ledger;
mod meter;
mod plan;
pub mod team;
mod window;

pub use account::{Account, Cost};
pub use claims::Claims;
pub use clock::{Clock, NOW_ENV};
pub use error::LedgerError;
pub use key::{ledger_url, normalize_url};
pub use ledger::{Claim, Ledger, STATE_DIR_ENV, Usage};
pub use meter::Meter;
pub use plan::{Budget, Remaining, best_order};
pub use team::Team;
pub use window::Window;
