//! Downloads of large objects that resume instead of starting over, and come in parts at once.
//!
//! An object of at least [`RESUME_MIN`] bytes whose size is known is written into a partial
//! file kept outside the cache and the workspace (`.dvc/tmp/ferry/partial/<md5>.partial`, with
//! `<md5>.parts` beside it telling how many bytes of each part are good). The object is read
//! as parts of [`PART_SIZE`] (a single part on a remote with daily limits, whose router claim
//! covers one request), up to [`PARTS_AT_ONCE`] of them at once, each written at its offset; the
//! md5 follows the gap-free front of the file on a blocking thread, beside the downloads. The remote's stack retries each part from
//! where its body stopped (`Range: bytes=N-`).
//!
//! A run that fails or is interrupted (Ctrl-C) writes the `.parts` file; the next run re-reads
//! the good bytes into the hash and asks only for the rest. The final md5 decides: a match
//! renames the file into the cache; a mismatch after resumed bytes discards the partial and
//! fetches the object whole once more; a mismatch of bytes all fetched in this run is the
//! remote's corrupt copy. At most [`MAX_PARTIALS`] partial files are kept (the oldest go).
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::StreamExt;

use super::ObjectMeter;
use super::copy::CopyError;
use crate::hash::md5::Md5;
use crate::hash::{self, HashInfo};
use crate::odb::twins::Twin;
use crate::odb::{Odb, TempObject};
use crate::remote::{ErrorKind, Ranged, ReadBudget, RemoteError, Span, Spent, Stack};

/// Objects at least this big (8 MiB) download through a partial file that survives the run.
pub const RESUME_MIN: u64 = 8 << 20;
/// The size of the parts a large object is read in (32 MiB: a 256 MiB object is 8 GETs).
pub const PART_SIZE: u64 = 32 << 20;
/// Parts of one object read at once (the remote's `jobs` still bounds all requests).
pub const PARTS_AT_ONCE: usize = 4;
/// Partial files kept at most; starting another removes the oldest.
pub const MAX_PARTIALS: usize = 8;

/// Downloads `hash` (`size` bytes) from `remote` into `odb`, resuming what an earlier run left
/// and reading parts at once. Returns the object's size and what all requests cost.
pub async fn download(
    remote: &Stack,
    odb: &Odb,
    hash: &HashInfo,
    size: u64,
    budget: ReadBudget,
    meter: &ObjectMeter,
) -> (Result<u64, CopyError>, Spent) {
    let one_part = remote.account().is_some_and(|a| a.is_limited());
    let first = attempt(remote, odb, hash, size, budget, meter, one_part, true).await;
    match first {
        (Err(Outcome::Resumed(why)), spent) => {
            tracing::info!("{}: {why}; fetching it whole once more", hash.md5);
            let (again, more) =
                attempt(remote, odb, hash, size, budget, meter, one_part, false).await;
            let spent = Spent {
                bytes: spent.bytes + more.bytes,
                requests: spent.requests + more.requests,
            };
            (again.map_err(|o| o.into_error(remote.name())), spent)
        }
        (result, spent) => (result.map_err(|o| o.into_error(remote.name())), spent),
    }
}

/// How one attempt at the whole object ended, when not with the object in the cache.
enum Outcome {
    /// A failure to report.
    Failed(CopyError),
    /// The md5 did not match and some bytes came from an earlier run: worth one fresh try.
    Resumed(String),
}

impl Outcome {
    fn into_error(self, remote: &str) -> CopyError {
        match self {
            Outcome::Failed(e) => e,
            Outcome::Resumed(why) => {
                CopyError::Remote(RemoteError::new(ErrorKind::Corrupt, remote, why))
            }
        }
    }
}

