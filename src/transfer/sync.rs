//! `sync`: every target remote ends up holding every wanted object. For each target, what it
//! lacks is sent from the local cache when the cache has it, else from another remote chosen
//! by the router (so budgets, caps and fallback hold as for a pull), streamed remote to remote
//! with its md5 checked on the way: the last chunk is held back until the hash is known, so a
//! corrupt source never completes an object on the target. A directory's files go before its
//! `.dir`. Targets are done one after the other; by default the first that fails stops the run.
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;

use super::copy::{CopyError, Payload, download, oversized, upload};
use super::exists::{holds, present_ids_and};
use super::id::{Bits, not_cached};
use super::remotes::Handle;
use super::router::{Claimed, Routed, Router, Skip};
use super::wanted::{Root, WantedIds, expand_ids, file_name, root_files};
use super::{Object, ObjectMeter, Progress};
use crate::hash::HashInfo;
use crate::hash::md5::Md5;
use crate::odb::Odb;
use crate::remote::{
    AttemptError, ByteStream, ErrorKind, Presence, ReadBudget, RemoteError, Stack,
};

/// The name the reports give the local cache as a source.
pub const LOCAL: &str = "local cache";

/// What happened to one target remote.
#[derive(Debug, Default, serde::Serialize)]
pub struct TargetRow {
    /// The remote's name.
    pub name: String,
    /// Wanted objects it already held.
    pub already: u64,
    /// Objects copied to it.
    pub copied: u64,
    /// Bytes copied to it.
    pub bytes: u64,
    /// Objects copied, by source (`local cache` or a remote's name).
    pub from: BTreeMap<String, u64>,
    /// Objects that could not be copied, with why.
    pub failed: Vec<(Object, String)>,
    /// Set when the target could not even be checked (then nothing was sent).
    pub unreachable: Option<RemoteError>,
    /// Not attempted: an earlier target failed and `--keep-going` was not given.
    pub skipped: bool,
}

impl TargetRow {
    /// Whether this target did not end up complete.
    pub fn is_failed(&self) -> bool {
        !self.failed.is_empty() || self.unreachable.is_some()
    }
}

/// The source of one object for one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Local,
    Lane(usize),
}

/// One object's outcome on a target: its source and bytes, or why it did not get there.
type Sent = Result<(Source, u64), String>;

/// Where a relay failed: reading the source (route on), writing the target (the target
/// failed), or the local disk (stop).
enum Side {
    Source(RemoteError),
    Target(RemoteError),
    Local(CopyError),
}

impl From<RemoteError> for Side {
    fn from(e: RemoteError) -> Side {
        Side::Source(e)
    }
}

/// A failed relay is tried again, source and target both, when either side's error is worth
/// it (the source's stack charges the new download and checks its budget first).
impl AttemptError for Side {
    fn remote_error(&mut self) -> Option<&mut RemoteError> {
        match self {
            Side::Source(e) | Side::Target(e) => Some(e),
            Side::Local(_) => None,
        }
    }
}

/// Router lane indexes holding the target itself, so it is never its own source.
fn excluded(router: &Router, target: &Handle) -> Vec<(usize, Skip)> {
    router
        .lanes
        .iter()
        .enumerate()
        .filter(|(_, l)| l.handle.name == target.name)
        .map(|(i, _)| (i, Skip::Failed("is the target".into())))
        .collect()
}

/// Tells the router which of the wanted objects the cache lacks each listable source holds (by
/// the existence policy of [`super::exists`]), and with `all` asks the others object by object
/// too (for a plan). Files are held as ids: a million cost a source about 25 MB.
pub async fn learn_sources(router: &mut Router, odb: &Odb, wanted: &WantedIds, all: bool) {
    let ids = not_cached(odb, &wanted.files);
    let keys: Vec<String> = wanted
        .others()
        .filter(|o| !odb.contains(&o.hash))
        .map(Object::key)
        .collect();
    if ids.is_empty() && keys.is_empty() {
        return;
    }
    for lane in &mut router.lanes {
        if lane.disabled().is_some() || !(all || lane.handle.remote.capabilities().list) {
            continue;
        }
        match present_ids_and(&lane.handle.remote, &ids, &keys).await {
            Ok((found, extra)) => lane.set_known_ids(&ids, &found, extra),
            Err(e) => tracing::info!(
                "could not check what remote '{}' holds: {}",
                lane.handle.name,
                e.message
            ),
        }
    }
}

