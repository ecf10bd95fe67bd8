//! The team ledger: the day's use of a shared remote by every machine of the team, kept on a
//! remote the team shares (`[team] ledger = "NAME"` in `.dvc/ferry.toml`; off by default).
//!
//! B2's free tier is per account, so the limits in `ferry.toml` are the team's, not one
//! machine's. Each machine keeps its own ledger (this module's parent) and publishes what it
//! used as small records on the shared remote; before planning a transfer it lists the day's
//! records and counts the others' use against the limits as well.
//!
//! It must work on B2, which has no conditional writes, so nothing is ever rewritten:
//!
//! * **append-only records**, one empty object per publication, holding the *increase* of the
//!   machine's use since its last record (so a record lost to a crash is made good by the next
//!   one, and nothing is counted twice);
//! * **names that carry the figures**:
//!   `ferry-team/v1/<remote>/<day>/<member>_<unix ms>_<nonce>_<bytes>_<classB>_<classC>`, so one
//!   LIST of the day's prefix (one Class C call per 1,000 records) gives the total, no GETs;
//!   `<remote>` is 16 hex digits of the md5 of the remote's ledger URL (no credentials), `<day>`
//!   the start of the budget window in UTC (`20261127T0000Z`);
//! * **a member id per machine**: 16 random hex digits made on first use and kept in the state
//!   directory (`budget/member-id`); it says nothing about the user or the machine.
//!
//! The team ledger's own LIST and PUT calls go through a layer stack with the shared remote's
//! budget account, so they are metered like any other call (and published with the next
//! record). When the records cannot be read, the last figures read today are kept and a
//! warning says the limits count this machine's use only.
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use jiff::tz::TimeZone;

use super::{Account, Budget, Ledger, Window, ledger_url};
use crate::config::Config;
use crate::config::ferry::FerrySettings;
use crate::hash::md5::Md5;
use crate::remote::{self, ErrorKind, RemoteError, RemoteSpec, RetryPolicy, Stack, StackConfig};

/// Where the records live, under the shared remote's root.
pub const PREFIX: &str = "ferry-team/v1";

/// How long one LIST or PUT of the team ledger may take before the command goes on without it.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One machine's publication: the increase of its use since its previous record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The member id of the machine.
    pub member: String,
    /// `[bytes, Class B calls, Class C calls]`.
    pub cost: [u64; 3],
}

impl Record {
    /// The object name of this record, unique without coordination (time and a random nonce).
    fn name(&self, at_ms: i64, nonce: u16) -> String {
        let [b, r, l] = self.cost;
        format!("{}_{at_ms}_{nonce:04x}_{b}_{r}_{l}", self.member)
    }

    /// The record a listed key names, if it is one (other objects are ignored).
    pub fn parse(key: &str) -> Option<Record> {
        let name = key.rsplit('/').next()?;
        let parts: Vec<&str> = name.split('_').collect();
        let [member, at, nonce, b, r, l] = parts.as_slice() else {
            return None;
        };
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_hexdigit());
        if !hex(member, 16) || !hex(nonce, 4) || at.parse::<i64>().is_err() {
            return None;
        }
        Some(Record {
            member: member.to_string(),
            cost: [b.parse().ok()?, r.parse().ok()?, l.parse().ok()?],
        })
    }
}

/// The day's use of one remote, per member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// `[bytes, Class B, Class C]` per member id.
    pub members: BTreeMap<String, [u64; 3]>,
}

impl Totals {
    /// Sums the records among `keys` (a LIST of the day's prefix).
    pub fn of_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Totals {
        let mut members: BTreeMap<String, [u64; 3]> = BTreeMap::new();
        for record in keys.into_iter().filter_map(Record::parse) {
            let sum = members.entry(record.member).or_default();
            for (s, c) in sum.iter_mut().zip(record.cost) {
                *s = s.saturating_add(c);
            }
        }
        Totals { members }
    }

