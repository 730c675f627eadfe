import {
  addAccount, closeWindow, errorText, getAccounts, getBundles, getSettings, removeAccount, removeBundle,
  saveActiveBundle, saveSettings, setTenantShown, updateBundle, useAccount,
} from './ipc.js';

const $ = (id) => document.getElementById(id);
const fields = ['clientId', 'authorityHost', 'graphEndpoint', 'armEndpoint'];
let current = null;
// Whether the header already follows the account list (getAccounts answered); getSettings'
// names are then older and must not overwrite it.
let listShown = false;

function header(upns) {
  $('accounts').textContent = upns.length ? `Signed in: ${upns.join(', ')}` : 'Not signed in';
}

function show(s) {
  current = s;
  if (!listShown) header(s.accounts || []);
  $('reminders').value = s.reminderMinutes.join(', ');
  $('duration').value = String(s.defaultDurationMinutes);
  $('launch').checked = s.launchAtLogin;
  $('theme').value = s.iconTheme;
  $('cloud').value = s.cloud;
  for (const f of fields) $(f).value = s[f];
}

const clouds = { public: 'public cloud', usgov: 'US Government', china: 'China' };

function accountStatus(msg, kind) {
  $('account-status').textContent = msg;
  $('account-status').className = kind || '';
}

function showAccounts(list) {
  listShown = true;
  // The header follows the list: the default account first, then the others in list order.
  header([...list.filter((a) => a.current), ...list.filter((a) => !a.current)].map((a) => a.upn));
  const ul = $('account-list');
  ul.replaceChildren(...list.map((a) => {
    const li = document.createElement('li');
    li.dataset.upn = a.upn;
    const row = document.createElement('div');
    row.className = 'account-row';
    li.appendChild(row);
    const name = document.createElement('span');
    name.className = 'account-name';
    name.textContent = `${a.upn} · ${clouds[a.cloud] || a.cloud}${a.azureCli ? ' · Azure CLI' : ''}`
      + `${a.current ? ' · default' : ''}`;
    row.appendChild(name);
    if (!a.current) {
      const use = document.createElement('button');
      use.type = 'button';
      use.className = 'make-default';
      use.textContent = 'Make default';
      use.addEventListener('click', () => act(() => useAccount(a.key), `${a.upn} is the default account.`));
      row.appendChild(use);
    }
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.className = 'remove';
    rm.textContent = 'Remove';
    rm.addEventListener('click', () => act(() => removeAccount(a.key), `${a.upn} was signed out.`));
    row.appendChild(rm);
    if (a.tenants.length) li.appendChild(tenantChoice(a));
    return li;
  }));
  if (!list.length) {
    const li = document.createElement('li');
    li.textContent = 'No account yet.';
    ul.appendChild(li);
  }
}

// The account's tenants, each with a check box: checked tenants are read and shown in the
// tray, unchecked ones are hidden (saved with the account; `pim tenants` shares the choice).
function tenantChoice(a) {
  const box = document.createElement('div');
  box.className = 'tenants';
  const caption = document.createElement('span');
  caption.className = 'hint';
  caption.textContent = 'Tenants shown in the tray:';
  box.appendChild(caption);
  const ul = document.createElement('ul');
  for (const t of a.tenants) {
    const li = document.createElement('li');
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.className = 'inline tenant-shown';
    input.checked = t.shown;
    input.dataset.tenant = t.id;
    input.addEventListener('change', () => {
      const shown = input.checked;
      act(() => setTenantShown(a.key, t.id, shown),
        shown ? `${t.name} is shown in the tray.` : `${t.name} is hidden from the tray.`);
    });
    label.append(input, `${t.name}${t.domain ? ` · ${t.domain}` : ''}${t.home ? ' · home' : ''}`);
    li.appendChild(label);
    ul.appendChild(li);
  }
  box.appendChild(ul);
  return box;
}

// The bundle being edited (its name), if any.
let editing = null;

function bundleStatus(msg, kind) {
  $('bundle-status').textContent = msg;
  $('bundle-status').className = kind || '';
}

// The bundles (`pim bundle save` and this window keep them): each with its roles and Remove.
function showBundles(list) {
  $('bundle-list').replaceChildren(...list.map((b) => {
    const li = document.createElement('li');
    li.dataset.name = b.name;
    const row = document.createElement('div');
    row.className = 'account-row';
    const name = document.createElement('span');
    name.className = 'account-name';
    name.textContent = `${b.name} · ${b.roles.length} role${b.roles.length === 1 ? '' : 's'}`;
    name.title = b.roles.join('\n');
    row.appendChild(name);
    const ed = document.createElement('button');
    ed.type = 'button';
    ed.className = 'edit';
    ed.textContent = 'Edit';
    ed.addEventListener('click', () => {
      editing = b.name;
      $('bundle-edit-name').textContent = b.name;
      $('bundle-reason').value = b.reason;
      $('bundle-ticket-system').value = b.ticketSystem;
      $('bundle-duration').value = b.durationMinutes === null ? '' : String(b.durationMinutes);
      $('bundle-edit').classList.remove('hidden');
      $('bundle-reason').focus();
    });
    row.appendChild(ed);
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.className = 'remove';
    rm.textContent = 'Remove';
    rm.addEventListener('click', () => bundleAct(() => removeBundle(b.name), `${b.name} was removed.`));
    row.appendChild(rm);
    li.appendChild(row);
    return li;
  }));
  if (!list.length) {
    const li = document.createElement('li');
    li.className = 'hint';
    li.textContent = 'None yet: save the roles active now, or use `pim bundle save`.';
    $('bundle-list').appendChild(li);
  }
}

async function bundleAct(call, done) {
  bundleStatus('Working…');
  try {
    showBundles(await call());
    bundleStatus(done, 'ok');
  } catch (e) {
    bundleStatus(errorText(e), 'error');
  }
}

const controls = '#account-list button, #account-list input, #add-account';

async function act(call, done) {
  accountStatus('Working…');
  for (const b of document.querySelectorAll(controls)) b.disabled = true;
  try {
    showAccounts(await call());
    accountStatus(done, 'ok');
  } catch (e) {
    accountStatus(errorText(e), 'error');
    // Show the list as it really is (e.g. a check box the engine refused to change).
    getAccounts().then(showAccounts, () => {});
  } finally {
    for (const b of document.querySelectorAll(controls)) b.disabled = false;
  }
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
  $('add-account').addEventListener('click', () => {
    const where = $('new-cloud').value;
    accountStatus(where === 'azure-cli' ? 'Asking the Azure CLI who is signed in…'
      : 'Complete the sign-in in your browser…');
    act(() => addAccount(where), 'Account added.');
  });
  getAccounts().then(showAccounts, (e) => accountStatus(errorText(e), 'error'));
  getBundles().then(showBundles, (e) => bundleStatus(errorText(e), 'error'));
  $('bundle-update').addEventListener('click', () => {
    const d = $('bundle-duration').value.trim();
    const name = editing;
    bundleAct(() => updateBundle({
      name,
      reason: $('bundle-reason').value,
      ticketSystem: $('bundle-ticket-system').value,
      durationMinutes: d === '' ? null : Number(d),
    }), `${name} was changed.`);
  });
  $('save-bundle').addEventListener('click', () => {
    const name = $('bundle-name').value.trim();
    bundleAct(() => saveActiveBundle(name), `The active roles were saved as ${name}.`);
  });
  try { show(await getSettings()); } catch (e) { $('status').textContent = errorText(e); $('status').className = 'error'; }
});