/// What one target lacks of its own share: files as bits over its wanted ids, the few other
/// objects whole.
struct Lack {
    /// The target's share, expanded.
    mine: Arc<WantedIds>,
    /// The files it lacks, by index into `mine.files`.
    files: Bits,
    /// How many files it lacks, and their recorded bytes.
    count: u64,
    bytes: u64,
    /// Lacking files no id can name.
    odd: Vec<Object>,
    /// Lacking `.dir`s whose manifest is in the cache (sent after their files).
    dirs: Vec<Object>,
}

/// What `target` lacks of what `roots` (its own) bring; the objects it holds are counted in
/// `row.already`, the directories it lacks whose files are unknown go to `row.failed`.
async fn lacking(
    odb: &Odb,
    target: &Handle,
    roots: &[Root],
    row: &mut TargetRow,
) -> Result<Lack, RemoteError> {
    let mine = expand_ids(odb, roots);
    let other_keys: Vec<String> = mine.others().map(Object::key).collect();
    let (found, there) = present_ids_and(&target.remote, &mine.files, &other_keys).await?;
    let mut lack = Lack {
        files: Bits::new(mine.files.len()),
        count: 0,
        bytes: 0,
        odd: Vec::new(),
        dirs: Vec::new(),
        mine: Arc::new(WantedIds::default()),
    };
    for (i, (id, got)) in mine.files.iter().zip(&found).enumerate() {
        let size = mine.recorded.get(id).copied();
        if got.is_some_and(|got| Presence::Present(got).holds(size)) {
            row.already += 1;
        } else {
            lack.files.set(i);
            lack.count += 1;
            lack.bytes += size.unwrap_or(0);
        }
    }
    drop(found);
    let has = |o: &Object| holds(&there, &o.key(), o.size);
    row.already += mine.others().filter(|o| has(o)).count() as u64;
    lack.odd = mine.odd.iter().filter(|o| !has(o)).cloned().collect();
    lack.dirs = mine.dirs.iter().filter(|o| !has(o)).cloned().collect();
    for o in mine.unknown_dirs.iter().filter(|o| !has(o)) {
        row.failed.push((
            o.clone(),
            "its file list (.dir) is in no source, so its files are unknown".into(),
        ));
    }
    for (o, e) in mine.bad_dirs.iter().filter(|(o, _)| !has(o)) {
        row.failed.push((o.clone(), e.clone()));
    }
    lack.mine = Arc::new(mine);
    Ok(lack)
}

/// A lacking file as the walk hands it on: its index in the target's wanted ids, and the
/// object named as its first root names it.
type Lacking = (usize, Object);

/// Walks the manifests of `roots` again and hands `send` each file of `lacking` (bits over
/// `mine.files`) once, named by the first root that lists it; stops when `send` says no one
/// listens. Only the lacking files are ever named, one at a time.
fn walk_lacking(
    odb: &Odb,
    roots: &[Root],
    mine: &WantedIds,
    mut lacking: Bits,
    mut send: impl FnMut(Lacking) -> bool,
) {
    let bad: HashSet<&HashInfo> = mine.bad_dirs.iter().map(|(o, _)| &o.hash).collect();
    let mut open = true;
    for root in roots.iter().filter(|r| !bad.contains(&r.hash)) {
        let _ = root_files(odb, root, |id, relpath| {
            if let Ok(i) = mine.files.binary_search(&id)
                && open
                && lacking.get(i)
            {
                lacking.clear(i);
                let object = Object {
                    hash: id.hash(),
                    size: mine.recorded.get(&id).copied(),
                    out: file_name(root, relpath),
                };
                open = send((i, object));
            }
        });
        if !open {
            return;
        }
    }
}

