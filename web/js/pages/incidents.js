// Incidents: the list (#/incidents?status=open&severity=SEV1&service=db),
// the overview's open-incidents panel (worst severity first, with age and
// commander) and the public status page (/status or #/status), which reads
// /status.json without a token. The incident itself is pages/incident.js.
import { tryApi } from '../api.js';
import { h, put, section, table, badge, field, ago } from '../dom.js';
import * as stream from '../stream.js';

export const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'];
export const STATUSES = ['triggered', 'acknowledged', 'mitigated', 'resolved', 'reviewed'];

const SEV_KIND = { SEV1: 'bad', SEV2: 'bad', SEV3: 'warn', SEV4: '' };
const STATUS_KIND = { triggered: 'bad', acknowledged: 'warn', mitigated: 'warn', resolved: 'ok', reviewed: 'ok' };

export function sevBadge(s) { return badge(s || '?', SEV_KIND[s] || ''); }
export function statusBadge(s) { return badge(s || '?', STATUS_KIND[s] || ''); }

// 2026-12-05T22:20:30.527Z → "2026-12-05 22:20:30 UTC" (what people paste into a postmortem).
export function fmtTime(iso) {
  return String(iso || '').replace('T', ' ').replace(/\.\d+/, '').replace(/Z$/, ' UTC');
}

export function incidentLink(inc) {
  return h('a', { href: '#/incident/' + encodeURIComponent(inc.id) }, inc.id);
}

// Worst severity first, then the oldest.
function bySeverity(a, b) {
  return (a.severity || 'SEV9').localeCompare(b.severity || 'SEV9') || String(a.opened_at).localeCompare(String(b.opened_at));
}

function rows(list) {
  return list.map(i => [incidentLink(i), i.title || '', sevBadge(i.severity), statusBadge(i.status),
    i.service ? h('a', { href: '#/service/' + encodeURIComponent(i.service) }, i.service) : '',
    ago(i.opened_at).replace(/ ago$/, ''), i.commander || h('span', { class: 'muted' }, 'none')]);
}

const HEAD = ['Incident', 'Title', 'Severity', 'Status', 'Service', 'Age', 'Commander'];

// The overview panel: {node, refresh()}; an older server without incidents shows why.
export async function openPanel() {
  const r = await tryApi('/api/v1/incidents', { query: { status: 'open' } });
  const list = (r.incidents || []).slice().sort(bySeverity);
  const counts = SEVERITIES.map(s => [s, list.filter(i => i.severity === s).length]).filter(x => x[1]);
  return section('Open incidents',
    h('div', { id: 'open-incidents', 'aria-live': 'polite' },
      counts.length ? h('p', { class: 'row' }, counts.map(([s, n]) => [sevBadge(s), ` ${n} `])) : null,
      r.status === 404 ? h('p', { class: 'muted' }, 'Incidents are not available on this server.')
        : table('Open incidents', HEAD, rows(list), r.error || 'No open incident.'),
      h('p', {}, h('a', { href: '#/incidents?status=all' }, 'All incidents'))));
}

export const title = ctx => ctx.path === '/status' ? 'Status' : 'Incidents';

export async function render(main, ctx) {
  if (ctx.path === '/status') return statusPage(main);
  const status = ctx.query.get('status') || 'open';
  const severity = ctx.query.get('severity') || '';
  const service = ctx.query.get('service') || '';
  const stSel = h('select', { name: 'status' }, ['open', 'all', ...STATUSES].map(s => h('option', { value: s, selected: s === status }, s)));
  const sevSel = h('select', { name: 'severity' }, ['', ...SEVERITIES].map(s => h('option', { value: s, selected: s === severity }, s || 'any')));
  const svcIn = h('input', { name: 'service', value: service });
  const form = h('form', { class: 'query', 'aria-label': 'Filter incidents' },
    field('Service', svcIn), field('Status', stSel), field('Severity', sevSel), h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    ctx.go('#/incidents', { status: stSel.value, severity: sevSel.value, service: svcIn.value.trim() });
  });
  const body = h('div', { id: 'incident-list', 'aria-live': 'polite' });
  const draw = async () => {
    const r = await tryApi('/api/v1/incidents', { query: { status: status === 'all' ? '' : status, severity, service, limit: 200 } });
    put(body, section(`Incidents (${status})`, table('Incidents', HEAD, rows(r.incidents || []), r.error || 'No incident matches.')));
  };
  put(main, h('h1', { tabindex: '-1' }, 'Incidents'), form, body);
  await draw();
  // Incident events on the stream (when the server sends them) redraw the list; a poll covers the rest.
  let timer = null;
  const later = () => { if (!timer) timer = setTimeout(() => { timer = null; draw().catch(() => {}); }, 500); };
  const off = stream.on('*', type => { if (String(type).startsWith('incident')) later(); });
  const poll = setInterval(later, 15000);
  return () => { off(); clearTimeout(timer); clearInterval(poll); };
}

// The public status page: no token, no data beyond /status.json.
async function statusPage(main) {
  let j = null, why = '';
  try {
    const r = await fetch('/status.json', { credentials: 'omit', cache: 'no-store', headers: { Accept: 'application/json' } });
    if (r.status === 404) why = 'There is no public status page on this server.';
    else if (!r.ok) why = 'The status cannot be read right now (HTTP ' + r.status + ').';
    else j = await r.json();
  } catch (e) { why = 'The status cannot be read right now.'; }
  const incs = (j && j.incidents) || [];
  put(main, h('h1', { tabindex: '-1' }, 'Status'),
    why ? h('p', { class: 'muted', id: 'status-none' }, why)
      : [h('p', { class: 'muted' }, j.generated_at ? 'As of ' + fmtTime(j.generated_at) + '.' : ''),
        incs.length ? incs.map(publicIncident) : h('p', { class: 'card', id: 'status-ok' }, 'All systems operational: no incident is open.')]);
}

function publicIncident(i) {
  const ups = (i.updates || []).slice().reverse();
  const id = 'st-' + String(i.id).replace(/[^A-Za-z0-9-]/g, '');
  return h('section', { class: 'card status-incident', 'aria-labelledby': id },
    h('h2', { id }, i.title || i.id),
    h('p', { class: 'row' }, statusBadge(i.status), sevBadge(i.severity), i.service ? h('span', { class: 'muted' }, i.service) : null),
    h('ol', { class: 'plain updates' }, ups.map(u => h('li', {},
      h('p', {}, h('strong', {}, u.state || ''), ' · ', h('time', { datetime: u.at || '' }, fmtTime(u.at)), ' ', h('span', { class: 'muted' }, ago(u.at))),
      h('p', { class: 'message' }, u.message || '')))));
}
