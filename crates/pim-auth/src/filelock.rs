//! Advisory locks around the read-modify-write of the config folder's shared files
//! (`accounts.json`, `tenants.json`, the tray's settings), so the CLI and the tray never lose
//! each other's changes.
//!
//! The lock is taken on a sibling file, `.<name>.lock`, not on the data file itself: the data
//! file is replaced by an atomic rename on every write, so a lock on it would guard a file that
//! no longer has the name. The lock file is empty and is left in place. The lock is the
//! operating system's (`flock` on unix, `LockFileEx` on Windows, through `std::fs::File::lock`):
//! it is released when the holder exits, even by a crash, so a dead process never wedges the
//! others. Every open of the lock file is its own lock owner, so threads of one process exclude
//! each other too.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long [`with_lock`] waits for another process before giving up with an error.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The lock file that guards `data_file` (`.<name>.lock` beside it).
pub fn lock_path(data_file: &Path) -> PathBuf {
    let name = data_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    data_file.with_file_name(format!(".{name}.lock"))
}

/// Runs `f` while holding the exclusive lock that guards `data_file`. The folder must exist.
/// Waits up to [`LOCK_WAIT`] for another holder; after that (or when the lock file cannot be
/// opened, e.g. it is a symbolic link) returns an error that names the file.
pub fn with_lock<T>(data_file: &Path, f: impl FnOnce() -> T) -> io::Result<T> {
    with_lock_waiting(data_file, LOCK_WAIT, f)
}

/// [`with_lock`] with a chosen wait.
pub fn with_lock_waiting<T>(
    data_file: &Path,
    wait: Duration,
    f: impl FnOnce() -> T,
) -> io::Result<T> {
    let file = acquire(&lock_path(data_file), Some(wait)).map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "another PIM Tray process (the tray or `pim`) has held the lock on {} \
                     for more than {} s; try again, or end that process",
                    data_file.display(),
                    wait.as_secs()
                ),
            )
        } else {
            e
        }
    })?;
    let out = f();
    // Closing the file releases the lock; unlock first so the release does not wait for
    // the close to be scheduled.
    let _ = file.unlock();
    Ok(out)
}

/// Opens the lock file `lock_file` (created 0600 if missing, never through a symbolic link)
/// and takes its exclusive lock: waits up to `wait` (an error of kind `WouldBlock` after
/// that), or with `None` until the holder lets go. The lock lasts until the returned file is
/// unlocked or closed.
pub fn acquire(lock_file: &Path, wait: Option<Duration>) -> io::Result<fs::File> {
    let file = open_lock_file(lock_file)?;
    let cannot = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot lock {}: {e}", lock_file.display()),
        )
    };
    let Some(wait) = wait else {
        file.lock().map_err(cannot)?;
        return Ok(file);
    };
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("{} is held by another process", lock_file.display()),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(cannot(e)),
        }
    }
}

fn open_lock_file(path: &Path) -> io::Result<fs::File> {
    // Never follow a symbolic link planted at the lock's name (it would create or open a file
    // elsewhere on the user's behalf).
    if let Ok(meta) = fs::symlink_metadata(path)
        && meta.file_type().is_symlink()
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; PIM Tray only uses a regular file there. Remove it.",
                path.display()
            ),
        ));
    }
    let mut opts = fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn holders_exclude_each_other_and_a_stuck_holder_gives_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("accounts.json");
        let inside = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (data, inside, max_seen) = (data.clone(), inside.clone(), max_seen.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        with_lock(&data, || {
                            let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            max_seen.fetch_max(n, Ordering::SeqCst);
                            std::thread::yield_now();
                            inside.fetch_sub(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            max_seen.load(Ordering::SeqCst),
            1,
            "never two holders at once"
        );
        assert!(lock_path(&data).ends_with(".accounts.json.lock"));

        // A holder that does not let go: the next one gives up with a message naming the file.
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let d = data.clone();
        let holder = std::thread::spawn(move || {
            with_lock(&d, || {
                tx.send(()).unwrap();
                done_rx.recv().unwrap();
            })
            .unwrap();
        });
        rx.recv().unwrap();
        let err = with_lock_waiting(&data, Duration::from_millis(100), || ()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(err.to_string().contains("accounts.json"), "{err}");
        done_tx.send(()).unwrap();
        holder.join().unwrap();
        with_lock_waiting(&data, Duration::from_millis(100), || ()).expect("free again");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_lock_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("tenants.json");
        let elsewhere = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, lock_path(&data)).unwrap();
        let err = with_lock(&data, || ()).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!elsewhere.exists(), "nothing created through the link");
    }
}
