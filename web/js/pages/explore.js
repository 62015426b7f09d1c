// Explore: log search with the query language (docs/query.md), facets and a
// count-over-time histogram, a live tail; finding traces; a PromQL box with
// a chart. Every search is a deep link (#/explore/logs?q=…&since=…).
import { api, tryApi } from '../api.js';
import { h, put, section, table, badge, fmtNum, field } from '../dom.js';
import { lineChart, fromMatrix } from '../chart.js';

export const title = ctx => ({ traces: 'Traces', metrics: 'Metrics' }[ctx.params[0]] || 'Logs');

const SINCE = ['15m', '1h', '6h', '1d', '7d'];

function tabs(ctx, cur) {
  return h('nav', { class: 'tabs', 'aria-label': 'Explore' },
    [['logs', 'Logs'], ['traces', 'Traces'], ['metrics', 'Metrics']].map(([k, label]) =>
      h('a', { href: '#/explore/' + k, 'aria-current': k === cur ? 'page' : null }, label)));
}

function sinceSelect(v) {
  return h('select', { name: 'since' }, SINCE.map(s => h('option', { value: s, selected: s === v }, 'last ' + s)));
}

export async function render(main, ctx) {
  const kind = ctx.params[0] || 'logs';
  if (kind === 'traces') return traces(main, ctx);
  if (kind === 'metrics') return metrics(main, ctx);
  return logs(main, ctx);
}

async function logs(main, ctx) {
  const q = ctx.query.get('q') || '';
  const since = ctx.query.get('since') || '1h';
  const input = h('input', { type: 'search', name: 'q', value: q, placeholder: 'service:payments severity>=error "timeout"', spellcheck: 'false' });
  const sinceSel = sinceSelect(since);
  const tail = h('input', { type: 'checkbox', name: 'tail' });
  const form = h('form', { class: 'query', role: 'search', 'aria-label': 'Log search' },
    field('Query', input), field('Window', sinceSel),
    h('button', { type: 'submit' }, 'Search'),
    h('label', { class: 'check' }, tail, ' Live tail'));
  form.addEventListener('submit', ev => { ev.preventDefault(); ctx.go('#/explore/logs', { q: input.value.trim(), since: sinceSel.value }); });
  const results = h('div', { id: 'log-results', 'aria-live': 'polite' });
  const facets = h('div', { class: 'facets' });
  const hist = h('div');
  put(main, h('h1', { tabindex: '-1' }, 'Explore logs'), tabs(ctx, 'logs'), form,
    h('div', { class: 'split' },
      section('Facets', facets),
      h('div', {}, section('Count over time', hist), section('Logs', results))));
  const query = q || '*';
  const [res, fac] = await Promise.all([
    tryApi('/api/v1/logs/search', { query: { q: query, since, limit: 100 } }),
    tryApi('/api/v1/logs/facets', { query: { q: query, since, fields: 'service,severity,host', buckets: 30 } }),
  ]);
  if (res.error) put(results, h('p', { class: 'error', role: 'alert' }, res.error));
  else put(results, h('p', { class: 'muted' }, `${res.logs.length} log${res.logs.length === 1 ? '' : 's'}${res.truncated ? ' (more: narrow the query)' : ''}`), logList(res.logs));
  if (!fac.error) {
    for (const [f, vals] of Object.entries(fac.fields || {})) {
      facets.appendChild(h('h3', {}, f));
      facets.appendChild(vals.length ? h('ul', { class: 'plain' }, vals.map(v => h('li', {},
        h('a', { href: ctx.link('#/explore/logs', { q: `${q && q !== '*' ? q + ' ' : ''}${f}:${/\s/.test(v.value) ? JSON.stringify(v.value) : v.value}`, since }) }, v.value),
        ' ', h('span', { class: 'muted' }, String(v.count))))) : h('p', { class: 'muted' }, 'none'));
    }
    const hg = fac.histogram || {};
    const t0 = Number(BigInt(hg.start_unix_nano || '0') / 1000000n) / 1000, step = (hg.step_ns || 0) / 1e9;
    const counts = hg.counts || [];
    lineChart(hist, { title: 'Matching logs per bucket', times: counts.map((_, i) => t0 + i * step), series: [{ label: 'logs', values: counts }], height: 120 });
  }
  // Live tail: ask for what arrived since the newest line shown, every 2 s.
  let timer = null;
  let newest = res.logs && res.logs.length ? res.logs[0].time_unix_nano : String(BigInt(Date.now()) * 1000000n);
  tail.addEventListener('change', () => {
    clearInterval(timer);
    if (!tail.checked) return;
    timer = setInterval(async () => {
      const more = await tryApi('/api/v1/logs/search', { query: { q: query, from: String(BigInt(newest) + 1n), limit: 100 } });
      if (!more.logs || !more.logs.length) return;
      newest = more.logs[0].time_unix_nano;
      let list = results.querySelector('ol.logs');
      if (!list) { list = logList([]); results.appendChild(list); }
      list.prepend(...more.logs.map(logItem));
    }, 2000);
  });
  return () => clearInterval(timer);
}

