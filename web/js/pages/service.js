// One service: RED charts (rate, errors, p50/p90/p99) with its change events
// as markers, the dependency neighbourhood drawn with edge health (graph.js), probes and
// heartbeats, SLOs with burn-down, error classes with examples, and recent
// deploys with their canary verdict and a rollback (through approvals where
// a rule says so).
import { api, tryApi, can } from '../api.js';
import { h, put, section, table, badge, fmtNum, fmtPct, ago, askRationale, toast } from '../dom.js';
import { lineChart, fromMatrix } from '../chart.js';
import { drawGraph, edgeTable } from '../graph.js';

export const title = ctx => ctx.params[0];

function q(s) { return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"'); }

export async function render(main, ctx) {
  const name = ctx.params[0];
  const end = Math.floor(Date.now() / 1000), start = end - 3600, step = 30;
  const sel = `service="${q(name)}"`;
  const range = query => tryApi('/api/v1/query_range', { query: { query, start, end, step } });
  const [svc, graph, rate, errs, lat, events, probes, beats, slos, patterns, deploys] = await Promise.all([
    tryApi('/api/v1/services/' + encodeURIComponent(name)),
    tryApi('/api/v1/graph'),
    range(`sum(rate(ooda_span_requests_total{${sel}}[1m]))`),
    range(`sum(rate(ooda_span_errors_total{${sel}}[1m]))`),
    Promise.all([0.5, 0.9, 0.99].map(p => range(`histogram_quantile(${p}, sum by (le) (rate(ooda_span_duration_seconds_bucket{${sel}}[1m])))`))),
    tryApi('/api/v1/events', { query: { service: name, since: '1h', limit: 50 } }),
    tryApi('/api/v1/probes'),
    tryApi('/api/v1/heartbeats'),
    tryApi('/api/v1/slos'),
    tryApi('/api/v1/patterns', { query: { service: name, since: '1h' } }),
    loadDeploys(name),
  ]);
  const markers = (events.events || []).map(e => ({ t: Date.parse(e.time) / 1000, label: `${e.kind} ${e.version || ''} ${e.description || ''}`.trim() }));
  const charts = h('div', { class: 'charts' });
  const depBox = h('div', { id: 'deploys', 'aria-live': 'polite' });
  const redrawDeploys = async () => put(depBox, deploysTable(await loadDeploys(name), redrawDeploys));
  put(depBox, deploysTable(deploys, redrawDeploys));
  put(main,
    h('h1', { tabindex: '-1' }, name),
    svc.error ? h('p', { class: 'muted' }, svc.error) : summary(svc),
    section('Requests, errors and latency (last hour)', charts),
    section('Dependencies', deps(name, svc, graph, main.clientWidth < 640)),
    section('Probes and heartbeats', probesOf(name, probes, beats)),
    section('SLOs', h('div', { id: 'slos' }, 'Loading…')),
    section('Error classes', table('Error classes', ['Template', 'Count', 'Severity', 'Example', 'Last seen'],
      (patterns.patterns || []).map(p => [h('code', {}, p.template), String(p.count_in_range ?? p.count), badge(p.max_severity || ''),
        h('a', { href: ctx.link('#/explore/logs', { q: `service:${name} "${p.example.slice(0, 60)}"`, since: '1h' }) }, p.example), ago(p.last_seen)]),
      patterns.error || 'No error class in the last hour.')),
    section('Recent deploys', depBox),
  );
  const one = (res, label, scale) => {
    const m = fromMatrix((res.data && res.data.result) || [], () => label);
    m.series.forEach(s => { s.values = s.values.map(v => v === null ? null : v * scale); });
    return m;
  };
  const r = one(rate, 'requests/s', 1), e = one(errs, 'errors/s', 1);
  lineChart(charts, { title: 'Request rate', unit: '/s', range: [start, end], times: r.times, series: r.series, markers });
  lineChart(charts, { title: 'Errors', unit: '/s', range: [start, end], times: e.times, series: e.series, markers });
  const ls = lat.map((res, i) => one(res, ['p50', 'p90', 'p99'][i], 1000));
  const base = ls.find(x => x.times.length) || ls[0];
  lineChart(charts, { title: 'Latency', unit: 'ms', range: [start, end], times: base.times, series: ls.filter(x => x.times.length === base.times.length).map(x => x.series[0]).filter(Boolean), markers });
  renderSlos(document.getElementById('slos'), name, slos);
  // The graph is redrawn every 5 s, so an edge going bad (or recovering) shows on the open
  // page; not while focus or an opened table is inside it, so a keyboard user is not moved.
  const timer = setInterval(async () => {
    const box = document.getElementById('deps');
    if (!box || box.contains(document.activeElement)) return;
    const g = await tryApi('/api/v1/graph');
    const now = document.getElementById('deps');
    if (g.error || !now || now.contains(document.activeElement)) return;
    const open = !!now.querySelector('details[open]');
    const fresh = deps(name, svc, g, main.clientWidth < 640);
    if (open) { const d = fresh.querySelector('details'); if (d) d.open = true; }
    now.replaceWith(fresh);
  }, GRAPH_REFRESH_MS);
  return () => clearInterval(timer);
}

const GRAPH_REFRESH_MS = 5000;

// Recent deploys of a service; the list has no verdicts, so the last verification
// comes from each deploy's own record.
async function loadDeploys(name) {
  const deploys = await tryApi('/api/v1/deploys', { query: { service: name, limit: 10 } });
  await Promise.all((deploys.deploys || []).slice(0, 5).map(async d => {
    const one = await tryApi('/api/v1/deploys/' + encodeURIComponent(d.id));
    if (one.verification) d.verification = one.verification;
  }));
  return deploys;
}

function summary(s) {
  return h('dl', { class: 'kv wide' },
    h('dt', {}, 'rate'), h('dd', {}, fmtNum(s.rate) + '/s'),
    h('dt', {}, 'error ratio'), h('dd', {}, fmtPct(s.error_ratio)),
    h('dt', {}, 'p50 / p90 / p99'), h('dd', {}, `${fmtNum(s.p50_ms)} / ${fmtNum(s.p90_ms)} / ${fmtNum(s.p99_ms)} ms`),
    h('dt', {}, 'last seen'), h('dd', {}, ago(s.last_seen)));
}

// The service with its callers and callees (traced, and declared in
// ooda.yaml), each edge with its health against the baseline; the same edges
// as a table for reading; then the service's operations.
function deps(name, svc, graph, narrow) {
  const drawn = graph.error ? null : drawGraph(graph, { focus: name, vertical: narrow, label: `Callers and callees of ${name}` });
  return h('div', { id: 'deps' },
    drawn ? drawn.el : h('p', { class: 'muted' }, graph.error),
    drawn && drawn.edges.length ? h('details', {}, h('summary', {}, 'Edges as a table'), edgeTable(drawn.edges, `Callers and callees of ${name}`)) : null,
    h('p', {}, h('a', { href: '#/?graph=1', id: 'whole-graph' }, 'The whole system\'s graph')),
    (svc.operations || []).length ? [h('h3', {}, 'Operations'), table('Operations', ['Operation', 'Rate', 'Errors', 'p99'],
      svc.operations.map(o => [o.operation, fmtNum(o.rate) + '/s', fmtPct(o.error_ratio), fmtNum(o.p99_ms) + ' ms']))] : null);
}

function probesOf(name, probes, beats) {
  const ps = (probes.probes || []).filter(p => p.service === name);
  const hb = (beats.heartbeats || []).filter(b => !b.service || b.service === name);
  const stateKind = s => (s === 'up' || s === 'ok') ? 'ok' : (s === 'down' || s === 'failed' || s === 'late') ? 'bad' : 'warn';
  return h('div', {},
    table('Probes', ['Probe', 'Kind', 'State', 'Last'], ps.map(p => [p.name, p.kind, badge(p.state, stateKind(p.state)), p.last ? ago(p.last.at) : 'never']), 'No probe for this service.'),
    table('Heartbeats', ['Heartbeat', 'State', 'Last ping'], hb.map(b => [b.name, badge(b.state, stateKind(b.state)), b.last_ping ? ago(b.last_ping) : 'never']), 'No heartbeat.'));
}

async function renderSlos(el, name, slos) {
  const mine = (slos.slos || []).filter(s => s.service === name);
  if (!mine.length) { put(el, h('p', { class: 'muted' }, slos.error || 'No SLO for this service.')); return; }
  put(el);
  for (const s of mine) {
    const budget = s.error_budget || {};
    el.appendChild(h('h3', {}, s.name));
    el.appendChild(h('dl', { class: 'kv wide' },
      h('dt', {}, 'objective'), h('dd', {}, fmtPct(s.objective) + ' over ' + s.window),
      h('dt', {}, 'SLI'), h('dd', {}, fmtPct(s.sli && s.sli.value)),
      h('dt', {}, 'budget left'), h('dd', {}, fmtPct(budget.remaining)),
      h('dt', {}, 'burn 1h / 6h'), h('dd', {}, `${fmtNum((s.burn_rates || {})['1h'])} / ${fmtNum((s.burn_rates || {})['6h'])}`),
      h('dt', {}, 'alert'), h('dd', {}, badge((s.alert || {}).state || 'ok', (s.alert || {}).state === 'ok' ? 'ok' : 'bad'))));
    const one = await tryApi('/api/v1/slos/' + encodeURIComponent(s.name));
    const bd = (one.burn_down || []).filter(p => p.remaining !== null);
    lineChart(el, { title: `Error budget left: ${s.name}`, times: bd.map(p => Date.parse(p.t) / 1000), series: [{ label: 'budget left', values: bd.map(p => p.remaining * 100) }], unit: '%' });
  }
}

function deploysTable(deploys, refresh) {
  return table('Recent deploys', ['When', 'Env', 'Version', 'Canary', 'By', ''],
    (deploys.deploys || []).map(d => {
      const verdict = d.verification ? d.verification.verdict || '' : 'not verified';
      return [ago(d.time), d.environment, d.version, badge(verdict, verdict === 'pass' ? 'ok' : verdict === 'fail' ? 'bad' : ''),
        d.actor || '', can('responder') ? h('div', { class: 'row' },
          h('button', { type: 'button', class: 'small', onclick: () => verify(d, refresh) }, 'Verify canary'),
          h('button', { type: 'button', class: 'small danger', onclick: () => rollback(d, refresh) }, 'Roll back')) : ''];
    }), deploys.error || 'No deploy recorded.');
}

async function verify(d, refresh) {
  try {
    const r = await api(`/api/v1/deploys/${encodeURIComponent(d.id)}/verify`, { method: 'POST', body: {} });
    toast(`Canary verdict for ${d.version}: ${r.verdict || 'done'}`);
    refresh();
  } catch (e) { toast(e.message, true); }
}

async function rollback(d, refresh) {
  const plan = await tryApi(`/api/v1/deploys/${encodeURIComponent(d.id)}/rollback-plan`);
  const steps = (plan.steps || []).map(s => h('li', {}, s.description || s.kind || JSON.stringify(s)));
  const why = await askRationale(`Roll back ${d.service} ${d.version} in ${d.environment}`, 'Roll back',
    plan.error ? h('p', { class: 'error' }, plan.error) : h('ol', {}, steps));
  if (why === null) return;
  try {
    const r = await api(`/api/v1/deploys/${encodeURIComponent(d.id)}/rollback`, { method: 'POST', body: { rationale: why } });
    toast(r.approval || r.approval_id ? 'An approval was requested for this rollback.' : `Rollback ${r.id || ''} started.`);
    refresh();
  } catch (e) { toast(e.message, true); }
}