/// Objects the manifest walk may hold ready ahead of the senders.
const WALK_AHEAD: usize = 1024;

/// Syncs each target, in order, with what its own roots bring (`targets[i].1`). Returns one row
/// per target; `Err` only when the local cache cannot be written (spool), which no remote can
/// fix.
pub async fn sync(
    odb: &Odb,
    spool: &Path,
    targets: &[(Handle, Vec<Root>)],
    router: &Router,
    keep_going: bool,
    progress: &dyn Progress,
) -> Result<Vec<TargetRow>, CopyError> {
    let _undo = router.give_back_on_interrupt();
    let mut rows: Vec<TargetRow> = Vec::new();
    let mut stop = false;
    for (target, roots) in targets {
        let mut row = TargetRow {
            name: target.name.clone(),
            skipped: stop,
            ..Default::default()
        };
        if !stop {
            sync_one(odb, spool, roots, target, router, &mut row, progress).await?;
            stop = row.is_failed() && !keep_going;
        }
        rows.push(row);
    }
    router.flush_usage();
    Ok(rows)
}

async fn sync_one(
    odb: &Odb,
    spool: &Path,
    roots: &[Root],
    target: &Handle,
    router: &Router,
    row: &mut TargetRow,
    progress: &dyn Progress,
) -> Result<(), CopyError> {
    let lack = match lacking(odb, target, roots, row).await {
        Ok(l) => l,
        Err(e) => {
            row.unreachable = Some(e);
            return Ok(());
        }
    };
    progress.add_total(
        lack.count + (lack.odd.len() + lack.dirs.len()) as u64,
        lack.bytes + lack.odd.iter().filter_map(|o| o.size).sum::<u64>(),
    );
    let relay = Relay {
        odb,
        spool,
        target,
        router,
        exclude: excluded(router, target),
        dead: Mutex::new(None),
        local: Mutex::new(None),
        progress,
    };
    let Lack {
        mine,
        files,
        odd,
        dirs,
        ..
    } = lack;
    // The files stream from a walk of the manifests on a blocking thread, a bounded channel
    // ahead of the senders, so a million lacking files are never named at once.
    let (tx, rx) = tokio::sync::mpsc::channel::<Lacking>(WALK_AHEAD);
    let walk = {
        let (odb, roots, mine) = (odb.clone(), roots.to_vec(), mine.clone());
        tokio::task::spawn_blocking(move || {
            walk_lacking(&odb, &roots, &mine, files, |item| {
                tx.blocking_send(item).is_ok()
            })
        })
    };
    let walked = futures::stream::unfold(rx, |mut rx| async move {
        let (i, o) = rx.recv().await?;
        Some(((Some(i), o), rx))
    });
    let odd_files = futures::stream::iter(odd.into_iter().map(|o| (None, o)));
    let mut sent = Box::pin(
        odd_files
            .chain(walked)
            .map(|(i, o)| {
                let relay = &relay;
                async move {
                    let r = relay.send(&o).await;
                    (i, o, r)
                }
            })
            .buffer_unordered(target.remote.jobs()),
    );
    let mut failed = Bits::new(mine.files.len());
    let mut any_failed = false;
    while let Some((i, o, r)) = sent.next().await {
        if r.is_err() {
            any_failed = true;
            if let Some(i) = i {
                failed.set(i);
            }
        }
        record(row, router, o, r);
    }
    drop(sent);
    let _ = walk.await;
    // A `.dir` goes only once all its files are there: a remote never advertises a tree it
    // lacks part of.
    let (ready, broken): (Vec<_>, Vec<_>) = dirs
        .into_iter()
        .partition(|d| !any_failed || !any_file_failed(odb, roots, &mine, &failed, &d.hash));
    for d in broken {
        progress.done(0);
        row.failed
            .push((d, "not sent because some of its files failed".into()));
    }
    let results: Vec<(Object, Sent)> = futures::stream::iter(ready)
        .map(|o| {
            let relay = &relay;
            async move {
                let r = relay.send(&o).await;
                (o, r)
            }
        })
        .buffer_unordered(target.remote.jobs())
        .collect()
        .await;
    for (o, r) in results {
        record(row, router, o, r);
    }
    match relay.local.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Whether a file of the directory `dir` (one of `roots`) is set in `failed` (bits over
/// `mine.files`), read from its manifest again.
fn any_file_failed(
    odb: &Odb,
    roots: &[Root],
    mine: &WantedIds,
    failed: &Bits,
    dir: &HashInfo,
) -> bool {
    let Some(root) = roots.iter().find(|r| &r.hash == dir) else {
        return true;
    };
    let mut any = false;
    let read = root_files(odb, root, |id, _| {
        any |= mine.files.binary_search(&id).is_ok_and(|i| failed.get(i));
    });
    any || read.is_err()
}

fn record(row: &mut TargetRow, router: &Router, o: Object, r: Sent) {
    match r {
        Ok((source, bytes)) => {
            row.copied += 1;
            row.bytes += bytes;
            let name = match source {
                Source::Local => LOCAL.to_string(),
                Source::Lane(i) => router.lanes[i].handle.name.clone(),
            };
            *row.from.entry(name).or_default() += 1;
        }
        Err(why) => row.failed.push((o, why)),
    }
}

/// Sends objects to one target.
struct Relay<'a> {
    odb: &'a Odb,
    spool: &'a Path,
    target: &'a Handle,
    router: &'a Router,
    exclude: Vec<(usize, Skip)>,
    /// Set when the target refused us for good (credentials): the rest is not attempted.
    dead: Mutex<Option<RemoteError>>,
    /// The first local (cache or spool) error: it ends the run once this target is done.
    local: Mutex<Option<CopyError>>,
    progress: &'a dyn Progress,
}

impl Relay<'_> {
    /// Sends `o` to the target; `Ok((source, bytes))` or why not.
    async fn send(&self, o: &Object) -> Sent {
        let result = self.send_inner(o).await;
        self.progress
            .done(result.as_ref().map(|(_, n)| *n).unwrap_or(0));
        result
    }

    async fn send_inner(&self, o: &Object) -> Sent {
        if let Some(e) = self.dead.lock().ok().and_then(|d| d.clone()) {
            return Err(format!("not attempted: {}", e.message));
        }
        let key = o.key();
        let target = &self.target.remote;
        let meter = self.progress.object(&self.target.name, &o.out, o.size);
        if self.odb.contains(&o.hash) {
            let payload = Payload::load(self.odb, &o.hash)
                .await
                .map_err(|e| format!("cannot read the cache file: {e}"))?;
            return match upload(target, &key, &payload, &meter).await {
                Ok(()) => Ok((Source::Local, payload.len())),
                Err(e) => Err(self.target_failed(e)),
            };
        }
        let mut r = Routed {
            object: o.clone(),
            tried: self.exclude.clone(),
            prefer: None,
        };
        loop {
            let Some(i) = self.router.route(&mut r) else {
                let why: Vec<String> = r
                    .tried
                    .iter()
                    .filter(|(i, _)| !self.exclude.iter().any(|(x, _)| x == i))
                    .map(|(i, s)| format!("{}: {}", self.router.lanes[*i].handle.name, s.label()))
                    .collect();
                return Err(if why.is_empty() {
                    "not in the local cache and no other remote to copy it from".into()
                } else {
                    format!("no source could supply it ({})", why.join("; "))
                });
            };
            let lane = &self.router.lanes[i];
            // An object's size is the same on every remote: any listing tells it, so a source
            // that cannot list is claimed and read with the size too.
            let size = lane
                .known_size(&key)
                .or(o.size)
                .or_else(|| self.router.lanes.iter().find_map(|l| l.known_size(&key)));
            let sized = Object { size, ..o.clone() };
            // Shared with other processes through the ledger, as a pull's batches are.
            let claimed = self.router.claim_one(i, &sized);
            if claimed == Claimed::NoRoom {
                r.tried.push((i, Skip::OverBudget));
                continue;
            }
            let held = matches!(claimed, Claimed::Held(_));
            let relayed = self
                .relay(&lane.handle.remote, &o.hash, size, held, &meter)
                .await;
            self.router.release(i, &sized, claimed);
            match relayed {
                Ok(bytes) => {
                    let passed: Vec<(usize, Skip)> = r
                        .tried
                        .iter()
                        .filter(|(i, _)| !self.exclude.iter().any(|(x, _)| x == i))
                        .cloned()
                        .collect();
                    self.router.supplied(i, bytes, &passed);
                    return Ok((Source::Lane(i), bytes));
                }
                Err(Side::Source(e)) => {
                    tracing::info!(remote = %lane.handle.name, "{}: {}", o.out, e.message);
                    let why = self.router.source_failed(i, &e);
                    r.tried.push((i, why));
                }
                Err(Side::Target(e)) => return Err(self.target_failed(e)),
                Err(Side::Local(e)) => {
                    let text = e.to_string();
                    if let Ok(mut slot) = self.local.lock() {
                        slot.get_or_insert(e);
                    }
                    return Err(text);
                }
            }
        }
    }

    fn target_failed(&self, e: RemoteError) -> String {
        if e.kind == ErrorKind::Auth
            && let Ok(mut d) = self.dead.lock()
        {
            d.get_or_insert(e.clone());
        }
        e.message
    }

    /// Copies `hash` from `source` to the target: streamed when its size is known (DVC 3
    /// hashes), else spooled through a verified temp file (legacy hashes are of dos2unix'd
    /// text, so they cannot be checked on the fly). The source's stack retries the whole copy;
    /// `claimed`: the first attempt is covered by a ledger claim.
    async fn relay(
        &self,
        source: &Stack,
        hash: &HashInfo,
        size: Option<u64>,
        claimed: bool,
        meter: &ObjectMeter,
    ) -> Result<u64, Side> {
        let key = crate::odb::key(hash);
        match size {
            Some(size) if !hash.legacy => {
                let budget = ReadBudget {
                    size: Some(size),
                    claimed,
                };
                let target = &self.target.remote;
                let (result, _) = source
                    .read_with(&key, budget, |stream| {
                        stream_once(meter.count(stream), source.name(), target, hash, &key, size)
                    })
                    .await;
                result.map(|()| size)
            }
            _ => self.spooled(source, hash, size, claimed, meter).await,
        }
    }

    async fn spooled(
        &self,
        source: &Stack,
        hash: &HashInfo,
        size: Option<u64>,
        claimed: bool,
        meter: &ObjectMeter,
    ) -> Result<u64, Side> {
        let spool = Odb::new(self.spool.to_path_buf());
        let budget = ReadBudget { size, claimed };
        let bytes = match download(source, &spool, hash, budget, meter).await.0 {
            Ok(n) => n,
            Err(CopyError::Remote(e)) => return Err(Side::Source(e)),
            Err(local) => return Err(Side::Local(local)),
        };
        let path = spool.path(hash);
        let result = match Payload::load(&spool, hash).await {
            Ok(payload) => upload(
                &self.target.remote,
                &crate::odb::key(hash),
                &payload,
                &ObjectMeter::none(),
            )
            .await
            .map(|()| bytes)
            .map_err(Side::Target),
            Err(source) => Err(Side::Local(CopyError::Local {
                path: path.clone(),
                reason: source,
            })),
        };
        let _ = std::fs::remove_file(&path);
        result
    }
}