impl From<CopyError> for Outcome {
    fn from(e: CopyError) -> Self {
        Outcome::Failed(e)
    }
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    remote: &Stack,
    odb: &Odb,
    hash: &HashInfo,
    size: u64,
    budget: ReadBudget,
    meter: &ObjectMeter,
    one_part: bool,
    resume: bool,
) -> (Result<u64, Outcome>, Spent) {
    let part_size = if one_part { size.max(1) } else { PART_SIZE };
    let partial = match Partial::open(odb, hash, size, part_size, resume) {
        Ok(p) => p,
        Err(source) => {
            let e = CopyError::Local {
                path: odb.partials.clone().unwrap_or_else(|| odb.path(hash)),
                reason: source,
            };
            return (Err(e.into()), Spent::default());
        }
    };
    let partial = Arc::new(partial);
    let held = partial.held();
    meter.resumed(held);
    // the workspace copy is written alongside only by a download that starts from nothing
    let twin = odb
        .twins
        .as_ref()
        .filter(|_| held == 0)
        .and_then(|twins| twins.start(size));
    // Ctrl-C ends the process at once: what the parts hold is written down first.
    let undo = {
        let partial = Arc::clone(&partial);
        crate::interrupt::on_interrupt(move || partial.save())
    };
    let key = crate::odb::key(hash);
    let spent = Mutex::new(Spent::default());
    let wanted = partial
        .spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.done() < s.len());
    let written = tokio::sync::Notify::new();
    let finished = std::sync::atomic::AtomicBool::new(false);
    let parts = async {
        let results: Vec<Result<(), CopyError>> = futures::stream::iter(wanted)
            .map(|(i, span)| {
                let (partial, key, spent, written) = (&partial, &key, &spent, &written);
                let twin = twin.as_ref();
                async move {
                    let budget = ReadBudget {
                        size: Some(span.len()),
                        claimed: budget.claimed && i == 0,
                    };
                    let (result, cost) = remote
                        .read_span(key, budget, &span.span, |ranged| {
                            let to = Sink { partial, twin };
                            fill(ranged, span, to, written, meter, remote.name(), key)
                        })
                        .await;
                    if let Ok(mut s) = spent.lock() {
                        s.bytes += cost.bytes;
                        s.requests += cost.requests;
                    }
                    result
                }
            })
            .buffer_unordered(PARTS_AT_ONCE)
            .collect()
            .await;
        finished.store(true, std::sync::atomic::Ordering::Release);
        written.notify_one();
        results
    };
    let hashing = follow(&partial, hash.legacy, &written, &finished);
    let (results, hashed) = futures::join!(parts, hashing);
    let spent = spent.into_inner().unwrap_or_default();
    drop(undo);
    if let Some(e) = results.into_iter().find_map(Result::err) {
        partial.save();
        return (Err(e.into()), spent);
    }
    let shown = partial.shown.clone();
    let local = |source| {
        Outcome::Failed(CopyError::Local {
            path: shown.clone(),
            reason: source,
        })
    };
    let actual = match hashed {
        Ok(Some(hasher)) => hex::encode(hasher.finalize()),
        Ok(None) => {
            let path = partial.read_path();
            let dos2unix = tokio::task::spawn_blocking(move || hash::file_md5_dos2unix(&path))
                .await
                .unwrap_or_else(|e| Err(io::Error::other(e)));
            match dos2unix {
                Ok((md5, _)) => md5,
                Err(e) => return (Err(local(e)), spent),
            }
        }
        Err(e) => return (Err(local(e)), spent),
    };
    let expected = hash.md5.strip_suffix(".dir").unwrap_or(&hash.md5);
    if actual != expected {
        partial.discard();
        let why = format!(
            "object {} arrived with md5 {actual}: the remote's copy is corrupt",
            hash.md5
        );
        if held > 0 {
            return (Err(Outcome::Resumed(why)), spent);
        }
        let e = RemoteError::new(ErrorKind::Corrupt, remote.name(), why).with_key(&key);
        return (Err(CopyError::Remote(e).into()), spent);
    }
    let Ok(partial) = Arc::try_unwrap(partial) else {
        return (
            Err(local(io::Error::other("the partial file is still in use"))),
            spent,
        );
    };
    match partial.commit(odb, hash) {
        Ok(()) => {
            if let (Some(twins), Some(twin)) = (&odb.twins, twin) {
                twins.finish(hash, twin);
            }
            (Ok(size), spent)
        }
        Err(e) => (Err(local(e)), spent),
    }
}

