//! Reading the squashfs payload and extracting it safely.
//!
//! The image is untrusted input: entries whose path is not a plain relative path (`..`, absolute
//! components) are refused, nothing is ever written through a symlink (each parent directory is
//! checked with `lstat`, files are created with `O_EXCL`, which does not follow a symlink), and
//! setuid/setgid/sticky bits are dropped. Devices, FIFOs and sockets are skipped.

use anyhow::{Context, Result, anyhow, bail, ensure};
use backhand::{FilesystemReader, InnerNode};
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The compression this runtime can read; `.ci/appimage.sh` builds with `mksquashfs -comp gzip`.
pub const COMPRESSION: (u16, &str) = (1, "gzip");
const COMPRESSORS: [&str; 6] = ["gzip", "lzma", "lzo", "xz", "lz4", "zstd"];

/// Checks the squashfs superblock at `offset` so that a truncated or foreign payload gives a clear
/// message rather than whatever the reader trips over first.
pub fn check_image(file: &mut File, offset: u64) -> Result<()> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut sb = [0u8; 96];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut sb).map_err(|_| {
        anyhow!(
            "no squashfs image after the runtime (file is {len} bytes, payload offset {offset})"
        )
    })?;
    ensure!(
        sb.starts_with(b"hsqs"),
        "no squashfs image at offset {offset} (bad magic)"
    );
    let comp = u16::from_le_bytes([sb[20], sb[21]]);
    if comp != COMPRESSION.0 {
        let name = COMPRESSORS
            .get(usize::from(comp).wrapping_sub(1))
            .unwrap_or(&"unknown");
        bail!(
            "squashfs uses {name} compression; this runtime reads {} only",
            COMPRESSION.1
        );
    }
    let mut used = [0u8; 8];
    used.copy_from_slice(&sb[40..48]);
    let used = u64::from_le_bytes(used);
    ensure!(
        offset.checked_add(used).is_some_and(|end| end <= len),
        "AppImage is truncated: squashfs needs {used} bytes at offset {offset}, file has {len}"
    );
    Ok(())
}

/// The entry's path relative to the image root, if it is a plain relative path.
fn relative(path: &Path) -> Result<PathBuf> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    ensure!(
        rel.components().all(|c| matches!(c, Component::Normal(_))),
        "refusing unsafe path {} in image",
        path.display()
    );
    Ok(rel.to_path_buf())
}

/// Creates `root/rel` and its parents as real directories; fails on anything else in the way.
fn ensure_dir(root: &Path, rel: &Path) -> Result<()> {
    let mut cur = root.to_path_buf();
    for part in rel.components() {
        cur.push(part);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!("{} exists and is not a directory", cur.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => DirBuilder::new()
                .mode(0o755)
                .create(&cur)
                .with_context(|| format!("creating {}", cur.display()))?,
            Err(e) => return Err(e).with_context(|| format!("checking {}", cur.display())),
        }
    }
    Ok(())
}

/// Removes a file or symlink left at `path` by an earlier extraction (never a directory).
fn clear(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => bail!("{} is a directory", path.display()),
        Ok(_) => fs::remove_file(path).with_context(|| format!("removing {}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("checking {}", path.display())),
    }
}

/// `fnmatch(pattern, path, FNM_PATHNAME | FNM_LEADING_DIR)` for `*` and `?`, as the standard
/// runtime's `--appimage-extract PATTERN`: `usr/bin/*`, `*.desktop`, `usr` (and all below it).
pub fn glob(pattern: &[u8], path: &[u8]) -> bool {
    match pattern.split_first() {
        None => path.first().is_none_or(|&c| c == b'/'),
        Some((b'*', rest)) => {
            for i in 0..=path.len() {
                if glob(rest, &path[i..]) {
                    return true;
                }
                if path.get(i) == Some(&b'/') {
                    return false;
                }
            }
            false
        }
        Some((b'?', rest)) => path.first().is_some_and(|&c| c != b'/') && glob(rest, &path[1..]),
        Some((c, rest)) => path.first() == Some(c) && glob(rest, &path[1..]),
    }
}

/// Extracts the squashfs at `offset` of `image` into `dest` (created if missing), only entries
/// matching `pattern` if given; prints each extracted path when `verbose`.
pub fn extract(
    image: &Path,
    offset: u64,
    dest: &Path,
    pattern: Option<&str>,
    verbose: bool,
) -> Result<()> {
    let mut file = File::open(image).with_context(|| format!("opening {}", image.display()))?;
    check_image(&mut file, offset)?;
    file.rewind()?; // the reader starts where the file is when the offset is 0
    // The reader is third-party code fed untrusted bytes: turn a panic on a malformed image into
    // an error as a second line of defence (the superblock check above catches truncation).
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        extract_checked(file, offset, dest, pattern, verbose)
    }))
    .map_err(|_| anyhow!("the squashfs image is corrupted (the reader crashed on it)"))?
}