/// One streamed copy of `stream` (read from `source`) to `target`, verified on the way.
async fn stream_once(
    stream: ByteStream,
    source: &str,
    target: &Stack,
    hash: &HashInfo,
    key: &str,
    size: u64,
) -> Result<(), Side> {
    let check = Arc::new(Check::default());
    let body = verified(stream, hash, size, source, key, check.clone());
    let written = target.write_once(key, body, size).await;
    let source_error = check.error.lock().ok().and_then(|mut e| e.take());
    match (written, source_error) {
        (Ok(()), None) => Ok(()),
        (_, Some(e)) => {
            // The held-back last chunk never went out, so no backend completed the object;
            // deleting anyway covers a backend that keeps partial uploads.
            if e.kind == ErrorKind::Corrupt && target.capabilities().delete {
                let _ = target.delete(key).await;
            }
            Err(Side::Source(e))
        }
        (Err(e), None) => Err(Side::Target(e)),
    }
}

/// What the verifying stream learned: the source's failure, if any.
#[derive(Default)]
struct Check {
    error: Mutex<Option<RemoteError>>,
}

struct VerifyState {
    inner: ByteStream,
    held: Option<Bytes>,
    hasher: Md5,
    count: u64,
    done: bool,
    expected: String,
    size: u64,
    remote: String,
    key: String,
    check: Arc<Check>,
}