/// Where a part's bytes go: the partial file and, when the pull wants one, the workspace twin
/// (see [`crate::odb::twins`]).
#[derive(Clone, Copy)]
struct Sink<'a> {
    partial: &'a Partial,
    twin: Option<&'a Twin>,
}

/// Writes one attempt's body of a part at its offsets, skipping what is held already (all of
/// the object before the part, when the server ignored the range) and stopping at the part's
/// end.
async fn fill(
    ranged: Ranged,
    part: &Part,
    to: Sink<'_>,
    written: &tokio::sync::Notify,
    meter: &ObjectMeter,
    remote: &str,
    key: &str,
) -> Result<(), CopyError> {
    let Sink { partial, twin } = to;
    let end = part.end;
    let want = part.span.start + part.span.done();
    let mut at = ranged.start;
    if at > want {
        return Err(RemoteError::new(
            ErrorKind::Transient,
            remote,
            format!("the answer starts at byte {at}, not at byte {want} as asked"),
        )
        .with_key(key)
        .into());
    }
    let mut body = meter.count_more(ranged.body);
    while at < end {
        let Some(chunk) = body.next().await else {
            return Err(RemoteError::new(
                ErrorKind::Corrupt,
                remote,
                format!(
                    "the object ended at byte {at}, before the {} bytes it should have",
                    partial.size
                ),
            )
            .with_key(key)
            .into());
        };
        let chunk = chunk?;
        let skip = (want.saturating_sub(at) as usize).min(chunk.len());
        at += skip as u64;
        let take = ((end - at) as usize).min(chunk.len() - skip);
        let bytes = &chunk[skip..skip + take];
        if bytes.is_empty() {
            continue;
        }
        partial
            .file
            .write_all_at(bytes, at)
            .map_err(|source| CopyError::Local {
                path: partial.shown.clone(),
                reason: source,
            })?;
        if let Some(twin) = twin {
            twin.write_at(bytes, at);
        }
        at += take as u64;
        part.span.set_done(at - part.span.start);
        written.notify_one();
    }
    Ok(())
}

/// Hashes the object in order while its parts arrive: whenever the bytes written from offset 0
/// on without a gap (the frontier) grow, they are read back (from the page cache) and hashed on
/// a blocking thread, so the md5 runs beside the downloads, not after them. Ends once the parts
/// are finished; returns the hasher having seen every byte up to the frontier, or `None` for a
/// legacy (`md5-dos2unix`) hash, which the caller computes over the whole file.
async fn follow(
    partial: &Arc<Partial>,
    legacy: bool,
    written: &tokio::sync::Notify,
    finished: &std::sync::atomic::AtomicBool,
) -> io::Result<Option<Md5>> {
    if legacy {
        return Ok(None);
    }
    let mut hasher = Md5::new();
    let mut hashed = 0u64;
    loop {
        let done = finished.load(std::sync::atomic::Ordering::Acquire);
        let frontier = partial.frontier();
        if frontier > hashed {
            let file = Arc::clone(partial);
            let (from, to) = (hashed, frontier);
            hasher = tokio::task::spawn_blocking(move || {
                hash_range(&mut hasher, &file.file, from, to).map(|()| hasher)
            })
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)))?;
            hashed = frontier;
        } else if done {
            return Ok(Some(hasher));
        } else {
            written.notified().await;
        }
    }
}

