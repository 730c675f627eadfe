// @ts-check
// The history window: my requests (every account and tenant), a text filter, and the CSV
// export (saved in the Downloads folder by the tray). Text is only ever set as textContent.
import { getHistory, exportHistory, closeWindow, errorText } from './ipc.js';

/** @typedef {import('./ipc-types').HistoryEntryDto} HistoryEntryDto */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {HistoryEntryDto[]} */
let entries = [];

/** @param {number | null} m */
function minutes(m) {
  if (m === null) return '';
  const h = Math.floor(m / 60), r = m % 60;
  return h && r ? `${h} h ${r} min` : h ? `${h} h` : `${r} min`;
}

/** @param {string} iso */
function when(iso) {
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** The words a row is found by. @param {HistoryEntryDto} e */
function haystack(e) {
  return [e.tenantName, e.tenantId, e.kind, e.name, e.scope, e.action, e.status, e.justification, e.ticket]
    .join(' ').toLowerCase();
}

function render() {
  const q = /** @type {HTMLInputElement} */ ($('filter')).value.trim().toLowerCase();
  const words = q.split(/\s+/).filter(Boolean);
  const shown = entries.filter((e) => words.every((w) => haystack(e).includes(w)));
  const rows = shown.map((e) => {
    const tr = document.createElement('tr');
    for (const text of [when(e.createdAt), e.tenantName, e.name, e.scope, e.action, e.status,
      minutes(e.durationMinutes), e.justification, e.ticket]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.appendChild(td);
    }
    return tr;
  });
  /** @type {HTMLElement} */ ($('history').querySelector('tbody')).replaceChildren(...rows);
  $('count').textContent = words.length
    ? `${shown.length} of ${entries.length} requests`
    : `${entries.length} requests`;
}

function days() {
  return Number(/** @type {HTMLSelectElement} */ ($('days')).value);
}

async function load() {
  $('count').textContent = 'Loading…';
  $('status').textContent = '';
  try {
    const h = await getHistory(days());
    entries = h.entries;
    $('warnings').replaceChildren(...h.warnings.map((w) => {
      const li = document.createElement('li');
      li.textContent = `⚠ ${w}`;
      return li;
    }));
    render();
  } catch (e) {
    entries = [];
    render();
    $('count').textContent = '';
    $('status').textContent = errorText(e);
    $('status').className = 'error';
  }
}

async function exportCsv() {
  const b = /** @type {HTMLButtonElement} */ ($('export'));
  b.disabled = true;
  try {
    const r = await exportHistory(days());
    $('status').textContent = `Saved ${r.count} requests to ${r.path}`;
    $('status').className = 'ok';
  } catch (e) {
    $('status').textContent = errorText(e);
    $('status').className = 'error';
  } finally {
    b.disabled = false;
  }
}

window.addEventListener('DOMContentLoaded', () => {
  $('filter').addEventListener('input', render);
  $('days').addEventListener('change', load);
  $('export').addEventListener('click', exportCsv);
  $('close').addEventListener('click', () => closeWindow());
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closeWindow(); });
  $('filter').focus();
  load();
});
