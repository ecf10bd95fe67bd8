//! Pure arithmetic for the planner: what a remote may still serve today.
use super::Usage;
use crate::config::ferry::RemoteSettings;

/// A remote's daily limits (`daily_download_limit`, `daily_request_limit`, `daily_list_limit`
/// in ferry.toml), the three meters B2 bills by; `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    /// Bytes this machine may download from the remote per window.
    pub limit_bytes: Option<u64>,
    /// GET/HEAD requests this machine may send to the remote per window (B2 Class B).
    pub limit_requests: Option<u64>,
    /// LIST and other bucket calls per window (B2 Class C).
    pub limit_lists: Option<u64>,
}

impl From<&RemoteSettings> for Budget {
    fn from(s: &RemoteSettings) -> Budget {
        Budget {
            limit_bytes: s.daily_download_limit.map(|b| b.0),
            limit_requests: s.daily_request_limit,
            limit_lists: s.daily_list_limit,
        }
    }
}

impl Budget {
    /// Whether any of the three limits is set.
    pub fn is_limited(&self) -> bool {
        self.limit_bytes.is_some() || self.limit_requests.is_some() || self.limit_lists.is_some()
    }

    /// The whole allowance, as if nothing were used yet (when the ledger cannot be read).
    pub fn unused(&self) -> Remaining {
        Remaining {
            bytes: self.limit_bytes,
            requests: self.limit_requests,
            lists: self.limit_lists,
            capped: false,
        }
    }

    /// What is left of this budget after `usage`. A remote the server reported capped has
    /// nothing left, whatever its configured limits (including none).
    pub fn remaining(&self, usage: &Usage) -> Remaining {
        Remaining {
            bytes: self.limit_bytes.map(|l| l.saturating_sub(usage.bytes)),
            requests: self
                .limit_requests
                .map(|l| l.saturating_sub(usage.requests)),
            lists: self.limit_lists.map(|l| l.saturating_sub(usage.lists)),
            capped: usage.capped_until.is_some(),
        }
    }
}

/// The allowance left for the current window, which the planner draws down object by object
/// with [`Remaining::reserve`] so the plan as a whole stays under the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    /// Bytes still allowed; `None` is unlimited.
    pub bytes: Option<u64>,
    /// Requests still allowed; `None` is unlimited.
    pub requests: Option<u64>,
    /// List calls still allowed; `None` is unlimited. A cap answer does not touch it (B2 caps
    /// Class B and downloads; Class C has its own cap).
    pub lists: Option<u64>,
    /// The server reported its cap: nothing fits until the reset.
    pub capped: bool,
}

impl Remaining {
    /// Whether an object costing `bytes` and `requests` can still be taken from this remote.
    pub fn fits(&self, bytes: u64, requests: u64) -> bool {
        !self.capped
            && self.bytes.is_none_or(|left| bytes <= left)
            && self.requests.is_none_or(|left| requests <= left)
    }

    /// Takes `bytes` and `requests` from the allowance if they fit; returns whether they did.
    /// The planner calls this per object and sends what does not fit to the next remote.
    pub fn reserve(&mut self, bytes: u64, requests: u64) -> bool {
        if !self.fits(bytes, requests) {
            return false;
        }
        self.bytes = self.bytes.map(|left| left - bytes);
        self.requests = self.requests.map(|left| left - requests);
        true
    }
}

