// The IPC surface, written once: every command the pages may call, its arguments (camelCase on
// the wire) and its answer. `ipc.rs` turns this list into the `Call` enum, the `Commands`
// trait the tray implements and the UI's types (`ui/ipc-types.d.ts`); `build.rs` into the
// commands' `allow-<command>` permissions, which `capabilities/default.json` grants.
ipc_calls! {
    /// What the activation window shows for a role.
    get_activation_form => GetActivationForm { role_key: String } -> ActivationFormDto;
    /// Sends an activation request.
    activate_role => ActivateRole { request: ActivateRoleRequest } -> ActivateRoleResponse;
    /// What the running activation waits for (e.g. a step-up in the browser), or null; answers
    /// when that differs from `seen`, else when it changes.
    activation_progress => ActivationProgress { seen: Option<String> } -> Option<String>;
    /// The settings.
    get_settings => GetSettings {} -> SettingsDto;
    /// Changes the settings; answers what was saved.
    save_settings => SaveSettings { settings: SettingsDto } -> SettingsDto;
    /// The saved accounts (the default first).
    get_accounts => GetAccounts {} -> Vec<AccountEntry>;
    /// Makes the account the default (the tray shows it).
    use_account => UseAccount { key: String } -> Vec<AccountEntry>;
    /// Signs the account out.
    remove_account => RemoveAccount { key: String } -> Vec<AccountEntry>;
    /// Adds an account through the browser (cloud: public, usgov, china, custom) or the Azure
    /// CLI's sign-in (azure-cli).
    add_account => AddAccount { cloud: String } -> Vec<AccountEntry>;
    /// Shows or hides a tenant of an account in the tray.
    set_tenant_shown => SetTenantShown { key: String, tenant_id: String, shown: bool } -> Vec<AccountEntry>;
    /// My requests of the last `days` days (1 to 365), newest first.
    get_history => GetHistory { days: u32 } -> HistoryDto;
    /// Saves the CSV of the last `days` days in the Downloads folder; answers where.
    export_history => ExportHistory { days: u32 } -> HistoryExportDto;
    /// Stars or unstars a role (the menu's Favourites); answers whether it is starred.
    set_favourite => SetFavourite { role_key: String, favourite: bool } -> bool;
    /// What a bundle's window shows: its roles and what they ask for together.
    get_bundle_form => GetBundleForm { name: String } -> BundleFormDto;
    /// Activates a bundle's roles (or only the failed ones again): a result per role.
    activate_bundle => ActivateBundle { request: ActivateBundleRequest } -> Vec<BundleRoleResultDto>;
    /// The saved bundles (Settings).
    get_bundles => GetBundles {} -> Vec<BundleSummaryDto>;
    /// Removes a bundle; answers the bundles left.
    remove_bundle => RemoveBundle { name: String } -> Vec<BundleSummaryDto>;
    /// Changes a bundle's reason, ticket system and duration; answers the bundles.
    update_bundle => UpdateBundle { edit: BundleEditDto } -> Vec<BundleSummaryDto>;
    /// Saves the activations now active as a bundle named `name`; answers the bundles.
    save_active_bundle => SaveActiveBundle { name: String } -> Vec<BundleSummaryDto>;
    /// A request of the approver's inbox, as the decision window shows it.
    get_approval => GetApproval { id: String } -> ApprovalDto;
    /// Approves or denies a request (a denial needs a justification); answers `approved` or
    /// `denied`.
    decide_approval => DecideApproval { request: DecideApprovalRequest } -> String;
    /// Closes the calling window (answered by the window's own process).
    close_window => CloseWindow {} -> ();
}
