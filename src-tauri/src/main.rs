//! `pim-tray`: the tray app. `pim-tray --demo` runs it against the embedded simulator.
#![cfg_attr(
    all(not(debug_assertions), target_os = "windows"),
    windows_subsystem = "windows"
)]

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--window") {
        // A window process started by the tray (see window_host.rs).
        if let Some(why) = pim_tray::windows::webview_unavailable() {
            eprintln!("pim-tray window: {why}");
            return std::process::ExitCode::FAILURE;
        }
        // What to show comes on stdin, not argv (role keys are nobody else's business).
        let Some(window) = pim_tray::window_host::WindowArgs::from_stdin() else {
            eprintln!("pim-tray: bad --window arguments on stdin");
            return std::process::ExitCode::from(2);
        };
        return match pim_tray::window_host::run_child(window) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pim-tray window: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let mut options = pim_tray::RunOptions::default();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--demo" => options.demo = true,
            "--version" | "-V" => {
                println!("pim-tray {}", env!("CARGO_PKG_VERSION"));
                return std::process::ExitCode::SUCCESS;
            }
            "--help" | "-h" => {
                println!(
                    "pim-tray [--demo]\n\n  --demo   start the embedded simulator (demo tenants Contoso and Fabrikam),\n           sign in to it automatically, and print PIM_SIM_READY <base URL>\n\nSettings and logs live in PIM_CONFIG_DIR (default: the platform's config folder)."
                );
                return std::process::ExitCode::SUCCESS;
            }
            other => {
                eprintln!("pim-tray: unknown argument `{other}` (try --help)");
                return std::process::ExitCode::from(2);
            }
        }
    }
    match pim_tray::run(options) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pim-tray: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
