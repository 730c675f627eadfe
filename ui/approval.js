// @ts-check
// A request waiting for my approval: who asks for what, where, why and for how long; my
// justification; Approve or Deny (a denial says why). One decision, sent once. Text is only
// ever set as textContent.
import { getApproval, decideApproval, closeWindow, errorText } from './ipc.js';

/** @typedef {import('./ipc-types').ApprovalDto} ApprovalDto */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const button = (/** @type {string} */ id) => /** @type {HTMLButtonElement} */ (document.getElementById(id));
const justification = /** @type {HTMLTextAreaElement} */ (document.getElementById('justification'));
const id = new URLSearchParams(location.search).get('id') || '';
/** @type {ApprovalDto | null} */
let request = null;

/** @param {number} m */
function text(m) {
  const h = Math.floor(m / 60), r = m % 60;
  return h && r ? `${h} h ${r} min` : h ? `${h} h` : `${r} min`;
}

/** A time in the user's zone, with its date. @param {string} iso */
function when(iso) {
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

/** @param {any} e */
function say(e) {
  // "No longer waits for you" says all there is to say; other errors get their advice.
  $('status').textContent = e && e.code === 'notFound' ? e.message : errorText(e);
  $('status').className = 'error';
}

/** @param {ApprovalDto} r */
function render(r) {
  request = r;
  $('title').textContent = `${r.requester} asks for ${r.name}`;
  document.title = `Approve or deny: ${r.requester} — ${r.name}`;
  $('sub').textContent = r.actionable
    ? `Waiting for your decision${r.stage ? ` (${r.stage})` : ''}.`
    : `Not yours to decide yet: it waits for ${r.waitingFor || 'another approver'}.`;
  /** @type {[string, string][]} */
  const rows = [
    ['Requester', r.requesterUpn ? `${r.requester} (${r.requesterUpn})` : r.requester],
    ['Role', r.name],
    ['Scope', r.scope],
    ['Tenant', r.tenantName],
    ['Justification', r.justification || '—'],
    ['Ticket', r.ticket || '—'],
    ['Duration', r.durationMinutes != null ? text(r.durationMinutes) : 'as the policy allows'],
    ['Starts', r.start ? when(r.start) : 'when approved'],
    ['Asked', r.createdAt ? when(r.createdAt) : '—'],
    ['You decide as', r.approver],
  ];
  $('details').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dd.dataset.field = k.toLowerCase();
    return [dt, dd];
  }));
  button('approve').disabled = !r.actionable;
  button('deny').disabled = !r.actionable;
}

/** @param {'approve' | 'deny'} decision */
async function send(decision) {
  if (!request) return;
  if (decision === 'deny' && !justification.value.trim()) {
    $('status').textContent = 'Say why you deny the request: the requester sees your justification.';
    $('status').className = 'error';
    justification.focus();
    return;
  }
  button('approve').disabled = true;
  button('deny').disabled = true;
  $('status').textContent = 'Sending…';
  $('status').className = '';
  try {
    const done = await decideApproval({ id, decision, justification: justification.value });
    $('status').textContent = done === 'approved'
      ? `Approved: ${request.requester} gets ${request.name} (once every stage approves).`
      : `Denied: ${request.requester} is told your justification.`;
    $('status').className = 'ok';
    document.title = `Done: ${done} — ${request.requester}`;
    button('approve').classList.add('hidden');
    button('deny').classList.add('hidden');
    justification.disabled = true;
    button('close').focus();
  } catch (e) {
    say(e);
    // Sent once: a refusal stays on screen; the buttons come back only for input errors.
    const again = /** @type {any} */ (e)?.code === 'invalidInput' || /** @type {any} */ (e)?.code === 'policyViolation';
    button('approve').disabled = !again;
    button('deny').disabled = !again;
  }
}

window.addEventListener('DOMContentLoaded', async () => {
  $('form').addEventListener('submit', (e) => { e.preventDefault(); send('approve'); });
  $('deny').addEventListener('click', () => send('deny'));
  $('close').addEventListener('click', () => closeWindow());
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') closeWindow();
  });
  try {
    render(await getApproval(id));
  } catch (e) {
    $('title').textContent = 'This request no longer waits for you';
    say(e);
    button('approve').disabled = true;
    button('deny').disabled = true;
  }
});