fn extract_checked(
    file: File,
    offset: u64,
    dest: &Path,
    pattern: Option<&str>,
    verbose: bool,
) -> Result<()> {
    let fs = FilesystemReader::from_reader_with_offset(BufReader::new(file), offset)
        .map_err(|e| anyhow!("cannot read the squashfs image: {e}"))?;
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut dirs = Vec::new();
    for node in fs.files() {
        let rel = relative(&node.fullpath)?;
        let Some(name) = rel.to_str() else {
            bail!("non-UTF-8 path in image: {}", rel.display());
        };
        if name.is_empty() || pattern.is_some_and(|p| !glob(p.as_bytes(), name.as_bytes())) {
            continue;
        }
        if let Some(parent) = rel.parent() {
            ensure_dir(dest, parent)?;
        }
        let target = dest.join(&rel);
        let mode = u32::from(node.header.permissions) & 0o777;
        match &node.inner {
            InnerNode::Dir(_) => {
                ensure_dir(dest, &rel)?;
                dirs.push((target.clone(), mode | 0o700)); // stay deletable by the owner
            }
            InnerNode::File(entry) => {
                clear(&target)?;
                let mut out = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&target)
                    .with_context(|| format!("creating {}", target.display()))?;
                io::copy(&mut fs.file(entry).reader(), &mut out)
                    .with_context(|| format!("extracting {name}"))?;
                out.set_permissions(Permissions::from_mode(mode))?;
                let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(node.header.mtime.into());
                out.set_modified(mtime)?;
            }
            InnerNode::Symlink(link) => {
                clear(&target)?;
                symlink(&link.link, &target)
                    .with_context(|| format!("creating symlink {}", target.display()))?;
            }
            _ => continue, // device nodes, FIFOs, sockets: nothing an AppDir needs
        }
        if verbose {
            println!(
                "{}",
                Path::new(dest.file_name().unwrap_or_default())
                    .join(&rel)
                    .display()
            );
        }
    }
    // Modes of directories last, so that read-only ones could still be filled.
    for (dir, mode) in dirs.iter().rev() {
        fs::set_permissions(dir, Permissions::from_mode(*mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Makes `runtime-stand-in ++ squashfs` of a small tree in `dir`; `None` without mksquashfs.
    fn image(dir: &Path, prefix: &[u8]) -> Result<Option<PathBuf>> {
        image_with(dir, prefix, "gzip")
    }

    fn image_with(dir: &Path, prefix: &[u8], comp: &str) -> Result<Option<PathBuf>> {
        let src = dir.join("src");
        fs::create_dir_all(src.join("usr/bin"))?;
        fs::write(src.join("usr/bin/tool"), "#!/bin/sh\necho hi\n")?;
        fs::set_permissions(src.join("usr/bin/tool"), Permissions::from_mode(0o755))?;
        fs::write(src.join("data.txt"), "x".repeat(100_000))?;
        symlink("usr/bin/tool", src.join("AppRun"))?;
        let sqfs = dir.join("img.sqfs");
        let made = Command::new("mksquashfs")
            .args([src.as_os_str(), sqfs.as_os_str()])
            .args([
                "-root-owned",
                "-noappend",
                "-quiet",
                "-no-progress",
                "-comp",
                comp,
            ])
            .status();
        match made {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                eprintln!("SKIPPED: mksquashfs not found (apt-get install squashfs-tools)");
                return Ok(None);
            }
            made => ensure!(made?.success(), "mksquashfs failed"),
        }
        let mut bytes = prefix.to_vec();
        bytes.extend(fs::read(&sqfs)?);
        let out = dir.join("test.AppImage");
        fs::write(&out, bytes)?;
        Ok(Some(out))
    }

    #[test]
    fn extracts_modes_and_symlinks() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let Some(img) = image(tmp.path(), &[0u8; 4096])? else {
            return Ok(());
        };
        let dest = tmp.path().join("squashfs-root");
        extract(&img, 4096, &dest, None, false)?;
        let tool = dest.join("usr/bin/tool");
        assert_eq!(fs::metadata(&tool)?.permissions().mode() & 0o777, 0o755);
        assert_eq!(fs::read_to_string(&tool)?, "#!/bin/sh\necho hi\n");
        assert_eq!(fs::metadata(dest.join("data.txt"))?.len(), 100_000);
        assert_eq!(
            fs::read_link(dest.join("AppRun"))?,
            Path::new("usr/bin/tool")
        );
        // A second extraction over the first replaces files and the symlink in place.
        extract(&img, 4096, &dest, None, false)?;
        assert_eq!(
            fs::read_link(dest.join("AppRun"))?,
            Path::new("usr/bin/tool")
        );
        Ok(())
    }

    #[test]
    fn pattern_extracts_only_matches() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let Some(img) = image(tmp.path(), b"")? else {
            return Ok(());
        };
        let dest = tmp.path().join("out");
        extract(&img, 0, &dest, Some("usr/*/t??l"), false)?;
        assert!(dest.join("usr/bin/tool").is_file());
        assert!(!dest.join("data.txt").exists() && !dest.join("AppRun").exists());
        Ok(())
    }

    #[test]
    fn never_writes_through_a_symlink() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let Some(img) = image(tmp.path(), b"")? else {
            return Ok(());
        };
        let (dest, outside) = (tmp.path().join("out"), tmp.path().join("outside"));
        fs::create_dir_all(&dest)?;
        fs::create_dir_all(&outside)?;
        symlink(&outside, dest.join("usr"))?; // planted by someone else
        assert!(extract(&img, 0, &dest, None, false).is_err());
        assert_eq!(fs::read_dir(&outside)?.count(), 0);
        Ok(())
    }

    #[test]
    fn truncated_or_corrupted_image_is_an_error() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let Some(img) = image(tmp.path(), &[0u8; 512])? else {
            return Ok(());
        };
        let full = fs::read(&img)?;
        let mut used = [0u8; 8];
        used.copy_from_slice(&full[512 + 40..512 + 48]);
        let end = 512 + usize::try_from(u64::from_le_bytes(used))?; // mksquashfs pads to 4 KiB
        let cut = tmp.path().join("cut.AppImage");
        for len in [0, 100, 600, end / 2, end - 1] {
            fs::write(&cut, &full[..len])?;
            let err = extract(&cut, 512, &tmp.path().join("x"), None, false);
            assert!(err.is_err(), "a {len}-byte image must fail");
        }
        // Same length, garbage after the superblock.
        let mut bad = full.clone();
        bad[512 + 96..].iter_mut().for_each(|b| *b ^= 0x5a);
        fs::write(&cut, &bad)?;
        let err = extract(&cut, 512, &tmp.path().join("y"), None, false);
        assert!(err.is_err(), "a scrambled image must fail");
        Ok(())
    }

    #[test]
    fn other_compression_is_refused_by_name() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let Some(img) = image_with(tmp.path(), b"", "xz")? else {
            return Ok(());
        };
        let err = extract(&img, 0, &tmp.path().join("out"), None, false)
            .err()
            .context("an xz image must be refused")?;
        assert!(err.to_string().contains("xz compression"), "{err}");
        Ok(())
    }

    #[test]
    fn rejects_unsafe_paths() {
        assert!(relative(Path::new("/usr/../../etc/passwd")).is_err());
        assert!(relative(Path::new("/a/./b")).is_ok()); // `.` components are dropped by Path
        assert_eq!(
            relative(Path::new("/usr/bin")).ok(),
            Some(PathBuf::from("usr/bin"))
        );
    }

    #[test]
    fn glob_is_fnmatch_pathname_leading_dir() {
        assert!(glob(b"usr", b"usr/bin/x"));
        assert!(glob(b"*.desktop", b"pim-tray.desktop"));
        assert!(!glob(
            b"*.desktop",
            b"usr/share/applications/pim-tray.desktop"
        ));
        assert!(glob(b"usr/*/pim", b"usr/bin/pim"));
        assert!(!glob(b"us", b"usr"));
        assert!(!glob(b"?", b"/"));
    }
}