/// Wraps a source stream: hashes and counts it, and releases the last chunk only when the
/// whole object arrived with the expected md5 and size; otherwise ends with a `Corrupt` error.
fn verified(
    inner: ByteStream,
    hash: &HashInfo,
    size: u64,
    remote: &str,
    key: &str,
    check: Arc<Check>,
) -> ByteStream {
    let state = VerifyState {
        inner,
        held: None,
        hasher: Md5::new(),
        count: 0,
        done: false,
        expected: hash.md5.strip_suffix(".dir").unwrap_or(&hash.md5).into(),
        size,
        remote: remote.into(),
        key: key.into(),
        check,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    st.count += chunk.len() as u64;
                    if st.count > st.size {
                        // Longer than the object: stop reading now, never relay the rest.
                        st.done = true;
                        let e = oversized(&st.remote, &st.key, &st.expected, st.count, st.size);
                        if let Ok(mut slot) = st.check.error.lock() {
                            slot.get_or_insert(e.clone());
                        }
                        return Some((Err(e), st));
                    }
                    st.hasher.update(&chunk);
                    if let Some(prev) = st.held.replace(chunk) {
                        return Some((Ok(prev), st));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    if let Ok(mut slot) = st.check.error.lock() {
                        slot.get_or_insert(e.clone());
                    }
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    let actual = hex::encode(std::mem::take(&mut st.hasher).finalize());
                    if actual == st.expected && st.count == st.size {
                        let last = st.held.take()?;
                        return Some((Ok(last), st));
                    }
                    let e = RemoteError::new(
                        ErrorKind::Corrupt,
                        &st.remote,
                        format!(
                            "object {} arrived with md5 {actual} ({} bytes, {} expected): the remote's copy is corrupt",
                            st.expected, st.count, st.size
                        ),
                    )
                    .with_key(&st.key);
                    if let Ok(mut slot) = st.check.error.lock() {
                        slot.get_or_insert(e.clone());
                    }
                    return Some((Err(e), st));
                }
            }
        }
    }))
}

