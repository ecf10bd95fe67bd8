//! DVC's repository lock (`.dvc/tmp/lock`, flock), taken by every command that writes, so that
//! `ferry` and `dvc` never write the same repository at once.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::UserError;

/// How long to wait for another process before giving up.
const WAIT: Duration = Duration::from_secs(3);

/// Set by `--wait-for-lock`: wait for the lock as long as it takes.
static WAIT_WITHOUT_LIMIT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Makes every later [`acquire`] in this process wait until the lock is free (dvc's
/// `--wait-for-lock`).
pub fn wait_without_limit() {
    WAIT_WITHOUT_LIMIT.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Holds the lock until dropped (the OS releases it even if the process is killed).
#[derive(Debug)]
pub struct RepoLock {
    _file: File,
}

/// Takes the lock, waiting a little; fails naming the process that holds it. The lock file is
/// opened without following a symlink (`O_NOFOLLOW`), so a committed `.dvc/tmp/lock` link can
/// never make Ferry truncate a file elsewhere.
pub fn acquire(tmp_dir: &Path) -> Result<RepoLock, UserError> {
    let path = tmp_dir.join("lock");
    let io_err = |e: std::io::Error| {
        UserError::failed(format!(
            "cannot open the repository lock '{}': {e}",
            path.display()
        ))
    };
    std::fs::create_dir_all(tmp_dir).map_err(io_err)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .map_err(io_err)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock)
                if start.elapsed() < WAIT
                    || WAIT_WITHOUT_LIMIT.load(std::sync::atomic::Ordering::Relaxed) =>
            {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    format!("process {holder}")
                };
                return Err(UserError::failed(format!("Unable to acquire lock: the repository is locked by {who} (a running `dvc` or `ferry`)"))
                    .with_hint(format!("wait for it to finish, or rerun with --wait-for-lock; the lock on '{}' is freed when the process holding it exits, so deleting the file does not help", path.display())));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, " {}", std::process::id());
    Ok(RepoLock { _file: file })
}
