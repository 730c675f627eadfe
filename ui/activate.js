import { activateRole, activationProgress, closeWindow, errorText, getActivationForm, setFavourite } from './ipc.js';

const $ = (id) => document.getElementById(id);
const roleKey = new URLSearchParams(location.search).get('role') || '';
let form = null;

function text(m) {
  const h = Math.floor(m / 60), r = m % 60;
  return h === 0 ? `${r} min` : r === 0 ? `${h} h` : `${h} h ${r} min`;
}

function setStatus(msg, kind) {
  const s = $('status');
  s.textContent = msg;
  s.className = kind || '';
}

function render(f) {
  form = f;
  document.title = `Activate ${f.role.title}${f.demo ? ' — Demo' : ''}`;
  $('role').textContent = f.role.title;
  if (f.demo) {
    const b = document.createElement('span');
    b.className = 'badge';
    b.textContent = 'Demo';
    $('role').appendChild(b);
  }
  const kinds = { entraRole: 'Entra role', group: 'Group', azureResource: 'Azure resource role' };
  $('scope').textContent = kinds[f.role.kind] + (f.role.scope ? ` · ${f.role.scope}` : ' · directory');
  const p = f.policy, items = [];
  if (!p.known) items.push('The policy could not be read; the service checks the request when you send it.');
  items.push(`Up to ${text(p.maxDurationMinutes)}.`);
  if (p.justification) items.push('A justification is required.');
  if (p.ticket) items.push('A ticket number and system are required.');
  if (p.mfa) items.push('Multi-factor authentication: your browser may ask you to verify.');
  if (p.authenticationContext) items.push(`Conditional Access authentication context “${p.authenticationContext}”: your browser may ask you to verify.`);
  if (p.approval) items.push('An approver must approve the request; you will be notified.');
  const ul = $('policy');
  ul.replaceChildren(...items.map((t) => { const li = document.createElement('li'); li.textContent = t; return li; }));
  $('justification').value = f.justification;
  // The last few justifications (any role): choosing one (mouse or keyboard) puts it in the box.
  const recent = $('recent');
  const blank = document.createElement('option');
  blank.value = '';
  blank.textContent = '—';
  recent.replaceChildren(blank, ...f.recentJustifications.map((j) => {
    const o = document.createElement('option');
    o.value = j;
    o.textContent = j.length > 80 ? j.slice(0, 79) + '…' : j;
    return o;
  }));
  $('recent-row').classList.toggle('hidden', f.recentJustifications.length === 0);
  $('justification').required = p.justification;
  $('justification-hint').textContent = p.justification ? '(required)' : '(optional)';
  $('ticket-row').classList.toggle('hidden', !p.ticket);
  $('ticketNumber').required = p.ticket;
  $('ticketSystem').required = p.ticket;
  $('ticketSystem').value = f.ticketSystem;
  const sel = $('duration');
  const steps = [30, 60, 90, 120, 180, 240, 360, 480, 720, 1440].filter((m) => m < p.maxDurationMinutes);
  steps.push(p.maxDurationMinutes);
  sel.replaceChildren(...steps.map((m) => {
    const o = document.createElement('option');
    o.value = String(m);
    o.textContent = text(m);
    return o;
  }));
  sel.value = String(steps.includes(f.durationMinutes) ? f.durationMinutes : steps[steps.length - 1]);
  $('duration-hint').textContent = `(max ${text(p.maxDurationMinutes)})`;
  $('favourite').checked = f.favourite;
  $('submit').textContent = p.approval ? 'Request' : 'Activate';
  $('justification').focus();
}

// While the activation runs, the tray says what it waits for (an MFA or authentication-context
// step-up in the browser). Each call returns when that changes, so this does not poll.
async function followProgress(run) {
  let seen = null;
  const lines = [];
  while (!run.done) {
    let m;
    try {
      m = await activationProgress(seen);
    } catch {
      return;
    }
    if (run.done) return;
    if (m && m !== seen) {
      lines.push(m);
      $('progress').textContent = lines.join(' ');
    }
    seen = m;
  }
}

async function submit(ev) {
  ev.preventDefault();
  if (!form) return;
  const start = $('start').value;
  const request = {
    roleKey,
    justification: $('justification').value,
    ticketNumber: $('ticketNumber').value,
    ticketSystem: $('ticketSystem').value,
    durationMinutes: Number($('duration').value),
    startAt: start ? new Date(start).toISOString() : null,
  };
  $('submit').disabled = true;
  setStatus('Sending…');
  $('progress').textContent = '';
  const run = { done: false };
  followProgress(run);
  try {
    const r = await activateRole(request).finally(() => { run.done = true; });
    setStatus(r.message, 'ok');
    document.title = `Done: ${form.role.title}`;
    $('submit').classList.add('hidden');
    $('close').focus();
  } catch (e) {
    setStatus(errorText(e), 'error');
    $('submit').disabled = false;
  }
}

window.addEventListener('DOMContentLoaded', async () => {
  $('form').addEventListener('submit', submit);
  $('recent').addEventListener('change', () => {
    const v = $('recent').value;
    if (v) $('justification').value = v;
  });
  $('close').addEventListener('click', () => closeWindow());
  // Starring takes effect at once (the menu's Favourites), whether or not the role is sent.
  $('favourite').addEventListener('change', async () => {
    const want = $('favourite').checked;
    try {
      $('favourite').checked = await setFavourite(roleKey, want);
    } catch (e) {
      $('favourite').checked = !want;
      setStatus(errorText(e), 'error');
    }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') closeWindow();
    // Ctrl+Enter (Cmd+Enter) sends from anywhere, including the justification box.
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('form').requestSubmit();
  });
  try {
    render(await getActivationForm(roleKey));
  } catch (e) {
    $('role').textContent = 'Cannot activate';
    setStatus(errorText(e), 'error');
    $('submit').disabled = true;
  }
});