/// Feeds bytes `from..to` of `file` to `hasher`.
fn hash_range(hasher: &mut Md5, file: &File, from: u64, to: u64) -> io::Result<()> {
    let mut buf = vec![0u8; (to - from).min(hash::HASH_CHUNK as u64) as usize];
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(buf.len());
        file.read_exact_at(&mut buf[..n], at)?;
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

/// One part of the object and how much of it the partial file holds. The last part's span
/// runs to the object's end (`Range: bytes=N-`), so a one-part object is a plain GET.
struct Part {
    span: Span,
    end: u64,
}

impl Part {
    fn len(&self) -> u64 {
        self.end - self.span.start
    }

    fn done(&self) -> u64 {
        self.span.done()
    }
}

/// The file a large download is written into, with what its parts hold.
struct Partial {
    file: File,
    size: u64,
    part_size: u64,
    spans: Vec<Part>,
    /// Named, in the partials directory (survives the run), or anonymous (this run only).
    place: Place,
    /// The path errors name.
    shown: PathBuf,
}

enum Place {
    Named { path: PathBuf, parts: PathBuf },
    Anonymous(TempObject),
}

impl Partial {
    /// The partial file of `hash`: the one an earlier run left when its `.parts` record fits
    /// (and `resume`), else a new one. Without a partials directory (or when another process
    /// holds this one), an anonymous file in the cache directory that lasts this run only.
    fn open(
        odb: &Odb,
        hash: &HashInfo,
        size: u64,
        part_size: u64,
        resume: bool,
    ) -> io::Result<Partial> {
        let anonymous = |part_size| -> io::Result<Partial> {
            let temp = odb.create_temp(hash)?;
            Ok(Partial {
                file: temp.file.try_clone()?,
                size,
                part_size,
                spans: spans(size, part_size, &[]),
                place: Place::Anonymous(temp),
                shown: odb.path(hash),
            })
        };
        let Some(dir) = &odb.partials else {
            return anonymous(part_size);
        };
        fs::create_dir_all(dir)?;
        let stem = format!("{}{}", hash.md5, if hash.legacy { "-legacy" } else { "" });
        let path = dir.join(format!("{stem}.partial"));
        let parts = dir.join(format!("{stem}.parts"));
        if !path.exists() {
            prune(dir, MAX_PARTIALS - 1)?;
        }
        // Never through a symlink: a cloned repository may carry one under `.dvc/tmp`. This is
        // Ferry's own scratch space, so such a link is removed (its target is left alone).
        if path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            tracing::warn!(
                "removed '{}': a symbolic link where Ferry keeps its partial downloads (its target was not touched)",
                path.display()
            );
            fs::remove_file(&path)?;
        }
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)?;
        let busy =
            rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err();
        if busy {
            return anonymous(part_size);
        }
        // A record is trusted only for bytes the file really has (md5 decides the rest).
        let len = file.metadata()?.len();
        let record = read_record(&parts, size)
            .filter(|_| resume)
            .filter(|(step, done)| {
                done.iter()
                    .enumerate()
                    .all(|(i, d)| *d == 0 || i as u64 * step + d <= len)
            });
        if record.is_none() {
            let _ = fs::remove_file(&parts);
            file.set_len(0)?;
        }
        let (part_size, done) = record.unwrap_or((part_size, Vec::new()));
        Ok(Partial {
            file,
            size,
            part_size,
            spans: spans(size, part_size, &done),
            place: Place::Named {
                path: path.clone(),
                parts,
            },
            shown: path,
        })
    }

    /// The bytes written from offset 0 on without a gap.
    fn frontier(&self) -> u64 {
        for part in &self.spans {
            if part.done() < part.len() {
                return part.span.start + part.done();
            }
        }
        self.size
    }

    /// Bytes held from an earlier run.
    fn held(&self) -> u64 {
        self.spans.iter().map(Part::done).sum()
    }

    /// Writes the `.parts` record (what each part holds), so a later run resumes.
    fn save(&self) {
        let Place::Named { parts, .. } = &self.place else {
            return;
        };
        let mut text = format!("ferry-partial 1 {} {}\n", self.size, self.part_size);
        for part in &self.spans {
            text.push_str(&format!("{}\n", part.done()));
        }
        // A fresh temp file renamed over the record: a symlink in its place is replaced, never
        // written through.
        let dir = parts.parent().unwrap_or(Path::new("."));
        let written = tempfile::NamedTempFile::new_in(dir).and_then(|mut temp| {
            temp.write_all(text.as_bytes())?;
            temp.persist(parts).map(drop).map_err(|e| e.error)
        });
        if let Err(e) = written {
            tracing::warn!(
                "cannot record the partial download '{}': {e}",
                parts.display()
            );
        }
    }

    /// Drops what the file holds (its bytes did not make the object).
    fn discard(&self) {
        if let Place::Named { path, parts } = &self.place {
            let _ = fs::remove_file(parts);
            let _ = fs::remove_file(path);
        }
    }

    /// A path to read the file through.
    fn read_path(&self) -> PathBuf {
        match &self.place {
            Place::Named { path, .. } => path.clone(),
            Place::Anonymous(temp) => temp.read_path(),
        }
    }

    /// Puts the verified file in the cache as `hash`.
    fn commit(self, odb: &Odb, hash: &HashInfo) -> io::Result<()> {
        match self.place {
            Place::Named { path, parts } => {
                let _ = fs::remove_file(&parts);
                odb.commit_file(&path, hash)
            }
            Place::Anonymous(temp) => odb.commit_temp(temp, hash),
        }
    }
}

