// Generated from src-tauri's IPC types (src/ipc_calls.rs, src/dto.rs, pim-core's
// ErrorCode) by `UPDATE_IPC_TYPES=1 cargo test -p pim-tray --lib ipc`; do not edit.
// A test fails when this file is stale.

export type ErrorCode = "signInRequired" | "azureCliSignInRequired" | "stepUpRequired" | "policyViolation" | "invalidInput" | "notFound" | "ambiguous" | "throttled" | "api" | "transport" | "invalidResponse" | "config" | "keychain" | "browserUnavailable" | "notEligible" | "tooEarly" | "invalidState" | "uncertain" | "consentRequired" | "adminConsentRequired" | "appBlocked" | "appNotFound" | "conditionalAccessBlocked" | "invalidClient" | "signInDeclined" | "internal";
export type IpcError = { 
/**
 * Machine-readable code ([`pim_core::ErrorCode`]: the core's codes and `internal`); an
 * unknown name read from a window process's line is `internal`.
 */
code: ErrorCode, 
/**
 * What happened and what to do, for the user.
 */
message: string, };
export type RoleView = { 
/**
 * Key for later calls.
 */
key: string, 
/**
 * `entraRole`, `group` or `azureResource`.
 */
kind: "entraRole" | "group" | "azureResource", 
/**
 * Display name.
 */
name: string, 
/**
 * Human-readable scope, if any.
 */
scope: string | null, 
/**
 * Name with scope, as in the menu.
 */
title: string, };
export type PolicyView = { 
/**
 * False when the policy could not be read (403): the service decides at submit time.
 */
known: boolean, 
/**
 * Longest activation to offer, in minutes (the policy's maximum, or PIM's own day when
 * the policy is unknown: [`pim_core::ActivationForm`]).
 */
maxDurationMinutes: number, 
/**
 * A justification is required.
 */
justification: boolean, 
/**
 * Ticket number and system are required.
 */
ticket: boolean, 
/**
 * Multi-factor authentication is required.
 */
mfa: boolean, 
/**
 * Authentication context (conditional access) id required, e.g. `c1`.
 */
authenticationContext: string | null, 
/**
 * An approver must approve the request.
 */
approval: boolean, };
export type ActivationFormDto = { 
/**
 * The role.
 */
role: RoleView, 
/**
 * Its policy.
 */
policy: PolicyView, 
/**
 * Justification remembered for this role.
 */
justification: string, 
/**
 * Ticket system used last.
 */
ticketSystem: string, 
/**
 * The last few justifications (any role), newest first.
 */
recentJustifications: Array<string>, 
/**
 * Suggested duration (the default, capped by the policy).
 */
durationMinutes: number, 
/**
 * Demo mode.
 */
demo: boolean, 
/**
 * Starred: the menu lists it under *Favourites*.
 */
favourite: boolean, };
export type ActivateRoleRequest = { 
/**
 * Role key.
 */
roleKey: string, 
/**
 * Justification.
 */
justification: string, 
/**
 * Ticket number.
 */
ticketNumber: string, 
/**
 * Ticket system.
 */
ticketSystem: string, 
/**
 * Duration in minutes.
 */
durationMinutes: number, 
/**
 * Optional start (RFC 3339); empty or absent means now.
 */
startAt: string | null, };
export type ActivateRoleResponse = { 
/**
 * `active`, `pending` (awaiting approval) or `scheduled`.
 */
state: "active" | "pending" | "scheduled", 
/**
 * A sentence for the user.
 */
message: string, };
export type IconTheme = "auto" | "dark" | "light";
export type SettingsDto = { 
/**
 * Reminder times, minutes before the end.
 */
reminderMinutes: Array<number>, 
/**
 * Default duration in minutes.
 */
defaultDurationMinutes: number, 
/**
 * Launch at login.
 */
launchAtLogin: boolean, 
/**
 * Cloud.
 */
cloud: string, 
/**
 * Client id (empty: default).
 */
clientId: string, 
/**
 * Authority host override (empty: the cloud's).
 */
authorityHost: string, 
/**
 * Graph endpoint override.
 */
graphEndpoint: string, 
/**
 * ARM endpoint override.
 */
armEndpoint: string, 
/**
 * `auto`, `dark` or `light`.
 */
iconTheme: IconTheme, 
/**
 * Signed-in accounts (read-only: what a page sends here is ignored).
 */
accounts: Array<string>, };
export type TenantEntry = { 
/**
 * Tenant id (what `set_tenant_shown` takes).
 */
id: string, 
/**
 * Display name.
 */
name: string, 
/**
 * Default domain, when known.
 */
domain: string | null, 
/**
 * The account's home tenant.
 */
home: boolean, 
/**
 * Whether its roles are read and shown (not hidden by the user).
 */
shown: boolean, };
export type BundleRoleDto = { 
/**
 * The stable role key.
 */
key: string, 
/**
 * Title.
 */
title: string, 
/**
 * False when no open account has the role any more.
 */
found: boolean, };
export type BundleFormDto = { 
/**
 * The bundle's name.
 */
name: string, 
/**
 * Its roles.
 */
roles: Array<BundleRoleDto>, 
/**
 * What the roles found ask for together.
 */
policy: PolicyView, 
/**
 * The bundle's justification.
 */
justification: string, 
/**
 * The bundle's ticket system (else the one used last).
 */
ticketSystem: string, 
/**
 * Suggested duration in minutes.
 */
durationMinutes: number, 
/**
 * Demo mode.
 */
demo: boolean, };
export type ActivateBundleRequest = { 
/**
 * The bundle's name.
 */
name: string, 
/**
 * Justification.
 */
justification: string, 
/**
 * Ticket number.
 */
ticketNumber: string, 
/**
 * Ticket system.
 */
ticketSystem: string, 
/**
 * Duration in minutes.
 */
durationMinutes: number, 
/**
 * Only these role keys (a retry of the failed ones); all when absent.
 */
only: Array<string> | null, };
export type BundleRoleResultDto = { 
/**
 * The stable role key.
 */
key: string, 
/**
 * Title.
 */
title: string, 
/**
 * `active`, `pending`, `scheduled` or `failed`.
 */
outcome: "active" | "pending" | "scheduled" | "failed", 
/**
 * Why it failed, in words (empty otherwise).
 */
message: string, };
export type BundleSummaryDto = { 
/**
 * Name.
 */
name: string, 
/**
 * Its roles, as saved (`Title — scope (tenant)`).
 */
roles: Array<string>, 
/**
 * Justification sent unless another is given (empty: none).
 */
reason: string, 
/**
 * Ticket system (empty: none).
 */
ticketSystem: string, 
/**
 * Preferred duration in minutes (none: each role's default).
 */
durationMinutes: number | null, };
export type BundleEditDto = { 
/**
 * The bundle's name.
 */
name: string, 
/**
 * Justification (empty: none).
 */
reason: string, 
/**
 * Ticket system (empty: none).
 */
ticketSystem: string, 
/**
 * Preferred duration in minutes, 5 to 1440 (none: each role's default).
 */
durationMinutes: number | null, };
export type HistoryEntryDto = { 
/**
 * When it was asked (RFC 3339, UTC).
 */
createdAt: string, 
/**
 * Tenant id.
 */
tenantId: string, 
/**
 * Tenant name.
 */
tenantName: string, 
/**
 * `entraRole`, `group` or `azureResource`.
 */
kind: "entraRole" | "group" | "azureResource", 
/**
 * Role or group (with its access), as the menu names it.
 */
name: string, 
/**
 * Scope, in words.
 */
scope: string, 
/**
 * What was asked, in words (`activate`, `deactivate`, `extend`, …).
 */
action: string, 
/**
 * The service's status (`provisioned`, `denied`, …).
 */
status: string, 
/**
 * How long was asked for, in minutes (none when the request names no end).
 */
durationMinutes: number | null, 
/**
 * The justification given.
 */
justification: string, 
/**
 * The ticket (`system number`), if any.
 */
ticket: string, };
export type HistoryDto = { 
/**
 * The oldest time included (RFC 3339, UTC).
 */
since: string, 
/**
 * The requests, newest first.
 */
entries: Array<HistoryEntryDto>, 
/**
 * Tenants or lists that could not be read, in words.
 */
warnings: Array<string>, };
export type HistoryExportDto = { 
/**
 * The file written.
 */
path: string, 
/**
 * How many requests it holds.
 */
count: number, };
export type ApprovalDto = { 
/**
 * The id to decide it with.
 */
id: string, 
/**
 * `entraRole`, `group` or `azureResource`.
 */
kind: "entraRole" | "group" | "azureResource", 
/**
 * Role, or group with its access (`SQL Prod Admins (member)`).
 */
name: string, 
/**
 * Where (directory, group, subscription, resource group…), in words.
 */
scope: string, 
/**
 * Tenant name.
 */
tenantName: string, 
/**
 * The approver's account that sees it (its sign-in name).
 */
approver: string, 
/**
 * The requester's display name.
 */
requester: string, 
/**
 * The requester's sign-in name, when known.
 */
requesterUpn: string | null, 
/**
 * The requester's justification.
 */
justification: string, 
/**
 * The ticket (`system number`), if any.
 */
ticket: string, 
/**
 * Requested start (RFC 3339, UTC); none: as soon as approved.
 */
start: string | null, 
/**
 * Requested length in minutes, when said.
 */
durationMinutes: number | null, 
/**
 * When it was asked (RFC 3339, UTC).
 */
createdAt: string | null, 
/**
 * The stage assigned to me (its name), when it has one.
 */
stage: string | null, 
/**
 * Whether it waits for my decision now.
 */
actionable: boolean, 
/**
 * When not: whom it waits for.
 */
waitingFor: string | null, };
export type DecideApprovalRequest = { 
/**
 * The request's id.
 */
id: string, 
/**
 * `approve` or `deny`.
 */
decision: "approve" | "deny", 
/**
 * Why (required to deny).
 */
justification: string, };
export type AccountEntry = { 
/**
 * Stable key (cloud, client id, user, home tenant): what `use_account` and
 * `remove_account` take.
 */
key: string, 
/**
 * Sign-in name.
 */
upn: string, 
/**
 * `public`, `usgov` or `china` (custom endpoints keep their cloud's name).
 */
cloud: string, 
/**
 * Tokens come from the Azure CLI (Azure resource roles only).
 */
azureCli: boolean, 
/**
 * Whether the tray shows this account now (the default one).
 */
current: boolean, 
/**
 * The tenants the account reaches, home first (empty until its first refresh), each
 * shown in the tray or hidden by the user.
 */
tenants: Array<TenantEntry>, };
export type IpcCalls = {
  get_activation_form: { args: { roleKey: string }; ok: ActivationFormDto };
  activate_role: { args: { request: ActivateRoleRequest }; ok: ActivateRoleResponse };
  activation_progress: { args: { seen: string | null }; ok: string | null };
  get_settings: { args: {}; ok: SettingsDto };
  save_settings: { args: { settings: SettingsDto }; ok: SettingsDto };
  get_accounts: { args: {}; ok: Array<AccountEntry> };
  use_account: { args: { key: string }; ok: Array<AccountEntry> };
  remove_account: { args: { key: string }; ok: Array<AccountEntry> };
  add_account: { args: { cloud: string }; ok: Array<AccountEntry> };
  set_tenant_shown: { args: { key: string; tenantId: string; shown: boolean }; ok: Array<AccountEntry> };
  get_history: { args: { days: number }; ok: HistoryDto };
  export_history: { args: { days: number }; ok: HistoryExportDto };
  set_favourite: { args: { roleKey: string; favourite: boolean }; ok: boolean };
  get_bundle_form: { args: { name: string }; ok: BundleFormDto };
  activate_bundle: { args: { request: ActivateBundleRequest }; ok: Array<BundleRoleResultDto> };
  get_bundles: { args: {}; ok: Array<BundleSummaryDto> };
  remove_bundle: { args: { name: string }; ok: Array<BundleSummaryDto> };
  update_bundle: { args: { edit: BundleEditDto }; ok: Array<BundleSummaryDto> };
  save_active_bundle: { args: { name: string }; ok: Array<BundleSummaryDto> };
  get_approval: { args: { id: string }; ok: ApprovalDto };
  decide_approval: { args: { request: DecideApprovalRequest }; ok: string };
  close_window: { args: {}; ok: null };
};
