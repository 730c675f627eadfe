fn main() {
    // Our commands get `allow-<command>` permissions; capabilities/default.json grants exactly
    // these to our windows and nothing else.
    let manifest = tauri_build::AppManifest::new().commands(&[
        "get_activation_form",
        "activate_role",
        "activation_progress",
        "get_settings",
        "save_settings",
        "get_accounts",
        "use_account",
        "remove_account",
        "add_account",
        "set_tenant_shown",
        "close_window",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build step");
}
