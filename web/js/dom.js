// Building the page without HTML strings. Everything that came from the
// server goes through text nodes (textContent): a log body, a span name or a
// flag description is shown as the characters it holds and can never become
// markup. There is deliberately no helper that takes HTML.

// h('a', {href, class, onclick}, child, …): children are nodes, strings
// (as text), numbers, arrays of those, or null/false (skipped).
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) add(el, k);
    else if (k instanceof Node) el.appendChild(k);
    else el.appendChild(document.createTextNode(String(k)));
  }
}

// Replaces the children of el.
export function put(el, ...kids) {
  el.replaceChildren();
  add(el, kids);
  return el;
}

// A table with a caption (for screen readers) from headers and rows of cells.
export function table(caption, headers, rows, empty = 'Nothing yet.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'scroll' }, h('table', {},
    h('caption', { class: 'sr' }, caption),
    h('thead', {}, h('tr', {}, headers.map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map(r => h('tr', {}, r.map(c => h('td', {}, c)))))));
}

export function section(title, ...kids) {
  const id = 'h-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), kids);
}

export function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || '') }, text);
}

export function fmtNum(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en');
  const s = Number(x).toFixed(digits);
  // trailing zeros of the fraction only: with digits 0, 100 stays 100
  return digits > 0 ? s.replace(/\.?0+$/, '') || '0' : s;
}

export function fmtPct(x) {
  return x === null || x === undefined ? '–' : fmtNum(x * 100, 2) + '%';
}

export function ago(iso) {
  const t = Date.parse(iso);
  if (!t) return '';
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 60) return Math.round(s) + 's ago';
  if (s < 3600) return Math.round(s / 60) + 'm ago';
  if (s < 86400) return Math.round(s / 3600) + 'h ago';
  return Math.round(s / 86400) + 'd ago';
}

export function toast(msg, bad) {
  const t = document.getElementById('toast');
  t.className = bad ? 'show bad' : 'show';
  t.textContent = msg;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ''; }, 4000);
}

// A labelled form control: label text, then the control.
export function field(label, control) {
  const id = control.id || ('f-' + Math.random().toString(36).slice(2, 9));
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control);
}

// A modal asking for a rationale before an action: resolves to the text, or
// null when cancelled. Extra nodes (a diff preview, a plan) go above the field.
export function askRationale(title, action, ...extra) {
  return new Promise(resolve => {
    const input = h('textarea', { rows: '3', required: true, name: 'rationale' });
    const dlg = h('dialog', { class: 'card', 'aria-labelledby': 'dlg-h' });
    const form = h('form', { method: 'dialog' },
      h('h2', { id: 'dlg-h' }, title), extra,
      field('Rationale (recorded in the audit log)', input),
      h('div', { class: 'row' },
        h('button', { type: 'submit', value: 'ok' }, action),
        h('button', { type: 'button', class: 'ghost', onclick: () => dlg.close('cancel') }, 'Cancel')));
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      if (!input.value.trim()) { input.focus(); return; }
      dlg.close('ok');
    });
    dlg.appendChild(form);
    dlg.addEventListener('close', () => {
      const ok = dlg.returnValue === 'ok';
      dlg.remove();
      resolve(ok ? input.value.trim() : null);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    input.focus();
  });
}
