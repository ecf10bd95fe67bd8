//! Bounded exponential backoff with jitter for the errors worth retrying on the same remote
//! (`Throttled`, `Transient`), honouring the server's `Retry-After`: the policy of the retry
//! layer of [`super::Stack`]. The router acts on what is left once it gives up.
use std::sync::Arc;
use std::time::Duration;

use super::{ByteStream, Capabilities, PendingUpload, Presence, Ranged, Remote, RemoteError};

/// How hard to retry one operation on one remote.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The pause after the first failure; doubled after each further one.
    pub base_delay: Duration,
    /// The longest pause between two attempts when the server gave no `Retry-After`.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the error goes to the caller (the
    /// router then tries another remote instead of stalling).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, 0.2 s doubling to at most 10 s, waiting up to 60 s for a `Retry-After`
    /// (DVC's HTTP reads: 5 attempts, factor 0.1, at most 60 s).
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The pause before the next attempt after `attempt` (1-based) failed with `err`, or `None`
    /// to give up now.
    pub fn delay(&self, attempt: u32, err: &RemoteError) -> Option<Duration> {
        if !err.kind.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(20))
            .min(self.max_delay);
        // "Equal jitter": half fixed, half random, so concurrent clients spread out but never
        // retry immediately.
        let half = exp / 2;
        let jitter = half.mul_f64(rand::random::<f64>());
        match err.retry_after {
            Some(after) if after > self.max_retry_after => None,
            Some(after) => Some(after + jitter.min(self.base_delay)),
            None => Some(half + jitter),
        }
    }
}

/// Lets a shared backend (`Arc<dyn Remote>` from [`super::open`]) be used where a `Remote` is
/// expected, e.g. wrapped by a test double. Every method, provided ones included, forwards.
#[async_trait::async_trait]
impl<R: Remote + ?Sized> Remote for Arc<R> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    async fn stat(&self, key: &str) -> Result<Presence, RemoteError> {
        (**self).stat(key).await
    }

    async fn stat_by_range(&self, key: &str) -> Result<Presence, RemoteError> {
        (**self).stat_by_range(key).await
    }

    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>, RemoteError> {
        (**self).list_sized(prefix).await
    }

    async fn read(&self, key: &str) -> Result<ByteStream, RemoteError> {
        (**self).read(key).await
    }

    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<Ranged, RemoteError> {
        (**self).read_range(key, start, end).await
    }

    async fn write(&self, key: &str, body: ByteStream, size: u64) -> Result<(), RemoteError> {
        (**self).write(key, body, size).await
    }

    async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        (**self).delete(key).await
    }

    async fn pending_uploads(&self) -> Result<Vec<PendingUpload>, RemoteError> {
        (**self).pending_uploads().await
    }

    async fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        (**self).exists(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, RemoteError> {
        (**self).list(prefix).await
    }

    // Every provided method is forwarded too: the stack calls them on an `Arc<dyn Remote>`,
    // which would otherwise take the trait's default (a wire counter read as "not counted").
    fn take_list_calls(&self) -> Option<u64> {
        (**self).take_list_calls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::ErrorKind;

    fn err(kind: ErrorKind, after: Option<Duration>) -> RemoteError {
        RemoteError::new(kind, "r", "x").with_retry_after(after)
    }

    #[test]
    fn delays_grow_are_bounded_and_honour_retry_after() {
        let p = RetryPolicy::default();
        let t = err(ErrorKind::Transient, None);
        for attempt in 1..p.max_attempts {
            let d = p.delay(attempt, &t).unwrap();
            let exp = (p.base_delay * (1 << (attempt - 1))).min(p.max_delay);
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d:?}");
        }
        assert_eq!(p.delay(p.max_attempts, &t), None);
        let later = err(ErrorKind::Throttled, Some(Duration::from_secs(3)));
        assert!(p.delay(1, &later).unwrap() >= Duration::from_secs(3));
        let too_late = err(ErrorKind::Throttled, Some(Duration::from_secs(3600)));
        assert_eq!(p.delay(1, &too_late), None);
        assert_eq!(p.delay(1, &err(ErrorKind::Auth, None)), None);
    }
}
