//! `appimage-runtime`: a small AppImage type-2 runtime (see README.md).
//!
//! The file is this ELF followed by a squashfs image holding an AppDir. Run without
//! `--appimage-*` options it mounts the image with `squashfuse` and runs `AppRun` from it, or,
//! without FUSE, extracts it to a private temporary directory, runs `AppRun` and deletes the copy.

#[cfg(target_os = "linux")]
mod elf;
#[cfg(target_os = "linux")]
mod extract;
#[cfg(target_os = "linux")]
mod runtime;

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    runtime::main()
}

/// Builds elsewhere so that workspace-wide checks for other targets pass; does nothing useful.
#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("appimage-runtime: an AppImage runtime runs on Linux only");
    std::process::ExitCode::FAILURE
}
