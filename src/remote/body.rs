//! Guards on a body being received, so a server that trickles bytes costs the remote's
//! `read_timeout`, not forever.
//!
//! The HTTP client's own read timeout restarts after every byte, so a server sending one byte a
//! second is never given up. Here a read counts as progress only when it brings
//! [`MIN_PROGRESS`] bytes (or the body's end) within `read_timeout`; otherwise the body ends
//! with a `Transient` error, which the retry layer and the router act on like any other.
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use super::{ByteStream, ErrorKind, RemoteError};

/// The bytes a body must bring within each `read_timeout` (16 KiB: at DVC's default of 60 s,
/// any link faster than 273 B/s keeps going).
pub(crate) const MIN_PROGRESS: u64 = 16 * 1024;

/// Ends `body` with a `Transient` error naming `remote`, `key` and `what` (e.g. `GET <url>`)
/// when it brings fewer than [`MIN_PROGRESS`] bytes and does not end within `read_timeout`.
/// The stream is fused: polled after its end it stays ended.
pub(crate) fn guard_progress(
    body: ByteStream,
    read_timeout: Duration,
    remote: &str,
    key: &str,
    what: String,
) -> ByteStream {
    struct Watch {
        body: ByteStream,
        window_start: Instant,
        window_bytes: u64,
        total: u64,
        done: bool,
    }
    let (remote, key) = (remote.to_string(), key.to_string());
    let state = Watch {
        body,
        window_start: Instant::now(),
        window_bytes: 0,
        total: 0,
        done: false,
    };
    let guarded = futures::stream::unfold(state, move |mut w| {
        let (remote, key, what) = (remote.clone(), key.clone(), what.clone());
        async move {
            if w.done {
                return None;
            }
            let deadline = w.window_start + read_timeout;
            match tokio::time::timeout_at(deadline, w.body.next()).await {
                Ok(Some(Ok(chunk))) => {
                    w.window_bytes += chunk.len() as u64;
                    w.total += chunk.len() as u64;
                    if w.window_bytes >= MIN_PROGRESS {
                        w.window_start = Instant::now();
                        w.window_bytes = 0;
                    }
                    Some((Ok(chunk), w))
                }
                Ok(Some(Err(e))) => {
                    w.done = true;
                    Some((Err(e), w))
                }
                Ok(None) => None,
                Err(_) => {
                    w.done = true;
                    let err = RemoteError::new(
                        ErrorKind::Transient,
                        &remote,
                        format!(
                            "{what}: the body stalled ({} bytes in the last {:.1} s, {} in all; \
                             the remote's read_timeout is {:.1} s)",
                            w.window_bytes,
                            read_timeout.as_secs_f64(),
                            w.total,
                            read_timeout.as_secs_f64()
                        ),
                    )
                    .with_key(&key);
                    Some((Err(err), w))
                }
            }
        }
    });
    Box::pin(guarded.fuse())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_given_up_after_read_timeout() {
        let trickle = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Ok(Bytes::from_static(b"x")), ()))
        });
        let mut body = guard_progress(
            Box::pin(trickle),
            Duration::from_millis(2500),
            "r",
            "k",
            "GET u".into(),
        );
        let start = Instant::now();
        let mut got = 0;
        let err = loop {
            match body.next().await {
                Some(Ok(c)) => got += c.len(),
                Some(Err(e)) => break e,
                None => panic!("a trickle never ends"),
            }
        };
        assert_eq!(err.kind, ErrorKind::Transient);
        assert!(err.message.contains("stalled"), "{err}");
        assert_eq!(got, 2);
        assert_eq!(start.elapsed(), Duration::from_millis(2500));
        assert!(body.next().await.is_none());
        assert!(body.next().await.is_none(), "fused");
    }

    #[tokio::test(start_paused = true)]
    async fn steady_progress_and_a_short_end_pass() {
        let chunk = Bytes::from(vec![0u8; MIN_PROGRESS as usize]);
        let steady = futures::stream::iter(0..10).then(move |i| {
            let chunk = chunk.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok(if i == 9 {
                    Bytes::from_static(b"end")
                } else {
                    chunk
                })
            }
        });
        let body = guard_progress(
            Box::pin(steady),
            Duration::from_secs(3),
            "r",
            "k",
            "GET u".into(),
        );
        let all: Vec<Result<Bytes, RemoteError>> = body.collect().await;
        assert_eq!(all.len(), 10);
        assert!(all.iter().all(Result::is_ok));
    }
}
