//! The runtime proper (Linux only).

use crate::{elf, extract};
use anyhow::{Context, Result, bail};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::{env, io, thread};

const NAME: &str = "appimage-runtime";

const HELP: &str = "\
AppImage options (this is PIM Tray's own AppImage type-2 runtime):
  --appimage-extract [PATTERN]     extract the contents (or the paths matching PATTERN,
                                   as fnmatch with * and ?) to ./squashfs-root
  --appimage-extract-and-run ARGS  extract to a private temporary directory, run AppRun
                                   with ARGS, delete the copy (also: APPIMAGE_EXTRACT_AND_RUN=1)
  --appimage-offset                print the byte offset of the squashfs image
  --appimage-help                  print this help
  --appimage-version               print the runtime's version
Any other arguments are passed to AppRun. Without FUSE (/dev/fuse and squashfuse on PATH)
the AppImage falls back to extract-and-run.";

/// The AppImage being run and what AppRun gets in its environment.
struct Image {
    path: PathBuf,
    offset: u64,
    argv0: OsString,
}

pub fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{NAME}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let mut args = env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let args: Vec<OsString> = args.collect();
    // TARGET_APPIMAGE lets a runtime operate on another AppImage, as the standard one does.
    let path = match env::var_os("TARGET_APPIMAGE") {
        Some(p) => PathBuf::from(p),
        None => fs::read_link("/proc/self/exe").context("finding the AppImage (/proc/self/exe)")?,
    };
    let path = fs::canonicalize(&path).with_context(|| format!("resolving {}", path.display()))?;
    let offset = elf::payload_offset(&mut File::open(&path)?)
        .with_context(|| format!("reading the runtime's ELF headers in {}", path.display()))?;
    let image = Image {
        path,
        offset,
        argv0,
    };

    let option = args.first().and_then(|a| a.to_str()).unwrap_or_default();
    match option {
        "--appimage-offset" => println!("{offset}"),
        "--appimage-help" => println!("{HELP}"),
        "--appimage-version" => println!(
            "{NAME} {} (AppImage type 2, squashfs {})",
            env!("CARGO_PKG_VERSION"),
            extract::COMPRESSION.1
        ),
        "--appimage-extract" => {
            let pattern = match args.get(1) {
                Some(p) => Some(p.to_str().context("PATTERN is not UTF-8")?),
                None => None,
            };
            extract::extract(
                &image.path,
                offset,
                Path::new("squashfs-root"),
                pattern,
                true,
            )?;
        }
        "--appimage-extract-and-run" => return extract_and_run(&image, &args[1..]),
        o if o.starts_with("--appimage-") => {
            bail!("{o} is not supported by this runtime (see --appimage-help)")
        }
        _ if env::var_os("APPIMAGE_EXTRACT_AND_RUN").is_some_and(|v| v == "1") => {
            return extract_and_run(&image, &args);
        }
        _ => {
            extract::check_image(&mut File::open(&image.path)?, offset)?;
            return match Mount::new(&image) {
                Ok(mount) => {
                    let code = run_apprun(&image, &mount.dir, &args);
                    drop(mount);
                    code
                }
                Err(why) => {
                    eprintln!("{NAME}: FUSE unavailable ({why:#}); extracting to a temporary dir");
                    extract_and_run(&image, &args)
                }
            };
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn temp_root() -> PathBuf {
    env::var_os("TMPDIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| "/tmp".into(), PathBuf::from)
}

/// A fresh `0700` directory `$TMPDIR/<prefix><name><random>`.
fn temp_dir(image: &Image, prefix: &str) -> Result<tempfile::TempDir> {
    let stem = image
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("AppImage");
    let prefix = format!("{prefix}{}", stem.chars().take(8).collect::<String>());
    let root = temp_root();
    tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(&root)
        .with_context(|| format!("creating a private directory in {}", root.display()))
}

fn extract_and_run(image: &Image, args: &[OsString]) -> Result<ExitCode> {
    // Named like a mount point on purpose: tauri (tauri-utils `Env`) warns of "a security issue"
    // when APPIMAGE is set but the binary does not run from `$TMPDIR/.mount_*`.
    let dir = temp_dir(image, ".mount_")?;
    extract::extract(&image.path, image.offset, dir.path(), None, false)?;
    let code = run_apprun(image, dir.path(), args);
    let shown = dir.path().display().to_string();
    if let Err(e) = dir.close() {
        eprintln!("{NAME}: warning: could not delete {shown}: {e}");
    }
    code
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The image mounted read-only with squashfuse; unmounted (and its mount point removed) on drop.
struct Mount {
    dir: PathBuf,
}

impl Mount {
    fn new(image: &Image) -> Result<Self> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .context("/dev/fuse")?;
        let squashfuse = find_in_path("squashfuse").context("no squashfuse on PATH")?;
        let dir = temp_dir(image, ".mount_")?.keep();
        let mut errors = tempfile::tempfile()?; // a file, not a pipe: the FUSE daemon keeps fds
        let status = Command::new(squashfuse)
            .arg("-o")
            .arg(format!("ro,offset={}", image.offset))
            .arg(&image.path)
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(errors.try_clone()?)
            .status();
        let mount = Self { dir };
        if status.as_ref().is_ok_and(|s| s.success()) && mount.dir.join("AppRun").exists() {
            return Ok(mount);
        }
        let mut text = String::new();
        let _ = io::Seek::rewind(&mut errors)
            .and_then(|()| io::Read::read_to_string(&mut errors, &mut text));
        let why = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no AppRun in the mount");
        match status {
            Ok(s) if s.success() => bail!("{why}"),
            Ok(s) => bail!("squashfuse failed ({s}): {why}"),
            Err(e) => bail!("squashfuse: {e}"),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazy unmount: a helper the app left running in the mount must not block the cleanup.
        let tries: [(&str, &[&str]); 3] = [
            ("fusermount3", &["-u", "-z"]),
            ("fusermount", &["-u", "-z"]),
            ("umount", &["-l"]),
        ];
        let unmounted = tries.iter().any(|(tool, opts)| {
            find_in_path(tool).is_some_and(|t| {
                let st = Command::new(t)
                    .args(*opts)
                    .arg(&self.dir)
                    .stderr(Stdio::null())
                    .status();
                st.is_ok_and(|s| s.success())
            })
        });
        if unmounted {
            let _ = fs::remove_dir(&self.dir);
        } else if fs::remove_dir(&self.dir).is_err() {
            eprintln!("{NAME}: warning: could not unmount {}", self.dir.display());
        }
    }
}

/// Runs `appdir/AppRun` with `args` and the standard AppImage variables, forwarding SIGTERM and
/// SIGHUP to it; returns its exit code (128 + signal if it was killed).
fn run_apprun(image: &Image, appdir: &Path, args: &[OsString]) -> Result<ExitCode> {
    // Registered before the spawn so that the runtime outlives the child and can clean up.
    // SIGINT/SIGQUIT come from the terminal to the whole process group, the child included, so
    // they are only kept from killing the runtime, not forwarded (that would deliver them twice).
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGQUIT, SIGTERM, SIGHUP])?;
    let apprun = appdir.join("AppRun");
    let mut child: Child = Command::new(&apprun)
        .args(args)
        .env("APPIMAGE", &image.path)
        .env("APPDIR", appdir)
        .env("ARGV0", &image.argv0)
        .env("OWD", env::current_dir().unwrap_or_default())
        .spawn()
        .with_context(|| {
            format!(
                "running {} (is {} mounted noexec?)",
                apprun.display(),
                temp_root().display()
            )
        })?;
    let pid = rustix::process::Pid::from_child(&child);
    let handle = signals.handle();
    let forwarder = thread::spawn(move || {
        for sig in signals.forever().filter(|s| *s == SIGTERM || *s == SIGHUP) {
            if let Some(sig) = rustix::process::Signal::from_named_raw(sig) {
                let _ = rustix::process::kill_process(pid, sig);
            }
        }
    });
    let status = child.wait();
    handle.close();
    let _ = forwarder.join();
    let status = status.context("waiting for AppRun")?;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