    /// The whole team's use.
    pub fn total(&self) -> [u64; 3] {
        self.members.values().fold([0; 3], |mut a, c| {
            for (x, y) in a.iter_mut().zip(c) {
                *x = x.saturating_add(*y);
            }
            a
        })
    }

    /// Everybody's but `member`'s.
    pub fn others(&self, member: &str) -> [u64; 3] {
        let mine = self.members.get(member).copied().unwrap_or_default();
        let mut total = self.total();
        for (t, m) in total.iter_mut().zip(mine) {
            *t = t.saturating_sub(m);
        }
        total
    }
}

/// The prefix of the records of the remote whose ledger URL is `key`, for `window`.
pub fn day_prefix(key: &str, window: Window) -> String {
    let id = hex::encode(Md5::digest(super::normalize_url(key).as_bytes()));
    let day = window.start.strftime("%Y%m%dT%H%MZ");
    format!("{PREFIX}/{}/{day}/", &id[..16])
}

/// This machine's member id, made (16 random hex digits) and kept in `dir` on first use.
pub fn member_id(dir: &Path) -> std::io::Result<String> {
    let path = dir.join("member-id");
    if let Ok(text) = std::fs::read_to_string(&path)
        && Record::parse(&format!("{}_0_0000_0_0_0", text.trim())).is_some()
    {
        return Ok(text.trim().to_string());
    }
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    std::io::Write::write_all(
        &mut tmp,
        format!("{:016x}\n", rand::random::<u64>()).as_bytes(),
    )?;
    // Two processes making it at once: the first rename wins and both read its id.
    let _ = tmp.persist_noclobber(&path);
    Ok(std::fs::read_to_string(&path)?.trim().to_string())
}

/// The team ledger of one repository: the shared remote and this machine's member id.
pub struct Team {
    /// The shared remote's name (`team.ledger`).
    pub remote: String,
    /// This machine's member id.
    pub member: String,
    spec: RemoteSpec,
    ledger: Ledger,
    /// The shared remote's own budget account: the team ledger's calls are charged to it.
    account: Arc<Account>,
    warned: Mutex<bool>,
}

impl std::fmt::Debug for Team {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Team")
            .field("remote", &self.remote)
            .field("member", &self.member)
            .finish()
    }
}

