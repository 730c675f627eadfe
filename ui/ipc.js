// @ts-check
// The only bridge between the pages and Rust. The types are generated from the Rust ones
// (ipc-types.d.ts, from src-tauri/src/ipc_calls.rs and dto.rs); `.ci/test.sh` type-checks
// this file against them, so a command name, an argument or an answer shape that differs
// from Rust's fails CI.

/** @typedef {import('./ipc-types').IpcCalls} IpcCalls */
/** @typedef {import('./ipc-types').ActivateRoleRequest} ActivateRoleRequest */
/** @typedef {import('./ipc-types').SettingsDto} SettingsDto */

/**
 * @template {keyof IpcCalls} K
 * @param {K} cmd
 * @param {IpcCalls[K]['args']} args
 * @returns {Promise<IpcCalls[K]['ok']>}
 */
function invoke(cmd, args) {
  // @ts-ignore: Tauri's global (withGlobalTauri), not typed here.
  return window.__TAURI__.core.invoke(cmd, args);
}

/** @param {string} roleKey */
export const getActivationForm = (roleKey) => invoke('get_activation_form', { roleKey });
/** @param {ActivateRoleRequest} request */
export const activateRole = (request) => invoke('activate_role', { request });
/** What the running activation waits for (e.g. a step-up in the browser), or null; answers
 * when it differs from `seen`. @param {?string} seen */
export const activationProgress = (seen) => invoke('activation_progress', { seen });
export const getSettings = () => invoke('get_settings', {});
/** @param {SettingsDto} settings */
export const saveSettings = (settings) => invoke('save_settings', { settings });
export const getAccounts = () => invoke('get_accounts', {});
/** Makes the account the default (the tray shows it). @param {string} key */
export const useAccount = (key) => invoke('use_account', { key });
/** Signs the account out. @param {string} key */
export const removeAccount = (key) => invoke('remove_account', { key });
/** Adds an account through the browser (cloud: public|usgov|china|custom), or the Azure CLI's
 * sign-in (azure-cli). @param {string} cloud */
export const addAccount = (cloud) => invoke('add_account', { cloud });
/** Shows or hides a tenant of an account in the tray.
 * @param {string} key @param {string} tenantId @param {boolean} shown */
export const setTenantShown = (key, tenantId, shown) => invoke('set_tenant_shown', { key, tenantId, shown });
/** My requests of the last `days` days, newest first. @param {number} days */
export const getHistory = (days) => invoke('get_history', { days });
/** Saves the CSV of the last `days` days in the Downloads folder; answers where. @param {number} days */
export const exportHistory = (days) => invoke('export_history', { days });
/** Stars or unstars a role (the menu's Favourites); answers whether it is starred.
 * @param {string} roleKey @param {boolean} favourite */
export const setFavourite = (roleKey, favourite) => invoke('set_favourite', { roleKey, favourite });
/** What a bundle's window shows. @param {string} name */
export const getBundleForm = (name) => invoke('get_bundle_form', { name });
/** Activates a bundle's roles (or only `only`). @param {import('./ipc-types').ActivateBundleRequest} request */
export const activateBundle = (request) => invoke('activate_bundle', { request });
export const getBundles = () => invoke('get_bundles', {});
/** @param {string} name */
export const removeBundle = (name) => invoke('remove_bundle', { name });
/** Changes a bundle's reason, ticket system and duration. @param {import('./ipc-types').BundleEditDto} edit */
export const updateBundle = (edit) => invoke('update_bundle', { edit });
/** Saves the roles active now as a bundle. @param {string} name */
export const saveActiveBundle = (name) => invoke('save_active_bundle', { name });
/** A request of the approver's inbox, as the decision window shows it. @param {string} id */
export const getApproval = (id) => invoke('get_approval', { id });
/** Approves or denies a request; answers `approved` or `denied`.
 * @param {import('./ipc-types').DecideApprovalRequest} request */
export const decideApproval = (request) => invoke('decide_approval', { request });
export const closeWindow = () => invoke('close_window', {});

/** What to do about an error, by code (never by message text). */
/** @param {any} err */
export function advice(err) {
  const code = err && err.code;
  switch (code) {
    case 'signInRequired': return 'Sign in again from the tray menu, then retry.';
    case 'stepUpRequired': return 'Additional verification is needed: complete it in the browser window, then retry.';
    case 'policyViolation': return 'Adjust the request to fit the role\'s policy.';
    case 'throttled': return 'The service is busy: wait a moment and retry.';
    case 'transport': return 'Check your network connection and retry.';
    case 'notFound': return 'The role changed meanwhile: close this window and pick it again from the tray.';
    case 'invalidInput': return 'Correct the highlighted field.';
    case 'api': return 'If it keeps happening, ask your PIM administrator and quote the request-id.';
    case 'keychain': return 'Unlock your keychain (or sign in again), then retry.';
    case 'config': return 'Check the endpoints and client ID in Settings.';
    case 'browserUnavailable': return 'No browser could be opened: use "Sign in with a code…" from the tray menu.';
    case 'consentRequired':
    case 'adminConsentRequired':
    case 'appBlocked':
    case 'appNotFound':
    case 'invalidClient':
      return 'An administrator of your tenant must allow this app (see the README, App registration).';
    case 'conditionalAccessBlocked': return 'Your organisation\'s Conditional Access blocks this sign-in; try the browser sign-in or ask an administrator.';
    case 'signInDeclined': return 'The sign-in was declined; sign in again from the tray menu to retry.';
    case 'uncertain': return 'Refresh the tray menu to see whether it took effect before trying again.';
    default: return '';
  }
}

/** @param {any} err */
export function errorText(err) {
  if (err && typeof err === 'object' && 'message' in err) {
    const a = advice(err);
    return a ? `${err.message} ${a}` : err.message;
  }
  return String(err);
}
