// Overview: every service as a tile (RED now, a request-rate sparkline,
// probes, SLO budget and burn), the alerts firing, the last changes across
// services, the automation waiting (approvals, rollbacks) and the open
// incidents, worst severity first (pages/incidents.js).
import { tryApi } from '../api.js';
import { h, put, section, table, badge, fmtNum, fmtPct, ago } from '../dom.js';
import { sparkline } from '../chart.js';
import * as stream from '../stream.js';
import { openPanel } from './incidents.js';

export const title = () => 'Overview';

export async function render(main) {
  // New change events and alert transitions arrive over the stream: redraw, at most once a second.
  let timer = null;
  const off = stream.on('*', type => {
    if ((type === 'change' || type === 'alert' || String(type).startsWith('incident')) && !timer) timer = setTimeout(() => { timer = null; draw(main).catch(() => {}); }, 500);
  });
  await draw(main);
  return () => { off(); clearTimeout(timer); };
}

async function draw(main) {
  const now = Math.floor(Date.now() / 1000);
  const [svcs, probes, slos, events, alerts, approvals, rates, incidents] = await Promise.all([
    tryApi('/api/v1/services'),
    tryApi('/api/v1/probes'),
    tryApi('/api/v1/slos'),
    tryApi('/api/v1/events', { query: { limit: 10 } }),
    tryApi('/api/v1/alerts'),
    tryApi('/api/v1/approvals'),
    tryApi('/api/v1/query_range', { query: { query: 'sum by (service) (rate(ooda_span_requests_total[1m]))', start: now - 3600, end: now, step: 60 } }),
    openPanel(),
  ]);
  const services = new Map();
  const tile = name => {
    if (!services.has(name)) services.set(name, { name, red: null, probes: [], slos: [], spark: [] });
    return services.get(name);
  };
  // the catalogue lists declared services too: only one that has sent telemetry has RED to show
  for (const s of Array.isArray(svcs) ? svcs : []) { const t = tile(s.service); if (s.last_seen || s.requests) t.red = s; }
  for (const p of probes.probes || []) tile(p.service).probes.push(p);
  for (const s of (probes.services || [])) tile(s.name || s.service);
  for (const s of slos.slos || []) if (s.service) tile(s.service).slos.push(s);
  for (const r of (rates.data && rates.data.result) || []) if (r.metric.service && services.has(r.metric.service)) services.get(r.metric.service).spark = r.values.map(v => parseFloat(v[1]));

  const tiles = [...services.values()].sort((a, b) => a.name.localeCompare(b.name)).map(renderTile);
  const firing = alerts.alerts || [];
  put(main,
    h('h1', { tabindex: '-1' }, 'Overview'),
    incidents,
    section('Services', tiles.length ? h('ul', { class: 'tiles' }, tiles) : h('p', { class: 'muted' }, svcs.error || 'No service has sent telemetry yet.')),
    h('div', { class: 'cols' },
      section('Alerts firing', table('Alerts firing', ['Alert', 'Severity', 'Service', 'Since'],
        firing.map(a => {
          const sev = a.severity || (a.labels || {}).severity || '';
          return [a.name, badge(sev, sev === 'page' || sev === 'critical' ? 'bad' : 'warn'), a.service || '', ago(a.since || a.active_at || a.updated)];
        }), alerts.error || 'No alert is firing.')),
      section('Automation', automation(approvals))),
    section('Last changes', h('div', { id: 'last-changes', 'aria-live': 'polite' }, changesTable(events.events || [], events.error))),
  );
}

function renderTile(t) {
  const r = t.red;
  const down = t.probes.filter(p => p.state && p.state !== 'up' && p.state !== 'ok');
  const health = !r ? 'unknown' : (down.length || r.error_ratio >= 0.05) ? 'bad' : r.error_ratio > 0.01 ? 'warn' : 'ok';
  const slo = t.slos[0];
  return h('li', { class: 'tile ' + health },
    h('h3', {}, h('a', { href: '#/service/' + encodeURIComponent(t.name) }, t.name)),
    h('p', { class: 'health' }, badge({ ok: 'healthy', warn: 'degraded', bad: 'failing', unknown: 'no traffic' }[health], health)),
    sparkline(t.spark, `request rate of ${t.name}, last hour`),
    h('dl', { class: 'kv' },
      h('dt', {}, 'rate'), h('dd', {}, r ? fmtNum(r.rate) + '/s' : '–'),
      h('dt', {}, 'errors'), h('dd', {}, r ? fmtPct(r.error_ratio) : '–'),
      h('dt', {}, 'p99'), h('dd', {}, r ? fmtNum(r.p99_ms) + ' ms' : '–'),
      h('dt', {}, 'probes'), h('dd', {}, t.probes.length ? `${t.probes.length - down.length}/${t.probes.length} up` : 'none'),
      h('dt', {}, 'SLO budget'), h('dd', {}, slo ? fmtPct((slo.error_budget || {}).remaining) : 'no SLO'),
      slo ? [h('dt', {}, 'burn 1h'), h('dd', {}, fmtNum((slo.burn_rates || {})['1h']))] : null));
}

function automation(approvals) {
  const pending = approvals.approvals || [];
  return h('div', {},
    h('p', {}, approvals.error ? approvals.error : `${pending.length} approval${pending.length === 1 ? '' : 's'} waiting`,
      pending.length ? [' — ', h('a', { href: '#/changes/approvals' }, 'review')] : null));
}

export function changesTable(events, error) {
  return table('Last changes', ['When', 'Kind', 'Service', 'Env', 'Version', 'What', 'By'],
    events.map(e => [ago(e.time), badge(e.kind), e.service ? h('a', { href: '#/service/' + encodeURIComponent(e.service) }, e.service) : '', e.environment || '', e.version || '', e.description || '', e.actor || '']),
    error || 'No change recorded yet.');
}