/// One target's share of a `--dry-run`.
#[derive(Debug, Default, serde::Serialize)]
pub struct PlanRow {
    /// The remote's name.
    pub name: String,
    /// Wanted objects it lacks.
    pub objects: u64,
    /// Their known bytes.
    pub bytes: u64,
    /// Where they would come from: source name → (objects, bytes).
    pub from: BTreeMap<String, (u64, u64)>,
    /// Each lacking object a source was found for, with that source's name.
    pub items: Vec<(Object, String)>,
    /// Lacking objects no source holds, with each source's reason.
    pub nowhere: Vec<(Object, String)>,
    /// Set when the target could not be checked.
    pub unreachable: Option<RemoteError>,
}

/// Plans a sync without sending anything: per target, what it lacks and where each object
/// would come from (budgets reserved as the run would, so a plan never overdraws one); with
/// `items` each lacking object is listed with its source.
pub async fn plan(
    odb: &Odb,
    targets: &[(Handle, Vec<Root>)],
    router: &Router,
    items: bool,
) -> Vec<PlanRow> {
    let mut rows = Vec::new();
    for (target, roots) in targets {
        let mut row = PlanRow {
            name: target.name.clone(),
            ..Default::default()
        };
        let mut scratch = TargetRow::default();
        let lack = match lacking(odb, target, roots, &mut scratch).await {
            Ok(l) => l,
            Err(e) => {
                row.unreachable = Some(e);
                rows.push(row);
                continue;
            }
        };
        // A directory whose file list is not local yet is planned as its `.dir` alone: a real
        // run fetches the list first.
        let mut unknown = Vec::new();
        for (o, why) in scratch.failed {
            if lack.mine.unknown_dirs.contains(&o) {
                unknown.push(o);
            } else {
                row.objects += 1;
                row.nowhere.push((o, why));
            }
        }
        let exclude = excluded(router, target);
        let mut one = |o: Object| {
            row.objects += 1;
            let source = if odb.contains(&o.hash) {
                Some((LOCAL.to_string(), local_size(odb, &o)))
            } else {
                let mut r = Routed {
                    object: o.clone(),
                    tried: exclude.clone(),
                    prefer: None,
                };
                match router.route(&mut r) {
                    Some(i) => {
                        let lane = &router.lanes[i];
                        let n = lane.known_size(&o.key()).or(o.size).unwrap_or(0);
                        Some((lane.handle.name.clone(), n))
                    }
                    None => {
                        let why: Vec<String> = r
                            .tried
                            .iter()
                            .filter(|(i, _)| !exclude.iter().any(|(x, _)| x == i))
                            .map(|(i, s)| {
                                format!("{}: {}", router.lanes[*i].handle.name, s.label())
                            })
                            .collect();
                        row.nowhere.push((o.clone(), why.join("; ")));
                        None
                    }
                }
            };
            if let Some((name, n)) = source {
                row.bytes += n;
                let e = row.from.entry(name.clone()).or_default();
                e.0 += 1;
                e.1 += n;
                if items {
                    row.items.push((o, name));
                }
            }
        };
        let Lack {
            mine,
            files,
            odd,
            dirs,
            ..
        } = lack;
        odd.into_iter().for_each(&mut one);
        walk_lacking(odb, roots, &mine, files, |(_, o)| {
            one(o);
            true
        });
        dirs.into_iter().chain(unknown).for_each(&mut one);
        rows.push(row);
    }
    rows
}