function logItem(l) {
  const attrs = Object.entries(l.attributes || {});
  return h('li', { class: 'log sev-' + (l.severity || 'unset') },
    h('details', {},
      h('summary', {},
        h('time', { datetime: l.time }, l.time.replace('T', ' ').replace('Z', '')), ' ',
        badge(l.severity || 'unset', l.severity), ' ',
        h('span', { class: 'svc' }, l.service || ''), ' ',
        h('span', { class: 'body' }, l.body == null ? '' : typeof l.body === 'string' ? l.body : JSON.stringify(l.body))),
      h('dl', { class: 'kv attrs' },
        l.trace_id ? [h('dt', {}, 'trace'), h('dd', {}, h('a', { href: '#/trace/' + l.trace_id, class: 'trace-link' }, l.trace_id))] : null,
        attrs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))]))),
    l.trace_id ? h('a', { href: '#/trace/' + l.trace_id, class: 'trace-link small', 'aria-label': 'Open trace ' + l.trace_id }, 'trace') : null);
}

function logList(items) {
  return h('ol', { class: 'logs plain' }, items.map(logItem));
}

async function traces(main, ctx) {
  const qv = k => ctx.query.get(k) || '';
  const svc = h('input', { name: 'service', value: qv('service') });
  const op = h('input', { name: 'op', value: qv('op') });
  const min = h('input', { name: 'min_duration', value: qv('min_duration'), placeholder: '250ms' });
  const err = h('input', { type: 'checkbox', name: 'error', checked: qv('status') === 'error' });
  const since = sinceSelect(qv('since') || '1h');
  const form = h('form', { class: 'query', role: 'search', 'aria-label': 'Trace search' },
    field('Service', svc), field('Operation', op), field('Slower than', min), field('Window', since),
    h('label', { class: 'check' }, err, ' errors only'), h('button', { type: 'submit' }, 'Find traces'));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    ctx.go('#/explore/traces', { service: svc.value.trim(), op: op.value.trim(), min_duration: min.value.trim(), status: err.checked ? 'error' : '', since: since.value });
  });
  const out = h('div');
  put(main, h('h1', { tabindex: '-1' }, 'Explore traces'), tabs(ctx, 'traces'), form, section('Traces', out));
  const r = await tryApi('/api/v1/traces', { query: { service: qv('service'), op: qv('op'), min_duration: qv('min_duration'), status: qv('status'), since: qv('since') || '1h', limit: 50 } });
  put(out, r.error ? h('p', { class: 'error', role: 'alert' }, r.error) : table('Traces', ['Start', 'Service', 'Operation', 'Duration', 'Status'],
    r.traces.map(t => [t.start.replace('T', ' ').replace('Z', ''), t.service, h('a', { href: '#/trace/' + t.trace_id }, t.operation), fmtNum(t.duration_ms) + ' ms', badge(t.status, t.status === 'error' ? 'bad' : 'ok')]),
    'No trace matches.'));
}

async function metrics(main, ctx) {
  const expr = ctx.query.get('query') || '';
  const range = ctx.query.get('range') || '1h';
  const input = h('textarea', { name: 'query', rows: '2', spellcheck: 'false' });
  input.value = expr;
  const sel = sinceSelect(range);
  const form = h('form', { class: 'query', role: 'search', 'aria-label': 'PromQL query' },
    field('PromQL', input), field('Range', sel), h('button', { type: 'submit' }, 'Run'));
  form.addEventListener('submit', ev => { ev.preventDefault(); ctx.go('#/explore/metrics', { query: input.value.trim(), range: sel.value }); });
  input.addEventListener('keydown', ev => { if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) form.requestSubmit(); });
  const out = h('div');
  const names = await tryApi('/api/v1/label/__name__/values');
  put(main, h('h1', { tabindex: '-1' }, 'Explore metrics'), tabs(ctx, 'metrics'), form,
    names.data && names.data.length ? h('p', { class: 'muted' }, 'Metrics: ', names.data.slice(0, 20).map((n, i) => [i ? ', ' : '', h('a', { href: ctx.link('#/explore/metrics', { query: n, range }) }, n)])) : null,
    section('Result', out));
  if (!expr) { put(out, h('p', { class: 'muted' }, 'Type a PromQL expression (docs/promql.md lists the subset).')); return; }
  const secs = { '15m': 900, '1h': 3600, '6h': 21600, '1d': 86400, '7d': 604800 }[range] || 3600;
  const end = Math.floor(Date.now() / 1000);
  try {
    const r = await api('/api/v1/query_range', { query: { query: expr, start: end - secs, end, step: Math.max(15, Math.round(secs / 240)) } });
    const m = fromMatrix(r.data.result || [], lbl => Object.entries(lbl).map(([k, v]) => `${k}=${v}`).join(', ') || expr);
    put(out);
    lineChart(out, { title: expr, times: m.times, series: m.series });
    if ((r.data.result || []).length > 5) out.appendChild(h('p', { class: 'muted' }, `Showing 5 of ${r.data.result.length} series.`));
  } catch (e) {
    put(out, h('p', { class: 'error', role: 'alert' }, e.message));
  }
}
