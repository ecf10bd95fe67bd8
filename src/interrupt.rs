//! What to undo when the user presses Ctrl-C.
//!
//! The Ctrl-C handler (`cli`) ends the process at once with exit code 252, so work in flight
//! never reaches its own clean-up code. Code holding something a kill would leak in a harmful
//! way — budget claimed for bytes not yet downloaded — registers an undo here for as long as it
//! holds it; the handler runs every registered undo before it exits. Objects need none (temp
//! file + rename in the cache) and locks are dropped by the kernel; workspace temp files have
//! their own wind-down, which must also stop new files from starting
//! ([`crate::repo::checkout::on_interrupt`]).
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

type Undo = Box<dyn Fn() + Send + Sync>;

static UNDOS: Mutex<BTreeMap<u64, Undo>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Keeps an undo registered; dropping it unregisters the undo without running it (the work
/// finished or cleaned up by itself).
#[must_use = "the undo is unregistered as soon as the guard is dropped"]
pub struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        UNDOS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

/// Registers `undo` to run if the process is interrupted while the returned guard lives.
pub fn on_interrupt(undo: impl Fn() + Send + Sync + 'static) -> Guard {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    UNDOS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, Box::new(undo));
    Guard(id)
}

/// Runs (once) every undo registered now, newest first; called by the Ctrl-C handler just
/// before the process exits.
pub fn run_undos() {
    let undos = std::mem::take(&mut *UNDOS.lock().unwrap_or_else(|p| p.into_inner()));
    for (_, undo) in undos.into_iter().rev() {
        undo();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn registered_undos_run_once_and_dropped_guards_do_not() {
        let ran = Arc::new(AtomicUsize::new(0));
        let kept = {
            let ran = ran.clone();
            on_interrupt(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        };
        let dropped = {
            let ran = ran.clone();
            on_interrupt(move || {
                ran.fetch_add(10, Ordering::SeqCst);
            })
        };
        drop(dropped);
        run_undos();
        run_undos();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        drop(kept);
    }
}
