/// Reads the command names from the one list of IPC calls (`src/ipc_calls.rs`, which the
/// crate turns into its `Call` enum).
macro_rules! ipc_calls {
    ($(
        $(#[$doc:meta])*
        $name:ident => $var:ident { $($field:ident : $ty:ty),* $(,)? } -> $ret:ty;
    )*) => {
        &[$(stringify!($name)),*]
    };
}

fn main() {
    // Our commands get `allow-<command>` permissions; capabilities/default.json grants exactly
    // these to our windows and nothing else (a unit test in `ipc.rs` checks it).
    let commands: &[&str] = include!("src/ipc_calls.rs");
    println!("cargo:rerun-if-changed=src/ipc_calls.rs");
    let manifest = tauri_build::AppManifest::new().commands(commands);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build step");
}