/// The parts of a `size`-byte object in `part_size` pieces, each holding `done[i]` bytes.
fn spans(size: u64, part_size: u64, done: &[u64]) -> Vec<Part> {
    let step = part_size.max(1);
    (0..size.div_ceil(step).max(1))
        .map(|i| {
            let start = i * step;
            let end = (start + step).min(size);
            let held = done.get(i as usize).copied().unwrap_or(0).min(end - start);
            let open_end = (end < size).then_some(end);
            Part {
                span: Span::new(start, open_end, held),
                end,
            }
        })
        .collect()
}

/// The part size and per-part bytes a `.parts` record holds, when it is for an object of
/// `size` bytes and consistent; `None` for anything else (missing, foreign, damaged).
fn read_record(parts: &Path, size: u64) -> Option<(u64, Vec<u64>)> {
    let mut text = String::new();
    File::open(parts).ok()?.read_to_string(&mut text).ok()?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next()?.split(' ').collect();
    let ["ferry-partial", "1", recorded, part_size] = head[..] else {
        return None;
    };
    let part_size: u64 = part_size.parse().ok()?;
    if recorded.parse::<u64>().ok()? != size || part_size == 0 {
        return None;
    }
    let done: Vec<u64> = lines.map(|l| l.parse().ok()).collect::<Option<_>>()?;
    let layout = spans(size, part_size, &[]);
    let fits = done.len() == layout.len() && done.iter().zip(&layout).all(|(d, p)| *d <= p.len());
    fits.then_some((part_size, done))
}

/// Removes the oldest partial downloads (and their records) beyond `keep`.
fn prune(dir: &Path, keep: usize) -> io::Result<()> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "partial"))
        .map(|e| {
            let when = e.metadata().and_then(|m| m.modified());
            (when.unwrap_or(std::time::UNIX_EPOCH), e.path())
        })
        .collect();
    if found.len() <= keep {
        return Ok(());
    }
    found.sort();
    for (_, path) in &found[..found.len() - keep] {
        let _ = fs::remove_file(path.with_extension("parts"));
        let _ = fs::remove_file(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_object_and_records_must_fit_it() {
        let parts = spans(70, 32, &[32, 5]);
        let shape: Vec<(u64, u64, u64)> = parts
            .iter()
            .map(|p| (p.span.start, p.len(), p.done()))
            .collect();
        assert_eq!(shape, vec![(0, 32, 32), (32, 32, 5), (64, 6, 0)]);
        assert_eq!(
            spans(0, 32, &[]).len(),
            1,
            "an empty object is one empty part"
        );

        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("x.parts");
        fs::write(&record, "ferry-partial 1 70 32\n32\n5\n0\n").unwrap();
        assert_eq!(read_record(&record, 70), Some((32, vec![32, 5, 0])));
        assert_eq!(read_record(&record, 71), None, "another size");
        for bad in [
            "ferry-partial 1 70 32\n32\n5\n",
            "ferry-partial 1 70 32\n33\n5\n0\n",
            "ferry-partial 2 70 32\n32\n5\n0\n",
            "ferry-partial 1 70 0\n",
            "",
        ] {
            fs::write(&record, bad).unwrap();
            assert_eq!(read_record(&record, 70), None, "{bad:?}");
        }
    }

    #[test]
    fn only_the_newest_partials_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5u64 {
            let p = dir.path().join(format!("{i}.partial"));
            fs::write(&p, "x").unwrap();
            fs::write(p.with_extension("parts"), "x").unwrap();
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i);
            File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
        prune(dir.path(), 2).unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["3.partial", "3.parts", "4.partial", "4.parts"]);
    }
}
