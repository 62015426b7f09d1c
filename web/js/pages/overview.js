// Overview: every service as a tile (RED now, a request-rate sparkline,
// probes, SLO budget and burn), the alerts firing, the last changes across
// services, the automation status (paused or active, runs in progress) and
// what waits for approval, the open incidents, worst severity first
// (pages/incidents.js), and on request the whole-system dependency graph
// (#/?graph=1, graph.js).
import { tryApi } from '../api.js';
import { h, put, section, table, badge, fmtNum, fmtPct, ago } from '../dom.js';
import { sparkline } from '../chart.js';
import * as stream from '../stream.js';
import { openPanel } from './incidents.js';
import { drawGraph, edgeTable } from '../graph.js';

export const title = () => 'Overview';

// Whether the system graph is shown; in the link, so it can be shared.
let showGraph = false;
// Set once GET /api/v1/automation answered 404: not asked again until a reload.
let automationMissing = false;

export async function render(main, ctx) {
  showGraph = ctx.query.get('graph') === '1';
  // New change events and alert transitions arrive over the stream: redraw, at most once a second.
  let timer = null;
  const off = stream.on('*', type => {
    if ((type === 'change' || type === 'alert' || type === 'run' || String(type).startsWith('incident')) && !timer) timer = setTimeout(() => { timer = null; draw(main).catch(() => {}); }, 500);
  });
  await draw(main);
  return () => { off(); clearTimeout(timer); };
}

async function draw(main) {
  const now = Math.floor(Date.now() / 1000);
  const [svcs, probes, slos, events, alerts, approvals, automationState, rates, incidents] = await Promise.all([
    tryApi('/api/v1/services'),
    tryApi('/api/v1/probes'),
    tryApi('/api/v1/slos'),
    tryApi('/api/v1/events', { query: { limit: 10 } }),
    tryApi('/api/v1/alerts'),
    tryApi('/api/v1/approvals'),
    automationMissing ? { status: 404, error: 'not found' } : tryApi('/api/v1/automation'),
    tryApi('/api/v1/query_range', { query: { query: 'sum by (service) (rate(ooda_span_requests_total[1m]))', start: now - 3600, end: now, step: 60 } }),
    openPanel(),
  ]);
  if (automationState.status === 404) automationMissing = true;
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
          return [a.name, badge(sev, sev === 'page' || sev === 'critical' ? 'bad' : 'warn'),
            a.service ? h('a', { href: '#/service/' + encodeURIComponent(a.service) }, a.service) : '', ago(a.since || a.active_at || a.updated)];
        }), alerts.error || 'No alert is firing.')),
      section('Automation', automation(approvals, automationState))),
    section('Last changes', h('div', { id: 'last-changes', 'aria-live': 'polite' }, changesTable(events.events || [], events.error))),
    systemGraph(main),
  );
}

// The whole-system graph, folded unless asked for (it costs one more call per redraw).
function systemGraph(main) {
  const box = h('div', { id: 'system-graph-box' });
  let asked = false;
  const fill = async () => {
    if (asked) return;
    asked = true;
    const g = await tryApi('/api/v1/graph');
    if (g.error) { put(box, h('p', { class: 'muted' }, g.error)); return; }
    const drawn = drawGraph(g, { vertical: main.clientWidth < 640, label: 'Dependency graph of every service' });
    put(box, drawn.el, drawn.edges.length ? h('details', {}, h('summary', {}, 'Edges as a table'), edgeTable(drawn.edges, 'Every edge')) : null);
  };
  const det = h('details', { id: 'system-graph', class: 'card', open: showGraph },
    h('summary', {}, h('h2', { class: 'inline' }, 'Dependency graph')), box);
  det.addEventListener('toggle', () => {
    showGraph = det.open;
    history.replaceState(null, '', showGraph ? '#/?graph=1' : '#/');
    if (showGraph) fill().catch(() => {});
  });
  if (showGraph) fill().catch(() => {});
  return det;
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

// Automation: paused or active (with why, by whom), the runs in progress
// and the approvals waiting, from GET /api/v1/automation ({paused, reason,
// by, at, active_runs, policies, held_triggers}); the page at #/automation
// has the policies, recent runs and the pause switch. A server without the
// remediation engine answers 404 and this says so.
function automation(approvals, state) {
  const pending = approvals.approvals || [];
  const n = state.active_runs;
  const status = state.status === 404 || state.error
    ? h('p', { id: 'automation-state' }, 'Automation status: ', h('span', { class: 'muted' }, state.status === 404 ? 'not available on this server' : state.error))
    : h('div', { id: 'automation-state' },
      h('p', {}, 'Automation: ', state.paused ? badge('paused', 'warn') : badge('active', 'ok'),
        typeof n === 'number' ? h('span', { id: 'automation-runs' }, ` · ${n} run${n === 1 ? '' : 's'} in progress`) : null,
        typeof state.policies === 'number' ? ` · ${state.policies} polic${state.policies === 1 ? 'y' : 'ies'}` : null),
      state.paused ? h('p', { class: 'muted' }, `Paused by ${state.by || '?'} ${state.at ? ago(state.at) : ''}: `, h('span', { class: 'pause-reason' }, state.reason || '')) : null);
  return h('div', {}, status,
    h('p', {}, approvals.error ? approvals.error : `${pending.length} approval${pending.length === 1 ? '' : 's'} waiting`,
      pending.length ? [' — ', h('a', { href: '#/changes/approvals' }, 'review')] : null),
    state.status === 404 ? null : h('p', {}, h('a', { href: '#/automation' }, 'Policies and runs')));
}

export function changesTable(events, error) {
  return table('Last changes', ['When', 'Kind', 'Service', 'Env', 'Version', 'What', 'By'],
    events.map(e => [ago(e.time), badge(e.kind), e.service ? h('a', { href: '#/service/' + encodeURIComponent(e.service) }, e.service) : '', e.environment || '', e.version || '', e.description || '', e.actor || '']),
    error || 'No change recorded yet.');
}