/// The order to offer objects of `sizes` bytes (one GET each) to a limited remote so that
/// greedy routing (each object takes the remote if it still fits, else goes down the order)
/// gets the most bytes from it within `left`: when the calls bind, the largest first; when the
/// bytes bind, the smallest first packs the limit tighter; the given order when that is as
/// good (so an unlimited remote keeps the order it had). Ties keep the given order within
/// equal sizes. Each candidate is tried on the arithmetic alone, no request is involved.
pub fn best_order(sizes: &[u64], left: &Remaining) -> Vec<usize> {
    let given: Vec<usize> = (0..sizes.len()).collect();
    if left.capped || (left.bytes.is_none() && left.requests.is_none()) {
        return given;
    }
    let mut large = given.clone();
    large.sort_by(|a, b| sizes[*b].cmp(&sizes[*a]));
    let mut small = given.clone();
    small.sort_by_key(|i| sizes[*i]);
    let served = |order: &[usize]| {
        let mut l = *left;
        order
            .iter()
            .filter(|i| l.reserve(sizes[**i], 1))
            .map(|i| sizes[*i])
            .sum::<u64>()
    };
    let mut best = (served(&given), given);
    for candidate in [large, small] {
        let bytes = served(&candidate);
        if bytes > best.0 {
            best = (bytes, candidate);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(bytes: u64, requests: u64, capped: bool) -> Usage {
        let t: jiff::Timestamp = "2026-11-27T00:00:00Z".parse().unwrap();
        Usage {
            bytes,
            requests,
            lists: 0,
            others: [0; 3],
            capped_until: capped.then_some(t),
            window_start: t,
            resets_at: t,
        }
    }

    #[test]
    fn remaining_subtracts_use_and_never_underflows() {
        let budget = Budget {
            limit_bytes: Some(1_000),
            limit_requests: Some(10),
            limit_lists: None,
        };
        let left = budget.remaining(&usage(400, 12, false));
        assert_eq!(left.bytes, Some(600));
        assert_eq!(left.requests, Some(0));
        assert!(!left.fits(1, 1), "no requests left");
        assert!(left.fits(600, 0));
    }

    #[test]
    fn reserve_draws_down_until_the_overflow() {
        let budget = Budget {
            limit_bytes: Some(1_000),
            limit_requests: None,
            limit_lists: None,
        };
        let mut left = budget.remaining(&usage(0, 0, false));
        assert!(left.reserve(600, 2));
        assert!(left.reserve(400, 2));
        assert!(!left.reserve(1, 1), "the limit is reached exactly");
        assert_eq!(left.bytes, Some(0));
        assert_eq!(left.requests, None);
    }

    #[test]
    fn list_calls_have_their_own_allowance() {
        let budget = Budget {
            limit_lists: Some(10),
            ..Budget::default()
        };
        let mut u = usage(0, 0, true);
        u.lists = 4;
        let left = budget.remaining(&u);
        assert_eq!(left.lists, Some(6));
        assert_eq!(left.requests, None);
        assert!(budget.is_limited() && !Budget::default().is_limited());
    }

    #[test]
    fn unlimited_fits_everything_unless_capped() {
        let open = Budget::default().remaining(&usage(u64::MAX, u64::MAX, false));
        assert!(open.fits(u64::MAX, u64::MAX));
        let mut capped = Budget::default().remaining(&usage(0, 0, true));
        assert!(!capped.fits(0, 0));
        assert!(!capped.reserve(1, 1));
    }

    #[test]
    fn the_best_order_gets_the_most_bytes_within_every_limit() {
        let calls = Budget {
            limit_requests: Some(3),
            ..Budget::default()
        }
        .remaining(&usage(0, 0, false));
        let sizes = [100, 100, 100, 100, 5_000, 7_000, 6_000];
        assert_eq!(
            best_order(&sizes, &calls),
            vec![5, 6, 4, 0, 1, 2, 3],
            "calls bind"
        );
        let bytes = Budget {
            limit_bytes: Some(1_000),
            ..Budget::default()
        }
        .remaining(&usage(0, 0, false));
        let sizes = [600, 500, 500];
        assert_eq!(
            best_order(&sizes, &bytes)[..2],
            [1, 2],
            "bytes bind: 500 + 500"
        );
        let sizes = [200, 900, 200];
        assert_eq!(best_order(&sizes, &bytes)[0], 1, "900 beats 200 + 200");
        let open = Budget::default().remaining(&usage(0, 0, false));
        assert_eq!(
            best_order(&[1, 3, 2], &open),
            vec![0, 1, 2],
            "unlimited: as given"
        );
        let same = best_order(&[100, 100], &calls);
        assert_eq!(same, vec![0, 1], "nothing to gain: as given");
    }
}