fn local_size(odb: &Odb, o: &Object) -> u64 {
    o.size
        .or_else(|| std::fs::metadata(odb.path(&o.hash)).ok().map(|m| m.len()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures::StreamExt;

    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let items: Vec<Result<Bytes, RemoteError>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(futures::stream::iter(items))
    }

    async fn drain(s: ByteStream) -> (Vec<u8>, Option<RemoteError>) {
        let mut s = s;
        let mut got = Vec::new();
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => got.extend_from_slice(&b),
                Err(e) => return (got, Some(e)),
            }
        }
        (got, None)
    }

    #[tokio::test]
    async fn a_good_object_streams_whole() {
        let hash = HashInfo::md5(crate::hash::md5_bytes(b"hello world"));
        let check = Arc::new(Check::default());
        let s = verified(
            chunks(&[b"hello", b" ", b"world"]),
            &hash,
            11,
            "r",
            "k",
            check.clone(),
        );
        let (got, err) = drain(s).await;
        assert_eq!(got, b"hello world");
        assert!(err.is_none());
        assert!(check.error.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn a_corrupt_object_never_completes() {
        let hash = HashInfo::md5(crate::hash::md5_bytes(b"hello world"));
        let check = Arc::new(Check::default());
        let s = verified(
            chunks(&[b"hello", b" ", b"wOrld"]),
            &hash,
            11,
            "r",
            "k",
            check.clone(),
        );
        let (got, err) = drain(s).await;
        assert_eq!(got, b"hello ", "the last chunk is held back");
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Corrupt));
        assert!(check.error.lock().unwrap().is_some());
    }

    #[tokio::test]
    async fn a_short_object_is_corrupt_too() {
        let hash = HashInfo::md5(crate::hash::md5_bytes(b"hello"));
        let s = verified(
            chunks(&[b"hello"]),
            &hash,
            6,
            "r",
            "k",
            Arc::new(Check::default()),
        );
        let (got, err) = drain(s).await;
        assert!(got.is_empty());
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Corrupt));
    }
}
