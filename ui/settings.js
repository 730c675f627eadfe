import { closeWindow, errorText, getSettings, saveSettings } from './ipc.js';

const $ = (id) => document.getElementById(id);
const fields = ['clientId', 'authorityHost', 'graphEndpoint', 'armEndpoint'];
let current = null;

function show(s) {
  current = s;
  $('accounts').textContent = s.accounts.length ? `Signed in: ${s.accounts.join(', ')}` : 'Not signed in';
  $('reminders').value = s.reminderMinutes.join(', ');
  $('duration').value = String(s.defaultDurationMinutes);
  $('launch').checked = s.launchAtLogin;
  $('theme').value = s.iconTheme;
  $('cloud').value = s.cloud;
  for (const f of fields) $(f).value = s[f];
}

async function save(ev) {
  ev.preventDefault();
  const next = {
    ...current,
    reminderMinutes: $('reminders').value.split(/[,\s]+/).filter(Boolean).map(Number),
    defaultDurationMinutes: Number($('duration').value),
    launchAtLogin: $('launch').checked,
    iconTheme: $('theme').value,
    cloud: $('cloud').value,
  };
  for (const f of fields) next[f] = $(f).value;
  try {
    show(await saveSettings(next));
    $('status').textContent = 'Saved. Endpoint and client changes apply at the next start.';
    $('status').className = 'ok';
  } catch (e) {
    $('status').textContent = errorText(e);
    $('status').className = 'error';
  }
}

window.addEventListener('DOMContentLoaded', async () => {
  $('form').addEventListener('submit', save);
  $('close').addEventListener('click', () => closeWindow());
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closeWindow(); });
  try { show(await getSettings()); } catch (e) { $('status').textContent = errorText(e); $('status').className = 'error'; }
});
