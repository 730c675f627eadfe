// @ts-check
// A bundle's window: the combined requirements of its roles, one request for all, then a
// line per role with its outcome, and "Retry failed" for only the roles that failed. Text is
// only ever set as textContent.
import { getBundleForm, activateBundle, closeWindow, errorText } from './ipc.js';

/** @typedef {import('./ipc-types').BundleFormDto} BundleFormDto */
/** @typedef {import('./ipc-types').BundleRoleResultDto} BundleRoleResultDto */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
const name = new URLSearchParams(location.search).get('name') || '';
/** @type {BundleFormDto | null} */
let form = null;
/** @type {string[]} */
let failed = [];
/** Each role's latest outcome: a retry of the failed ones keeps the others' lines.
 * @type {Map<string, BundleRoleResultDto>} */
const outcomes = new Map();

/** @param {number} m */
function text(m) {
  const h = Math.floor(m / 60), r = m % 60;
  return h && r ? `${h} h ${r} min` : h ? `${h} h` : `${r} min`;
}

/** Each role's line: its title, then its latest outcome once sent. */
function renderRoles() {
  if (!form) return;
  $('roles').replaceChildren(...form.roles.map((role) => {
    const li = document.createElement('li');
    const r = outcomes.get(role.key);
    const state = r ? (r.outcome === 'failed' ? `failed: ${r.message}` : r.outcome)
      : role.found ? '' : 'no longer eligible';
    li.textContent = state ? `${role.title} — ${state}` : role.title;
    li.dataset.key = role.key;
    li.className = r ? r.outcome : role.found ? '' : 'failed';
    return li;
  }));
}

/** @param {BundleFormDto} f */
function render(f) {
  form = f;
  $('name').textContent = `Bundle ${f.name}`;
  renderRoles();
  const p = f.policy, items = [];
  if (!p.known) items.push('Some policies could not be read; the service checks the request when you send it.');
  items.push(`Up to ${text(p.maxDurationMinutes)} (the shortest maximum of the roles).`);
  if (p.justification) items.push('A justification is required.');
  if (p.ticket) items.push('A ticket number and system are required.');
  if (p.mfa || p.authenticationContext) items.push('Additional verification: your browser may ask you to verify.');
  if (p.approval) items.push('Some roles need an approver: they will be pending.');
  $('policy').replaceChildren(...items.map((t) => { const li = document.createElement('li'); li.textContent = t; return li; }));
  input('justification').value = f.justification;
  input('justification').required = p.justification;
  $('justification-hint').textContent = p.justification ? '(required)' : '(optional)';
  $('ticket-row').classList.toggle('hidden', !p.ticket);
  input('ticketNumber').required = p.ticket;
  input('ticketSystem').required = p.ticket;
  input('ticketSystem').value = f.ticketSystem;
  const sel = /** @type {HTMLSelectElement} */ ($('duration'));
  const steps = [30, 60, 90, 120, 180, 240, 360, 480, 720, 1440].filter((m) => m < p.maxDurationMinutes);
  steps.push(p.maxDurationMinutes);
  sel.replaceChildren(...steps.map((m) => { const o = document.createElement('option'); o.value = String(m); o.textContent = text(m); return o; }));
  sel.value = String(steps.includes(f.durationMinutes) ? f.durationMinutes : steps[steps.length - 1]);
  $('duration-hint').textContent = `(max ${text(p.maxDurationMinutes)})`;
}

/** @param {string[] | null} only */
async function send(only) {
  const submit = /** @type {HTMLButtonElement} */ ($('submit'));
  submit.disabled = true;
  $('retry').classList.add('hidden');
  $('status').textContent = 'Sending…';
  $('status').className = '';
  try {
    const results = await activateBundle({
      name,
      justification: input('justification').value,
      ticketNumber: input('ticketNumber').value,
      ticketSystem: input('ticketSystem').value,
      durationMinutes: Number(/** @type {HTMLSelectElement} */ ($('duration')).value),
      only,
    });
    if (!only) outcomes.clear();
    for (const r of results) outcomes.set(r.key, r);
    renderRoles();
    failed = results.filter((r) => r.outcome === 'failed').map((r) => r.key);
    if (failed.length) {
      $('status').textContent = `${failed.length} of ${results.length} failed; the others are as listed.`;
      $('status').className = 'error';
      $('retry').classList.remove('hidden');
      submit.disabled = false;
    } else {
      $('status').textContent = 'Done: every role is active, pending or scheduled.';
      $('status').className = 'ok';
      document.title = `Done: Bundle ${name}`;
      submit.classList.add('hidden');
      $('close').focus();
    }
  } catch (e) {
    $('status').textContent = errorText(e);
    $('status').className = 'error';
    submit.disabled = false;
  }
}

window.addEventListener('DOMContentLoaded', async () => {
  $('form').addEventListener('submit', (e) => { e.preventDefault(); send(null); });
  $('retry').addEventListener('click', () => send(failed));
  $('close').addEventListener('click', () => closeWindow());
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') closeWindow();
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) /** @type {HTMLFormElement} */ ($('form')).requestSubmit();
  });
  try {
    render(await getBundleForm(name));
  } catch (e) {
    $('name').textContent = 'Cannot open the bundle';
    $('status').textContent = errorText(e);
    $('status').className = 'error';
    /** @type {HTMLButtonElement} */ ($('submit')).disabled = true;
  }
});