impl Team {
    /// The team ledger `settings` turn on (`None` when off), opened once per process. A
    /// `team.ledger` naming an unknown remote, or one that cannot list, is an error.
    pub fn shared(
        config: &Config,
        settings: &FerrySettings,
        ledger: &Ledger,
    ) -> Result<Option<Arc<Team>>, RemoteError> {
        static OPENED: OnceLock<Mutex<BTreeMap<String, Arc<Team>>>> = OnceLock::new();
        let Some(name) = settings.team.ledger.as_deref().map(str::to_lowercase) else {
            return Ok(None);
        };
        let id = format!("{name}\0{}", ledger.dir().display());
        let opened = OPENED.get_or_init(Default::default);
        if let Some(team) = opened.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(Some(team.clone()));
        }
        let team = Arc::new(Team::open(config, settings, ledger, &name)?);
        opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, team.clone());
        Ok(Some(team))
    }

    fn open(
        config: &Config,
        settings: &FerrySettings,
        ledger: &Ledger,
        name: &str,
    ) -> Result<Team, RemoteError> {
        let spec = config.remote(name).map_err(|e| {
            RemoteError::new(
                ErrorKind::Permanent,
                name,
                format!("team.ledger in .dvc/ferry.toml: {e}"),
            )
        })?;
        let caps = remote::open(&spec)?.capabilities();
        if !caps.list || !caps.write {
            return Err(RemoteError::new(
                ErrorKind::Unsupported,
                name,
                format!(
                    "team.ledger '{name}' must be a remote that can list and write (S3, B2, local)"
                ),
            ));
        }
        let member = member_id(ledger.dir()).map_err(|e| {
            RemoteError::new(
                ErrorKind::Permanent,
                name,
                format!("cannot keep this machine's team member id: {e}"),
            )
        })?;
        let own = settings.remote(name);
        let account = Arc::new(Account::open(
            ledger,
            &ledger_url(&spec),
            &own.budget_reset.tz,
            Budget::from(&own),
        ));
        Ok(Team {
            remote: name.to_string(),
            member,
            spec,
            ledger: ledger.clone(),
            account,
            warned: Mutex::new(false),
        })
    }

    /// The day's records of the remote whose ledger URL is `key` (one LIST of its prefix).
    pub fn read(&self, key: &str, window: Window) -> Result<Totals, RemoteError> {
        let prefix = day_prefix(key, window);
        let keys = self.run(|stack| async move { stack.list_sized(&prefix).await })?;
        Ok(Totals::of_keys(keys.iter().map(|(k, _)| k.as_str())))
    }

    /// Reads the team's use of `key` today and stores the others' share in this machine's
    /// ledger, so limits and claims count it; returns the day's records. On failure the share
    /// read last stays in the ledger.
    pub fn refresh(&self, key: &str, tz: &TimeZone) -> Result<Totals, String> {
        let window = self.ledger.window(tz).map_err(|e| e.to_string())?;
        let totals = self.read(key, window).map_err(|e| e.to_string())?;
        self.ledger
            .set_others(key, tz, window, totals.others(&self.member))
            .map_err(|e| e.to_string())?;
        Ok(totals)
    }

    /// Says once per process that the team's records could not be read (`why`), so the pull
    /// is known to fall back to this machine's ledger.
    pub fn warn_unreadable(&self, why: &str) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if !*warned {
            *warned = true;
            tracing::warn!(
                "cannot read the team ledger on remote '{}' ({why}); the daily limits count this \
                 machine's use only (and the team's as last read today)",
                self.remote
            );
        }
    }

    /// Publishes this machine's use of `key` not yet published, as one record. A record that
    /// cannot be written stays unpublished for the next run (and is warned about).
    pub fn publish(&self, key: &str, tz: &TimeZone) {
        let (window, delta) = match self.ledger.take_unpublished(key, tz) {
            Ok(taken) => taken,
            Err(e) => {
                tracing::warn!("cannot publish to the team ledger: {e}");
                return;
            }
        };
        if delta == [0; 3] {
            return;
        }
        let record = Record {
            member: self.member.clone(),
            cost: delta,
        };
        let name = format!(
            "{}{}",
            day_prefix(key, window),
            record.name(self.ledger.now().as_millisecond(), rand::random())
        );
        let written = self.run(|stack| async move {
            let empty = || -> remote::ByteStream { Box::pin(futures::stream::empty()) };
            stack.write_with(&name, 0, empty).await
        });
        if let Err(e) = written {
            tracing::warn!(
                "cannot write this machine's use to the team ledger on '{}': {e}; it is \
                 published with the next command",
                self.remote
            );
            if let Err(e) = self.ledger.unpublish(key, window, delta) {
                tracing::warn!("cannot record that the use was not published: {e}");
            }
        }
    }

    /// Runs one team-ledger call on a stack of its own (fresh connections, on a thread with its
    /// own runtime, so it works from sync code and inside a runtime alike), bounded by
    /// [`TIMEOUT`].
    fn run<T, F, Fut>(&self, call: F) -> Result<T, RemoteError>
    where
        T: Send,
        F: FnOnce(Arc<Stack>) -> Fut + Send,
        Fut: Future<Output = Result<T, RemoteError>>,
    {
        let name = self.remote.clone();
        let failed = |why: String| RemoteError::new(ErrorKind::Transient, &name, why);
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| failed(format!("cannot start a runtime: {e}")))?;
                let stack = Arc::new(Stack::new(
                    remote::open(&self.spec)?,
                    StackConfig {
                        jobs: 1,
                        policy: RetryPolicy::default(),
                        account: Some(self.account.clone()),
                    },
                ));
                let answer = rt.block_on(async {
                    tokio::time::timeout(TIMEOUT, call(stack))
                        .await
                        .unwrap_or_else(|_| Err(failed("no answer in time".into())))
                });
                // The account lives as long as the process (it is never dropped, so its meter
                // would never flush): the call's cost goes to the ledger now.
                if let Err(e) = self.account.flush() {
                    tracing::warn!("the team ledger's calls were not recorded: {e}");
                }
                answer
            })
            .join()
            .unwrap_or_else(|_| Err(failed("the team ledger call panicked".into())))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_carry_their_figures_and_parse_back() {
        let r = Record {
            member: "0123456789abcdef".into(),
            cost: [3_000, 3, 1],
        };
        let name = r.name(1_764_590_000_000, 0xa1);
        assert_eq!(name, "0123456789abcdef_1764590000000_00a1_3000_3_1");
        assert_eq!(Record::parse(&format!("ferry-team/v1/x/d/{name}")), Some(r));
        for junk in [
            "",
            "x_1_0000_1_1_1",
            "0123456789abcdef_1_00a1_1_1",
            "files/md5/ab/cd",
        ] {
            assert_eq!(Record::parse(junk), None, "{junk}");
        }
    }

    #[test]
    fn totals_sum_per_member_and_leave_out_oneself() {
        let keys = [
            "p/aaaaaaaaaaaaaaaa_1_0001_100_1_0",
            "p/bbbbbbbbbbbbbbbb_2_0002_50_2_1",
            "p/aaaaaaaaaaaaaaaa_3_0003_25_1_1",
            "p/not-a-record",
        ];
        let t = Totals::of_keys(keys);
        assert_eq!(t.total(), [175, 4, 2]);
        assert_eq!(t.members["aaaaaaaaaaaaaaaa"], [125, 2, 1]);
        assert_eq!(t.others("aaaaaaaaaaaaaaaa"), [50, 2, 1]);
        assert_eq!(t.others("cccccccccccccccc"), [175, 4, 2]);
    }

    #[test]
    fn the_day_prefix_names_the_remote_without_credentials_and_the_window_in_utc() {
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        let w = Window::at("2026-11-27T12:00:00Z".parse().unwrap(), &la).unwrap();
        let a = day_prefix("https://alice:tok@host/b/p", w);
        let b = day_prefix("https://host/b/p/", w);
        assert_eq!(a, b);
        assert!(
            a.starts_with("ferry-team/v1/") && a.ends_with("/20261127T0800Z/"),
            "{a}"
        );
        assert!(!a.contains("tok"));
    }

    #[test]
    fn a_member_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let id = member_id(dir.path()).unwrap();
        assert_eq!(id.len(), 16);
        assert_eq!(member_id(dir.path()).unwrap(), id);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(member_id(other.path()).unwrap(), id);
    }

    #[test]
    fn publishing_takes_only_the_increase_and_a_failed_write_gives_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).with_clock(super::super::Clock::Fixed(
            "2026-11-27T12:00:00Z".parse().unwrap(),
        ));
        let (k, utc) = ("s3://b/p", TimeZone::UTC);
        ledger.record(k, &utc, 1_000, 2).unwrap();
        let (w, d) = ledger.take_unpublished(k, &utc).unwrap();
        assert_eq!(d, [1_000, 2, 0]);
        assert_eq!(ledger.take_unpublished(k, &utc).unwrap().1, [0; 3]);
        ledger.record_lists(k, &utc, 1).unwrap();
        let (_, d) = ledger.take_unpublished(k, &utc).unwrap();
        assert_eq!(d, [0, 0, 1]);
        ledger.unpublish(k, w, d).unwrap();
        assert_eq!(ledger.take_unpublished(k, &utc).unwrap().1, [0, 0, 1]);
        ledger.set_others(k, &utc, w, [500, 1, 1]).unwrap();
        let u = ledger.usage(k, &utc).unwrap();
        assert_eq!(
            (u.bytes, u.requests, u.lists, u.others),
            (1_500, 3, 2, [500, 1, 1])
        );
        assert_eq!(
            ledger.take_unpublished(k, &utc).unwrap().1,
            [0; 3],
            "the others' use is never published as ours"
        );
    }
}
