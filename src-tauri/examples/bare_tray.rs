//! A bare Tauri tray app, the baseline of `e2e/bench.sh`: the same crate, config and build
//! profile as pim-tray, but only a tray icon with a two-item menu: no plugins, no engine, no
//! simulator, no windows.
#![allow(clippy::expect_used)]

use tauri::RunEvent;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;

fn main() {
    tauri::Builder::default()
        .setup(|app| {
            let hello = MenuItem::with_id(app, "hello", "Hello", true, None::<&str>)?;
            let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
            let menu = Menu::with_items(app, &[&hello, &quit])?;
            TrayIconBuilder::with_id("bare")
                .icon(Image::from_bytes(include_bytes!(
                    "../../icons/tray/idle-dark.png"
                ))?)
                .menu(&menu)
                .on_menu_event(|app, event| {
                    if event.id() == "quit" {
                        app.exit(0);
                    }
                })
                .build(app)?;
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the bare tray app builds")
        .run(|_app, event| {
            if let RunEvent::ExitRequested {
                code: None, api, ..
            } = event
            {
                api.prevent_exit();
            }
        });
}
