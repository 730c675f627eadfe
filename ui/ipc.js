// The only bridge between the pages and Rust. Shapes mirror src-tauri/src/dto.rs.
//
// @typedef {{key:string, kind:'entraRole'|'group'|'azureResource', name:string, scope:?string, title:string}} RoleDto
// @typedef {{known:boolean, maxDurationMinutes:number, justification:boolean, ticket:boolean, mfa:boolean,
//            authenticationContext:?string, approval:boolean}} PolicyDto
// @typedef {{role:RoleDto, policy:PolicyDto, justification:string, ticketSystem:string, durationMinutes:number,
//            demo:boolean}} ActivationFormDto
// @typedef {{roleKey:string, justification:string, ticketNumber:string, ticketSystem:string,
//            durationMinutes:number, startAt:?string}} ActivateRoleRequest
// @typedef {{state:'active'|'pending'|'scheduled', message:string}} ActivateRoleResponse
// @typedef {{reminderMinutes:number[], defaultDurationMinutes:number, launchAtLogin:boolean, cloud:string,
//            clientId:string, authorityHost:string, graphEndpoint:string, armEndpoint:string,
//            iconTheme:'auto'|'dark'|'light', accounts:string[]}} SettingsDto
// @typedef {{id:string, name:string, domain:?string, home:boolean, shown:boolean}} TenantChoiceDto
// @typedef {{key:string, upn:string, cloud:'public'|'usgov'|'china', azureCli:boolean, current:boolean,
//            tenants:TenantChoiceDto[]}} AccountDto
// @typedef {{code:string, message:string}} IpcError

function invoke(cmd, args) {
  return window.__TAURI__.core.invoke(cmd, args);
}

/** @returns {Promise<ActivationFormDto>} */
export const getActivationForm = (roleKey) => invoke('get_activation_form', { roleKey });
/** @returns {Promise<ActivateRoleResponse>} */
export const activateRole = (request) => invoke('activate_role', { request });
/** What the running activation waits for (e.g. a step-up in the browser), or null; answers
 * when it differs from `seen`. @returns {Promise<?string>} */
export const activationProgress = (seen) => invoke('activation_progress', { seen });
/** @returns {Promise<SettingsDto>} */
export const getSettings = () => invoke('get_settings', {});
/** @returns {Promise<SettingsDto>} */
export const saveSettings = (settings) => invoke('save_settings', { settings });
/** @returns {Promise<AccountDto[]>} */
export const getAccounts = () => invoke('get_accounts', {});
/** Makes the account the default (the tray shows it). @returns {Promise<AccountDto[]>} */
export const useAccount = (key) => invoke('use_account', { key });
/** Signs the account out. @returns {Promise<AccountDto[]>} */
export const removeAccount = (key) => invoke('remove_account', { key });
/** Adds an account through the browser (cloud: public|usgov|china|custom), or the Azure CLI's
 * sign-in (azure-cli). @returns {Promise<AccountDto[]>} */
export const addAccount = (cloud) => invoke('add_account', { cloud });
/** Shows or hides a tenant of an account in the tray. @returns {Promise<AccountDto[]>} */
export const setTenantShown = (key, tenantId, shown) => invoke('set_tenant_shown', { key, tenantId, shown });
export const closeWindow = () => invoke('close_window', {});

/** What to do about an error, by code (never by message text). */
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

export function errorText(err) {
  if (err && typeof err === 'object' && 'message' in err) {
    const a = advice(err);
    return a ? `${err.message} ${a}` : err.message;
  }
  return String(err);
}
