// One trace as a waterfall: spans in tree order, indented by depth, each bar
// placed by start offset and width by duration; below it, the logs carrying
// the trace id. Span names and attributes are shown as text.
import { tryApi } from '../api.js';
import { h, put, section, table, badge, fmtNum } from '../dom.js';

export const title = ctx => 'Trace ' + ctx.params[0].slice(0, 8);

export async function render(main, ctx) {
  const id = ctx.params[0];
  const t = await tryApi('/api/v1/traces/' + encodeURIComponent(id));
  if (t.error) {
    put(main, h('h1', { tabindex: '-1' }, 'Trace ', h('code', {}, id)), h('p', { class: 'error', role: 'alert' }, t.error));
    return;
  }
  const t0 = BigInt(t.start_unix_nano);
  let endMs = 0;
  for (const s of t.spans) endMs = Math.max(endMs, Number(BigInt(s.start_unix_nano) - t0) / 1e6 + s.duration_ms);
  const total = endMs || 1;
  const rows = t.spans.map(s => {
    const off = Number(BigInt(s.start_unix_nano) - t0) / 1e6;
    const bar = h('span', { class: 'bar ' + (s.status === 'error' ? 'bad' : 'ok') });
    bar.style.marginLeft = (off / total * 100).toFixed(2) + '%';
    bar.style.width = Math.max(0.5, s.duration_ms / total * 100).toFixed(2) + '%';
    const name = h('span', { class: 'span-name' }, s.name);
    name.style.paddingLeft = (s.depth * 1.1) + 'em';
    const attrs = Object.entries(s.attributes || {});
    return h('li', { class: 'span' },
      h('details', {},
        h('summary', {},
          h('span', { class: 'label' }, name, ' ', h('span', { class: 'muted' }, s.service)),
          h('span', { class: 'track', role: 'img', 'aria-label': `starts at ${fmtNum(off)} ms, lasts ${fmtNum(s.duration_ms)} ms` }, bar),
          h('span', { class: 'dur' }, fmtNum(s.duration_ms) + ' ms', s.status === 'error' ? [' ', badge('error', 'bad')] : null)),
        h('dl', { class: 'kv attrs' },
          h('dt', {}, 'span id'), h('dd', {}, s.span_id),
          h('dt', {}, 'kind'), h('dd', {}, s.kind || ''),
          s.status_message ? [h('dt', {}, 'status'), h('dd', {}, s.status_message)] : null,
          attrs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))]))));
  });
  const logs = t.logs || [];
  put(main,
    h('h1', { tabindex: '-1' }, 'Trace ', h('code', {}, id)),
    h('p', { class: 'muted' }, `${t.span_count} spans over ${fmtNum(total)} ms. `,
      h('a', { href: ctx.link('#/explore/logs', { q: 'trace_id:' + id, since: '7d' }) }, 'Search its logs')),
    section('Waterfall', h('ol', { class: 'waterfall plain', 'aria-label': 'Spans' }, rows)),
    section('Logs of this trace', table('Logs of this trace', ['Time', 'Service', 'Severity', 'Body'],
      logs.map(l => [l.time.replace('T', ' ').replace('Z', ''), l.service || '', badge(l.severity || 'unset', l.severity), typeof l.body === 'string' ? l.body : JSON.stringify(l.body)]),
      'No log carries this trace id.')));
}
