//! Logging for the tray binary: a log file in `<config>/logs/pim-tray.log` plus stderr,
//! filtered by `RUST_LOG` (default `info`). Tokens are never logged (they only exist inside
//! pim-auth's `Secret`).
//!
//! The file is size-capped: when a write would take it past [`MAX_BYTES`] it is renamed to
//! `pim-tray.log.1` (the previous `.1` becomes `.2`, and so on up to [`KEEP`] old files; the
//! oldest is deleted) and a new file is started. So the folder never holds more than
//! `(KEEP + 1) × MAX_BYTES`, even for a tray left running at `RUST_LOG=trace` for months.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Size at which the log file is rotated.
pub const MAX_BYTES: u64 = 5 * 1024 * 1024;
/// How many rotated files are kept (`pim-tray.log.1` … `pim-tray.log.KEEP`).
pub const KEEP: usize = 2;

/// Installs the subscriber. Failing to open the file falls back to stderr only.
pub fn init(config_dir: &Path) {
    let filter = filter_from(std::env::var("RUST_LOG").ok().as_deref());
    let dir = config_dir.join("logs");
    let file = pim_auth::accounts::create_private_dir(&dir)
        .map_err(io::Error::other)
        .and_then(|()| RotatingFile::open(dir.join("pim-tray.log"), MAX_BYTES, KEEP));
    let layer = tracing_subscriber::fmt::layer().with_ansi(false);
    let registry = tracing_subscriber::registry().with(filter);
    let result = match file {
        Ok(f) => registry
            .with(layer.with_writer(Mutex::new(f).and(io::stderr)))
            .try_init(),
        Err(_) => registry.with(layer.with_writer(io::stderr)).try_init(),
    };
    let _ = result;
}

/// The filter for a `RUST_LOG` value: comma-separated `target=level` directives and a bare
/// level for everything else (`info,pim_tray::tray=debug`, `trace`). Unset, empty or not
/// understood: `info`. (Targets rather than `EnvFilter`: the regex engine behind the latter's
/// span and field directives was the tray's only use of it; src-tauri/README.md, Figures.)
fn filter_from(rust_log: Option<&str>) -> Targets {
    rust_log
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// An append-only file that rotates itself when it reaches its size cap.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: fs::File,
    len: u64,
    max: u64,
    keep: usize,
}

impl RotatingFile {
    /// Opens (appending to) `path`, rotating at `max` bytes and keeping `keep` old files.
    pub fn open(path: PathBuf, max: u64, keep: usize) -> io::Result<RotatingFile> {
        let file = open_append(&path)?;
        let len = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            file,
            len,
            max: max.max(1),
            keep,
        })
    }

    fn old(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            let _ = fs::remove_file(self.old(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.old(n);
                if from.exists() {
                    fs::rename(&from, self.old(n + 1))?;
                }
            }
            fs::rename(&self.path, self.old(1))?;
        }
        self.file = open_append(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let incoming = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        if self.len > 0 && self.len.saturating_add(incoming) > self.max {
            // A failed rotation (e.g. the folder became read-only) keeps logging to the file
            // already open rather than losing the line.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.len = self
            .len
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_directives_pick_the_levels() {
        let f = filter_from(Some("info,pim_tray::tray=debug"));
        assert!(f.would_enable("pim_tray::tray", &Level::DEBUG));
        assert!(f.would_enable("pim_tray::tray::menu", &Level::DEBUG));
        assert!(!f.would_enable("pim_tray::tray", &Level::TRACE));
        assert!(f.would_enable("pim_core::session", &Level::INFO));
        assert!(!f.would_enable("pim_core::session", &Level::DEBUG));
        let f = filter_from(Some("trace"));
        assert!(f.would_enable("zbus", &Level::TRACE));
        let f = filter_from(Some("warn,pim_auth=off"));
        assert!(!f.would_enable("pim_auth::entra", &Level::ERROR));
        assert!(f.would_enable("pim_core", &Level::WARN));
        for unset in [None, Some(""), Some("info,[span{x=1}]=trace")] {
            let f = filter_from(unset);
            assert!(f.would_enable("pim_tray", &Level::INFO), "{unset:?}");
            assert!(!f.would_enable("pim_tray", &Level::DEBUG), "{unset:?}");
        }
    }

    #[test]
    fn the_log_rotates_at_its_cap_and_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pim-tray.log");
        std::fs::write(&path, "x".repeat(900)).expect("old log");
        let mut log = RotatingFile::open(path.clone(), 1000, 2).expect("open");
        let line = [b'a'; 99];
        for i in 0..100u32 {
            log.write_all(&line).expect("write");
            log.write_all(format!("{i}\n").as_bytes()).expect("write");
        }
        log.flush().expect("flush");
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        assert_eq!(names, ["pim-tray.log", "pim-tray.log.1", "pim-tray.log.2"]);
        for name in &names {
            let len = std::fs::metadata(dir.path().join(name))
                .expect("meta")
                .len();
            assert!(len <= 1000, "{name} is {len} bytes");
        }
        // The newest lines are in the current file; the old content has been rotated away.
        let current = std::fs::read_to_string(&path).expect("read");
        assert!(current.ends_with("99\n"), "{current}");
        let all: String = names
            .iter()
            .map(|n| std::fs::read_to_string(dir.path().join(n)).expect("read"))
            .collect();
        assert!(
            !all.contains('x'),
            "the first file was dropped after two rotations"
        );
    }
}
